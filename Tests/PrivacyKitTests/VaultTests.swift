import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

@Suite("Vault")
struct VaultTests {
    // MARK: create / open

    @Test func createThenOpenWithPassphraseGivesTheSameKeys() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        let created = try createTestVault(at: url, rootKey: testPassphrase(), kdfLimits: fastLimits)
        let opened = try Vault.open(at: url, rootKey: testPassphrase())
        #expect(opened.id == created.id)
        #expect(opened.keys.status() == created.keys.status())
        #expect(Set(opened.keys.status().map(\.role)) == Set(KeyRole.allCases))
        #expect(opened.keys.status().allSatisfy { $0.version == 1 && $0.fingerprint.count == 32 })
        for role in KeyRole.allCases {
            let a = try #require(created.keys.keyring.current(role))
            let b = try #require(opened.keys.keyring.current(role))
            #expect(a.secret == b.secret, "\(role) differs after reopening")
        }
        #expect(opened.keys.keyring.root.kind == .passphrase)
        #expect(opened.keys.keyring.root.limits == fastLimits)
        #expect(try opened.store.metadata().vaultID == created.id)
    }

    @Test func createThenOpenWithKeyFile() throws {
        let dir = try TempDirectory()
        try RootKey.generateKeyFile(at: dir.file("root.key"))
        let url = dir.url.appendingPathComponent("vault")
        let created = try createTestVault(at: url, rootKey: .keyFile(at: dir.file("root.key")))
        let opened = try Vault.open(at: url, rootKey: .keyFile(at: dir.file("root.key")))
        #expect(opened.id == created.id)
        #expect(opened.keys.keyring.root.kind == .key)
        #expect(opened.keys.keyring.root.limits == nil)
        let publicKey = try #require(opened.keys.keyring.auditPublicKey)
        let signature = try #require(opened.keys.keyring.current(.auditSigning)?.signingPair).sign([1, 2, 3])
        try publicKey.verify(signature, for: [1, 2, 3])
    }

    @Test func distinctVaultsHaveDistinctKeys() throws {
        let dir = try TempDirectory()
        let a = try createTestVault(at: dir.url.appendingPathComponent("a"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        let b = try createTestVault(at: dir.url.appendingPathComponent("b"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        #expect(a.id != b.id)
        for role in KeyRole.allCases {
            #expect(a.keys.keyring.current(role)?.secret != b.keys.keyring.current(role)?.secret)
        }
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func layoutAndPermissions() throws {
        let dir = try TempDirectory()
        let vault = try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        let root = vault.directory.path
        #expect(try mode(root) == 0o700)
        #expect(try mode(root + "/Keys") == 0o700)
        #expect(try mode(vault.keyringPath) == 0o600)
        #expect(try mode(vault.storePath) == 0o600)
        for name in PolicySet.requiredFiles {
            let contents = try #require(FileManager.default.contents(atPath: vault.policiesPath + "/" + name))
            try PolicySet.validate(contents, name: name)
        }
        // No staging directory is left next to the vault.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["vault"])
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func storeUsesWALForeignKeysAndSecureDelete() throws {
        let dir = try TempDirectory()
        let vault = try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        let (journal, foreignKeys, secureDelete) = try vault.store.read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"),
             try Int.fetchOne(db, sql: "PRAGMA foreign_keys"),
             try Int.fetchOne(db, sql: "PRAGMA secure_delete"))
        }
        #expect(journal == "wal")
        #expect(foreignKeys == 1)
        #expect(secureDelete == 1)
        let applied = try (vault.store as! SQLiteStore).pool.read { db in try SQLiteStore.migrator.appliedIdentifiers(db) }
        #expect(applied.contains("v1-vault-meta"))
    }

    /// Past 1,000 WAL pages the checkpoint runs on the background queue (commits only ask
    /// for it), and the store stays consistent.
    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func walCheckpointsRunInTheBackground() throws {
        let dir = try TempDirectory()
        let vault = try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        let context = AccessContext(actor: "t", role: "admin")
        #expect((vault.store as! SQLiteStore).checkpointer.completed == 0)
        let entries = (0..<5000).map { AuditEntry(.recordRead, subjectID: "cust-\($0)", fields: ["email", "phone", "address"]) }
        var pages = 0
        for _ in 0..<10 where (vault.store as! SQLiteStore).checkpointer.completed == 0 {
            try vault.audit.record(entries, context: context)
            pages = try vault.store.read { db in try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0 }
        }
        let deadline = Date().addingTimeInterval(10)
        while (vault.store as! SQLiteStore).checkpointer.completed == 0 && Date() < deadline { usleep(10_000) }
        #expect((vault.store as! SQLiteStore).checkpointer.completed > 0, "no background checkpoint after \(pages) pages")
        #expect(try vault.audit.verify().ok)
        try vault.store.close()
    }

    @Test func createRefusesANonEmptyDirectoryAndChangesNothing() throws {
        let dir = try TempDirectory()
        let target = dir.url.appendingPathComponent("taken")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        try writeFile(target.path + "/other.txt", Array("keep me".utf8), mode: 0o644)
        let before = try snapshot(dir.path)
        expectError(.alreadyExists) { try createTestVault(at: target, rootKey: testPassphrase(), kdfLimits: fastLimits) }
        #expect(try snapshot(dir.path) == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["taken"])
    }

    @Test func createIntoAnEmptyDirectoryWorks() throws {
        let dir = try TempDirectory()
        let target = dir.url.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: false)
        let vault = try createTestVault(at: target, rootKey: testPassphrase(), kdfLimits: fastLimits)
        #expect(FileManager.default.fileExists(atPath: vault.keyringPath))
    }

    @Test func createNeedsAnExistingParent() throws {
        let dir = try TempDirectory()
        expectError(.notFound) {
            try createTestVault(at: dir.url.appendingPathComponent("no/such/vault"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        }
    }

    @Test func openNonexistentVault() throws {
        let dir = try TempDirectory()
        expectError(.notFound) { try Vault.open(at: dir.url.appendingPathComponent("nothing"), rootKey: testPassphrase()) }
        // A directory that is not a vault.
        expectError(.notFound) { try Vault.open(at: dir.url, rootKey: testPassphrase()) }
    }

    // MARK: wrong secrets

    @Test func wrongPassphraseFailsAndChangesNothing() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        _ = try createTestVault(at: url, rootKey: testPassphrase(), kdfLimits: fastLimits)
        let before = try snapshot(url.path, exceptStore: true)
        let keyringBefore = try readBytes(VaultLayout.keyringPath(url.path))
        let intruder = AccessContext(actor: "mallory", role: "admin")
        expectError(.wrongKey) { try Vault.open(at: url, rootKey: testPassphrase("wrong horse"), context: intruder) }
        #expect(try readBytes(VaultLayout.keyringPath(url.path)) == keyringBefore)
        #expect(try snapshot(url.path, exceptStore: true) == before)
        // The failed attempt is in the audit chain, which still verifies.
        let last = try #require(try lastAuditEvent(url.path))
        #expect(last.action == "vault.unlock" && last.outcome == "failed" && last.actor == "mallory")
        #expect(try Vault.open(at: url, rootKey: testPassphrase()).audit.verify().ok)
    }

    @Test func wrongKeyFileAndWrongKindOfSecretFail() throws {
        let dir = try TempDirectory()
        try RootKey.generateKeyFile(at: dir.file("right.key"))
        try RootKey.generateKeyFile(at: dir.file("wrong.key"))
        let url = dir.url.appendingPathComponent("vault")
        _ = try createTestVault(at: url, rootKey: .keyFile(at: dir.file("right.key")))
        let before = try snapshot(url.path, exceptStore: true)
        expectError(.wrongKey) { try Vault.open(at: url, rootKey: .keyFile(at: dir.file("wrong.key"))) }
        let kind = expectError(.wrongKey) { try Vault.open(at: url, rootKey: testPassphrase()) }
        #expect(kind?.message.contains("sealed with a key file") == true)
        #expect(try snapshot(url.path, exceptStore: true) == before)
        #expect(try lastAuditEvent(url.path)?.action == "vault.unlock")
    }

    // MARK: key files

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o602, 0o620])
    func keyFileWithLoosePermissionsIsRefused(mode: Int) throws {
        let dir = try TempDirectory()
        try writeFile(dir.file("root.key"), Random.bytes(count: 32), mode: mode)
        let error = expectError(.insecurePermissions) { try RootKey.keyFile(at: dir.file("root.key")) }
        #expect(error?.message.contains("chmod 600") == true)
        let passphrase = dir.file("passphrase")
        try writeFile(passphrase, Array("a passphrase".utf8), mode: mode)
        expectError(.insecurePermissions) { try RootKey.passphraseFile(at: passphrase) }
    }

    @Test(arguments: [0o600, 0o400])
    func keyFileWithStrictPermissionsIsAccepted(mode: Int) throws {
        let dir = try TempDirectory()
        try writeFile(dir.file("root.key"), Random.bytes(count: 32), mode: mode)
        #expect(try RootKey.keyFile(at: dir.file("root.key")).kind == .key)
    }

    @Test func keyFileFormats() throws {
        let dir = try TempDirectory()
        let raw = Random.bytes(count: 32)
        try writeFile(dir.file("raw.key"), raw)
        try writeFile(dir.file("text.key"), Array((Base64URL.encode(raw) + "\n").utf8))
        let url = dir.url.appendingPathComponent("vault")
        _ = try createTestVault(at: url, rootKey: .keyFile(at: dir.file("raw.key")))
        // The same 32 bytes as base64url text open the same vault.
        _ = try Vault.open(at: url, rootKey: .keyFile(at: dir.file("text.key")))

        try writeFile(dir.file("short.key"), Random.bytes(count: 31))
        expectError(.invalidInput) { try RootKey.keyFile(at: dir.file("short.key")) }
        try writeFile(dir.file("long.key"), Random.bytes(count: 33))
        expectError(.invalidInput) { try RootKey.keyFile(at: dir.file("long.key")) }
        try writeFile(dir.file("badtext.key"), Array("not base64 at all, and not 32 bytes long\n".utf8))
        expectError(.invalidInput) { try RootKey.keyFile(at: dir.file("badtext.key")) }
        expectError(.notFound) { try RootKey.keyFile(at: dir.file("missing.key")) }
        try writeFile(dir.file("empty-pass"), Array("\n".utf8))
        expectError(.invalidInput) { try RootKey.passphraseFile(at: dir.file("empty-pass")) }
        expectError(.invalidInput) { try RootKey.passphrase("") }
    }

    @Test func generateKeyFileIsPrivateRandomAndNeverOverwrites() throws {
        let dir = try TempDirectory()
        try RootKey.generateKeyFile(at: dir.file("a.key"))
        try RootKey.generateKeyFile(at: dir.file("b.key"))
        #expect(try mode(dir.file("a.key")) == 0o600)
        let a = try readBytes(dir.file("a.key"))
        #expect(a.count == 43)
        #expect(try Base64URL.decode(String(decoding: a, as: UTF8.self)).count == 32)
        #expect(a != (try readBytes(dir.file("b.key"))))
        expectError(.alreadyExists) { try RootKey.generateKeyFile(at: dir.file("a.key")) }
        #expect(try readBytes(dir.file("a.key")) == a)
    }

    // MARK: no key bytes at rest

    @Test func keyringFileHoldsNoRawKeyBytes() throws {
        let dir = try TempDirectory()
        let rootBytes = Random.bytes(count: 32)
        try writeFile(dir.file("root.key"), rootBytes)
        let vault = try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: .keyFile(at: dir.file("root.key")))
        let file = try readBytes(vault.keyringPath)
        var secrets: [(String, [UInt8])] = [("root key", rootBytes)]
        for key in vault.keys.keyring.keys {
            secrets.append(("\(key.info.role) v\(key.info.version)", key.secret.withUnsafeBytes { Array($0) }))
        }
        #expect(secrets.count == 1 + KeyRole.allCases.count)
        for (name, secret) in secrets {
            let forms: [[UInt8]] = [
                secret,
                Array(Hex.encode(secret).utf8),
                Array(Hex.encode(secret).uppercased().utf8),
                Array(Base64URL.encode(secret).utf8),
                Array(Data(secret).base64EncodedString().utf8),
                Array(secret.prefix(16)),
            ]
            for form in forms {
                let found = contains(file, form)  // a Bool: a failure must not print the key or the file
                #expect(!found, "the keyring file holds \(name) in some encoding")
            }
        }
        // The audit signing key's 64-byte secret (seed ‖ public) must not be there either,
        // but its public key is meant to be.
        let publicKey = try #require(vault.keys.keyring.auditPublicKey)
        let hasPublicKey = contains(file, Array(Base64URL.encode(publicKey.bytes).utf8))
        #expect(hasPublicKey)
    }

    private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if Array(haystack[start..<(start + needle.count)]) == needle { return true }
        }
        return false
    }

    // MARK: rotate-root

    @Test func rotateRootThenOnlyTheNewSecretOpens() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        let vault = try createTestVault(at: url, rootKey: testPassphrase("old secret"), kdfLimits: fastLimits)
        let statusBefore = vault.keys.status()
        let kekBefore = try #require(vault.keys.keyring.current(.kek)).secret
        try vault.keys.rotateRoot(to: testPassphrase("new secret"), kdfLimits: fastLimits, context: keysAdmin)
        #expect(try mode(vault.keyringPath) == 0o600)
        expectError(.wrongKey) { try Vault.open(at: url, rootKey: testPassphrase("old secret")) }
        let reopened = try Vault.open(at: url, rootKey: testPassphrase("new secret"))
        #expect(reopened.keys.status() == statusBefore)
        #expect(try #require(reopened.keys.keyring.current(.kek)).secret == kekBefore)
        #expect(!FileManager.default.fileExists(atPath: SecureFiles.pendingPath(for: vault.keyringPath)))
        // The same Vault value can rotate again (it tracks the file it wrote).
        try vault.keys.rotateRoot(to: testPassphrase("third secret"), kdfLimits: fastLimits, context: keysAdmin)
        _ = try Vault.open(at: url, rootKey: testPassphrase("third secret"))
    }

    @Test func rotateRootBetweenPassphraseAndKeyFile() throws {
        let dir = try TempDirectory()
        try RootKey.generateKeyFile(at: dir.file("root.key"))
        let url = dir.url.appendingPathComponent("vault")
        let vault = try createTestVault(at: url, rootKey: testPassphrase(), kdfLimits: fastLimits)
        try vault.keys.rotateRoot(to: .keyFile(at: dir.file("root.key")), context: keysAdmin)
        let byKey = try Vault.open(at: url, rootKey: .keyFile(at: dir.file("root.key")))
        #expect(byKey.keys.keyring.root.kind == .key)
        expectError(.wrongKey) { try Vault.open(at: url, rootKey: testPassphrase()) }
        try byKey.keys.rotateRoot(to: testPassphrase("back again"), kdfLimits: fastLimits, context: keysAdmin)
        #expect(try Vault.open(at: url, rootKey: testPassphrase("back again")).keys.keyring.root.kind == .passphrase)
    }

    @Test func rotateRootDrawsAFreshSaltAndNonces() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        let vault = try createTestVault(at: url, rootKey: testPassphrase(), kdfLimits: fastLimits)
        let before = try readBytes(vault.keyringPath)
        try vault.keys.rotateRoot(to: testPassphrase(), kdfLimits: fastLimits, context: keysAdmin)  // same passphrase
        let after = try readBytes(vault.keyringPath)
        let a = try JSONDecoder().decode(KeyringFile.Document.self, from: Data(before))
        let b = try JSONDecoder().decode(KeyringFile.Document.self, from: Data(after))
        #expect(a.root.salt != b.root.salt)
        #expect(Set(a.keys.map(\.nonce)).isDisjoint(with: Set(b.keys.map(\.nonce))))
        #expect(Set(a.keys.map(\.ciphertext)).isDisjoint(with: Set(b.keys.map(\.ciphertext))))
    }

    struct SimulatedCrash: Error {}

    @Test func crashBeforeRenameLeavesTheOldKeyringUsable() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        let vault = try createTestVault(at: url, rootKey: testPassphrase("old"), kdfLimits: fastLimits)
        let before = try readBytes(vault.keyringPath)
        let hooks = SecureFiles.WriteHooks(afterTempWritten: { throw SimulatedCrash() })
        #expect(throws: SimulatedCrash.self) {
            try vault.keys.rotateRoot(to: testPassphrase("new"), kdfLimits: fastLimits, context: keysAdmin, hooks: hooks)
        }
        // The new keyring was fully written beside the old one, but never renamed.
        #expect(FileManager.default.fileExists(atPath: SecureFiles.pendingPath(for: vault.keyringPath)))
        #expect(try readBytes(vault.keyringPath) == before)
        _ = try Vault.open(at: url, rootKey: testPassphrase("old"))
        expectError(.wrongKey) { try Vault.open(at: url, rootKey: testPassphrase("new")) }
        // A later rotation replaces the leftover and succeeds.
        let again = try Vault.open(at: url, rootKey: testPassphrase("old"))
        try again.keys.rotateRoot(to: testPassphrase("newer"), kdfLimits: fastLimits, context: keysAdmin)
        _ = try Vault.open(at: url, rootKey: testPassphrase("newer"))
        #expect(!FileManager.default.fileExists(atPath: SecureFiles.pendingPath(for: vault.keyringPath)))
    }

    @Test func crashAfterRenameLeavesTheNewKeyringUsable() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        let vault = try createTestVault(at: url, rootKey: testPassphrase("old"), kdfLimits: fastLimits)
        let hooks = SecureFiles.WriteHooks(afterRename: { throw SimulatedCrash() })
        #expect(throws: SimulatedCrash.self) {
            try vault.keys.rotateRoot(to: testPassphrase("new"), kdfLimits: fastLimits, context: keysAdmin, hooks: hooks)
        }
        _ = try Vault.open(at: url, rootKey: testPassphrase("new"))
        expectError(.wrongKey) { try Vault.open(at: url, rootKey: testPassphrase("old")) }
    }

    @Test func rotateRefusesWhenAnotherProcessRewroteTheKeyring() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        let first = try createTestVault(at: url, rootKey: testPassphrase("one"), kdfLimits: fastLimits)
        let second = try Vault.open(at: url, rootKey: testPassphrase("one"))
        try second.keys.rotateRoot(to: testPassphrase("two"), kdfLimits: fastLimits, context: keysAdmin)
        let before = try readBytes(first.keyringPath)
        expectError(.integrity) { try first.keys.rotateRoot(to: testPassphrase("three"), kdfLimits: fastLimits, context: keysAdmin) }
        #expect(try readBytes(first.keyringPath) == before)
        _ = try Vault.open(at: url, rootKey: testPassphrase("two"))
    }

    @Test func rotateRefusesWhileTheKeyringIsLocked() throws {
        let dir = try TempDirectory()
        let url = dir.url.appendingPathComponent("vault")
        let vault = try createTestVault(at: url, rootKey: testPassphrase(), kdfLimits: fastLimits)
        let lock = try FileLock(path: url.path + "/Keys/.keyring.lock", what: "the keyring")
        expectError(.busy) { try vault.keys.rotateRoot(to: testPassphrase("new"), kdfLimits: fastLimits, context: keysAdmin) }
        lock.unlock()
        try vault.keys.rotateRoot(to: testPassphrase("new"), kdfLimits: fastLimits, context: keysAdmin)
    }
}
