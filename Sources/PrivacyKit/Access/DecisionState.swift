import Foundation
import Sodium

/// Reads of the rows that access, consent, restriction, hold and erasure decisions rest on,
/// in the terms the decisions use. The rows themselves come from the store's one entry
/// point for them, ``DecisionRows`` (`Store/Decisions/`), where a check on every such row
/// belongs.
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
    /// Fails closed (`.integrity`) unless `leaf`'s rows are the ones the audit chain commits
    /// to; rows this transaction changed itself pass. Every read below goes through it.
    func checkDecisionState(_ db: StoreDatabase, _ leaf: DecisionIntegrity.Leaf) throws {
        if let decisions = db.decisionGuard {
            if decisions.isTrusted(leaf) { return }
            try integrity.verify(leaf, committed: decisions.root, tree: db.decisions.tree)
            decisions.markVerified(leaf)
        } else {
            try integrity.verify(leaf, committed: try AuditTail.committedRoot(log: audit, db: db), tree: db.decisions.tree)
        }
    }

    func lastConsent(_ db: StoreDatabase, subject: String, purpose: String, at: String?) throws -> ConsentRow? {
        try checkDecisionState(db, .subject(subject))
        if let at {
            return try db.decisions.consent.lastEvent(pseudonym: try subjectPseudonym(subject), purpose: purpose, atOrBefore: at)
        }
        return try db.decisions.consent.state(purpose: purpose, subject: subject)
    }

    /// Whether `subject` is restricted (a read outside a transaction, for the access check).
    func isRestricted(_ subject: String, db: StoreDatabase? = nil) throws -> Bool {
        func check(_ db: StoreDatabase) throws -> Bool {
            try checkDecisionState(db, .subject(subject))
            return try db.decisions.restrictions.contains(subject)
        }
        if let db { return try check(db) }
        return try store.read(check)
    }

    /// The restricted subjects among `ids` (none without a query when nobody is restricted).
    func restrictedSubjects(_ db: StoreDatabase, among ids: [String]) throws -> Set<String> {
        for id in ids { try checkDecisionState(db, .subject(id)) }
        return try db.decisions.restrictions.subjects(among: ids)
    }

    /// The retention category of a record with these plain fields.
    func retentionCategory(plain: [String: String]) -> String? {
        policies.retention.category(forValue: policies.retention.categoryField.flatMap { plain[$0] })
    }

    /// Holds that are active at `now` and cover the subject or its category.
    func activeHolds(_ db: StoreDatabase, subject: String, category: String?, at now: String) throws -> [LegalHold] {
        try checkDecisionState(db, .subject(subject))
        try checkDecisionState(db, .categoryHolds)
        return try db.decisions.holds.active(subject: subject, category: category, at: now)
    }
}
