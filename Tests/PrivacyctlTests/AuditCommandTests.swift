import Foundation
import GRDB
import Testing

/// `privacyctl audit …` end to end.
@Suite("privacyctl audit")
struct AuditCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    struct Setup {
        let v: PrivacyctlTests.KeyFileVault
        var store: String { v.vault + "/vault.sqlite" }

        init() throws {
            v = try PrivacyctlTests.KeyFileVault()
        }

        func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CLI.Result {
            try CLI.run(arguments + ["--vault", v.vault], environment: environment)
        }

        func runWithKey(_ arguments: [String]) throws -> CLI.Result {
            try run(arguments + ["--key-file", v.keyFile])
        }

        /// Raw SQL on the store with the append-only triggers dropped.
        func tamper(_ sql: String) throws {
            let queue = try DatabaseQueue(path: store)
            try queue.writeWithoutTransaction { db in
                for t in ["audit_events_no_update", "audit_events_no_delete", "audit_checkpoints_no_update", "audit_checkpoints_no_delete"] {
                    try db.execute(sql: "DROP TRIGGER IF EXISTS \(t)")
                }
                try db.execute(sql: sql)
            }
            try queue.close()
        }
    }

    @Test func verifyAGoodLogNeedsNoSecret() throws {
        let s = try Setup()
        let r = try s.run(["audit", "verify", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let json = try r.json()
        #expect(json["ok"] as? Bool == true)
        #expect(json["events"] as? Int == 1)
        #expect(json["checkpoints_verified"] as? Int == 1)
        let text = try s.run(["audit", "verify"])
        #expect(text.stdout.contains("audit log OK"))
    }

    @Test func everyCommandThatWritesEventsEndsWithACheckpoint() throws {
        let s = try Setup()
        let newKey = s.v.scratch.file("new.key")
        #expect(try CLI.run(["keys", "generate-key-file", newKey]).status == 0)
        #expect(try s.runWithKey(["keys", "rotate-root", "--new-key-file", newKey, "--actor", "ops-bot"]).status == 0)
        let report = try s.run(["audit", "verify", "--json"]).json()
        #expect(report["events"] as? Int == 2)
        #expect(report["unsigned_tail"] as? Int == 0)
        let query = try s.run(["audit", "query", "--key-file", newKey, "--action", "keys.rotate-root", "--json"])
        #expect(query.status == 0, "\(query.stderr)")
        let events = try #require(try query.json()["events"] as? [[String: Any]])
        #expect(events.count == 1)
        #expect(events.first?["actor"] as? String == "ops-bot")
    }

    @Test func failedUnlocksAreAuditedWithoutTouchingTheKeyring() throws {
        let s = try Setup()
        let wrong = s.v.scratch.file("wrong.key")
        #expect(try CLI.run(["keys", "generate-key-file", wrong]).status == 0)
        let keyring = try Data(contentsOf: URL(fileURLWithPath: s.v.vault + "/Keys/keyring.json"))
        for _ in 0..<2 {
            let r = try s.run(["keys", "status", "--key-file", wrong, "--actor", "mallory"])
            #expect(r.status == Exit.wrongKey)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.v.vault + "/Keys/keyring.json")) == keyring)
        let query = try s.runWithKey(["audit", "query", "--action", "vault.unlock", "--json"])
        let events = try #require(try query.json()["events"] as? [[String: Any]])
        #expect(events.count == 2)
        #expect(events.allSatisfy { $0["actor"] as? String == "mallory" && $0["outcome"] as? String == "failed" })
        #expect(try s.run(["audit", "verify", "--json"]).json()["ok"] as? Bool == true)
    }

    @Test func tamperedLogExitsWithIntegrityFailureAndTheSequenceNumber() throws {
        let s = try Setup()
        for _ in 0..<3 { _ = try s.runWithKey(["audit", "query"]) }  // events 2…4
        try s.tamper("UPDATE audit_events SET actor = 'eve' WHERE seq = 3")
        let r = try s.run(["audit", "verify"])
        #expect(r.status == Exit.integrity)
        #expect(r.stdout.contains("FAILED at seq 3"))
        let json = try s.run(["audit", "verify", "--json"])
        #expect(json.status == Exit.integrity)
        let problem = try #require(try json.json()["problem"] as? [String: Any])
        #expect(problem["seq"] as? Int == 3)
        #expect(problem["kind"] as? String == "altered")
    }

    @Test func witnessFileDetectsACutTail() throws {
        let s = try Setup()
        let witness = s.v.scratch.file("witness.jsonl")
        for _ in 0..<3 { _ = try s.runWithKey(["audit", "query"]) }
        let cp = try s.runWithKey(["audit", "checkpoint", "--out", witness, "--json"])
        #expect(cp.status == 0, "\(cp.stderr)")
        let seq = try #require(try cp.json()["seq"] as? Int)
        #expect(try s.run(["audit", "verify", "--against", witness]).status == 0)
        try s.tamper("DELETE FROM audit_events WHERE seq >= \(seq - 1); DELETE FROM audit_checkpoints WHERE seq >= \(seq - 1)")
        #expect(try s.run(["audit", "verify"]).status == 0)  // self-consistent without the witness
        let r = try s.run(["audit", "verify", "--against", witness, "--json"])
        #expect(r.status == Exit.integrity)
        let problem = try #require(try r.json()["problem"] as? [String: Any])
        #expect(problem["kind"] as? String == "witness-beyond-end")
        #expect(problem["seq"] as? Int == seq)
    }

    @Test func auditorVerifiesACopyWithThePublicKey() throws {
        let s = try Setup()
        let pk = try s.run(["audit", "public-key", "--json"])
        #expect(pk.status == 0)
        let key = try #require(try pk.json()["public_key"] as? String)
        #expect(try s.run(["audit", "public-key"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) == key)
        let copy = s.v.scratch.file("copy.sqlite")
        try FileManager.default.copyItem(atPath: s.store, toPath: copy)
        let ok = try CLI.run(["audit", "verify", "--store", copy, "--public-key=\(key)", "--json"])
        #expect(ok.status == 0, "\(ok.stderr)")
        let other = try PrivacyctlTests.KeyFileVault()
        let otherKey = try #require(try CLI.run(["audit", "public-key", "--vault", other.vault, "--json"]).json()["public_key"] as? String)
        let wrong = try CLI.run(["audit", "verify", "--store", copy, "--public-key=\(otherKey)"])
        #expect(wrong.status == Exit.integrity)
        #expect(try CLI.run(["audit", "verify", "--store", copy]).status == Exit.usage)
        #expect(try CLI.run(["audit", "verify", "--store", copy, "--public-key", "nonsense"]).status == Exit.invalidInput)
    }

    @Test func exportWritesJSONLinesAndRefusesToOverwrite() throws {
        let s = try Setup()
        let out = s.v.scratch.file("audit.jsonl")
        let r = try s.runWithKey(["audit", "export", "--format", "jsonl", "--out", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try r.json()["events"] as? Int == 2)  // vault.create + audit.export
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        for line in lines {
            let event = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(event["seq"] != nil && event["hash"] != nil && event["action"] != nil)
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: out)
        #expect(attributes[.posixPermissions] as? Int == 0o600)
        #expect(try s.runWithKey(["audit", "export", "--out", out]).status == Exit.alreadyExists)
        let stdout = try s.runWithKey(["audit", "export", "--since", "2"])
        #expect(stdout.status == 0)
        #expect(stdout.stdout.split(separator: "\n").count == 2)  // audit.export ×2, seq 2 and 3
        #expect(try s.runWithKey(["audit", "export", "--format", "csv"]).status == Exit.usage)
        // A bad time is a bad argument value, 65, like every other command's times.
        #expect(try s.runWithKey(["audit", "query", "--since", "yesterday"]).status == Exit.invalidInput)
        #expect(try s.runWithKey(["audit", "query", "--action", "made.up"]).status == Exit.usage)
    }

    @Test func canarySubjectNeverAppearsInOutput() throws {
        let s = try Setup()
        let canary = "CANARY-cli-8e1b-jane.doe@example.com"
        var outputs: [CLI.Result] = []
        outputs.append(try s.runWithKey(["audit", "query", "--subject", canary]))
        outputs.append(try s.runWithKey(["audit", "query", "--subject", canary, "--json"]))
        outputs.append(try s.runWithKey(["audit", "export"]))
        outputs.append(try s.runWithKey(["audit", "checkpoint", "--json"]))
        outputs.append(try s.run(["audit", "verify", "--json"]))
        for r in outputs {
            #expect(r.status == 0, "\(r.stderr)")
            #expect(!r.stdout.contains("CANARY") && !r.stderr.contains("CANARY"))
        }
        // The query found its own event by the canary's pseudonym.
        let events = try #require(try outputs[1].json()["events"] as? [[String: Any]])
        #expect(events.count == 2)
        #expect(events.allSatisfy { ($0["subject"] as? String)?.count == 32 })
        let store = try Data(contentsOf: URL(fileURLWithPath: s.store))
        #expect(store.range(of: Data("CANARY".utf8)) == nil)
    }
}
