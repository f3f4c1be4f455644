import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// An audience and the consent counts read every subject's consent state at once: a row
/// forged behind the vault must fail them closed like any other decision (audited, no id
/// handed out), not add someone to a marketing list. (Before, both read `consent_state`
/// unchecked: the forged grant joined the audience, the deleted opt-out was sold to.)
extension DecisionStateAttackTests {
    /// The audience of `purpose` as `context` sees it: the ids handed out, or the error.
    func audience(_ purpose: String, _ context: AccessContext) throws -> [String] {
        var ids: [String] = []
        try vault.consent.audience(purpose: purpose, context: context) { ids.append($0) }
        return ids
    }

    /// Neither an audience nor the counts act on the forged state, and each failure is the
    /// newest event, a failed `record.lookup`; nobody's id was handed out.
    func expectAudienceAndCountsFailClosed(_ purpose: String, _ context: AccessContext, sourceLocation: SourceLocation = #_sourceLocation) throws {
        var handedOut: [String] = []
        try expectFailsClosed(sourceLocation: sourceLocation) {
            try vault.consent.audience(purpose: purpose, context: context) { handedOut.append($0) }
        }
        #expect(handedOut.isEmpty, "ids handed out from a forged state: \(handedOut)", sourceLocation: sourceLocation)
        var event = try newestEvent()
        #expect(event["action"] as String == "record.lookup" && event["outcome"] as String == "failed", sourceLocation: sourceLocation)
        try expectFailsClosed(sourceLocation: sourceLocation) { _ = try vault.consent.counts(context: Self.admin) }
        event = try newestEvent()
        #expect(event["action"] as String == "record.lookup" && event["outcome"] as String == "failed", sourceLocation: sourceLocation)
    }

    @Test func aGrantInsertedJoinsNoAudienceAndNoCount() throws {
        try grant("s2")
        #expect(try audience("marketing-email", Self.marketer) == ["s2"])
        let before = try vault.consent.counts(context: Self.admin)
        try fixture.tamper { db in
            try db.execute(sql: """
                INSERT INTO consent_state (purpose, subject_id, kind, event_id, time, notice_version, expires_at)
                VALUES ('marketing-email', 's1', 'grant', 1, '2026-12-01T00:00:00.000Z', '2026-01', NULL)
                """)
        }
        try expectAudienceAndCountsFailClosed("marketing-email", Self.marketer)
        // Once the forged row is gone, both answer as before.
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM consent_state WHERE subject_id = 's1'") }
        #expect(try audience("marketing-email", Self.marketer) == ["s2"])
        #expect(try vault.consent.counts(context: Self.admin) == before)
    }

    @Test func anOptOutDeletedPutsNobodyBackInTheAudience() throws {
        // "Do not sell or share": everyone is in the audience unless they opted out.
        _ = try vault.consent.record(ConsentChange(.withdraw, purpose: "sale-or-sharing", channel: .webForm), subject: "s1", context: Self.admin)
        #expect(try audience("sale-or-sharing", Self.admin) == ["s2"])
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM consent_state WHERE subject_id = 's1' AND purpose = 'sale-or-sharing'") }
        try expectAudienceAndCountsFailClosed("sale-or-sharing", Self.admin)
    }

    @Test func aRestrictionDeletedPutsNobodyBackInTheAudience() throws {
        try grant("s1")
        _ = try vault.retention.restrict(subject: "s1", reason: "art. 18 request", context: Self.admin)
        #expect(try audience("marketing-email", Self.marketer).isEmpty)
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM restrictions WHERE subject_id = 's1'") }
        try expectAudienceAndCountsFailClosed("marketing-email", Self.marketer)
    }
}
