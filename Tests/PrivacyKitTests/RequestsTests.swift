import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Testing

/// A time in UTC from ISO 8601 text (tests only: crashes on a typo).
func utc(_ text: String) -> Date { ISOTime.parse(text)! }

/// Audit events of a vault's store, read with plain SQL.
func auditRows(_ vault: Vault, where condition: String = "1 = 1") throws -> [StoreRow] {
    try vault.store.read { db in
        try StoreRow.fetchAll(db, sql: "SELECT action, subject, fields, outcome, reason, request_id, actor FROM audit_events WHERE \(condition) ORDER BY seq")
    }
}

@Suite("Data-subject requests")
struct RequestsTests {
    static let officer = AccessContext(actor: "dpo", role: "privacy-officer", purpose: "privacy-compliance")

    /// A vault with `subjects` (as ConsentTests makes it), and helpers.
    struct Setup {
        let base: ConsentTests.Setup
        var vault: Vault { base.vault }

        init(subjects: [String] = ["s1"]) throws { base = try ConsentTests.Setup(subjects: subjects) }

        func open(_ type: DataSubjectRequestType = .access, _ regime: PrivacyRegime = .gdpr, subject: String = "s1", received: String,
                  note: String? = nil) throws -> DataSubjectRequest {
            try vault.requests.open(type, regime: regime, subject: subject, receivedAt: utc(received), note: note, context: RequestsTests.officer)
        }

        /// Erases `subject` (crypto-shredding; a tombstone stays).
        func erase(_ subject: String) throws {
            try vault.retention.erase(subject: subject, reason: "test", context: keysAdmin)
        }

        func eventCount() throws -> Int { try vault.store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM audit_events") ?? 0 } }
    }

    static func gdpr(_ received: String, extended: Bool = false, _ type: DataSubjectRequestType = .access) -> Date {
        RequestDeadline.deadline(regime: .gdpr, type: type, receivedAt: utc(received), extended: extended, asOf: utc(received))
    }

    static func ccpa(_ received: String, extended: Bool = false, _ type: DataSubjectRequestType = .access) -> Date {
        RequestDeadline.deadline(regime: .ccpa, type: type, receivedAt: utc(received), extended: extended, asOf: utc(received))
    }

    @Test func gdprIsOneCalendarMonthAtMonthEndsAndInLeapYears() {
        #expect(Self.gdpr("2026-01-31T10:00:00Z") == utc("2026-02-28T10:00:00Z"))
        #expect(Self.gdpr("2028-01-31T10:00:00Z") == utc("2028-02-29T10:00:00Z"))  // leap year
        #expect(Self.gdpr("2028-01-29T10:00:00Z") == utc("2028-02-29T10:00:00Z"))
        #expect(Self.gdpr("2026-01-29T10:00:00Z") == utc("2026-02-28T10:00:00Z"))
        #expect(Self.gdpr("2026-03-31T23:59:59Z") == utc("2026-04-30T23:59:59Z"))
        #expect(Self.gdpr("2026-12-15T23:30:00Z") == utc("2027-01-15T23:30:00Z"))  // across the year
        #expect(Self.gdpr("2026-02-28T08:00:00Z") == utc("2026-03-28T08:00:00Z"))
        // Extended: three months from receipt (not one month, then two more from that day).
        #expect(Self.gdpr("2026-01-31T10:00:00Z", extended: true) == utc("2026-04-30T10:00:00Z"))
        #expect(Self.gdpr("2027-11-30T10:00:00Z", extended: true) == utc("2028-02-29T10:00:00Z"))
        #expect(Self.gdpr("2026-10-31T10:00:00Z", extended: true, .erasure) == utc("2027-01-31T10:00:00Z"))
        #expect(RequestDeadline.period(regime: .gdpr, type: .objection, extended: true) == .months(3))
    }

    @Test func ccpaIs45DaysPlus45AndFifteenBusinessDaysForOptOuts() {
        #expect(Self.ccpa("2026-01-01T00:00:00Z") == utc("2026-02-15T00:00:00Z"))
        #expect(Self.ccpa("2026-01-01T00:00:00Z", extended: true) == utc("2026-04-01T00:00:00Z"))
        #expect(Self.ccpa("2026-02-01T12:00:00Z") == utc("2026-03-18T12:00:00Z"))
        #expect(Self.ccpa("2028-02-01T12:00:00Z") == utc("2028-03-17T12:00:00Z"))  // 29 February counts
        #expect(Self.ccpa("2026-12-20T06:00:00Z", .erasure) == utc("2027-02-03T06:00:00Z"))
        // Opt-out of sale (objection) and limit (restriction): 15 business days, no extension.
        #expect(Self.ccpa("2026-11-23T09:00:00Z", .objection) == utc("2026-12-14T09:00:00Z"))  // a Monday: three weeks
        #expect(Self.ccpa("2026-11-28T09:00:00Z", .restriction) == utc("2026-12-18T09:00:00Z"))  // a Saturday
        #expect(Self.ccpa("2026-11-27T18:00:00Z", .objection) == utc("2026-12-18T18:00:00Z"))  // a Friday
        #expect(!RequestDeadline.canExtend(regime: .ccpa, type: .objection) && RequestDeadline.canExtend(regime: .ccpa, type: .erasure))
        #expect(RequestDeadline.canExtend(regime: .gdpr, type: .objection))
    }

    @Test func waitingForIdentityPausesTheGDPRClockButNotTheCCPAOne() {
        let received = utc("2026-03-01T00:00:00Z")
        let asked = utc("2026-03-05T00:00:00Z")
        let verified = utc("2026-03-15T00:00:00Z")  // 10 days later
        func deadline(_ regime: PrivacyRegime, requested: Date?, verified: Date?, asOf: Date, extended: Bool = false) -> Date {
            RequestDeadline.deadline(regime: regime, type: .access, receivedAt: received, extended: extended,
                                     identityRequestedAt: requested, identityVerifiedAt: verified, asOf: asOf)
        }
        #expect(deadline(.gdpr, requested: asked, verified: verified, asOf: utc("2026-09-01T00:00:00Z")) == utc("2026-04-11T00:00:00Z"))
        #expect(deadline(.gdpr, requested: asked, verified: verified, asOf: verified, extended: true) == utc("2026-06-11T00:00:00Z"))
        #expect(deadline(.ccpa, requested: asked, verified: verified, asOf: verified) == utc("2026-04-15T00:00:00Z"))
        // Still waiting: the GDPR deadline moves with the clock, the CCPA one does not.
        #expect(deadline(.gdpr, requested: asked, verified: nil, asOf: utc("2026-03-20T00:00:00Z")) == utc("2026-04-16T00:00:00Z"))
        #expect(deadline(.ccpa, requested: asked, verified: nil, asOf: utc("2026-03-20T00:00:00Z")) == utc("2026-04-15T00:00:00Z"))
        // Asking after the deadline passed does not stop the clock.
        #expect(deadline(.gdpr, requested: utc("2026-04-05T00:00:00Z"), verified: nil, asOf: utc("2026-05-01T00:00:00Z")) == utc("2026-04-01T00:00:00Z"))
        // The wait is reported under both regimes.
        #expect(RequestDeadline.identityWait(identityRequestedAt: asked, identityVerifiedAt: verified, asOf: .distantFuture) == 10 * 86_400)
    }

    @Test func overdueOnlyAfterTheDeadlineInstant() throws {
        let s = try Setup()
        let request = try s.open(received: "2025-01-31T10:00:00Z")
        // Opened now, long after its deadline: overdue from the start.
        #expect(request.deadline == utc("2025-02-28T10:00:00Z") && request.status == .open && request.overdue)
        let deadline = request.deadline
        func overdue(at time: Date) throws -> [String] {
            try s.vault.requests.list(overdueOnly: true, now: time, context: Self.officer).map(\.id)
        }
        #expect(try overdue(at: deadline.addingTimeInterval(-1)) == [])
        #expect(try overdue(at: deadline) == [])  // answering at the deadline is on time
        #expect(try overdue(at: deadline.addingTimeInterval(0.001)) == [request.id])
        let shown = try s.vault.requests.get(request.id, now: deadline.addingTimeInterval(1), context: Self.officer)
        #expect(shown.overdue && shown.deadline == deadline)
        // Closed: no longer overdue, and recorded as answered late.
        let closed = try s.vault.requests.close(request.id, outcome: .completed, at: deadline.addingTimeInterval(60), context: Self.officer)
        #expect(closed.status == .closed && !closed.overdue && closed.answeredLate == true)
        #expect(try overdue(at: deadline.addingTimeInterval(3600)) == [])
        #expect(try s.vault.requests.list(openOnly: true, context: Self.officer).isEmpty)
        #expect(try s.vault.requests.list(context: Self.officer).map(\.id) == [request.id])
    }

    @Test func extendedOnceWithAReasonBeforeTheDeadline() throws {
        let s = try Setup()
        let gdpr = try s.open(.erasure, .gdpr, received: "2025-01-31T10:00:00Z")
        expectError(.invalidInput) { try s.vault.requests.extend(gdpr.id, reason: "  ", at: utc("2025-02-10T00:00:00Z"), context: Self.officer) }
        let extended = try s.vault.requests.extend(gdpr.id, reason: "complex: many systems to search", at: utc("2025-02-10T00:00:00Z"), context: Self.officer)
        #expect(extended.deadline == utc("2025-04-30T10:00:00Z") && extended.status == .extended)
        #expect(extended.extensionReason == "complex: many systems to search" && extended.extendedAt == utc("2025-02-10T00:00:00Z"))
        let again = expectError(.invalidInput) { try s.vault.requests.extend(gdpr.id, reason: "more", at: utc("2025-02-11T00:00:00Z"), context: Self.officer) }
        #expect(again?.message.contains("already extended on 2025-02-10T00:00:00.000Z") == true)

        let ccpa = try s.open(.access, .ccpa, received: "2025-01-01T00:00:00Z")
        #expect(ccpa.deadline == utc("2025-02-15T00:00:00Z"))
        #expect(try s.vault.requests.extend(ccpa.id, reason: "volume", at: utc("2025-02-14T00:00:00Z"), context: Self.officer).deadline == utc("2025-04-01T00:00:00Z"))

        // Too late: the first period has passed.
        let late = try s.open(.access, .gdpr, received: "2025-01-01T00:00:00Z")
        let refused = expectError(.invalidInput) { try s.vault.requests.extend(late.id, reason: "volume", at: utc("2025-02-01T00:00:01Z"), context: Self.officer) }
        #expect(refused?.message.contains("passed its deadline 2025-02-01T00:00:00.000Z") == true)
        // A CCPA opt-out cannot be extended at all.
        let optOut = try s.open(.objection, .ccpa, received: "2025-01-06T00:00:00Z")
        expectError(.invalidInput) { try s.vault.requests.extend(optOut.id, reason: "volume", at: utc("2025-01-07T00:00:00Z"), context: Self.officer) }
        // Nothing changed by the refusals.
        #expect(try s.vault.requests.get(late.id, context: Self.officer).extendedAt == nil)
    }

    @Test func identityVerificationIsRecordedOncePausesGDPRAndIsReported() throws {
        let s = try Setup()
        let gdpr = try s.open(.access, .gdpr, received: "2025-03-01T00:00:00Z")
        let waiting = try s.vault.requests.markAwaitingIdentity(gdpr.id, requestedAt: utc("2025-03-05T00:00:00Z"), context: Self.officer)
        #expect(waiting.status == .awaitingIdentity && waiting.daysWaitingForIdentity == 0)
        let listed = try #require(try s.vault.requests.list(now: utc("2025-03-20T00:00:00Z"), context: Self.officer).first)
        #expect(listed.daysWaitingForIdentity == 15 && listed.deadline == utc("2025-04-16T00:00:00Z"))
        // Verified before asked for, twice, or asked for twice: refused.
        expectError(.invalidInput) { try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-04T00:00:00Z"), context: Self.officer) }
        expectError(.invalidInput) { try s.vault.requests.markAwaitingIdentity(gdpr.id, requestedAt: utc("2025-03-06T00:00:00Z"), context: Self.officer) }
        let verified = try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-15T00:00:00Z"), context: Self.officer)
        #expect(verified.status == .open && verified.daysWaitingForIdentity == 10 && verified.deadline == utc("2025-04-11T00:00:00Z"))
        expectError(.invalidInput) { try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-16T00:00:00Z"), context: Self.officer) }

        // CCPA: the same wait, reported, moves nothing.
        let ccpa = try s.open(.access, .ccpa, received: "2025-03-01T00:00:00Z")
        let both = try s.vault.requests.recordIdentity(ccpa.id, requestedAt: utc("2025-03-05T00:00:00Z"), verifiedAt: utc("2025-03-15T00:00:00Z"), context: Self.officer)
        #expect(both.daysWaitingForIdentity == 10 && both.deadline == utc("2025-04-15T00:00:00Z") && both.deadline == ccpa.deadline)
        expectError(.invalidInput) { try s.vault.requests.recordIdentity(ccpa.id, requestedAt: nil, verifiedAt: nil, context: Self.officer) }
        expectError(.invalidInput) { try s.vault.requests.markAwaitingIdentity(ccpa.id, requestedAt: utc("2025-02-28T00:00:00Z"), context: Self.officer) }
    }

    @Test func everyChangeIsAuditedWithTheSubjectAndRequestIdAndNoOperatorText() throws {
        let s = try Setup()
        let request = try s.vault.requests.open(.erasure, regime: .gdpr, subject: "s1", receivedAt: utc("2025-05-01T09:00:00Z"), reference: "TICKET-4711",
                                              note: "Caller Jane Roe, +44 20 7946 0958", context: Self.officer)
        #expect(request.id.range(of: #"^dsr-[0-9a-f]{16}$"#, options: .regularExpression) != nil)
        #expect(request.hasNote && request.note == nil && request.reference == "TICKET-4711" && request.subjectState == .live)
        try s.vault.requests.markAwaitingIdentity(request.id, requestedAt: utc("2025-05-02T09:00:00Z"), context: Self.officer)
        try s.vault.requests.identityVerified(request.id, verifiedAt: utc("2025-05-03T09:00:00Z"), context: Self.officer)
        try s.vault.requests.extend(request.id, reason: "backups of Jane Roe to search", at: utc("2025-05-04T09:00:00Z"), context: Self.officer)
        let closed = try s.vault.requests.close(request.id, outcome: .completed, reason: "done for Jane Roe", at: utc("2025-05-05T09:00:00Z"), context: Self.officer)
        #expect(closed.outcome == .completed && closed.closedBy == "dpo" && closed.answeredLate == false)

        let rows = try auditRows(s.vault, where: "request_id = '\(request.id)'")
        #expect(rows.map { $0["action"] as String } == ["request.open", "request.update", "request.update", "request.update", "request.close"])
        let pseudonym = try s.vault.core.subjectPseudonym("s1")
        for row in rows {
            #expect(row["subject"] as String? == pseudonym && row["actor"] as String == "dpo" && row["outcome"] as String == "allowed")
            let reason: String = row["reason"]
            #expect(reason.hasPrefix(request.id + ": ") && !reason.contains("Jane") && !reason.contains("7946"))
        }
        #expect((rows[0]["reason"] as String).contains("deadline 2025-06-01T09:00:00.000Z"))
        #expect((rows[4]["reason"] as String).contains("completed at 2025-05-05T09:00:00.000Z") && (rows[4]["reason"] as String).contains("on time"))
        // The note is sealed in the store, and read back (audited) by `request`.
        let stored: Data = try #require(try s.vault.store.read { try Data.fetchOne($0, sql: "SELECT note FROM subject_requests") })
        #expect(!String(decoding: stored, as: UTF8.self).contains("Jane"))
        let shown = try s.vault.requests.get(request.id, context: Self.officer)
        #expect(shown.note == "Caller Jane Roe, +44 20 7946 0958")
        let read = try #require(try auditRows(s.vault).last)
        #expect(read["action"] as String == "record.read" && read["fields"] as String == "request_note" && read["subject"] as String? == pseudonym)
        // A closed request takes no more changes.
        let again = expectError(.invalidInput) { try s.vault.requests.close(request.id, outcome: .withdrawn, context: Self.officer) }
        #expect(again?.message.contains("was closed") == true)
        expectError(.invalidInput) { try s.vault.requests.markAwaitingIdentity(request.id, requestedAt: utc("2025-05-06T09:00:00Z"), context: Self.officer) }
    }

    @Test func badInputIsRefusedByNameAndWritesNothing() throws {
        let s = try Setup()
        let before = try s.eventCount()
        let type = expectError(.invalidInput) { try DataSubjectRequestType(parsing: "complaint") }
        #expect(type?.message == "unknown request type 'complaint' (one of access, export, rectification, restriction, objection, erasure)")
        #expect(try PrivacyRegime(parsing: "gdpr") == .gdpr)
        #expect(expectError(.invalidInput) { try PrivacyRegime(parsing: "lgpd") }?.message.contains("'lgpd'") == true)
        let unknown = expectError(.notFound) { try s.vault.requests.close("dsr-0000000000000000", outcome: .completed, context: Self.officer) }
        #expect(unknown?.message.contains("dsr-0000000000000000") == true)
        expectError(.notFound) { try s.vault.requests.get("dsr-nope", context: Self.officer) }
        expectError(.notFound) { try s.open(subject: "nobody", received: "2025-01-01T00:00:00Z") }
        expectError(.invalidInput) { try s.vault.requests.open(.access, regime: .gdpr, subject: "s1", receivedAt: Date().addingTimeInterval(86_400), context: Self.officer) }
        expectError(.invalidInput) { try s.vault.requests.open(.access, regime: .gdpr, subject: "s1", reference: "jane@example.com", context: Self.officer) }
        let open = try s.open(received: "2025-01-01T00:00:00Z")
        let afterOpen = try s.eventCount()
        #expect(afterOpen == before + 1)
        let refusal = expectError(.invalidInput) { try s.vault.requests.close(open.id, outcome: .refused, context: Self.officer) }
        #expect(refusal?.message.contains("needs a reason") == true)
        expectError(.invalidInput) { try s.vault.requests.close(open.id, outcome: .completed, at: utc("2024-12-31T00:00:00Z"), context: Self.officer) }
        #expect(try s.eventCount() == afterOpen)
        #expect(try s.vault.requests.get(open.id, context: Self.officer).status == .open)
        // A role without the `requests` action is refused, and the refusal audited.
        let agent = AccessContext(actor: "agent", role: "support-agent", purpose: "customer-support")
        expectError(.denied) { try s.vault.requests.open(.access, regime: .gdpr, subject: "s1", context: agent) }
        let denied = try #require(try auditRows(s.vault).last)
        #expect(denied["action"] as String == "request.open" && denied["outcome"] as String == "denied")
    }

    @Test func requestsAboutErasedOrUnknownSubjectsOutliveThem() throws {
        let s = try Setup(subjects: ["s1", "s2"])
        let withNote = try s.open(.erasure, subject: "s1", received: "2025-05-01T00:00:00Z", note: "asked by phone")
        try s.erase("s1")
        // The note was shredded with the subject's key; the request stays and can be closed.
        let shown = try s.vault.requests.get(withNote.id, context: Self.officer)
        #expect(shown.subjectState == .erased && shown.hasNote && shown.note == nil)
        #expect(try s.vault.requests.close(withNote.id, outcome: .completed, at: utc("2025-05-02T00:00:00Z"), context: Self.officer).status == .closed)
        // A new request about the erased subject (e.g. proof of the erasure): allowed, without a note.
        let after = try s.open(.access, subject: "s1", received: "2025-06-02T00:00:00Z")
        #expect(after.subjectState == .erased)
        expectError(.invalidInput) { try s.open(.access, subject: "s1", received: "2025-06-02T00:00:00Z", note: "x") }
        // Someone the vault holds nothing about: only when asked for explicitly.
        let unknown = try s.vault.requests.open(.access, regime: .ccpa, subject: "walk-in-7", receivedAt: utc("2025-06-03T00:00:00Z"),
                                              unknownSubject: true, context: Self.officer)
        #expect(unknown.subjectState == .unknown)
        #expect(try s.vault.requests.list(subject: "s1", context: Self.officer).map(\.id) == [withNote.id, after.id])
    }
}
