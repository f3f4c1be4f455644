import Foundation
import Testing

/// `privacyctl breach …` end to end.
@Suite("privacyctl breach")
struct BreachCommandTests {
    typealias Exit = PrivacyctlTests.Exit
    typealias Fixture = RequestsCommandTests.Fixture

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }

    @Test func openListCloseWithTheSeventyTwoHourDeadline() throws {
        let f = try Fixture()
        let opened = try f.json(["breach", "open", "--detected-at", "2025-01-10T08:00:00Z", "--summary", "Backup tape lost in transit"])
        let breach = try #require(opened.object["breach"] as? [String: Any])
        let id = try #require(breach["id"] as? String)
        #expect(opened.status == 0 && id.hasPrefix("breach-") && id.count == 23)
        #expect(breach["deadline"] as? String == "2025-01-13T08:00:00.000Z" && breach["status"] as? String == "open")

        let onTime = try f.json(["breach", "list", "--now", "2025-01-13T08:00:00Z"])
        #expect(onTime.object["count"] as? Int == 1 && (onTime.object["breaches"] as? [[String: Any]])?.first?["overdue"] as? Bool == false)
        let late = try f.json(["breach", "list", "--now", "2025-01-13T08:00:00.001Z"])
        #expect((late.object["breaches"] as? [[String: Any]])?.first?["overdue"] as? Bool == true)
        let text = try f.run(["breach", "list", "--now", "2025-01-14T00:00:00Z"])
        #expect(text.stdout.contains("\(id)  detected 2025-01-10T08:00:00.000Z  notify by 2025-01-13T08:00:00.000Z  open  OVERDUE"))

        let closed = try f.json(["breach", "close", id, "--reason", "authority notified", "--notified-authority-at", "2025-01-12T00:00:00Z",
                                 "--at", "2025-01-20T00:00:00Z"])
        let record = try #require(closed.object["breach"] as? [String: Any])
        #expect(closed.status == 0 && record["status"] as? String == "closed" && record["notified_late"] as? Bool == false)
        #expect(try f.json(["breach", "list", "--open"]).object["count"] as? Int == 0)
        let again = try f.json(["breach", "close", id, "--reason", "again"])
        #expect(again.status == Exit.invalidInput && Fixture.code(again.object) == "invalid-input")
        let shown = try f.run(["breach", "show", id])
        #expect(shown.status == 0 && shown.stdout.contains("summary: Backup tape lost in transit"))
        // Audited under the breach id; the summary is not in the log.
        let log = try f.run(["audit", "export"])
        #expect(log.stdout.contains("\"action\":\"breach.open\"") && log.stdout.contains("\"action\":\"breach.close\"") && !log.stdout.contains("tape"))
    }

    @Test func affectedListsTheActorsReadsInsideTheWindow() throws {
        let f = try Fixture()
        for id in ["S2", "S3", "S4"] {
            #expect(try f.run(["records", "put", "--subject", id, "--set", "email=\(id.lowercased())@example.com"]).status == 0)
        }
        func read(_ subject: String, by actor: String) throws {
            let result = try f.run(["records", "get", "--subject", subject, "--field", "email", "--actor", actor])
            #expect(result.status == 0, "\(result.stderr)")
        }
        try read("S3", by: "A")
        let since = Self.now()
        try read("S1", by: "A")
        try read("S2", by: "A")
        try read("S4", by: "B")
        let until = Self.now()
        try read("S3", by: "A")

        let byA = try f.json(["breach", "affected", "--since", since, "--until", until, "--actor", "A"])
        #expect(byA.status == 0 && byA.object["ok"] as? Bool == true)
        let affected = try #require(byA.object["affected"] as? [String: Any])
        let subjects = try #require(affected["subjects"] as? [[String: Any]])
        #expect(subjects.compactMap { $0["subject"] as? String } == ["S1", "S2"] && affected["subject_count"] as? Int == 2)
        #expect(subjects.first?["categories"] as? [String: Int] == ["contact": 1] && subjects.first?["actions"] as? [String: Int] == ["record.read": 1])
        #expect(((affected["totals"] as? [String: Any])?["contact"] as? [String: Int]) == ["subjects": 2, "values": 2])
        let everyone = try f.json(["breach", "affected", "--since", since, "--until", until])
        let all = ((everyone.object["affected"] as? [String: Any])?["subjects"] as? [[String: Any]])?.compactMap { $0["subject"] as? String }
        #expect(all == ["S1", "S2", "S4"])
        let v2 = try f.json(["breach", "affected", "--since", since, "--until", until, "--key-version", "2"])
        #expect((v2.object["affected"] as? [String: Any])?["subject_count"] as? Int == 0)
        let text = try f.run(["breach", "affected", "--since", since, "--until", until, "--actor", "B"])
        #expect(text.status == 0 && text.stdout.contains("S4  1 events (record.read 1)  contact 1") && text.stdout.contains("1 subjects, 1 events"))

        // Bad input: named, non-zero, nothing recorded but a denial.
        let before = try f.counts("breaches")
        let empty = try f.json(["breach", "affected", "--since", until, "--until", since])
        #expect(empty.status == Exit.invalidInput && Fixture.code(empty.object) == "invalid-input")
        #expect(try f.run(["breach", "affected", "--since", since, "--until", until, "--key-version", "x"]).status == Exit.usage)
        #expect(try f.run(["breach", "affected", "--since", "last week", "--until", until]).status == Exit.invalidInput)
        #expect(try f.run(["breach", "close", "breach-ffffffffffffffff", "--reason", "x"]).status == Exit.notFound)
        #expect(try f.run(["breach", "open", "--detected-at", "2025-01-01T00:00:00Z"]).status == Exit.usage)
        #expect(try f.run(["breach", "open", "--detected-at", "2999-01-01T00:00:00Z", "--summary", "x"]).status == Exit.invalidInput)
        let denied = try f.run(["breach", "affected", "--since", since, "--until", until, "--role", "support-agent", "--purpose", "customer-support"])
        #expect(denied.status == Exit.denied)
        let after = try f.counts("breaches")
        #expect(after.rows == before.rows && after.events == before.events + 1)
    }

    @Test func notifyDraftsTheAuthorityAndPersonsAndAuditsEveryAddressRead() throws {
        let f = try Fixture()
        #expect(try f.run(["records", "put", "--subject", "S2", "--set", "email=s2@example.com", "--set", "phone=+44 20 7946 0958"]).status == 0)
        let since = Self.now()
        for subject in ["S1", "S2"] {
            #expect(try f.run(["records", "get", "--subject", subject, "--field", "email", "--actor", "A"]).status == 0)
        }
        let until = Self.now()
        let opened = try f.json(["breach", "open", "--detected-at", "now", "--summary", "Backup tape lost"])
        let id = try #require((opened.object["breach"] as? [String: Any])?["id"] as? String)
        let consequences = f.v.scratch.file("consequences.txt")
        try Data("Phishing is likely.\n".utf8).write(to: URL(fileURLWithPath: consequences))
        let base = ["breach", "notify", id, "--regime", "gdpr", "--regime", "pipl", "--since", since, "--until", until, "--actor", "A",
                    "--consequences-file", consequences, "--measures", "Passwords reset"]
        func files(_ directory: String) throws -> String {
            try FileManager.default.contentsOfDirectory(atPath: directory).sorted().map {
                String(decoding: try Data(contentsOf: URL(fileURLWithPath: directory + "/" + $0)), as: UTF8.self)
            }.joined(separator: "\n")
        }

        let plainDir = f.v.scratch.file("plain")
        let plain = try f.json(base + ["--persons", "csv", "--out", plainDir])
        #expect(plain.status == 0 && plain.object["directory"] as? String == plainDir)
        let manifest = try #require(plain.object["manifest"] as? [String: Any])
        #expect((manifest["counts"] as? [String: Any])?["subjects"] as? Int == 2 && manifest["regimes"] as? [String] == ["gdpr", "pipl"])
        #expect(plain.object["written"] as? [String] == ["authority.json", "authority.txt", "person-notice.txt", "persons.csv", "manifest.json"])
        #expect(try String(contentsOfFile: plainDir + "/persons.csv", encoding: .utf8) == "subject,status,channels,regimes\r\nS1,ok,email,gdpr pipl\r\nS2,ok,email phone,gdpr pipl\r\n")
        #expect(try !files(plainDir).contains("s1@example.com") && files(plainDir).contains("GDPR art. 33(3)(a)"))

        // Plaintext addresses only when asked, each read audited: one per person and the draft.
        let before = try f.counts("breaches")
        let addressDir = f.v.scratch.file("addresses")
        let addresses = try f.run(base + ["--persons", "csv", "--include-addresses", "--out", addressDir])
        #expect(addresses.status == 0 && addresses.stdout.contains("persons.csv holds contact values in plaintext"), "\(addresses.stderr)")
        #expect(try String(contentsOfFile: addressDir + "/persons.csv", encoding: .utf8).contains("S2,ok,email phone,gdpr pipl,s2@example.com,+442079460958"))
        #expect(try f.counts("breaches").events == before.events + 3)
        let reads = try f.json(["audit", "query", "--action", "record.read", "--since", until])
        #expect((reads.object["events"] as? [[String: Any]])?.count == 2, "\(reads.object)")

        // Sealed to a mail tool's key: no address in plaintext; the key opens each notice.
        #expect(try f.run(["export", "keypair", "--out", f.v.scratch.file("mailer")]).status == 0)
        let sealedDir = f.v.scratch.file("sealed")
        let sealed = try f.run(base + ["--persons", "sealed", "--seal-to", f.v.scratch.file("mailer.pub"), "--out", sealedDir])
        #expect(sealed.status == 0 && sealed.stdout.contains("2 persons: 2 reachable") && sealed.stdout.contains("notices sealed to key"), "\(sealed.stderr)")
        #expect(try FileManager.default.fileExists(atPath: sealedDir + "/notice-0002.sealed") && !files(sealedDir).contains("s2@example.com"))

        // Refused and unknown: named, non-zero, nothing written.
        let denied = try f.run(base + ["--persons", "csv", "--out", f.v.scratch.file("denied"), "--role", "support-agent", "--purpose", "customer-support"])
        #expect(denied.status == Exit.denied && !FileManager.default.fileExists(atPath: f.v.scratch.file("denied")))
        let unknown = try f.json(["breach", "notify", "breach-ffffffffffffffff"] + base.dropFirst(3) + ["--persons", "csv", "--out", f.v.scratch.file("unknown")])
        #expect(unknown.status == Exit.notFound && Fixture.code(unknown.object) == "not-found")
        #expect(!FileManager.default.fileExists(atPath: f.v.scratch.file("unknown")))
        let again = try f.run(base + ["--persons", "csv", "--out", plainDir])
        #expect(again.status == Exit.alreadyExists && again.stderr.contains(plainDir))

        // The audit log holds the counts, never the texts or the addresses.
        let log = try f.run(["audit", "export"])
        #expect(log.stdout.contains("\"action\":\"breach.notify\"") && !log.stdout.contains("Phishing") && !log.stdout.contains("Passwords"))
        #expect(!log.stdout.contains("s1@example.com") && !log.stdout.contains("s2@example.com") && !log.stdout.contains("tape"))
    }
}
