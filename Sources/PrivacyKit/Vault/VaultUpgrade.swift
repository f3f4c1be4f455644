public import Foundation
import Sodium

/// What `privacyctl upgrade` did, or with `--dry-run` would do.
public struct UpgradeReport: Sendable, Encodable, Equatable {
    public let vaultID: String
    public let fromFormat: Int
    public let toFormat: Int
    public let dryRun: Bool
    /// One line per change, in order; empty when the vault is already current.
    public let steps: [String]
    /// Events of the old log verified (chain and signed checkpoints) before carrying it over.
    public let auditEventsVerified: Int64
    /// Whether the vault was changed (false for a dry run and for a current vault).
    public let upgraded: Bool

    enum CodingKeys: String, CodingKey {
        case steps, upgraded
        case vaultID = "vault_id"
        case fromFormat = "from_format"
        case toFormat = "to_format"
        case dryRun = "dry_run"
        case auditEventsVerified = "audit_events_verified"
    }
}

/// Carries a vault made by an older PrivacyKit over to this build's format: explicitly,
/// audited, never on open (`Vault.open` refuses an older vault with `.upgradeRequired`).
///
/// Format 1 → 2 (the keyed audit chain): verifies the old log as format 1 allows (its
/// chain and signed checkpoints), adds the audit-chain key to the keyring, adds the
/// format-2 columns, and appends a `vault.upgrade` event — the first with a MAC, which
/// vouches for every event before it through the chain — then signs a checkpoint. Events
/// after the old log's newest checkpoint are taken as they stand: format 1 could not
/// protect them, which is what the upgrade fixes from here on (docs/threat-model.md).
///
/// An interrupted upgrade (keyring written, store not yet) is finished by running it again.
public enum VaultUpgrade {
    /// - Parameters:
    ///   - directory: the vault directory.
    ///   - rootKey: the vault's root secret.
    ///   - dryRun: say what would change, and change nothing.
    ///   - context: who upgrades, in the audit events (`vault.upgrade`).
    ///   - installIdentity: also give a vault made before identities its identity key
    ///     (``VaultKeys/installIdentity(context:)``, which `context` must be allowed).
    public static func upgrade(
        at directory: URL, rootKey: RootKey, dryRun: Bool = false, context: AccessContext = .library, installIdentity: Bool = true
    ) throws -> UpgradeReport {
        try upgrade(at: directory, rootKey: rootKey, dryRun: dryRun, context: context, backend: nil, installIdentity: installIdentity)
    }

    static func upgrade(
        at directory: URL, rootKey: RootKey, dryRun: Bool, context: AccessContext, backend: (any StoreBackend)?, installIdentity: Bool = true
    ) throws -> UpgradeReport {
        let (format, hasIdentity) = try upgradeFormat(at: directory, rootKey: rootKey, dryRun: dryRun, context: context, backend: backend)
        guard installIdentity, !hasIdentity else { return format }
        let step = "add a vault identity key that certifies the audit signing key (keys.install-identity)"
        if !dryRun {
            // After the format step has let go of the keyring lock, which this rewrite takes.
            let vault = try Vault.open(at: directory, rootKey: rootKey, context: context, backend: backend)
            defer { try? vault.core.store.close() }
            _ = try vault.keys.installIdentity(context: context)
            try vault.audit.checkpointIfNeeded()
        }
        return UpgradeReport(vaultID: format.vaultID, fromFormat: format.fromFormat, toFormat: format.toFormat, dryRun: dryRun,
                             steps: format.steps + [step], auditEventsVerified: format.auditEventsVerified, upgraded: !dryRun)
    }

    /// The store's and keyring's format; says whether the keyring has an identity key.
    private static func upgradeFormat(
        at directory: URL, rootKey: RootKey, dryRun: Bool, context: AccessContext, backend: (any StoreBackend)?
    ) throws -> (UpgradeReport, hasIdentity: Bool) {
        let path = directory.standardizedFileURL.path
        let keyringPath = VaultLayout.keyringPath(path)
        let (bytes, keyring) = try Vault.unlock(path, rootKey: rootKey, context: context)
        // Held from here to the end (a dry run changes nothing and takes no lock): the
        // keyring this read is the one rewritten.
        let lock = dryRun ? nil : try FileLock(path: path + "/" + VaultLayout.keysDirectoryName + "/.keyring.lock", what: "the keyring")
        defer { lock?.unlock() }
        guard ConstantTime.equals(try BLAKE2b.hash(try KeyringFile.read(at: keyringPath)), try BLAKE2b.hash(bytes)) else {
            throw VaultCore.keyringChanged(keyringPath)
        }
        let store = try backend?.open(expecting: keyring.vaultID) ?? StoreBackends.openStore(ofVault: path, expecting: keyring.vaultID)
        defer { try? store.close() }
        let from = try store.metadata().formatVersion
        let hasChainKey = keyring.current(.auditChain) != nil
        func report(steps: [String], verified: Int64, upgraded: Bool) -> UpgradeReport {
            UpgradeReport(vaultID: keyring.vaultID.hex, fromFormat: from, toFormat: Vault.formatVersion, dryRun: dryRun,
                          steps: steps, auditEventsVerified: verified, upgraded: upgraded)
        }
        if from == Vault.formatVersion {
            try checkCurrent(formatVersion: from, keyring: keyring, store: store.location)
            return (report(steps: [], verified: 0, upgraded: false), keyring.identity != nil)
        }
        guard from == 1 else {
            throw PrivacyKitError(.unsupportedVersion, "the store \(store.location) is format \(from); this build upgrades format 1 to \(Vault.formatVersion)")
        }
        guard let publicKey = keyring.auditPublicKey else {
            throw PrivacyKitError(.integrity, "\(keyringPath) has no audit signing key")
        }
        let audit = try store.read { db in
            try AuditVerifier.verify(db: db, vaultID: keyring.vaultID, publicKey: publicKey, witness: [])
        }
        if let problem = audit.problem {
            throw PrivacyKitError(.integrity, "the audit log does not verify (\(problem.kind) at seq \(problem.seq.map(String.init) ?? "-"): \(problem.message)); the upgrade does not carry a broken log over")
        }
        var steps: [String] = []
        if !hasChainKey { steps.append("add an audit-chain key to the keyring") }
        steps.append("add the format-2 audit columns to the store (migration v8-integrity)")
        steps.append("give every record a MAC (its fields as they stand)")
        steps.append("build the tree of the decision rows (consent state, restrictions, holds, tombstones) as they stand")
        steps.append("append a vault.upgrade event, the first with a MAC, committing to the tree, and sign a checkpoint over it")
        if dryRun { return (report(steps: steps, verified: audit.events, upgraded: false), keyring.identity != nil) }

        try store.upgradeSchema()
        let upgraded = hasChainKey ? keyring : try keyring.addingKey(.auditChain, createdAt: Timestamp.now())
        let newKeyring = hasChainKey ? nil : try KeyringFile.reseal(upgraded)
        let log = AuditLog(vaultID: keyring.vaultID, keyring: upgraded, upgrading: true)
        try store.write { db in
            let meta = VaultMetaTable(db: db)
            guard try meta.value("format_version") == "1" else {
                throw PrivacyKitError(.busy, "another process upgraded \(path) meanwhile; open it again")
            }
            // The decision rows as they stand are what format 1 left: the tree starts from them.
            guard let chainKey = upgraded.current(.auditChain)?.secret else {
                throw PrivacyKitError(.internal, "the upgraded keyring has no audit-chain key")
            }
            _ = try RecordSeal(key: chainKey).upgrade(db)
            let integrity = DecisionIntegrity(key: chainKey)
            let root = try integrity.build(tree: db.decisions.tree, store: true)
            try log.append([AuditEntry(.vaultUpgrade, reason: "format 1 to \(Vault.formatVersion): keyed audit chain, authenticated decision state")],
                           context: context, db: db, stateRoot: root)
            try meta.set("format_version", String(Vault.formatVersion))
            try log.checkpoint(db: db)
            // Last, inside the transaction: a crash before the commit leaves a keyring with
            // the new key over a format-1 store, which running the upgrade again finishes.
            if let newKeyring { try SecureFiles.replace(newKeyring, at: keyringPath, mode: 0o600) }
        }
        return (report(steps: steps, verified: audit.events, upgraded: true), keyring.identity != nil)
    }

    /// What `Vault.open` requires: a store and a keyring of this build's format.
    static func checkCurrent(formatVersion: Int, keyring: Keyring, store location: String) throws {
        let hasChainKey = keyring.current(.auditChain) != nil
        if formatVersion < Vault.formatVersion {
            throw PrivacyKitError(
                .upgradeRequired,
                "the vault's store \(location) is format \(formatVersion), made by an older PrivacyKit: run `privacyctl upgrade` (try `--dry-run` first) to carry it over to format \(Vault.formatVersion)")
        }
        guard hasChainKey else {
            throw PrivacyKitError(
                .integrity,
                "the store \(location) is format \(formatVersion) but the keyring has no audit-chain key: an older keyring was put back over an upgraded vault")
        }
    }
}
