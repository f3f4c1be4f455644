import Foundation
@_spi(Testing) @testable import PrivacyKit
import Testing

/// Issue 23, point 4: sensitive fields and the CPRA limit (§ 1798.121), decided in the one
/// access decision for single reads, batches and envelopes, and held up against a store
/// writer.
@Suite("Sensitive data and the limit")
struct SensitiveDataTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")
    /// A use the default policy does not allow after a limit.
    static let sharing = AccessContext(actor: "ads", role: "admin", purpose: "sale-or-sharing")
    static let officer = RequestsTests.officer

    let fixture: AuditFixture
    var vault: Vault { fixture.vault }

    init() throws {
        fixture = try AuditFixture()
        for id in ["s1", "s2"] {
            try fixture.vault.records.put(subject: id, values: ["email": "\(id)@example.com", "national_id": "A12345678\(id.last!)"], context: Self.admin)
        }
    }

    func limit(_ subject: String) throws {
        _ = try vault.consent.record(ConsentChange(.object, purpose: "sensitive-data-use", channel: .webForm), subject: subject, context: Self.admin)
    }

    @Test func theDefaultPolicyMarksNationalIDsSensitiveAndOnePurposeAsTheLimit() throws {
        #expect(vault.core.policies.schema["national_id"]?.sensitive == true && vault.core.policies.schema["email"]?.sensitive == false)
        #expect(vault.core.policies.purposes.limitPurpose?.id == "sensitive-data-use")
        #expect(vault.core.policies.purposes["privacy-compliance"]?.sensitiveAfterLimit == true)
        #expect(vault.core.policies.purposes["sale-or-sharing"]?.sensitiveAfterLimit == false)
    }

    @Test func afterALimitSensitiveFieldsAreWithheldFromOtherPurposesOnly() throws {
        #expect(try vault.records.get(subject: "s1", context: Self.sharing)["national_id"] == "A123456781")
        try limit("s1")
        // Everything: the sensitive field is left out, the rest comes back.
        let all = try vault.records.get(subject: "s1", context: Self.sharing)
        #expect(all["national_id"] == nil && all["email"] == "s1@example.com")
        // Asked for by name: refused, and the refusal audited with the rule.
        let denied = expectError(.denied) { try vault.records.get(subject: "s1", fields: ["national_id"], context: Self.sharing) }
        #expect(denied?.message.contains("§ 1798.121") == true)
        let event = try #require(try auditRows(vault).last)
        #expect(event["action"] as String == "record.read" && event["outcome"] as String == "denied" && event["fields"] as String == "national_id")
        // An allowed use after a limit (§ 7027(m)) still reads it; another subject is untouched.
        #expect(try vault.records.get(subject: "s1", fields: ["national_id"], context: Self.admin)["national_id"] == "A123456781")
        #expect(try vault.records.get(subject: "s2", fields: ["national_id"], context: Self.sharing)["national_id"] == "A123456782")
        // The export for that purpose withholds it too.
        let dir = try TempDirectory()
        let export = try vault.requests.exportSubject("s1", to: dir.url.appendingPathComponent("p"), context: Self.sharing)
        #expect(!export.manifest.fields.contains("national_id") && export.manifest.fields.contains("email"))
    }

    @Test func batchesAnswerAsSingleCallsDo() throws {
        try limit("s1")
        let all = try vault.records.get(subjects: ["s1", "s2"], context: Self.sharing)
        #expect(try all[0].result.get()["national_id"] == nil && all[0].result.get()["email"] == "s1@example.com")
        #expect(try all[1].result.get()["national_id"] == "A123456782")
        let named = try vault.records.get(subjects: ["s1", "s2"], fields: ["national_id"], context: Self.sharing)
        #expect(throws: PrivacyKitError.self) { try named[0].result.get() }
        #expect(try named[1].result.get()["national_id"] == "A123456782")
        // Envelopes: a limited subject's sensitive item is refused, its other item opens.
        let envelopes = try vault.records.encrypt([.init(value: "s1@example.com", field: "email", subject: "s1"),
                                                   .init(value: "A123456781", field: "national_id", subject: "s1")], context: Self.admin)
        let opened = try vault.records.decrypt([.init(envelope: try envelopes[0].get(), field: "email", subject: "s1"),
                                                .init(envelope: try envelopes[1].get(), field: "national_id", subject: "s1")], context: Self.sharing)
        #expect(try opened[0].get() == "s1@example.com")
        #expect((try? opened[1].get()) == nil)
        if case .failure(let error) = opened[1] { #expect(error.code == .denied) }
    }

    @Test func findsAndDuplicateClustersOnASensitiveFieldLeaveLimitedSubjectsOut() throws {
        try vault.records.put(subject: "s3", values: ["email": "s1@example.com", "national_id": "A123456781"], context: Self.admin)
        #expect(try Set(vault.records.find(field: "national_id", value: "a123456781", context: Self.sharing)) == ["s1", "s3"])
        try limit("s1")
        #expect(try vault.records.find(field: "national_id", value: "a123456781", context: Self.sharing) == ["s3"])
        // A find on a field that is not sensitive still finds the limited subject.
        #expect(try Set(vault.records.find(field: "email", value: "s1@example.com", context: Self.sharing)) == ["s1", "s3"])
        // Allowed after a limit: found.
        #expect(try Set(vault.records.find(field: "national_id", value: "a123456781", context: Self.admin)) == ["s1", "s3"])
        // The national-id cluster {s1, s3} falls below two for sharing; the e-mail one stays.
        let clusters = try vault.records.duplicates(context: Self.sharing)
        #expect(!clusters.contains { $0.field == "national_id" } && clusters.contains { $0.field == "email" && Set($0.subjects) == ["s1", "s3"] })
        #expect(try vault.records.duplicates(context: Self.admin).contains { $0.field == "national_id" })
    }

    @Test func aGlobalPrivacyControlSignalIsNotALimit() throws {
        _ = try vault.consent.recordGPC(subject: "s1", context: Self.admin)
        #expect(try vault.consent.answer(subject: "s1", purpose: "sensitive-data-use", context: Self.admin).allowed)
    }

    @Test func aStoreWriterWhoDeletesTheLimitFailsTheReadClosed() throws {
        try limit("s1")
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM consent_state WHERE subject_id = 's1' AND purpose = 'sensitive-data-use'") }
        try fixture.expectFailsClosed { _ = try vault.records.get(subject: "s1", context: Self.sharing) }
    }

    @Test func aLimitRequestIsCCPAOnlyNeedsNoVerificationAndClosesOnTheObjection() throws {
        let gdpr = expectError(.invalidInput) { try vault.requests.open(.limit, regime: .gdpr, subject: "s1", context: Self.officer) }
        #expect(gdpr?.message.contains("CPRA right (§ 1798.121)") == true)
        Thread.sleep(forTimeInterval: 0.01)
        let request = try vault.requests.open(.limit, regime: .ccpa, subject: "s1", context: Self.officer)
        #expect(request.identityRequired == .none && request.rule.citation == "CCPA regulations § 7027(g)(1)" && !request.rule.canExtend)
        let early = expectError(.invalidInput) { try vault.requests.close(request.id, outcome: .completed, context: Self.officer) }
        #expect(early?.message.contains("has not objected to sensitive-data-use") == true)
        // An objection to another purpose is not a limit.
        _ = try vault.consent.record(ConsentChange(.object, purpose: "sale-or-sharing", channel: .webForm), subject: "s1", context: Self.admin)
        expectError(.invalidInput) { try vault.requests.close(request.id, outcome: .completed, context: Self.officer) }
        try limit("s1")
        let closed = try vault.requests.close(request.id, outcome: .completed, context: Self.officer)
        #expect(closed.proof?.kind == .limit)
    }

    @Test func theConsentReceiptCarriesEachPurposesLawfulBasisAndTheSensitiveFields() throws {
        try limit("s1")
        let receipt = try vault.consent.receipt(subject: "s1", context: Self.admin)
        let byPurpose = Dictionary(uniqueKeysWithValues: receipt.privacykit.purposes.map { ($0.purpose, $0) })
        #expect(byPurpose["marketing-email"]?.lawfulBasis == "consent" && byPurpose["sale-or-sharing"]?.lawfulBasis == "legitimate-interests")
        #expect(byPurpose["sensitive-data-use"]?.allowed == false)
        #expect(receipt.sensitive && receipt.spiCat == ["national_id"])
        #expect(ConsentReceipt.verify(try receipt.json(), subject: "s1").valid)
    }

    @Test func policyErrorsForSensitiveAndLimitsNameTheKey() throws {
        let schema = "version: 1\nfields:\n  note:\n    category: account\n    encrypted: false\n    normalizer: text\n    sensitive: true\n"
        let plain = expectError(.invalidInput) { try Schema.parse(Data(schema.utf8), name: "schema.yaml") }
        #expect(plain?.message.contains("line 7: key 'fields.note.sensitive' a sensitive field must be encrypted") == true)
        let optIn = "version: 1\npurposes:\n  x:\n    lawful_basis: consent\n    limits_sensitive: true\n"
        #expect(expectError(.invalidInput) { try PurposeSet.parse(Data(optIn.utf8), name: "purposes.yaml") }?.message.contains("needs consent: opt-out") == true)
        let two = "version: 1\npurposes:\n  x:\n    lawful_basis: legitimate-interests\n    limits_sensitive: true\n  y:\n    lawful_basis: legitimate-interests\n    limits_sensitive: true\n"
        #expect(expectError(.invalidInput) { try PurposeSet.parse(Data(two.utf8), name: "purposes.yaml") }?.message.contains("only one purpose limits sensitive data") == true)
    }
}
