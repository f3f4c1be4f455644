import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// A receipt verifies only in the exact form it was issued: no byte outside what the
/// signature covers, so no JSON reader can see in a valid receipt what PrivacyKit did not.
@Suite("Receipt strictness")
struct ReceiptStrictnessTests {
    static let admin = AccessContext(actor: "setup", role: "admin", purpose: "privacy-compliance")

    /// One receipt of each kind, as issued, with the name of its subject member.
    struct Receipts {
        let made: KeyFileTestVault
        let consent: Data
        let erasure: Data

        init() throws {
            made = try KeyFileTestVault()
            let vault = made.vault
            for id in ["cust-1", "cust-999"] {
                try vault.records.put(subject: id, values: ["email": "\(id)@example.com"], context: ReceiptStrictnessTests.admin)
                try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm), subject: id, context: ReceiptStrictnessTests.admin)
            }
            consent = try vault.consent.receipt(subject: "cust-1", purpose: "marketing-email", context: ReceiptStrictnessTests.admin).json()
            erasure = try vault.retention.erase(subject: "cust-1", reason: "GDPR art. 17", context: ReceiptStrictnessTests.admin).receipt.json()
        }

        var key: Ed25519.PublicKey { made.vault.auditPublicKey }
    }

    typealias Verify = @Sendable (Data, Ed25519.PublicKey?, String?) -> ReceiptVerification
    static let kinds: [(name: String, subjectKey: String, verify: Verify)] = [
        ("consent", "piiPrincipalId", ConsentReceipt.verify),
        ("erasure", "subject", ErasureReceipt.verify),
    ]

    /// The variations an attacker (or a careless tool) makes of an issued receipt `text`.
    static func variants(of text: String, subjectKey: String) throws -> [String: String] {
        let body = text.dropFirst(2)  // after "{\n"
        // Sorted keys put `version` last: moving it first reorders without changing content.
        let last = try #require(text.range(of: ",\n  \"version\" : ", options: .backwards))
        let versionLine = text[last.upperBound...].prefix { $0 != "\n" }
        let reordered = "{\n  \"version\" : \(versionLine),\n" + String(text[text.index(text.startIndex, offsetBy: 2)..<last.lowerBound]) + "\n}\n"
        return [
            "duplicate subject, forged first": "{\n  \"\(subjectKey)\" : \"cust-999\",\n" + body,
            "duplicate subject, forged last": String(text.dropLast(3)) + ",\n  \"\(subjectKey)\" : \"cust-999\"\n}\n",
            "extra member": "{\n  \"comment\" : \"looks harmless\",\n" + body,
            "reordered members": reordered,
            "compact": String(decoding: try JSONSerialization.data(withJSONObject: try JSONSerialization.jsonObject(with: Data(text.utf8)), options: [.sortedKeys]), as: UTF8.self),
            "two trailing newlines": text + "\n",
            "escaped subject": text.replacingOccurrences(of: "\"cust-1\"", with: "\"\\u0063ust-1\""),
        ]
    }

    @Test(arguments: [0, 1]) func onlyTheIssuedBytesVerify(kind: Int) throws {
        let r = try Receipts()
        let (name, subjectKey, verify) = Self.kinds[kind]
        let issued = name == "consent" ? r.consent : r.erasure
        let text = String(decoding: issued, as: UTF8.self)
        #expect(text.hasSuffix("}\n") && text.contains("\n  \"\(subjectKey)\" : \"cust-1\""))
        // As issued, and without its final newline.
        #expect(verify(issued, r.key, "cust-1").valid)
        #expect(verify(issued.dropLast(), r.key, "cust-1").valid)
        for (variant, altered) in try Self.variants(of: text, subjectKey: subjectKey) {
            #expect(altered != text, "\(name): \(variant) changed nothing")
            let result = verify(Data(altered.utf8), r.key, nil)
            #expect(!result.valid, "\(name) receipt, \(variant): verified")
            #expect(result.problem?.contains("exact form") == true, "\(name), \(variant): \(result.problem ?? "")")
            #expect(!verify(Data(altered.utf8), r.key, "cust-1").valid && !verify(Data(altered.utf8), r.key, "cust-999").valid)
        }
    }

    /// The receipts kept in a tombstone are the issued form too: `erase` again returns one
    /// that verifies.
    @Test func aStoredErasureReceiptStillVerifies() throws {
        let r = try Receipts()
        let again = try r.made.vault.retention.erase(subject: "cust-1", reason: "again", context: Self.admin)
        #expect(again.alreadyErased)
        #expect(ErasureReceipt.verify(try again.receipt.json(), publicKey: r.key, subject: "cust-1").valid)
        #expect(try again.receipt.json() == r.erasure)
    }
}
