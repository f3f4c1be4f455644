import Foundation
import GRDB
import Testing

/// `privacyctl requests …` end to end.
@Suite("privacyctl requests")
struct RequestsCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    /// A vault with subject S1, and the environment that opens it.
    struct Fixture {
        let v: PrivacyctlTests.KeyFileVault
        let env: [String: String]

        init() throws {
            v = try PrivacyctlTests.KeyFileVault()
            env = v.environment(actor: "dpo")
            let put = try CLI.run(["records", "put", "--subject", "S1", "--set", "email=s1@example.com"], environment: env)
            #expect(put.status == 0, "\(put.stderr)")
        }

        func run(_ arguments: [String]) throws -> CLI.Result { try CLI.run(arguments, environment: env) }

        /// Runs with --json and returns the exit status and the one JSON object printed.
        func json(_ arguments: [String]) throws -> (status: Int32, object: [String: Any]) {
            let result = try run(arguments + ["--json"])
            return (result.status, try result.json())
        }

        /// Rows of `table` and audit events, read straight from the store.
        func counts(_ table: String) throws -> (rows: Int, events: Int) {
            let queue = try DatabaseQueue(path: v.vault + "/vault.sqlite")
            defer { try? queue.close() }
            return try queue.read { db in
                (try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(table)") ?? 0, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events") ?? 0)
            }
        }

        /// The `code` of a JSON error object.
        static func code(_ object: [String: Any]) -> String? { (object["error"] as? [String: Any])?["code"] as? String }
    }

    @Test func openListShowExtendVerifyCloseAnswerOneJSONObjectEach() throws {
        let f = try Fixture()
        let opened = try f.json(["requests", "open", "--type", "erasure", "--subject", "S1", "--regime", "gdpr",
                                 "--received", "2025-01-31T10:00:00Z", "--reference", "T-42"])
        #expect(opened.status == 0 && opened.object["ok"] as? Bool == true)
        let request = try #require(opened.object["request"] as? [String: Any])
        let id = try #require(request["id"] as? String)
        #expect(id.hasPrefix("dsr-") && id.count == 20)
        #expect(request["deadline"] as? String == "2025-02-28T10:00:00.000Z" && request["status"] as? String == "open")
        #expect(request["type"] as? String == "erasure" && request["regime"] as? String == "gdpr" && request["subject"] as? String == "S1")
        #expect(request["subject_state"] as? String == "live" && request["days_waiting_for_identity"] as? Double == 0)

        // Overdue strictly after the deadline.
        let atDeadline = try f.json(["requests", "list", "--overdue", "--now", "2025-02-28T10:00:00Z"])
        #expect(atDeadline.status == 0 && atDeadline.object["count"] as? Int == 0)
        let after = try f.json(["requests", "list", "--overdue", "--now", "2025-02-28T10:00:01Z"])
        let overdue = try #require((after.object["requests"] as? [[String: Any]])?.first)
        #expect(after.object["count"] as? Int == 1 && overdue["id"] as? String == id && overdue["overdue"] as? Bool == true)

        let extended = try f.json(["requests", "extend", id, "--reason", "many systems", "--at", "2025-02-10T00:00:00Z"])
        let ext = try #require(extended.object["request"] as? [String: Any])
        #expect(extended.status == 0 && ext["deadline"] as? String == "2025-04-30T10:00:00.000Z" && ext["status"] as? String == "extended")
        let twice = try f.json(["requests", "extend", id, "--reason", "again", "--at", "2025-02-11T00:00:00Z"])
        #expect(twice.status == Exit.invalidInput && twice.object["ok"] as? Bool == false && Fixture.code(twice.object) == "invalid-input")

        // The arrival of the identity needs how and how surely.
        #expect(try f.run(["requests", "verify-identity", id, "--verified-at", "2025-02-04T00:00:00Z"]).status == Exit.usage)
        let badMethod = try f.run(["requests", "verify-identity", id, "--verified-at", "2025-02-04T00:00:00Z", "--method", "selfie", "--degree", "high"])
        #expect(badMethod.status == Exit.invalidInput && badMethod.stderr.contains("unknown identity method 'selfie'"))
        let verify = try f.json(["requests", "verify-identity", id, "--requested-at", "2025-02-01T00:00:00Z", "--verified-at", "2025-02-04T00:00:00Z",
                                 "--method", "matching-data-points", "--degree", "reasonable"])
        let verified = try #require(verify.object["request"] as? [String: Any])
        #expect(verify.status == 0 && verified["days_waiting_for_identity"] as? Double == 3 && verified["deadline"] as? String == "2025-05-03T10:00:00.000Z")
        #expect(verified["identity_method"] as? String == "matching-data-points" && verified["identity_degree"] as? String == "reasonable")
        #expect(verified["identity_required"] as? String == "reasonable" && verified["deadline_basis"] as? String == "GDPR art. 12(3)")
        #expect(try f.run(["requests", "verify-identity", id]).status == Exit.usage)

        let refused = try f.json(["requests", "close", id, "--outcome", "refused", "--at", "2025-03-01T00:00:00Z"])
        #expect(refused.status == Exit.invalidInput && Fixture.code(refused.object) == "invalid-input")
        // Completed, while the subject is still stored: refused, and it says what to do.
        let early = try f.run(["requests", "close", id, "--outcome", "completed"])
        #expect(early.status == Exit.invalidInput && early.stderr.contains("subject S1 is still stored") && early.stderr.contains("privacyctl erase S1 --request \(id)"))
        #expect(try f.run(["erase", "S1", "--reason", "GDPR art. 17", "--request", id]).status == 0)
        let closed = try f.json(["requests", "close", id, "--outcome", "completed"])
        let done = try #require(closed.object["request"] as? [String: Any])
        #expect(closed.status == 0 && done["status"] as? String == "closed" && done["outcome"] as? String == "completed" && done["answered_late"] as? Bool == true)
        #expect((done["proof"] as? [String: Any])?["kind"] as? String == "erasure-receipt")

        let shown = try f.run(["requests", "show", id])
        #expect(shown.status == 0 && shown.stdout.contains("\(id)  erasure  gdpr  subject S1 (erased)") && shown.stdout.contains("reference T-42"))
        #expect(shown.stdout.contains("completed on erasure-receipt, audit event") && shown.stdout.contains("deadline under GDPR art. 12(3): 1 month, 3 months once extended"))
        let listed = try f.run(["requests", "list", "--open"])
        #expect(listed.status == 0 && listed.stdout == "0 requests\n")
        // Every change is in the audit log under the request's id, and the log still verifies.
        let events = try f.json(["audit", "query", "--subject", "S1"])
        let actions = (events.object["events"] as? [[String: Any]])?.filter { $0["request_id"] as? String == id }.compactMap { $0["action"] as? String }
        #expect(actions == ["request.open", "request.update", "request.update", "record.erase", "request.close", "record.read"])
        #expect(try f.json(["audit", "verify"]).object["ok"] as? Bool == true)
    }

    @Test func badInputExitsNonZeroNamesTheValueAndWritesNothing() throws {
        let f = try Fixture()
        let before = try f.counts("subject_requests")
        let type = try f.json(["requests", "open", "--type", "complaint", "--subject", "S1", "--regime", "gdpr"])
        #expect(type.status == Exit.invalidInput && Fixture.code(type.object) == "invalid-input")
        #expect(((type.object["error"] as? [String: Any])?["message"] as? String)?.contains("unknown request type 'complaint'") == true)
        let regime = try f.run(["requests", "open", "--type", "access", "--subject", "S1", "--regime", "lgpd"])
        #expect(regime.status == Exit.invalidInput && regime.stderr.contains("unknown regime 'lgpd' (one of gdpr, ccpa, pdpa-tw, pipl)"))
        let time = try f.run(["requests", "open", "--type", "access", "--subject", "S1", "--regime", "gdpr", "--received", "yesterday"])
        #expect(time.status == Exit.invalidInput && time.stderr.contains("--received takes an ISO 8601 time"))
        let subject = try f.run(["requests", "open", "--type", "access", "--subject", "S9", "--regime", "gdpr"])
        #expect(subject.status == Exit.notFound && subject.stderr.contains("no subject S9"))
        let id = try f.json(["requests", "show", "dsr-ffffffffffffffff"])
        #expect(id.status == Exit.notFound && Fixture.code(id.object) == "not-found")
        #expect(try f.run(["requests", "close", "dsr-ffffffffffffffff", "--outcome", "completed"]).status == Exit.notFound)
        #expect(try f.run(["requests", "close", "dsr-ffffffffffffffff", "--outcome", "done"]).status == Exit.invalidInput)
        #expect(try f.run(["requests", "open", "--type", "access", "--subject", "S1"]).status == Exit.usage)
        // Refused role: exit 68, recorded as a denial and nothing else.
        let denied = try f.run(["requests", "open", "--type", "access", "--subject", "S1", "--regime", "gdpr", "--role", "support-agent", "--purpose", "customer-support"])
        #expect(denied.status == Exit.denied)
        let after = try f.counts("subject_requests")
        #expect(after.rows == before.rows && after.events == before.events + 1)

        // --note-file keeps the note out of ps; the note stays out of the log.
        let note = try f.v.scratch.secret("note.txt", "Jane Roe called from 020 7946 0958\n")
        let open = try f.json(["requests", "open", "--type", "access", "--subject", "S1", "--regime", "ccpa", "--note-file", note])
        let request = try #require(open.object["request"] as? [String: Any])
        #expect(open.status == 0 && request["has_note"] as? Bool == true && request["note"] == nil)
        let shown = try f.json(["requests", "show", try #require(request["id"] as? String)])
        #expect((shown.object["request"] as? [String: Any])?["note"] as? String == "Jane Roe called from 020 7946 0958")
        let log = try f.run(["audit", "export"])
        // Whole phrases: a bare "7946" turns up by chance in the log's hex hashes (seen).
        #expect(log.status == 0 && !log.stdout.contains("Jane") && !log.stdout.contains("Roe called") && !log.stdout.contains("7946 0958"))
    }
}
