import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Testing

@Suite("Breaches")
struct BreachTests {
    static let officer = RequestsTests.officer

    @Test func theNotificationDeadlineIs72HoursAfterDetection() throws {
        let s = try RequestsTests.Setup(subjects: [])
        let detected = utc("2025-03-30T00:30:00.250Z")  // across the EU summer-time change: UTC hours, not wall-clock ones
        #expect(BreachDeadline.notification(detectedAt: detected) == utc("2025-04-02T00:30:00.250Z"))
        let breach = try s.vault.breaches.open(detectedAt: detected, summary: "Laptop of Jane Roe stolen\nwith an export on it", context: Self.officer)
        #expect(breach.id.range(of: #"^breach-[0-9a-f]{16}$"#, options: .regularExpression) != nil)
        #expect(breach.deadline == detected.addingTimeInterval(72 * 3600) && breach.status == .open)
        func overdue(at time: Date) throws -> Bool { try s.vault.breaches.list(now: time, context: Self.officer).first?.overdue == true }
        #expect(try !overdue(at: breach.deadline))  // notifying at the deadline is on time
        #expect(try overdue(at: breach.deadline.addingTimeInterval(0.001)))
        #expect(try s.vault.breaches.get(breach.id, now: breach.deadline.addingTimeInterval(1), context: Self.officer).overdue)

        let closed = try s.vault.breaches.close(breach.id, reason: "authority notified, case 12", notifiedAuthorityAt: breach.deadline.addingTimeInterval(60),
                                             at: breach.deadline.addingTimeInterval(120), context: Self.officer)
        #expect(closed.status == .closed && !closed.overdue && closed.notifiedLate == true && closed.closeReason == "authority notified, case 12")
        #expect(try s.vault.breaches.list(openOnly: true, context: Self.officer).isEmpty)
        expectError(.invalidInput) { try s.vault.breaches.close(breach.id, reason: "again", context: Self.officer) }

        // Audited with the breach id; the summary is stored but never in the log.
        let rows = try auditRows(s.vault, where: "request_id = '\(breach.id)'")
        #expect(rows.map { $0["action"] as String } == ["breach.open", "breach.close"])
        #expect((rows[0]["reason"] as String) == "\(breach.id): detected at 2025-03-30T00:30:00.250Z, notify the authority by 2025-04-02T00:30:00.250Z")
        #expect((rows[1]["reason"] as String).contains("after 72 hours"))
        #expect(try auditRows(s.vault).allSatisfy { !(($0["reason"] as String?) ?? "").contains("Jane") })
        #expect(try s.vault.breaches.get(breach.id, context: Self.officer).summary == "Laptop of Jane Roe stolen\nwith an export on it")
    }

    @Test func badBreachInputIsRefusedAndWritesNothing() throws {
        let s = try RequestsTests.Setup(subjects: [])
        let before = try s.eventCount()
        expectError(.invalidInput) { try s.vault.breaches.open(detectedAt: Date().addingTimeInterval(3600), summary: "x", context: Self.officer) }
        expectError(.invalidInput) { try s.vault.breaches.open(detectedAt: Date(), summary: " \n ", context: Self.officer) }
        expectError(.notFound) { try s.vault.breaches.close("breach-0000000000000000", reason: "x", context: Self.officer) }
        expectError(.notFound) { try s.vault.breaches.get("breach-nope", context: Self.officer) }
        let breach = try s.vault.breaches.open(detectedAt: utc("2025-01-10T00:00:00Z"), summary: "phishing", context: Self.officer)
        expectError(.invalidInput) { try s.vault.breaches.close(breach.id, reason: "x", notifiedAuthorityAt: utc("2025-01-09T00:00:00Z"), context: Self.officer) }
        expectError(.invalidInput) { try s.vault.breaches.affected(since: utc("2025-01-02T00:00:00Z"), until: utc("2025-01-01T00:00:00Z"), context: Self.officer) }
        expectError(.notFound) {
            try s.vault.breaches.affected(since: utc("2025-01-01T00:00:00Z"), until: utc("2025-01-02T00:00:00Z"), breach: "breach-nope", context: Self.officer)
        }
        #expect(try s.eventCount() == before + 1)
        let agent = AccessContext(actor: "agent", role: "support-agent", purpose: "customer-support")
        expectError(.denied) { try s.vault.breaches.open(detectedAt: Date(), summary: "x", context: agent) }
        expectError(.denied) { try s.vault.breaches.affected(since: utc("2025-01-01T00:00:00Z"), until: Date(), context: agent) }
        let denied = try #require(try auditRows(s.vault).last)
        #expect(denied["action"] as String == "breach.affected" && denied["outcome"] as String == "denied")
    }

    /// Actor A reads s1 and s2 inside the window and s3 before and after it; B reads s4
    /// inside it; a read of s5 is denied inside it.
    struct Window {
        let s: RequestsTests.Setup
        let since: Date
        let until: Date

        init() throws {
            let s = try RequestsTests.Setup(subjects: [])
            self.s = s
            let setup = AccessContext(actor: "setup", role: "admin", purpose: "privacy-compliance")
            for id in ["s1", "s2", "s3", "s4", "s5"] {
                try s.vault.records.put(subject: id, values: ["email": "\(id)@example.com", "phone": "+44 20 7946 0958", "full_name": "Jane Roe"], context: setup)
            }
            let a = AccessContext(actor: "A", role: "admin", purpose: "customer-support")
            let b = AccessContext(actor: "B", role: "admin", purpose: "customer-support")
            _ = try s.vault.records.get(subject: "s3", fields: ["email"], context: a)
            Self.pause()
            since = Date()
            Self.pause()
            _ = try s.vault.records.get(subject: "s1", fields: ["email", "phone", "full_name"], context: a)
            _ = try s.vault.records.get(subject: "s1", fields: ["email"], context: a)
            _ = try s.vault.records.get(subject: "s2", fields: ["email"], context: a)
            _ = try s.vault.records.get(subject: "s4", fields: ["email"], context: b)
            expectError(.denied) { try s.vault.records.get(subject: "s5", fields: ["email"], context: AccessContext(actor: "A", role: "marketer", purpose: "marketing-email")) }
            Self.pause()
            until = Date()
            Self.pause()
            _ = try s.vault.records.get(subject: "s3", fields: ["email"], context: a)
        }

        /// Audit times have milliseconds: a clear gap on each side of the window's edges.
        static func pause() { Thread.sleep(forTimeInterval: 0.02) }

        func affected(actor: String? = nil, kekVersion: Int? = nil) throws -> BreachImpact {
            try s.vault.breaches.affected(since: since, until: until, actor: actor, kekVersion: kekVersion, context: BreachTests.officer)
        }
    }

    @Test func affectedListsExactlyTheSubjectsReadInTheWindowByTheActor() throws {
        let w = try Window()
        let byA = try w.affected(actor: "A")
        #expect(byA.subjects.map(\.subject) == ["s1", "s2"])
        let s1 = byA.subjects[0]
        #expect(s1.events == 2 && s1.actions == ["record.read": 2] && s1.categories == ["contact": 3, "identity": 1] && !s1.erased)
        #expect(byA.subjects[1].categories == ["contact": 1] && byA.events == 3 && byA.unresolved.isEmpty)
        #expect(byA.totals == ["contact": .init(subjects: 2, values: 4), "identity": .init(subjects: 1, values: 1)])

        // Without an actor: B's read too; the setup writes and the reads of s3 are outside.
        #expect(try w.affected().subjects.map(\.subject) == ["s1", "s2", "s4"])
        #expect(try w.affected(actor: "C").subjects.isEmpty)

        // The lookup itself is one audited event with the counts, not the ids.
        let event = try #require(try auditRows(w.s.vault).last)
        #expect(event["action"] as String == "breach.affected" && event["actor"] as String == "dpo" && event["subject"] as String? == nil)
        let reason: String = event["reason"]
        #expect(reason.contains("actor C: 0 subjects"))
        let all = try auditRows(w.s.vault, where: "action = 'breach.affected'").map { $0["reason"] as String }
        #expect(all.count == 3 && all[0].contains("2 subjects (0 erased), 3 events") && !all.joined().contains("s1"))
    }

    @Test func affectedMarksErasedSubjectsFiltersByKeyVersionAndKeepsUnknownPseudonyms() throws {
        let w = try Window()
        try w.s.erase("s2")
        try w.s.vault.store.write { db in try db.execute(sql: "UPDATE subjects SET kek_version = 2 WHERE id = 's4'") }
        let all = try w.affected()
        #expect(all.subjects.map(\.subject) == ["s1", "s2", "s4"] && all.subjects.map(\.erased) == [false, true, false])
        // Under KEK v1 now: s1 only (s2 has no key left, s4 is under v2).
        #expect(try w.affected(kekVersion: 1).subjects.map(\.subject) == ["s1"])
        #expect(try w.affected(kekVersion: 2).subjects.map(\.subject) == ["s4"])
        #expect(try w.affected(kekVersion: 3).subjects.isEmpty)
        expectError(.invalidInput) { try w.affected(kekVersion: 0) }

        // An event about an id the vault never held (a service's own record): reported by pseudonym.
        let since = Date()
        BreachTests.Window.pause()
        try w.s.vault.audit.record([AuditEntry(.recordRead, subjectID: "ghost", fields: ["email"])], context: AccessContext(actor: "svc", role: "service"))
        BreachTests.Window.pause()
        let ghost = try w.s.vault.breaches.affected(since: since, until: Date(), context: Self.officer)
        let pseudonym = try w.s.vault.core.subjectPseudonym("ghost")
        #expect(ghost.subjects.isEmpty && ghost.unresolved == [pseudonym])
    }
}
