import Foundation
import GRDB

/// What backups read and write in a store: the counts a manifest records, and the
/// erasures a restore replays from the erasure ledger.
struct BackupQueries {
    let db: StoreDatabase

    // MARK: The manifest's counts

    /// The newest audit event's seq and hash; nil for an empty log. Uncached: it runs once,
    /// often on a connection of its own.
    func auditHead() throws -> (seq: Int64?, hash: Data?)? {
        try StoreRow.fetchOne(db, sql: AuditTable.headSQL).map { ($0[0], $0[1]) }
    }

    func subjectCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM subjects") ?? 0
    }

    func tombstoneCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM tombstones") ?? 0
    }

    func consentEventCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM consent_ledger") ?? 0
    }

    func auditEventCount() throws -> Int64 {
        try Int64.fetchOne(db, sql: "SELECT count(*) FROM audit_events") ?? 0
    }

    // MARK: Replaying erasures after a restore

    func hasTombstone(_ subject: String) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM tombstones WHERE subject_id = ?", arguments: [subject]) ?? false
    }

    /// Deletes `subject`'s record; says whether there was one.
    func deleteSubject(_ subject: String) throws -> Bool {
        try db.execute(sql: "DELETE FROM subjects WHERE id = ?", arguments: [subject])
        return db.changesCount == 1
    }

    /// Adds the tombstone of an erasure `receipt` (its JSON text) recorded elsewhere.
    func insertTombstone(
        subject: String, erasedAt: String, reason: String, requestID: String?, rule: String?, actor: String, auditSeq: Int64, receipt: String
    ) throws {
        try db.execute(sql: """
            INSERT INTO tombstones (subject_id, erased_at, reason, request_id, rule, actor, audit_seq, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [subject, erasedAt, reason, requestID, rule, actor, auditSeq, receipt])
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
