import Foundation

/// What the compliance report (`vault.reports`) counts in the records. Open requests,
/// open breaches and the newest checkpoint come from ``RequestsTable``,
/// ``BreachesTable`` and ``AuditTable``.
struct ReportQueries {
    let db: StoreDatabase

    /// Every subject's id, sealed fields and plain fields (JSON), streamed: which fields a
    /// record has is visible without decrypting.
    func subjects() throws -> StoreCursor<(id: String, sealed: Data, plain: String)> {
        StoreCursor(try db.rows("SELECT id, sealed, plain FROM subjects", [], cached: false)) { row in (row[0], row[1], row[2]) }
    }

    func tombstoneCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tombstones") ?? 0
    }

    func restrictionCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM restrictions") ?? 0
    }
}
