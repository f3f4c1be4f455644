import Foundation
import Testing

/// `privacyctl consent …` end to end.
@Suite("privacyctl consent")
struct ConsentCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    @Test func grantStatusWithdrawHistoryAudienceCounts() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        for id in ["S1", "S2"] {
            #expect(try CLI.run(["records", "put", "--subject", id, "--set", "email=\(id)@example.com"], environment: env).status == 0)
        }
        let grant = try CLI.run(["consent", "grant", "--subject", "S1", "--purpose", "marketing-email", "--channel", "web-form",
                                 "--evidence-hash", String(repeating: "ab", count: 16), "--json"], environment: env)
        #expect(grant.status == 0, "\(grant.stderr)")
        let event = try #require((try grant.json()["events"] as? [[String: Any]])?.first)
        #expect(event["kind"] as? String == "grant" && event["notice_version"] as? String == "2026-01" && event["channel"] as? String == "web-form")

        let status = try CLI.run(["consent", "status", "--subject", "S1", "--purpose", "marketing-email", "--json"], environment: env)
        let answer = try #require((try status.json()["answers"] as? [[String: Any]])?.first)
        #expect(answer["allowed"] as? Bool == true && answer["state"] as? String == "granted")
        let all = try CLI.run(["consent", "status", "--subject", "S2"], environment: env)
        #expect(all.status == 0 && all.stdout.contains("marketing-email: not allowed (never-asked)") && all.stdout.contains("order-fulfilment: allowed (not-required)"))
        // Many subjects in one call, from a file: the same answers as one call each.
        let list = v.scratch.file("subjects.txt")
        try Data("S2\nS1\n".utf8).write(to: URL(fileURLWithPath: list))
        let many = try CLI.run(["consent", "status", "--subjects-file", list, "--purpose", "marketing-email", "--json"], environment: env)
        let answers = (try many.json()["answers"] as? [[String: Any]]) ?? []
        #expect(answers.map { "\($0["subject"] as? String ?? "") \($0["allowed"] as? Bool ?? false)" } == ["S2 false", "S1 true"], "\(many.stdout)")

        let audience = try CLI.run(["consent", "audience", "--purpose", "marketing-email"], environment: env)
        #expect(audience.status == 0 && audience.stdout == "S1\n" && audience.stderr.contains("1 subjects"))
        #expect(try CLI.run(["consent", "object", "--subject", "S2", "--gpc"], environment: env).status == 0)
        let optOut = try CLI.run(["consent", "audience", "--purpose", "sale-or-sharing", "--json"], environment: env)
        #expect(optOut.stdout.split(separator: "\n").first == #"{"subject":"S1"}"#)

        #expect(try CLI.run(["consent", "withdraw", "--subject", "S1", "--purpose", "marketing-email"], environment: env).status == 0)
        let history = try CLI.run(["consent", "history", "--subject", "S1", "--json"], environment: env)
        #expect((try history.json()["events"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } == ["grant", "withdraw"])
        let counts = try CLI.run(["consent", "counts", "--json"], environment: env).json()
        let purposes = try #require(counts["purposes"] as? [String: [String: Int]])
        #expect(purposes["marketing-email"] == ["withdrawn": 1, "never-asked": 1])
        #expect(purposes["sale-or-sharing"] == ["not-objected": 1, "objected": 1])

        // The marketer's read follows the consent.
        let read = try CLI.run(["records", "get", "--subject", "S1", "--field", "email", "--role", "marketer", "--purpose", "marketing-email"], environment: env)
        #expect(read.status == Exit.denied && read.stderr.contains("withdrawn on"))

        // Bad input: a clear message and a non-zero exit.
        #expect(try CLI.run(["consent", "grant", "--subject", "S1", "--purpose", "order-fulfilment"], environment: env).status == Exit.invalidInput)
        #expect(try CLI.run(["consent", "grant", "--subject", "S1", "--purpose", "marketing-email", "--channel", "carrier-pigeon"], environment: env).status == Exit.invalidInput)
        #expect(try CLI.run(["consent", "grant", "--subject", "S9", "--purpose", "marketing-email"], environment: env).status == Exit.notFound)
        #expect(try CLI.run(["consent", "object", "--subject", "S1"], environment: env).status == Exit.usage)
        #expect(try CLI.run(["audit", "verify", "--json"], environment: env).json()["ok"] as? Bool == true)
    }

    @Test func receiptWrittenAndVerifiedOffline() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        #expect(try CLI.run(["records", "put", "--subject", "S1", "--set", "email=s1@example.com"], environment: env).status == 0)
        #expect(try CLI.run(["consent", "grant", "--subject", "S1", "--purpose", "marketing-email", "--channel", "store"], environment: env).status == 0)
        let receipt = try CLI.run(["consent", "receipt", "--subject", "S1", "--purpose", "marketing-email"], environment: env)
        #expect(receipt.status == 0, "\(receipt.stderr)")
        let file = v.scratch.file("receipt.json")
        try Data(receipt.stdout.utf8).write(to: URL(fileURLWithPath: file))
        let key = try #require(try CLI.run(["audit", "public-key", "--vault", v.vault, "--json"]).json()["public_key"] as? String)
        // Offline: no vault, no secret; the key from a trusted copy.
        let ok = try CLI.run(["consent", "verify-receipt", file, "--public-key=\(key)", "--subject", "S1"])
        #expect(ok.status == 0 && ok.stdout.contains("valid receipt") && ok.stdout.contains("#1 grant"), "\(ok.stderr)")
        let json = try CLI.run(["consent", "verify-receipt", file, "--public-key=\(key)", "--json"]).json()
        #expect(json["valid"] as? Bool == true && (json["proves"] as? [String])?.isEmpty == false)
        let other = try CLI.run(["consent", "verify-receipt", file, "--public-key=\(key)", "--subject", "S2"])
        #expect(other.status == PrivacyctlTests.Exit.integrity && other.stderr.contains("about another subject"))
        let tampered = receipt.stdout.replacingOccurrences(of: "\"store\"", with: "\"app\"")
        #expect(tampered != receipt.stdout)
        try Data(tampered.utf8).write(to: URL(fileURLWithPath: file))
        let bad = try CLI.run(["consent", "verify-receipt", file, "--vault", v.vault])
        #expect(bad.status == PrivacyctlTests.Exit.integrity && bad.stderr.contains("altered after signing"))
    }

    /// `verify-receipt` checks the receipt as issued: a second `piiPrincipalId` (which other
    /// JSON readers may take instead) or an unknown member makes it invalid (exit 69).
    @Test func aReceiptWithADuplicateOrUnknownMemberDoesNotVerify() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        #expect(try CLI.run(["records", "put", "--subject", "cust-1", "--set", "email=c1@example.com"], environment: env).status == 0)
        #expect(try CLI.run(["consent", "grant", "--subject", "cust-1", "--purpose", "marketing-email", "--channel", "store"], environment: env).status == 0)
        let issued = try CLI.run(["consent", "receipt", "--subject", "cust-1", "--purpose", "marketing-email"], environment: env).stdout
        #expect(issued.hasPrefix("{\n") && issued.contains("\"piiPrincipalId\" : \"cust-1\""))
        let file = v.scratch.file("receipt.json")
        let variants = [
            "as issued": (issued, Int32(0)),
            "duplicate subject first": ("{\n  \"piiPrincipalId\" : \"cust-999\",\n" + issued.dropFirst(2), PrivacyctlTests.Exit.integrity),
            "duplicate subject last": (String(issued.dropLast(3)) + ",\n  \"piiPrincipalId\" : \"cust-999\"\n}\n", PrivacyctlTests.Exit.integrity),
            "extra member": ("{\n  \"note\" : \"x\",\n" + issued.dropFirst(2), PrivacyctlTests.Exit.integrity),
        ]
        for (name, (text, status)) in variants {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
            for subject in ["cust-1", "cust-999"] {
                let checked = try CLI.run(["consent", "verify-receipt", file, "--vault", v.vault, "--subject", subject, "--json"])
                let expected = subject == "cust-1" ? status : PrivacyctlTests.Exit.integrity
                #expect(checked.status == expected, "\(name) for \(subject): \(checked.stdout)")
                if status != 0 { #expect(checked.stdout.contains("exact form"), "\(name): \(checked.stdout)") }
            }
        }
    }

    @Test func importReadsAConsentColumn() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let csv = v.scratch.file("crm.csv")
        try "id,email,marketing_consent\nA1,a1@example.com,yes\nA2,a2@example.com,no\nA3,a3@example.com,\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let imported = try CLI.run(["import", csv, "--consent-column", "marketing_consent=marketing-email", "--consent-notice-version", "2026-01", "--json"], environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try imported.json()["consent_events"] as? Int == 2 && imported.json()["unknown_columns"] as? [String] == [])
        let audience = try CLI.run(["consent", "audience", "--purpose", "marketing-email"], environment: env)
        #expect(audience.stdout == "A1\n")
    }
}
