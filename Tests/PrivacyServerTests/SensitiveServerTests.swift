import Foundation
import Testing

/// Issue 23, point 4, through privacyd: the limit is decided in the same access decision a
/// service's batch read and envelope decrypt go through.
@Suite("privacyd and sensitive data")
struct SensitiveServerTests {
    @Test func aServiceSharingDataLosesTheNationalIDOfALimitedSubjectOnly() throws {
        let h = try Harness()
        let ads = try h.addClient("ads", role: "admin", purposes: ["sale-or-sharing"])
        try h.start()
        for (subject, id) in [("c1", "A123456789"), ("c2", "B123456789")] {
            let put = try h.call("/v1/records/put", token: ads, purpose: "sale-or-sharing",
                                 body: ["subject": subject, "values": ["email": "\(subject)@example.com", "national_id": id]])
            #expect(put.status == 200, "\(put.text)")
        }
        let sealed = try h.call("/v1/transit/encrypt", token: ads, purpose: "sale-or-sharing",
                                body: ["items": [["value": "A123456789", "field": "national_id", "subject": "c1"]]])
        let envelope = try #require(sealed.results.first?["envelope"] as? String)
        let limited = try h.call("/v1/consent/object", token: ads, purpose: "sale-or-sharing", body: ["subject": "c1", "purpose": "sensitive-data-use"])
        #expect(limited.status == 200, "\(limited.text)")

        let all = try h.call("/v1/records/get", token: ads, purpose: "sale-or-sharing", body: ["subjects": ["c1", "c2"]])
        #expect((all.results.first?["fields"] as? [String: String]) == ["email": "c1@example.com"], "\(all.text)")
        #expect((all.results.last?["fields"] as? [String: String])?["national_id"] == "B123456789")
        let named = try h.call("/v1/records/get", token: ads, purpose: "sale-or-sharing", body: ["subjects": ["c1"], "fields": ["national_id"]])
        #expect((named.results.first?["error"] as? [String: Any])?["code"] as? String == "denied" && !named.text.contains("A123456789"))
        let opened = try h.call("/v1/transit/decrypt", token: ads, purpose: "sale-or-sharing",
                                body: ["items": [["envelope": envelope, "field": "national_id", "subject": "c1"]]])
        #expect((opened.results.first?["error"] as? [String: Any])?["code"] as? String == "denied" && !opened.text.contains("A123456789"))
        _ = h.stop()
    }
}
