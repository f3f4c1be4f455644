import Foundation

/// A row of `breaches` (migration `v7-breaches`), as stored; `BreachRecord` interprets it.
struct BreachRow {
    let id: String
    let detectedAt: String
    let summary: String
    let openedAt: String
    let openedBy: String
    let closedAt: String?
    let closedBy: String?
    let closeReason: String?
    let notifiedAuthorityAt: String?

    /// From a row of ``BreachesTable/columns``.
    init(_ row: StoreRow) {
        id = row[0]
        detectedAt = row[1]
        summary = row[2]
        openedAt = row[3]
        openedBy = row[4]
        closedAt = row[5]
        closedBy = row[6]
        closeReason = row[7]
        notifiedAuthorityAt = row[8]
    }
}

/// Every statement on `breaches`, for the breach register (`vault.breaches`) and the
/// compliance report. (The subjects and tombstones the impact assessment streams come from
/// `DecisionRows`.)
struct BreachesTable {
    let db: StoreDatabase

    static let columns = "id, detected_at, summary, opened_at, opened_by, closed_at, closed_by, close_reason, notified_authority_at"

    func insert(id: String, detectedAt: String, summary: String, openedAt: String, openedBy: String) throws {
        try db.execute(sql: "INSERT INTO breaches (id, detected_at, summary, opened_at, opened_by) VALUES (?, ?, ?, ?, ?)",
                       arguments: [id, detectedAt, summary, openedAt, openedBy])
    }

    func breach(id: String) throws -> BreachRow? {
        try StoreRow.fetchOne(db, sql: "SELECT \(Self.columns) FROM breaches WHERE id = ?", arguments: [id]).map(BreachRow.init)
    }

    /// Breaches by detection (then id); `unclosedOnly` keeps those not closed.
    func breaches(unclosedOnly: Bool) throws -> [BreachRow] {
        let sql = "SELECT \(Self.columns) FROM breaches\(unclosedOnly ? " WHERE closed_at IS NULL" : "") ORDER BY detected_at, id"
        return try StoreRow.fetchAll(db, sql: sql).map(BreachRow.init)
    }

    func close(id: String, at time: String, by actor: String, reason: String, notifiedAuthorityAt: String?) throws {
        try db.execute(sql: "UPDATE breaches SET closed_at = ?, closed_by = ?, close_reason = ?, notified_authority_at = ? WHERE id = ?",
                       arguments: [time, actor, reason, notifiedAuthorityAt, id])
    }
}
