import Foundation
import Testing

/// Flags mean one thing (issue 22, point 2): a single-valued option given twice is a usage
/// error instead of keeping the last, and a mistyped subcommand is named with the nearest one.
@Suite("privacyctl's command line")
struct CommandLineTests {
    @Test func aSingleValuedOptionGivenTwiceIsAUsageError() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let twice = try CLI.run(["audit", "query", "--actor", "a", "--actor", "b", "--json"], environment: v.environment())
        #expect(twice.status == 64 && twice.stderr.contains("--actor is given 2 times"), "\(twice.stderr)")
        let error = try twice.json()
        #expect(error["ok"] as? Bool == false && ((error["error"] as? [String: Any])?["message"] as? String)?.contains("--actor") == true)
        let equals = try CLI.run(["records", "put", "--subject=S1", "--subject=S2", "--set", "email=a@example.org"], environment: v.environment())
        #expect(equals.status == 64 && equals.stderr.contains("--subject"), "\(equals.stderr)")
        // Options that repeat by design still do.
        let repeated = try CLI.run(["records", "put", "--subject", "S1", "--set", "email=a@example.org", "--set", "full_name=Ana"], environment: v.environment())
        #expect(repeated.status == 0, "\(repeated.stderr)")
        #expect(try CLI.run(["records", "get", "--subject", "S1", "--field", "email", "--field", "full_name"], environment: v.environment()).status == 0)
    }

    @Test func aMistypedSubcommandIsNamedWithTheNearestOne() throws {
        let top = try CLI.run(["recods", "get", "--subject", "S1"])
        #expect(top.status == 64 && top.stderr.contains("unknown command 'recods'; did you mean 'records'?"), "\(top.stderr)")
        let nested = try CLI.run(["records", "gte", "--subject", "S1", "--json"])
        #expect(nested.status == 64 && nested.stderr.contains("privacyctl records: unknown command 'gte'; did you mean 'get'?"), "\(nested.stderr)")
        let nestedJSON = try nested.json()
        #expect(nested.stdout.split(separator: "\n").count == 1 && nestedJSON["ok"] as? Bool == false)
        let far = try CLI.run(["zzzz"])
        #expect(far.status == 64 && far.stderr.contains("one of: init, keys"), "\(far.stderr)")
        #expect(!far.stderr.contains("Unknown option") && !far.stderr.contains("Unexpected argument"))
    }

    /// A wrapper that always passes the vault and the secret works with the commands that
    /// need no secret too; they ignore it, and say so with --verbose.
    @Test func keylessCommandsAcceptTheSecretOptionsAndIgnoreThem() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let passphrase = try v.scratch.secret("passphrase", "not used at all")
        let receipt = v.scratch.file("missing-receipt.json")
        let keyless: [(command: [String], status: Int32)] = [
            (["audit", "verify"], 0), (["audit", "public-key"], 0), (["policy", "validate"], 0), (["backup", "list"], 0),
            (["access", "check", "--role", "admin", "--action", "read", "--field", "email", "--purpose", "privacy-compliance"], 0),
            (["erase", "verify-receipt", receipt], 66), (["consent", "verify-receipt", receipt], 66),
        ]
        for (command, status) in keyless {
            let name = command.prefix(2).joined(separator: " ")
            let withKey = try CLI.run(command + ["--vault", v.vault, "--key-file", v.keyFile])
            #expect(withKey.status == status, "\(name) --key-file: \(withKey.stderr)")
            let withPassphrase = try CLI.run(command + ["--vault", v.vault, "--passphrase-file", passphrase, "--verbose"])
            #expect(withPassphrase.status == status, "\(name) --passphrase-file: \(withPassphrase.stderr)")
            #expect(withPassphrase.stderr.contains("\(name) needs no root secret: --passphrase-file ignored"), "\(name): \(withPassphrase.stderr)")
            #expect(!withKey.stderr.contains("ignored"), "said only with --verbose")
        }
    }

    /// One name per concept: --out for output paths, --after-seq for sequence numbers and
    /// --since for times; the old names work for one release, noted on standard error.
    @Test func renamedOptionsKeepTheirOldNamesForOneRelease() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        #expect(try CLI.run(["records", "put", "--subject", "S1", "--set", "email=a@example.org"], environment: env).status == 0)
        let old = try CLI.run(["audit", "export", "--output", v.scratch.file("old.jsonl")], environment: env)
        #expect(old.status == 0 && old.stderr.contains("--output is now --out"), "\(old.stderr)")
        let both = try CLI.run(["audit", "export", "--output", v.scratch.file("a.jsonl"), "--out", v.scratch.file("b.jsonl")], environment: env)
        #expect(both.status == 64 && both.stderr.contains("--output is the old name of --out"), "\(both.stderr)")
        let lines = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n") ?? [] }
        let after = try CLI.run(["audit", "export", "--after-seq", "2", "--out", v.scratch.file("after.jsonl")], environment: env)
        #expect(after.status == 0 && !after.stderr.contains("now"))
        let seqs = { (path: String) in
            lines(path).compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }.compactMap { $0["seq"] as? Int }
        }
        #expect(seqs(v.scratch.file("after.jsonl")).first == 3, "\(seqs(v.scratch.file("after.jsonl")))")
        let oldSince = try CLI.run(["audit", "export", "--since", "3", "--out", v.scratch.file("since-seq.jsonl")], environment: env)
        #expect(oldSince.stderr.contains("read as --after-seq 2") && seqs(v.scratch.file("since-seq.jsonl")).first == 3, "\(oldSince.stderr)")
        let future = try CLI.run(["audit", "export", "--since", "2999-01-01", "--out", v.scratch.file("future.jsonl")], environment: env)
        #expect(future.status == 0 && lines(v.scratch.file("future.jsonl")).isEmpty, "no event is that recent")
        let badTime = try CLI.run(["audit", "export", "--since", "yesterday"], environment: env)
        #expect(badTime.status == 65 && badTime.stderr.contains("--since"))
    }

    /// A signed receipt or a report is evidence: nothing overwrites one without --force. The
    /// same subject's receipt again (erasing an erased subject) leaves the file as it is.
    @Test func evidenceIsNeverOverwrittenWithoutForce() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        for id in ["S1", "S2"] {
            #expect(try CLI.run(["records", "put", "--subject", id, "--set", "email=\(id)@example.org"], environment: env).status == 0)
        }
        let receipt = v.scratch.file("receipt.json")
        let contents = { (path: String) in FileManager.default.contents(atPath: path) }
        let text = { (path: String) in String(decoding: contents(path) ?? Data(), as: UTF8.self) }
        #expect(try CLI.run(["erase", "S1", "--reason", "asked", "--out", receipt], environment: env).status == 0)
        let first = contents(receipt)
        let again = try CLI.run(["erase", "S1", "--reason", "asked", "--out", receipt], environment: env)
        #expect(again.status == 0 && contents(receipt) == first, "\(again.stderr)")
        let other = try CLI.run(["erase", "S2", "--reason", "asked", "--out", receipt], environment: env)
        #expect(other.status == 72 && other.stderr.contains("--force"), "\(other.stderr)")
        #expect(try CLI.run(["records", "get", "--subject", "S2"], environment: env).status == 0, "refused before erasing")
        #expect(contents(receipt) == first)
        let forced = try CLI.run(["erase", "S2", "--reason", "asked", "--out", receipt, "--force"], environment: env)
        #expect(forced.status == 0 && contents(receipt) != first)
        let oldName = try CLI.run(["erase", "S2", "--reason", "asked", "--receipt", v.scratch.file("old.json")], environment: env)
        #expect(oldName.status == 0 && oldName.stderr.contains("--receipt is now --out"))

        let report = v.scratch.file("report.html")
        try Data("an earlier report".utf8).write(to: URL(fileURLWithPath: report))
        let refused = try CLI.run(["report", "--out", report], environment: env)
        #expect(refused.status == 72 && text(report) == "an earlier report", "\(refused.stderr)")
        #expect(try CLI.run(["report", "--out", report, "--force"], environment: env).status == 0)
        #expect(text(report).contains("<html"))
    }
}

