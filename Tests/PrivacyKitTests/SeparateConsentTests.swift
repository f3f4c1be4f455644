import Foundation
@_spi(Testing) @testable import PrivacyKit
import Testing

/// Issue 23, point 4: PIPL's separate consent (单独同意) as a purpose attribute the ledger,
/// imports and receipts honour — a grant for such a purpose is only ever given on its own.
@Suite("PIPL separate consent")
struct SeparateConsentTests {
    static let admin = ConsentTests.admin

    /// A vault whose purposes add one that provides data abroad (PIPL art. 39).
    static func vault() throws -> (KeyFileTestVault, Vault) {
        let made = try KeyFileTestVault()
        let path = made.vault.core.policiesPath + "/purposes.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8) + """
              cross-border-support:
                description: Support from the service centre in Shenzhen.
                lawful_basis: consent
                separate_consent: [abroad]

            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        // One open vault at a time: the first is closed before the policy is read again.
        try made.vault.core.store.close()
        let vault = try Vault.open(at: made.vault.directory, rootKey: .keyFile(at: made.keyFile))
        try vault.records.put(subject: "s1", values: ["email": "s1@example.com"], context: admin)
        return (made, vault)
    }

    static func ledgerRows(_ vault: Vault) throws -> Int {
        try vault.store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM consent_ledger") ?? 0 }
    }

    @Test func aBundledGrantIsRefusedAndWritesNothingAGrantOnItsOwnCounts() throws {
        let (made, vault) = try Self.vault()
        // The vault's directory lives as long as `made`.
        defer { withExtendedLifetime(made) {} }
        #expect(vault.core.policies.purposes["cross-border-support"]?.separateConsent == [.abroad])
        let before = try Self.ledgerRows(vault)
        let bundled = expectError(.invalidInput) {
            try vault.consent.record([ConsentChange(.grant, purpose: "marketing-email", channel: .webForm),
                                      ConsentChange(.grant, purpose: "cross-border-support", channel: .webForm)],
                                     subject: "s1", at: Date(), context: Self.admin)
        }
        #expect(bundled?.message.contains("separate consent (PIPL art. 39)") == true)
        #expect(try Self.ledgerRows(vault) == before)
        #expect(try !vault.consent.answer(subject: "s1", purpose: "cross-border-support", context: Self.admin).allowed)

        try vault.consent.record(ConsentChange(.grant, purpose: "cross-border-support", channel: .webForm), subject: "s1", context: Self.admin)
        #expect(try vault.consent.answer(subject: "s1", purpose: "cross-border-support", context: Self.admin).allowed)
        // Bundles of other purposes, and withdrawals, are not affected.
        try vault.consent.record([ConsentChange(.grant, purpose: "marketing-email", channel: .webForm),
                                  ConsentChange(.grant, purpose: "marketing-sms", channel: .webForm)], subject: "s1", at: Date(), context: Self.admin)
        let receipt = try vault.consent.receipt(subject: "s1", context: Self.admin)
        let state = try #require(receipt.privacykit.purposes.first { $0.purpose == "cross-border-support" })
        #expect(state.separateConsent == ["abroad (PIPL art. 39)"] && state.allowed)
        #expect(receipt.privacykit.purposes.first { $0.purpose == "marketing-email" }?.separateConsent == nil)
    }

    @Test func anImportedColumnCannotShowASeparateConsent() throws {
        let (made, vault) = try Self.vault()
        defer { withExtendedLifetime(made) {} }
        let csv = made.dir.file("consent.csv")
        try "id,email,abroad\ns2,s2@example.com,yes\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let refused = expectError(.invalidInput) {
            try vault.records.importCSV(at: csv, options: ImportOptions(consentColumns: ["abroad": "cross-border-support"]), context: Self.admin)
        }
        #expect(refused?.message.contains("needs a separate consent (PIPL art. 39)") == true)
    }

    @Test func theAttributeNeedsAnOptInPurposeAndAKnownCase() {
        func parse(_ text: String) -> String? {
            expectError(.invalidInput) { try PurposeSet.parse(Data(text.utf8), name: "purposes.yaml") }?.message
        }
        #expect(parse("version: 1\npurposes:\n  x:\n    lawful_basis: contract\n    separate_consent: [abroad]\n")?.contains("needs consent: opt-in") == true)
        #expect(parse("version: 1\npurposes:\n  x:\n    lawful_basis: consent\n    separate_consent: [overseas]\n")?
            .contains("line 5: key 'purposes.x.separate_consent' 'overseas' is not a PIPL separate-consent case") == true)
    }
}
