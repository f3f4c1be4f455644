public import Foundation
public import Sodium

/// Reading a backup file: parse, get the key, authenticate every chunk and the manifest.
enum BackupOpener {
    struct Opened {
        let header: BackupHeader
        let headerBytes: [UInt8]
        let manifest: BackupManifest
    }

    static func unwrap(_ header: BackupHeader, with backupKey: SecureBytes) throws -> SecureBytes {
        guard let combined = try? Base64URL.decode(header.wrappedKey), let sealed = try? XChaCha20Poly1305.SealedMessage(combined: combined) else {
            throw PrivacyKitError(.integrity, "the backup header's wrapped key is damaged")
        }
        do {
            return try XChaCha20Poly1305.openSecret(
                sealed, using: backupKey, authenticating: BackupFile.keyAD(vaultID: header.vaultID, backupID: header.backupID, version: header.backupKeyVersion))
        } catch {
            throw PrivacyKitError(.wrongKey, "the backup key does not open backup \(header.backupID) (a backup of another vault, or its header was altered)")
        }
    }

    static func readHeader(_ reader: BackupReader) throws -> (BackupHeader, [UInt8]) {
        guard let magic = try reader.read(8, what: "the file type"), magic == BackupFile.magic else {
            throw PrivacyKitError(.integrity, "\(reader.path) is not a PrivacyKit backup (no PKBACKUP signature)")
        }
        let count = try reader.length(what: "the header", max: BackupFile.maxHeaderBytes)
        let bytes = try reader.require(count, what: "the header")
        guard let header = try? JSONDecoder().decode(BackupHeader.self, from: Data(bytes)) else {
            throw PrivacyKitError(.integrity, "the backup header (bytes 12–\(12 + count)) is not valid")
        }
        guard header.format == BackupManifest.formatVersion else {
            throw PrivacyKitError(.unsupportedVersion, "the backup is format \(header.format); this build reads \(BackupManifest.formatVersion)")
        }
        if let compression = header.compression, compression != BackupCompression.name {
            throw PrivacyKitError(.unsupportedVersion, "the backup is compressed with \(compression); this build reads \(BackupCompression.name)")
        }
        return (header, bytes)
    }

    /// The header and manifest (for listing and choosing the key), read without any key;
    /// the manifest is nil when the file's end is damaged.
    static func peek(path: String) throws -> (BackupHeader, BackupManifest?) {
        let reader = try BackupReader(path: path)
        let (header, _) = try readHeader(reader)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return (header, nil) }
        defer { close(fd) }
        // The file ends with the manifest, its length (u32 BE) and the end marker.
        var tail = [UInt8](repeating: 0, count: 12)
        guard reader.size >= 24, pread(fd, &tail, 12, off_t(reader.size - 12)) == 12, Array(tail[4...]) == BackupFile.trailer else { return (header, nil) }
        let n = Int(tail[0]) << 24 | Int(tail[1]) << 16 | Int(tail[2]) << 8 | Int(tail[3])
        guard n > 0, n <= BackupFile.maxManifestBytes, Int64(n) + 12 <= reader.size else { return (header, nil) }
        var bytes = [UInt8](repeating: 0, count: n)
        guard pread(fd, &bytes, n, off_t(reader.size - 12 - Int64(n))) == n else { return (header, nil) }
        return (header, try? JSONDecoder().decode(BackupManifest.self, from: Data(bytes)))
    }

    /// Authenticates the whole file with the key `key(header)` gives; `sink` receives the
    /// snapshot in order (decompressed). With `hashPlaintext`, the snapshot is decompressed and
    /// its size and BLAKE2b checked against the manifest too (restore does; verify relies on
    /// the chunks' authentication, which already covers every byte of the stream under a key
    /// only the vault holds, and leaves `sink` unused). Every failure names what and where.
    static func read(
        path: String, expectVault: String?, hashPlaintext: Bool = true, key: (BackupHeader) throws -> SecureBytes,
        progress: ((Int64, Int64) -> Void)?, sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> (Opened, Int, Int64) {
        let reader = try BackupReader(path: path, prefetch: true)
        let (header, headerBytes) = try readHeader(reader)
        if let expectVault, header.vaultID != expectVault {
            throw PrivacyKitError(.integrity, "\(path) is a backup of vault \(header.vaultID), not of this vault (\(expectVault))")
        }
        let backupKey = try key(header)
        let headerHash = try BLAKE2b.hash(headerBytes)
        let pull = try SecretStream.Pull(key: backupKey, header: try reader.require(SecretStream.headerByteCount, what: "the stream header"))
        let hasher = hashPlaintext ? SnapshotHash.Streaming() : nil
        let decompressor = hashPlaintext && header.compression != nil ? try ZstdDecompressor() : nil
        func deliver(_ snapshot: UnsafeRawBufferPointer) throws {
            try hasher?.update(snapshot)
            try sink(snapshot)
        }
        let maxChunk = BackupFile.chunkSize + SecretStream.additionalByteCount
        let sealed = UnsafeMutableRawBufferPointer.allocate(byteCount: maxChunk, alignment: 64)
        let plain = UnsafeMutableRawBufferPointer.allocate(byteCount: BackupFile.chunkSize, alignment: 64)
        defer {
            sealed.deallocate()
            plain.initializeMemory(as: UInt8.self, repeating: 0)
            plain.deallocate()
        }
        var plaintext: Int64 = 0
        var chunks = 0
        try headerHash.withUnsafeBytes { ad in
            while !pull.isFinished {
                let at = reader.offset
                let n = try reader.length(what: "chunk \(chunks)", max: maxChunk)
                try reader.fill(sealed.baseAddress!, count: n, what: "chunk \(chunks)")
                let count: Int
                do {
                    count = try pull.pull(UnsafeRawBufferPointer(rebasing: sealed[..<n]), into: plain, additionalData: ad).count
                } catch {
                    throw PrivacyKitError(.integrity, "chunk \(chunks) (at byte \(at)) does not authenticate: altered, removed, duplicated or reordered (or the header was changed)")
                }
                let message = UnsafeRawBufferPointer(rebasing: plain[..<count])
                if let decompressor { try decompressor.feed(message, sink: deliver) } else if hashPlaintext { try deliver(message) }
                plaintext += Int64(count)
                chunks += 1
                progress?(reader.offset, reader.size)
            }
        }
        // What follows the final chunk: the manifest, its length, the end marker, nothing else.
        let rest = reader.size - reader.offset
        guard rest >= 12 + 2, rest - 12 <= Int64(BackupFile.maxManifestBytes) else {
            throw PrivacyKitError(.integrity, rest < 14 ? "the backup is truncated: it ends at byte \(reader.size), before its manifest"
                                                        : "the backup has \(rest) bytes after its final chunk (byte \(reader.offset)): data was added or chunks duplicated")
        }
        let manifestBytes = try reader.require(Int(rest - 12), what: "the manifest")
        guard try reader.length(what: "the manifest", max: BackupFile.maxManifestBytes) == manifestBytes.count,
              try reader.require(8, what: "the end marker") == BackupFile.trailer else {
            throw PrivacyKitError(.integrity, "the backup's end (after byte \(reader.offset - 12)) is damaged: the manifest length or end marker is wrong")
        }
        guard let manifest = try? JSONDecoder().decode(BackupManifest.self, from: Data(manifestBytes)) else {
            throw PrivacyKitError(.integrity, "the backup's manifest is not valid JSON")
        }
        let publicKey = try? Ed25519.PublicKey(bytes: try Base64URL.decode(header.auditPublicKey))
        if let problem = manifest.signatureProblem(publicKey: publicKey).problem {
            throw PrivacyKitError(.integrity, "the manifest signature is bad: \(problem)")
        }
        guard manifest.backupID == header.backupID, manifest.vaultID == header.vaultID, manifest.headerHash == Hex.encode(headerHash) else {
            throw PrivacyKitError(.integrity, "the manifest belongs to backup \(manifest.backupID) of vault \(manifest.vaultID), not to this file's \(header.backupID): swapped")
        }
        try decompressor?.finish()
        guard manifest.compressed == (header.compression != nil), (manifest.compressedBytes ?? manifest.plaintextBytes) == plaintext, manifest.chunks == chunks,
              decompressor.map({ $0.produced == manifest.plaintextBytes }) ?? true,
              try hasher.map({ Hex.encode(try $0.finalize()) == manifest.plaintextHash }) ?? true else {
            throw PrivacyKitError(.integrity, "the decrypted snapshot does not match the manifest's size, chunk count or hash")
        }
        return (Opened(header: header, headerBytes: headerBytes, manifest: manifest), chunks, plaintext)
    }

    static func verify(
        path: String, expectVault: String?, progress: ((Int64, Int64) -> Void)?, key: (BackupHeader) throws -> SecureBytes
    ) -> BackupVerification {
        do {
            let (opened, chunks, _) = try read(path: path, expectVault: expectVault, hashPlaintext: false, key: key, progress: progress) { _ in }
            return BackupVerification(ok: true, problem: nil, file: path, manifest: opened.manifest, chunksRead: chunks, plaintextBytes: opened.manifest.plaintextBytes)
        } catch let error as PrivacyKitError {
            return BackupVerification(ok: false, problem: error.message, file: path, manifest: nil, chunksRead: 0, plaintextBytes: 0)
        } catch {
            return BackupVerification(ok: false, problem: "\(error)", file: path, manifest: nil, chunksRead: 0, plaintextBytes: 0)
        }
    }

    /// The backup key, and the keyring that goes with the restored vault, from either secret.
    static func keys(for header: BackupHeader, access: BackupAccess, newRootKey: RootKey?, kdfLimits: Argon2id.Limits)
        throws -> (backupKey: SecureBytes, keyringBytes: [UInt8], rootKey: RootKey) {
        let copy: [UInt8]
        do { copy = try Base64URL.decode(header.keyring) } catch { throw PrivacyKitError(.integrity, "the backup header's keyring is damaged") }
        switch access {
        case .rootKey(let root):
            let keyring = try KeyringFile.unseal(copy, path: "the backup's keyring", rootKey: root)
            guard let entry = keyring.key(.backup, version: header.backupKeyVersion) else {
                throw PrivacyKitError(.integrity, "the backup's keyring has no backup key v\(header.backupKeyVersion)")
            }
            let key = try unwrap(header, with: entry.secret)
            if let newRootKey {
                let (bytes, _) = try KeyringFile.seal(keyring.with(root: RootHeader(kind: newRootKey.kind, limits: nil, salt: nil), wrapKey: try SecureBytes.random(count: 32)),
                                                       rootKey: newRootKey, limits: kdfLimits)
                return (key, bytes, newRootKey)
            }
            return (key, copy, root)
        case .recoveryKey(let pair):
            guard let sealedText = header.recovery, let sealed = try? Base64URL.decode(sealedText) else {
                throw PrivacyKitError(.wrongKey, "backup \(header.backupID) was made without a recovery key: only the root secret opens it")
            }
            guard let newRootKey else {
                throw PrivacyKitError(.invalidInput, "a restore with the recovery key needs a new root secret for the restored vault")
            }
            let blob: SecureBytes
            do { blob = try SealedBox.openSecret(sealed, with: pair) } catch {
                throw PrivacyKitError(.wrongKey, "the recovery key does not open backup \(header.backupID) (sealed to key \(header.recoveryKeyFingerprint ?? "?"))")
            }
            let (backupKey, keyring) = try RecoveryBlob.decode(blob, backupID: header.backupID, root: RootHeader(kind: newRootKey.kind, limits: nil, salt: nil))
            guard keyring.vaultID.hex == header.vaultID else { throw PrivacyKitError(.integrity, "the recovery blob is for vault \(keyring.vaultID), not \(header.vaultID)") }
            let (bytes, _) = try KeyringFile.seal(keyring, rootKey: newRootKey, limits: kdfLimits)
            return (backupKey, bytes, newRootKey)
        }
    }
}

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
    public let auditVerified: Bool

    enum CodingKeys: String, CodingKey {
        case directory, subjects
        case backupID = "backup_id", vaultID = "vault_id", replayedErasures = "replayed_erasures"
        case tombstonesAdded = "tombstones_added", auditVerified = "audit_verified"
    }
}

extension VaultBackups {
    /// The tombstones as a signed ledger file, for restoring a backup on another host.
    /// Audited as `backup.create` (an export of erasure records).
    public func exportErasureLedger(context: AccessContext) throws -> ErasureLedger {
        guard let signer = audit.signer else { throw PrivacyKitError(.internal, "the keyring has no audit signing key") }
        let receipts = try VaultRetention(core: core).tombstones(context: context)
        var ledger = ErasureLedger(format: ErasureLedger.formatVersion, vaultID: id.hex, exportedAt: Timestamp.precise(Date()), tombstones: receipts,
                                   publicKey: Base64URL.encode(signer.publicKey.bytes), signature: nil)
        try ledger.sign(with: signer)
        try record([AuditEntry(.backupCreate, reason: "erasure ledger: \(receipts.count) tombstones")], context: context)
        return ledger
    }

    /// Restores a backup into a new vault directory (never over a live one): decrypts and
    /// checks the snapshot, writes keyring and policies, replays every tombstone the
    /// `tombstones` source holds that the snapshot lacks (so subjects erased since stay
    /// erased), runs `audit verify`, and only then moves the vault into place. A failure at
    /// any point leaves nothing at `directory`.
    ///
    /// - Parameters:
    ///   - file: the backup file.
    ///   - directory: the new vault directory; it must not exist or be empty.
    ///   - access: the root secret the backup's keyring was sealed with, or the recovery key.
    ///   - newRootKey: the restored vault's root secret (required with the recovery key;
    ///     default with the root secret: the same secret).
    ///   - kdfLimits: Argon2id cost when `newRootKey` is a passphrase.
    ///   - source: where the erasures made since the backup come from: the live vault, a
    ///     signed ledger file, or none.
    ///   - context: who restores, recorded in the restored vault's audit events.
    ///   - backend: a server store to restore into (an empty schema, named in the new vault
    ///     by `store.url`); nil for a SQLite file inside the new vault.
    ///   - progress: (bytes of the backup file read, its size) while it is decrypted.
    public static func restore(
        from file: URL, to directory: URL, access: BackupAccess, newRootKey: RootKey? = nil, kdfLimits: Argon2id.Limits = .moderate,
        tombstones source: TombstoneSource, context: AccessContext, store backend: (any StoreBackend)? = nil,
        progress: ((Int64, Int64) -> Void)? = nil
    ) throws -> RestoreSummary {
        let target = directory.standardizedFileURL.path
        let fm = FileManager.default
        let parent = try VaultLayout.checkNewVaultPath(target, refusal: "a restore never writes over a vault")
        let path = file.standardizedFileURL.path
        let (header, _) = try BackupOpener.peek(path: path)
        let (backupKey, keyringBytes, rootKey) = try BackupOpener.keys(for: header, access: access, newRootKey: newRootKey, kdfLimits: kdfLimits)

        // The erasures to replay, read (and checked) before anything is written.
        var ledger: [ErasureReceipt] = []
        switch source {
        case .none: break
        case .vault(let live):
            guard live.id.hex == header.vaultID else {
                throw PrivacyKitError(.integrity, "the backup is of vault \(header.vaultID) but the tombstones come from vault \(live.id)")
            }
            ledger = try live.retention.tombstones(context: context)
        case .ledger(let url):
            guard let data = FileManager.default.contents(atPath: url.path),
                  let file = try? JSONDecoder().decode(ErasureLedger.self, from: data), file.format == ErasureLedger.formatVersion else {
                throw PrivacyKitError(.invalidInput, "\(url.path) is not an erasure ledger (backup export-ledger writes one)")
            }
            let key = try? Ed25519.PublicKey(bytes: try Base64URL.decode(header.auditPublicKey))
            if let problem = file.signatureProblem(publicKey: key).problem {
                throw PrivacyKitError(.integrity, "the erasure ledger \(url.path) does not verify with the vault's audit key: \(problem)")
            }
            guard file.vaultID == header.vaultID else {
                throw PrivacyKitError(.integrity, "the erasure ledger is of vault \(file.vaultID), not \(header.vaultID)")
            }
            ledger = file.tombstones
        }

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
        for (name, text) in header.policies {
            guard PolicySet.requiredFiles.contains(name), let bytes = try? Base64URL.decode(text) else {
                throw PrivacyKitError(.integrity, "the backup header's policy file \(name) is not valid")
            }
            try SecureFiles.replace(bytes, at: staging + "/" + VaultLayout.policiesDirectoryName + "/" + name, mode: 0o644)
        }
        try SecureFiles.replace(keyringBytes, at: VaultLayout.keyringPath(staging), mode: 0o600)
        if let text = header.operatorDefaults, let bytes = try? Base64URL.decode(text) {
            try SecureFiles.replace(bytes, at: staging + "/" + OperatorDefaults.fileName, mode: 0o600)
        }

        let storePath = staging + "/" + VaultLayout.storeFileName
        // Through the page cache: the restored vault is opened and its audit log read next.
        let out = try StreamFileWriter(path: storePath, largestReserve: 0, tryDirect: false)
        let (opened, _, _) = try BackupOpener.read(path: path, expectVault: header.vaultID, key: { _ in backupKey }, progress: progress) { try out.append($0) }
        try out.finish()

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

        // Open the restored vault, replay erasures, verify, record.
        let vault = try Vault.open(at: URL(fileURLWithPath: staging), rootKey: rootKey, context: context, backend: backend)
        var replayed = 0, added = 0
        try vault.core.performAudited(context) { tx in
            for receipt in ledger {
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
            tx.record(AuditEntry(.backupRestore, reason: "\(opened.manifest.backupID) of \(opened.manifest.createdAt): \(replayed) erasures replayed, \(added) tombstones added"))
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
                              replayedErasures: replayed, tombstonesAdded: added, auditVerified: true)
    }

    /// Verifies a backup with the offline recovery key alone (no vault, no root secret).
    public static func verify(at file: URL, recoveryKey pair: SealedBox.KeyPair, progress: ((_ done: Int64, _ total: Int64) -> Void)? = nil) -> BackupVerification {
        BackupOpener.verify(path: file.standardizedFileURL.path, expectVault: nil, progress: progress) { header in
            guard let sealedText = header.recovery, let sealed = try? Base64URL.decode(sealedText) else {
                throw PrivacyKitError(.wrongKey, "backup \(header.backupID) was made without a recovery key")
            }
            let blob: SecureBytes
            do { blob = try SealedBox.openSecret(sealed, with: pair) } catch {
                throw PrivacyKitError(.wrongKey, "the recovery key does not open backup \(header.backupID) (sealed to key \(header.recoveryKeyFingerprint ?? "?"))")
            }
            return try RecoveryBlob.decode(blob, backupID: header.backupID, root: RootHeader(kind: .key, limits: nil, salt: nil)).0
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
