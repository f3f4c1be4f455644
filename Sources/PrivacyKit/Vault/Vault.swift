public import Foundation
public import Sodium

/// A vault: one directory holding the store, the sealed keyring and the policies (see
/// ``VaultLayout``).
///
/// Create one with ``create(at:rootKey:kdfLimits:context:store:)`` and open it with
/// ``open(at:rootKey:context:)``. Opening checks everything before it touches anything: a wrong
/// secret, a damaged or missing keyring, or a vault written by a newer PrivacyKit fails
/// with a ``PrivacyKitError`` and leaves the files as they were.
///
/// What a vault does is reached through its capability handles: ``records``, ``consent``,
/// ``retention``, ``requests``, ``breaches``, ``backups``, ``keys``, ``audit`` and
/// ``reports``. Each holds the vault's narrow core (the access decision, the audited
/// transaction, the keys), so every call is checked and audited in the same place.
///
/// ```swift
/// let vault = try Vault.open(at: URL(fileURLWithPath: "/srv/crm-vault"),
///                            rootKey: .keyFile(at: "/etc/privacykit/root.key"))
/// print(vault.id, vault.keys.status())
/// ```
public final class Vault: Sendable {
    /// The vault format this build creates and reads.
    public static let formatVersion = 2

    /// The vault directory.
    public let directory: URL
    public let id: VaultID
    /// The audit public key: what an auditor needs to verify this vault's log.
    public let auditPublicKey: Ed25519.PublicKey
    /// The parsed policy files (schema, purposes, access, retention).
    public let policies: VaultPolicies
    let core: VaultCore

    /// Customer records: put, get, find, delete fields, import, quality, envelopes.
    public let records: VaultRecords
    /// The consent ledger: recording, answers, audiences, receipts.
    public let consent: VaultConsent
    /// Retention: sweeps, legal holds, erasure, restriction of processing.
    public let retention: VaultRetention
    /// Data-subject requests and subject export packages.
    public let requests: VaultRequests
    /// Personal-data breach records.
    public let breaches: VaultBreaches
    /// Encrypted backups: create, verify, list, prune (restores are ``VaultBackups`` statics).
    public let backups: VaultBackups
    /// Key status and rotation (root secret, KEK, blind-index keys).
    public let keys: VaultKeys
    /// The audit log: checkpoints, verification, queries, export.
    public let audit: VaultAudit
    /// The compliance report.
    public let reports: VaultReports
    /// privacyd's clients: their tokens, roles and purposes, and authenticating them.
    public let clients: VaultClients

    /// The store under the vault, for tests that attack it behind the library. Nothing
    /// public reaches it: library users go through the handles above.
    @_spi(Testing) public var store: any Store { core.store }

    /// Where the records are: the SQLite file, or the server store's URL without its password.
    public var storeLocation: String { core.store.location }
    public var keyringPath: String { core.keyringPath }
    public var storePath: String { core.storePath }
    public var policiesPath: String { core.policiesPath }

    private init(directory: URL, store: any Store, keyring: Keyring, keyringDigest: [UInt8], policies: VaultPolicies) throws {
        let core = try VaultCore(directory: directory, store: store, keyring: keyring, keyringDigest: keyringDigest, policies: policies)
        self.core = core
        self.directory = directory
        self.id = core.id
        self.auditPublicKey = core.auditPublicKey
        self.policies = policies
        records = VaultRecords(core: core)
        consent = VaultConsent(core: core)
        retention = VaultRetention(core: core)
        requests = VaultRequests(core: core)
        breaches = VaultBreaches(core: core)
        backups = VaultBackups(core: core)
        keys = VaultKeys(core: core)
        audit = VaultAudit(core: core)
        reports = VaultReports(core: core)
        clients = VaultClients(core: core)
    }

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
    ///   - backend: where the records go: nil for a SQLite file inside the vault (the
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
        let parent = try VaultLayout.checkNewVaultPath(target, refusal: "choose a new path for the vault")

        let staging = parent + "/." + (target as NSString).lastPathComponent + ".creating-" + Hex.encode(Random.bytes(count: 4))
        try SecureFiles.makeDirectory(staging, mode: 0o700)
        var finished = false
        defer { if !finished { try? fm.removeItem(atPath: staging) } }

        try SecureFiles.makeDirectory(staging + "/" + VaultLayout.keysDirectoryName, mode: 0o700)
        try SecureFiles.makeDirectory(staging + "/" + VaultLayout.policiesDirectoryName, mode: 0o755)
        try PolicySet.writeDefaults(to: staging + "/" + VaultLayout.policiesDirectoryName)

        let vaultID = VaultID.random()
        let createdAt = Timestamp.now()
        let fresh = try Keyring.generate(vaultID: vaultID, createdAt: createdAt,
                                         root: RootHeader(kind: rootKey.kind, limits: nil, salt: nil))
        let (bytes, keyring) = try KeyringFile.seal(fresh, rootKey: rootKey, limits: kdfLimits)
        try SecureFiles.replace(bytes, at: VaultLayout.keyringPath(staging), mode: 0o600)

        let staged: any Store
        if let backend {
            try SecureFiles.replace(Array((backend.reference + "\n").utf8), at: staging + "/" + StoreBackends.referenceFileName, mode: 0o600)
            staged = try backend.create(vaultID: vaultID, createdAt: createdAt)
        } else {
            staged = try SQLiteStore.create(at: staging + "/" + VaultLayout.storeFileName, vaultID: vaultID, createdAt: createdAt)
        }
        // A server store outlives the staging directory: take it back if the vault is not
        // finished, so init can be run again.
        defer { if !finished, let backend { try? staged.close(); try? backend.discard(vaultID: vaultID) } }
        // The vault's first event, and a signed checkpoint over it, go in before the vault
        // appears at its path.
        let stagedAudit = AuditLog(vaultID: vaultID, keyring: keyring)
        let policyDigest = try PolicySet.digest(of: staging + "/" + VaultLayout.policiesDirectoryName)
        try staged.write { db in
            try VaultMetaTable(db: db).insert(VaultCore.policyDigestKey, policyDigest)
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

        let policies = try VaultPolicies(vaultDirectory: target)
        let store = try backend?.open(expecting: vaultID) ?? SQLiteStore.open(at: target + "/" + VaultLayout.storeFileName, expecting: vaultID)
        return try Vault(directory: URL(fileURLWithPath: target), store: store, keyring: keyring,
                         keyringDigest: try BLAKE2b.hash(bytes), policies: policies)
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
        let (bytes, keyring) = try unlock(path, rootKey: rootKey, context: context)

        // Policies first: a vault whose policy files do not load is not touched at all.
        let policies = try VaultPolicies(vaultDirectory: path)
        let store = try backend?.open(expecting: keyring.vaultID) ?? StoreBackends.openStore(ofVault: path, expecting: keyring.vaultID)
        do {
            try VaultUpgrade.checkCurrent(formatVersion: try store.metadata().formatVersion, keyring: keyring, store: store.location)
        } catch {
            try? store.close()
            throw error
        }
        let vault = try Vault(directory: URL(fileURLWithPath: path), store: store, keyring: keyring,
                              keyringDigest: try BLAKE2b.hash(bytes), policies: policies)
        try vault.core.recordPolicyChange(context: context)
        // An erasure whose scrub a reader held up is finished by the next open.
        vault.core.finishPendingScrub()
        return vault
    }

    /// Reads and unseals the keyring of the vault at `path`; a wrong secret is recorded as
    /// a failed unlock before it is thrown. For opening and for ``VaultUpgrade``.
    static func unlock(_ path: String, rootKey: RootKey, context: AccessContext) throws -> (bytes: [UInt8], keyring: Keyring) {
        var isDirectory: ObjCBool = false
        guard try SecureFiles.exists(path), FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PrivacyKitError(.notFound, "no vault at \(path) (run privacyctl init --vault \(path) to create one)")
        }
        guard isDirectory.boolValue else {
            throw PrivacyKitError(.notFound, "no vault at \(path): it is a file, and a vault is a directory")
        }
        let keyringPath = VaultLayout.keyringPath(path)
        guard try SecureFiles.exists(keyringPath) else {
            throw PrivacyKitError(.notFound, "\(path) has no keyring (\(VaultLayout.keysDirectoryName)/\(VaultLayout.keyringFileName)); is it a vault?")
        }
        let bytes = try KeyringFile.read(at: keyringPath)
        let keyring: Keyring
        do {
            keyring = try KeyringFile.unseal(bytes, path: keyringPath, rootKey: rootKey)
        } catch let error as PrivacyKitError where error.code == .wrongKey {
            VaultCore.recordFailedUnlock(directory: path, keyringBytes: bytes, context: context)
            throw error
        }
        return (bytes, keyring)
    }
}
