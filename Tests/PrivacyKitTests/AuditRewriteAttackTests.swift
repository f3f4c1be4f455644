import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// The attacks of issue 20 on the audit log, by a store writer who knows the format but
/// holds no key: drop the append-only triggers, rewrite, recompute the unkeyed chain, drop
/// the checkpoints that would give it away. Each must be caught by `audit verify` with the
/// vault's keys, and the vault must refuse to sign or extend the forged chain. (Against
/// format 1 every one of them verified OK and got a fresh signed checkpoint.)
///
/// History, as in AuditTamperTests: seq 1 vault.create (checkpointed), 2…16 record.read,
/// a checkpoint at 11.
@Suite("Store writer vs the audit log")
struct AuditRewriteAttackTests {
    let fixture: AuditFixture

    init() throws {
        fixture = try AuditFixture(events: 10)
        try fixture.vault.audit.checkpoint()
        try fixture.append(5)
        #expect(try fixture.verify().ok)
    }

    /// Recomputes the unkeyed chain from `seq` on, as anyone who reads docs/formats.md can:
    /// every later hash and link, with the checkpoint each event names set to `checkpoint`
    /// where it named a dropped one. The MAC columns are left as they were (the attacker
    /// cannot make new ones).
    /// With `checkpoint` nil, every event from `seq` on is rewritten in format 1.
    func rechain(from seq: Int64, checkpoint: Int64?, db: StoreDatabase) throws {
        var previous = seq == 1 ? Data(AuditChain.genesis(vaultID: fixture.vault.id))
            : try #require(try Data.fetchOne(db, sql: "SELECT hash FROM audit_events WHERE seq = ?", arguments: [seq - 1]))
        let rows = try StoreRow.fetchAll(db, sql: "SELECT * FROM audit_events WHERE seq >= ? ORDER BY seq", arguments: [seq])
        var hasher = AuditHasher()
        for row in rows {
            let named: Int64? = row["checkpoint_seq"]
            let keep = checkpoint.flatMap { checkpoint in named.map { min($0, checkpoint) } }
            let hash = try previous.withUnsafeBytes {
                try hasher.hash(
                    seq: row["seq"], time: row["time"], actor: row["actor"], role: row["role"], action: row["action"], subject: row["subject"],
                    fields: row["fields"], purpose: row["purpose"], outcome: row["outcome"], reason: row["reason"], requestID: row["request_id"],
                    checkpointSeq: keep, prevHash: $0)
            }
            try db.execute(sql: "UPDATE audit_events SET prev_hash = ?, hash = ?, checkpoint_seq = ? WHERE seq = ?",
                           arguments: [previous, Data(hash), keep, row["seq"] as Int64])
            previous = Data(hash)
        }
    }

    func checkpointCount() throws -> Int {
        try fixture.vault.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_checkpoints") ?? 0 }
    }

    /// Nothing is signed over the forged head, and nothing is appended onto it.
    func expectTheVaultRefusesToSignOrExtend(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try checkpointCount()
        let signing = #expect(throws: PrivacyKitError.self, sourceLocation: sourceLocation) { try fixture.vault.audit.checkpoint() }
        #expect(signing?.code == .integrity, sourceLocation: sourceLocation)
        #expect(try checkpointCount() == before, "a checkpoint was signed over a forged chain", sourceLocation: sourceLocation)
        let last = try fixture.lastSeq()
        let appending = #expect(throws: PrivacyKitError.self, sourceLocation: sourceLocation) {
            try fixture.vault.audit.record([AuditEntry(.recordRead, subjectID: "after-the-attack")], context: fixture.context)
        }
        #expect(appending?.code == .integrity, sourceLocation: sourceLocation)
        #expect(try fixture.lastSeq() == last, sourceLocation: sourceLocation)
    }

    @Test func eventsDeletedFromTheMiddleRenumberedRechainedAndLaterCheckpointsDropped() throws {
        try fixture.tamper { db in
            try db.execute(sql: "DELETE FROM audit_events WHERE seq IN (5, 6)")
            try db.execute(sql: "DELETE FROM audit_checkpoints WHERE seq >= 5")
            for seq in Int64(7)...16 {
                try db.execute(sql: "UPDATE audit_events SET seq = ? WHERE seq = ?", arguments: [seq - 2, seq])
            }
            try rechain(from: 5, checkpoint: 1, db: db)
        }
        // The public key sees a consistent chain that no surviving checkpoint covers past 1:
        // that is the unsigned tail the report shows. The keys see the rewrite.
        let keyless = try verifyWithKey(fixture.vault, fixture.vault.auditPublicKey)
        #expect(keyless.ok && keyless.unsignedTail == 13)
        expectProblem(try fixture.verify(), kind: "mac", seq: 5)
        try expectTheVaultRefusesToSignOrExtend()
    }

    @Test func anActorEditedAndEveryLaterCheckpointDropped() throws {
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE audit_events SET actor = 'someone-else' WHERE seq = 8")
            try db.execute(sql: "DELETE FROM audit_checkpoints WHERE seq >= 8")
            try rechain(from: 8, checkpoint: 1, db: db)
        }
        expectProblem(try fixture.verify(), kind: "mac", seq: 8)
        try expectTheVaultRefusesToSignOrExtend()
    }

    @Test func theMACsStrippedAndTheWholeLogRewrittenInFormat1() throws {
        try fixture.tamper { db in
            try db.execute(sql: "DELETE FROM audit_checkpoints")
            try db.execute(sql: "UPDATE audit_events SET mac = NULL")
            try rechain(from: 1, checkpoint: nil, db: db)
        }
        expectProblem(try fixture.verify(), kind: "mac", seq: 1)
        try expectTheVaultRefusesToSignOrExtend()
    }

    @Test func theNewestEventsMACCopiedOntoAnEditedEvent() throws {
        // The head only: an edited last event keeps a MAC (its old one) that no longer fits.
        try fixture.tamper { db in
            try db.execute(sql: "UPDATE audit_events SET outcome = 'denied' WHERE seq = 16")
            try rechain(from: 16, checkpoint: 11, db: db)
        }
        expectProblem(try fixture.verify(), kind: "mac", seq: 16)
        try expectTheVaultRefusesToSignOrExtend()
    }

    /// Only the last event of an append carries a MAC; a forged event added after the last
    /// one, correctly hashed and linked, has none to vouch for it.
    @Test func aForgedEventAppendedWithoutAMAC() throws {
        try fixture.tamper { db in
            let head = try #require(try StoreRow.fetchOne(db, sql: "SELECT hash, checkpoint_seq FROM audit_events WHERE seq = 16"))
            let prev: Data = head["hash"], checkpoint: Int64 = head["checkpoint_seq"]
            var hasher = AuditHasher()
            let hash = try prev.withUnsafeBytes {
                try hasher.hash(seq: 17, time: "2026-12-07T00:00:00.000Z", actor: "eve", role: "admin", action: "record.read", subject: nil,
                                fields: "", purpose: nil, outcome: "allowed", reason: nil, requestID: nil, checkpointSeq: checkpoint, prevHash: $0)
            }
            try db.execute(sql: AuditLog.insertSQL, arguments: [
                17, "2026-12-07T00:00:00.000Z", "eve", "admin", "record.read", nil, "", nil, "allowed", nil, nil, prev, Data(hash),
                checkpoint, nil, nil,
            ])
        }
        expectProblem(try fixture.verify(), kind: "mac", seq: 17)
        try expectTheVaultRefusesToSignOrExtend()
    }

    /// A checkpoint dropped from the middle is caught with the public key alone: the events
    /// after it name it, and a later checkpoint signs those events.
    @Test func aCheckpointDroppedFromTheMiddle() throws {
        try fixture.vault.audit.checkpoint()  // at 16: covers events 12…16, which name 11
        try fixture.tamper { db in try db.execute(sql: "DELETE FROM audit_checkpoints WHERE seq = 11") }
        expectProblem(try verifyWithKey(fixture.vault, fixture.vault.auditPublicKey), kind: "checkpoint-missing", seq: 12)
        expectProblem(try fixture.verify(), kind: "checkpoint-missing", seq: 12)
    }

    /// The untouched log: the vault signs and extends it, and every MAC verifies.
    @Test func anUntouchedLogIsSignedAndExtended() throws {
        try fixture.vault.audit.checkpoint()
        try fixture.append(2)
        let report = try fixture.verify()
        #expect(report.ok, "\(report.problem?.message ?? "")")
        #expect(report.macsVerified == 18)
    }
}
