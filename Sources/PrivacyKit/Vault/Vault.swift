public import Foundation
public import Sodium
import Synchronization

/// A vault: one directory holding the store, the sealed keyring and the policies.
///
/// ```
/// <vault>/
///   vault.sqlite          the store
///   Keys/keyring.json     the sealed keyring, mode 0600
///   Policies/             schema.yaml, purposes.yaml, retention.yaml, access.yaml
/// ```
///
/// Create one with ``create(at:rootKey:kdfLimits:context:)`` and open it with
/// ``open(at:rootKey:context:)``. Opening checks everything before it touches anything: a wrong
/// secret, a damaged or missing keyring, or a vault written by a newer PrivacyKit fails
/// with a ``PrivacyKitError`` and leaves the files as they were.
///
/// ```swift
/// let vault = try Vault.open(at: URL(fileURLWithPath: "/srv/crm-vault"),
///                            rootKey: .keyFile(at: "/etc/privacykit/root.key"))
/// print(vault.id, vault.keyStatus())
/// ```
public final class Vault: Sendable {
    /// The vault format this build creates and reads.
    public static let formatVersion = 1

    public static let storeFileName = "vault.sqlite"
    public static let keysDirectoryName = "Keys"
    public static let keyringFileName = "keyring.json"
    public static let policiesDirectoryName = "Policies"

    /// The vault directory.
    public let directory: URL
    public let id: VaultID
    public let store: any Store
    let audit: AuditLog

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

    /// The audit public key: what an auditor needs to verify this vault's log.
    public let auditPublicKey: Ed25519.PublicKey
    /// The record schema, from the vault's `Policies/schema.yaml`.
    public let schema: Schema
    /// The purposes, from `Policies/purposes.yaml`.
    public let purposes: PurposeSet
    /// Roles, from `Policies/access.yaml`: every capability is checked against it.
    public let access: AccessPolicy
    /// Categories and rules, from `Policies/retention.yaml`: what sweeps apply.
    public let retention: RetentionPolicy

    /// The parsed policy files of a vault directory.
    struct Policies {
        let schema: Schema
        let purposes: PurposeSet
        let access: AccessPolicy
        let retention: RetentionPolicy

        init(vaultDirectory: String) throws {
            let directory = vaultDirectory + "/" + Vault.policiesDirectoryName
            schema = try Schema.load(from: directory)
            purposes = try PurposeSet.load(from: directory)
            access = try AccessPolicy.load(from: directory, schema: schema, purposes: purposes)
            retention = try RetentionPolicy.load(from: directory, schema: schema, purposes: purposes)
        }
    }

    private init(directory: URL, store: any Store, keyring: Keyring, keyringDigest: [UInt8], policies: Policies) throws {
        guard let publicKey = keyring.auditPublicKey else {
            throw PrivacyKitError(.integrity, "the keyring has no audit signing key")
        }
        self.directory = directory
        self.id = keyring.vaultID
        self.store = store
        self.auditPublicKey = publicKey
        self.schema = policies.schema
        self.purposes = policies.purposes
        self.access = policies.access
        self.retention = policies.retention
        self.audit = AuditLog(vaultID: keyring.vaultID, keyring: keyring)
        // Taken after the bytes were read: if the file was replaced in between, the first
        // check finds another identity, compares contents, and refuses.
        self.state = Mutex(State(keyring: keyring, indexer: BlindIndexer(keyring: keyring), keyringDigest: keyringDigest,
                                 keyringIdentity: SecureFiles.Identity(path: Self.keyringPath(directory.path))))
    }

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

    /// The unsealed keyring.
    public var keyring: Keyring { state.withLock { $0.keyring } }

    /// Blind indexes under the keyring's current index keys.
    package var indexer: BlindIndexer { state.withLock { $0.indexer } }

    public var keyringPath: String { Self.keyringPath(directory.path) }
    public var storePath: String { directory.path + "/" + Self.storeFileName }
    public var policiesPath: String { directory.path + "/" + Self.policiesDirectoryName }

    static func keyringPath(_ directory: String) -> String {
        directory + "/" + keysDirectoryName + "/" + keyringFileName
    }

    /// Role, version, creation time and fingerprint of every key; never key bytes.
    public func keyStatus() -> [KeyInfo] { keyring.status }

    // MARK: - Create

    /// Creates a new vault at `directory`, which must not exist or be an empty directory.
    ///
    /// The vault is assembled in a hidden sibling directory and renamed into place at the
    /// end, so a failure or a crash never leaves a half-made vault behind at `directory`.
    ///
    /// - Parameters:
    ///   - directory: where the vault goes; its parent must exist.
    ///   - rootKey: the secret that will unseal the keyring.
    ///   - kdfLimits: Argon2id cost for a passphrase (ignored for a raw key). The default,
    ///     MODERATE, takes about half a second; lower limits are for tests.
    ///   - context: who creates it, recorded in the `vault.create` audit event.
    ///   - store: where the records go: nil for a SQLite file inside the vault (the
    ///     default); a ``StoreBackend`` for a database server several hosts share, named in
    ///     the vault by a `store.url` file without its password.
    /// - Throws: ``PrivacyKitError`` `.alreadyExists` if `directory` is a file or a
    ///   non-empty directory, `.notFound` if its parent does not exist.
    public static func create(
        at directory: URL, rootKey: RootKey, kdfLimits: Argon2id.Limits = .moderate,
        context: AccessContext = .library, store backend: (any StoreBackend)? = nil
    ) throws -> Vault {
        let target = directory.standardizedFileURL.path
        let fm = FileManager.default
        let parent = try checkNewVaultPath(target, refusal: "choose a new path for the vault")

        let staging = parent + "/." + (target as NSString).lastPathComponent + ".creating-" + Hex.encode(Random.bytes(count: 4))
        try SecureFiles.makeDirectory(staging, mode: 0o700)
        var finished = false
        defer { if !finished { try? fm.removeItem(atPath: staging) } }

        try SecureFiles.makeDirectory(staging + "/" + keysDirectoryName, mode: 0o700)
        try SecureFiles.makeDirectory(staging + "/" + policiesDirectoryName, mode: 0o755)
        try PolicySet.writeDefaults(to: staging + "/" + policiesDirectoryName)

        let vaultID = VaultID.random()
        let createdAt = Timestamp.now()
        let fresh = try Keyring.generate(vaultID: vaultID, createdAt: createdAt,
                                         root: RootHeader(kind: rootKey.kind, limits: nil, salt: nil))
        let (bytes, keyring) = try KeyringFile.seal(fresh, rootKey: rootKey, limits: kdfLimits)
        try SecureFiles.replace(bytes, at: keyringPath(staging), mode: 0o600)

        let staged: any Store
        if let backend {
            try SecureFiles.replace(Array((backend.reference + "\n").utf8), at: staging + "/" + StoreBackends.referenceFileName, mode: 0o600)
            staged = try backend.create(vaultID: vaultID, createdAt: createdAt)
        } else {
            staged = try SQLiteStore.create(at: staging + "/" + storeFileName, vaultID: vaultID, createdAt: createdAt)
        }
        // A server store outlives the staging directory: take it back if the vault is not
        // finished, so init can be run again.
        defer { if !finished, let backend { try? staged.close(); try? backend.discard(vaultID: vaultID) } }
        // The vault's first event, and a signed checkpoint over it, go in before the vault
        // appears at its path.
        let stagedAudit = AuditLog(vaultID: vaultID, keyring: keyring)
        let policyDigest = try PolicySet.digest(of: staging + "/" + policiesDirectoryName)
        try staged.write { db in
            try db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?)", arguments: [policyDigestKey, policyDigest])
            try stagedAudit.append([AuditEntry(.vaultCreate, reason: "root secret: \(rootKey.kind.rawValue)")], context: context, db: db)
            try stagedAudit.checkpoint(db: db)
        }
        try staged.close()

        // rename(2) moves the finished vault into place, replacing an empty directory.
        guard rename(staging, target) == 0 else {
            throw PrivacyKitError(.io, "cannot move the new vault into \(target): \(String(cString: strerror(errno)))")
        }
        finished = true
        try SecureFiles.syncDirectory(parent)

        let policies = try Policies(vaultDirectory: target)
        let store = try backend?.open(expecting: vaultID) ?? SQLiteStore.open(at: target + "/" + storeFileName, expecting: vaultID)
        return try Vault(directory: URL(fileURLWithPath: target), store: store, keyring: keyring,
                         keyringDigest: try BLAKE2b.hash(bytes), policies: policies)
    }

    /// Checks that a vault can be made at `target` (absent, or an empty directory, with an
    /// existing parent) and returns the parent.
    static func checkNewVaultPath(_ target: String, refusal: String) throws -> String {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: target, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try? fm.contentsOfDirectory(atPath: target))?.isEmpty == true else {
                throw PrivacyKitError(.alreadyExists, "\(target) already exists and is not an empty directory; \(refusal)")
            }
        }
        let parent = (target as NSString).deletingLastPathComponent
        guard fm.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrivacyKitError(.notFound, "the parent directory \(parent) does not exist")
        }
        return parent
    }

    // MARK: - Reading without the root secret

    /// The audit public key recorded in the vault's keyring file, read without any secret
    /// (for `audit verify` and `audit public-key`). A keyring can be swapped by whoever can
    /// write the vault: an auditor should compare it with a copy kept elsewhere.
    /// Verifies the audit log of the vault at `directory` with nothing but the audit public
    /// key (no root secret): its SQLite file, or the server store its `store.url` names.
    public static func verifyAuditWithoutSecret(at directory: URL, publicKey: Ed25519.PublicKey, witness: [AuditCheckpoint] = []) throws -> AuditReport {
        let path = directory.standardizedFileURL.path
        guard try StoreBackends.reference(ofVault: path) != nil else {
            return try AuditVerifier.verify(storePath: path + "/" + storeFileName, publicKey: publicKey, witness: witness)
        }
        let keyringPath = keyringPath(path)
        guard let claimed = KeyringFile.peekVaultID(try readKeyringWithoutSecret(keyringPath)), let vaultID = try? VaultID(hex: claimed) else {
            throw PrivacyKitError(.integrity, "\(keyringPath) records no valid vault id")
        }
        let store = try StoreBackends.openStore(ofVault: path, expecting: vaultID)
        defer { try? store.close() }
        return try store.read { db in try AuditVerifier.verify(db: db, vaultID: vaultID, publicKey: publicKey, witness: witness) }
    }

    public static func recordedAuditPublicKey(at directory: URL) throws -> Ed25519.PublicKey {
        let path = keyringPath(directory.standardizedFileURL.path)
        let bytes = try readKeyringWithoutSecret(path)
        guard let text = KeyringFile.peekAuditPublicKey(bytes), let raw = try? Base64URL.decode(text),
              let key = try? Ed25519.PublicKey(bytes: raw)
        else {
            throw PrivacyKitError(.integrity, "\(path) records no valid audit public key")
        }
        return key
    }

    /// The vault id recorded in the keyring file, read without any secret.
    public static func recordedVaultID(at directory: URL) throws -> VaultID {
        let path = keyringPath(directory.standardizedFileURL.path)
        guard let text = KeyringFile.peekVaultID(try readKeyringWithoutSecret(path)), let id = try? VaultID(hex: text) else {
            throw PrivacyKitError(.integrity, "\(path) records no valid vault id")
        }
        return id
    }

    private static func readKeyringWithoutSecret(_ path: String) throws -> [UInt8] {
        guard SecureFiles.mode(of: path) != nil else {
            throw PrivacyKitError(.notFound, "no keyring at \(path); is it a vault?")
        }
        return try KeyringFile.read(at: path)
    }

    // MARK: - Open

    /// Opens the vault at `directory` with its root secret.
    ///
    /// - Throws: ``PrivacyKitError`` with `.notFound` (no vault or no keyring there),
    ///   `.wrongKey` (the secret does not open the keyring), `.integrity` (damaged keyring
    ///   or store, or a keyring and store from different vaults), `.unsupportedVersion`
    ///   (written by a newer PrivacyKit), `.insecurePermissions` (keyring readable by
    ///   others). Nothing on disk is changed when it throws.
    public static func open(at directory: URL, rootKey: RootKey, context: AccessContext = .library) throws -> Vault {
        try open(at: directory, rootKey: rootKey, context: context, backend: nil)
    }

    /// ``open(at:rootKey:context:)`` through `backend` (which holds the store's password)
    /// rather than one made from the vault's `store.url`.
    static func open(at directory: URL, rootKey: RootKey, context: AccessContext, backend: (any StoreBackend)?) throws -> Vault {
        let path = directory.standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PrivacyKitError(.notFound, "no vault at \(path) (run privacyctl init --vault \(path) to create one)")
        }
        guard isDirectory.boolValue else {
            throw PrivacyKitError(.notFound, "no vault at \(path): it is a file, and a vault is a directory")
        }
        let keyringPath = keyringPath(path)
        guard SecureFiles.mode(of: keyringPath) != nil else {
            throw PrivacyKitError(.notFound, "\(path) has no keyring (\(keysDirectoryName)/\(keyringFileName)); is it a vault?")
        }
        let bytes = try KeyringFile.read(at: keyringPath)
        let keyring: Keyring
        do {
            keyring = try KeyringFile.unseal(bytes, path: keyringPath, rootKey: rootKey)
        } catch let error as PrivacyKitError where error.code == .wrongKey {
            recordFailedUnlock(directory: path, keyringBytes: bytes, context: context)
            throw error
        }

        // Policies first: a vault whose policy files do not load is not touched at all.
        let policies = try Policies(vaultDirectory: path)
        let store = try backend?.open(expecting: keyring.vaultID) ?? StoreBackends.openStore(ofVault: path, expecting: keyring.vaultID)
        let vault = try Vault(directory: URL(fileURLWithPath: path), store: store, keyring: keyring,
                              keyringDigest: try BLAKE2b.hash(bytes), policies: policies)
        try vault.recordPolicyChange(context: context)
        return vault
    }

    static let policyDigestKey = "policy_digest"

    /// Records a `policy.change` event (old and new digest of `Policies/`) when the policy
    /// files differ from those the vault last loaded. Runs at every open, after the files
    /// were parsed: a policy that does not load never gets this far.
    private func recordPolicyChange(context: AccessContext) throws {
        let current = try PolicySet.digest(of: policiesPath)
        let stored = try store.read { db in try String.fetchOne(db, sql: "SELECT value FROM vault_meta WHERE key = ?", arguments: [Self.policyDigestKey]) }
        guard stored != current else { return }  // the usual case: no write transaction at open
        try performAudited(context) { tx in
            let previous = try String.fetchOne(tx.db, sql: "SELECT value FROM vault_meta WHERE key = ?", arguments: [Self.policyDigestKey])
            guard previous != current else { return }
            try tx.db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value", arguments: [Self.policyDigestKey, current])
            tx.record(AuditEntry(.policyChange, reason: "policy set \(previous ?? "unknown") -> \(current)"))
        }
    }

    /// Appends a `vault.unlock` / `failed` event to the store's chain. Needs no key (the
    /// event names no subject and is not signed); never touches the keyring. Best effort:
    /// if the store cannot take it (missing, from another vault, newer), the wrong-key
    /// error still stands.
    private static func recordFailedUnlock(directory: String, keyringBytes: [UInt8], context: AccessContext) {
        guard let claimed = KeyringFile.peekVaultID(keyringBytes), let vaultID = try? VaultID(hex: claimed),
              let store = try? StoreBackends.openStore(ofVault: directory, expecting: vaultID)
        else { return }
        let log = AuditLog(vaultID: vaultID, keyring: nil)
        _ = try? store.write { db in
            try log.append([AuditEntry(.vaultUnlock, outcome: .failed, reason: "wrong root secret")], context: context, db: db)
        }
        try? store.close()
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
        let grant = try authorize(request, context: context)
        return try performAudited(context) { try body($0, grant) }
    }

    /// The transaction of ``perform(_:_:_:)`` without the access check: for the vault's own
    /// bookkeeping (recording a denial, a policy change).
    func performAudited<T>(_ context: AccessContext, _ body: (AuditedTransaction) throws -> T) throws -> T {
        try store.write { db in
            // Under the write lock, which a keyring rewrite also holds: no operation uses
            // keys another process has rotated away.
            try ensureKeyringCurrent()
            let transaction = AuditedTransaction(db: db)
            let result = try body(transaction)
            try audit.append(transaction.entries, context: context, db: db)
            return result
        }
    }

    /// The access decision for `request`: the grant, or a denial that is written to the
    /// audit log (outcome `denied`, with the rule that decided) before it is thrown.
    ///
    /// - Throws: `.denied` naming the rule; `.invalidInput` for a role or purpose the
    ///   policy does not define (also recorded as a denial).
    func authorize(_ request: AccessRequest, context: AccessContext) throws -> AccessGrant {
        var views: [String: FieldView] = [:]
        do {
            guard let action = request.action else {
                _ = try access.decide(role: context.role, action: .audit, purpose: context.purpose)  // role and purpose exist
                return AccessGrant(views: [:])
            }
            let decision = try access.decide(role: context.role, action: action, purpose: context.purpose)
            guard decision.isAllowed else { throw deny(request, context: context, fields: request.fields ?? [], rule: decision.rule) }
            if action == .read || action == .export {
                let names = request.fields ?? (request.allReadableFields ? schema.fields.map(\.name) : [])
                for name in names {
                    let decision = try access.decide(role: context.role, action: action, field: name, purpose: context.purpose)
                    switch decision.outcome {
                    case .allowed: views[name] = .full
                    case .masked: views[name] = .masked
                    case .denied:
                        // Asked for by name: refused. Part of "everything": left out.
                        if request.fields != nil { throw deny(request, context: context, fields: [name], rule: decision.rule) }
                    }
                }
                // A restricted subject (GDPR art. 18) is read only for what the policy's
                // `restricted:` allows.
                if let subject = request.subject, !access.mayProcessRestricted(role: context.role, purpose: context.purpose),
                   try isRestricted(subject) {
                    throw deny(request, context: context, fields: request.fields ?? [],
                               rule: "processing of subject \(subject) is restricted (GDPR art. 18); only restricted.roles acting for restricted.purposes may read it")
                }
                // Reading a subject for a purpose that rests on consent needs that
                // subject's live consent (an opt-out purpose: no objection).
                if let subject = request.subject, let answer = try consentCheck(subject: subject, purpose: context.purpose), !answer.allowed {
                    throw deny(request, context: context, fields: request.fields ?? [], rule: "consent of the subject for \(answer.purpose): \(answer.reason)")
                }
            }
        } catch let error as PrivacyKitError where error.code == .invalidInput {
            _ = deny(request, context: context, fields: request.fields ?? [], rule: error.message)
            throw error
        }
        return AccessGrant(views: views)
    }

    /// Subject ids as the caller's role may see them: the ids, or for a role with
    /// `subject_ids: pseudonymous` their keyed pseudonyms (as in the audit log).
    func visibleIDs(_ ids: [String], context: AccessContext) throws -> [String] {
        guard access.roles[context.role]?.pseudonymousIDs == true else { return ids }
        return try ids.map(subjectPseudonym)
    }

    /// The consent answer when `purpose` needs consent; nil when it does not.
    func consentCheck(subject: String, purpose purposeID: String?, db: StoreDatabase? = nil) throws -> ConsentAnswer? {
        guard let purposeID, let purpose = purposes[purposeID], purpose.consent != .notRequired else { return nil }
        let now = Timestamp.precise(Date())
        func answer(_ db: StoreDatabase) throws -> ConsentAnswer {
            ConsentRules.answer(subject: subject, purpose: purpose, last: try lastConsent(db, subject: subject, purpose: purposeID, at: nil), at: now)
        }
        if let db { return try answer(db) }
        return try store.read(answer)
    }

    private func deny(_ request: AccessRequest, context: AccessContext, fields: [String], rule: String) -> PrivacyKitError {
        let entry = AuditEntry(request.event, subjectID: request.subject, fields: fields.filter(AuditLog.isFieldName),
                               outcome: .denied, reason: rule)
        do {
            try performAudited(context) { $0.record(entry) }
        } catch let error as PrivacyKitError {
            // No denial without its event either: the caller learns the event failed.
            return PrivacyKitError(.denied, "denied (\(rule)), and the denial could not be recorded", cause: error)
        } catch {
            return PrivacyKitError(.denied, "denied (\(rule)), and the denial could not be recorded")
        }
        return PrivacyKitError(.denied, "role \(context.role)\(context.purpose.map { " for purpose \($0)" } ?? ""): \(request.action?.rawValue ?? "call") denied: \(rule)")
    }

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

    /// Records events in their own transaction: for services that act on data outside the
    /// vault (a ciphertext they keep, say) and must still leave an audit trail.
    public func record(_ entries: [AuditEntry], context: AccessContext) throws {
        // Logging, not access: the role and purpose must exist, no action is needed.
        try perform(context, AccessRequest(nil, event: entries.first?.action ?? .auditQuery)) { transaction, _ in
            for entry in entries { transaction.record(entry) }
        }
    }

    /// Signs a checkpoint over the current head of the audit log (or returns the existing
    /// one if nothing was appended since).
    @discardableResult
    public func checkpoint() throws -> AuditCheckpoint {
        try store.write { db in try audit.checkpoint(db: db) }
    }

    /// Signs a checkpoint if events were appended since the last one. The CLI calls this
    /// at the end of every command.
    @discardableResult
    public func checkpointIfNeeded() throws -> AuditCheckpoint? {
        try store.write { db in
                let last = try AuditLog.lastSeq(db: db)
                if let signed = try AuditLog.lastCheckpointSeq(db: db), signed >= last { return nil }
                return try audit.checkpoint(db: db)
            }
    }

    /// Verifies the audit log against the vault's public key and, optionally, a witness
    /// file's checkpoints.
    public func verifyAudit(witness: [AuditCheckpoint] = []) throws -> AuditReport {
        try store.read { db in
                try AuditVerifier.verify(db: db, vaultID: id, publicKey: auditPublicKey, witness: witness)
            }
    }

    /// Events matching `query`, oldest first. Reading the log is itself recorded
    /// (`audit.query`).
    public func auditEvents(matching query: AuditQuery, context: AccessContext) throws -> [AuditEvent] {
        let subject = try query.subjectID.map { id -> String in
            guard let key = keyring.current(.auditMAC)?.secret else {
                throw PrivacyKitError(.internal, "the keyring has no audit MAC key")
            }
            return try AuditChain.pseudonym(subjectID: id, key: key)
        }
        // The seq of this query's own event: the newest the read below can see.
        let last = try perform(context, AccessRequest(.audit, event: .auditQuery, subject: query.subjectID)) { tx, _ in
            tx.record(AuditEntry(.auditQuery, subjectID: query.subjectID))
            return try AuditLog.lastSeq(db: tx.db) + 1
        }
        var conditions: [String] = []
        var arguments: [(any StoreValueConvertible)?] = []
        if let subject {
            // Probe every seq segment of the subject index (see the v2-audit migration).
            let segments = (0...(last / AuditLog.subjectSegment)).map(String.init).joined(separator: ",")
            conditions.append("seq / \(AuditLog.subjectSegment) IN (\(segments)) AND subject = ?")
            arguments.append(subject)
        }
        if let actor = query.actor { conditions.append("actor = ?"); arguments.append(actor) }
        if let action = query.action { conditions.append("action = ?"); arguments.append(action) }
        if let since = query.since { conditions.append("time >= ?"); arguments.append(since) }
        if let until = query.until { conditions.append("time < ?"); arguments.append(until) }
        if let after = query.afterSeq { conditions.append("seq > ?"); arguments.append(after) }
        var sql = "SELECT \(AuditLog.selectColumns) FROM audit_events"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += " ORDER BY seq"
        if let limit = query.limit { sql += " LIMIT \(max(0, limit))" }
        let statementArguments = StoreArguments(arguments)
        return try store.read { db in
                try StoreRow.fetchAll(db, sql: sql, arguments: statementArguments).map(AuditLog.event(from:))
            }
    }

    /// Streams every event after `afterSeq`, oldest first, to `handle` (for a SIEM). The
    /// export is recorded first (`audit.export`), then read from one consistent snapshot.
    ///
    /// - Returns: the number of events handed over.
    @discardableResult
    public func exportAudit(
        afterSeq: Int64 = 0, context: AccessContext, _ handle: (AuditEvent) throws -> Void
    ) throws -> Int64 {
        try perform(context, AccessRequest(.audit, event: .auditExport)) { tx, _ in tx.record(AuditEntry(.auditExport, reason: "after seq \(afterSeq)")) }
        return try store.read { db in
                var count: Int64 = 0
                let cursor = try StoreRow.fetchCursor(
                    db, sql: "SELECT \(AuditLog.selectColumns) FROM audit_events WHERE seq > ? ORDER BY seq", arguments: [afterSeq])
                while let row = try cursor.next() {
                    try handle(AuditLog.event(from: row))
                    count += 1
                }
                return count
            }
    }

    // MARK: - Root rotation

    /// Re-seals the keyring under a new root secret. The keys themselves do not change,
    /// so no data is re-encrypted.
    ///
    /// The new keyring is written beside the old one, synced, and renamed over it: a crash
    /// at any point leaves either the old keyring (old secret opens it) or the new one.
    ///
    /// - Throws: `.busy` if another process is changing the keyring, `.integrity` if the
    ///   keyring file changed since this vault was opened.
    public func rotateRoot(
        to newRootKey: RootKey, kdfLimits: Argon2id.Limits = .moderate, context: AccessContext
    ) throws {
        try rotateRoot(to: newRootKey, kdfLimits: kdfLimits, context: context, hooks: .none)
    }

    func rotateRoot(
        to newRootKey: RootKey, kdfLimits: Argon2id.Limits, context: AccessContext,
        hooks: SecureFiles.WriteHooks
    ) throws {
        _ = try authorize(AccessRequest(.keys, event: .keysRotateRoot), context: context)
        let entry = AuditEntry(.keysRotateRoot, reason: "new root secret: \(newRootKey.kind.rawValue)")
        try rewriteKeyring(context: context, entry: entry, hooks: hooks) { keyring in
            try KeyringFile.seal(keyring, rootKey: newRootKey, limits: kdfLimits)
        }
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
        let lock = try FileLock(path: directory.path + "/" + Self.keysDirectoryName + "/.keyring.lock", what: "the keyring")
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

/// UTC timestamps as PrivacyKit writes them: ISO 8601 with seconds, `Z`.
enum Timestamp {
    static func now() -> String { string(Date()) }

    static func string(_ date: Date) -> String { ISOTime.string(date) }
}
