import Foundation
import Sodium
import Synchronization

/// The narrow core every capability works through: the store, the keys, the policies,
/// and the one audited transaction. Capability handles (``VaultRecords``,
/// ``VaultConsent`` …) hold this, never the ``Vault``, and nothing public reaches the store
/// around it.
///
/// The access decision that every audited operation passes first is in
/// `Access/AccessDecision.swift`; the decision-state reads it makes are in
/// `Access/DecisionState.swift`.
final class VaultCore: Sendable {
    let directory: URL
    let id: VaultID
    let store: any Store
    let audit: AuditLog
    let auditPublicKey: Ed25519.PublicKey
    let policies: VaultPolicies
    /// Checks the decision rows against what the audit chain commits to.
    let integrity: DecisionIntegrity

    private struct State: Sendable {
        var keyring: Keyring
        var indexer: BlindIndexer
        /// BLAKE2b of the keyring file as last read or written: a rewrite first checks the
        /// file is still this one, so two processes cannot silently undo each other.
        var keyringDigest: [UInt8]
        /// The keyring file's identity when its digest was last confirmed.
        var keyringIdentity: SecureFiles.Identity?
    }
    private let state: Mutex<State>
    /// Field ciphers ready for reuse: each holds one locked buffer (`sodium_malloc` costs
    /// tens of microseconds, too much to pay per call).
    private let cipherPool = Mutex<[FieldCipher]>([])

    init(directory: URL, store: any Store, keyring: Keyring, keyringDigest: [UInt8], policies: VaultPolicies) throws {
        guard let publicKey = keyring.auditPublicKey else {
            throw PrivacyKitError(.integrity, "the keyring has no audit signing key")
        }
        self.directory = directory
        self.id = keyring.vaultID
        self.store = store
        self.auditPublicKey = publicKey
        self.policies = policies
        self.audit = AuditLog(vaultID: keyring.vaultID, keyring: keyring)
        guard let chainKey = keyring.current(.auditChain)?.secret else {
            throw PrivacyKitError(.upgradeRequired, "the keyring has no audit-chain key: run `privacyctl upgrade`")
        }
        self.integrity = DecisionIntegrity(key: chainKey, remembering: TreeContents())
        // Taken after the bytes were read: if the file was replaced in between, the first
        // check finds another identity, compares contents, and refuses.
        self.state = Mutex(State(keyring: keyring, indexer: BlindIndexer(keyring: keyring), keyringDigest: keyringDigest,
                                 keyringIdentity: SecureFiles.Identity(path: VaultLayout.keyringPath(directory.path))))
    }

    var keyringPath: String { VaultLayout.keyringPath(directory.path) }
    var storePath: String { directory.path + "/" + VaultLayout.storeFileName }
    var policiesPath: String { directory.path + "/" + VaultLayout.policiesDirectoryName }

    /// The unsealed keyring.
    var keyring: Keyring { state.withLock { $0.keyring } }

    /// Blind indexes under the keyring's current index keys.
    var indexer: BlindIndexer { state.withLock { $0.indexer } }

    /// A field cipher for one operation: from the pool, or new. Give it back with
    /// ``returnCipher(_:)`` (it is wiped then).
    func borrowCipher() throws -> FieldCipher {
        if let cipher = cipherPool.withLock({ $0.popLast() }) { return cipher }
        return try FieldCipher(vaultID: id)
    }

    func returnCipher(_ cipher: FieldCipher) {
        cipher.wipe()
        cipherPool.withLock { pool in
            if pool.count < 8 { pool.append(cipher) }
        }
    }

    // MARK: - Audited operations

    /// Runs `body` and appends the events it records in one immediate transaction: the
    /// operation and its audit events commit together or not at all. If an event cannot be
    /// written, the whole operation rolls back and the error is thrown.
    ///
    /// Every capability comes through here with what it is about to do: the access policy
    /// decides first (``authorize(_:context:)``), and `body` gets the grant (how each field
    /// may be seen). No access check is written anywhere else.
    func perform<T>(_ context: AccessContext, _ request: AccessRequest, _ body: (AuditedTransaction, AccessGrant) throws -> T) throws -> T {
        try auditingDecisionFailures(context, request) {
            let grant = try authorize(request, context: context)
            return try performAudited(context) { try body($0, grant) }
        }
    }

    /// Runs `body`, in which a decision that fails closed on forged state is audited like
    /// a denial (`request`'s event, failed) before its error is thrown on: for the few
    /// operations that read outside ``perform(_:_:_:)``'s transaction (an audience).
    func auditingDecisionFailures<T>(_ context: AccessContext, _ request: AccessRequest, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PrivacyKitError where error.code == .integrity && error.message.hasPrefix(DecisionIntegrity.failurePrefix) {
            try? performAudited(context) {
                $0.record(AuditEntry(request.event, subjectID: request.subject, outcome: .failed, reason: DecisionIntegrity.failurePrefix))
            }
            throw error
        }
    }

    /// The transaction of ``perform(_:_:_:)`` without the access check: for the vault's own
    /// bookkeeping (recording a denial, a policy change).
    func performAudited<T>(_ context: AccessContext, _ body: (AuditedTransaction) throws -> T) throws -> T {
        try store.write { db in
            // Under the write lock, which a keyring rewrite also holds: no operation uses
            // keys another process has rotated away.
            try ensureKeyringCurrent()
            let decisions = DecisionGuard(integrity: integrity) { [audit] in try AuditTail.committedRoot(log: audit, db: db) }
            db.decisionGuard = decisions
            defer { db.decisionGuard = nil }
            let transaction = AuditedTransaction(db: db)
            let result = try body(transaction)
            decisions.laterAppendCertain = false
            try audit.append(transaction.entries, context: context, db: db)
            guard !decisions.hasPendingChanges else {
                throw PrivacyKitError(.internal, "a decision changed after the last audit event of its transaction")
            }
            return result
        }
    }

    /// Records events in their own transaction (see ``VaultAudit/record(_:context:)``).
    func record(_ entries: [AuditEntry], context: AccessContext) throws {
        // Logging, not access: the role and purpose must exist, no action is needed.
        try perform(context, AccessRequest(nil, event: entries.first?.action ?? .auditQuery)) { transaction, _ in
            for entry in entries { transaction.record(entry) }
        }
    }

    // MARK: - The keyring file

    /// Refuses to go on if another process replaced the keyring since this vault read it
    /// (a KEK or index rotation, a root-secret change): new subject keys wrapped under a
    /// retired KEK, or lookups under a dropped index version, would lose data or miss it.
    /// A `stat` per transaction; the file is read again only if its identity changed.
    func ensureKeyringCurrent() throws {
        let now = SecureFiles.Identity(path: keyringPath)
        let (known, digest) = state.withLock { ($0.keyringIdentity, $0.keyringDigest) }
        if let now, now == known { return }
        let bytes = try? KeyringFile.read(at: keyringPath)
        guard let bytes, let current = try? BLAKE2b.hash(bytes), ConstantTime.equals(current, digest) else {
            throw Self.keyringChanged(keyringPath)
        }
        state.withLock { $0.keyringIdentity = now }
    }

    static func keyringChanged(_ path: String) -> PrivacyKitError {
        PrivacyKitError(.integrity, "\(path) changed since this vault was opened (another process rotated it?); open the vault again")
    }

    /// Rewrites the keyring file under the keyring lock, after checking that it is still
    /// the file this vault read.
    ///
    /// The audit event and the file replacement share one store transaction: the event
    /// is inserted, the file replaced, then the transaction commits. If the file cannot be
    /// replaced, nothing is recorded; if the event cannot be written, the file is not
    /// touched.
    func rewriteKeyring(
        context: AccessContext, entry: AuditEntry, hooks: SecureFiles.WriteHooks,
        check: (StoreDatabase) throws -> Void = { _ in },
        _ makeNew: (Keyring) throws -> (bytes: [UInt8], keyring: Keyring)
    ) throws {
        let lock = try FileLock(path: directory.path + "/" + VaultLayout.keysDirectoryName + "/.keyring.lock", what: "the keyring")
        defer { lock.unlock() }
        let current = try KeyringFile.read(at: keyringPath)
        let (keyring, digest) = state.withLock { ($0.keyring, $0.keyringDigest) }
        guard ConstantTime.equals(try BLAKE2b.hash(current), digest) else {
            throw Self.keyringChanged(keyringPath)
        }
        let (bytes, updated) = try makeNew(keyring)
        let newDigest = try BLAKE2b.hash(bytes)
        try store.write { db in
            // Checked under the write lock: nothing can start using what is being retired
            // between this check and the new keyring.
            try check(db)
            try audit.append([entry], context: context, db: db)
            try SecureFiles.replace(bytes, at: keyringPath, mode: 0o600, hooks: hooks)
            // Before the lock is released, so no transaction of this process sees the new
            // file with the old state.
            state.withLock {
                $0 = State(keyring: updated, indexer: BlindIndexer(keyring: updated), keyringDigest: newDigest,
                           keyringIdentity: SecureFiles.Identity(path: keyringPath))
            }
        }
    }
}
