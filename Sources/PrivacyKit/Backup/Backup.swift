public import Foundation
import GRDB
public import Sodium

// A backup file (`*.pkb`):
//
//   "PKBACKUP"  u32 BE header length  header JSON
//   secretstream header (24 bytes)
//   chunks: u32 BE length, ciphertext (64 KiB of plaintext each; the last tagged final)
//   manifest JSON (signed)  u32 BE manifest length  "PKBKEND1"
//
// Every chunk authenticates the BLAKE2b-256 of the header bytes as associated data, so a
// header, its stream and (by `headerHash` in it) its manifest cannot be mixed with another
// backup's. See docs/formats.md "Backups".

/// The signed manifest at the end of a backup file.
public struct BackupManifest: Codable, Sendable, Equatable {
    public let format: String
    public let backupID: String
    public let vaultID: String
    public let createdAt: String
    public let chunkSize: Int
    public let chunks: Int
    /// The store snapshot's size, and the encrypted stream's (header and chunk framing included).
    public let plaintextBytes: Int64
    public let ciphertextBytes: Int64
    /// BLAKE2b-256 (hex) of the snapshot, and of the header bytes.
    public let plaintextHash: String
    public let headerHash: String
    public let compressed: Bool
    /// With compression: the size of the compressed snapshot (the stream's plaintext).
    public let compressedBytes: Int64?
    public let subjects: Int
    public let tombstones: Int
    public let consentEvents: Int
    public let auditEvents: Int64
    /// The audit chain head in the snapshot: its seq and hash (hex).
    public let auditHeadSeq: Int64
    public let auditHeadHash: String
    public let publicKey: String
    /// The identity public key (base64url) of the vault that made it; absent in backups made
    /// before identities (unbound). The header holds its certificate of `publicKey`.
    public var identityKey: String? = nil
    public var signature: ReceiptSignature?

    public static let formatVersion = "privacykit.backup.v1"
}

extension BackupManifest: SignedReceipt {
    /// The manifest as a backup file holds it (compact JSON, sorted keys).
    func fileBytes() throws -> Data { try BackupFile.encoder().encode(self) }

    /// Reads a manifest only in the exact bytes ``fileBytes()`` writes: its signature covers
    /// a re-encoding of what is parsed, so a member added or given twice (which another
    /// JSON reader may take instead) would be unsigned content (see ``parseExactly(_:kind:issuedAs:)``).
    static func parseExactly(fileBytes bytes: [UInt8]) -> (receipt: Self?, problem: String?) {
        parseExactly(Data(bytes), kind: "backup manifest", issuedAs: { try $0.fileBytes() })
    }
}

/// The header at the start of a backup file: what is needed to get at the stream's key.
struct BackupHeader: Codable {
    let format: String
    let backupID: String
    let vaultID: String
    let createdAt: String
    let chunkSize: Int
    /// `zstd` when the snapshot was compressed before encryption (one zstd frame), else absent.
    let compression: String?
    /// The backup's random key, sealed (XChaCha20-Poly1305) under the keyring's backup key.
    let backupKeyVersion: Int
    let wrappedKey: String
    /// The backup key and the keyring's keys, sealed (`crypto_box_seal`) to the recovery
    /// public key, when one was given.
    let recovery: String?
    let recoveryKeyFingerprint: String?
    /// The vault's keyring file as it was (still sealed under the root secret).
    let keyring: String
    /// The policy files, by name (base64url).
    let policies: [String: String]
    /// The vault's operator defaults (`privacyctl.yaml`), when it has them.
    let operatorDefaults: String?
    /// The key that signs the manifest.
    let auditPublicKey: String
    /// The vault identity that certifies `auditPublicKey`; absent in unbound backups.
    let identity: BackupIdentity?
}

/// What `createBackup` made. Encoded with snake_case keys, the manifest's too (see
/// ``SnakeCaseKeys``).
public struct BackupSummary: Sendable, Encodable {
    public let id: String
    public let file: String
    public let createdAt: String
    public let plaintextBytes: Int64
    public let ciphertextBytes: Int64
    public let chunks: Int
    public let recoverySealed: Bool
    public let snapshotSeconds: Double
    public let encryptSeconds: Double
    /// `frozen-file` (read straight from the store, no copy) or `online-copy` (SQLite's
    /// online backup into a temp file, when another reader kept the WAL from emptying).
    public let snapshot: String
    public let manifest: BackupManifest

    enum CodingKeys: String, CodingKey {
        case id, file, chunks, manifest, snapshot
        case createdAt = "created_at", plaintextBytes = "plaintext_bytes", ciphertextBytes = "ciphertext_bytes"
        case recoverySealed = "recovery_sealed", snapshotSeconds = "snapshot_seconds", encryptSeconds = "encrypt_seconds"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(file, forKey: .file)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(plaintextBytes, forKey: .plaintextBytes)
        try c.encode(ciphertextBytes, forKey: .ciphertextBytes)
        try c.encode(chunks, forKey: .chunks)
        try c.encode(recoverySealed, forKey: .recoverySealed)
        try c.encode(snapshotSeconds, forKey: .snapshotSeconds)
        try c.encode(encryptSeconds, forKey: .encryptSeconds)
        try c.encode(snapshot, forKey: .snapshot)
        try c.encode(SnakeCaseKeys(manifest), forKey: .manifest)
    }
}

/// What verifying a backup found (snake_case keys, the manifest's too).
public struct BackupVerification: Sendable, Encodable {
    public let ok: Bool
    /// What is wrong and where (nil when ok).
    public let problem: String?
    /// The error code of the problem (`integrity`, `wrong-key`, `invalid-input` …; nil when ok).
    public var code: String? = nil
    public let file: String
    public let manifest: BackupManifest?
    public let chunksRead: Int
    public let plaintextBytes: Int64

    enum CodingKeys: String, CodingKey {
        case ok, problem, code, file, manifest
        case chunksRead = "chunks_read", plaintextBytes = "plaintext_bytes"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ok, forKey: .ok)
        try c.encodeIfPresent(problem, forKey: .problem)
        try c.encodeIfPresent(code, forKey: .code)
        try c.encode(file, forKey: .file)
        try c.encodeIfPresent(manifest.map(SnakeCaseKeys.init), forKey: .manifest)
        try c.encode(chunksRead, forKey: .chunksRead)
        try c.encode(plaintextBytes, forKey: .plaintextBytes)
    }
}

/// Compression of the snapshot before it is encrypted (Zstandard). A vault's store
/// compresses to about half: its plain columns, JSON and free page space; ciphertexts and
/// blind indexes do not compress. What compression could reveal through the backup's size is
/// the plain columns' redundancy, never an encrypted field's value.
public struct BackupCompression: Sendable, Equatable {
    static let name = "zstd"
    /// zstd's level: 1 (fastest) to 19; negative levels are faster still.
    public let level: Int32

    public init(level: Int32 = 1) throws {
        guard (-7...19).contains(level), level != 0 else {
            throw PrivacyKitError(.invalidInput, "the compression level must be from -7 to 19 and not 0, got \(level) (1 is fastest with real compression, 19 smallest)")
        }
        self.level = level
    }
}

/// The key material that opens a backup.
public enum BackupAccess: Sendable {
    /// The vault's root secret (as it was when the backup was made).
    case rootKey(RootKey)
    /// The offline recovery private key (`privacyctl backup recovery-keypair`), with the
    /// vault identity it is pinned to: it opens only backups that identity made.
    case recoveryKey(RecoveryKey)
}

/// Encrypted backups of the vault: create, verify, list and prune; restores are the
/// static `VaultBackups.restore(from:to:…)`.
public struct VaultBackups: VaultCapability {
    let core: VaultCore

    public static let backupsDirectoryName = "Backups"

    public var backupsPath: String { directory.path + "/" + Self.backupsDirectoryName }

    /// Makes an encrypted backup of the store (a consistent snapshot taken while the vault
    /// stays usable) into `directory` (default `<vault>/Backups`), and records `backup.create`.
    public func create(
        to directory: URL? = nil, recoveryKey: SealedBox.PublicKey? = nil, compression: BackupCompression? = nil, context: AccessContext,
        progress: ((_ done: Int64, _ total: Int64) -> Void)? = nil
    ) throws -> BackupSummary {
        _ = try authorize(AccessRequest(.backup, event: .backupCreate), context: context)
        guard let signer = audit.signer else { throw PrivacyKitError(.internal, "the keyring has no audit signing key") }
        guard let backupKeyEntry = keyring.current(.backup) else { throw PrivacyKitError(.integrity, "the keyring has no backup key") }
        let identity = try identityBlock()
        let target = directory?.standardizedFileURL.path ?? backupsPath
        if !FileManager.default.fileExists(atPath: target) {
            if directory == nil { try SecureFiles.makeDirectory(target, mode: 0o700) } else {
                throw PrivacyKitError(.notFound, "the backup directory \(target) does not exist")
            }
        }
        let backupID = BackupFiles.idPrefix + Hex.encode(Random.bytes(count: 8))
        let now = Date()
        let createdAt = Timestamp.precise(now)
        let finalPath = target + "/" + BackupFiles.name(backupID: backupID, time: now)
        let partialPath = target + "/" + BackupFiles.partialName(backupID: backupID)
        let snapshotPath = self.directory.path + "/.backup-snapshot-\(backupID).sqlite"
        // What killed backups left: partial files here, snapshot copies in the vault.
        WorkFileClaim.removeAbandoned(in: target, prefix: "." + BackupFiles.idPrefix, suffix: BackupFiles.partialSuffix)
        WorkFileClaim.removeAbandoned(in: self.directory.path, prefix: ".backup-snapshot-", suffix: ".sqlite") { path in
            secureRemove(path)
            unlink(path + "-journal")
        }

        // 1. Snapshot. Preferred, with no copy: under the write lock, checkpoint the WAL into
        // the database file and empty it, then start a read transaction on a connection of
        // our own. A reader that began on an empty WAL reads the database file alone, and
        // SQLite writes no checkpoint into that file while such a reader lives: the file's
        // first page_count pages are then a consistent snapshot, read straight from it, while
        // writers go on appending to the WAL. If the WAL cannot be emptied (another
        // process's reader), SQLite's online backup copies the store into a 0600 temp file
        // inside one read transaction, overwritten and removed afterwards.
        let snapshotStart = Date()
        var finished = false
        var partialClaim: WorkFileClaim?
        defer {
            if !finished { unlink(partialPath) }
            partialClaim?.release()
        }
        let sqlite = store as? SQLiteStore
        let frozen = try sqlite.flatMap { try FrozenStore.freeze($0) }
        defer {
            if let frozen {
                frozen.release()
                // Checkpoints could not touch the store while it was frozen: fold in what was
                // written meanwhile, and truncate the WAL, so an erasure made during the
                // backup leaves no old page behind in it (best effort, as after an erasure).
                core.scrubDeleted()
            }
        }
        let source: String
        var snapshotClaim: WorkFileClaim?
        let sourceBytes: Int64
        let counts: BackupCounts
        if let frozen, let sqlite {
            source = sqlite.path
            sourceBytes = frozen.bytes
            counts = frozen.counts
        } else {
            snapshotClaim = try WorkFileClaim.claim(snapshotPath) { path in
                let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw PrivacyKitError(.io, "cannot create the snapshot \(path): \(String(cString: strerror(errno)))") }
                close(fd)
            }.0
            source = snapshotPath
            if let sqlite {
                counts = try SQLiteStore.wrap(sqlite.path) { () -> BackupCounts in
                    let destination = try DatabaseQueue(path: snapshotPath)
                    try sqlite.pool.backup(to: destination, pagesPerStep: 4096)
                    let counts = try destination.read { try BackupCounts(db: StoreDatabase(connection: SQLiteConnection($0))) }
                    try destination.close()
                    return counts
                }
            } else {
                // A server store: one read-only repeatable-read transaction copied into a
                // SQLite file, so every backup has one format and restores into either backend.
                counts = try StoreCopy.snapshot(of: store, into: snapshotPath)
            }
            var info = stat()
            stat(snapshotPath, &info)
            sourceBytes = Int64(info.st_size)
        }
        defer {
            if frozen == nil { secureRemove(snapshotPath); unlink(snapshotPath + "-journal") }
            snapshotClaim?.release()
        }
        let snapshotSeconds = Date().timeIntervalSince(snapshotStart)

        // 2. Keys: a random backup key, wrapped under the keyring's backup key and sealed to
        // the recovery key with every key of the keyring.
        let encryptStart = Date()
        let backupKey = try SecureBytes.random(count: SecretStream.keyByteCount)
        let wrapped = try XChaCha20Poly1305.seal(
            backupKey, using: backupKeyEntry.secret,
            authenticating: BackupFile.keyAD(vaultID: id.hex, backupID: backupID, version: backupKeyEntry.info.version))
        var recovery: String?, recoveryFingerprint: String?
        if let recoveryKey {
            let blob = try RecoveryBlob.encode(backupKey: backupKey, keyring: keyring, backupID: backupID)
            recovery = Base64URL.encode(try SealedBox.seal(blob, to: recoveryKey))
            recoveryFingerprint = try KeyFingerprint.of(recoveryKey.bytes)
        }
        var policies: [String: String] = [:]
        for name in PolicySet.requiredFiles { policies[name] = Base64URL.encode([UInt8](try PolicySet.read(policiesPath, name))) }
        for name in PolicySet.optionalFiles {
            if let data = FileManager.default.contents(atPath: policiesPath + "/" + name) { policies[name] = Base64URL.encode([UInt8](data)) }
        }
        let header = BackupHeader(
            format: BackupManifest.formatVersion, backupID: backupID, vaultID: id.hex, createdAt: createdAt, chunkSize: BackupFile.chunkSize,
            compression: compression == nil ? nil : BackupCompression.name, backupKeyVersion: backupKeyEntry.info.version, wrappedKey: Base64URL.encode(wrapped.combined), recovery: recovery,
            recoveryKeyFingerprint: recoveryFingerprint,
            keyring: Base64URL.encode(try KeyringFile.read(at: keyringPath)),
            policies: policies,
            operatorDefaults: FileManager.default.contents(atPath: self.directory.path + "/" + OperatorDefaults.fileName).map { Base64URL.encode([UInt8]($0)) },
            auditPublicKey: Base64URL.encode(signer.publicKey.bytes), identity: identity)
        let headerBytes = [UInt8](try BackupFile.encoder().encode(header))
        let headerHash = try BLAKE2b.hash(headerBytes)

        // 3. Stream: read, hash, (compress,) encrypt and write on four threads (BackupStream.swift).
        let (claim, out) = try WorkFileClaim.claim(partialPath) { path in
            try StreamFileWriter(path: path, largestReserve: 4 + BackupFile.chunkSize + SecretStream.additionalByteCount)
        }
        partialClaim = claim
        try out.append(BackupFile.magic + BackupFile.be32(headerBytes.count) + headerBytes)
        let push = try SecretStream.Push(key: backupKey)
        try out.append(push.header)
        let stream = try BackupStreamEncoder.encode(source: source, bytes: sourceBytes, push: push, additionalData: headerHash, into: out,
                                                    compressionLevel: compression?.level, progress: progress)
        let ciphertextBytes = out.written  // header, stream header and chunks

        var manifest = BackupManifest(
            format: BackupManifest.formatVersion, backupID: backupID, vaultID: id.hex, createdAt: createdAt, chunkSize: BackupFile.chunkSize,
            chunks: stream.chunks, plaintextBytes: sourceBytes, ciphertextBytes: ciphertextBytes, plaintextHash: Hex.encode(stream.plaintextHash),
            headerHash: Hex.encode(headerHash), compressed: compression != nil, compressedBytes: compression == nil ? nil : stream.streamBytes,
            subjects: counts.subjects, tombstones: counts.tombstones,
            consentEvents: counts.consentEvents, auditEvents: counts.auditEvents, auditHeadSeq: counts.auditHeadSeq,
            auditHeadHash: Hex.encode(counts.auditHeadHash),
            publicKey: Base64URL.encode(signer.publicKey.bytes), identityKey: identity?.publicKey, signature: nil)
        try manifest.sign(with: signer)
        let manifestBytes = [UInt8](try manifest.fileBytes())
        try out.append(manifestBytes + BackupFile.be32(manifestBytes.count) + BackupFile.trailer)
        try out.finish()
        let encryptSeconds = Date().timeIntervalSince(encryptStart)

        // 4. Recorded, then put in place: no backup exists without its event.
        try performAudited(context) { tx in
            tx.record(AuditEntry(.backupCreate, reason: "\(backupID): \(stream.chunks) chunks, \(sourceBytes) bytes\(compression == nil ? "" : ", compressed to \(stream.streamBytes)")\(recovery == nil ? "" : ", sealed to recovery key \(recoveryFingerprint ?? "")")"))
        }
        guard rename(partialPath, finalPath) == 0 else {
            throw PrivacyKitError(.io, "cannot move the backup into \(finalPath): \(String(cString: strerror(errno)))")
        }
        finished = true
        try SecureFiles.syncDirectory(target)
        return BackupSummary(id: backupID, file: finalPath, createdAt: createdAt, plaintextBytes: sourceBytes,
                             ciphertextBytes: out.written, chunks: stream.chunks,
                             recoverySealed: recovery != nil, snapshotSeconds: snapshotSeconds, encryptSeconds: encryptSeconds,
                             snapshot: frozen == nil ? "online-copy" : "frozen-file", manifest: manifest)
    }

    /// Reads and authenticates every chunk and the manifest of a backup of this vault;
    /// restores nothing. Audited as `backup.verify`.
    public func verify(at file: URL, context: AccessContext, progress: ((_ done: Int64, _ total: Int64) -> Void)? = nil) throws -> BackupVerification {
        _ = try authorize(AccessRequest(.backup, event: .backupVerify), context: context)
        // The vault's own backup key opens its backups: unbound ones made before the
        // upgrade are its own; a bound one must be bound to this vault's identity.
        let check = BackupIdentityCheck(expected: keyring.identity.map(ExpectedIdentity.init), requireExpected: false, allowUnbound: true)
        let result = BackupOpener.verify(path: file.standardizedFileURL.path, expectVault: id.hex, progress: progress) { header in
            try check.check(header)
            guard let entry = keyring.key(.backup, version: header.backupKeyVersion) else {
                throw PrivacyKitError(.wrongKey, "the backup's key is wrapped under backup key v\(header.backupKeyVersion), which this vault's keyring does not have")
            }
            return try BackupOpener.unwrap(header, with: entry.secret)
        }
        try performAudited(context) { tx in
            tx.record(AuditEntry(.backupVerify, outcome: result.ok ? .allowed : .failed,
                                 reason: "\(result.manifest?.backupID ?? (file.lastPathComponent)): \(result.ok ? "ok" : result.problem ?? "failed")"))
        }
        return result
    }

    /// What binds a backup to this vault: its identity and the certificate of the key that
    /// signs the manifest; nil for a vault without an identity (not yet upgraded).
    private func identityBlock() throws -> BackupIdentity? {
        guard let identity = keyring.identity else { return nil }
        guard let signing = keyring.current(.auditSigning), let certificate = signing.certificate else {
            throw PrivacyKitError(.integrity, "the keyring's audit signing key has no certificate from the vault identity")
        }
        return BackupIdentity(vaultID: identity.vaultID.hex, publicKey: Base64URL.encode(identity.publicKey.bytes),
                              signingKeyVersion: signing.info.version, certificate: Base64URL.encode(certificate))
    }
}

/// The recovery blob: the backup key and every keyring key, for the offline recovery key.
///
/// `"PKRECOV1"`, vault id (16), created-at, backup id, backup key (32), then per key: role,
/// version, created-at, secret — each as a `Canonical` field. Built and read in locked memory.
