import Foundation
import Testing

/// Issue 23, point 4, through the CLI: a limit withholds sensitive fields from the
/// purposes that may not use them after it, and a limit request is answered by it.
@Suite("privacyctl and sensitive data")
struct SensitiveCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    @Test func aLimitWithholdsTheNationalIDFromSharingButNotFromCompliance() throws {
        let f = try RequestsCommandTests.Fixture()
        #expect(try f.run(["records", "put", "--subject", "S1", "--set", "national_id=A123456789"]).status == 0)
        let sharing = ["--role", "admin", "--purpose", "sale-or-sharing"]
        let before = try f.json(["records", "get", "--subject", "S1"] + sharing)
        #expect((before.object["fields"] as? [String: Any])?["national_id"] as? String == "A123456789", "\(before.object)")

        // A limit request under the CCPA: no verification needed, 15 business days.
        let opened = try f.json(["requests", "open", "--type", "limit", "--subject", "S1", "--regime", "ccpa"])
        let request = try #require(opened.object["request"] as? [String: Any])
        let id = try #require(request["id"] as? String)
        #expect(request["identity_required"] as? String == "none" && request["deadline_basis"] as? String == "CCPA regulations § 7027(g)(1)")
        #expect(try f.run(["requests", "close", id, "--outcome", "completed"]).status == Exit.invalidInput)
        #expect(try f.run(["consent", "object", "--subject", "S1", "--purpose", "sensitive-data-use"]).status == 0)
        let closed = try f.json(["requests", "close", id, "--outcome", "completed"])
        #expect(closed.status == 0 && ((closed.object["request"] as? [String: Any])?["proof"] as? [String: Any])?["kind"] as? String == "limit")

        let after = try f.json(["records", "get", "--subject", "S1"] + sharing)
        let fields = try #require(after.object["fields"] as? [String: Any])
        #expect(fields["national_id"] == nil && fields["email"] as? String == "s1@example.com")
        let named = try f.run(["records", "get", "--subject", "S1", "--field", "national_id"] + sharing)
        #expect(named.status == Exit.denied && named.stderr.contains("§ 1798.121") && !named.stderr.contains("A123456789"))
        let compliance = try f.json(["records", "get", "--subject", "S1", "--field", "national_id", "--role", "privacy-officer", "--purpose", "privacy-compliance"])
        #expect((compliance.object["fields"] as? [String: Any])?["national_id"] as? String == "A123456789")
        // Only under the CCPA.
        let gdpr = try f.run(["requests", "open", "--type", "limit", "--subject", "S1", "--regime", "gdpr"])
        #expect(gdpr.status == Exit.invalidInput && gdpr.stderr.contains("open it under ccpa"))
    }
}
