import Foundation
import GRDB
import PrivacyKit
import Synchronization
import Testing

@Suite("privacyctl backup")
struct BackupCommandTests {
    struct Fixture {
        let v: PrivacyctlTests.KeyFileVault
        let env: [String: String]

        init() throws {
            v = try PrivacyctlTests.KeyFileVault()
            env = v.environment(actor: "ops")
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
        #expect((listed?.first?["manifest"] as? [String: Any])?["backup_id"] as? String == id)
        #expect(try f.run(["backup", "verify", id]).status == 0)

        #expect(try f.run(["erase", "b1", "--reason", "request"]).status == 0)
        let restoredDir = f.v.scratch.file("restored")
        let restored = try f.run(["backup", "restore", id, "--out", restoredDir, "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let summary = try restored.json()["restore"] as? [String: Any]
        #expect(summary?["replayed_erasures"] as? Int == 1)
        let subjects = try f.run(["records", "list", "--json"], extra: ["PRIVACYKIT_VAULT": restoredDir]).json()["subjects"] as? [String]
        #expect(subjects == ["b2"])
        #expect(try f.run(["audit", "verify"], extra: ["PRIVACYKIT_VAULT": restoredDir]).status == 0)
        // Never over a vault.
        #expect(try f.run(["backup", "restore", id, "--out", restoredDir]).status == 72)

        // A flipped byte: verify says where, exit 69; restore refuses and leaves nothing.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        bytes[bytes.count / 2] ^= 0x01
        let tampered = f.v.scratch.file("tampered.pkb")
        try bytes.write(to: URL(fileURLWithPath: tampered))
        let verify = try f.run(["backup", "verify", tampered, "--json"])
        #expect(verify.status == 69)
        let problem = try verify.json()["problem"] as? String
        #expect(problem?.contains("chunk") == true)
        #expect(try f.run(["backup", "restore", tampered, "--out", f.v.scratch.file("t")]).status == 69)
        #expect(!FileManager.default.fileExists(atPath: f.v.scratch.file("t")))

        let pruned = try f.run(["backup", "prune", "--keep-days", "0", "--json"])
        let removed = try pruned.json()["removed"] as? [String]
        #expect(pruned.status == 0 && removed == [file])
    }

    @Test func compressedBackupsFromTheCommandLine() throws {
        let f = try Fixture()
        let created = try f.run(["backup", "create", "--compress", "--compression-level", "3", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let manifest = try #require((try created.json()["backup"] as? [String: Any])?["manifest"] as? [String: Any])
        let plain = try #require(manifest["plaintext_bytes"] as? Int)
        #expect(manifest["compressed"] as? Bool == true)
        #expect(try #require(manifest["compressed_bytes"] as? Int) < plain / 2)
        let human = try f.run(["backup", "create", "--compress"])
        #expect(human.status == 0 && human.stdout.contains("compressed to"))
        let id = try #require(manifest["backup_id"] as? String)
        #expect(try f.run(["backup", "verify", id]).status == 0)
        let restored = try f.run(["backup", "restore", id, "--out", f.v.scratch.file("r")])
        #expect(restored.status == 0, "\(restored.stderr)")
        // A level without --compress is a usage error; a level zstd does not have, bad input.
        #expect(try f.run(["backup", "create", "--compression-level", "3"]).status == 64)
        let bad = try f.run(["backup", "create", "--compress", "--compression-level", "42"])
        #expect(bad.status == 65 && bad.stderr.contains("compression level"))
    }

    /// One process imports in small transactions while another takes the backup: the backup
    /// holds a prefix of the import, whole (every subject with its audit event and no event
    /// without its subject), the restored log verifies, and the importer never saw a lock.
    @Test func aBackupTakenWhileAnotherProcessImportsIsConsistent() throws {
        let f = try Fixture()
        let rows = 20_000
        var csv = "id,full_name,email,city\n"
        for i in 0..<rows { csv += "c\(i),Person \(i),p\(i)@canary.example,Town \(i % 50)\n" }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: f.v.scratch.file("big.csv")))

        let importResult = Mutex<CLI.Result?>(nil)
        let (environment, csvPath) = (f.env, f.v.scratch.file("big.csv"))
        let importer = Thread {
            let result = try? CLI.run(["import", csvPath, "--batch-size", "50"], environment: environment)
            importResult.withLock { $0 = result }
        }
        importer.start()
        var config = Configuration()
        config.readonly = true
        let store = try DatabaseQueue(path: f.v.vault + "/vault.sqlite", configuration: config)
        let deadline = Date().addingTimeInterval(120)
        while try store.read({ try Int.fetchOne($0, sql: "SELECT count(*) FROM subjects") ?? 0 }) < 502, Date() < deadline { usleep(20_000) }
        try store.close()

        let created = try f.run(["backup", "create", "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        while importResult.withLock({ $0 == nil }) && Date() < deadline { usleep(50_000) }
        let imported = try #require(importResult.withLock { $0 })
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(!imported.stderr.contains("locked"))

        let manifest = try #require(try created.json()["backup"] as? [String: Any])["manifest"] as? [String: Any]
        let subjects = try #require(manifest?["subjects"] as? Int)
        #expect(subjects >= 502 && subjects < rows + 2, "the backup was not taken during the import: \(subjects) subjects")
        let file = try #require((try created.json()["backup"] as? [String: Any])?["file"] as? String)
        let target = f.v.scratch.file("restored")
        let restored = try f.run(["backup", "restore", file, "--out", target, "--json"])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect((try restored.json()["restore"] as? [String: Any])?["audit_verified"] as? Bool == true)

        let vault = try Vault.open(at: URL(fileURLWithPath: target), rootKey: .keyFile(at: f.v.keyFile))
        let admin = AccessContext(actor: "test", role: "admin", purpose: "privacy-compliance")
        let ids = try vault.records.listSubjects(limit: rows + 10, context: admin)
        #expect(ids.count == subjects)
        let events = try vault.audit.events(matching: AuditQuery(action: "record.import"), context: admin)
        #expect(events.count == ids.count, "one import event per subject (the fixture's two, then the big import's)")
        #expect(Set(events.compactMap(\.subject)).count == ids.count)
        #expect(try vault.audit.verify().ok)
        // A prefix: batches commit in file order, so the restored ids are c0 … c(n-1).
        let imported2 = Set(ids.filter { $0.hasPrefix("c") })
        #expect(imported2 == Set((0..<imported2.count).map { "c\($0)" }))
    }

    @Test func theRecoveryKeyRestoresWithoutTheRootSecret() throws {
        let f = try Fixture()
        let prefix = f.v.scratch.file("recovery")
        #expect(try f.run(["backup", "recovery-keypair", "--out", prefix]).status == 0)
        let created = try f.run(["backup", "create", "--recovery-key", prefix + ".pub", "--out", f.v.scratch.path, "--json"])
        #expect(created.status == 0, "\(created.stderr)")
        let file = try #require((try created.json()["backup"] as? [String: Any])?["file"] as? String)
        // No vault, no root secret: only the recovery key and a new key for the restored vault.
        let newKey = f.v.scratch.file("new.key")
        #expect(try CLI.run(["keys", "generate-key-file", newKey]).status == 0)
        #expect(try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key"]).status == 0)
        let target = f.v.scratch.file("recovered")
        let restored = try CLI.run(["backup", "restore", file, "--out", target, "--recovery-key-file", prefix + ".key", "--new-key-file", newKey, "--no-ledger"])
        #expect(restored.status == 0, "\(restored.stderr)")
        let subjects = try CLI.run(["records", "list", "--json", "--vault", target, "--key-file", newKey]).json()["subjects"] as? [String]
        #expect(subjects == ["b1", "b2"])
        // Without a say on erasures, a restore with the root secret refuses to guess.
        #expect(try CLI.run(["backup", "restore", file, "--out", f.v.scratch.file("x"), "--key-file", f.v.keyFile]).status == 64)
    }

    /// The recovery public key is no secret: vault B seals a backup to A's recovery key. With
    /// A's pinned recovery key, verify and restore refuse it (69), and restore nothing.
    @Test func aBackupAnotherVaultSealedToTheRecoveryKeyIsRefused() throws {
        let a = try Fixture()
        let b = try Fixture()
        let prefix = a.v.scratch.file("recovery")
        let made = try a.run(["backup", "recovery-keypair", "--out", prefix, "--json"])
        #expect(made.status == 0, "\(made.stderr)")
        let keys = try a.run(["keys", "status", "--json"]).json()["keys"] as? [[String: Any]]
        let fingerprint = try #require(keys?.first { $0["role"] as? String == "vault-identity" }?["fingerprint"] as? String)
        #expect(try made.json()["pinned_identity"] as? String == fingerprint)
        #expect(try made.json()["vault_id"] as? String == a.v.vaultID)

        let foreign = try b.run(["backup", "create", "--recovery-key", prefix + ".pub", "--out", b.v.scratch.path, "--json"])
        #expect(foreign.status == 0, "\(foreign.stderr)")
        let file = try #require((try foreign.json()["backup"] as? [String: Any])?["file"] as? String)
        let newKey = a.v.scratch.file("new.key")
        #expect(try CLI.run(["keys", "generate-key-file", newKey]).status == 0)

        let verified = try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key", "--json"])
        #expect(verified.status == 69, "\(verified.stderr)")
        let report = try verified.json()
        #expect(report["ok"] as? Bool == false && report["code"] as? String == "integrity")
        #expect((report["problem"] as? String)?.contains("made by vault \(b.v.vaultID)") == true, "\(report)")
        let target = a.v.scratch.file("recovered")
        let restored = try CLI.run(["backup", "restore", file, "--out", target, "--recovery-key-file", prefix + ".key", "--new-key-file", newKey, "--no-ledger"])
        #expect(restored.status == 69 && restored.stderr.contains("another vault"), "\(restored.stderr)")
        #expect(!FileManager.default.fileExists(atPath: target))
        // Nor does naming A's identity explicitly let it through.
        let explicit = try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key", "--expect-identity", fingerprint])
        #expect(explicit.status == 69)

        // A's own backup passes with the same key.
        let own = try a.run(["backup", "create", "--recovery-key", prefix + ".pub", "--out", a.v.scratch.path, "--json"])
        let ownFile = try #require((try own.json()["backup"] as? [String: Any])?["file"] as? String)
        #expect(try CLI.run(["backup", "verify", ownFile, "--recovery-key-file", prefix + ".key"]).status == 0)
    }

    /// A key pair made without a vault is not pinned: its use names the vault, or is refused.
    @Test func anUnpinnedRecoveryKeyNeedsTheExpectedIdentity() throws {
        let a = try Fixture()
        let prefix = a.v.scratch.file("unpinned")
        let made = try CLI.run(["backup", "recovery-keypair", "--out", prefix])
        #expect(made.status == 0 && made.stderr.contains("not pinned"), "\(made.stderr)")
        let created = try a.run(["backup", "create", "--recovery-key", prefix + ".pub", "--out", a.v.scratch.path, "--json"])
        let file = try #require((try created.json()["backup"] as? [String: Any])?["file"] as? String)
        let refused = try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key"])
        #expect(refused.status == 65 && refused.stderr.contains("recovery-keypair --vault") && refused.stderr.contains("--expect-identity"), "\(refused.stderr)")
        let keys = try a.run(["keys", "status", "--json"]).json()["keys"] as? [[String: Any]]
        let identity = try #require(keys?.first { $0["role"] as? String == "vault-identity" })
        let fingerprint = try #require(identity["fingerprint"] as? String)
        #expect(try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key", "--expect-identity", fingerprint]).status == 0)
        // The public key in a file does as well as the fingerprint; another identity does not.
        try Data(((identity["public_key"] as? String) ?? "").utf8).write(to: URL(fileURLWithPath: a.v.scratch.file("identity.txt")))
        #expect(try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key", "--expect-identity", a.v.scratch.file("identity.txt")]).status == 0)
        let other = String(repeating: "ab", count: 16)
        #expect(try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key", "--expect-identity", other]).status == 69)
        #expect(try CLI.run(["backup", "verify", file, "--recovery-key-file", prefix + ".key", "--expect-identity", "nonsense"]).status == 65)
    }
}
