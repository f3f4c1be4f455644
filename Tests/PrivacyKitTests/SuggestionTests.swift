import Foundation
@testable import PrivacyKit
import Testing

@Suite("Did you mean")
struct SuggestionTests {
    static let roles = ["admin", "analyst", "auditor", "marketer", "privacy-officer", "service", "support-agent"]

    @Test(arguments: [
        ("suport-agent", "support-agent"), ("Support-Agent", "support-agent"), ("privacy-oficer", "privacy-officer"),
        ("amdin", "admin"), ("auditr", "auditor"), ("servcie", "service"),
    ])
    func aTypoSuggestsTheRole(_ typo: String, _ role: String) {
        #expect(Suggestion.closest(to: typo, among: Self.roles) == role)
        #expect(Suggestion.didYouMean(typo, among: Self.roles) == " (did you mean '\(role)'?)")
    }

    @Test(arguments: ["root", "superuser", "x", "", "marketing-email"])
    func aNameFarFromEveryRoleSuggestsNothing(_ name: String) {
        #expect(Suggestion.closest(to: name, among: Self.roles) == nil)
        #expect(Suggestion.didYouMean(name, among: Self.roles).isEmpty)
    }

    @Test func editDistanceCountsASwapAsOneEdit() {
        #expect(Suggestion.editDistance(Array("emial"), Array("email")) == 1)
        #expect(Suggestion.editDistance(Array("kitten"), Array("sitting")) == 3)
        #expect(Suggestion.editDistance(Array(""), Array("abc")) == 3)
    }

    @Test func schemaErrorsSuggestTheField() throws {
        let file = try #require(PolicySet.defaultFiles.first { $0.name == "schema.yaml" })
        let schema = try Schema.parse(file.contents, name: "schema.yaml")
        #expect(schema.unknownField("emial") == "'emial' is not a field of the schema (did you mean 'email'?)")
        #expect(schema.unknownField("shoe_size") == "'shoe_size' is not a field of the schema")
    }
}
