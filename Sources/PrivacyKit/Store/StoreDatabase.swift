public import Foundation

// The backend-neutral face of a store transaction. Every capability (records, consent,
// retention, requests, audit, backups) speaks SQL through these types, never through a
// driver, so the same code runs on SQLite (GRDB) and on PostgreSQL (postgres-nio). The
// shapes follow GRDB's (`String.fetchOne(db, sql:arguments:)`, `row["column"]`), which
// the code was first written against.
//
// SQL is written once, in the subset both engines accept: `?` placeholders (the PostgreSQL
// connection numbers them), `INSERT … ON CONFLICT`, `RETURNING`. Where the engines differ
// (JSON access, day arithmetic, string aggregation) the statement asks ``StoreDialect``.

/// One result row, read by column name or position.
public struct StoreRow: Sendable, CustomStringConvertible {
    public var description: String {
        "[" + zip(columns, values).map { column, value in
            let shown = switch value {
            case .null: "NULL"
            case .integer(let v): String(v)
            case .real(let v): String(v)
            case .text(let v): "'\(v)'"
            case .blob(let v): "x'\(v.map { String(format: "%02x", $0) }.joined())'"
            }
            return "\(column):\(shown)"
        }.joined(separator: " ") + "]"
    }

    public let columns: [String]
    public let values: [StoreValue]

    public init(columns: [String], values: [StoreValue]) {
        self.columns = columns
        self.values = values
    }

    func value(_ name: String) -> StoreValue {
        // Column lists are short: a scan beats building a dictionary per row. SQLite keeps
        // the case of the SELECT list, PostgreSQL folds unquoted names to lower case.
        if let index = columns.firstIndex(of: name) { return values[index] }
        let lower = name.lowercased()
        if let index = columns.firstIndex(where: { $0.lowercased() == lower }) { return values[index] }
        preconditionFailure("no column \(name) in the result")
    }

    public func hasNull(_ name: String) -> Bool { value(name) == .null }

    public subscript<T: StoreValueConvertible>(_ name: String) -> T {
        Self.decode(value(name), name)
    }

    public subscript<T: StoreValueConvertible>(_ name: String) -> T? {
        T.fromStoreValue(value(name))
    }

    public subscript<T: StoreValueConvertible>(_ index: Int) -> T {
        Self.decode(values[index], String(index))
    }

    public subscript<T: StoreValueConvertible>(_ index: Int) -> T? {
        T.fromStoreValue(values[index])
    }

    // As GRDB does: a non-optional read of NULL or of a value of another kind is a bug in
    // the statement (the schemas declare these columns NOT NULL), not bad input.
    private static func decode<T: StoreValueConvertible>(_ value: StoreValue, _ column: String) -> T {
        guard let decoded = T.fromStoreValue(value) else {
            preconditionFailure("column \(column) cannot be read as \(T.self) (\(value == .null ? "NULL" : "another type"))")
        }
        return decoded
    }
}

/// Where the two SQL dialects differ.
public enum StoreDialect: Sendable {
    case sqlite
    case postgres

    /// The text of JSON member `key` of a JSON column holding an object, NULL when absent.
    func jsonText(_ column: String, key: String) -> String {
        let quoted = key.replacingOccurrences(of: "'", with: "''")
        switch self {
        case .sqlite: return "json_extract(\(column), '$.\"\(quoted.replacingOccurrences(of: "\"", with: "\\\""))\"')"
        case .postgres: return "((\(column))::jsonb ->> '\(quoted)')"
        }
    }

    /// The same with the member name bound as the next `?` argument.
    func jsonTextBound(_ column: String) -> String {
        switch self {
        case .sqlite: return "json_extract(\(column), '$.\"' || ? || '\"')"
        case .postgres: return "((\(column))::jsonb ->> (?)::text)"
        }
    }

    /// The Julian day number (fractional) of an ISO 8601 time held as text, as SQLite's
    /// `julianday()` computes it.
    func julianDay(_ expression: String) -> String {
        switch self {
        case .sqlite: return "julianday(\(expression))"
        case .postgres:
            // A function of the PostgreSQL schema: NULL for text that is no time, as
            // julianday() gives, where a cast would fail the whole query.
            return "privacykit_julianday(\(expression))"
        }
    }

    /// A common table expression `name(id)` of the texts in a JSON array bound as the
    /// next `?` argument (``jsonArray(_:)``): a list of any length as one argument, where
    /// `IN (?, ?, …)` binds and converts every member on its own.
    func jsonArrayTable(_ name: String) -> String {
        switch self {
        case .sqlite: return "\(name)(id) AS (SELECT value FROM json_each(?))"
        case .postgres: return "\(name)(id) AS (SELECT jsonb_array_elements_text((?)::jsonb))"
        }
    }

    /// `texts` as a JSON array of strings (for ``jsonArrayTable(_:)``).
    static func jsonArray(_ texts: [String]) -> String {
        var out: [UInt8] = [UInt8(ascii: "[")]
        out.reserveCapacity(texts.reduce(2) { $0 + $1.utf8.count + 3 })
        for (index, text) in texts.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                switch byte {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), byte]
                case 0..<0x20: out += Array(String(format: "\\u%04x", byte).utf8)
                default: out.append(byte)  // UTF-8 passes through: JSON text is UTF-8
                }
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "]"))
        return String(decoding: out, as: UTF8.self)
    }

    /// `expression`'s values in a group joined with newlines.
    func joinedLines(_ expression: String) -> String {
        switch self {
        case .sqlite: return "group_concat(\(expression), char(10))"
        case .postgres: return "string_agg(\(expression), chr(10))"
        }
    }
}

/// What a backend connection does for a ``StoreDatabase``.
public protocol StoreConnection: AnyObject {
    var dialect: StoreDialect { get }
    /// Runs a statement; returns the number of rows it changed. `cached` hints that the
    /// statement text recurs and is worth preparing once.
    func execute(_ sql: String, _ arguments: [StoreValue], cached: Bool) throws -> Int
    /// Runs a query. With `streaming`, rows arrive as they are read (a cursor over a large
    /// table); without, the whole result may be fetched at once (one round trip, for the
    /// small results of fetchOne and fetchAll).
    func query(_ sql: String, _ arguments: [StoreValue], cached: Bool, streaming: Bool) throws -> any StoreRowSource
    /// Whether a transaction is open on this connection.
    var isInsideTransaction: Bool { get }
    /// Runs `body` in a savepoint, rolled back to if it throws.
    func inSavepoint<T>(_ body: () throws -> T) throws -> T
}

/// A stream of rows from one query.
public protocol StoreRowSource: AnyObject {
    func next() throws -> StoreRow?
}

/// A statement text bound to a connection, run with different arguments.
public struct StoreStatement {
    let database: StoreDatabase
    let sql: String
    let cached: Bool

    public func execute(arguments: StoreArguments = []) throws {
        try database.run(sql, arguments, cached: cached)
    }
}

/// A cursor over rows, turned into values by `transform`.
public final class StoreCursor<Element> {
    private let source: any StoreRowSource
    private let transform: (StoreRow) throws -> Element

    init(_ source: any StoreRowSource, _ transform: @escaping (StoreRow) throws -> Element) {
        self.source = source
        self.transform = transform
    }

    public func next() throws -> Element? {
        guard let row = try source.next() else { return nil }
        return try transform(row)
    }

    public func forEach(_ body: (Element) throws -> Void) throws {
        while let element = try next() { try body(element) }
    }
}

/// One connection inside one transaction: what capability code receives from
/// ``Store/read(_:)`` and ``Store/write(_:)``.
public final class StoreDatabase {
    let connection: any StoreConnection
    public var dialect: StoreDialect { connection.dialect }
    /// Rows changed by the last statement run with `execute`.
    public private(set) var changesCount = 0
    /// The decision-state guard of the audited transaction this is (nil elsewhere).
    var decisionGuard: DecisionGuard?
    /// The committed decision-state root as this read transaction saw it (its snapshot
    /// cannot change under it).
    var committedDecisionRoot: [UInt8]?
    /// Leaves checked in this transaction: their rows change only through a writer, which
    /// the decision guard sees.
    var checkedDecisionLeaves: Set<DecisionIntegrity.Leaf> = []
    /// The audit log's head as this transaction read it, until it appends (the committed
    /// root's read and the append's share one query); nil: not read yet.
    var auditHead: AuditHead??
    /// Whether this transaction already marked the store as needing a scrub (an erasure
    /// marks it; a batch of them needs one mark).
    var scrubMarked = false

    public init(connection: any StoreConnection) {
        self.connection = connection
    }

    public var isInsideTransaction: Bool { connection.isInsideTransaction }

    public func execute(sql: String, arguments: StoreArguments = []) throws {
        try run(sql, arguments, cached: false)
    }

    func run(_ sql: String, _ arguments: StoreArguments, cached: Bool) throws {
        changesCount = try connection.execute(sql, arguments.values, cached: cached)
    }

    /// A statement whose text recurs (prepared once where the backend can).
    public func cachedStatement(sql: String) throws -> StoreStatement {
        StoreStatement(database: self, sql: sql, cached: true)
    }

    public func makeStatement(sql: String) throws -> StoreStatement {
        StoreStatement(database: self, sql: sql, cached: false)
    }

    /// Whether the store has a table `name` (in the store's own schema on PostgreSQL).
    public func tableExists(_ name: String) throws -> Bool {
        let sql = switch dialect {
        case .sqlite: "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        case .postgres: "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?"
        }
        return try Bool.fetchOne(self, sql: sql, arguments: [name]) ?? false
    }

    public func columnExists(_ column: String, in table: String) throws -> Bool {
        let sql = switch dialect {
        case .sqlite: "SELECT 1 FROM pragma_table_info(?) WHERE name = ?"
        case .postgres: "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ? AND column_name = ?"
        }
        return try Bool.fetchOne(self, sql: sql, arguments: [table, column]) ?? false
    }

    public func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        let marked = scrubMarked
        do {
            return try connection.inSavepoint(body)
        } catch {
            scrubMarked = marked  // the mark written inside was rolled back with it
            throw error
        }
    }

    func rows(_ sql: String, _ arguments: StoreArguments, cached: Bool, streaming: Bool = true) throws -> any StoreRowSource {
        try connection.query(sql, arguments.values, cached: cached, streaming: streaming)
    }
}

extension StoreRow {
    public static func fetchCursor(_ db: StoreDatabase, sql: String, arguments: StoreArguments = []) throws -> StoreCursor<StoreRow> {
        StoreCursor(try db.rows(sql, arguments, cached: false)) { $0 }
    }

    public static func fetchCursor(_ statement: StoreStatement, arguments: StoreArguments = []) throws -> StoreCursor<StoreRow> {
        StoreCursor(try statement.database.rows(statement.sql, arguments, cached: statement.cached)) { $0 }
    }

    public static func fetchAll(_ db: StoreDatabase, sql: String, arguments: StoreArguments = []) throws -> [StoreRow] {
        try collect(StoreCursor(try db.rows(sql, arguments, cached: false, streaming: false)) { $0 })
    }

    public static func fetchAll(_ statement: StoreStatement, arguments: StoreArguments = []) throws -> [StoreRow] {
        try collect(StoreCursor(try statement.database.rows(statement.sql, arguments, cached: statement.cached, streaming: false)) { $0 })
    }

    public static func fetchOne(_ db: StoreDatabase, sql: String, arguments: StoreArguments = []) throws -> StoreRow? {
        try db.rows(sql, arguments, cached: false, streaming: false).next()
    }

    public static func fetchOne(_ statement: StoreStatement, arguments: StoreArguments = []) throws -> StoreRow? {
        try statement.database.rows(statement.sql, arguments, cached: statement.cached, streaming: false).next()
    }
}

private func collect<T>(_ cursor: StoreCursor<T>) throws -> [T] {
    var result: [T] = []
    while let element = try cursor.next() { result.append(element) }
    return result
}

extension StoreValueConvertible {
    /// The first column of each row; NULLs are skipped, as GRDB does for non-optional fetches.
    public static func fetchCursor(_ db: StoreDatabase, sql: String, arguments: StoreArguments = []) throws -> StoreCursor<Self?> {
        StoreCursor(try db.rows(sql, arguments, cached: false)) { Self.fromStoreValue($0.values[0]) }
    }

    public static func fetchCursor(_ statement: StoreStatement, arguments: StoreArguments = []) throws -> StoreCursor<Self?> {
        StoreCursor(try statement.database.rows(statement.sql, arguments, cached: statement.cached)) { Self.fromStoreValue($0.values[0]) }
    }

    public static func fetchAll(_ db: StoreDatabase, sql: String, arguments: StoreArguments = []) throws -> [Self] {
        try StoreRow.fetchAll(db, sql: sql, arguments: arguments).compactMap { Self.fromStoreValue($0.values[0]) }
    }

    public static func fetchAll(_ statement: StoreStatement, arguments: StoreArguments = []) throws -> [Self] {
        try StoreRow.fetchAll(statement, arguments: arguments).compactMap { Self.fromStoreValue($0.values[0]) }
    }

    /// The first column of the first row; nil when there is no row or it is NULL.
    public static func fetchOne(_ db: StoreDatabase, sql: String, arguments: StoreArguments = []) throws -> Self? {
        try StoreRow.fetchOne(db, sql: sql, arguments: arguments).flatMap { Self.fromStoreValue($0.values[0]) }
    }

    public static func fetchOne(_ statement: StoreStatement, arguments: StoreArguments = []) throws -> Self? {
        try StoreRow.fetchOne(statement, arguments: arguments).flatMap { Self.fromStoreValue($0.values[0]) }
    }
}
