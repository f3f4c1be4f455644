import Foundation
@testable import PrivacyKit
import Sodium
import Testing

/// Inputs the fuzz targets (Fuzzing/, scripts/fuzz) found to crash PrivacyKit or to break a
/// target's invariant, each with the clean error it gets now. The inputs are the files of
/// `Fuzzing/Corpus/<target>/crash-*`, read from there, so the fuzz runs replay them too.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static func corpusFile(_ target: String, _ name: String) throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return try readBytes(root.appendingPathComponent("Fuzzing/Corpus/\(target)/\(name)").path)
    }

    /// Decodes a recovery blob as a restore with the recovery key does. The blobs' keys are
    /// fuzzer-made or random, never a vault's.
    static func decodeRecoveryBlob(_ bytes: [UInt8]) throws -> Keyring {
        var bytes = bytes
        let blob = try SecureBytes(takingBytes: &bytes)
        return try RecoveryBlob.decode(blob, backupID: "fz-backup", root: RootHeader(kind: .key, limits: nil, salt: nil)).1
    }

    /// A recovery blob for `backupID` holding a key of every role, `kek` at `kekVersion`.
    static func recoveryBlob(vaultID: VaultID, backupID: String, kekVersion: Int, leaving missing: KeyRole? = nil) throws -> [UInt8] {
        let keys = try KeyRole.allCases.filter { $0 != missing }.map { role in
            try Keyring.makeKey(role: role, version: role == .kek ? kekVersion : 1, createdAt: "2026-01-01T00:00:00.000Z",
                                secret: SecureBytes.random(count: 32))
        }
        let keyring = Keyring(vaultID: vaultID, createdAt: "2026-01-01T00:00:00.000Z", root: RootHeader(kind: .key, limits: nil, salt: nil), keys: keys)
        let blob = try RecoveryBlob.encode(backupKey: SecureBytes.random(count: 32), keyring: keyring, backupID: backupID)
        return blob.withUnsafeBytes { Array($0) }
    }

    // Target `recovery`: a key of version 0 decoded, and the keyring a restore seals from it
    // then did not open (the restored vault could not be opened).
    @Test func aRecoveryBlobKeyOfVersionZeroIsRefused() throws {
        let error = expectError(.integrity) { try Self.decodeRecoveryBlob(Self.corpusFile("recovery", "crash-key-version-zero")) }
        #expect(error?.message == "the backup's recovery blob: key kek has invalid version 0")
    }

    // Target `recovery`: a backup key of 3 bytes and no keyring keys decoded (the keyring
    // then had no kek; the backup key would have failed only in the stream).
    @Test func aRecoveryBlobWithAShortBackupKeyIsRefused() throws {
        let error = expectError(.integrity) { try Self.decodeRecoveryBlob(Self.corpusFile("recovery", "crash-no-kek")) }
        #expect(error?.message == "the backup's recovery blob: the backup key is 3 bytes, not 32")
    }

    @Test func aRecoveryBlobWithoutARoleIsRefused() throws {
        let blob = try Self.recoveryBlob(vaultID: .random(), backupID: "fz-backup", kekVersion: 1, leaving: .auditMAC)
        let error = expectError(.integrity) { try Self.decodeRecoveryBlob(blob) }
        #expect(error?.message == "the backup's recovery blob: the keyring has no audit-mac key")
    }

    // Target `recovery`, while triaging the above: a negative key version decoded, and
    // sealing the restored keyring trapped (`UInt64(-1)` in the key's associated data).
    @Test func aRecoveryBlobKeyOfNegativeVersionIsRefused() throws {
        let error = expectError(.integrity) { try Self.decodeRecoveryBlob(Self.corpusFile("recovery", "crash-negative-key-version")) }
        #expect(error?.message == "the backup's recovery blob: key kek has invalid version -1")
    }

    // The same through the public API: the recovery public key is all one needs to seal such
    // a blob into a backup header, and a restore opens the blob before it authenticates
    // any chunk. It crashed the process; now the restore fails and leaves nothing behind.
    @Test func aRestoreWithTheRecoveryKeyRefusesABlobWithANegativeKeyVersion() throws {
        let s = try BackupTests.Setup(subjects: 1)
        let recovery = RecoveryKey(pair: try SealedBox.KeyPair.generate(), pin: s.vault.keys.identity)
        let file = try s.backup(recovery: recovery.pair.publicKey).file
        var bytes = try readBytes(file)
        let headerCount = Int(bytes[8]) << 24 | Int(bytes[9]) << 16 | Int(bytes[10]) << 8 | Int(bytes[11])
        let headerRange = 12..<(12 + headerCount)
        var header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[headerRange])) as? [String: Any])
        let backupID = try #require(header["backupID"] as? String)
        let blob = try Self.recoveryBlob(vaultID: s.vault.id, backupID: backupID, kekVersion: -1)
        header["recovery"] = Base64URL.encode(try SealedBox.seal(blob, to: recovery.pair.publicKey))
        let edited = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        bytes.replaceSubrange(8..<headerRange.upperBound, with: BackupFile.be32(edited.count) + edited)
        try writeFile(file, bytes)

        let error = expectError(.integrity) {
            try s.restore(file, to: "restored", access: .recoveryKey(recovery), newRoot: try testPassphrase())
        }
        #expect(error?.message == "the backup's recovery blob: key kek has invalid version -1")
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("restored")))
    }
}
