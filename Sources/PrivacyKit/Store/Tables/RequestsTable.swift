import Foundation

/// A row of `subject_requests` (migrations `v6-requests`, `v10-request-regimes`), as stored: times are the stored
/// ISO 8601 text, kinds the stored names. `DataSubjectRequest` checks and interprets it.
struct SubjectRequestRow {
    let id: String
    let type: String
    let regime: String
    let subjectID: String
    let receivedAt: String
    let reference: String?
    /// The note sealed under the subject's key.
    let note: Data?
    let openedAt: String
    let openedBy: String
    let identityRequestedAt: String?
    let identityVerifiedAt: String?
    let extendedAt: String?
    let extensionReason: String?
    let closedAt: String?
    let closedBy: String?
    let outcome: String?
    let closeReason: String?
    let identityMethod: String?
    let identityDegree: String?
    /// The controller's own deadline, for a regime that sets none (PIPL), as it stood at
    /// opening: a later policy change does not move a deadline already promised.
    let ownDays: Int?
    let ownExtensionDays: Int?
    /// What closing it as completed rested on (``RequestProof`` as JSON).
    let proof: String?

    /// From a row of ``RequestsTable/columns``.
    init(_ row: StoreRow) {
        id = row[0]
        type = row[1]
        regime = row[2]
        subjectID = row[3]
        receivedAt = row[4]
        reference = row[5]
        note = row[6]
        openedAt = row[7]
        openedBy = row[8]
        identityRequestedAt = row[9]
        identityVerifiedAt = row[10]
        extendedAt = row[11]
        extensionReason = row[12]
        closedAt = row[13]
        closedBy = row[14]
        outcome = row[15]
        closeReason = row[16]
        identityMethod = row[17]
        identityDegree = row[18]
        ownDays = row[19]
        ownExtensionDays = row[20]
        proof = row[21]
    }
}

/// Every statement on `subject_requests`, for the request tracker (`vault.requests`) and
/// the compliance report.
struct RequestsTable {
    let db: StoreDatabase

    static let columns = """
        id, type, regime, subject_id, received_at, reference, note, opened_at, opened_by, identity_requested_at, \
        identity_verified_at, extended_at, extension_reason, closed_at, closed_by, outcome, close_reason, identity_method, \
        identity_degree, own_days, own_extension_days, proof
        """

    func insert(
        id: String, type: String, regime: String, subjectID: String, receivedAt: String, reference: String?, note: Data?,
        openedAt: String, openedBy: String, own: RequestDeadline.OwnDeadline?
    ) throws {
        try db.execute(sql: """
            INSERT INTO subject_requests (id, type, regime, subject_id, received_at, reference, note, opened_at, opened_by, own_days, own_extension_days)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, type, regime, subjectID, receivedAt, reference, note, openedAt, openedBy, own?.days, own?.extensionDays])
    }

    func request(id: String) throws -> SubjectRequestRow? {
        try StoreRow.fetchOne(db, sql: "SELECT \(Self.columns) FROM subject_requests WHERE id = ?", arguments: [id]).map(SubjectRequestRow.init)
    }

    /// Requests by receipt (then id), streamed; `unclosedOnly` keeps those not closed,
    /// `subject` one subject's.
    func requests(unclosedOnly: Bool, subject: String?) throws -> StoreCursor<SubjectRequestRow> {
        var sql = "SELECT \(Self.columns) FROM subject_requests"
        var arguments: [(any StoreValueConvertible)?] = []
        var conditions: [String] = []
        if unclosedOnly { conditions.append("closed_at IS NULL") }
        if let subject { conditions.append("subject_id = ?"); arguments.append(subject) }
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        return StoreCursor(try db.rows(sql + " ORDER BY received_at, id", StoreArguments(arguments), cached: false), SubjectRequestRow.init)
    }

    func setIdentityRequested(id: String, at time: String) throws {
        try db.execute(sql: "UPDATE subject_requests SET identity_requested_at = ? WHERE id = ?", arguments: [time, id])
    }

    func setIdentityVerified(id: String, at time: String, method: String, degree: String) throws {
        try db.execute(sql: "UPDATE subject_requests SET identity_verified_at = ?, identity_method = ?, identity_degree = ? WHERE id = ?",
                       arguments: [time, method, degree, id])
    }

    func setExtended(id: String, at time: String, reason: String) throws {
        try db.execute(sql: "UPDATE subject_requests SET extended_at = ?, extension_reason = ? WHERE id = ?", arguments: [time, reason, id])
    }

    func close(id: String, at time: String, by actor: String, outcome: String, reason: String?, proof: String?) throws {
        try db.execute(sql: "UPDATE subject_requests SET closed_at = ?, closed_by = ?, outcome = ?, close_reason = ?, proof = ? WHERE id = ?",
                       arguments: [time, actor, outcome, reason, proof, id])
    }
}
