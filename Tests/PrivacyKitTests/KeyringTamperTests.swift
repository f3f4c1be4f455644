import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// A damaged, altered, foreign or newer keyring or store is refused with the right error,
/// and the refusal changes nothing on disk.
@Suite("Keyring and store tampering")
struct KeyringTamperTests {
    struct Fixture {
        let dir: TempDirectory
        let url: URL
        let keyringPath: String
        let vaultID: VaultID

        init() throws {
            dir = try TempDirectory()
            url = dir.url.appendingPathComponent("vault")
            let vault = try createTestVault(at: url, rootKey: testPassphrase(), kdfLimits: fastLimits)
            keyringPath = vault.keyringPath
            vaultID = vault.id
        }

        /// Rewrites the keyring JSON through `edit`, keeping mode 0600.
        func editKeyring(_ edit: (inout [String: Any]) throws -> Void) throws {
            var object = try #require(JSONSerialization.jsonObject(with: Data(readBytes(keyringPath))) as? [String: Any])
            try edit(&object)
            try writeFile(keyringPath, [UInt8](JSONSerialization.data(withJSONObject: object)))
        }

        func editEntry(role: String, _ edit: (inout [String: Any]) -> Void) throws {
            try editKeyring { object in
                var keys = try #require(object["keys"] as? [[String: Any]])
                let index = try #require(keys.firstIndex { $0["role"] as? String == role })
                edit(&keys[index])
                object["keys"] = keys
            }
        }

        /// Opening fails with `code` and leaves every file as it was.
        @discardableResult
        func expectOpenFails(_ code: PrivacyKitError.Code, sourceLocation: SourceLocation = #_sourceLocation) throws -> PrivacyKitError? {
            // A wrong secret is audited in the store; nothing else may change.
            let before = try snapshot(url.path, exceptStore: code == .wrongKey)
            let error = expectError(code, sourceLocation: sourceLocation) { try Vault.open(at: url, rootKey: testPassphrase()) }
            #expect(try snapshot(url.path, exceptStore: code == .wrongKey) == before, "a failed open changed files", sourceLocation: sourceLocation)
            return error
        }
    }

    @Test func missingKeyring() throws {
        let f = try Fixture()
        try FileManager.default.removeItem(atPath: f.keyringPath)
        let error = try f.expectOpenFails(.notFound)
        #expect(error?.message.contains("keyring") == true)
    }

    @Test func truncatedKeyring() throws {
        let f = try Fixture()
        let bytes = try readBytes(f.keyringPath)
        try writeFile(f.keyringPath, Array(bytes.prefix(bytes.count / 2)))
        try f.expectOpenFails(.invalidInput)
    }

    @Test func keyringThatIsNotJSON() throws {
        let f = try Fixture()
        try writeFile(f.keyringPath, Array("hello".utf8))
        try f.expectOpenFails(.invalidInput)
    }

    @Test func keyringWithLoosePermissions() throws {
        let f = try Fixture()
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: f.keyringPath)
        try f.expectOpenFails(.insecurePermissions)
    }

    @Test func alteredKeyCiphertext() throws {
        let f = try Fixture()
        try f.editEntry(role: "kek") { entry in
            var bytes = (try? Base64URL.decode(entry["ciphertext"] as? String ?? "")) ?? []
            bytes[3] ^= 0x01
            entry["ciphertext"] = Base64URL.encode(bytes)
        }
        let error = try f.expectOpenFails(.integrity)
        #expect(error?.message.contains("kek v1") == true)
    }

    @Test func alteredNonce() throws {
        let f = try Fixture()
        try f.editEntry(role: "backup") { entry in
            var bytes = (try? Base64URL.decode(entry["nonce"] as? String ?? "")) ?? []
            bytes[0] ^= 0x80
            entry["nonce"] = Base64URL.encode(bytes)
        }
        try f.expectOpenFails(.integrity)
    }

    @Test func entryMovedToAnotherRoleOrVersion() throws {
        let f = try Fixture()
        // Swap the wrapped bytes of two entries: each now sits under the other's name.
        try f.editKeyring { object in
            var keys = try #require(object["keys"] as? [[String: Any]])
            let kek = try #require(keys.firstIndex { $0["role"] as? String == "kek" })
            let backup = try #require(keys.firstIndex { $0["role"] as? String == "backup" })
            for field in ["nonce", "ciphertext", "fingerprint"] {
                let t = keys[kek][field]
                keys[kek][field] = keys[backup][field]
                keys[backup][field] = t
            }
            object["keys"] = keys
        }
        try f.expectOpenFails(.integrity)
    }

    @Test func changedVersionOrCreationTime() throws {
        let f = try Fixture()
        try f.editEntry(role: "kek") { $0["version"] = 2 }
        try f.expectOpenFails(.integrity)
        let g = try Fixture()
        try g.editEntry(role: "audit-mac") { $0["created_at"] = "2001-01-01T00:00:00Z" }
        try g.expectOpenFails(.integrity)
    }

    @Test func alteredFingerprintOrPublicKey() throws {
        let f = try Fixture()
        try f.editEntry(role: "blind-index-root") { $0["fingerprint"] = String(repeating: "0", count: 32) }
        try f.expectOpenFails(.integrity)
        let g = try Fixture()
        let other = try Ed25519.KeyPair.generate()
        try g.editEntry(role: "audit-signing") { $0["public_key"] = Base64URL.encode(other.publicKey.bytes) }
        try g.expectOpenFails(.integrity)
    }

    @Test func missingOrDuplicatedRole() throws {
        let f = try Fixture()
        try f.editKeyring { object in
            object["keys"] = (object["keys"] as? [[String: Any]])?.filter { $0["role"] as? String != "audit-mac" }
        }
        let error = try f.expectOpenFails(.integrity)
        #expect(error?.message.contains("audit-mac") == true)
        let g = try Fixture()
        try g.editKeyring { object in
            var keys = try #require(object["keys"] as? [[String: Any]])
            keys.append(keys[0])
            object["keys"] = keys
        }
        try g.expectOpenFails(.integrity)
    }

    @Test func alteredHeaderLooksLikeAWrongSecret() throws {
        let f = try Fixture()
        try f.editKeyring { object in
            var root = try #require(object["root"] as? [String: Any])
            root["salt"] = Base64URL.encode(Random.bytes(count: 16))
            object["root"] = root
        }
        try f.expectOpenFails(.wrongKey)
        let g = try Fixture()
        try g.editKeyring { object in
            var root = try #require(object["root"] as? [String: Any])
            root["opslimit"] = 2
            object["root"] = root
        }
        try g.expectOpenFails(.wrongKey)
    }

    @Test func absurdKDFLimitsAreRefusedBeforeRunning() throws {
        let f = try Fixture()
        try f.editKeyring { object in
            var root = try #require(object["root"] as? [String: Any])
            root["memlimit"] = UInt64(1) << 40  // 1 TiB: must not be attempted
            object["root"] = root
        }
        try f.expectOpenFails(.integrity)
    }

    @Test func keyringFromAnotherVault() throws {
        let f = try Fixture()
        let other = try createTestVault(at: f.dir.url.appendingPathComponent("other"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        try writeFile(f.keyringPath, try readBytes(other.keyringPath))
        let error = try f.expectOpenFails(.integrity)
        #expect(error?.message.contains("vault") == true)
    }

    @Test func vaultIDChangedInTheHeader() throws {
        let f = try Fixture()
        try f.editKeyring { $0["vault_id"] = VaultID.random().hex }
        try f.expectOpenFails(.wrongKey)
    }

    @Test func newerKeyringFormat() throws {
        let f = try Fixture()
        try f.editKeyring { $0["format_version"] = KeyringFile.formatVersion + 1 }
        let error = try f.expectOpenFails(.unsupportedVersion)
        #expect(error?.message.contains("upgrade") == true)
    }

    @Test func notAKeyring() throws {
        let f = try Fixture()
        try f.editKeyring { $0["format"] = "something-else" }
        try f.expectOpenFails(.invalidInput)
    }

    // MARK: store

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func newerStoreFormatIsRefusedUntouched() throws {
        let f = try Fixture()
        let storePath = f.url.path + "/vault.sqlite"
        let queue = try DatabaseQueue(path: storePath)
        try queue.write { db in try db.execute(sql: "UPDATE vault_meta SET value = '\(Vault.formatVersion + 1)' WHERE key = 'format_version'") }
        try queue.close()
        try f.expectOpenFails(.unsupportedVersion)
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func storeWithAnUnknownMigrationIsRefusedUntouched() throws {
        let f = try Fixture()
        let storePath = f.url.path + "/vault.sqlite"
        let queue = try DatabaseQueue(path: storePath)
        try queue.write { db in try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')") }
        try queue.close()
        try f.expectOpenFails(.unsupportedVersion)
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func missingStore() throws {
        let f = try Fixture()
        try FileManager.default.removeItem(atPath: f.url.path + "/vault.sqlite")
        try f.expectOpenFails(.notFound)
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func storeThatIsNotSQLite() throws {
        let f = try Fixture()
        try writeFile(f.url.path + "/vault.sqlite", Array(repeating: 0x41, count: 4096))
        try f.expectOpenFails(.integrity)
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func storeFromAnotherVault() throws {
        let f = try Fixture()
        let other = try createTestVault(at: f.dir.url.appendingPathComponent("other"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        let otherStore = other.storePath
        try other.store.close()
        try FileManager.default.removeItem(atPath: f.url.path + "/vault.sqlite")
        try FileManager.default.copyItem(atPath: otherStore, toPath: f.url.path + "/vault.sqlite")
        let error = expectError(.integrity) { try Vault.open(at: f.url, rootKey: testPassphrase()) }
        #expect(error?.message.contains(f.vaultID.hex) == true)
    }
}

extension KeyringTamperTests {
    @Test func truncatedVerifierIsAnIntegrityFailure() throws {
        let f = try Fixture()
        try f.editKeyring { object in
            var verifier = try #require(object["verifier"] as? [String: Any])
            verifier["ciphertext"] = Base64URL.encode([1, 2, 3])
            object["verifier"] = verifier
        }
        try f.expectOpenFails(.integrity)
    }

    @Test func vaultIDThatIsNotHex() throws {
        let f = try Fixture()
        try f.editKeyring { $0["vault_id"] = "not hex at all" }
        try f.expectOpenFails(.integrity)
    }
}
