import Foundation
import GRDB

/// What backups read in a store besides the decision tables: the audit counts a manifest
/// records, and the snapshot statements of a frozen SQLite store. (The subject, tombstone
/// and consent-ledger counts, and the erasures a restore replays, go through
/// `DecisionRows`.)
struct BackupQueries {
    let db: StoreDatabase

    // MARK: The manifest's counts

    /// The newest audit event's seq and hash; nil for an empty log. Uncached: it runs once,
    /// often on a connection of its own.
    func auditHead() throws -> (seq: Int64?, hash: Data?)? {
        try StoreRow.fetchOne(db, sql: AuditTable.headSQL).map { ($0[0], $0[1]) }
    }

    func auditEventCount() throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT count(*) FROM audit_events") ?? 0
    }

    // MARK: A frozen SQLite store (FrozenStore), on its own GRDB connection

    /// Opens the read transaction that holds the snapshot, and reads, so that it starts.
    static func beginSnapshot(_ reader: Database) throws {
        try reader.execute(sql: "BEGIN DEFERRED")
        _ = try Int.fetchOne(reader, sql: "SELECT count(*) FROM sqlite_master")
    }

    static func endSnapshot(_ reader: Database) throws {
        try reader.execute(sql: "ROLLBACK")
    }

    /// The database file's page count and page size.
    static func pages(_ reader: Database) throws -> (count: Int64, size: Int64) {
        (try Int64.fetchOne(reader, sql: "PRAGMA page_count") ?? 0, try Int64.fetchOne(reader, sql: "PRAGMA page_size") ?? 0)
    }
}
