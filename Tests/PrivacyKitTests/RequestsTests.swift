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

    static func deadline(
        _ regime: PrivacyRegime, _ received: String, extended: Bool = false, _ type: DataSubjectRequestType = .access,
        own: RequestDeadline.OwnDeadline? = nil
    ) throws -> Date {
        RequestDeadline.deadline(try RequestDeadline.rule(regime: regime, type: type, own: own), receivedAt: utc(received), extended: extended, asOf: utc(received))
    }

    static func gdpr(_ received: String, extended: Bool = false, _ type: DataSubjectRequestType = .access) throws -> Date {
        try deadline(.gdpr, received, extended: extended, type)
    }

    static func ccpa(_ received: String, extended: Bool = false, _ type: DataSubjectRequestType = .access) throws -> Date {
        try deadline(.ccpa, received, extended: extended, type)
    }

    @Test func gdprIsOneCalendarMonthAtMonthEndsAndInLeapYears() throws {
        #expect(try Self.gdpr("2026-01-31T10:00:00Z") == utc("2026-02-28T10:00:00Z"))
        #expect(try Self.gdpr("2028-01-31T10:00:00Z") == utc("2028-02-29T10:00:00Z"))  // leap year
        #expect(try Self.gdpr("2028-01-29T10:00:00Z") == utc("2028-02-29T10:00:00Z"))
        #expect(try Self.gdpr("2026-01-29T10:00:00Z") == utc("2026-02-28T10:00:00Z"))
        #expect(try Self.gdpr("2026-03-31T23:59:59Z") == utc("2026-04-30T23:59:59Z"))
        #expect(try Self.gdpr("2026-12-15T23:30:00Z") == utc("2027-01-15T23:30:00Z"))  // across the year
        #expect(try Self.gdpr("2026-02-28T08:00:00Z") == utc("2026-03-28T08:00:00Z"))
        // Extended: three months from receipt (not one month, then two more from that day).
        #expect(try Self.gdpr("2026-01-31T10:00:00Z", extended: true) == utc("2026-04-30T10:00:00Z"))
        #expect(try Self.gdpr("2027-11-30T10:00:00Z", extended: true) == utc("2028-02-29T10:00:00Z"))
        #expect(try Self.gdpr("2026-10-31T10:00:00Z", extended: true, .erasure) == utc("2027-01-31T10:00:00Z"))
        #expect(RequestDeadline.period(try RequestDeadline.rule(regime: .gdpr, type: .objection), extended: true) == .months(3))
    }

    @Test func ccpaIs45DaysPlus45AndFifteenBusinessDaysForOptOuts() throws {
        #expect(try Self.ccpa("2026-01-01T00:00:00Z") == utc("2026-02-15T00:00:00Z"))
        #expect(try Self.ccpa("2026-01-01T00:00:00Z", extended: true) == utc("2026-04-01T00:00:00Z"))
        #expect(try Self.ccpa("2026-02-01T12:00:00Z") == utc("2026-03-18T12:00:00Z"))
        #expect(try Self.ccpa("2028-02-01T12:00:00Z") == utc("2028-03-17T12:00:00Z"))  // 29 February counts
        #expect(try Self.ccpa("2026-12-20T06:00:00Z", .erasure) == utc("2027-02-03T06:00:00Z"))
        // Opt-out of sale (objection) and limit (restriction): 15 business days in California,
        // the day of receipt not counted, ending at local midnight (PST is UTC-8).
        #expect(try Self.ccpa("2026-11-23T09:00:00Z", .objection) == utc("2026-12-15T07:59:59.999Z"))  // a Monday: three weeks
        #expect(try Self.ccpa("2026-11-28T09:00:00Z", .restriction) == utc("2026-12-19T07:59:59.999Z"))  // a Saturday
        #expect(try Self.ccpa("2026-11-27T18:00:00Z", .objection) == utc("2026-12-19T07:59:59.999Z"))  // a Friday
        // Saturday in UTC but still Friday evening in California: counted from the Friday.
        #expect(try Self.ccpa("2026-11-28T05:00:00Z", .objection) == utc("2026-12-19T07:59:59.999Z"))
        // Across the change to daylight time (14 March 2027): the last day ends at PDT midnight.
        #expect(try Self.ccpa("2027-03-01T20:00:00Z", .objection) == utc("2027-03-23T06:59:59.999Z"))
        func rule(_ regime: PrivacyRegime, _ type: DataSubjectRequestType) throws -> RequestDeadline.Rule { try RequestDeadline.rule(regime: regime, type: type) }
        #expect(try !rule(.ccpa, .objection).canExtend && rule(.ccpa, .erasure).canExtend && rule(.gdpr, .objection).canExtend)
        #expect(try rule(.ccpa, .restriction).citation == "CCPA regulations § 7027(g)(1)" && rule(.ccpa, .access).citation == "Cal. Civ. Code § 1798.130(a)(2)")
    }

    @Test func taiwanCountsDaysInTaiwanFifteenForAccessThirtyForTheRest() throws {
        func pdpa(_ received: String, extended: Bool = false, _ type: DataSubjectRequestType = .access) throws -> Date {
            try Self.deadline(.pdpaTW, received, extended: extended, type)
        }
        // Received Saturday 7 March 2026 at 07:30 in Taipei (UTC+8): the day of receipt is not
        // counted; day 15 is 22 March, which ends at Taipei's midnight.
        #expect(try pdpa("2026-03-06T23:30:00Z") == utc("2026-03-22T15:59:59.999Z"))
        #expect(try pdpa("2026-03-06T23:30:00Z", .export) == utc("2026-03-22T15:59:59.999Z"))
        #expect(try pdpa("2026-03-06T23:30:00Z", extended: true) == utc("2026-04-06T15:59:59.999Z"))  // once, by 15
        // Art. 13(2): correction, deletion, cessation: 30 days, once more by 30.
        for type in [DataSubjectRequestType.rectification, .erasure, .restriction, .objection] {
            #expect(try pdpa("2026-03-06T23:30:00Z", type) == utc("2026-04-06T15:59:59.999Z"))
            #expect(try pdpa("2026-03-06T23:30:00Z", extended: true, type) == utc("2026-05-06T15:59:59.999Z"))
        }
        // The day is Taipei's: 23:30 there is still the 6th, 00:30 already the 7th.
        #expect(try pdpa("2026-03-06T15:30:00Z") == utc("2026-03-21T15:59:59.999Z"))
        #expect(try pdpa("2026-03-06T16:30:00Z") == utc("2026-03-22T15:59:59.999Z"))
        let rule = try RequestDeadline.rule(regime: .pdpaTW, type: .access)
        #expect(rule.citation == "PDPA (Taiwan) art. 13(1)" && rule.statutory && !rule.pausesForIdentity)
        #expect(try RequestDeadline.rule(regime: .pdpaTW, type: .erasure).citation == "PDPA (Taiwan) art. 13(2)")
    }

    @Test func piplHasNoStatutoryDeadlineOnlyTheControllersOwn() throws {
        // No deadline is invented: without the controller's own there is none.
        let none = expectError(.invalidInput) { try RequestDeadline.rule(regime: .pipl, type: .access) }
        #expect(none?.message.contains("PIPL sets no deadline") == true && none?.message.contains("regimes.yaml") == true)
        let own = RequestDeadline.OwnDeadline(days: 15, extensionDays: 10)
        let rule = try RequestDeadline.rule(regime: .pipl, type: .erasure, own: own)
        #expect(!rule.statutory && rule.citation.contains("controller's own") && rule.citation.contains("PIPL art. 50"))
        // Counted in China's days (UTC+8), like Taiwan's.
        #expect(try Self.deadline(.pipl, "2026-03-06T16:30:00Z", own: own) == utc("2026-03-22T15:59:59.999Z"))
        #expect(try Self.deadline(.pipl, "2026-03-06T16:30:00Z", extended: true, own: own) == utc("2026-04-01T15:59:59.999Z"))
        #expect(try !RequestDeadline.rule(regime: .pipl, type: .access, own: .init(days: 15, extensionDays: nil)).canExtend)
    }

    @Test func waitingForIdentityPausesTheGDPRClockButNotTheCCPAOne() {
        let received = utc("2026-03-01T00:00:00Z")
        let asked = utc("2026-03-05T00:00:00Z")
        let verified = utc("2026-03-15T00:00:00Z")  // 10 days later
        func deadline(_ regime: PrivacyRegime, requested: Date?, verified: Date?, asOf: Date, extended: Bool = false) -> Date {
            RequestDeadline.deadline((try? RequestDeadline.rule(regime: regime, type: .access))!, receivedAt: received, extended: extended,
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
        let closed = try s.vault.requests.close(request.id, outcome: .withdrawn, at: deadline.addingTimeInterval(60), context: Self.officer)
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
        expectError(.invalidInput) { try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-04T00:00:00Z"), method: .accountLogin, degree: .reasonable, context: Self.officer) }
        expectError(.invalidInput) { try s.vault.requests.markAwaitingIdentity(gdpr.id, requestedAt: utc("2025-03-06T00:00:00Z"), context: Self.officer) }
        // The arrival needs its method and degree, consistent with each other.
        expectError(.invalidInput) { try s.vault.requests.recordIdentity(gdpr.id, requestedAt: nil, verifiedAt: utc("2025-03-15T00:00:00Z"), context: Self.officer) }
        expectError(.invalidInput) { try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-15T00:00:00Z"), method: .notRequired, degree: .high, context: Self.officer) }
        // An access request under GDPR cannot be verified to "none".
        let none = expectError(.invalidInput) { try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-15T00:00:00Z"), method: .notRequired, degree: .none, context: Self.officer) }
        #expect(none?.message.contains("reasonable degree") == true)
        let verified = try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-15T00:00:00Z"), method: .matchingDataPoints, degree: .reasonable, context: Self.officer)
        #expect(verified.status == .open && verified.daysWaitingForIdentity == 10 && verified.deadline == utc("2025-04-11T00:00:00Z"))
        #expect(verified.identityMethod == .matchingDataPoints && verified.identityDegree == .reasonable && verified.identitySufficient)
        expectError(.invalidInput) { try s.vault.requests.identityVerified(gdpr.id, verifiedAt: utc("2025-03-16T00:00:00Z"), method: .inPerson, degree: .high, context: Self.officer) }

        // CCPA: the same wait, reported, moves nothing.
        let ccpa = try s.open(.access, .ccpa, received: "2025-03-01T00:00:00Z")
        let both = try s.vault.requests.recordIdentity(ccpa.id, requestedAt: utc("2025-03-05T00:00:00Z"), verifiedAt: utc("2025-03-15T00:00:00Z"),
                                                       method: .accountLogin, degree: .reasonable, context: Self.officer)
        // Handing over specific pieces under the CCPA needs a reasonably high degree.
        #expect(both.identityRequired == .high && !both.identitySufficient)
        #expect(both.daysWaitingForIdentity == 10 && both.deadline == utc("2025-04-15T00:00:00Z") && both.deadline == ccpa.deadline)
        expectError(.invalidInput) { try s.vault.requests.recordIdentity(ccpa.id, requestedAt: nil, verifiedAt: nil, context: Self.officer) }
        expectError(.invalidInput) { try s.vault.requests.markAwaitingIdentity(ccpa.id, requestedAt: utc("2025-02-28T00:00:00Z"), context: Self.officer) }
    }

    @Test func everyChangeIsAuditedWithTheSubjectAndRequestIdAndNoOperatorText() throws {
        let s = try Setup()
        // Times in the recent past: closing as completed rests on the erasure, done now.
        let day = Timestamp.precise(Date().addingTimeInterval(-10 * 86_400)).prefix(10)
        func time(_ hour: Int) -> Date { utc("\(day)T0\(hour):00:00Z") }
        let request = try s.vault.requests.open(.erasure, regime: .gdpr, subject: "s1", receivedAt: time(1), reference: "TICKET-4711",
                                              note: "Caller Jane Roe, +44 20 7946 0958", context: Self.officer)
        #expect(request.id.range(of: #"^dsr-[0-9a-f]{16}$"#, options: .regularExpression) != nil)
        #expect(request.hasNote && request.note == nil && request.reference == "TICKET-4711" && request.subjectState == .live)
        try s.vault.requests.markAwaitingIdentity(request.id, requestedAt: time(2), context: Self.officer)
        try s.vault.requests.identityVerified(request.id, verifiedAt: time(3), method: .contactConfirmation, degree: .reasonable, context: Self.officer)
        try s.vault.requests.extend(request.id, reason: "backups of Jane Roe to search", at: time(4), context: Self.officer)
        // Read the note while the subject's key exists, then erase and close on the receipt.
        #expect(try s.vault.requests.get(request.id, context: Self.officer).note == "Caller Jane Roe, +44 20 7946 0958")
        let read = try #require(try auditRows(s.vault).last)
        let pseudonym = try s.vault.core.subjectPseudonym("s1")
        #expect(read["action"] as String == "record.read" && read["fields"] as String == "request_note" && read["subject"] as String? == pseudonym)
        let erased = try s.vault.retention.erase(subject: "s1", reason: "erasure request", context: AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance", requestID: request.id))
        let closingTime = Date()
        let closed = try s.vault.requests.close(request.id, outcome: .completed, reason: "done for Jane Roe", at: closingTime, context: Self.officer)
        #expect(closed.outcome == .completed && closed.closedBy == "dpo" && closed.answeredLate == false)
        #expect(closed.proof?.kind == .erasureReceipt && closed.proof?.receiptID == erased.receipt.receiptID && closed.proof?.auditSeq == erased.receipt.auditSeq)

        let rows = try auditRows(s.vault, where: "request_id = '\(request.id)' AND action LIKE 'request.%'")
        #expect(rows.map { $0["action"] as String } == ["request.open", "request.update", "request.update", "request.update", "request.close"])
        for row in rows {
            #expect(row["subject"] as String? == pseudonym && row["actor"] as String == "dpo" && row["outcome"] as String == "allowed")
            let reason: String = row["reason"]
            #expect(reason.hasPrefix(request.id + ": ") && !reason.contains("Jane") && !reason.contains("7946"))
        }
        #expect((rows[0]["reason"] as String).contains("deadline \(Timestamp.precise(request.deadline)) (GDPR art. 12(3))"))
        #expect((rows[2]["reason"] as String).contains("(contact-confirmation, reasonable degree)"))
        let close: String = rows[4]["reason"]
        #expect(close.contains("completed at \(Timestamp.precise(closingTime))") && close.contains("on time"))
        #expect(close.contains("on erasure receipt \(erased.receipt.receiptID) (audit event \(erased.receipt.auditSeq))"))
        // The note is sealed in the store.
        let stored: Data = try #require(try s.vault.store.read { try Data.fetchOne($0, sql: "SELECT note FROM subject_requests") })
        #expect(!String(decoding: stored, as: UTF8.self).contains("Jane"))
        // A closed request takes no more changes.
        let again = expectError(.invalidInput) { try s.vault.requests.close(request.id, outcome: .withdrawn, context: Self.officer) }
        #expect(again?.message.contains("was closed") == true)
        expectError(.invalidInput) { try s.vault.requests.markAwaitingIdentity(request.id, requestedAt: Date(), context: Self.officer) }
    }

    @Test func badInputIsRefusedByNameAndWritesNothing() throws {
        let s = try Setup()
        let before = try s.eventCount()
        let type = expectError(.invalidInput) { try DataSubjectRequestType(parsing: "complaint") }
        #expect(type?.message == "unknown request type 'complaint' (one of access, export, rectification, restriction, objection, erasure, limit)")
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
        try s.vault.requests.identityVerified(withNote.id, verifiedAt: utc("2025-05-01T12:00:00Z"), method: .accountLogin, degree: .reasonable, context: Self.officer)
        #expect(try s.vault.requests.close(withNote.id, outcome: .completed, context: Self.officer).status == .closed)
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
