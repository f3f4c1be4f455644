public import Foundation
public import Sodium

/// Erased subjects to replay onto a restored vault: from the live vault, or a signed ledger file.
public enum TombstoneSource: Sendable {
    case vault(Vault)
    case ledger(URL)
    case none
}

/// A signed list of a vault's tombstones (`backup export-ledger`), for restoring elsewhere.
public struct ErasureLedger: Codable, Sendable {
    public let format: String
    public let vaultID: String
    public let exportedAt: String
    public let tombstones: [ErasureReceipt]
    /// The field versions the vault destroyed (rectified or removed fields), replayed like
    /// the tombstones; absent in a ledger made before field keys.
    public var fieldVersions: [DestroyedFieldVersions]?
    public let publicKey: String
    public var signature: ReceiptSignature?

    public static let formatVersion = "privacykit.erasure-ledger.v1"

    public func json() throws -> Data { try receiptJSON() }
}

extension ErasureLedger: SignedReceipt {}

/// What a restore did.
public struct RestoreSummary: Sendable, Codable {
    public let directory: String
    public let backupID: String
    public let vaultID: String
    public let subjects: Int
    /// Tombstones newer than the backup, replayed: their subjects erased again.
    public let replayedErasures: Int
    /// Tombstones added without a subject to erase (erased before, or never in the backup).
    public let tombstonesAdded: Int
    /// Fields whose value in the backup is of a version destroyed since (rectified or
    /// removed): removed again.
    public let replayedFieldVersions: Int
    public let auditVerified: Bool
    /// The format of a backup made by an older PrivacyKit, which the restore carried over
    /// (`vault.upgrade` in the restored log); nil for a backup of this build's format.
    public var upgradedFromFormat: Int?

    enum CodingKeys: String, CodingKey {
        case directory, subjects
        case backupID = "backup_id", vaultID = "vault_id", replayedErasures = "replayed_erasures"
        case tombstonesAdded = "tombstones_added", auditVerified = "audit_verified", replayedFieldVersions = "replayed_field_versions"
        case upgradedFromFormat = "upgraded_from_format"
    }
}

extension VaultBackups {
    /// The tombstones as a signed ledger file, for restoring a backup on another host.
    /// Audited as `backup.create` (an export of erasure records).
    public func exportErasureLedger(context: AccessContext) throws -> ErasureLedger {
        guard let signer = audit.signer else { throw PrivacyKitError(.internal, "the keyring has no audit signing key") }
        let receipts = try VaultRetention(core: core).tombstones(context: context)
        let versions = try VaultRecords(core: core).destroyedFieldVersions(context: context)
        var ledger = ErasureLedger(format: ErasureLedger.formatVersion, vaultID: id.hex, exportedAt: Timestamp.precise(Date()), tombstones: receipts,
                                   fieldVersions: versions, publicKey: Base64URL.encode(signer.publicKey.bytes), signature: nil)
        try ledger.sign(with: signer)
        try record([AuditEntry(.backupCreate, reason: "erasure ledger: \(receipts.count) tombstones, \(versions.count) destroyed field versions")], context: context)
        return ledger
    }

    /// Restores a backup into a new vault directory (never over a live one): decrypts and
    /// checks the snapshot, writes keyring and policies, replays every tombstone the
    /// `tombstones` source holds that the snapshot lacks (so subjects erased since stay
    /// erased), runs `audit verify`, and only then moves the vault into place. A failure at
    /// any point leaves nothing at `directory`.
    ///
    /// The file is read once: its header is parsed from that read, checked against the
    /// expected identity before any key is derived, and authenticated with the stream and
    /// the signed manifest; the keyring and policies written come from that same header.
    ///
    /// - Parameters:
    ///   - file: the backup file.
    ///   - directory: the new vault directory; it must not exist or be empty.
    ///   - access: the root secret the backup's keyring was sealed with, or the recovery key
    ///     (pinned to the vault it was made for).
    ///   - newRootKey: the restored vault's root secret (required with the recovery key;
    ///     default with the root secret: the same secret).
    ///   - kdfLimits: Argon2id cost when `newRootKey` is a passphrase.
    ///   - source: where the erasures made since the backup come from: the live vault, a
    ///     signed ledger file, or none.
    ///   - expectedIdentity: whose backup this must be, over the recovery key's pin or the
    ///     live vault's identity (`--expect-identity`).
    ///   - allowUnbound: accept a backup that carries no vault identity (made before
    ///     identities) where an identity is expected: always with the recovery key
    ///     (`--allow-unbound-backup`).
    ///   - context: who restores, recorded in the restored vault's audit events.
    ///   - backend: a server store to restore into (an empty schema, named in the new vault
    ///     by `store.url`); nil for a SQLite file inside the new vault.
    ///   - progress: (bytes of the backup file read, its size) while it is decrypted.
    /// - Throws: `.integrity` for a backup another vault made (or whose identity does not
    ///   verify), or an unbound one without `allowUnbound`; `.invalidInput` for a recovery
    ///   key without a pin and no `expectedIdentity`; `.wrongKey`, `.alreadyExists`, …
    public static func restore(
        from file: URL, to directory: URL, access: BackupAccess, newRootKey: RootKey? = nil, kdfLimits: Argon2id.Limits = .moderate,
        tombstones source: TombstoneSource, expectedIdentity: ExpectedIdentity? = nil, allowUnbound: Bool = false,
        context: AccessContext, store backend: (any StoreBackend)? = nil, progress: ((Int64, Int64) -> Void)? = nil
    ) throws -> RestoreSummary {
        try restore(from: file, to: directory, access: access, newRootKey: newRootKey, kdfLimits: kdfLimits, tombstones: source,
                    expectedIdentity: expectedIdentity, allowUnbound: allowUnbound, context: context, store: backend, progress: progress, afterKeys: nil)
    }

    /// `afterKeys` runs once the keys are derived, before the stream is read: where the
    /// tests swap the file.
    static func restore(
        from file: URL, to directory: URL, access: BackupAccess, newRootKey: RootKey?, kdfLimits: Argon2id.Limits,
        tombstones source: TombstoneSource, expectedIdentity: ExpectedIdentity?, allowUnbound: Bool,
        context: AccessContext, store backend: (any StoreBackend)?, progress: ((Int64, Int64) -> Void)?, afterKeys: (() throws -> Void)?
    ) throws -> RestoreSummary {
        let target = directory.standardizedFileURL.path
        let fm = FileManager.default
        let parent = try VaultLayout.checkNewVaultPath(target, refusal: "a restore never writes over a vault")
        let path = file.standardizedFileURL.path
        var live: Vault?
        if case .vault(let vault) = source { live = vault }

        // A restore killed before its rename left a staging directory (a whole vault copy).
        let stagingPrefix = "." + (target as NSString).lastPathComponent + ".restoring-"
        WorkFileClaim.removeAbandoned(in: parent, prefix: stagingPrefix)
        let staging = parent + "/" + stagingPrefix + Hex.encode(Random.bytes(count: 4))
        let (stagingClaim, _) = try WorkFileClaim.claim(staging) { try SecureFiles.makeDirectory($0, mode: 0o700) }
        var finished = false
        defer {
            if !finished { try? fm.removeItem(atPath: staging) }
            stagingClaim.release()
        }
        try SecureFiles.makeDirectory(staging + "/" + VaultLayout.keysDirectoryName, mode: 0o700)
        try SecureFiles.makeDirectory(staging + "/" + VaultLayout.policiesDirectoryName, mode: 0o755)

        // One read of the file: the header it parses is checked (identity, tombstone source)
        // and gives the keys; the stream and the manifest authenticate that same header.
        let storePath = staging + "/" + VaultLayout.storeFileName
        // Through the page cache: the restored vault is opened and its audit log read next.
        let out = try StreamFileWriter(path: storePath, largestReserve: 0, tryDirect: false)
        var prepared: (keyringBytes: [UInt8], rootKey: RootKey, ledger: (tombstones: [ErasureReceipt], fieldVersions: [DestroyedFieldVersions]))?
        let (opened, _, _) = try BackupOpener.read(path: path, expectVault: nil, key: { header in
            // The erasures to replay, read (and checked) before any key is derived.
            let ledger = try Self.ledger(from: source, for: header, context: context)
            var expected = expectedIdentity, unbound = allowUnbound
            if case .rootKey = access, expectedIdentity == nil {
                // The root secret authenticates the backup's keyring copy: an old unbound
                // backup needs no override, unless an identity was asked for explicitly.
                expected = live?.keys.identity.map(ExpectedIdentity.init)
                unbound = true
            }
            let keys = try BackupOpener.keys(for: header, access: access, newRootKey: newRootKey, kdfLimits: kdfLimits,
                                             expected: expected, allowUnbound: unbound)
            prepared = (keys.keyringBytes, keys.rootKey, ledger)
            try afterKeys?()
            return keys.backupKey
        }, progress: progress) { try out.append($0) }
        try out.finish()
        guard let prepared else { throw PrivacyKitError(.internal, "the backup was read without its keys") }
        let (keyringBytes, rootKey, ledger) = prepared

        // Only now, from the header that the stream and the signed manifest authenticated.
        let header = opened.header
        for (name, text) in header.policies {
            guard (PolicySet.requiredFiles + PolicySet.optionalFiles).contains(name), let bytes = try? Base64URL.decode(text) else {
                throw PrivacyKitError(.integrity, "the backup header's policy file \(name) is not valid")
            }
            try SecureFiles.replace(bytes, at: staging + "/" + VaultLayout.policiesDirectoryName + "/" + name, mode: 0o644)
        }
        try SecureFiles.replace(keyringBytes, at: VaultLayout.keyringPath(staging), mode: 0o600)
        if let text = header.operatorDefaults, let bytes = try? Base64URL.decode(text) {
            try SecureFiles.replace(bytes, at: staging + "/" + OperatorDefaults.fileName, mode: 0o600)
        }

        let restoredID = try VaultID(hex: header.vaultID)
        // A server store outlives the staging directory: take back the one this restore
        // made (never one it found: that may be the live vault's) unless the restore
        // finishes, so it can be run again.
        var madeServerStore = false
        defer { if !finished, madeServerStore, let backend { try? backend.discard(vaultID: restoredID) } }
        if let backend {
            // Onto a server: the decrypted file's tables are copied into a new store there,
            // and the file is overwritten and removed.
            let server = try backend.create(vaultID: restoredID, createdAt: Timestamp.now())
            madeServerStore = true
            defer { try? server.close() }
            try StoreCopy.load(from: storePath, into: server)
            try SecureFiles.replace(Array((backend.reference + "\n").utf8), at: staging + "/" + StoreBackends.referenceFileName, mode: 0o600)
            secureRemove(storePath)
            for suffix in ["-wal", "-shm", "-journal"] { unlink(storePath + suffix) }
        }

        // A backup of an older format restores into a vault of that format: carried over
        // here, audited in the restored vault's log (a restore makes a new vault; no live
        // vault is rewritten on open).
        let upgrade = try VaultUpgrade.upgrade(at: URL(fileURLWithPath: staging), rootKey: rootKey, dryRun: false, context: context, backend: backend,
                                               installIdentity: false)
        // Open the restored vault, replay erasures, verify, record.
        let vault = try Vault.open(at: URL(fileURLWithPath: staging), rootKey: rootKey, context: context, backend: backend)
        var replayed = 0, added = 0, versionsReplayed = 0
        try vault.core.performAudited(context) { tx in
            for receipt in ledger.tombstones {
                let rows = tx.db.decisions
                guard try !rows.tombstones.contains(receipt.subject) else { continue }
                let erased = try rows.subjects.delete(id: receipt.subject) == 1
                let text = String(data: try receipt.json(), encoding: .utf8) ?? ""
                try rows.tombstones.insert(
                    subject: receipt.subject, erasedAt: receipt.erasedAt, reason: receipt.reason, requestID: receipt.requestID, rule: receipt.rule,
                    actor: receipt.actor, auditSeq: receipt.auditSeq, receipt: text)
                if erased {
                    replayed += 1
                    tx.record(AuditEntry(.recordErase, subjectID: receipt.subject, fields: receipt.fields,
                                         reason: "replayed after restore: erased at \(receipt.erasedAt) (\(receipt.receiptID))"))
                } else {
                    added += 1
                }
            }
            versionsReplayed = try RecordStore(core: vault.core).replay(ledger.fieldVersions, tx: tx)
            tx.record(AuditEntry(.backupRestore, reason: "\(opened.manifest.backupID) of \(opened.manifest.createdAt): \(replayed) erasures replayed, \(added) tombstones added, \(versionsReplayed) destroyed field versions replayed"))
        }
        vault.core.scrubDeleted()
        let report = try vault.audit.verify()
        guard report.ok else {
            throw PrivacyKitError(.integrity, "the restored vault's audit log does not verify: \(report.problem?.message ?? "?")")
        }
        try vault.audit.checkpointIfNeeded()
        let subjects = try vault.core.store.read { db in try db.decisions.subjects.count() }
        try vault.core.store.close()
        guard rename(staging, target) == 0 else {
            throw PrivacyKitError(.io, "cannot move the restored vault into \(target): \(String(cString: strerror(errno)))")
        }
        finished = true
        try SecureFiles.syncDirectory(parent)
        return RestoreSummary(directory: target, backupID: opened.manifest.backupID, vaultID: header.vaultID, subjects: subjects,
                              replayedErasures: replayed, tombstonesAdded: added, replayedFieldVersions: versionsReplayed, auditVerified: true,
                              upgradedFromFormat: upgrade.upgraded ? upgrade.fromFormat : nil)
    }

    /// The tombstones and destroyed field versions `source` holds, checked against the
    /// backup's header.
    private static func ledger(from source: TombstoneSource, for header: BackupHeader, context: AccessContext) throws
        -> (tombstones: [ErasureReceipt], fieldVersions: [DestroyedFieldVersions])
    {
        switch source {
        case .none:
            return ([], [])
        case .vault(let live):
            guard live.id.hex == header.vaultID else {
                throw PrivacyKitError(.integrity, "the backup is of vault \(header.vaultID) but the tombstones come from vault \(live.id)")
            }
            return (try live.retention.tombstones(context: context), try live.records.destroyedFieldVersions(context: context))
        case .ledger(let url):
            // Strictly, as receipts: only the exact bytes issued, all covered by the signature.
            guard let data = FileManager.default.contents(atPath: url.path),
                  let decoded = try? JSONDecoder().decode(ErasureLedger.self, from: data), decoded.format == ErasureLedger.formatVersion else {
                throw PrivacyKitError(.invalidInput, "\(url.path) is not an erasure ledger (backup export-ledger writes one)")
            }
            let (parsed, parseProblem) = ErasureLedger.parseExactly(data, kind: "erasure ledger")
            guard let file = parsed else {
                throw PrivacyKitError(.integrity, "the erasure ledger \(url.path) does not verify: \(parseProblem ?? "malformed")")
            }
            let key = try? Ed25519.PublicKey(bytes: try Base64URL.decode(header.auditPublicKey))
            if let problem = file.signatureProblem(publicKey: key).problem {
                throw PrivacyKitError(.integrity, "the erasure ledger \(url.path) does not verify with the vault's audit key: \(problem)")
            }
            guard file.vaultID == header.vaultID else {
                throw PrivacyKitError(.integrity, "the erasure ledger is of vault \(file.vaultID), not \(header.vaultID)")
            }
            return (file.tombstones, file.fieldVersions ?? [])
        }
    }

    /// Verifies a backup with the offline recovery key alone (no vault, no root secret):
    /// only a backup made by the vault the key is pinned to (or `expectedIdentity`) passes,
    /// and one without identity only with `allowUnbound`.
    public static func verify(
        at file: URL, recoveryKey: RecoveryKey, expectedIdentity: ExpectedIdentity? = nil, allowUnbound: Bool = false,
        progress: ((_ done: Int64, _ total: Int64) -> Void)? = nil
    ) -> BackupVerification {
        BackupOpener.verify(path: file.standardizedFileURL.path, expectVault: nil, progress: progress) { header in
            try BackupOpener.openRecovery(header, with: recoveryKey, expected: expectedIdentity, allowUnbound: allowUnbound,
                                          root: RootHeader(kind: .key, limits: nil, salt: nil)).0
        }
    }

    /// A backup file's manifest, read without any key (nil when its end is damaged).
    public static func manifest(at file: URL) throws -> BackupManifest? {
        try BackupOpener.peek(path: file.standardizedFileURL.path).1
    }

    /// Backups in `directory` (default `<vault>/Backups`), newest first, read without any key.
    public func list(in directory: URL? = nil) throws -> [(file: String, manifest: BackupManifest?)] {
        let dir = directory?.standardizedFileURL.path ?? backupsPath
        return BackupFiles.list(in: dir).map { path in (path, (try? BackupOpener.peek(path: path))?.1) }
    }

    /// Deletes backups older than `keepDays` days (by their manifest time) from `directory`;
    /// each deletion is audited (`backup.prune`). Files without a readable manifest are kept.
    public func prune(in directory: URL? = nil, keepDays: Int, now: Date = Date(), context: AccessContext) throws -> [String] {
        guard keepDays >= 0 else { throw PrivacyKitError(.invalidInput, "--keep-days must not be negative") }
        _ = try authorize(AccessRequest(.backup, event: .backupPrune), context: context)
        let cutoff = Timestamp.precise(now.addingTimeInterval(-Double(keepDays) * 86_400))
        var removed: [String] = []
        for (path, manifest) in try list(in: directory) {
            guard let manifest, manifest.vaultID == id.hex, manifest.createdAt < cutoff else { continue }
            // Recorded first: a pruned backup always has its event (a failed delete says so).
            try performAudited(context) { tx in tx.record(AuditEntry(.backupPrune, reason: "\(manifest.backupID) of \(manifest.createdAt)")) }
            guard unlink(path) == 0 else { throw PrivacyKitError(.io, "cannot delete \(path): \(String(cString: strerror(errno)))") }
            removed.append(path)
        }
        return removed
    }
}
