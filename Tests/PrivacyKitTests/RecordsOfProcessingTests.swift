import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// `vault.reports.exportRecordsOfProcessing`: the record joins processing.yaml with the
/// other policy files, renders safely as JSON, CSV and HTML, and is never written without
/// its `ropa.export` event.
@Suite("Records of processing")
struct RecordsOfProcessingTests {
    static let officer = AccessContext(actor: "dpo", role: "privacy-officer", purpose: "privacy-compliance")

    /// The vault again, after its processing.yaml was replaced (or removed, for nil).
    static func reopen(_ made: KeyFileTestVault, processing: String?) throws -> Vault {
        let path = made.vault.policiesPath + "/" + ProcessingPolicy.fileName
        if let processing {
            try Data(processing.utf8).write(to: URL(fileURLWithPath: path))
        } else {
            try FileManager.default.removeItem(atPath: path)
        }
        return try Vault.open(at: made.vault.directory, rootKey: .keyFile(at: made.keyFile))
    }

    static func events(_ vault: Vault, _ action: String) throws -> [AuditEvent] {
        try vault.audit.events(matching: AuditQuery(action: action), context: officer)
    }

    @Test func theJSONJoinsLawfulBasisRetentionPeriodAndSafeguards() throws {
        let made = try KeyFileTestVault()
        let out = made.dir.file("ropa.json")
        let summary = try made.vault.reports.exportRecordsOfProcessing(as: .json, to: out, now: Date(timeIntervalSince1970: 1_800_000_000), context: Self.officer)
        #expect(summary.file == out && summary.format == "json" && summary.activities == 7)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
        #expect(summary.bytes == bytes.count && summary.sha256 == Hex.encode(SHA256.hash([UInt8](bytes))))
        #expect((try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int) == 0o600)

        let object = try #require(try JSONSerialization.jsonObject(with: bytes) as? [String: Any])
        #expect(object["vault_id"] as? String == made.vault.id.hex && object["generated_at"] as? String == "2027-01-15T08:00:00.000Z")
        #expect((object["controller"] as? [String: Any])?["name"] as? String == "Example Retail Ltd")
        let activities = try #require(object["activities"] as? [[String: Any]])
        func activity(_ id: String) throws -> [String: Any] { try #require(activities.first { $0["id"] as? String == id }) }
        // The lawful basis of a purpose, from purposes.yaml.
        let marketing = try activity("marketing")
        let purposes = try #require(marketing["purposes"] as? [[String: Any]])
        #expect(purposes.first { $0["id"] as? String == "marketing-email" }?["lawful_basis"] as? String == "consent")
        // The period of a retention rule, from retention.yaml.
        let legal = try activity("legal-and-accounting")
        let rules = try #require(legal["retention"] as? [[String: Any]])
        #expect(rules.first?["rule"] as? String == "customer-tax-records" && rules.first?["period"] as? String == "P7Y")
        #expect(rules.first?["action"] as? String == "anonymize")
        // A transfer's safeguard, and the fields of a data category from schema.yaml.
        let support = try activity("customer-support")
        let transfers = try #require(support["transfers"] as? [[String: Any]])
        #expect(transfers.contains { $0["country"] as? String == "CN" && $0["safeguard"] as? String == "pipl-standard-contract" })
        let categories = try #require(support["data_categories"] as? [[String: Any]])
        #expect(categories.first { $0["category"] as? String == "identity" }?["fields"] as? [String] == ["full_name", "national_id"])
        let analytics = try activity("analytics")
        #expect((analytics["automated_decisions"] as? [String: Any])?["used"] as? Bool == true)

        // One ropa.export event with the format, the count and the file's digest.
        let events = try Self.events(made.vault, "ropa.export")
        #expect(events.count == 1 && events[0].actor == "dpo" && events[0].outcome == "allowed")
        #expect(events[0].reason == "records of processing (json, 7 activities, sha256 \(summary.sha256))")
    }

    @Test func aVaultWithoutProcessingYAMLOpensAndRefusesTheExport() throws {
        let made = try KeyFileTestVault()
        let vault = try Self.reopen(made, processing: nil)
        #expect(vault.policies.processing == nil)
        try vault.records.put(subject: "c1", values: ["email": "c1@example.com"], context: keysAdmin)
        let out = made.dir.file("ropa.html")
        let error = expectError(.notFound) { try vault.reports.exportRecordsOfProcessing(as: .html, to: out, context: Self.officer) }
        #expect(error?.message.contains("processing.yaml is missing") == true && error?.message.contains("policy default processing.yaml") == true)
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try Self.events(vault, "ropa.export").isEmpty)
    }

    @Test func anInvalidProcessingYAMLDoesNotStopTheVaultButStopsTheExport() throws {
        let made = try KeyFileTestVault()
        let vault = try Self.reopen(made, processing: "version: 1\ncontroller: {}\n")
        #expect(vault.policies.processing == nil)
        let error = expectError(.invalidInput) { try vault.reports.exportRecordsOfProcessing(as: .csv, to: made.dir.file("r.csv"), context: Self.officer) }
        #expect(error?.message.contains("processing.yaml: line 2: key 'controller.name' is missing") == true, "\(error?.message ?? "")")
    }

    @Test func aRoleWithoutThePolicyActionIsDeniedAndAudited() throws {
        let made = try KeyFileTestVault()
        let auditor = AccessContext(actor: "aud", role: "auditor", purpose: "privacy-compliance")
        expectError(.denied) { try made.vault.reports.exportRecordsOfProcessing(as: .json, to: made.dir.file("r.json"), context: auditor) }
        #expect(!FileManager.default.fileExists(atPath: made.dir.file("r.json")))
        let denied = try Self.events(made.vault, "ropa.export")
        #expect(denied.count == 1 && denied[0].outcome == "denied" && denied[0].actor == "aud")
    }

    /// Policy text is operator input: in CSV it must not break a cell or run as a formula,
    /// in HTML it must not become markup.
    static let hostile = """
        version: 1
        controller:
          name: "=HYPERLINK(\\"http://x.example\\",\\"click\\")"
          address: "1 Quote \\"Street\\", Town"
          contact: "+44 20 7946 0958"
        activities:
          everything:
            name: "<script>alert(1)</script> & co"
            description: "-2+3 line one\\nline two"
            purposes: [customer-support, order-fulfilment, marketing-email, marketing-sms, profiling, sale-or-sharing, legal-obligation, privacy-compliance, legal-claims, sensitive-data-use]
            data_subjects: ["@customers", "leads, old"]
            data_categories: [contact, identity, demographic, location, account, behavioural]
            recipients:
              - name: "Acme <b>Ltd</b>"
                kind: processor
                country: TW
            transfers:
              - country: TW
                recipient: "Acme <b>Ltd</b>"
                safeguard: standard-contractual-clauses
            retention: [lead-inactive, lead-marketing-withdrawn, customer-contact-after-closure, customer-tax-records]
            source:
              - kind: third-party
                label: "\\"quoted\\" list"
            automated_decisions:
              used: false

        """

    /// The record of ``hostile`` as a file of `format`.
    static func hostileExport(_ format: RecordsOfProcessing.Format) throws -> String {
        let made = try KeyFileTestVault()
        let vault = try reopen(made, processing: hostile)
        let out = made.dir.file("ropa." + format.rawValue)
        _ = try vault.reports.exportRecordsOfProcessing(as: format, to: out, context: officer)
        return try String(contentsOfFile: out, encoding: .utf8)
    }

    @Test func csvQuotesCellsAndNeutralisesFormulas() throws {
        let csv = try Self.hostileExport(.csv)
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines.count == 3 && lines[2].isEmpty, "a header, one row per activity, CRLF line ends")
        #expect(lines[0].hasPrefix("Controller,Data protection officer,"))
        // A formula is prefixed with an apostrophe (and quoted, for its comma and quotes).
        #expect(lines[1].hasPrefix("\"'=HYPERLINK(\"\"http://x.example\"\",\"\"click\"\"), 1 Quote \"\"Street\"\", Town, +44 20 7946 0958\","), "\(lines[1])")
        // A cell that starts with - or @ too; a comma in a value quotes the cell.
        #expect(lines[1].contains(",\"'-2+3 line one\nline two\","))
        #expect(lines[1].contains(",\"'@customers; leads, old\","))
        #expect(lines[1].contains("\"From a third party: \"\"quoted\"\" list\""))
        #expect(!lines[1].contains(",=") && !lines[1].contains(",@") && !lines[1].contains(",-"))
        #expect(RecordsOfProcessingCSV.neutralized("+1") == "'+1" && RecordsOfProcessingCSV.neutralized("\tx") == "'\tx")
        #expect(RecordsOfProcessingCSV.neutralized("a=b") == "a=b" && RecordsOfProcessingCSV.neutralized("") == "")
    }

    @Test func htmlEscapesEveryPolicyText() throws {
        let html = try Self.hostileExport(.html)
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("Content-Security-Policy"))
        #expect(!html.contains("<script") && !html.contains("<b>"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co") && html.contains("Acme &lt;b&gt;Ltd&lt;/b&gt;"))
        #expect(html.contains("data-figure=\"activity:everything:purpose:marketing-email:lawful-basis\">consent<"))
        #expect(html.contains("data-figure=\"activity:everything:retention:customer-tax-records:period\">P7Y<"))
        #expect(html.contains("data-figure=\"activity:everything:transfer:0:safeguard\">standard-contractual-clauses<"))
    }

    @Test func anExportWhoseEventCannotBeWrittenWritesNoFile() throws {
        let f = try AuditFixture()
        let out = f.dir.file("ropa.html")
        try f.tamper { db in try failAuditInserts(db) }
        #expect(throws: (any Error).self) { try f.vault.reports.exportRecordsOfProcessing(as: .html, to: out, context: f.context) }
        #expect(!FileManager.default.fileExists(atPath: out), "a record left the vault without its event")
        try f.tamper { db in try allowAuditInserts(db) }
        _ = try f.vault.reports.exportRecordsOfProcessing(as: .html, to: out, context: f.context)
        #expect(FileManager.default.fileExists(atPath: out))
    }

    @Test func anExistingDifferentFileIsKeptUnlessOverwriting() throws {
        let made = try KeyFileTestVault()
        let out = made.dir.file("ropa.csv")
        try Data("an earlier record".utf8).write(to: URL(fileURLWithPath: out))
        expectError(.alreadyExists) { try made.vault.reports.exportRecordsOfProcessing(as: .csv, to: out, context: Self.officer) }
        #expect(try Self.events(made.vault, "ropa.export").isEmpty, "a refused destination costs no event")
        _ = try made.vault.reports.exportRecordsOfProcessing(as: .csv, to: out, overwrite: true, context: Self.officer)
        #expect(try String(contentsOfFile: out, encoding: .utf8).hasPrefix("Controller,"))
        // The default destination: the vault's Reports directory.
        let summary = try made.vault.reports.exportRecordsOfProcessing(as: .html, context: Self.officer)
        #expect(summary.file.hasPrefix(made.vault.directory.path + "/Reports/ropa-") && summary.file.hasSuffix(".html"))
    }
}
