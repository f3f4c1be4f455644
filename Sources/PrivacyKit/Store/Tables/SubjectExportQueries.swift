import Foundation

/// What a subject export (`vault.requests.exportSubject`) reads besides the record: the
/// subject's tombstone and consent history. Its access log comes from
/// ``AuditTable/subjectEvents(_:newestSeq:)``.
struct SubjectExportQueries {
    let db: StoreDatabase

    /// When `subject` was erased; nil when it was not.
    func erasedAt(_ subject: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT erased_at FROM tombstones WHERE subject_id = ?", arguments: [subject])
    }

    /// The consent ledger rows of a subject (by pseudonym), oldest first, in the column
    /// order `VaultConsent.event` reads (the note as whether there is one).
    func consentHistory(_ pseudonym: String) throws -> [StoreRow] {
        try StoreRow.fetchAll(db, sql: """
            SELECT id, subject, purpose, kind, time, channel, notice_version, evidence_hash, note IS NOT NULL, actor, expires_at, audit_seq
            FROM consent_ledger WHERE subject = ? ORDER BY id
            """, arguments: [pseudonym])
    }
}
