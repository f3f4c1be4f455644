import Foundation
import GRDB

/// A GRDB connection behind ``StoreConnection``.
final class SQLiteConnection: StoreConnection {
    let db: Database
    var dialect: StoreDialect { .sqlite }

    init(_ db: Database) { self.db = db }

    var isInsideTransaction: Bool { db.isInsideTransaction }

    private func statement(_ sql: String, cached: Bool) throws -> Statement {
        cached ? try db.cachedStatement(sql: sql) : try db.makeStatement(sql: sql)
    }

    // Elements typed as optional existentials: GRDB's initialiser for a sequence of a
    // concrete type maps with a generic key path, instantiated anew on every call (a few
    // microseconds per statement, measured in the find benchmark).
    private static func arguments(_ values: [StoreValue]) -> StatementArguments {
        StatementArguments(values.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .null: return DatabaseValue.null
            case .integer(let v): return v.databaseValue
            case .real(let v): return v.databaseValue
            case .text(let v): return v.databaseValue
            case .blob(let v): return Data(v).databaseValue
            }
        })
    }

    func execute(_ sql: String, _ arguments: [StoreValue], cached: Bool) throws -> Int {
        if cached {
            try db.cachedStatement(sql: sql).execute(arguments: Self.arguments(arguments))
        } else {
            // GRDB runs a script of several statements this way (schema creation does).
            try db.execute(sql: sql, arguments: Self.arguments(arguments))
        }
        return db.changesCount
    }

    func query(_ sql: String, _ arguments: [StoreValue], cached: Bool, streaming: Bool) throws -> any StoreRowSource {
        let statement = try statement(sql, cached: cached)
        return SQLiteRows(columns: statement.columnNames, cursor: try Row.fetchCursor(statement, arguments: Self.arguments(arguments)))
    }

    func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        try db.inSavepoint {
            result = try body()
            return .commit
        }
        guard let result else { throw PrivacyKitError(.internal, "a savepoint produced no result") }
        return result
    }
}

private final class SQLiteRows: StoreRowSource {
    let columns: [String]
    let cursor: RowCursor

    init(columns: [String], cursor: RowCursor) {
        self.columns = columns
        self.cursor = cursor
    }

    func next() throws -> StoreRow? {
        guard let row = try cursor.next() else { return nil }
        return StoreRow(columns: columns, values: row.databaseValues.map(\.storeValue))
    }
}

extension DatabaseValue {
    var storeValue: StoreValue {
        switch storage {
        case .null: .null
        case .int64(let v): .integer(v)
        case .double(let v): .real(v)
        case .string(let v): .text(v)
        case .blob(let v): .blob([UInt8](v))
        }
    }
}
