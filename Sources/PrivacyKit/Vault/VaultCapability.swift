import Foundation
import Sodium

/// A capability handle: a small value that holds the vault's ``VaultCore`` and nothing
/// else. The members below are the whole of what a capability reaches; each one is the
/// core's, so every capability goes through the same access decision and audited
/// transaction.
protocol VaultCapability: Sendable {
    var core: VaultCore { get }
}

extension VaultCapability {
    var id: VaultID { core.id }
    var directory: URL { core.directory }
    var store: any Store { core.store }
    var audit: AuditLog { core.audit }
    var keyring: Keyring { core.keyring }
    var indexer: BlindIndexer { core.indexer }
    var schema: Schema { core.policies.schema }
    var purposes: PurposeSet { core.policies.purposes }
    var access: AccessPolicy { core.policies.access }
    var retention: RetentionPolicy { core.policies.retention }
    var keyringPath: String { core.keyringPath }
    var policiesPath: String { core.policiesPath }

    func borrowCipher() throws -> FieldCipher { try core.borrowCipher() }
    func returnCipher(_ cipher: FieldCipher) { core.returnCipher(cipher) }

    func perform<T>(_ context: AccessContext, _ request: AccessRequest, _ body: (AuditedTransaction, AccessGrant) throws -> T) throws -> T {
        try core.perform(context, request, body)
    }

    func performAudited<T>(_ context: AccessContext, _ body: (AuditedTransaction) throws -> T) throws -> T {
        try core.performAudited(context, body)
    }

    func record(_ entries: [AuditEntry], context: AccessContext) throws { try core.record(entries, context: context) }

    func authorize(_ request: AccessRequest, context: AccessContext) throws -> AccessGrant {
        try core.authorize(request, context: context)
    }

    func visibleIDs(_ ids: [String], context: AccessContext) throws -> [String] {
        try core.visibleIDs(ids, context: context)
    }

    var auditPublicKey: Ed25519.PublicKey { core.auditPublicKey }

    func subjectPseudonym(_ subject: String) throws -> String { try core.subjectPseudonym(subject) }

    func consentCheck(subject: String, purpose: String?, db: StoreDatabase? = nil) throws -> ConsentAnswer? {
        try core.consentCheck(subject: subject, purpose: purpose, db: db)
    }

    func lastConsent(_ db: StoreDatabase, subject: String, purpose: String, at: String?) throws -> ConsentRow? {
        try core.lastConsent(db, subject: subject, purpose: purpose, at: at)
    }

    func restrictedSubjects(_ db: StoreDatabase, among ids: [String]) throws -> Set<String> {
        try core.restrictedSubjects(db, among: ids)
    }

    func checkDecisionStates(_ db: StoreDatabase, subjects: [String]) throws {
        try core.checkDecisionStates(db, subjects: subjects)
    }

    func provenLeafRows(_ db: StoreDatabase, subjects: [String], allRecords: Bool) throws -> [String: SubjectLeaf] {
        try core.provenLeafRows(db, subjects: subjects, allRecords: allRecords)
    }

    func checkAllDecisionState(_ db: StoreDatabase) throws { try core.checkAllDecisionState(db) }

    func checkEveryRecordAndDecision(_ db: StoreDatabase) throws -> Set<String> { try core.checkEveryRecordAndDecision(db) }

    func auditingDecisionFailures<T>(_ context: AccessContext, _ request: AccessRequest, _ body: () throws -> T) throws -> T {
        try core.auditingDecisionFailures(context, request, body)
    }

    func retentionCategory(plain: [String: String]) -> String? { core.retentionCategory(plain: plain) }

    func activeHolds(_ db: StoreDatabase, subject: String, category: String?, at now: String) throws -> [LegalHold] {
        try core.activeHolds(db, subject: subject, category: category, at: now)
    }

    func rewriteKeyring(
        context: AccessContext, entry: AuditEntry, hooks: SecureFiles.WriteHooks,
        check: (StoreDatabase) throws -> Void = { _ in },
        _ makeNew: (Keyring) throws -> (bytes: [UInt8], keyring: Keyring)
    ) throws {
        try core.rewriteKeyring(context: context, entry: entry, hooks: hooks, check: check, makeNew)
    }
}
