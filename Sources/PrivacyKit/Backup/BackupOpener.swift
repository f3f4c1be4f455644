import Foundation
import Sodium

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
        let (parsed, parseProblem) = BackupManifest.parseExactly(fileBytes: manifestBytes)
        guard let manifest = parsed else {
            throw PrivacyKitError(.integrity, "the backup's manifest (from byte \(reader.offset - 12 - Int64(manifestBytes.count))) does not verify: \(parseProblem ?? "malformed")")
        }
        let publicKey = try? Ed25519.PublicKey(bytes: try Base64URL.decode(header.auditPublicKey))
        if let problem = manifest.signatureProblem(publicKey: publicKey).problem {
            throw PrivacyKitError(.integrity, "the manifest signature is bad: \(problem)")
        }
        guard manifest.backupID == header.backupID, manifest.vaultID == header.vaultID, manifest.headerHash == Hex.encode(headerHash),
              manifest.identityKey == header.identity?.publicKey else {
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
            return BackupVerification(ok: false, problem: error.message, code: error.code.description, file: path, manifest: nil, chunksRead: 0, plaintextBytes: 0)
        } catch {
            return BackupVerification(ok: false, problem: "\(error)", file: path, manifest: nil, chunksRead: 0, plaintextBytes: 0)
        }
    }

    /// The backup key, and the keyring that goes with the restored vault, from either secret,
    /// once `header` passed the identity check (`expected`: with the root secret, an explicit
    /// identity or the live vault's; with the recovery key, an explicit identity or its pin)
    /// and the keyring holds the identity the backup is bound to.
    static func keys(
        for header: BackupHeader, access: BackupAccess, newRootKey: RootKey?, kdfLimits: Argon2id.Limits,
        expected: ExpectedIdentity?, allowUnbound: Bool
    ) throws -> (backupKey: SecureBytes, keyringBytes: [UInt8], rootKey: RootKey) {
        let copy: [UInt8]
        do { copy = try Base64URL.decode(header.keyring) } catch { throw PrivacyKitError(.integrity, "the backup header's keyring is damaged") }
        switch access {
        case .rootKey(let root):
            let identity = try BackupIdentityCheck(expected: expected, requireExpected: false, allowUnbound: allowUnbound).check(header)
            let keyring = try KeyringFile.unseal(copy, path: "the backup's keyring", rootKey: root)
            try BackupIdentityCheck.checkKeyring(keyring, boundTo: identity, backupID: header.backupID)
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
        case .recoveryKey(let recovery):
            guard let newRootKey else {
                throw PrivacyKitError(.invalidInput, "a restore with the recovery key needs a new root secret for the restored vault")
            }
            let (backupKey, keyring) = try openRecovery(header, with: recovery, expected: expected, allowUnbound: allowUnbound, root: RootHeader(kind: newRootKey.kind, limits: nil, salt: nil))
            let (bytes, _) = try KeyringFile.seal(keyring, rootKey: newRootKey, limits: kdfLimits)
            return (backupKey, bytes, newRootKey)
        }
    }

    /// The recovery blob of `header`, opened with the recovery key, once the backup proved
    /// to be made by the pinned (or `expected`) vault identity: the recovery public key is
    /// no secret, so what it opens proves nothing about who sealed it.
    static func openRecovery(
        _ header: BackupHeader, with recovery: RecoveryKey, expected: ExpectedIdentity?, allowUnbound: Bool, root: RootHeader
    ) throws -> (SecureBytes, Keyring) {
        guard let sealedText = header.recovery, let sealed = try? Base64URL.decode(sealedText) else {
            throw PrivacyKitError(.wrongKey, "backup \(header.backupID) was made without a recovery key: only the root secret opens it")
        }
        let check = BackupIdentityCheck(expected: expected ?? recovery.pin.map(ExpectedIdentity.init), requireExpected: true, allowUnbound: allowUnbound)
        let identity = try check.check(header)
        let blob: SecureBytes
        do { blob = try SealedBox.openSecret(sealed, with: recovery.pair) } catch {
            throw PrivacyKitError(.wrongKey, "the recovery key does not open backup \(header.backupID) (sealed to key \(header.recoveryKeyFingerprint ?? "?"))")
        }
        let (backupKey, keyring) = try RecoveryBlob.decode(blob, backupID: header.backupID, root: root)
        guard keyring.vaultID.hex == header.vaultID else { throw PrivacyKitError(.integrity, "the recovery blob is for vault \(keyring.vaultID), not \(header.vaultID)") }
        try BackupIdentityCheck.checkKeyring(keyring, boundTo: identity, backupID: header.backupID)
        return (backupKey, keyring)
    }
}
