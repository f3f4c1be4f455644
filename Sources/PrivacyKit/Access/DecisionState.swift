import Foundation
import Sodium

/// Reads of the rows that access, consent, restriction, hold and erasure decisions rest on.
/// Every decision reads them through here, so a check on such a row belongs in one place.
extension VaultCore {
    /// The keyed pseudonym of a subject id, as the audit log and consent ledger name it.
    func subjectPseudonym(_ subject: String) throws -> String {
        guard let key = keyring.current(.auditMAC)?.secret else {
            throw PrivacyKitError(.internal, "the keyring has no audit MAC key")
        }
        return try AuditChain.pseudonym(subjectID: subject, key: key)
    }

    /// The last event of `subject` for `purpose`: from the state table for now, from the
    /// ledger (events up to `at`) for another time.
    func lastConsent(_ db: StoreDatabase, subject: String, purpose: String, at: String?) throws -> ConsentRow? {
        let row: StoreRow?
        if let at {
            row = try StoreRow.fetchOne(
                db.cachedStatement(sql: "SELECT kind, id, time, notice_version, expires_at FROM consent_ledger WHERE subject = ? AND purpose = ? AND time <= ? ORDER BY id DESC LIMIT 1"),
                arguments: [try subjectPseudonym(subject), purpose, at])
        } else {
            row = try StoreRow.fetchOne(
                db.cachedStatement(sql: "SELECT kind, event_id, time, notice_version, expires_at FROM consent_state WHERE purpose = ? AND subject_id = ?"),
                arguments: [purpose, subject])
        }
        return row.flatMap { ConsentRow($0) }
    }

    /// Whether `subject` is restricted (a read outside a transaction, for the access check).
    func isRestricted(_ subject: String, db: StoreDatabase? = nil) throws -> Bool {
        func check(_ db: StoreDatabase) throws -> Bool {
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM restrictions WHERE subject_id = ?"), arguments: [subject]) ?? false
        }
        if let db { return try check(db) }
        return try store.read(check)
    }

    /// The restricted subjects among `ids` (none without a query when nobody is restricted).
    func restrictedSubjects(_ db: StoreDatabase, among ids: [String]) throws -> Set<String> {
        guard !ids.isEmpty, try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM restrictions)")) == true else { return [] }
        return try RecordStore.present(db, among: ids, query: "SELECT subject_id FROM restrictions WHERE subject_id IN")
    }

    /// The retention category of a record with these plain fields.
    func retentionCategory(plain: [String: String]) -> String? {
        policies.retention.category(forValue: policies.retention.categoryField.flatMap { plain[$0] })
    }

    /// Holds that are active at `now` and cover the subject or its category.
    func activeHolds(_ db: StoreDatabase, subject: String, category: String?, at now: String) throws -> [LegalHold] {
        try StoreRow.fetchAll(
            db.cachedStatement(sql: """
                SELECT \(LegalHold.columns) FROM legal_holds
                WHERE released_at IS NULL AND (until IS NULL OR until > ?) AND (subject_id = ? OR category = ?)
                ORDER BY placed_at, id
                """), arguments: [now, subject, category]
        ).map(LegalHold.init(row:))
    }
}
