import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

@Suite("Breach notices")
struct BreachNoticeTests {
    static let officer = RequestsTests.officer

    /// BreachTests' window (A read s1 three fields and s2's e-mail) and an open breach.
    struct Drafting {
        let w: BreachTests.Window
        let breach: BreachRecord

        init() throws {
            w = try BreachTests.Window()
            breach = try w.s.vault.breaches.open(detectedAt: Date().addingTimeInterval(-3600), summary: "Laptop of Jane Roe stolen", context: BreachNoticeTests.officer)
        }

        var vault: Vault { w.s.vault }

        func request(_ regimes: [PrivacyRegime] = [.gdpr], persons: BreachPersonNotices, summary: String? = nil) -> BreachNoticeRequest {
            BreachNoticeRequest(regimes: regimes, since: w.since, until: w.until, actor: "A", consequences: "Phishing e-mails are likely.",
                                measures: "The laptop's disk key was revoked.", publicSummary: summary, persons: persons)
        }

        func notify(_ request: BreachNoticeRequest, into name: String, id: String? = nil, context: AccessContext = BreachNoticeTests.officer) throws
            -> BreachNoticeSummary
        {
            try vault.breaches.notify(id ?? breach.id, request, to: URL(fileURLWithPath: w.s.base.dir.file(name)), context: context)
        }

        func file(_ directory: String, _ name: String) throws -> Data {
            try Data(contentsOf: URL(fileURLWithPath: w.s.base.dir.file(directory) + "/" + name))
        }

        func json(_ directory: String, _ name: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: try file(directory, name)) as? [String: Any])
        }

        /// Every file of the directory, as one blob.
        func everything(_ directory: String) throws -> String {
            let path = w.s.base.dir.file(directory)
            return try FileManager.default.contentsOfDirectory(atPath: path).sorted().map {
                String(decoding: try Data(contentsOf: URL(fileURLWithPath: path + "/" + $0)), as: UTF8.self)
            }.joined(separator: "\n")
        }

        func reads() throws -> [StoreRow] { try auditRows(vault, where: "action = 'record.read' AND request_id = '\(breach.id)'") }
    }

    @Test func theAuthorityDraftHoldsTheImpactCountsTheDPOAndEachRegimesClock() throws {
        let d = try Drafting()
        let summary = try d.notify(d.request([.gdpr, .pipl, .pdpaTW, .ccpa], persons: .csv(includeAddresses: false)), into: "notices")
        #expect(summary.manifest.counts == BreachNoticeCounts(subjects: 2, notices: 2, erased: 0, refused: 0, noChannel: 0, unresolved: 0, values: 5, events: 3))
        #expect(summary.written == ["authority.json", "authority.txt", "person-notice.txt", "persons.csv", "manifest.json"])

        let authority = try d.json("notices", "authority.json")
        #expect(authority["persons"] as? Int == 2 && authority["values"] as? Int == 5 && authority["nature"] as? String == "Laptop of Jane Roe stolen")
        #expect((authority["categories"] as? [String: [String: Int]]) == ["contact": ["subjects": 2, "values": 4], "identity": ["subjects": 1, "values": 1]])
        let dpo = try #require(d.vault.core.policies.processing?.controller.dpo?.contact)
        #expect((authority["contact"] as? String)?.contains(dpo) == true && authority["contact_missing"] as? Bool == false)
        let regimes = try #require(authority["regimes"] as? [[String: Any]])
        #expect(regimes.compactMap { $0["regime"] as? String } == ["gdpr", "pipl", "pdpa-tw", "ccpa"])
        // GDPR: the authority within 72 hours of detection; PIPL: no clock, never an invented one.
        let gdpr = try #require(regimes[0]["authority"] as? [String: Any])
        #expect(gdpr["deadline"] as? String == Timestamp.precise(d.breach.detectedAt.addingTimeInterval(72 * 3600)) && gdpr["citation"] as? String == "GDPR art. 33(1)")
        let items = try #require(regimes[0]["items"] as? [[String: Any]])
        #expect(items.compactMap { $0["reference"] as? String } == ["GDPR art. 33(3)(a)", "GDPR art. 33(3)(b)", "GDPR art. 33(3)(c)", "GDPR art. 33(3)(d)"])
        #expect((items[0]["text"] as? String)?.contains("About 2 persons") == true && (items[1]["text"] as? String)?.contains(dpo) == true)
        #expect(items[2]["text"] as? String == "Phishing e-mails are likely." && items[3]["text"] as? String == "The laptop's disk key was revoked.")
        let pipl = try #require(regimes[1]["authority"] as? [String: Any])
        #expect(pipl["deadline"] is NSNull && pipl["citation"] as? String == "PIPL art. 57(1)")
        #expect((regimes[1]["items"] as? [[String: Any]])?.first?["reference"] as? String == "PIPL art. 57(1)(1)")
        // Taiwan's art. 12 as enacted (no commencement date configured): no authority duty, said so.
        #expect(regimes[2]["authority"] is NSNull && (regimes[2]["items"] as? [Any])?.isEmpty == true)
        #expect((regimes[2]["notes"] as? [String])?.first?.hasPrefix("No duty to notify an authority under PDPA (Taiwan) art. 12 (as enacted)") == true)

        let text = String(decoding: try d.file("notices", "authority.txt"), as: UTF8.self)
        #expect(text.contains("GDPR art. 33(3)(a): The nature of the breach") && text.contains("no statutory clock: at once, with the remedial measures taken"))
        #expect(text.contains("Deadline: \(Timestamp.precise(d.breach.deadline))"))

        // The manifest: every file's SHA-256.
        let manifest = try d.json("notices", "manifest.json")
        let files = try #require(manifest["files"] as? [[String: Any]])
        #expect(files.count == 4)
        for entry in files {
            let name = try #require(entry["name"] as? String)
            #expect(entry["sha256"] as? String == Hex.encode(SHA256.hash([UInt8](try d.file("notices", name)))), "\(name)")
        }
    }

    @Test func withoutProcessingYamlTheContactPointIsSaidToBeMissing() throws {
        let d = try Drafting()
        try FileManager.default.removeItem(atPath: d.vault.policiesPath + "/processing.yaml")
        let reopened = try Vault.open(at: d.vault.directory, rootKey: .keyFile(at: d.w.s.base.dir.file("root.key")))
        _ = try reopened.breaches.notify(d.breach.id, d.request(persons: .csv(includeAddresses: false)),
                                         to: URL(fileURLWithPath: d.w.s.base.dir.file("notices")), context: Self.officer)
        let authority = try d.json("notices", "authority.json")
        #expect(authority["contact_missing"] as? Bool == true && (authority["contact"] as? String)?.hasPrefix("MISSING") == true)
    }

    @Test func theCSVHoldsNoAddressUnlessAskedAndThenEveryReadIsAudited() throws {
        let d = try Drafting()
        _ = try d.notify(d.request(persons: .csv(includeAddresses: false)), into: "plain")
        let csv = String(decoding: try d.file("plain", "persons.csv"), as: UTF8.self)
        #expect(csv == "subject,status,channels,regimes\r\ns1,ok,email phone,gdpr\r\ns2,ok,email phone,gdpr\r\n")
        // The persons' addresses, that is (the DPO's address is in the draft on purpose).
        #expect(try !d.everything("plain").contains("s1@example.com") && !d.everything("plain").contains("+44"))
        #expect(try d.reads().isEmpty)

        _ = try d.notify(d.request(persons: .csv(includeAddresses: true)), into: "addresses")
        let lines = String(decoding: try d.file("addresses", "persons.csv"), as: UTF8.self).components(separatedBy: "\r\n")
        #expect(lines[0] == "subject,status,channels,regimes,email,phone,address,city,country")
        #expect(lines[1] == "s1,ok,email phone,gdpr,s1@example.com,+442079460958,,," && lines[2].hasPrefix("s2,ok,email phone,gdpr,s2@example.com,"))
        // One read per person, naming the fields read; the draft's own event names the fields, no value.
        let reads = try d.reads()
        let pseudonyms = try ["s1", "s2"].map { try d.vault.core.subjectPseudonym($0) }
        #expect(reads.map { $0["subject"] as String } == pseudonyms && reads.allSatisfy { $0["fields"] as String == "email,phone" })
        let events = try auditRows(d.vault, where: "action = 'breach.notify'")
        #expect(events.count == 2 && events.allSatisfy { $0["outcome"] as String == "allowed" && $0["subject"] as String? == nil && $0["request_id"] as String == d.breach.id })
        #expect(events[0]["fields"] as String == "" && events[1]["fields"] as String == "email,phone,address,city,country")
        #expect((events[1]["reason"] as String).hasPrefix("\(d.breach.id): notices drafted for gdpr: 2 persons (0 erased, 0 refused, 0 without a channel)"))
        // No text, summary, value or subject id in any event of the drafts.
        for row in try auditRows(d.vault, where: "request_id = '\(d.breach.id)'") {
            let reason = (row["reason"] as String?) ?? ""
            for secret in ["Jane", "Phishing", "laptop", "@", "+44", "s1", "s2"] { #expect(!reason.contains(secret), "\(reason)") }
        }
    }

    @Test func sealedNoticesOpenToEachPersonsOwnNoticeAndNoAddressIsOnDisk() throws {
        let d = try Drafting()
        let mailer = try SealedBox.KeyPair.generate()
        let summary = try d.notify(d.request(persons: .sealed(to: mailer.publicKey), summary: "A laptop with customer data was stolen."), into: "sealed")
        #expect(summary.written == ["authority.json", "authority.txt", "person-notice.txt", "persons.csv", "notice-0001.sealed", "notice-0002.sealed", "manifest.json"])
        #expect(summary.manifest.sealedTo == SubjectExport.fingerprint(mailer.publicKey) && !summary.manifest.addresses)
        let index = String(decoding: try d.file("sealed", "persons.csv"), as: UTF8.self)
        #expect(index == "subject,status,channels,regimes,file\r\ns1,ok,email phone,gdpr,notice-0001.sealed\r\ns2,ok,email phone,gdpr,notice-0002.sealed\r\n")
        for (file, subject) in [("notice-0001.sealed", "s1"), ("notice-0002.sealed", "s2")] {
            let opened = try SealedBox.open([UInt8](try d.file("sealed", file)), with: mailer)
            let notice = try JSONDecoder().decode(BreachPersonNotice.self, from: Data(opened))
            #expect(notice.subject == subject && notice.breach == d.breach.id && notice.contact["email"] == "\(subject)@example.com")
            #expect(notice.contact["phone"] == "+442079460958" && notice.channels == ["email", "phone"])
            #expect(notice.text.contains("A laptop with customer data was stolen.") && notice.text.contains("Phishing e-mails are likely."))
            #expect(notice.text.contains("The laptop's disk key was revoked.") && !notice.text.contains("Jane"))
            #expect(notice.text.contains("Your information concerned\n" + (subject == "s1" ? "contact, identity\n" : "contact\n")))
        }
        let wrongKey = try SealedBox.KeyPair.generate()
        #expect(throws: (any Error).self) { try SealedBox.open([UInt8](try d.file("sealed", "notice-0001.sealed")), with: wrongKey) }
        #expect(try !d.everything("sealed").contains("s1@example.com") && !d.everything("sealed").contains("+44"))
        #expect(try d.reads().count == 2)
    }

    @Test func aRoleWithoutReadIsDeniedAuditedAndWritesNothingAndUnknownBreachesAreNotFound() throws {
        let d = try Drafting()
        let access = d.vault.policiesPath + "/access.yaml"
        let policy = try String(contentsOfFile: access, encoding: .utf8).replacingOccurrences(of: "\n  auditor:\n", with: """

              incident-desk:
                description: Drafts breach notices; reads no customer data.
                actions: [breach]
                purposes: [privacy-compliance]

              auditor:

            """)
        try policy.write(toFile: access, atomically: true, encoding: .utf8)
        let reopened = try Vault.open(at: d.vault.directory, rootKey: .keyFile(at: d.w.s.base.dir.file("root.key")))
        let desk = AccessContext(actor: "desk", role: "incident-desk", purpose: "privacy-compliance")
        let mailer = try SealedBox.KeyPair.generate()
        let target = URL(fileURLWithPath: d.w.s.base.dir.file("denied"))
        expectError(.denied) { try reopened.breaches.notify(d.breach.id, d.request(persons: .sealed(to: mailer.publicKey)), to: target, context: desk) }
        expectError(.denied) { try reopened.breaches.notify(d.breach.id, d.request(persons: .csv(includeAddresses: true)), to: target, context: desk) }
        let denied = try auditRows(reopened, where: "action = 'breach.notify'")
        #expect(denied.count == 2 && denied.allSatisfy { $0["outcome"] as String == "denied" && $0["actor"] as String == "desk" })
        #expect(try d.reads().isEmpty)
        // Nothing written, not even a staging directory.
        #expect(try FileManager.default.contentsOfDirectory(atPath: d.w.s.base.dir.path).filter { $0.contains("denied") }.isEmpty)
        // Channels without values need only the breach action.
        #expect(try reopened.breaches.notify(d.breach.id, d.request(persons: .csv(includeAddresses: false)), to: target, context: desk).manifest.counts.notices == 2)

        // A role without the breach action at all, and an unknown breach.
        let agent = AccessContext(actor: "agent", role: "support-agent", purpose: "customer-support")
        expectError(.denied) { try d.notify(d.request(persons: .csv(includeAddresses: false)), into: "agent", context: agent) }
        expectError(.notFound) { try d.notify(d.request(persons: .csv(includeAddresses: false)), into: "unknown", id: "breach-0000000000000000") }
        expectError(.invalidInput) { try d.notify(d.request([], persons: .csv(includeAddresses: false)), into: "none") }
        var empty = d.request(persons: .csv(includeAddresses: false))
        empty.measures = " \n"
        let error = expectError(.invalidInput) { try d.notify(empty, into: "none") }
        #expect(error?.message.contains(d.breach.id) == true && error?.message.contains("the measures") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: d.w.s.base.dir.path).filter { ["agent", "unknown", "none"].contains(where: $0.contains) }.isEmpty)
    }

    /// An erased person has no channel; a restricted one is refused (and the refusal
    /// audited) unless the role and purpose may process restricted subjects.
    @Test func erasedPersonsAreListedAndRestrictedOnesRefusedForOtherPurposes() throws {
        let d = try Drafting()
        try d.w.s.erase("s2")
        try d.vault.retention.restrict(subject: "s1", reason: "contested", context: keysAdmin)
        let support = AccessContext(actor: "dpo", role: "privacy-officer", purpose: "customer-support")
        let summary = try d.notify(d.request(persons: .csv(includeAddresses: true)), into: "support", context: support)
        #expect(summary.manifest.counts.refused == 1 && summary.manifest.counts.erased == 1 && summary.manifest.counts.notices == 0)
        #expect(String(decoding: try d.file("support", "persons.csv"), as: UTF8.self).contains("s1,refused,,gdpr,,,,,\r\ns2,erased,,gdpr,,,,,"))
        let refusal = try #require(try auditRows(d.vault, where: "action = 'record.read' AND outcome = 'denied'").last)
        #expect(refusal["subject"] as String == (try d.vault.core.subjectPseudonym("s1")))
        // privacy-compliance is a restricted purpose: the notice can go.
        #expect(try d.notify(d.request(persons: .csv(includeAddresses: true)), into: "compliance").manifest.counts.notices == 1)
    }
}
