import Foundation
@_spi(Testing) @testable import PrivacyKit
import Testing

/// Reads, decrypts and encrypts for many subjects in one call (issue 21, point 3): the
/// same answers, refusals and evidence as single calls, one transaction.
@Suite("Batch reads, decrypts and encrypts")
struct BatchTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")
    static let agent = AccessContext(actor: "a", role: "support-agent", purpose: "customer-support")
    static let marketer = AccessContext(actor: "m", role: "marketer", purpose: "marketing-email")

    let made: KeyFileTestVault
    var vault: Vault { made.vault }

    init() throws {
        made = try KeyFileTestVault()
        for n in 1...4 {
            try made.vault.records.put(subject: "s\(n)", values: [
                "email": "s\(n)@example.com", "full_name": "Name \(n)", "national_id": "AB12345\(n)", "segment": "customer",
            ], context: Self.admin)
        }
    }

    func events(_ action: String, outcome: String = "allowed") throws -> Int {
        try vault.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events WHERE action = ? AND outcome = ?", arguments: [action, outcome]) ?? 0
        }
    }

    func values(_ read: SubjectRead) -> [String: String]? { try? read.result.get() }
    func code(_ result: Result<some Any, PrivacyKitError>) -> PrivacyKitError.Code? {
        if case .failure(let error) = result { error.code } else { nil }
    }

    @Test func aBatchGetAnswersAsSingleGetsDoInTheOrderAsked() throws {
        let asked = ["s3", "s1", "nobody", "s3", "s2"]
        let before = try events("record.read")
        let batch = try vault.records.get(subjects: asked, context: Self.agent)
        #expect(batch.map(\.subject) == asked)
        #expect(try events("record.read") - before == 3, "one event per subject read, duplicates once, none for an unknown id")
        for (read, id) in zip(batch, asked) where id != "nobody" {
            #expect(values(read) == (try vault.records.get(subject: id, context: Self.agent)))
        }
        #expect(values(batch[0])?["national_id"].map { $0 != "AB123453" && $0.hasSuffix("53") } == true, "masked for the agent")
        #expect(code(batch[2].result) == .notFound)
        let chosen = try vault.records.get(subjects: ["s1", "s2"], fields: ["email"], context: Self.agent)
        #expect(chosen.compactMap(values) == [["email": "s1@example.com"], ["email": "s2@example.com"]])
    }

    @Test func refusalsArePerSubjectAndAudited() throws {
        _ = try vault.retention.restrict(subject: "s1", reason: "art. 18", context: Self.admin)
        _ = try vault.retention.erase(subject: "s2", reason: "request", context: Self.admin)
        let deniedBefore = try events("record.read", outcome: "denied")
        let batch = try vault.records.get(subjects: ["s1", "s2", "s3"], fields: ["email"], context: Self.agent)
        #expect(code(batch[0].result) == .denied)
        #expect(code(batch[1].result) == .notFound)
        #expect(values(batch[2]) == ["email": "s3@example.com"])
        #expect(try events("record.read", outcome: "denied") - deniedBefore == 1, "the restricted subject's denial")

        // A purpose resting on consent: only subjects with live consent.
        _ = try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm), subject: "s4", context: Self.admin)
        let marketing = try vault.records.get(subjects: ["s3", "s4"], fields: ["email"], context: Self.marketer)
        #expect(code(marketing[0].result) == .denied)
        #expect(values(marketing[1]) == ["email": "s4@example.com"])
    }

    @Test func theRoleIsDecidedOnceForTheWholeBatch() throws {
        let before = try events("record.read", outcome: "denied")
        let error = #expect(throws: PrivacyKitError.self) {
            try vault.records.get(subjects: ["s1", "s2", "s3"], fields: ["national_id"], context: Self.marketer)
        }
        #expect(error?.code == .denied)
        #expect(try events("record.read", outcome: "denied") - before == 1)
        #expect(throws: PrivacyKitError.self) {
            try vault.records.get(subjects: Array(repeating: "s1", count: VaultRecords.maxBatch + 1), context: Self.admin)
        }
    }

    @Test func aForgedRowFailsTheWholeBatchClosed() throws {
        let fixture = try AuditFixture()
        for id in ["s1", "s2"] {
            try fixture.vault.records.put(subject: id, values: ["email": "\(id)@example.com"], context: Self.admin)
        }
        _ = try fixture.vault.retention.restrict(subject: "s1", reason: "art. 18", context: Self.admin)
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM restrictions WHERE subject_id = 's1'") }
        try fixture.expectFailsClosed { _ = try fixture.vault.records.get(subjects: ["s2", "s1"], context: Self.agent) }
    }

    @Test func batchDecryptOpensWhatEncryptSealed() throws {
        let items = try ["s1", "s2", "s3"].map { id in
            EnvelopeItem(envelope: try vault.records.encrypt("\(id)-new@example.com", field: "email", subject: id, context: Self.admin),
                         field: "email", subject: id)
        }
        let idEnvelope = try vault.records.encrypt("ZZ9876543", field: "national_id", subject: "s1", context: Self.admin)
        var tampered = items[1].envelope
        tampered.removeLast(2)
        tampered += tampered.hasSuffix("A") ? "BB" : "AA"
        let single = try vault.records.decrypt(idEnvelope, field: "national_id", subject: "s1", context: Self.agent)
        let before = try events("record.read")
        let opened = try vault.records.decrypt(items + [
            EnvelopeItem(envelope: tampered, field: "email", subject: "s2"),
            EnvelopeItem(envelope: idEnvelope, field: "national_id", subject: "s1"),
            EnvelopeItem(envelope: items[0].envelope, field: "email", subject: "s2"),  // moved to another subject
        ], context: Self.agent)
        #expect(try opened.prefix(3).map { try $0.get() } == ["s1-new@example.com", "s2-new@example.com", "s3-new@example.com"])
        #expect(code(opened[3]) == .integrity)
        #expect(try opened[4].get() == single)
        #expect(try opened[4].get() != "ZZ9876543", "masked for the agent")
        #expect(code(opened[5]) == .integrity)
        #expect(try events("record.read") - before == 3, "one event per subject")
    }

    @Test func batchEncryptSealsPerItemAndRecordsOncePerSubject() throws {
        let before = try events("record.write")
        let sealed = try vault.records.encrypt([
            ValueItem(value: "New.Person@Example.com", field: "email", subject: "new-1"),
            ValueItem(value: "+1 415 555 0100", field: "phone", subject: "new-1"),
            ValueItem(value: "not an e-mail", field: "email", subject: "s1"),
            ValueItem(value: "x", field: "segment", subject: "s1"),
            ValueItem(value: "s2@example.org", field: "email", subject: "s2"),
        ], context: Self.admin)
        #expect(try vault.records.decrypt(try sealed[0].get(), field: "email", subject: "new-1", context: Self.admin) == "new.person@example.com")
        #expect(try vault.records.decrypt(try sealed[1].get(), field: "phone", subject: "new-1", context: Self.admin) == "+14155550100")
        #expect(code(sealed[2]) == .invalidInput && code(sealed[3]) == .invalidInput)
        #expect(try vault.records.decrypt(try sealed[4].get(), field: "email", subject: "s2", context: Self.admin) == "s2@example.org")
        #expect(try events("record.write") - before == 2, "one event each for new-1 (created) and s2")
        _ = try vault.retention.erase(subject: "s3", reason: "request", context: Self.admin)
        let erased = try vault.records.encrypt([ValueItem(value: "a@example.com", field: "email", subject: "s3")], context: Self.admin)
        #expect(code(erased[0]) == .invalidInput, "an erased subject is not re-created")
    }

    @Test func batchBlindIndexesMatchSingleOnesAndRecordEach() throws {
        let before = try events("record.blind-index")
        let indexes = try vault.records.blindIndex([
            (value: " S1@Example.com", field: "email"),
            (value: "not an e-mail", field: "email"),
            (value: "AB123451", field: "national_id"),
        ], context: Self.admin)
        #expect(try indexes[0].get() == (try vault.records.blindIndex("s1@example.com", field: "email", context: Self.admin)))
        #expect(code(indexes[1]) == .invalidInput)
        #expect(try indexes[2].get() == (try vault.records.blindIndex("AB123451", field: "national_id", context: Self.admin)))
        #expect(try events("record.blind-index") - before == 2 + 2, "one event per index computed, as single calls write")
        expectError(.denied) { _ = try vault.records.blindIndex([(value: "AB123451", field: "national_id")], context: Self.agent) }
        expectError(.invalidInput) { _ = try vault.records.blindIndex([(value: "x", field: "full_name")], context: Self.admin) }
        #expect(try vault.records.blindIndex([], context: Self.admin).isEmpty)
    }
}
