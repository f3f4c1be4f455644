import Foundation
import GRDB

/// Copies a whole store between backends, table by table, through the neutral layer. A
/// backup is always a SQLite file: a server store is first copied into one (inside one
/// read-only repeatable-read transaction, so the copy is a consistent snapshot), and a
/// restore onto a server copies the restored file's tables back. One backup format, and
/// every backup restores into either backend.
enum StoreCopy {
    /// The tables of the current schema in creation order (which is foreign-key order),
    /// with their columns, read from a SQLite store made by this build's migrations.
    private static func tables(_ db: GRDB.Database) throws -> [(name: String, columns: [String])] {
        let names = try String.fetchAll(db, sql: """
            SELECT name FROM sqlite_master
            WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations'
            ORDER BY rowid
            """)
        return try names.map { name in
            (name, try Row.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?) ORDER BY cid", arguments: [name]).map { $0["name"] as String })
        }
    }

    private static func select(_ table: (name: String, columns: [String])) -> String {
        "SELECT \(table.columns.joined(separator: ", ")) FROM \(table.name)"
    }

    private static func insert(_ table: (name: String, columns: [String])) -> String {
        "INSERT INTO \(table.name) (\(table.columns.joined(separator: ", "))) VALUES (\(table.columns.map { _ in "?" }.joined(separator: ", ")))"
    }

    /// Copies `store` into a new SQLite file at `path` (which may exist, empty) and
    /// returns what the copy holds.
    static func snapshot(of store: any Store, into path: String) throws -> BackupCounts {
        try SQLiteStore.wrap(path) {
            let queue = try DatabaseQueue(path: path, configuration: SQLiteStore.configuration())
            defer { try? queue.close() }
            try SQLiteStore.migrator.migrate(queue)
            let tables = try queue.read(tables)
            return try queue.write { target in
                let into = StoreDatabase(connection: SQLiteConnection(target))
                try store.read { source in
                    for table in tables {
                        let rows = try StoreRow.fetchCursor(source, sql: select(table))
                        let statement = try into.cachedStatement(sql: insert(table))
                        while let row = try rows.next() {
                            try statement.execute(arguments: StoreArguments(row.values))
                        }
                    }
                }
                return try BackupCounts(db: into)
            }
        }
    }

    /// Copies every table of the SQLite store at `path` into `store`, whose tables must be
    /// empty, in one transaction.
    static func load(from path: String, into store: any Store) throws {
        let queue = try SQLiteStore.wrap(path) { try DatabaseQueue(path: path, configuration: SQLiteStore.configuration()) }
        defer { try? queue.close() }
        try SQLiteStore.wrap(path) {
            try queue.read { source in
                let tables = try tables(source)
                try store.write { into in
                    // The new store's own metadata gives way to the copied vault's.
                    try into.execute(sql: "DELETE FROM vault_meta")
                    for table in tables {
                        if try Int.fetchOne(into, sql: "SELECT count(*) FROM \(table.name)") ?? 0 > 0 {
                            throw PrivacyKitError(.alreadyExists, "the store \(store.location) already holds data (table \(table.name)): restore into an empty one")
                        }
                        let statement = try into.cachedStatement(sql: insert(table))
                        let rows = try Row.fetchCursor(source, sql: select(table))
                        while let row = try rows.next() {
                            try statement.execute(arguments: StoreArguments(row.databaseValues.map(\.storeValue)))
                        }
                    }
                    if into.dialect == .postgres {
                        // Rows came with their ids: move each identity past them.
                        let identities = try StoreRow.fetchAll(into, sql: """
                            SELECT table_name, column_name FROM information_schema.columns
                            WHERE table_schema = current_schema() AND is_identity = 'YES'
                            """)
                        for identity in identities {
                            let table: String = identity["table_name"], column: String = identity["column_name"]
                            try into.execute(sql: """
                                SELECT setval(pg_get_serial_sequence('\(table)', '\(column)'), coalesce(max(\(column)), 0) + 1, false) FROM \(table)
                                """)
                        }
                    }
                }
            }
        }
    }
}
