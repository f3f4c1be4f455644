import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// Issue 20, point 3: a store writer without a key rolls a record back, drops a field, edits
/// one, drops or plants a record. Each read must fail closed (`.integrity`, audited), and
/// `audit verify` must name the record (its MAC) or the decision state (its leaf, which
/// covers a record from its first change on). (Before, every one of these read back the
/// old, edited or missing value without a word.)
@Suite("Store writer vs the records")
struct RecordIntegrityAttackTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")

    let fixture: AuditFixture
    var vault: Vault { fixture.vault }

    init() throws {
        fixture = try AuditFixture()
        for id in ["s1", "s2"] {
            try fixture.vault.records.put(
                subject: id, values: ["email": "\(id)@example.com", "phone": "+14155550100", "full_name": "Name \(id)", "segment": "customer"],
                context: Self.admin)
        }
    }

    func row(_ id: String) throws -> StoreRow {
        try #require(try vault.store.read { db in try StoreRow.fetchOne(db, sql: "SELECT * FROM subjects WHERE id = ?", arguments: [id]) })
    }

    @Test func aFieldRolledBackToItsEarlierCiphertext() throws {
        let before = try row("s1")
        try vault.records.put(subject: "s1", values: ["email": "new@example.com"], context: Self.admin)
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE subjects SET sealed = ?, wrapped_key = ? WHERE id = 's1'",
                           arguments: [before["sealed"] as Data, before["wrapped_key"] as Data])
        }
        try fixture.expectFailsClosed { _ = try vault.records.get(subject: "s1", fields: ["email"], context: Self.admin) }
        let event = try fixture.newestEvent()
        #expect(event["action"] as String == "record.read" && event["outcome"] as String == "failed")
        // The other subject is untouched and still served.
        #expect(try vault.records.get(subject: "s2", fields: ["email"], context: Self.admin)["email"] == "s2@example.com")
    }

    @Test func aFieldRemovedBehindTheLibrary() throws {
        let stored = try row("s1")
        var fields = try RecordStore.decodeColumn([UInt8](stored["sealed"] as Data), subjectID: "s1")
        fields.envelopes["phone"] = nil
        fields.keys["phone"] = nil
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE subjects SET sealed = ? WHERE id = 's1'",
                           // The old MAC header kept in front: a writer without the key cannot make a new one.
                           arguments: [Data((stored["sealed"] as Data).prefix(RecordSeal.headerByteCount)) + Data(RecordStore.encodeFields(envelopes: fields.envelopes, keys: fields.keys))])
        }
        // Even a read of another field: the record is not the one the vault wrote.
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.records.get(subject: "s1", fields: ["email"], context: Self.admin) }
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.records.get(subject: "s1", context: Self.admin) }
    }

    @Test func aPlainFieldEdited() throws {
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE subjects SET plain = ? WHERE id = 's1'", arguments: [#"{"segment":"vip"}"#])
        }
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.records.get(subject: "s1", fields: ["segment"], context: Self.admin) }
    }

    /// A search by a plain field matches on the stored JSON; a value planted there must not
    /// make a subject a match.
    @Test func aPlainValuePlantedToMatchASearch() throws {
        #expect(try vault.records.find(field: "segment", value: "vip", context: Self.admin).isEmpty)
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE subjects SET plain = ? WHERE id = 's2'", arguments: [#"{"segment":"vip"}"#])
        }
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.records.find(field: "segment", value: "vip", context: Self.admin) }
    }

    /// A KEK rotation renews every record's MAC over its new wrapped key: a record edited
    /// behind the vault must fail there, not come out with a valid MAC over the edit.
    @Test func aKEKRotationDoesNotLaunderAnEditedRecord() throws {
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE subjects SET plain = ? WHERE id = 's1'", arguments: [#"{"segment":"vip"}"#])
        }
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.keys.rotateKEK(context: Self.admin) }
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.records.get(subject: "s1", fields: ["segment"], context: Self.admin) }
    }

    /// A sweep picks what is due by a query over the plain fields; a lead made to look
    /// active would simply not be picked. The sweep checks every record's MAC first; one
    /// that fails and was not picked is recorded as failed, and the sweep fails closed.
    @Test func aPlainDateEditedSoTheSweepWouldSkipTheSubject() throws {
        try vault.records.put(subject: "lead1", values: ["email": "lead1@example.com", "segment": "lead", "last_interaction": "2020-01-01"],
                              context: Self.admin)
        let plain: String = try row("lead1")["plain"]
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE subjects SET plain = ? WHERE id = 'lead1'",
                           arguments: [plain.replacingOccurrences(of: "2020-01-01", with: "2026-11-30")])
        }
        try fixture.expectFailsClosed(verifyKind: "record") {
            _ = try vault.retention.sweep(SweepOptions(now: Date(), dryRun: true), context: Self.admin)
        }
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.retention.sweep(SweepOptions(now: Date()), context: Self.admin) }
        let event = try fixture.newestEvent()
        #expect(event["action"] as String == "retention.sweep" && event["outcome"] as String == "failed")
        let subjectFailures = try vault.store.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events WHERE action = 'retention.action' AND outcome = 'failed' AND subject IS NOT NULL")
        }
        #expect(subjectFailures == 2, "the hidden subject, once per sweep (dry run included)")
    }

    /// A record that is damaged and comes up as due fails its own action; the sweep goes on.
    @Test func aDamagedRecordThatIsDueFailsAloneInTheSweep() throws {
        try vault.records.put(subject: "lead1", values: ["email": "lead1@example.com", "segment": "lead", "last_interaction": "2020-01-01"],
                              context: Self.admin)
        try vault.records.put(subject: "lead2", values: ["email": "lead2@example.com", "segment": "lead", "last_interaction": "2020-01-01"],
                              context: Self.admin)
        let sealed: Data = try row("lead1")["sealed"]
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE subjects SET sealed = ? WHERE id = 'lead1'", arguments: [Data(sealed.dropLast(1))])
        }
        let summary = try vault.retention.sweep(SweepOptions(now: Date()), context: Self.admin)
        #expect(summary.failed == 1 && summary.acted == 1)
        #expect(try vault.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subjects WHERE id = 'lead2'") } == 0, "lead2 was erased")
    }

    @Test func aChangedRecordDeletedIsNotTakenForAnUnknownSubject() throws {
        try vault.records.put(subject: "s1", values: ["segment": "lead"], context: Self.admin)
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM subjects WHERE id = 's1'") }
        try fixture.expectFailsClosed { _ = try vault.records.get(subject: "s1", context: Self.admin) }
    }

    /// A record never changed since it was created has no earlier state and is not in the
    /// tree: deleted outright, it reads as unknown. That is destruction, which the attacker
    /// model grants (docs/threat-model.md); nothing false is decided.
    @Test func aNeverChangedRecordDeletedIsDestruction() throws {
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM subjects WHERE id = 's2'") }
        let error = #expect(throws: PrivacyKitError.self) { try vault.records.get(subject: "s2", context: Self.admin) }
        #expect(error?.code == .notFound)
    }

    @Test func aRecordPlantedUnderANewId() throws {
        let stored = try row("s2")
        try fixture.tamper { db in
            try db.execute(sql: """
                INSERT INTO subjects (id, kek_version, key_version, wrapped_key, sealed, plain, invalid, created_at, updated_at)
                VALUES ('planted', ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: StoreArguments(["kek_version", "key_version", "wrapped_key", "sealed", "plain", "invalid", "created_at", "updated_at"]
                    .map { stored.value($0) }))
        }
        try fixture.expectFailsClosed(verifyKind: "record") { _ = try vault.records.get(subject: "planted", context: Self.admin) }
    }

    /// A tombstone deleted behind the vault does not let an import bring the person back:
    /// the import proves its new subjects' leaves absent first.
    @Test func anImportOntoAnErasedIdWhoseTombstoneWasDeleted() throws {
        _ = try vault.retention.erase(subject: "s1", reason: "request", context: Self.admin)
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM tombstones WHERE subject_id = 's1'") }
        let csv = fixture.dir.url.appendingPathComponent("back.csv")
        try "customer_id,email\ns1,s1@example.com\n".write(to: csv, atomically: true, encoding: .utf8)
        try fixture.expectFailsClosed { _ = try vault.records.importCSV(at: csv.path, context: Self.admin) }
        #expect(try vault.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subjects WHERE id = 's1'") } == 0)
    }

    /// An honest history of writes, rectifications and removals keeps verifying.
    @Test func honestRecordChangesKeepVerifying() throws {
        try vault.records.put(subject: "s1", values: ["email": "other@example.com", "segment": "lead"], context: Self.admin)
        _ = try vault.records.deleteFields(subject: "s1", fields: ["phone"], context: Self.admin)
        _ = try vault.records.encrypt("x@example.com", field: "email", subject: "svc", context: Self.admin)
        _ = try vault.retention.erase(subject: "s2", reason: "request", context: Self.admin)
        #expect(try vault.records.get(subject: "s1", context: Self.admin)["email"] == "other@example.com")
        let report = try fixture.verify()
        #expect(report.ok, "\(report.problem?.message ?? "")")
    }
}
