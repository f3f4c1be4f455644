import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Testing

@Suite("Consent")
struct ConsentTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")

    struct Setup {
        let dir: TempDirectory
        let vault: Vault

        init(subjects: [String] = ["s1"]) throws {
            let made = try KeyFileTestVault()
            dir = made.dir
            vault = made.vault
            for s in subjects { try vault.records.put(subject: s, values: ["email": "\(s)@example.com"], context: ConsentTests.admin) }
        }

        @discardableResult
        func record(_ kind: ConsentKind, _ purpose: String, subject: String = "s1", at: Date = Date(), notice: String? = nil,
                    expires: Date? = nil, channel: ConsentChannel = .webForm, note: String? = nil) throws -> ConsentEvent {
            try vault.consent.record(ConsentChange(kind, purpose: purpose, channel: channel, noticeVersion: notice, note: note, expiresAt: expires),
                                    subject: subject, at: at, context: ConsentTests.admin)
        }

        func state(_ purpose: String, subject: String = "s1", at: Date? = nil) throws -> ConsentAnswer {
            try vault.consent.answer(subject: subject, purpose: purpose, at: at, context: ConsentTests.admin)
        }
    }

    static let t0 = Date(timeIntervalSince1970: 1_780_000_000)  // 2026-05-28T20:26:40Z

    @Test func optInTransitionsAndTheirReasons() throws {
        let s = try Setup()
        let never = try s.state("marketing-email")
        #expect(never.state == .neverAsked && !never.allowed && never.reason == "never asked: no consent recorded" && never.eventID == nil)
        let grant = try s.record(.grant, "marketing-email", at: Self.t0)
        var answer = try s.state("marketing-email", at: Self.t0.addingTimeInterval(60))
        #expect(answer.state == .granted && answer.allowed && answer.eventID == grant.id)
        #expect(answer.reason == "granted on 2026-05-28T20:26:40.000Z under notice 2026-01, expires 2028-05-27T20:26:40.000Z")
        try s.record(.withdraw, "marketing-email", at: Self.t0.addingTimeInterval(120))
        answer = try s.state("marketing-email", at: Self.t0.addingTimeInterval(180))
        #expect(answer.state == .withdrawn && answer.reason == "withdrawn on 2026-05-28T20:28:40.000Z")
        // Stays withdrawn until a new grant; the state at an earlier time is still the grant.
        #expect(try s.state("marketing-email", at: Self.t0.addingTimeInterval(100)).state == .granted)
        #expect(try s.state("marketing-email", at: Self.t0.addingTimeInterval(-1)).state == .neverAsked)
        try s.record(.grant, "marketing-email", at: Self.t0.addingTimeInterval(240))
        #expect(try s.state("marketing-email", at: Self.t0.addingTimeInterval(300)).state == .granted)
        try s.record(.object, "marketing-email", at: Self.t0.addingTimeInterval(360))
        #expect(try s.state("marketing-email", at: Self.t0.addingTimeInterval(400)).reason == "objected on 2026-05-28T20:32:40.000Z")
        // A purpose that needs no consent.
        let contract = try s.state("order-fulfilment")
        #expect(contract.state == .notRequired && contract.allowed && contract.reason == "lawful basis contract: no consent needed")
        expectError(.invalidInput) { try s.record(.grant, "order-fulfilment") }
        expectError(.invalidInput) { try s.record(.grant, "astrology") }
        expectError(.notFound) { try s.record(.grant, "marketing-email", subject: "nobody") }
    }

    @Test func expiryAtTheBoundaryInstant() throws {
        let s = try Setup()
        let expires = Self.t0.addingTimeInterval(3600)
        let grant = try s.record(.grant, "marketing-email", at: Self.t0, expires: expires)
        #expect(grant.expiresAt == "2026-05-28T21:26:40.000Z")  // earlier than the policy's 730 days: it wins
        #expect(try s.state("marketing-email", at: expires.addingTimeInterval(-0.001)).state == .granted)
        let at = try s.state("marketing-email", at: expires)
        #expect(at.state == .expired && at.reason == "granted on 2026-05-28T20:26:40.000Z, expired on 2026-05-28T21:26:40.000Z")
        // The policy's validity (marketing-sms: 365 days) when no earlier expiry is given.
        let sms = try s.record(.grant, "marketing-sms", at: Self.t0)
        #expect(sms.expiresAt == "2027-05-28T20:26:40.000Z")
        #expect(try s.state("marketing-sms", at: Self.t0.addingTimeInterval(365 * 86_400 - 1)).state == .granted)
        #expect(try s.state("marketing-sms", at: Self.t0.addingTimeInterval(365 * 86_400)).state == .expired)
    }

    @Test func noticeChangesThatDoAndDoNotRequireReconsent() throws {
        let s = try Setup()
        // marketing-sms: reconsent_on_notice_change, notice 2026-01 in force.
        try s.record(.grant, "marketing-sms", notice: "2025-06")
        let old = try s.state("marketing-sms")
        #expect(old.state == .noticeChanged && !old.allowed)
        #expect(old.reason.hasSuffix("under notice 2025-06; notice 2026-01 requires fresh consent"))
        try s.record(.grant, "marketing-sms")  // the notice in force by default
        #expect(try s.state("marketing-sms").state == .granted)
        // marketing-email: a new notice does not require fresh consent.
        try s.record(.grant, "marketing-email", notice: "2025-06")
        let email = try s.state("marketing-email")
        #expect(email.state == .granted && email.reason.contains("under notice 2025-06"))
    }

    @Test func optOutAndGlobalPrivacyControl() throws {
        let s = try Setup()
        let before = try s.state("sale-or-sharing")
        #expect(before.state == .notObjected && before.allowed && before.reason == "opt-out purpose: no objection recorded")
        let events = try s.vault.consent.recordGPC(subject: "s1", context: Self.admin)
        #expect(events.map(\.purpose) == ["sale-or-sharing"] && events.allSatisfy { $0.kind == .object && $0.channel == "gpc" })
        let after = try s.state("sale-or-sharing")
        #expect(after.state == .objected && !after.allowed && after.reason.hasPrefix("objected on "))
        try s.record(.grant, "sale-or-sharing")  // opting back in
        #expect(try s.state("sale-or-sharing").state == .notObjected)
    }

    /// The same marketer reads an e-mail while consent is live, and is refused (and
    /// audited) once it is withdrawn; finds leave out subjects without consent.
    @Test func consentIsEnforcedWhenReading() throws {
        let s = try Setup(subjects: ["s1", "s2"])
        let marketer = AccessContext(actor: "m", role: "marketer", purpose: "marketing-email")
        try s.record(.grant, "marketing-email")
        #expect(try s.vault.records.get(subject: "s1", fields: ["email"], context: marketer) == ["email": "s1@example.com"])
        #expect(try s.vault.records.find(field: "email", value: "s1@example.com", context: marketer) == ["s1"])
        expectError(.denied) { try s.vault.records.get(subject: "s2", fields: ["email"], context: marketer) }
        #expect(try s.vault.records.find(field: "email", value: "s2@example.com", context: marketer).isEmpty)
        try s.record(.withdraw, "marketing-email")
        let denied = expectError(.denied) { try s.vault.records.get(subject: "s1", fields: ["email"], context: marketer) }
        #expect(denied?.message.contains("consent of the subject for marketing-email: withdrawn on ") == true)
        let last = try #require(try s.vault.store.read { db in
            try StoreRow.fetchOne(db, sql: "SELECT action, outcome, reason FROM audit_events ORDER BY seq DESC LIMIT 1")
        })
        #expect(last["action"] as String == "record.read" && last["outcome"] as String == "denied")
        #expect((last["reason"] as String).contains("withdrawn"))
        // Purposes without consent are not affected.
        let agent = AccessContext(actor: "a", role: "support-agent", purpose: "customer-support")
        #expect(try s.vault.records.get(subject: "s1", fields: ["email"], context: agent) == ["email": "s1@example.com"])
    }

    /// Many subjects in one call: answers in the order asked, duplicates and unknown ids
    /// included, the same as one at a time.
    @Test func batchAnswersMatchSingleAnswers() throws {
        let ids = (0..<1200).map { String(format: "s%04d", $0) }
        let s = try Setup(subjects: Array(ids.prefix(10)))
        try s.record(.grant, "marketing-email", subject: "s0003")
        try s.record(.withdraw, "marketing-email", subject: "s0007")
        let asked = ["s0007", "s0003", "nobody", "s0003"] + ids.reversed()
        let batch = try s.vault.consent.answer(subjects: asked, purpose: "marketing-email", context: ConsentTests.admin)
        #expect(batch.map(\.subject) == asked)
        for (i, answer) in batch.enumerated() where i < 14 {
            #expect(answer == (try s.state("marketing-email", subject: asked[i])))
        }
        #expect(batch.filter(\.allowed).map(\.subject) == ["s0003", "s0003", "s0003"])
        #expect(batch[0].state == .withdrawn && batch[2].state == .neverAsked)
    }

    /// The batch binds its ids as one JSON array: ids with quotes, backslashes and other
    /// scripts must come back as themselves, and not match one another.
    @Test func batchAnswersForIdsThatNeedEscaping() throws {
        let odd = ["q\"uote", "back\\slash", "it's", "ü-ñ-中", "a,b", "[x]", "q"]
        let s = try Setup(subjects: [])
        for (n, id) in odd.enumerated() {
            try s.vault.records.put(subject: id, values: ["email": "odd\(n)@example.com"], context: ConsentTests.admin)
        }
        for id in odd.prefix(4) { try s.record(.grant, "marketing-email", subject: id) }
        let batch = try s.vault.consent.answer(subjects: odd + ["uote", "back"], purpose: "marketing-email", context: ConsentTests.admin)
        #expect(batch.filter(\.allowed).map(\.subject) == Array(odd.prefix(4)))
    }

    @Test func audienceHistoryAndCounts() throws {
        let s = try Setup(subjects: ["a", "b", "c", "d"])
        try s.record(.grant, "marketing-email", subject: "a")
        try s.record(.grant, "marketing-email", subject: "b")
        try s.record(.withdraw, "marketing-email", subject: "b")
        try s.record(.grant, "marketing-email", subject: "c", expires: Date().addingTimeInterval(-1))  // already expired
        try s.vault.consent.recordGPC(subject: "d", context: Self.admin)
        let marketer = AccessContext(actor: "m", role: "marketer", purpose: "marketing-email")
        var seen: [String] = []
        #expect(try s.vault.consent.audience(purpose: "marketing-email", context: marketer) { seen.append($0) } == 1)
        #expect(seen == ["a"])
        seen = []
        #expect(try s.vault.consent.audience(purpose: "sale-or-sharing", context: Self.admin) { seen.append($0) } == 3)
        #expect(seen == ["a", "b", "c"])
        expectError(.denied) { try s.vault.consent.audience(purpose: "sale-or-sharing", context: marketer) { _ in } }
        let counts = try s.vault.consent.counts(context: Self.admin)
        #expect(counts["marketing-email"] == [.granted: 1, .withdrawn: 1, .expired: 1, .neverAsked: 1])
        #expect(counts["sale-or-sharing"] == [.notObjected: 3, .objected: 1])
        #expect(counts["order-fulfilment"] == nil)
        let history = try s.vault.consent.history(subject: "b", context: Self.admin)
        #expect(history.map(\.kind) == [.grant, .withdraw])
        #expect(history.allSatisfy { $0.subject.count == 32 && $0.subject != "b" && $0.actor == "dpo" })
        #expect(history[0].auditSeq < history[1].auditSeq)
    }

    @Test func notesAreEncryptedAndTheLedgerHoldsNoSubjectID() throws {
        let s = try Setup(subjects: ["cust-CANARY-ID"])
        try s.record(.grant, "marketing-email", subject: "cust-CANARY-ID", note: "NOTE-CANARY said yes on the phone")
        try s.vault.store.close()
        for file in try FileManager.default.contentsOfDirectory(atPath: s.vault.directory.path) where file.hasPrefix("vault.sqlite") {
            let bytes = try Data(contentsOf: s.vault.directory.appendingPathComponent(file))
            #expect(bytes.range(of: Data("NOTE-CANARY".utf8)) == nil)
        }
        let reopened = try Vault.open(at: s.vault.directory, rootKey: .keyFile(at: s.dir.file("root.key")))
        let ledgerSubjects = try reopened.store.read { db in try String.fetchAll(db, sql: "SELECT subject FROM consent_ledger") }
        #expect(ledgerSubjects.count == 1 && !ledgerSubjects[0].contains("CANARY"))
        #expect(try reopened.consent.history(subject: "cust-CANARY-ID", context: Self.admin).first?.hasNote == true)
    }

    @Test func theLedgerIsAppendOnlyAndEditsBehindTheLibrarysBackAreCaught() throws {
        let s = try Setup(subjects: ["a", "b"])
        try s.record(.grant, "marketing-email", subject: "a")
        try s.record(.grant, "marketing-email", subject: "b")
        #expect(try s.vault.audit.verify().ok)
        for sql in ["UPDATE consent_ledger SET kind = 'withdraw'", "DELETE FROM consent_ledger"] {
            #expect(throws: (any Error).self) { try s.vault.store.write { db in try db.execute(sql: sql) } }
        }
        // Behind the library's back: triggers dropped, a row edited.
        try s.vault.store.write { db in
            try dropAppendOnly(db, "consent_ledger", "UPDATE")
            try db.execute(sql: "UPDATE consent_ledger SET notice_version = '1999-01' WHERE id = 2")
        }
        let edited = try s.vault.audit.verify()
        #expect(!edited.ok && edited.problem?.kind == "consent-ledger" && edited.problem?.message.contains("#2") == true)
        // A row removed: its audit event has no row.
        try s.vault.store.write { db in
            try db.execute(sql: "UPDATE consent_ledger SET notice_version = '2026-01' WHERE id = 2")
            try dropAppendOnly(db, "consent_ledger", "DELETE")
            try db.execute(sql: "DELETE FROM consent_ledger WHERE id = 1")
        }
        let removed = try s.vault.audit.verify()
        #expect(!removed.ok && removed.problem?.kind == "consent-ledger" && removed.problem?.message.contains("was removed") == true)
    }
}

@Suite("Consent receipts")
struct ConsentReceiptTests {
    @Test func aReceiptRoundTripsAndTamperingIsCaught() throws {
        let s = try ConsentTests.Setup(subjects: ["s1", "s2"])
        try s.record(.grant, "marketing-email", at: ConsentTests.t0)
        try s.record(.withdraw, "marketing-sms", at: ConsentTests.t0)
        let receipt = try s.vault.consent.receipt(subject: "s1", context: ConsentTests.admin)
        #expect(receipt.piiPrincipalId == "s1" && receipt.version == "KI-CR-v1.1.0")
        #expect(receipt.privacykit.purposes.map(\.purpose) == ["marketing-email", "marketing-sms", "profiling", "sale-or-sharing", "sensitive-data-use"])
        let email = try #require(receipt.privacykit.purposes.first)
        #expect(email.state == "granted" && email.events.count == 1 && email.events[0].auditHash.count == 64)
        #expect(receipt.consentTimestamp == Int64(ConsentTests.t0.timeIntervalSince1970) && receipt.collectionMethod == "web-form")
        let data = try receipt.json()
        let ok = ConsentReceipt.verify(data, publicKey: s.vault.auditPublicKey, subject: "s1")
        #expect(ok.valid && ok.problem == nil)
        #expect(ok.proves.first?.contains("signed this receipt for subject s1") == true)
        #expect(ok.proves.contains { $0.contains("#1 grant 2026-05-28T20:26:40.000Z via web-form under notice 2026-01") })
        #expect(ok.proves.last?.contains("does not prove that the ledger still holds") == true)

        // One byte changed: a digit of the time in the ledger part.
        var bytes = [UInt8](data)
        let range = try #require(data.range(of: Data("2026-05-28T20:26:40.000Z".utf8)))
        bytes[range.lowerBound + 3] = UInt8(ascii: "7")
        let altered = ConsentReceipt.verify(Data(bytes), publicKey: s.vault.auditPublicKey)
        #expect(!altered.valid && altered.problem?.contains("altered after signing") == true)
        // Any single byte of content flipped is caught (parse error or signature). The
        // signature covers the content, not the layout: white space between tokens is free.
        for offset in stride(from: 0, to: data.count, by: max(1, data.count / 64)) where ![0x20, 0x0A].contains(data[offset]) {
            var copy = [UInt8](data)
            copy[offset] ^= 0x01
            #expect(!ConsentReceipt.verify(Data(copy), publicKey: s.vault.auditPublicKey).valid, "byte \(offset) \(data[offset]): \(String(decoding: data[max(0, offset - 30)..<min(data.count, offset + 10)], as: UTF8.self))")
        }
        // Another vault's key.
        let other = try ConsentTests.Setup()
        let foreign = ConsentReceipt.verify(data, publicKey: other.vault.auditPublicKey)
        #expect(!foreign.valid && foreign.problem?.contains("signed by another key") == true)
        // Another subject.
        let wrongSubject = ConsentReceipt.verify(data, publicKey: s.vault.auditPublicKey, subject: "s2")
        #expect(!wrongSubject.valid && wrongSubject.problem == "the receipt is about another subject, not s2")
        // Re-signed with another vault's key but still claiming this vault: caught by the key.
        #expect(!ConsentReceipt.verify(Data("{}".utf8)).valid)
        // Without a key: valid, and says what is not established.
        let unanchored = ConsentReceipt.verify(data)
        #expect(unanchored.valid && unanchored.proves.contains { $0.contains("Without --public-key") })
        // One purpose only.
        let one = try s.vault.consent.receipt(subject: "s1", purpose: "marketing-email", context: ConsentTests.admin)
        #expect(one.privacykit.purposes.map(\.purpose) == ["marketing-email"] && one.services[0].purposes[0].primaryPurpose)
        expectError(.notFound) { try s.vault.consent.receipt(subject: "nobody", context: ConsentTests.admin) }
    }
}

@Suite("Consent import")
struct ConsentImportTests {
    @Test func aConsentColumnIsImportedOnceAndBadValuesAreRejected() throws {
        let s = try ConsentTests.Setup(subjects: [])
        let csv = s.dir.file("crm.csv")
        try """
            id,email,marketing_consent,sms_opt_in
            a,a@example.com,yes,
            b,b@example.com,no,YES
            c,c@example.com,,n
            d,d@example.com,maybe-CANARY,
            a,a@example.com,Y,

            """.write(toFile: csv, atomically: true, encoding: .utf8)
        let options = ImportOptions(consentColumns: ["marketing_consent": "marketing-email", "sms_opt_in": "marketing-sms"], consentNoticeVersion: "2025-11")
        let summary = try s.vault.records.importCSV(at: csv, options: options, context: ConsentTests.admin)
        #expect(summary.created == 3 && summary.rejected == 1 && summary.unknownColumns.isEmpty)
        #expect(summary.rejects.first?.line == 5 && summary.rejects.first?.column == "marketing_consent")
        #expect(summary.rejects.first?.reason == "a consent value is yes or no (or empty)")
        #expect(summary.consentEvents == 4)  // a grant, b withdraw, b sms grant, c sms withdraw; the second "a" row repeats
        #expect(try s.state("marketing-email", subject: "a").state == .granted)
        #expect(try s.state("marketing-email", subject: "b").state == .withdrawn)
        #expect(try s.state("marketing-email", subject: "c").state == .neverAsked)
        // marketing-sms needs fresh consent under the notice in force (2026-01): 2025-11 no longer counts.
        #expect(try s.state("marketing-sms", subject: "b").state == .noticeChanged)
        let history = try s.vault.consent.history(subject: "a", context: ConsentTests.admin)
        #expect(history.count == 1 && history[0].channel == "import" && history[0].noticeVersion == "2025-11")
        // Running it again records nothing.
        let again = try s.vault.records.importCSV(at: csv, options: options, context: ConsentTests.admin)
        #expect(again.consentEvents == 0 && again.created == 0)
        #expect(try s.vault.audit.verify().ok)
        expectError(.invalidInput) {
            try s.vault.records.importCSV(at: csv, options: ImportOptions(consentColumns: ["marketing_consent": "order-fulfilment"]), context: ConsentTests.admin)
        }
        expectError(.invalidInput) {
            try s.vault.records.importCSV(at: csv, options: ImportOptions(consentColumns: ["nope": "marketing-email"]), context: ConsentTests.admin)
        }
    }
}
