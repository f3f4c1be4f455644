import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// A restore is bound to the identity of the vault a backup claims to be: the recovery key
/// opens only what the pinned vault made, the root secret only what matches the identity
/// it expects, and the header a restore uses is the one it authenticated.
@Suite("Backups bound to the vault identity")
struct BackupIdentityTests {
    static let admin = BackupTests.admin

    func newKey(_ dir: TempDirectory, _ name: String = "new.key") throws -> RootKey {
        try RootKey.generateKeyFile(at: dir.file(name))
        return try .keyFile(at: dir.file(name))
    }

    @Test func aBackupAnotherVaultSealedToThePinnedRecoveryKeyIsRefused() throws {
        let a = try BackupTests.Setup(subjects: 3)
        let b = try BackupTests.Setup(subjects: 2)
        let files = try RecoveryKey.generate(prefix: a.dir.file("recovery"), pinnedTo: try #require(a.vault.keys.identity))
        let recovery = try RecoveryKey.read(at: files.secretKeyPath)
        #expect(recovery.pin == a.vault.keys.identity)
        let foreign = try b.backup(recovery: try SubjectExport.readPublicKey(at: files.publicKeyPath))

        let verified = VaultBackups.verify(at: URL(fileURLWithPath: foreign.file), recoveryKey: recovery)
        #expect(!verified.ok && verified.code == "integrity")
        #expect(verified.problem?.contains("made by vault \(b.vault.id)") == true, "\(verified.problem ?? "")")
        let error = expectError(.integrity) {
            try a.restore(foreign.file, to: "recovered", access: .recoveryKey(recovery), newRoot: try newKey(a.dir), source: TombstoneSource.none)
        }
        #expect(error?.message.contains("another vault") == true)
        #expect(!FileManager.default.fileExists(atPath: a.dir.file("recovered")))
        // The same key opens A's own backup.
        let own = try a.backup(recovery: recovery.pair.publicKey)
        #expect(VaultBackups.verify(at: URL(fileURLWithPath: own.file), recoveryKey: recovery).ok)
        #expect(own.manifest.identityKey == Base64URL.encode(try #require(a.vault.keys.identity).publicKey.bytes))
    }

    @Test func anUnpinnedRecoveryKeyIsRefusedUntilTheIdentityIsNamed() throws {
        let s = try BackupTests.Setup(subjects: 2)
        let unpinned = RecoveryKey(pair: try SealedBox.KeyPair.generate(), pin: nil)
        let backup = try s.backup(recovery: unpinned.pair.publicKey)
        let refused = VaultBackups.verify(at: URL(fileURLWithPath: backup.file), recoveryKey: unpinned)
        #expect(!refused.ok && refused.code == "invalid-input" && refused.problem?.contains("recovery-keypair --vault") == true)
        expectError(.invalidInput) {
            try s.restore(backup.file, to: "recovered", access: .recoveryKey(unpinned), newRoot: try newKey(s.dir), source: TombstoneSource.none)
        }
        let identity = try #require(s.vault.keys.identity)
        let byFingerprint = try ExpectedIdentity(text: identity.fingerprint.uppercased())
        #expect(VaultBackups.verify(at: URL(fileURLWithPath: backup.file), recoveryKey: unpinned, expectedIdentity: byFingerprint).ok)
        let byKey = try ExpectedIdentity(text: Base64URL.encode(identity.publicKey.bytes))
        #expect(byKey == byFingerprint)
        let stranger = try ExpectedIdentity(text: String(repeating: "0", count: 32))
        #expect(VaultBackups.verify(at: URL(fileURLWithPath: backup.file), recoveryKey: unpinned, expectedIdentity: stranger).code == "integrity")
    }

    /// Two copies of one old vault (same id, same root secret, same backup key), each
    /// upgraded: they differ only by identity. With the root secret, a backup of one is not
    /// accepted as the other's: not by the other's own verify, not by a restore that takes
    /// its erasures from it or names its identity.
    @Test(.enabled(if: TestBackend.isSQLite, "the v1 fixture is a SQLite vault"))
    func theRootSecretPathRefusesABackupOfAnotherIdentity() throws {
        let one = try FixtureTests.Fixture(), two = try FixtureTests.Fixture()
        let first = try one.open(), second = try two.open()
        #expect(first.id == second.id && first.keys.identity == nil)
        let identity1 = try first.keys.installIdentity(context: Self.admin)
        let identity2 = try second.keys.installIdentity(context: Self.admin)
        #expect(identity1 != identity2)
        let backup = try second.backups.create(context: Self.admin)
        let url = URL(fileURLWithPath: backup.file)

        let verified = try first.backups.verify(at: url, context: Self.admin)
        #expect(!verified.ok && verified.code == "integrity" && verified.problem?.contains(identity2.fingerprint) == true)
        #expect(try second.backups.verify(at: url, context: Self.admin).ok)
        let restore = { (name: String, source: TombstoneSource, expected: ExpectedIdentity?) in
            try VaultBackups.restore(from: url, to: one.dir.url.appendingPathComponent(name), access: .rootKey(try one.rootKey),
                                     tombstones: source, expectedIdentity: expected, context: Self.admin)
        }
        expectError(.integrity) { try restore("from-first", .vault(first), nil) }
        expectError(.integrity) { try restore("named-first", .none, ExpectedIdentity(identity1)) }
        #expect(!FileManager.default.fileExists(atPath: one.dir.file("from-first")))
        #expect(try restore("from-second", .vault(second), nil).auditVerified)
    }

    /// An old vault is not given an identity on open; `installIdentity` does it once,
    /// audited, and the backups made before it stay restorable with the root secret.
    @Test(.enabled(if: TestBackend.isSQLite, "the v1 fixture is a SQLite vault"))
    func installingTheIdentityUpgradesAnOldVault() throws {
        let f = try FixtureTests.Fixture()
        let old = try f.open()
        #expect(old.keys.identity == nil && old.keys.status().allSatisfy { $0.role != .identity })
        #expect(try Self.keyringFormat(old) == 1, "opening does not upgrade")
        expectError(.denied) { try old.keys.installIdentity(context: AccessContext(actor: "x", role: "auditor", purpose: "privacy-compliance")) }
        let identity = try old.keys.installIdentity(context: Self.admin)
        #expect(try Self.keyringFormat(old) == 2)
        let events = try old.audit.events(matching: AuditQuery(action: "keys.install-identity"), context: Self.admin)
        #expect(events.map(\.outcome) == ["denied", "allowed"])
        expectError(.alreadyExists) { try old.keys.installIdentity(context: Self.admin) }

        let reopened = try f.open()
        #expect(reopened.keys.identity == identity)
        #expect(reopened.keys.keyring.auditPublicKey == old.keys.keyring.auditPublicKey, "the audit signing key is kept, and certified")
        let signing = try #require(reopened.keys.keyring.current(.auditSigning))
        #expect(KeyCertificate.isValid(try #require(signing.certificate), identity: identity, role: .auditSigning, version: signing.info.version,
                                       publicKey: try #require(reopened.keys.keyring.auditPublicKey)))
        #expect(try reopened.audit.verify().ok)

        // The fixture's backup (unbound) restores with the root secret, erasures from the live vault.
        let restored = try VaultBackups.restore(from: f.url("backups/root-after-erasure.pkb"), to: f.dir.url.appendingPathComponent("restored"),
                                                access: .rootKey(try f.rootKey), tombstones: .vault(reopened), context: Self.admin)
        #expect(restored.auditVerified)
        // A backup made now is bound, and the identity-pinned recovery key restores it.
        let recovery = RecoveryKey(pair: try SealedBox.KeyPair.generate(), pin: identity)
        let bound = try reopened.backups.create(recoveryKey: recovery.pair.publicKey, context: Self.admin)
        #expect(VaultBackups.verify(at: URL(fileURLWithPath: bound.file), recoveryKey: recovery).ok)
        let newRoot = f.dir.file("new.key")
        try RootKey.generateKeyFile(at: newRoot)
        let recovered = try VaultBackups.restore(from: URL(fileURLWithPath: bound.file), to: f.dir.url.appendingPathComponent("recovered"),
                                                 access: .recoveryKey(recovery), newRootKey: try .keyFile(at: newRoot), tombstones: .none, context: Self.admin)
        #expect(recovered.auditVerified)
        #expect(try Vault.open(at: f.dir.url.appendingPathComponent("recovered"), rootKey: try .keyFile(at: newRoot)).keys.identity == identity)
    }

    /// The keyring a restore would install must hold the identity the header is bound to: a
    /// header bound to one identity with another's keyring (both opened by the same root
    /// secret, the same recovery key) is refused before any key is used.
    @Test(.enabled(if: TestBackend.isSQLite, "the v1 fixture is a SQLite vault"))
    func theKeyringARestoreWouldInstallMustHoldTheBoundIdentity() throws {
        // The root secret: two upgraded copies of one old vault share it, and every key but the identity.
        let one = try FixtureTests.Fixture(), two = try FixtureTests.Fixture()
        let first = try one.open(), second = try two.open()
        _ = try first.keys.installIdentity(context: Self.admin)
        _ = try second.keys.installIdentity(context: Self.admin)
        var fields = try Self.headerFields(try readBytes(try second.backups.create(context: Self.admin).file))
        #expect(try BackupOpener.keys(for: try Self.header(fields), access: .rootKey(try one.rootKey), newRootKey: nil, kdfLimits: fastLimits,
                                      expected: nil, allowUnbound: false).keyringBytes.isEmpty == false)
        fields["keyring"] = Base64URL.encode(try readBytes(first.keyringPath))
        let rooted = expectError(.integrity) {
            try BackupOpener.keys(for: try Self.header(fields), access: .rootKey(try one.rootKey), newRootKey: nil, kdfLimits: fastLimits,
                                  expected: nil, allowUnbound: false)
        }
        #expect(rooted?.message.contains("the keyring in backup") == true)

        // The recovery key: a blob holding another identity under this vault's id.
        let s = try BackupTests.Setup(subjects: 1), other = try BackupTests.Setup(subjects: 1)
        let recovery = RecoveryKey(pair: try SealedBox.KeyPair.generate(), pin: s.vault.keys.identity)
        var sealed = try Self.headerFields(try readBytes(try s.backup(recovery: recovery.pair.publicKey).file))
        let theirs = other.vault.keys.keyring
        let impostor = Keyring(vaultID: s.vault.id, createdAt: theirs.createdAt, root: theirs.root, keys: theirs.keys)
        let blob = try RecoveryBlob.encode(backupKey: try SecureBytes.random(count: 32), keyring: impostor, backupID: try #require(sealed["backupID"] as? String))
        sealed["recovery"] = Base64URL.encode(try SealedBox.seal(blob, to: recovery.pair.publicKey))
        let recovered = expectError(.integrity) {
            try BackupOpener.openRecovery(try Self.header(sealed), with: recovery, expected: nil, allowUnbound: false,
                                          root: RootHeader(kind: .key, limits: nil, salt: nil))
        }
        #expect(recovered?.message.contains("the keyring in backup") == true)
    }

    static func headerFields(_ bytes: [UInt8]) throws -> [String: Any] {
        let length = Int(bytes[8]) << 24 | Int(bytes[9]) << 16 | Int(bytes[10]) << 8 | Int(bytes[11])
        return try #require(try JSONSerialization.jsonObject(with: Data(bytes[12..<12 + length])) as? [String: Any])
    }

    static func header(_ fields: [String: Any]) throws -> BackupHeader {
        try JSONDecoder().decode(BackupHeader.self, from: try JSONSerialization.data(withJSONObject: fields))
    }

    static func keyringFormat(_ vault: Vault) throws -> Int? {
        let object = try JSONSerialization.jsonObject(with: Data(try readBytes(vault.keyringPath))) as? [String: Any]
        return object?["format_version"] as? Int
    }

    /// The file is swapped between the one read of its header and the use of what it held:
    /// the header read is the one checked, keyed and written, and the stream that follows is
    /// authenticated against it, so a header planted for the read is never written.
    @Test func aFileSwappedAfterItsHeaderWasReadPlantsNothing() throws {
        let s = try BackupTests.Setup(subjects: 3)
        let genuine = try s.backup()
        let planted = s.dir.file("planted.pkb")
        try writeFile(planted, try Self.plantingPolicy(try readBytes(genuine.file)))
        let path = s.dir.file("swapped.pkb")
        try FileManager.default.copyItem(atPath: planted, toPath: path)
        let target = s.dir.url.appendingPathComponent("restored")
        var swapped = false
        do {
            _ = try VaultBackups.restore(
                from: URL(fileURLWithPath: path), to: target, access: .rootKey(try s.root), newRootKey: nil, kdfLimits: fastLimits,
                tombstones: .vault(s.vault), expectedIdentity: nil, allowUnbound: false, context: Self.admin, store: TestBackend.store(), progress: nil,
                afterKeys: {
                    // The genuine file takes the planted one's place, as a swap during key derivation would.
                    try FileManager.default.removeItem(atPath: path)
                    try FileManager.default.copyItem(atPath: genuine.file, toPath: path)
                    swapped = true
                })
            Issue.record("a restore of a planted header succeeded")
        } catch let error as PrivacyKitError {
            #expect(error.code == .integrity, "\(error.message)")
        }
        #expect(swapped)
        #expect(!FileManager.default.fileExists(atPath: target.path))
        let access = try? String(contentsOf: target.appendingPathComponent("Policies/access.yaml"), encoding: .utf8)
        #expect(access?.contains("planted") != true)
        // The genuine file, read whole, restores.
        #expect(try s.restore(genuine.file, to: "genuine").0.auditVerified)
    }

    /// The backup with its header's access policy replaced (a line added): what a backup
    /// host that can write the file plants.
    static func plantingPolicy(_ bytes: [UInt8]) throws -> [UInt8] {
        let length = Int(bytes[8]) << 24 | Int(bytes[9]) << 16 | Int(bytes[10]) << 8 | Int(bytes[11])
        var header = try headerFields(bytes)
        var policies = try #require(header["policies"] as? [String: String])
        let access = try Base64URL.decode(try #require(policies["access.yaml"]))
        policies["access.yaml"] = Base64URL.encode(access + Array("\n# planted\n".utf8))
        header["policies"] = policies
        let edited = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes]))
        return Array(bytes[..<8]) + BackupFile.be32(edited.count) + edited + Array(bytes[(12 + length)...])
    }

    @Test func theKeyringKeepsItsIdentityAndRefusesATamperedCertificate() throws {
        let made = try KeyFileTestVault(kdfLimits: fastLimits)
        let identity = try #require(made.vault.keys.identity)
        #expect(try Self.keyringFormat(made.vault) == 2)
        #expect(throws: PrivacyKitError.self) { try made.vault.keys.keyring.addingKey(.identity, createdAt: Timestamp.now()) }
        let path = made.vault.keyringPath
        let original = try readBytes(path)
        func edit(_ change: (inout [[String: Any]]) -> Void, format: Int? = nil) throws {
            var object = try #require(try JSONSerialization.jsonObject(with: Data(original)) as? [String: Any])
            var keys = try #require(object["keys"] as? [[String: Any]])
            change(&keys)
            object["keys"] = keys
            if let format { object["format_version"] = format }
            try writeFile(path, [UInt8](try JSONSerialization.data(withJSONObject: object)))
        }
        // A certificate swapped for another signature, or dropped: the file was altered.
        try edit { keys in
            for i in keys.indices where keys[i]["role"] as? String == "audit-signing" { keys[i]["certificate"] = Base64URL.encode([UInt8](repeating: 7, count: 64)) }
        }
        expectError(.integrity) { try Vault.open(at: made.vault.directory, rootKey: try .keyFile(at: made.keyFile)) }
        try edit { keys in
            for i in keys.indices where keys[i]["role"] as? String == "audit-signing" { keys[i].removeValue(forKey: "certificate") }
        }
        expectError(.integrity) { try Vault.open(at: made.vault.directory, rootKey: try .keyFile(at: made.keyFile)) }
        // The identity dropped and the file called format 1 again: the verifier does not open.
        try edit({ keys in keys.removeAll { $0["role"] as? String == "vault-identity" } }, format: 1)
        #expect(throws: PrivacyKitError.self) { try Vault.open(at: made.vault.directory, rootKey: try .keyFile(at: made.keyFile)) }
        try writeFile(path, original)
        #expect(try Vault.open(at: made.vault.directory, rootKey: try .keyFile(at: made.keyFile)).keys.identity == identity)
    }
}
