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

    /// Fails closed (`.integrity`) unless `leaf`'s rows are the ones the audit chain commits
    /// to; rows this transaction changed itself pass. Every read below goes through it.
    func checkDecisionState(_ db: StoreDatabase, _ leaf: DecisionIntegrity.Leaf) throws {
        guard try needsCheck(db, leaf) else { return }
        try check(db, leaf, tag: try integrity.tag(leaf, rows: db.decisions.tree))
    }

    /// ``checkDecisionState(_:_:)`` for many subjects at once, their rows read in bulk and
    /// proven in one pass over the tree (a batch of consent answers, a find's or a
    /// duplicate report's subjects).
    func checkDecisionStates(_ db: StoreDatabase, subjects: [String]) throws {
        _ = try provenLeafRows(db, subjects: try subjects.filter { try needsCheck(db, .subject($0)) }, allRecords: false)
    }

    /// The rows of `subjects`' leaves, read in bulk and proven together (those not checked
    /// yet in this transaction), for a decision made from them alone: the rows decided on
    /// are the rows proven, with no second read. `allRecords`: with every record (an
    /// import asks which subjects exist), not only the revised ones a leaf covers (a batch
    /// of consent answers).
    func provenLeafRows(_ db: StoreDatabase, subjects: [String], allRecords: Bool) throws -> [String: SubjectLeaf] {
        let ids = Array(Set(subjects)).sorted()
        guard !ids.isEmpty else { return [:] }
        let tree = db.decisions.tree
        let rows = ids.count == 1
            ? [ids[0]: try tree.subjectRows(ids[0], allRecords: allRecords)] : try tree.subjectRows(among: ids, allRecords: allRecords)
        try prove(db, try ids.filter { try needsCheck(db, .subject($0)) }.map { id in
            let leaf = DecisionIntegrity.Leaf.subject(id)
            return (leaf, try integrity.tag(leaf, values: rows[id] ?? []))
        })
        return Dictionary(uniqueKeysWithValues: ids.map { ($0, SubjectLeaf(subjectID: $0, rows: rows[$0] ?? [])) })
    }

    /// Every client row, read once with the clients' leaf and proven with it (rows this
    /// transaction changed itself pass): authentication and listing decide from these rows,
    /// with no second read.
    func provenClientRows(_ db: StoreDatabase) throws -> [ClientRow] {
        let rows = try db.decisions.tree.clientRows()
        if try needsCheck(db, .clients) { try check(db, .clients, tag: try integrity.tag(.clients, values: rows)) }
        return rows.map { ClientRow(leafValues: $0.values) }
    }

    /// Proves the tags of rows read in this transaction under the committed root (through
    /// the pages hashed before where it can, see TreeContents), and notes the leaves checked.
    private func prove(_ db: StoreDatabase, _ claims: [(leaf: DecisionIntegrity.Leaf, tag: [UInt8]?)]) throws {
        guard !claims.isEmpty else { return }
        let root = try committedRoot(db)
        try integrity.verify(claims, committed: root, tree: db.decisions.tree)
        for claim in claims {
            db.decisionGuard?.noteProven(claim.leaf, tag: claim.tag, root: root)
            db.checkedDecisionLeaves.insert(claim.leaf)
        }
    }

    private func needsCheck(_ db: StoreDatabase, _ leaf: DecisionIntegrity.Leaf) throws -> Bool {
        !db.checkedDecisionLeaves.contains(leaf) && db.decisionGuard?.hasChanged(leaf) != true
    }

    /// Fails closed (`.integrity`) unless every decision row is the one the audit chain
    /// commits to: for a read of whole tables (an audience, the consent counts), where a path
    /// per subject costs more than rebuilding the root from the rows, as `audit verify` does.
    /// Not for a transaction that changed decision rows (their root is not committed yet).
    func checkAllDecisionState(_ db: StoreDatabase) throws {
        let rebuilt = try integrity.build(tree: db.decisions.tree, store: false)
        guard ConstantTime.equals(rebuilt, try committedRoot(db)) else { throw DecisionIntegrity.failure(rowsOf: "every subject") }
    }

    /// ``checkAllDecisionState(_:)``, then every record's MAC: for a decision taken by a
    /// query over every record (a sweep's choice of what is due), where a row it does not
    /// read back — a plain field or a date edited to look not yet due, a withdrawal
    /// deleted — would hide its subject instead of failing. Throws if the decision rows are
    /// forged (which subject is not known without a proof per leaf); returns the subjects
    /// whose record's MAC fails.
    func checkEveryRecordAndDecision(_ db: StoreDatabase) throws -> Set<String> {
        try checkAllDecisionState(db)
        return Set(try RecordSeal(key: integrity.key).forged(db))
    }

    /// The root the rows must match: this transaction's, or the newest MACed event's.
    private func committedRoot(_ db: StoreDatabase) throws -> [UInt8] {
        if let decisions = db.decisionGuard { return try decisions.root }
        if let known = db.committedDecisionRoot { return known }
        let root = try AuditTail.committedRoot(log: audit, db: db)
        db.committedDecisionRoot = root
        return root
    }

    private func check(_ db: StoreDatabase, _ leaf: DecisionIntegrity.Leaf, tag: [UInt8]?) throws {
        try prove(db, [(leaf, tag)])
    }

    /// Subject `id`'s record, read with the rest of its leaf and checked with it: a field
    /// rolled back to an older ciphertext, removed, or a record deleted behind the vault
    /// fails closed here (`.integrity`). Nil when there is no record.
    func checkedSubjectRow(_ db: StoreDatabase, id: String) throws -> SubjectRow? {
        let leaf = DecisionIntegrity.Leaf.subject(id)
        let rows = try db.decisions.tree.subjectRows(id)
        if try needsCheck(db, leaf) { try check(db, leaf, tag: try integrity.tag(leaf, values: rows)) }
        return try SubjectLeaf(subjectID: id, rows: rows).record()
    }

    /// The last event of `subject` for `purpose`: from the state table for now, from the
    /// ledger (events up to `at`) for another time.
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
        try checkDecisionStates(db, subjects: ids)
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
