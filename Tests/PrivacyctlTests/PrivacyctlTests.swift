import Foundation
import Testing

/// `privacyctl` end to end: the built binary, its output, its exit codes.
@Suite("privacyctl")
struct PrivacyctlTests {
    /// Exit codes documented in the README.
    enum Exit {
        static let usage: Int32 = 64
        static let invalidInput: Int32 = 65
        static let notFound: Int32 = 66
        static let wrongKey: Int32 = 67
        static let denied: Int32 = 68
        static let integrity: Int32 = 69
        static let unsupportedVersion: Int32 = 70
        static let insecurePermissions: Int32 = 71
        static let alreadyExists: Int32 = 72
    }

    /// A vault made with a fresh key file.
    struct KeyFileVault {
        let scratch: Scratch
        let vault: String
        let keyFile: String
        let vaultID: String

        init() throws {
            scratch = try Scratch()
            keyFile = scratch.file("root.key")
            vault = scratch.file("vault")
            let gen = try CLI.run(["keys", "generate-key-file", keyFile])
            #expect(gen.status == 0, "\(gen.stderr)")
            let made = try CLI.run(["init", "--vault", vault, "--key-file", keyFile, "--json"])
            #expect(made.status == 0, "\(made.stderr)")
            vaultID = try #require(made.json()["vault_id"] as? String)
        }

        /// The environment that opens this vault (with its key file), acting as `actor`.
        func environment(actor: String? = nil) -> [String: String] {
            var env = ["PRIVACYKIT_VAULT": vault, "PRIVACYKIT_KEY_FILE": keyFile]
            if let actor { env["PRIVACYKIT_ACTOR"] = actor }
            return env
        }
    }

    @Test func helpListsTheCommands() throws {
        let help = try CLI.run(["--help"])
        #expect(help.status == 0)
        for command in ["init", "keys"] { #expect(help.stdout.contains(command)) }
        let keys = try CLI.run(["keys", "--help"])
        for command in ["status", "rotate-root", "generate-key-file"] { #expect(keys.stdout.contains(command)) }
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(!version.stdout.isEmpty)
    }

    @Test func initThenStatusWithAKeyFile() throws {
        let v = try KeyFileVault()
        #expect(v.vaultID.count == 32)
        let status = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile, "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        let json = try status.json()
        #expect(json["vault_id"] as? String == v.vaultID)
        #expect(json["ok"] as? Bool == true)
        let keys = try #require(json["keys"] as? [[String: Any]])
        #expect(Set(keys.compactMap { $0["role"] as? String }) == ["kek", "blind-index-root", "audit-signing", "audit-mac", "backup", "audit-chain", "vault-identity"])
        #expect(keys.allSatisfy { ($0["fingerprint"] as? String)?.count == 32 && $0["version"] as? Int == 1 })
        #expect((json["root"] as? [String: Any])?["kind"] as? String == "key")
        let attributes = try FileManager.default.attributesOfItem(atPath: v.vault + "/Keys/keyring.json")
        #expect(attributes[.posixPermissions] as? Int == 0o600)

        let text = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile])
        #expect(text.status == 0)
        #expect(text.stdout.contains(v.vaultID))
        #expect(text.stdout.contains("blind-index-root"))
        // The root key never appears in any output.
        let rootKey = String(decoding: try v.scratch.bytes("root.key"), as: UTF8.self)
        for output in [status.stdout, status.stderr, text.stdout, text.stderr] {
            #expect(!output.contains(rootKey))
        }
    }

    @Test func passphraseFromFileAndFromEnvironment() throws {
        let scratch = try Scratch()
        let passFile = try scratch.secret("pass", "a long passphrase\n")
        let vault = scratch.file("vault")
        let made = try CLI.run(["init", "--vault", vault, "--passphrase-file", passFile, "--kdf", "minimum", "--json"])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stderr.contains("tests only"))
        let id = try made.json()["vault_id"] as? String
        // The file's final newline is not part of the passphrase.
        let viaEnv = try CLI.run(["keys", "status", "--json"],
                                 environment: ["PRIVACYKIT_VAULT": vault, "PRIVACYKIT_PASSPHRASE": "a long passphrase"])
        #expect(viaEnv.status == 0, "\(viaEnv.stderr)")
        #expect(try viaEnv.json()["vault_id"] as? String == id)
        let root = try #require(try viaEnv.json()["root"] as? [String: Any])
        #expect(root["kind"] as? String == "passphrase")
        #expect(root["kdf"] as? String == "argon2id13")
    }

    @Test func keyFileFromTheEnvironment() throws {
        let v = try KeyFileVault()
        let r = try CLI.run(["keys", "status", "--json"], environment: v.environment())
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try r.json()["vault_id"] as? String == v.vaultID)
    }

    @Test func wrongPassphraseExitsWithWrongKeyAndChangesNothing() throws {
        let scratch = try Scratch()
        let right = try scratch.secret("right", "the right one")
        let wrong = try scratch.secret("wrong", "the wrong one")
        let vault = scratch.file("vault")
        #expect(try CLI.run(["init", "--vault", vault, "--passphrase-file", right, "--kdf", "minimum"]).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: vault + "/Keys/keyring.json"))
        let r = try CLI.run(["keys", "status", "--vault", vault, "--passphrase-file", wrong, "--json"])
        #expect(r.status == Exit.wrongKey)
        #expect(r.stderr.contains("does not open the keyring"))
        let error = try #require(try r.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "wrong-key")
        #expect(error["exit_code"] as? Int == Int(Exit.wrongKey))
        #expect(!r.stdout.contains("the wrong one") && !r.stderr.contains("the wrong one"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: vault + "/Keys/keyring.json")) == before)
        let rotate = try CLI.run(["keys", "rotate-root", "--vault", vault, "--passphrase-file", wrong, "--new-passphrase-file", right])
        #expect(rotate.status == Exit.wrongKey)
        #expect(try Data(contentsOf: URL(fileURLWithPath: vault + "/Keys/keyring.json")) == before)
    }

    @Test func wrongKeyFile() throws {
        let v = try KeyFileVault()
        let other = v.scratch.file("other.key")
        #expect(try CLI.run(["keys", "generate-key-file", other]).status == 0)
        let r = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", other])
        #expect(r.status == Exit.wrongKey)
    }

    @Test(arguments: [0o644, 0o640, 0o604])
    func looseKeyFileIsRefused(mode: Int) throws {
        let v = try KeyFileVault()
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: v.keyFile)
        let r = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile])
        #expect(r.status == Exit.insecurePermissions)
        #expect(r.stderr.contains("chmod 600"))
    }

    @Test func rotateRootThroughTheCLI() throws {
        let v = try KeyFileVault()
        let newPass = try v.scratch.secret("new-pass", "brand new passphrase")
        let r = try CLI.run(["keys", "rotate-root", "--vault", v.vault, "--key-file", v.keyFile,
                             "--new-passphrase-file", newPass, "--kdf", "minimum", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try r.json()["root"] as? [String: Any])?["kind"] as? String == "passphrase")
        #expect(try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile]).status == Exit.wrongKey)
        let after = try CLI.run(["keys", "status", "--vault", v.vault, "--passphrase-file", newPass, "--json"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(try after.json()["vault_id"] as? String == v.vaultID)
        // Back to a key file, through the environment.
        let newKey = v.scratch.file("new.key")
        #expect(try CLI.run(["keys", "generate-key-file", newKey]).status == 0)
        let back = try CLI.run(["keys", "rotate-root", "--vault", v.vault], environment: [
            "PRIVACYKIT_PASSPHRASE": "brand new passphrase", "PRIVACYKIT_NEW_KEY_FILE": newKey,
        ])
        #expect(back.status == 0, "\(back.stderr)")
        #expect(try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", newKey]).status == 0)
    }

    @Test func usageErrors() throws {
        let v = try KeyFileVault()
        let unknown = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile, "--frobnicate"])
        #expect(unknown.status == Exit.usage)
        #expect(unknown.stderr.contains("--frobnicate"))
        let unknownJSON = try CLI.run(["keys", "status", "--vault", v.vault, "--frobnicate", "--json"])
        #expect(unknownJSON.status == Exit.usage)
        let error = try #require(try unknownJSON.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "usage")
        #expect((error["message"] as? String)?.contains("--frobnicate") == true)
        let both = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile, "--passphrase-file", v.keyFile])
        #expect(both.status == Exit.usage)
        let noVault = try CLI.run(["keys", "status", "--key-file", v.keyFile])
        #expect(noVault.status == Exit.usage)
        #expect(noVault.stderr.contains("PRIVACYKIT_VAULT"))
        let noSecret = try CLI.run(["keys", "status", "--vault", v.vault, "--json"])
        #expect(noSecret.status == Exit.usage)
        #expect(noSecret.stderr.contains("--key-file"))
        #expect(try (noSecret.json()["error"] as? [String: Any])?["code"] as? String == "usage")
        let badKDF = try CLI.run(["init", "--vault", v.scratch.file("x"), "--key-file", v.keyFile, "--kdf", "weak"])
        #expect(badKDF.status == Exit.usage)
        let noCommand = try CLI.run(["keys", "rotate-root", "--vault", v.vault, "--key-file", v.keyFile])
        #expect(noCommand.status == Exit.usage)
        #expect(noCommand.stderr.contains("no new root secret"))
    }

    @Test func notFoundAndAlreadyExists() throws {
        let v = try KeyFileVault()
        let missing = try CLI.run(["keys", "status", "--vault", v.scratch.file("nowhere"), "--key-file", v.keyFile])
        #expect(missing.status == Exit.notFound)
        let missingKey = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.scratch.file("nokey")])
        #expect(missingKey.status == Exit.notFound)
        let again = try CLI.run(["init", "--vault", v.vault, "--key-file", v.keyFile])
        #expect(again.status == Exit.alreadyExists)
        let before = try Data(contentsOf: URL(fileURLWithPath: v.keyFile))
        let overwrite = try CLI.run(["keys", "generate-key-file", v.keyFile])
        #expect(overwrite.status == Exit.alreadyExists)
        #expect(try Data(contentsOf: URL(fileURLWithPath: v.keyFile)) == before)
    }

    @Test func generatedKeyFileIsPrivate() throws {
        let scratch = try Scratch()
        let r = try CLI.run(["keys", "generate-key-file", scratch.file("k"), "--json"])
        #expect(r.status == 0)
        #expect(try r.json()["key_file"] as? String == scratch.file("k"))
        let attributes = try FileManager.default.attributesOfItem(atPath: scratch.file("k"))
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(try scratch.bytes("k").count == 43)
        // A bare one-letter name in the working directory, and a stale "<name>.new"
        // that must be left alone.
        try Data("unrelated".utf8).write(to: URL(fileURLWithPath: scratch.file("j.new")))
        let bare = try CLI.run(["keys", "generate-key-file", "j"], in: scratch.path)
        #expect(bare.status == 0, "\(bare.stderr)")
        #expect(try scratch.bytes("j").count == 43)
        #expect(try scratch.bytes("j.new") == Data("unrelated".utf8))
    }

    @Test func tamperedAndNewerKeyrings() throws {
        let v = try KeyFileVault()
        let path = v.vault + "/Keys/keyring.json"
        let original = try Data(contentsOf: URL(fileURLWithPath: path))
        var object = try #require(JSONSerialization.jsonObject(with: original) as? [String: Any])

        var keys = try #require(object["keys"] as? [[String: Any]])
        let ciphertext = try #require(keys[0]["ciphertext"] as? String)
        keys[0]["ciphertext"] = String(ciphertext.reversed())
        object["keys"] = keys
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        let tampered = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile])
        #expect(tampered.status == Exit.integrity, "\(tampered.stderr)")

        object = try #require(JSONSerialization.jsonObject(with: original) as? [String: Any])
        object["format_version"] = 7
        try JSONSerialization.data(withJSONObject: object).write(to: URL(fileURLWithPath: path))
        let newer = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile])
        #expect(newer.status == Exit.unsupportedVersion)
        #expect(newer.stderr.contains("upgrade"))

        try Data("{".utf8).write(to: URL(fileURLWithPath: path))
        let broken = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", v.keyFile])
        #expect(broken.status == Exit.invalidInput)
    }

    /// The terminal prompt: `script` gives privacyctl a pseudo-terminal and types the
    /// passphrase into it. Echo is off, so the passphrase must not come back in the output.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func passphraseAskedOnTheTerminalWithoutEcho() throws {
        let scratch = try Scratch()
        let vault = scratch.file("vault")
        let secret = "typed-on-the-terminal-42"
        let made = try CLI.converse(["init", "--vault", vault, "--kdf", "minimum"],
                                    dialogue: [("passphrase:", secret), ("Repeat it:", secret)])
        #expect(made.status == 0, "\(made.stdout)")
        #expect(made.stdout.contains("Created vault"))
        #expect(!made.stdout.contains(secret), "the passphrase was echoed")
        let opened = try CLI.converse(["keys", "status", "--vault", vault], dialogue: [("passphrase:", secret)])
        #expect(opened.status == 0, "\(opened.stdout)")
        #expect(opened.stdout.contains("blind-index-root"))
        #expect(!opened.stdout.contains(secret))
        let wrong = try CLI.converse(["keys", "status", "--vault", vault], dialogue: [("passphrase:", "not it")])
        #expect(wrong.status == Exit.wrongKey)
        let mismatch = try CLI.converse(["init", "--vault", scratch.file("other"), "--kdf", "minimum"],
                                        dialogue: [("passphrase:", "one-passphrase"), ("Repeat it:", "two-passphrase")])
        #expect(mismatch.status == Exit.invalidInput, "\(mismatch.stdout)")
        #expect(!FileManager.default.fileExists(atPath: scratch.file("other")))
    }

    @Test func initLeavesNothingBehindWhenItFails() throws {
        let scratch = try Scratch()
        let key = scratch.file("root.key")
        #expect(try CLI.run(["keys", "generate-key-file", key]).status == 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
        let r = try CLI.run(["init", "--vault", scratch.file("vault"), "--key-file", key])
        #expect(r.status == Exit.insecurePermissions)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path) == ["root.key"])
    }
}
