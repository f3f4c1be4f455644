import Foundation
import Testing

@Suite("privacyctl backup")
struct BackupCommandTests {
    struct Fixture {
        let v: PrivacyctlTests.KeyFileVault
        let env: [String: String]

        init() throws {
            v = try PrivacyctlTests.KeyFileVault()
            env = ["PRIVACYKIT_VAULT": v.vault, "PRIVACYKIT_KEY_FILE": v.keyFile, "PRIVACYKIT_ACTOR": "ops"]
            try Data("id,full_name,email,city\nb1,Canary One,b1@canary.example,Canaryville\nb2,Two Person,b2@x.example,Town\n".utf8)
                .write(to: URL(fileURLWithPath: v.scratch.file("in.csv")))
            #expect(try run(["import", v.scratch.file("in.csv")]).status == 0)
        }

        func run(_ arguments: [String], extra: [String: String] = [:]) throws -> CLI.Result {
            try CLI.run(arguments, environment: env.merging(extra) { $1 })
        }
    }

    @Test func createListVerifyRestoreAndPruneFromTheCommandLine() throws {
        let f = try Fixture()
        let created = try f.run(["backup", "create", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let backup = try #require(try created.json()["backup"] as? [String: Any])
        let id = try #require(backup["id"] as? String)
        let file = try #require(backup["file"] as? String)
        let listed = try f.run(["backup", "list", "--json"]).json()["backups"] as? [[String: Any]]
        #expect((listed?.first?["manifest"] as? [String: Any])?["backupID"] as? String == id)
        #expect(try f.run(["backup", "verify", id]).status == 0)

        #expect(try f.run(["erase", "b1", "--reason", "request"]).status == 0)
        let restoredDir = f.v.scratch.file("restored")
        let restored = try f.run(["backup", "restore", id, "--to", restoredDir, "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let summary = try restored.json()["restore"] as? [String: Any]
        #expect(summary?["replayed_erasures"] as? Int == 1)
        let subjects = try f.run(["records", "list", "--json"], extra: ["PRIVACYKIT_VAULT": restoredDir]).json()["subjects"] as? [String]
        #expect(subjects == ["b2"])
        #expect(try f.run(["audit", "verify"], extra: ["PRIVACYKIT_VAULT": restoredDir]).status == 0)
        // Never over a vault.
        #expect(try f.run(["backup", "restore", id, "--to", restoredDir]).status == 72)

        // A flipped byte: verify says where, exit 69; restore refuses and leaves nothing.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0x01
        let tampered = f.v.scratch.file("tampered.pkb")
        try bytes.write(to: URL(fileURLWithPath: tampered))
        let verify = try f.run(["backup", "verify", tampered, "--json"])
        #expect(verify.status == 69)
        let problem = try verify.json()["problem"] as? String
        #expect(problem?.contains("chunk") == true)
        #expect(try f.run(["backup", "restore", tampered, "--to", f.v.scratch.file("t")]).status == 69)
        #expect(!FileManager.default.fileExists(atPath: f.v.scratch.file("t")))

        let pruned = try f.run(["backup", "prune", "--keep-days", "0", "--json"])
        let removed = try pruned.json()["removed"] as? [String]
        #expect(pruned.status == 0 && removed == [file])
    }

    @Test func theRecoveryKeyRestoresWithoutTheRootSecret() throws {
        let f = try Fixture()
        let prefix = f.v.scratch.file("recovery")
        #expect(try f.run(["backup", "recovery-keypair", "--out", prefix]).status == 0)
        let created = try f.run(["backup", "create", "--recovery-key", prefix + ".pub", "--to", f.v.scratch.path, "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let file = try #require((try created.json()["backup"] as? [String: Any])?["file"] as? String)
        // No vault, no root secret: only the recovery key and a new key for the restored vault.
        let newKey = f.v.scratch.file("new.key")
        #expect(try CLI.run(["keys", "generate-key-file", newKey]).status == 0)
        #expect(try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key"]).status == 0)
        let target = f.v.scratch.file("recovered")
        let restored = try CLI.run(["backup", "restore", file, "--to", target, "--recovery-key-file", prefix + ".key", "--new-key-file", newKey, "--no-ledger"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let subjects = try CLI.run(["records", "list", "--json", "--vault", target, "--key-file", newKey]).json()["subjects"] as? [String]
        #expect(subjects == ["b1", "b2"])
        // Without a say on erasures, a restore with the root secret refuses to guess.
        #expect(try CLI.run(["backup", "restore", file, "--to", f.v.scratch.file("x"), "--key-file", f.v.keyFile]).status == 64)
    }
}
