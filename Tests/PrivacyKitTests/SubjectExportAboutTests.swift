import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// `about.json` and `about.txt` of a subject export: the GDPR art. 15(1)–(2) sections,
/// per subject, from the vault's policies and the subject's own fields, dates and consent.
@Suite("Subject export: about.json")
struct SubjectExportAboutTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")
    static let canaries = ["zq.canary@example.com", "12 Xylophone Lane", "Quixotic"]

    struct Setup {
        let made: KeyFileTestVault
        var vault: Vault

        init() throws {
            made = try KeyFileTestVault()
            vault = made.vault
        }

        func put(_ subject: String, _ values: [String: String]) throws {
            try vault.records.put(subject: subject, values: values, context: SubjectExportAboutTests.admin)
        }

        /// Exports `subject` into a new directory and returns the summary and `about.json`.
        func about(_ subject: String, sealedTo key: SealedBox.PublicKey? = nil) throws -> (SubjectExportSummary, [String: Any]) {
            let out = made.dir.url.appendingPathComponent("export-\(subject)-\(UUID().uuidString.prefix(8))")
            let summary = try vault.requests.exportSubject(subject, to: out, sealedTo: key, context: SubjectExportAboutTests.admin)
            guard key == nil else { return (summary, [:]) }
            return (summary, try ExportTests.json(out.path + "/about.json"))
        }
    }

    static func purposes(_ about: [String: Any]) throws -> [[String: Any]] { try #require(about["purposes"] as? [[String: Any]]) }

    static func purpose(_ about: [String: Any], _ id: String) throws -> [String: Any] {
        try #require(try purposes(about).first { $0["id"] as? String == id }, "no purpose \(id)")
    }

    static func rule(_ about: [String: Any], _ name: String) throws -> [String: Any] {
        try #require((about["retention"] as? [[String: Any]])?.first { $0["rule"] as? String == name }, "no rule \(name)")
    }

    /// `data_categories` as "category: field, field" lines.
    static func categories(_ about: [String: Any]) -> [String] {
        (about["data_categories"] as? [[String: Any]] ?? []).map { "\($0["category"] as? String ?? "?"): \(($0["fields"] as? [String] ?? []).joined(separator: ", "))" }
    }

    /// What the policies say should apply to a subject holding these categories, computed
    /// straight from processing.yaml: the purposes of every activity using one of them.
    static func expectedPurposes(_ vault: Vault, categories: Set<String>) throws -> Set<String> {
        let processing = try #require(vault.policies.processing)
        return Set(processing.activities.filter { !categories.isDisjoint(with: $0.dataCategories) }.flatMap(\.purposes))
    }

    @Test func thePurposesAreThoseOfTheActivitiesUsingTheSubjectsCategoriesEachWithItsLawfulBasis() throws {
        let s = try Setup()
        try s.put("e1", ["email": "e1@example.com"])
        try s.put("e2", ["email": "e2@example.com", "address": "12 Xylophone Lane"])
        let (summary1, one) = try s.about("e1")
        let (_, two) = try s.about("e2")
        #expect(summary1.processingDescribed && summary1.processingProblem == nil && one["described"] as? Bool == true)

        let ids1 = Set(try Self.purposes(one).compactMap { $0["id"] as? String })
        let ids2 = Set(try Self.purposes(two).compactMap { $0["id"] as? String })
        #expect(ids1 == (try Self.expectedPurposes(s.vault, categories: ["contact"])))
        #expect(ids2 == (try Self.expectedPurposes(s.vault, categories: ["contact", "location"])))
        // An address (location) brings in analytics' profiling, which an e-mail alone does not.
        #expect(ids1 != ids2 && ids2.contains("profiling") && !ids1.contains("profiling"))
        #expect(!(try Self.purpose(two, "profiling")["activities"] as? [String] ?? []).isEmpty)
        #expect(try Self.purpose(two, "profiling")["categories"] as? [String] == ["location"])
        #expect((one["activities"] as? [[String: Any]])?.contains { $0["id"] as? String == "analytics" } == false)

        for about in [one, two] {
            for purpose in try Self.purposes(about) {
                let id = try #require(purpose["id"] as? String)
                let policy = try #require(s.vault.policies.purposes[id])
                #expect(purpose["lawful_basis"] as? String == policy.lawfulBasis.rawValue, "\(id)")
                #expect(purpose["consent"] as? String == policy.consent.rawValue, "\(id)")
                // A consent state only where the person has a say.
                #expect((purpose["consent_state"] is NSNull) == (policy.consent == .notRequired), "\(id)")
            }
        }
        #expect(try Self.purpose(one, "order-fulfilment")["lawful_basis"] as? String == "contract")
        #expect(try Self.purpose(one, "marketing-email")["consent_state"] as? String == "never-asked")
        #expect(try Self.purpose(one, "sale-or-sharing")["consent_state"] as? String == "not-objected")

        // The categories held, with the subject's own fields, never values.
        #expect(Self.categories(one) == ["contact: email"])
        #expect(Self.categories(two) == ["contact: email", "location: address"])
        let text = String(decoding: try readBytes(summary1.directory + "/about.txt"), as: UTF8.self)
        #expect(text.contains(SubjectExportAboutText.lawfulBasis(.contract)) && text.contains("- order-fulfilment: "))
        for directory in [summary1.directory] {
            for name in ["about.json", "about.txt"] {
                let bytes = String(decoding: try readBytes(directory + "/" + name), as: UTF8.self)
                for canary in Self.canaries + ["e1@example.com"] { #expect(!bytes.contains(canary), "\(canary) in \(name)") }
            }
        }
    }

    @Test func theConsentStateOfAConsentPurposeFollowsGrantAndWithdrawal() throws {
        let s = try Setup()
        try s.put("c1", ["email": "c1@example.com"])
        let granted = Date(timeIntervalSince1970: 1_780_000_000)  // 2026-05-28T20:26:40Z
        try s.vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm), subject: "c1", at: granted, context: Self.admin)
        let (_, afterGrant) = try s.about("c1")
        let email = try Self.purpose(afterGrant, "marketing-email")
        #expect(email["consent_state"] as? String == "granted" && email["consent_since"] as? String == "2026-05-28T20:26:40.000Z")
        // valid_for_days: 730 → the grant, and with it this purpose, ends two years on.
        let expires = try #require(email["consent_expires_at"] as? String)
        #expect(expires.hasPrefix("2028-05-27T20:26:40.") && email["until"] as? String == expires)
        // The lead rule that counts from a withdrawal has no date while consent stands.
        #expect(try Self.rule(afterGrant, "lead-marketing-withdrawn")["due_at"] is NSNull)

        let withdrawn = granted.addingTimeInterval(86_400)
        try s.vault.consent.record(ConsentChange(.withdraw, purpose: "marketing-email", channel: .callCentre), subject: "c1", at: withdrawn, context: Self.admin)
        let (summary, afterWithdrawal) = try s.about("c1")
        let now = try Self.purpose(afterWithdrawal, "marketing-email")
        #expect(now["consent_state"] as? String == "withdrawn" && now["consent_since"] as? String == "2026-05-29T20:26:40.000Z")
        #expect(now["consent_expires_at"] is NSNull)
        // The withdrawal starts lead-marketing-withdrawn's 30 days, which now end the purpose.
        let rule = try Self.rule(afterWithdrawal, "lead-marketing-withdrawn")
        #expect(rule["counts_from"] as? String == "2026-05-29T20:26:40.000Z" && rule["due_at"] as? String == "2026-06-28T20:26:40.000Z")
        #expect(now["retention"] as? [String] == ["lead-inactive", "lead-marketing-withdrawn"] && now["until"] as? String == "2026-06-28T20:26:40.000Z")
        let text = String(decoding: try readBytes(summary.directory + "/about.txt"), as: UTF8.self)
        #expect(text.contains(SubjectExportAboutText.consentState(.withdrawn, since: "2026-05-29T20:26:40.000Z", expires: nil)))

        // An objection to the opt-out purpose shows as one.
        try s.vault.consent.record(ConsentChange(.object, purpose: "sale-or-sharing", channel: .gpc), subject: "c1", context: Self.admin)
        #expect(try Self.purpose(try s.about("c1").1, "sale-or-sharing")["consent_state"] as? String == "objected")
    }

    @Test func theRetentionDatesAreThoseOfTheRulesForTheSubjectsCategory() throws {
        let s = try Setup()
        try s.put("closed", ["email": "a@example.com", "address": "1 Road", "segment": "customer", "closed_at": "2026-01-15"])
        try s.put("open", ["email": "b@example.com", "segment": "customer"])
        try s.put("lead", ["email": "c@example.com", "last_interaction": "2025-06-01"])

        let (_, closed) = try s.about("closed")
        #expect(closed["retention_category"] as? String == "customer")
        let rules = try #require(closed["retention"] as? [[String: Any]])
        #expect(rules.compactMap { $0["rule"] as? String } == ["customer-contact-after-closure", "customer-tax-records"])
        let contact = try Self.rule(closed, "customer-contact-after-closure")
        // P3Y from account_closed, erasing only the fields of the rule the subject has.
        #expect(contact["counts_from"] as? String == "2026-01-15" && contact["due_at"] as? String == "2029-01-15T00:00:00.000Z")
        #expect(contact["fields"] as? [String] == ["email", "address"] && contact["action"] as? String == "erase_fields" && contact["period"] as? String == "P3Y")
        #expect(try Self.rule(closed, "customer-tax-records")["due_at"] as? String == "2033-01-15T00:00:00.000Z")
        // order-fulfilment's activity keeps contact details until that rule falls due.
        let orders = try Self.purpose(closed, "order-fulfilment")
        #expect(orders["retention"] as? [String] == ["customer-contact-after-closure"] && orders["until"] as? String == "2029-01-15T00:00:00.000Z")

        // An open account: the rules apply, with no date yet.
        let (_, open) = try s.about("open")
        #expect(try Self.rule(open, "customer-contact-after-closure")["due_at"] is NSNull)
        #expect(try Self.rule(open, "customer-contact-after-closure")["counts_from"] is NSNull)
        #expect(try Self.purpose(open, "order-fulfilment")["until"] is NSNull)

        // A lead (the default category): two years after the last interaction.
        let (summary, lead) = try s.about("lead")
        #expect(lead["retention_category"] as? String == "lead")
        #expect(try Self.rule(lead, "lead-inactive")["due_at"] as? String == "2027-06-01T00:00:00.000Z")
        #expect((lead["retention"] as? [[String: Any]])?.contains { ($0["rule"] as? String)?.hasPrefix("customer-") == true } == false)
        let text = String(decoding: try readBytes(summary.directory + "/about.txt"), as: UTF8.self)
        #expect(text.contains("- lead-inactive: Erase the customer 2 years after the last interaction"))
        #expect(text.contains(SubjectExportAboutText.dueOn("2027-06-01T00:00:00.000Z")) && text.contains(SubjectExportAboutText.notYetDue))
    }

    @Test func recipientsTransfersWithSafeguardsRightsComplaintAndTheController() throws {
        let s = try Setup()
        try s.put("c1", ["email": "c1@example.com"])
        let (summary, about) = try s.about("c1")
        let transfers = try #require(about["transfers"] as? [[String: Any]])
        let taiwan = try #require(transfers.first { $0["country"] as? String == "TW" })
        #expect(taiwan["safeguard"] as? String == "standard-contractual-clauses" && taiwan["recipient"] as? String == "Example Logistics Taiwan Co., Ltd.")
        #expect((taiwan["reference"] as? String)?.contains("2021/914") == true && taiwan["activities"] as? [String] == ["customer-orders"])
        #expect(transfers.contains { $0["country"] as? String == "CN" && $0["safeguard"] as? String == "pipl-standard-contract" })
        #expect(transfers.filter { $0["country"] as? String == "US" && $0["safeguard"] as? String == "adequacy" }.count == 2)  // two recipients
        let recipients = try #require(about["recipients"] as? [[String: Any]])
        #expect(recipients.contains { $0["name"] as? String == "Parcel carriers" && $0["kind"] as? String == "processor" && $0["country"] as? String == "GB" })
        #expect(Set(recipients.compactMap { $0["name"] as? String }).count == recipients.count)

        let controller = try #require(about["controller"] as? [String: Any])
        #expect(controller["name"] as? String == "Example Retail Ltd" && (controller["dpo"] as? [String: Any])?["contact"] as? String == "dpo@example.com")
        let rights = try #require(about["rights"] as? [[String: Any]])
        #expect(rights.compactMap { $0["right"] as? String } == ["rectification", "erasure", "restriction", "objection", "portability", "withdraw-consent"])
        for right in SubjectExportAbout.RightKind.allCases {
            #expect(rights.first { $0["right"] as? String == right.rawValue }?["text"] as? String == SubjectExportAboutText.right(right))
        }
        #expect((rights.first { $0["right"] as? String == "objection" }?["purposes"] as? [String])?.contains("sale-or-sharing") == true)
        #expect((rights.first { $0["right"] as? String == "withdraw-consent" }?["purposes"] as? [String])?.contains("marketing-email") == true)
        #expect(about["complaint"] as? String == SubjectExportAboutText.complaint && SubjectExportAboutText.complaint.contains("supervisory authority"))
        #expect((about["sources"] as? [[String: Any]])?.contains { $0["kind"] as? String == "third-party" } == true)
        #expect(about["restricted"] as? Bool == false && about["note"] is NSNull)

        let text = String(decoding: try readBytes(summary.directory + "/about.txt"), as: UTF8.self)
        #expect(text.contains(RecordsOfProcessingText.safeguard(.standardContractualClauses)) && text.contains("- TW: Example Logistics Taiwan Co., Ltd.; "))
        #expect(text.contains(SubjectExportAboutText.exercise(contact: "privacy@example.com", dpo: "dpo@example.com")))
        #expect(text.contains(SubjectExportAboutText.complaint) && text.contains(SubjectExportAboutText.right(.erasure)))

        // Automated decisions: only an activity using them that concerns the subject.
        #expect(about["automated_decisions"] as? [[String: Any]] != nil && (about["automated_decisions"] as? [[String: Any]])?.isEmpty == true)
        try s.put("c2", ["email": "c2@example.com", "last_interaction": "2026-01-01"])
        let withBehaviour = try s.about("c2").1
        #expect((withBehaviour["automated_decisions"] as? [[String: Any]])?.first?["activity"] as? String == "analytics")
    }

    @Test(arguments: [nil, "version: 1\ncontroller: {}\n"])
    func aVaultWithoutAValidProcessingYAMLStillExportsAndSaysSo(processing: String?) throws {
        var s = try Setup()
        s.vault = try RecordsOfProcessingTests.reopen(s.made, processing: processing)
        try s.put("c1", ["email": "c1@example.com", "segment": "customer", "closed_at": "2026-01-15"])
        let (summary, about) = try s.about("c1")
        #expect(!summary.processingDescribed)
        #expect(summary.processingProblem?.contains("processing.yaml") == true)
        #expect(about["described"] as? Bool == false && about["note"] as? String == SubjectExportAboutText.notDescribed)
        for key in ["controller", "activities", "purposes", "recipients", "transfers", "sources", "automated_decisions"] {
            #expect(about[key] is NSNull, "\(key)")
        }
        // What the other policies give is still there.
        #expect(Self.categories(about) == ["contact: email", "account: closed_at, segment"])
        #expect(try Self.rule(about, "customer-contact-after-closure")["due_at"] as? String == "2029-01-15T00:00:00.000Z")
        #expect((about["rights"] as? [[String: Any]])?.count == SubjectExportAbout.RightKind.allCases.count && about["complaint"] as? String == SubjectExportAboutText.complaint)
        let text = String(decoding: try readBytes(summary.directory + "/about.txt"), as: UTF8.self)
        #expect(text.contains(SubjectExportAboutText.notDescribed))
        #expect(summary.manifest.files.map(\.name) == SubjectExport.dataFileNames)
        let event = try #require(try s.vault.audit.events(matching: AuditQuery(action: "record.export"), context: Self.admin).last)
        #expect(event.reason == "subject export (10 files, plain); about.json: processing not described")
    }

    @Test func aSealedPackageSealsAboutAndStillOpensAndVerifies() throws {
        let s = try Setup()
        try s.put("c1", ["email": "zq.canary@example.com", "full_name": "Zelda Quixotic"])
        let requester = try ExportTests.Requester(s.made.dir, "requester")
        let (summary, _) = try s.about("c1", sealedTo: requester.publicKey)
        #expect(summary.written.contains("about.json.sealed") && summary.written.contains("about.txt.sealed") && !summary.written.contains("about.json"))
        let readme = String(decoding: try readBytes(summary.directory + "/README.txt"), as: UTF8.self)
        #expect(readme.contains("about.json"))
        for name in summary.written where name.hasSuffix(".sealed") {
            let bytes = try readBytes(summary.directory + "/" + name)
            for needle in ["Example Retail", "order-fulfilment", "zq.canary"] { #expect(bytes.firstRange(of: Array(needle.utf8)) == nil, "\(needle) in \(name)") }
        }
        let opened = s.made.dir.url.appendingPathComponent("opened")
        let manifest = try SubjectExport.openSealed(URL(fileURLWithPath: summary.directory), keyPair: requester.keyPair, to: opened)
        #expect(manifest.files.map(\.name) == SubjectExport.dataFileNames)
        let about = try ExportTests.json(opened.path + "/about.json")
        #expect(about["subject"] as? String == "c1" && about["described"] as? Bool == true)
        let entry = try #require(manifest.files.first { $0.name == "about.txt" })
        #expect(Hex.encode(SHA256.hash(try readBytes(opened.path + "/about.txt"))) == entry.sha256)
        #expect(try s.vault.audit.verify().ok)
    }

    /// docs/formats.md documents the package as it is: every data file, and every member
    /// of about.json.
    @Test func formatsMDDescribesEveryFileAndEveryMemberOfAboutJSON() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: root.appendingPathComponent("docs/formats.md"), encoding: .utf8)
        let start = try #require(docs.range(of: "\n## Subject export package\n"))
        let rest = docs[start.upperBound...]
        let section = rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)]
        for name in SubjectExport.dataFileNames { #expect(section.contains("`\(name)`"), "\(name)") }
        let s = try Setup()
        try s.put("c1", ["email": "c1@example.com", "address": "1 Road"])
        let about = try s.about("c1").1
        var keys = Set(about.keys)
        for list in ["purposes", "retention", "transfers", "recipients", "rights", "sources", "data_categories", "activities"] {
            for item in about[list] as? [[String: Any]] ?? [] { keys.formUnion(item.keys) }
        }
        for key in keys { #expect(section.contains("`\(key)`"), "about.json member \(key) is not in docs/formats.md") }
    }
}
