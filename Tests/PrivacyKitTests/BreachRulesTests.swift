import Foundation
@testable import PrivacyKit
import Testing

/// Issue 23, point 5: an amendment with a commencement set later is selected by date.
@Suite("Regime rules for breaches")
struct BreachRulesTests {
    @Test func taiwansArticle12IsSelectedByTheDayTheAmendmentTakesEffect() throws {
        let policy = try RegimePolicy.parse(Data("version: 1\nin_force:\n  pdpa-tw-2025: 2026-07-01\n".utf8), name: "regimes.yaml")
        // Midnight in Taipei (UTC+8) starts the day.
        #expect(policy.inForce[.pdpaTW2025] == utc("2026-06-30T16:00:00Z"))
        let before = BreachRules.obligations(regime: .pdpaTW, detectedAt: utc("2026-06-30T15:59:59Z"), policy: policy)
        #expect(before.map(\.recipient) == [.persons] && before[0].citation == "PDPA (Taiwan) art. 12 (as enacted)")
        #expect(before[0].when.contains("once the facts are established"))
        let after = BreachRules.obligations(regime: .pdpaTW, detectedAt: utc("2026-06-30T16:00:00Z"), policy: policy)
        #expect(after.map(\.recipient) == [.persons, .authority] && after.allSatisfy { $0.citation.contains("as amended 2025-11-11") })
        #expect(after[0].when.contains("without waiting for the facts"))
        // Not yet set by the Executive Yuan: the text as enacted applies, whatever the date.
        #expect(BreachRules.obligations(regime: .pdpaTW, detectedAt: utc("2030-01-01T00:00:00Z"), policy: .none)[0].citation
            == "PDPA (Taiwan) art. 12 (as enacted)")
    }

    @Test func onlyGDPRSetsAClockTheOthersAreNeverInvented() {
        let detected = utc("2026-12-01T10:00:00Z")
        let gdpr = BreachRules.obligations(regime: .gdpr, detectedAt: detected, policy: .none)
        #expect(gdpr[0].recipient == .authority && gdpr[0].deadline == utc("2026-12-04T10:00:00Z") && gdpr[0].citation == "GDPR art. 33(1)")
        #expect(gdpr[1].recipient == .persons && gdpr[1].deadline == nil && gdpr[1].citation == "GDPR art. 34(1)")
        for regime in [PrivacyRegime.ccpa, .pdpaTW, .pipl] {
            #expect(BreachRules.obligations(regime: regime, detectedAt: detected, policy: .none).allSatisfy { $0.deadline == nil })
        }
        #expect(BreachRules.obligations(regime: .pipl, detectedAt: detected, policy: .none).map(\.citation) == ["PIPL art. 57(1)", "PIPL art. 57(1)-(2)"])
    }

    @Test func badCommencementsNameTheKeyAndLine() {
        func parse(_ text: String) -> String? {
            expectError(.invalidInput) { try RegimePolicy.parse(Data(text.utf8), name: "regimes.yaml") }?.message
        }
        #expect(parse("version: 1\nin_force:\n  pdpa-tw-2025: 2026-02-30\n")?.contains("line 3: key 'in_force.pdpa-tw-2025' must be a date") == true)
        #expect(parse("version: 1\nin_force:\n  pdpa-2025: 2026-07-01\n")?.contains("names no amendment (one of pdpa-tw-2025)") == true)
    }
}
