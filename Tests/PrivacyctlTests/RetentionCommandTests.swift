import Foundation
import GRDB
import Testing

@Suite("privacyctl retention, holds, erase, restrict")
struct RetentionCommandTests {
    /// A vault with `count` imported subjects: leads idle since 2020, customers closed in
    /// 2022 (contact fields due), closed in 2015 (contact fields and anonymization due), and
    /// recent leads (nothing due).
    struct Fixture {
        let v: PrivacyctlTests.KeyFileVault
        let env: [String: String]

        init(count: Int = 120) throws {
            v = try PrivacyctlTests.KeyFileVault()
            env = v.environment(actor: "ops")
            var csv = "id,full_name,email,phone,country,segment,last_interaction,closed_at\n"
            for i in 0..<count {
                let id = String(format: "c%04d", i)
                let tail: String
                switch i % 4 {
                case 0: tail = "lead,2020-01-01,"
                case 1: tail = "customer,2025-01-01,2022-01-01"
                case 2: tail = "closed,2016-01-01,2015-01-01"
                default: tail = "lead,2026-05-01,"
                }
                csv += "\(id),Name \(i),\(id)@canary.example,+1 415 555 \(String(format: "%04d", i)),US,\(tail)\n"
            }
            try Data(csv.utf8).write(to: URL(fileURLWithPath: v.scratch.file("crm.csv")))
            let imported = try CLI.run(["import", v.scratch.file("crm.csv"), "--json"], environment: env)
            #expect(imported.status == 0, "\(imported.stderr)")
        }

        func run(_ arguments: [String], extra: [String: String] = [:]) throws -> CLI.Result {
            try CLI.run(arguments, environment: env.merging(extra) { $1 })
        }

        /// What the sweep left, comparable across vaults (no times, keys or receipt ids).
        func state() throws -> [String] {
            let subjects = try run(["records", "list", "--limit", "100000", "--json"]).json()["subjects"] as? [String] ?? []
            var lines = subjects.map { "subject \($0)" }
            for id in subjects where id.hasSuffix("1") || id.hasSuffix("5") {
                let fields = try run(["records", "get", "--subject", id, "--json"]).json()["fields"] as? [String: String] ?? [:]
                lines.append("\(id) \(fields.keys.sorted())")
            }
            let erased = try run(["erase", "list", "--json"]).json()["erased"] as? [[String: Any]] ?? []
            lines += erased.map { "erased \($0["subject"] as? String ?? "?") \($0["rule"] as? String ?? "")" }.sorted()
            return lines
        }

        /// retention.action events per (subject, rule): any count above one is an action done twice.
        func actionCounts() throws -> [String: Int] {
            let queue = try DatabaseQueue(path: v.vault + "/vault.sqlite")
            defer { try? queue.close() }
            return try queue.read { db in
                var counts: [String: Int] = [:]
                for row in try Row.fetchAll(db, sql: "SELECT subject, reason FROM audit_events WHERE action = 'retention.action' AND outcome = 'allowed'") {
                    let reason: String = row[1]
                    let rule = reason.split(separator: ":").first.map(String.init) ?? reason
                    counts["\(row[0] as String) \(rule)", default: 0] += 1
                }
                return counts
            }
        }
    }

    @Test(arguments: ["inside:2", "after:1", "inside:7"])
    func aSweepKilledWithSIGKILLIsFinishedByTheNextRun(point: String) throws {
        let straight = try Fixture()
        let reference = try straight.run(["sweep", "--now", "2026-06-01", "--batch-size", "8", "--json"])
        #expect(reference.status == 0, "\(reference.stderr)")
        let summary = try reference.json()["summary"] as? [String: Any]
        #expect(summary?["acted"] as? Int == 30 + 30 + 30 + 30)

        let f = try Fixture()
        let killed = try f.run(["sweep", "--now", "2026-06-01", "--batch-size", "8", "--json"], extra: ["PRIVACYKIT_TEST_KILL_SWEEP": point])
        #expect(killed.status != 0)
        let again = try f.run(["sweep", "--now", "2026-06-01", "--batch-size", "8", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect((try again.json()["summary"] as? [String: Any])?["resumed_run"] as? Int != nil)
        #expect(try f.state() == straight.state())
        let counts = try f.actionCounts()
        #expect(counts.count == 120 && counts.values.allSatisfy { $0 == 1 })
        #expect(try f.run(["audit", "verify", "--json"]).json()["ok"] as? Bool == true)
        // And once more: nothing left to do.
        let third = try f.run(["sweep", "--now", "2026-06-01", "--json"]).json()["summary"] as? [String: Any]
        #expect(third?["due"] as? Int == 0)
    }

    @Test func dryRunReportAndHoldsFromTheCommandLine() throws {
        let f = try Fixture(count: 8)
        let report = try f.run(["retention", "report", "--now", "2026-06-01", "--json"])
        #expect(report.status == 0, "\(report.stderr)")
        let rules = (try report.json()["report"] as? [String: Any])?["rules"] as? [[String: Any]] ?? []
        let dueNow = Dictionary(uniqueKeysWithValues: rules.map { ($0["rule"] as? String ?? "", $0["due_now"] as? Int ?? -1) })
        #expect(dueNow == ["lead-inactive": 2, "lead-marketing-withdrawn": 0, "customer-contact-after-closure": 4, "customer-tax-records": 2])
        // The recent leads (last interaction 2026-05-01) fall due in 2028, not within 30 days.
        let soon = try f.run(["retention", "report", "--now", "2028-04-15", "--json"]).json()["report"] as? [String: Any]
        let lead = (soon?["rules"] as? [[String: Any]])?.first { $0["rule"] as? String == "lead-inactive" }
        #expect(lead?["due_soon"] as? Int == 2)

        let placed = try f.run(["holds", "place", "--subject", "c0000", "--reason", "litigation", "--json"])
        #expect(placed.status == 0, "\(placed.stderr)")
        let holdID = try #require((try placed.json()["hold"] as? [String: Any])?["id"] as? String)
        let dry = try f.run(["sweep", "--dry-run", "--now", "2026-06-01", "--json"])
        #expect(dry.status == 0)
        let actions = try dry.json()["actions"] as? [[String: Any]] ?? []
        #expect(actions.count == 8)  // 2 leads, 4 contact erasures, 2 anonymizations; c0000's is held
        #expect(actions.filter { $0["outcome"] as? String == "held" }.map { $0["subject"] as? String } == ["c0000"])
        let listed = try f.run(["records", "list", "--json"]).json()["subjects"] as? [String]
        #expect(listed == (0..<8).map { String(format: "c%04d", $0) })

        let refused = try f.run(["erase", "c0000", "--reason", "request", "--json"])
        #expect(refused.status == 73)
        #expect(refused.stderr.contains(holdID) && refused.stderr.contains("litigation"))
        #expect(try f.run(["holds", "release", holdID, "--reason", "settled"]).status == 0)
        let list = try f.run(["holds", "list", "--all", "--json"]).json()["holds"] as? [[String: Any]]
        #expect(list?.first?["released_by"] as? String == "ops")
    }

    /// An erase while another process reads the store says `"scrub": "pending"`; the next
    /// command finishes the scrub, after which the erased subject's wrapped key and sealed
    /// fields are in none of the store's files.
    @Test func aPendingScrubIsSaidAndFinishedByTheNextCommand() throws {
        let f = try Fixture(count: 4)
        let store = f.v.vault + "/vault.sqlite"
        var config = Configuration()
        config.readonly = true
        config.allowsUnsafeTransactions = true
        // Kept open to the end: the last connection's close would checkpoint by itself.
        let reader = try DatabaseQueue(path: store, configuration: config)
        defer { try? reader.close() }
        let row = try #require(try reader.read { db in try Row.fetchOne(db, sql: "SELECT wrapped_key, sealed FROM subjects WHERE id = 'c0002'") })
        let needles: [[UInt8]] = [[UInt8](row["wrapped_key"] as Data), [UInt8](row["sealed"] as Data)]
        func filesHolding() throws -> [String] {
            try ["", "-wal", "-shm"].filter { suffix in
                guard let bytes = FileManager.default.contents(atPath: store + suffix) else { return false }
                return needles.contains { LeakSuiteTests.contains(bytes, $0) }
            }
        }
        try reader.inDatabase { db in
            try db.execute(sql: "BEGIN DEFERRED")
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM subjects")
        }
        let erased = try f.run(["erase", "c0002", "--reason", "GDPR art. 17", "--json"])
        #expect(erased.status == 0, "\(erased.stderr)")
        let body = try erased.json()
        #expect(body["scrub"] as? String == "pending" && body["wal_scrubbed"] as? Bool == false)
        #expect(try !filesHolding().isEmpty, "pending should mean the old pages are still there")
        try reader.inDatabase { try $0.execute(sql: "ROLLBACK") }
        #expect(try f.run(["records", "list", "--json"]).status == 0)
        let left = try filesHolding()
        #expect(left.isEmpty, "the erased subject is still in vault.sqlite\(left)")
    }

    /// `erase verify-receipt` checks the receipt as issued: a second `subject` member (which
    /// other JSON readers may take instead) or an unknown member makes it invalid (exit 69).
    @Test func anErasureReceiptWithADuplicateOrUnknownMemberDoesNotVerify() throws {
        let f = try Fixture(count: 4)
        let file = f.v.scratch.file("receipt.json")
        #expect(try f.run(["erase", "c0001", "--reason", "GDPR art. 17", "--out", file]).status == 0)
        let issued = try String(contentsOfFile: file, encoding: .utf8)
        #expect(issued.contains("\"subject\" : \"c0001\""))
        let variants = [
            "as issued": (issued, Int32(0)),
            "duplicate subject first": ("{\n  \"subject\" : \"c0002\",\n" + issued.dropFirst(2), Int32(69)),
            "duplicate subject last": (String(issued.dropLast(3)) + ",\n  \"subject\" : \"c0002\"\n}\n", Int32(69)),
            "extra member": ("{\n  \"note\" : \"x\",\n" + issued.dropFirst(2), Int32(69)),
        ]
        for (name, (text, status)) in variants {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            let checked = try f.run(["erase", "verify-receipt", file, "--subject", "c0001"])
            #expect(checked.status == status, "\(name): \(checked.stderr)")
            if status != 0 { #expect(checked.stderr.contains("exact form"), "\(name): \(checked.stderr)") }
            #expect(try f.run(["erase", "verify-receipt", file, "--subject", "c0002"]).status == 69)
        }
    }

    @Test func eraseVerifyAndRestrictFromTheCommandLine() throws {
        let f = try Fixture(count: 4)
        let receipt = f.v.scratch.file("receipt.json")
        let erased = try f.run(["erase", "c0003", "--reason", "GDPR art. 17", "--request", "dsr-1", "--out", receipt, "--json"])
        #expect(erased.status == 0, "\(erased.stderr)")
        let body = try erased.json()
        #expect(body["already_erased"] as? Bool == false)
        #expect((body["receipt"] as? [String: Any])?["request_id"] as? String == "dsr-1")
        let verified = try f.run(["erase", "verify-receipt", receipt, "--subject", "c0003", "--json"])
        let valid = try verified.json()["valid"] as? Bool
        #expect(verified.status == 0 && valid == true)
        var text = try String(contentsOfFile: receipt, encoding: .utf8)
        text = text.replacingOccurrences(of: "GDPR art. 17", with: "GDPR art. 18")
        try text.write(toFile: receipt, atomically: true, encoding: .utf8)
        #expect(try f.run(["erase", "verify-receipt", receipt]).status == 69)
        #expect(body["scrub"] as? String == "done" && body["wal_scrubbed"] as? Bool == true)
        let again = try f.run(["erase", "c0003", "--reason", "again", "--json"]).json()
        #expect(again["already_erased"] as? Bool == true)
        #expect(try f.run(["records", "get", "--subject", "c0003"]).status == 66)
        #expect(try f.run(["erase", "nobody", "--reason", "x"]).status == 66)

        #expect(try f.run(["restrict", "c0001", "--reason", "accuracy contested", "--json"]).status == 0)
        let read = try f.run(["records", "get", "--subject", "c0001", "--role", "support-agent", "--purpose", "customer-support"])
        #expect(read.status == 68 && read.stderr.contains("restricted"))
        #expect(try f.run(["records", "get", "--subject", "c0001", "--role", "privacy-officer", "--purpose", "legal-claims"]).status == 0)
        let restricted = try f.run(["restrict", "list", "--json"]).json()["restrictions"] as? [[String: Any]]
        #expect(restricted?.map { $0["subject"] as? String } == ["c0001"])
        #expect(try f.run(["restrict", "lift", "c0001", "--reason", "confirmed"]).status == 0)
        #expect(try f.run(["records", "get", "--subject", "c0001", "--role", "support-agent", "--purpose", "customer-support"]).status == 0)
    }

    @Test func badInputIsRefusedWithItsExitCode() throws {
        let f = try Fixture(count: 1)
        #expect(try f.run(["sweep", "--now", "yesterday"]).status == 65)
        #expect(try f.run(["sweep", "--batch-size", "0"]).status == 65)
        #expect(try f.run(["holds", "place", "--reason", "x"]).status == 64)
        #expect(try f.run(["holds", "place", "--category", "nope", "--reason", "x"]).status == 65)
        #expect(try f.run(["holds", "release", "hold-none", "--reason", "x"]).status == 66)
        #expect(try f.run(["sweep", "--role", "support-agent", "--purpose", "customer-support"]).status == 68)
        // A damaged record fails its action; the sweep goes on and exits 1.
        let queue = try DatabaseQueue(path: f.v.vault + "/vault.sqlite")
        try queue.write { db in try db.execute(sql: "UPDATE subjects SET sealed = x'FF' WHERE id = 'c0000'") }
        try queue.close()
        let failed = try f.run(["sweep", "--now", "2026-06-01", "--json"])
        #expect(failed.status == 1)
        let summary = try failed.json()["summary"] as? [String: Any]
        #expect(summary?["failed"] as? Int == 1)
    }
}
