import Foundation
@_spi(Testing) @testable import PrivacyKit
import Testing

/// Issue 23, point 6: closing a request as completed rests on the vault's evidence that
/// it was carried out, and on the requester's identity verified to the regime's degree.
@Suite("Requests bound to their execution")
struct RequestCompletionTests {
    static let officer = RequestsTests.officer

    /// A subject, a request about it received a moment ago with the identity verified (when
    /// `verify`), and the work the request asks for.
    struct Case {
        let s: RequestsTests.Setup
        let dir = try! TempDirectory()  // swiftlint:disable:this force_try
        let request: DataSubjectRequest

        init(_ type: DataSubjectRequestType, _ regime: PrivacyRegime = .gdpr, verify: IdentityDegree? = .reasonable) throws {
            s = try RequestsTests.Setup(subjects: ["s1"])
            // Received after the subject was stored: its creation is not an answer.
            Thread.sleep(forTimeInterval: 0.01)
            let received = Date()
            var request = try s.vault.requests.open(type, regime: regime, subject: "s1", receivedAt: received, context: officer)
            if let verify {
                request = try s.vault.requests.identityVerified(
                    request.id, verifiedAt: received, method: verify == .none ? .notRequired : .matchingDataPoints,
                    degree: verify, context: officer)
            }
            self.request = request
        }

        var acting: AccessContext { AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance", requestID: request.id) }

        /// Does what a request of `type` asks for; returns the audit seq of its event.
        @discardableResult
        func carryOut(_ type: DataSubjectRequestType) throws -> Int64 {
            let vault = s.vault
            switch type {
            case .access, .export:
                return try vault.requests.exportSubject("s1", to: dir.url.appendingPathComponent("export"), context: acting).manifest.auditSeq
            case .rectification:
                try vault.records.put(subject: "s1", values: ["email": "s1.new@example.com"], context: acting)
            case .restriction:
                try vault.retention.restrict(subject: "s1", reason: "contested accuracy", context: acting)
            case .objection:
                try vault.consent.record(ConsentChange(.object, purpose: "sale-or-sharing", channel: .webForm), subject: "s1", context: acting)
            case .erasure:
                return try vault.retention.erase(subject: "s1", reason: "erasure request", context: acting).receipt.auditSeq
            case .limit:
                try vault.consent.record(ConsentChange(.object, purpose: "sensitive-data-use", channel: .webForm), subject: "s1", context: acting)
            }
            return try vault.store.read { try Int64.fetchOne($0, sql: "SELECT MAX(seq) FROM audit_events WHERE action NOT LIKE 'request.%'") ?? 0 }
        }

        func close() throws -> DataSubjectRequest {
            try s.vault.requests.close(request.id, outcome: .completed, context: officer)
        }

        func closeEvents() throws -> Int {
            try s.vault.store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM audit_events WHERE action = 'request.close'") ?? 0 }
        }
    }

    static let proofs: [(DataSubjectRequestType, RequestProof.Kind, String)] = [
        (.access, .export, "record.export"), (.export, .export, "record.export"), (.rectification, .write, "record.write"),
        (.restriction, .restriction, "record.restrict"), (.objection, .objection, "consent.object or consent.withdraw"),
        (.erasure, .erasureReceipt, "still stored"),
    ]

    @Test(arguments: proofs)
    func completingNeedsTheProofOfItsType(type: DataSubjectRequestType, kind: RequestProof.Kind, missing: String) throws {
        let c = try Case(type)
        let refused = expectError(.invalidInput) { try c.close() }
        #expect(refused?.message.contains(missing) == true, "\(refused?.message ?? "")")
        #expect(refused?.message.contains("refused with a reason") == true)
        #expect(try c.closeEvents() == 0 && c.s.vault.requests.get(c.request.id, context: Self.officer).status == .open)

        let seq = try c.carryOut(type)
        let closed = try c.close()
        #expect(closed.status == .closed && closed.outcome == .completed)
        #expect(closed.proof?.kind == kind && closed.proof?.auditSeq == seq)
        // The proof is stored with the request and named in its (keyed) close event.
        #expect(try c.s.vault.requests.get(c.request.id, context: Self.officer).proof == closed.proof)
        let reason = try #require(try auditRows(c.s.vault, where: "action = 'request.close'").first)["reason"] as String
        #expect(reason.contains("audit event \(seq)"), "\(reason)")
    }

    @Test func refusingOrWithdrawingNeedsNoProofButRefusingNeedsAReason() throws {
        let c = try Case(.erasure, verify: nil)
        expectError(.invalidInput) { try c.s.vault.requests.close(c.request.id, outcome: .refused, context: Self.officer) }
        let refused = try c.s.vault.requests.close(c.request.id, outcome: .refused, reason: "legal obligation to keep invoices", context: Self.officer)
        #expect(refused.outcome == .refused && refused.proof == nil)
    }

    @Test func workDoneBeforeReceiptOrDeniedDoesNotCount() throws {
        let s = try RequestsTests.Setup(subjects: ["s1"])
        let dir = try TempDirectory()
        // Exported before the request arrived: not an answer to it.
        _ = try s.vault.requests.exportSubject("s1", to: dir.url.appendingPathComponent("old"), context: keysAdmin)
        Thread.sleep(forTimeInterval: 0.01)
        let request = try s.vault.requests.open(.access, regime: .gdpr, subject: "s1", receivedAt: Date(), context: Self.officer)
        try s.vault.requests.identityVerified(request.id, verifiedAt: Date(), method: .accountLogin, degree: .reasonable, context: Self.officer)
        expectError(.invalidInput) { try s.vault.requests.close(request.id, outcome: .completed, context: Self.officer) }
        // A denied export (a role without `export`) is audited, and proves nothing.
        let agent = AccessContext(actor: "agent", role: "support-agent", purpose: "customer-support")
        expectError(.denied) { try s.vault.requests.exportSubject("s1", to: dir.url.appendingPathComponent("denied"), context: agent) }
        expectError(.invalidInput) { try s.vault.requests.close(request.id, outcome: .completed, context: Self.officer) }
        // Nor can the closing be dated before the export it rests on.
        _ = try s.vault.requests.exportSubject("s1", to: dir.url.appendingPathComponent("new"), context: keysAdmin)
        let early = expectError(.invalidInput) { try s.vault.requests.close(request.id, outcome: .completed, at: Date().addingTimeInterval(-0.5), context: Self.officer) }
        #expect(early?.message.contains("is before the export") == true || early?.message.contains("before receipt") == true || early?.message.contains("last recorded time") == true)
        #expect(try s.vault.requests.close(request.id, outcome: .completed, context: Self.officer).proof?.kind == .export)
    }

    @Test func completingNeedsTheIdentityVerifiedToTheRegimesDegree() throws {
        // Not verified at all.
        let unverified = try Case(.erasure, verify: nil)
        try unverified.carryOut(.erasure)
        let missing = expectError(.invalidInput) { try unverified.close() }
        #expect(missing?.message.contains("verified to a reasonable degree") == true && missing?.message.contains("GDPR art. 12") == true)
        // CCPA: specific pieces need a reasonably high degree; a reasonable one is not enough.
        let ccpa = try Case(.access, .ccpa, verify: .reasonable)
        try ccpa.carryOut(.access)
        let low = expectError(.invalidInput) { try ccpa.close() }
        #expect(low?.message.contains("high degree") == true && low?.message.contains("§ 7062(c)") == true)
        let high = try Case(.access, .ccpa, verify: .high)
        try high.carryOut(.access)
        #expect(try high.close().status == .closed)
        // An opt-out of sale needs no verification (CCPA regulations § 7026(d)).
        let optOut = try Case(.objection, .ccpa, verify: nil)
        #expect(optOut.request.identityRequired == .none)
        try optOut.carryOut(.objection)
        #expect(try optOut.close().proof?.kind == .objection)
    }

    @Test func aSubjectTheVaultNeverHeldIsAnsweredByNothingHeld() throws {
        let s = try RequestsTests.Setup(subjects: ["s1"])
        let request = try s.vault.requests.open(.access, regime: .pdpaTW, subject: "walk-in-9", receivedAt: Date().addingTimeInterval(-60),
                                              unknownSubject: true, context: Self.officer)
        try s.vault.requests.identityVerified(request.id, verifiedAt: Date(), method: .inPerson, degree: .reasonable, context: Self.officer)
        let closed = try s.vault.requests.close(request.id, outcome: .completed, context: Self.officer)
        #expect(closed.proof == RequestProof(kind: .nothingHeld, auditSeq: nil, receiptID: nil, at: nil))
    }

    @Test func piplRequestsKeepTheControllersOwnDeadlineLabelledNonStatutory() throws {
        let s = try RequestsTests.Setup(subjects: ["s1"])
        // The default regimes.yaml promises 15 days, extendable by 15.
        let request = try s.vault.requests.open(.access, regime: .pipl, subject: "s1", receivedAt: utc("2026-03-06T16:30:00Z"), context: Self.officer)
        #expect(request.deadline == utc("2026-03-22T15:59:59.999Z") && !request.rule.statutory)
        let stored = try s.vault.store.read { try StoreRow.fetchOne($0, sql: "SELECT own_days, own_extension_days FROM subject_requests") }
        #expect(stored?[0] as Int? == 15 && stored?[1] as Int? == 15)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        #expect(json.contains(#""deadline_statutory":false"#) && json.contains("controller's own"))
        // Statutory regimes store none.
        _ = try s.vault.requests.open(.access, regime: .pdpaTW, subject: "s1", context: Self.officer)
        #expect(try s.vault.store.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM subject_requests WHERE own_days IS NULL") } == 1)
    }

    @Test func requestsPolicyErrorsNameFileLineAndKey() throws {
        func parse(_ text: String) -> PrivacyKitError? {
            expectError(.invalidInput) { try RegimePolicy.parse(Data(text.utf8), name: "regimes.yaml") }
        }
        #expect(parse("version: 1\nown_deadlines:\n  gdpr:\n    days: 10\n")?.message
            == "regimes.yaml: line 3: key 'own_deadlines.gdpr' gdpr sets its own deadlines; only pipl leave them to the controller")
        #expect(parse("version: 1\nown_deadlines:\n  pipl:\n    days: 0\n")?.message.contains("line 4: key 'own_deadlines.pipl.days' must be a whole number") == true)
        #expect(parse("version: 1\nown_deadlines:\n  pipl:\n    extension_days: 5\n")?.message.contains("key 'own_deadlines.pipl.days' is missing") == true)
        #expect(parse("version: 1\nown_deadline: {}\n")?.message.contains("line 2: key 'own_deadline' is not a known key (did you mean 'own_deadlines'?)") == true)
        #expect(parse("version: 1\nown_deadlines:\n  lgpd:\n    days: 5\n")?.message.contains("names no regime") == true)
        let policy = try RegimePolicy.parse(Data("version: 1\nown_deadlines:\n  pipl:\n    days: 20\n".utf8), name: "regimes.yaml")
        #expect(policy.ownDeadlines[.pipl] == RequestDeadline.OwnDeadline(days: 20, extensionDays: nil))
        #expect(try RegimePolicy.load(from: "/nonexistent") == .none)
        // `policy validate` checks it with the others; without it the set is still valid.
        let dir = try TempDirectory()
        try PolicySet.writeDefaults(to: dir.path)
        #expect(PolicySet.check(directory: dir.path).isEmpty)
        try Data("version: 1\nown_deadlines:\n  pipl:\n    days: 0\n".utf8).write(to: URL(fileURLWithPath: dir.file("regimes.yaml")))
        #expect(PolicySet.check(directory: dir.path).map(\.message).contains { $0.contains("regimes.yaml: line 4: key 'own_deadlines.pipl.days'") })
        try FileManager.default.removeItem(atPath: dir.file("regimes.yaml"))
        #expect(PolicySet.check(directory: dir.path).isEmpty)
    }
}
