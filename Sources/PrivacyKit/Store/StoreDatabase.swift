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

/// A value as it crosses the driver boundary.
public enum StoreValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A Swift type that can be bound to a statement and read back from a row.
public protocol StoreValueConvertible {
    var storeValue: StoreValue { get }
    /// Nil when `value` is NULL or cannot represent this type.
    static func fromStoreValue(_ value: StoreValue) -> Self?
}

extension Int64: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(self) }
    public static func fromStoreValue(_ value: StoreValue) -> Int64? {
        switch value {
        case .integer(let v): v
        case .real(let v): Int64(exactly: v.rounded(.towardZero))
        case .text(let v): Int64(v)
        default: nil
        }
    }
}

extension Int: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(Int64(self)) }
    public static func fromStoreValue(_ value: StoreValue) -> Int? { Int64.fromStoreValue(value).map(Int.init) }
}

extension Int32: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(Int64(self)) }
    public static func fromStoreValue(_ value: StoreValue) -> Int32? { Int64.fromStoreValue(value).flatMap { Int32(exactly: $0) } }
}

extension UInt32: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(Int64(self)) }
    public static func fromStoreValue(_ value: StoreValue) -> UInt32? { Int64.fromStoreValue(value).flatMap { UInt32(exactly: $0) } }
}

extension Double: StoreValueConvertible {
    public var storeValue: StoreValue { .real(self) }
    public static func fromStoreValue(_ value: StoreValue) -> Double? {
        switch value {
        case .real(let v): v
        case .integer(let v): Double(v)
        case .text(let v): Double(v)
        default: nil
        }
    }
}

extension Bool: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(self ? 1 : 0) }
    public static func fromStoreValue(_ value: StoreValue) -> Bool? {
        switch value {
        case .integer(let v): v != 0
        case .real(let v): v != 0
        default: nil
        }
    }
}

extension String: StoreValueConvertible {
    public var storeValue: StoreValue { .text(self) }
    public static func fromStoreValue(_ value: StoreValue) -> String? {
        switch value {
        case .text(let v): v
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .blob(let v): String(bytes: v, encoding: .utf8)
        case .null: nil
        }
    }
}

extension Data: StoreValueConvertible {
    public var storeValue: StoreValue { .blob([UInt8](self)) }
    public static func fromStoreValue(_ value: StoreValue) -> Data? {
        switch value {
        case .blob(let v): Data(v)
        case .text(let v): Data(v.utf8)
        default: nil
        }
    }
}

extension Array: StoreValueConvertible where Element == UInt8 {
    public var storeValue: StoreValue { .blob(self) }
    public static func fromStoreValue(_ value: StoreValue) -> [UInt8]? {
        switch value {
        case .blob(let v): v
        case .text(let v): Array(v.utf8)
        default: nil
        }
    }
}

extension StoreValue: StoreValueConvertible {
    public var storeValue: StoreValue { self }
    public static func fromStoreValue(_ value: StoreValue) -> StoreValue? { value }
}

/// The arguments of one statement, written as an array literal: `[id, nil, 3]`.
public struct StoreArguments: ExpressibleByArrayLiteral, Sendable {
    public var values: [StoreValue]

    public init(_ values: [(any StoreValueConvertible)?]) {
        self.values = values.map { $0?.storeValue ?? .null }
    }

    public init<S: Sequence>(_ values: S) where S.Element: StoreValueConvertible {
        self.values = values.map(\.storeValue)
    }

    public init(arrayLiteral elements: (any StoreValueConvertible)?...) {
        self.init(elements)
    }

    public static func + (lhs: StoreArguments, rhs: StoreArguments) -> StoreArguments {
        var result = lhs
        result.values += rhs.values
        return result
    }
}

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

    public func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        try connection.inSavepoint(body)
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

/// A held store-wide lock (see ``Store/tryJobLock(_:)``).
public final class StoreJobLock: @unchecked Sendable {
    private var onRelease: (() -> Void)?

    public init(onRelease: @escaping () -> Void) { self.onRelease = onRelease }

    public func release() {
        onRelease?()
        onRelease = nil
    }

    deinit { release() }
}

/// What every store backend offers. SQLite (``SQLiteStore``) is the embedded default;
/// PostgreSQL (the PrivacyKitPostgres module) serves one vault to many hosts.
public protocol Store: AnyObject, Sendable {
    /// Where the store is, for messages: a file path, or a URL without its password.
    var location: String { get }
    var dialect: StoreDialect { get }
    /// The vault id, store format version and creation time written when the vault was made.
    func metadata() throws -> StoreMetadata
    /// Runs `body` in a read-only transaction on a consistent snapshot.
    func read<T>(_ body: (StoreDatabase) throws -> T) throws -> T
    /// Runs `body` in a write transaction. Write transactions are serialized across every
    /// process and host using the store (SQLite's writer lock; a PostgreSQL advisory lock),
    /// which is what keeps the audit chain linear and gap-free.
    func write<T>(_ body: (StoreDatabase) throws -> T) throws -> T
    /// Takes the store-wide lock `name` (one sweep at a time, whichever host runs it), or
    /// returns nil at once when another process holds it. A process that dies releases it.
    func tryJobLock(_ name: String) throws -> StoreJobLock?
    /// Makes deleted rows unreadable on disk where the engine keeps old versions around
    /// (SQLite's WAL, PostgreSQL's dead tuples), best effort; says whether it got through.
    func scrubDeleted() -> Bool
    /// Closes every connection.
    func close() throws
}

extension Store {
    public func metadata() throws -> StoreMetadata {
        try StoreMetadata(values: read(StoreMetadata.values(in:)), store: location)
    }
}
