import Foundation
import Testing

/// `privacyctl import / records / quality / keys rotate-*` end to end.
@Suite("privacyctl records")
struct RecordsCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    @Test func importPutGetFindQualityAndRotations() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let csv = v.scratch.file("crm.csv")
        try Data("""
            id,full_name,email,phone,country,notes\r
            c1,Ann Lee,ann@example.com,020 7946 0958,GB,vip\r
            c2,Bo Chen,ANN@example.com ,138 0013 8000,CN,\r
            c3,Bad Row,not-an-email,,US,\r

            """.utf8).write(to: URL(fileURLWithPath: csv))
        let imported = try CLI.run(["import", csv, "--max-rejects", "1", "--json"], environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        let summary = try imported.json()
        #expect(summary["created"] as? Int == 2 && summary["rejected"] as? Int == 1)
        #expect(summary["unknown_columns"] as? [String] == ["notes"])
        let again = try CLI.run(["import", csv, "--json"], environment: env).json()
        #expect(again["unchanged"] as? Int == 2 && again["created"] as? Int == 0)

        let put = try CLI.run(["records", "put", "--subject", "c4", "--set", "email=Dee@Example.com", "--set", "country=de", "--json"], environment: env)
        #expect(put.status == 0, "\(put.stderr)")
        #expect(try put.json()["change"] as? String == "created")
        let get = try CLI.run(["records", "get", "--subject", "c4", "--json"], environment: env)
        #expect((try get.json()["fields"] as? [String: String]) == ["email": "dee@example.com", "country": "DE"])
        let find = try CLI.run(["records", "find", "--field", "email", "--value", "ann@EXAMPLE.com", "--json"], environment: env)
        #expect(try find.json()["matches"] as? [String] == ["c1", "c2"])
        let list = try CLI.run(["records", "list", "--json"], environment: env)
        #expect(try list.json()["subjects"] as? [String] == ["c1", "c2", "c4"])
        let bad = try CLI.run(["records", "put", "--subject", "c5", "--set", "email=nope"], environment: env)
        #expect(bad.status == Exit.invalidInput)
        #expect(bad.stderr.contains("field email of subject c5") && !bad.stderr.contains("nope"))
        #expect(try CLI.run(["records", "get", "--subject", "zz"], environment: env).status == Exit.notFound)

        let dupes = try CLI.run(["quality", "duplicates", "--json"], environment: env).json()
        let clusters = try #require(dupes["clusters"] as? [[String: Any]])
        #expect(clusters.count == 1 && clusters[0]["subjects"] as? [String] == ["c1", "c2"])
        let quality = try CLI.run(["quality", "report", "--json"], environment: env).json()
        #expect(quality["subjects"] as? Int == 3)

        let kek = try CLI.run(["keys", "rotate-kek", "--json"], environment: env)
        #expect(kek.status == 0, "\(kek.stderr)")
        let index = try CLI.run(["keys", "rotate-index", "--json"], environment: env)
        #expect(index.status == 0, "\(index.stderr)")
        #expect(try CLI.run(["records", "find", "--field", "phone", "--value", "+86 138 0013 8000", "--json"], environment: env).json()["matches"] as? [String] == ["c2"])
        #expect(try CLI.run(["records", "find", "--field", "phone", "--value", "138 0013 8000", "--region", "CN", "--json"], environment: env).json()["matches"] as? [String] == ["c2"])
        let verify = try CLI.run(["audit", "verify", "--json"], environment: env)
        #expect(try verify.json()["unsigned_tail"] as? Int == 0)
    }

    /// A role that sees a field only masked cannot find or cluster by it from the command
    /// line either (exit 68, the rule named, no value in the message).
    @Test func aMaskedFieldIsNoFindOracle() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        for id in ["c1", "c2"] {
            let put = try CLI.run(["records", "put", "--subject", id, "--set", "national_id=123-45-6789", "--set", "email=\(id)@example.com"], environment: env)
            #expect(put.status == 0, "\(put.stderr)")
        }
        let agent = ["--role", "support-agent", "--purpose", "customer-support"]
        for arguments in [["records", "find", "--field", "national_id", "--value", "123-45-6789"], ["quality", "duplicates", "--field", "national_id"]] {
            for json in [[], ["--json"]] {
                let refused = try CLI.run(arguments + agent + json, environment: env)
                #expect(refused.status == Exit.denied, "\(arguments): \(refused.stderr)")
                let said = refused.stdout + refused.stderr
                #expect(said.contains("national_id needs its full view") && !said.contains("6789"), "\(said)")
            }
        }
        let email = try CLI.run(["records", "find", "--field", "email", "--value", "c1@example.com", "--json"] + agent, environment: env)
        #expect(try email.json()["matches"] as? [String] == ["c1"])
        let full = try CLI.run(["records", "find", "--field", "national_id", "--value", "123456789", "--json"], environment: env)
        #expect(try full.json()["matches"] as? [String] == ["c1", "c2"])
        #expect(try CLI.run(["audit", "verify", "--json"], environment: env).json()["ok"] as? Bool == true)
    }

    /// Canary values go in through import and put, then through every command that does
    /// not print values; no file in the vault and no such output may hold them.
    @Test func canariesNeverLeakIntoFilesOrOutput() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let canaries = ["qzcanary1@example.org", "Qzcanaryname Vexwold", "Z9CANARY77", "qzcanary-rejected", "QZCANARYCOLUMN"]
        let csv = v.scratch.file("c.csv")
        try Data("""
            id,full_name,email,national_id,phone,extra
            k1,\(canaries[1]),\(canaries[0]),\(canaries[2]),+44 20 7946 0999,\(canaries[4])
            k2,Other,\(canaries[3]),,,
            k3,"Broken,row

            """.utf8).write(to: URL(fileURLWithPath: csv))
        var outputs: [CLI.Result] = []
        outputs.append(try CLI.run(["import", csv], environment: env))
        outputs.append(try CLI.run(["import", csv, "--json"], environment: env))
        outputs.append(try CLI.run(["records", "put", "--subject", "k4", "--set", "email=qzcanary4@example.org"], environment: env))
        outputs.append(try CLI.run(["records", "put", "--subject", "k5", "--set", "email=qzcanary-bad"], environment: env))
        outputs.append(try CLI.run(["records", "find", "--field", "email", "--value", canaries[0]], environment: env))
        outputs.append(try CLI.run(["records", "find", "--field", "national_id", "--value", canaries[2], "--json"], environment: env))
        outputs.append(try CLI.run(["records", "list"], environment: env))
        outputs.append(try CLI.run(["quality", "report"], environment: env))
        outputs.append(try CLI.run(["quality", "duplicates", "--json"], environment: env))
        outputs.append(try CLI.run(["keys", "rotate-kek"], environment: env))
        outputs.append(try CLI.run(["keys", "rotate-index"], environment: env))
        outputs.append(try CLI.run(["audit", "export"], environment: env))
        outputs.append(try CLI.run(["audit", "query", "--subject", "k1", "--json"], environment: env))
        // Asked for explicitly: this one may print values, and must still find them.
        let get = try CLI.run(["records", "get", "--subject", "k1", "--json"], environment: env)
        #expect(get.stdout.contains(canaries[0]))
        for output in outputs {
            for canary in canaries + ["qzcanary", "QZCANARY", "Z9CANARY", "Vexwold"] {
                #expect(!output.stdout.localizedCaseInsensitiveContains(canary) && !output.stderr.localizedCaseInsensitiveContains(canary),
                        "output holds \(canary): \(output.stdout.prefix(200)) \(output.stderr.prefix(200))")
            }
        }
        let files = try FileManager.default.subpathsOfDirectory(atPath: v.vault)
        #expect(files.contains { $0.hasPrefix("Reports/") })
        for file in files {
            let path = v.vault + "/" + file
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            for canary in canaries + ["qzcanary", "QZCANARY", "Z9CANARY", "Vexwold", "vexwold"] {
                #expect(data.range(of: Data(canary.utf8)) == nil, "\(file) holds \(canary)")
            }
        }
    }
}

extension RecordsCommandTests {
    /// A real `privacyctl import` killed with SIGKILL part-way, then run again, ends in the
    /// same state as an uninterrupted import into another vault.
    @Test func importKilledWithSIGKILLThenRerunEndsLikeOneRun() throws {
        var text = "id,full_name,email,phone,country\n"
        for i in 0..<3000 {
            text += "k\(String(format: "%05d", i)),Name \(i),n\(i)@example.com,+1 415 555 \(String(format: "%04d", i % 10000)),US\n"
        }
        let killed = try PrivacyctlTests.KeyFileVault()
        let csv = killed.scratch.file("big.csv")
        try Data(text.utf8).write(to: URL(fileURLWithPath: csv))
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = ["import", csv, "--batch-size", "25", "--vault", killed.vault, "--key-file", killed.keyFile]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: 0.6)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let env = ["PRIVACYKIT_VAULT": killed.vault, "PRIVACYKIT_KEY_FILE": killed.keyFile]
        let rerun = try CLI.run(["import", csv, "--batch-size", "25", "--json"], environment: env)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let summary = try rerun.json()
        #expect((summary["created"] as? Int ?? 0) + (summary["unchanged"] as? Int ?? 0) == 3000)
        #expect(summary["updated"] as? Int == 0 && summary["rejected"] as? Int == 0)

        let straight = try PrivacyctlTests.KeyFileVault()
        let env2 = ["PRIVACYKIT_VAULT": straight.vault, "PRIVACYKIT_KEY_FILE": straight.keyFile]
        #expect(try CLI.run(["import", csv], environment: env2).status == 0)
        let a = try CLI.run(["records", "list", "--limit", "10000", "--json"], environment: env).json()["subjects"] as? [String]
        let b = try CLI.run(["records", "list", "--limit", "10000", "--json"], environment: env2).json()["subjects"] as? [String]
        #expect(a?.count == 3000 && a == b)
        for id in ["k00000", "k01499", "k02999"] {
            let x = try CLI.run(["records", "get", "--subject", id, "--json"], environment: env).json()["fields"] as? [String: String]
            let y = try CLI.run(["records", "get", "--subject", id, "--json"], environment: env2).json()["fields"] as? [String: String]
            #expect(x != nil && x == y)
        }
        #expect(try CLI.run(["audit", "verify", "--json"], environment: env).json()["ok"] as? Bool == true)
    }
}
