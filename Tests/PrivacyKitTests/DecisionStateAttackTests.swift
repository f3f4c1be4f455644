import Foundation
@_spi(Testing) @testable import PrivacyKit
import PrivacyKitPostgres
import Sodium
import Testing

/// The attacks of issue 20 on the tables decisions read, by a store writer with raw SQL and
/// no key: one per table. Each must fail the decision closed (`.integrity`, audited as a
/// failed event, nothing acted on) and be caught by `audit verify` with the vault's keys.
/// (Against format 1, every one of them changed the decision and verified OK.)
@Suite("Store writer vs the decision state")
struct DecisionStateAttackTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")
    static let marketer = AccessContext(actor: "m", role: "marketer", purpose: "marketing-email")
    static let agent = AccessContext(actor: "a", role: "support-agent", purpose: "customer-support")

    let fixture: AuditFixture
    var vault: Vault { fixture.vault }

    init() throws {
        fixture = try AuditFixture()
        for id in ["s1", "s2"] {
            try fixture.vault.records.put(
                subject: id, values: ["email": "\(id)@example.com", "full_name": "Name \(id)", "segment": "customer"], context: Self.admin)
        }
    }

    func grant(_ subject: String, _ kind: ConsentKind = .grant) throws {
        _ = try vault.consent.record(ConsentChange(kind, purpose: "marketing-email", channel: .webForm), subject: subject, context: Self.admin)
    }

    @discardableResult
    func expectFailsClosed(sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) throws -> PrivacyKitError? {
        try fixture.expectFailsClosed(sourceLocation: sourceLocation, body)
    }

    func newestEvent() throws -> StoreRow { try fixture.newestEvent() }

    @Test func aGrantInsertedIntoConsentState() throws {
        #expect(throws: PrivacyKitError.self) { try vault.records.get(subject: "s1", fields: ["email"], context: Self.marketer) }
        try fixture.tamper { db in
            try db.execute(sql: """
                INSERT INTO consent_state (purpose, subject_id, kind, event_id, time, notice_version, expires_at)
                VALUES ('marketing-email', 's1', 'grant', 1, '2026-12-01T00:00:00.000Z', '2026-01', NULL)
                """)
        }
        try expectFailsClosed { _ = try vault.records.get(subject: "s1", fields: ["email"], context: Self.marketer) }
        let event = try newestEvent()
        #expect(event["action"] as String == "record.read" && event["outcome"] as String == "failed")
        try expectFailsClosed { _ = try vault.consent.answer(subject: "s1", purpose: "marketing-email", context: Self.admin) }
    }

    @Test func aWithdrawalRolledBackToTheGrantBeforeIt() throws {
        try grant("s1")
        let granted = try #require(try vault.store.read { db in try StoreRow.fetchOne(db, sql: "SELECT * FROM consent_state WHERE subject_id = 's1'") })
        try grant("s1", .withdraw)
        try fixture.tamper { db in
            try db.execute(sql: "DELETE FROM consent_state WHERE subject_id = 's1'")
            try db.execute(sql: "INSERT INTO consent_state (purpose, subject_id, kind, event_id, time, notice_version, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                           arguments: [granted["purpose"] as String, "s1", granted["kind"] as String, granted["event_id"] as Int64,
                                       granted["time"] as String, granted["notice_version"] as String?, granted["expires_at"] as String?])
        }
        try expectFailsClosed { _ = try vault.records.get(subject: "s1", fields: ["email"], context: Self.marketer) }
    }

    /// The withdrawal rule's sweep picks its subjects from the consent state; a deleted
    /// withdrawal would keep a lead out of it. The sweep checks the whole state first.
    @Test func aWithdrawalDeletedSoTheSweepWouldSkipTheSubject() throws {
        try vault.records.put(subject: "lead1", values: ["email": "lead1@example.com", "segment": "lead", "last_interaction": "2026-12-01"],
                              context: Self.admin)
        try grant("lead1", .withdraw)
        let later = Date().addingTimeInterval(40 * 86_400)
        #expect(try vault.retention.sweep(SweepOptions(now: later, dryRun: true), context: Self.admin).due == 1)
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM consent_state WHERE subject_id = 'lead1'") }
        try expectFailsClosed { _ = try vault.retention.sweep(SweepOptions(now: later), context: Self.admin) }
        #expect(try newestEvent()["action"] as String == "retention.sweep")
    }

    /// PostgreSQL: a store writer who takes no lock commits a row while a vault write is
    /// between checking a leaf and committing it. The new root must not take the row in
    /// (under READ COMMITTED the write read the newest rows and folded it in: `audit
    /// verify` then found nothing).
    @Test(.enabled(if: TestBackend.isPostgres)) func aRowCommittedDuringAVaultWriteIsNotFoldedIn() throws {
        let settings = try #require(vault.store as? PostgresStore).settings
        try vault.records.put(subject: "lead1", values: ["email": "lead1@example.com", "segment": "lead", "last_interaction": "2020-01-01"],
                              context: Self.admin)
        var hooks = SweepHooks()
        hooks.insideTransaction = { batch in
            guard batch == 0 else { return }  // the first rule's batch, which erases lead1
            let attacker = try PGConnection(settings: settings)
            defer { attacker.close() }
            _ = try attacker.execute("""
                INSERT INTO legal_holds (id, subject_id, reason, placed_by, placed_at)
                VALUES ('hold-forged', 'lead1', 'planted', 'nobody', '2026-01-01T00:00:00.000Z')
                """, [])
        }
        let summary = try vault.retention.sweep(SweepOptions(now: Date()), context: Self.admin, hooks: hooks)
        #expect(summary.acted == 1, "lead1 was erased in the transaction the row was slipped into")
        #expect(try fixture.verify().problem?.kind == "decision-state")
    }

    @Test func aRestrictionDeleted() throws {
        _ = try vault.retention.restrict(subject: "s1", reason: "art. 18 request", context: Self.admin)
        #expect(throws: PrivacyKitError.self) { try vault.records.get(subject: "s1", fields: ["email"], context: Self.agent) }
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM restrictions WHERE subject_id = 's1'") }
        try expectFailsClosed { _ = try vault.records.get(subject: "s1", fields: ["email"], context: Self.agent) }
    }

    @Test func aSubjectHoldDeleted() throws {
        _ = try vault.retention.placeHold(subject: "s1", reason: "litigation", context: Self.admin)
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM legal_holds WHERE subject_id = 's1'") }
        try expectFailsClosed { _ = try vault.retention.erase(subject: "s1", reason: "request", context: Self.admin) }
        #expect(try vault.records.listSubjects(context: Self.admin).contains("s1"), "the held subject was erased")
    }

    @Test func aCategoryHoldReleasedBehindTheVault() throws {
        _ = try vault.retention.placeHold(category: "customer", reason: "audit of all customers", context: Self.admin)
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE legal_holds SET released_at = '2026-01-01T00:00:00.000Z', released_by = 'x', release_reason = 'x'")
        }
        try expectFailsClosed { _ = try vault.retention.erase(subject: "s2", reason: "request", context: Self.admin) }
        #expect(try vault.records.listSubjects(context: Self.admin).contains("s2"))
    }

    @Test func aTombstoneDeletedAndTheErasedSubjectPutBack() throws {
        let row = try #require(try vault.store.read { db in try StoreRow.fetchOne(db, sql: "SELECT * FROM subjects WHERE id = 's1'") })
        _ = try vault.retention.erase(subject: "s1", reason: "request", context: Self.admin)
        try fixture.tamper { db in
            try db.execute(sql: "DELETE FROM tombstones WHERE subject_id = 's1'")
            try db.execute(sql: """
                INSERT INTO subjects (id, kek_version, key_version, wrapped_key, sealed, plain, invalid, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: StoreArguments(["id", "kek_version", "key_version", "wrapped_key", "sealed", "plain", "invalid", "created_at", "updated_at"]
                    .map { row.value($0) }))
        }
        try expectFailsClosed { _ = try vault.records.get(subject: "s1", context: Self.admin) }
    }

    @Test func theStoredTreeRewrittenToMatchAForgedRow() throws {
        // Rebuilding the tree is no help without the key: its leaves are keyed tags.
        _ = try vault.retention.restrict(subject: "s1", reason: "art. 18 request", context: Self.admin)
        try fixture.tamper { db in
            try db.execute(sql: "DELETE FROM restrictions WHERE subject_id = 's1'")
            try db.execute(sql: "DELETE FROM decision_leaves")
            try db.execute(sql: "DELETE FROM decision_nodes")
        }
        try expectFailsClosed { _ = try vault.records.get(subject: "s1", fields: ["email"], context: Self.agent) }
    }

    /// The untouched vault decides as before and verifies, decision state included.
    @Test func honestChangesKeepVerifying() throws {
        try grant("s1")
        _ = try vault.retention.restrict(subject: "s2", reason: "r", context: Self.admin)
        let hold = try vault.retention.placeHold(category: "customer", reason: "h", context: Self.admin)
        _ = try vault.retention.releaseHold(id: hold.id, reason: "done", context: Self.admin)
        try vault.retention.liftRestriction(subject: "s2", reason: "r", context: Self.admin)
        _ = try vault.retention.erase(subject: "s2", reason: "request", context: Self.admin)
        #expect(try vault.records.get(subject: "s1", fields: ["email"], context: Self.marketer) == ["email": "s1@example.com"])
        let report = try fixture.verify()
        #expect(report.ok, "\(report.problem?.message ?? "")")
    }
}
