import Foundation
import GRDB
@testable import PrivacyKit
import Sodium
import Testing

/// Edits the SQLite file behind the library's back and shows each edit detected, at the
/// right sequence number. History: seq 1 vault.create (checkpointed), 2…16 record.read;
/// a checkpoint at 11 that is also exported to a witness.
@Suite("Audit tampering")
struct AuditTamperTests {
    struct Scenario {
        let fixture: AuditFixture
        let witness: [AuditCheckpoint]

        init() throws {
            fixture = try AuditFixture(events: 10)
            witness = [try fixture.vault.audit.checkpoint()]
            try fixture.append(5)
            #expect(try fixture.lastSeq() == 16)
            let report = try fixture.verify(witness: witness)
            #expect(report.ok, "the untouched log must verify: \(report.problem?.message ?? "")")
            #expect(report.events == 16)
            #expect(report.unsignedTail == 5)
        }
    }

    @Test func untouchedLogVerifiesWithCheckpointsAndWitness() throws {
        let s = try Scenario()
        let report = try s.fixture.verify(witness: s.witness)
        #expect(report.checkpointsVerified == 2)  // seq 1 (creation) and 11
        #expect(report.witnessCheckpointsVerified == 1)
        #expect(report.lastSeq == 16)
    }

    @Test(arguments: ["actor", "role", "action", "subject", "fields", "purpose", "outcome", "reason", "time", "request_id"])
    func oneFieldOfOneEventChanged(column: String) throws {
        let s = try Scenario()
        try s.fixture.tamper { db in
            try db.execute(sql: "UPDATE audit_events SET \(column) = 'x' WHERE seq = 5")
        }
        expectProblem(try s.fixture.verify(), kind: "altered", seq: 5)
    }

    @Test func eventDeleted() throws {
        let s = try Scenario()
        try s.fixture.tamper { db in try db.execute(sql: "DELETE FROM audit_events WHERE seq = 7") }
        expectProblem(try s.fixture.verify(), kind: "missing", seq: 7)
    }

    @Test func forgedEventAppended() throws {
        let s = try Scenario()
        let head = try s.fixture.hash(of: 16)
        try s.fixture.tamper { db in
            try db.execute(sql: AuditLog.insertSQL, arguments: [
                17, "2026-01-01T00:00:00.000Z", "eve", "admin", "record.read", nil, "", nil, "allowed", nil, nil,
                head, Data(Random.bytes(count: 32)), nil, nil, nil,
            ])
        }
        expectProblem(try s.fixture.verify(), kind: "altered", seq: 17)
    }

    @Test func eventInsertedInTheMiddleWithARecomputedHash() throws {
        // The attacker knows the format: the forged event at 6 hashes correctly and links
        // to 5, and the old events move up by one. Event 7 (the old 6) no longer links.
        let s = try Scenario()
        try s.fixture.tamper { db in
            let rows = try StoreRow.fetchAll(db, sql: "SELECT * FROM audit_events WHERE seq >= 6 ORDER BY seq")
            try db.execute(sql: "DELETE FROM audit_events WHERE seq >= 6")
            let prev: Data = try #require(try Data.fetchOne(db, sql: "SELECT hash FROM audit_events WHERE seq = 5"))
            let checkpoint: Int64 = try #require(try Int64.fetchOne(db, sql: "SELECT checkpoint_seq FROM audit_events WHERE seq = 5"))
            var hasher = AuditHasher()
            let forged = try prev.withUnsafeBytes {
                try hasher.hash(seq: 6, time: "2026-01-01T00:00:00.000Z", actor: "eve", role: "admin", action: "record.export",
                                subject: nil, fields: "", purpose: nil, outcome: "allowed", reason: nil, requestID: nil,
                                checkpointSeq: checkpoint, prevHash: $0)
            }
            try db.execute(sql: AuditLog.insertSQL, arguments: [
                6, "2026-01-01T00:00:00.000Z", "eve", "admin", "record.export", nil, "", nil, "allowed", nil, nil, prev, Data(forged),
                checkpoint, nil, nil,
            ])
            for row in rows { try reinsert(row, at: row["seq"] + 1, db: db) }
        }
        // The next event no longer links, with the vault's keys and with the public key.
        // (An event without a MAC of its own is vouched for by the next MAC, which the
        // broken link never reaches.)
        expectProblem(try s.fixture.verify(), kind: "link", seq: 7)
        expectProblem(try verifyWithKey(s.fixture.vault, s.fixture.vault.auditPublicKey), kind: "link", seq: 7)
    }

    @Test func twoEventsSwapped() throws {
        let s = try Scenario()
        try s.fixture.tamper { db in
            let a = try #require(try StoreRow.fetchOne(db, sql: "SELECT * FROM audit_events WHERE seq = 8"))
            let b = try #require(try StoreRow.fetchOne(db, sql: "SELECT * FROM audit_events WHERE seq = 9"))
            try db.execute(sql: "DELETE FROM audit_events WHERE seq IN (8, 9)")
            try reinsert(b, at: 8, db: db)
            try reinsert(a, at: 9, db: db)
        }
        expectProblem(try s.fixture.verify(), kind: "link", seq: 8)
    }

    @Test func tailCutIsDetectedAgainstAnEarlierExport() throws {
        let s = try Scenario()
        let witness = s.witness + [try s.fixture.vault.audit.checkpoint()]  // exported at 16
        // The attacker removes 14…16 and the checkpoint that covered them: the rest is a
        // self-consistent chain, so only the witness can tell.
        try s.fixture.tamper { db in
            try db.execute(sql: "DELETE FROM audit_events WHERE seq >= 14")
            try db.execute(sql: "DELETE FROM audit_checkpoints WHERE seq >= 14")
        }
        #expect(try s.fixture.verify().ok)
        expectProblem(try s.fixture.verify(witness: witness), kind: "witness-beyond-end", seq: 16)
    }

    @Test func tailCutUnderAStoredCheckpoint() throws {
        let s = try Scenario()
        try s.fixture.tamper { db in try db.execute(sql: "DELETE FROM audit_events WHERE seq >= 10") }
        expectProblem(try s.fixture.verify(), kind: "checkpoint-beyond-end", seq: 11)
    }

    @Test func wholeLogReplacedByAChainSignedWithAnotherKey() throws {
        let s = try Scenario()
        let other = try AuditFixture()
        // A complete, self-consistent log for this vault's id, with checkpoints signed by
        // another vault's key.
        let forger = AuditLog(vaultID: s.fixture.vault.id, keyring: other.vault.keys.keyring)
        try s.fixture.tamper { db in
            try db.execute(sql: "DELETE FROM audit_events")
            try db.execute(sql: "DELETE FROM audit_checkpoints")
            try forger.append([AuditEntry(.vaultCreate)], context: s.fixture.context, db: db)
            try forger.checkpoint(db: db)
            try forger.append((0..<20).map { _ in AuditEntry(.recordRead, subjectID: "someone") }, context: s.fixture.context, db: db)
            try forger.checkpoint(db: db)
        }
        // The vault's audit-chain key gives it away at the first event; its public key, at
        // the first checkpoint.
        expectProblem(try s.fixture.verify(), kind: "mac", seq: 1)
        expectProblem(try verifyWithKey(s.fixture.vault, s.fixture.vault.auditPublicKey), kind: "checkpoint-signature", seq: 1)
        // Verified with the forger's own key, the chain itself is consistent: only the key
        // gives it away. The witness shows it too.
        let forgedReport = try verifyWithKey(s.fixture.vault, other.vault.auditPublicKey)
        #expect(forgedReport.ok)
        let withWitness = try verifyWithKey(s.fixture.vault, other.vault.auditPublicKey, witness: s.witness)
        expectProblem(withWitness, kind: "witness-signature", seq: 11)
    }

    @Test func checkpointSignatureAltered() throws {
        let s = try Scenario()
        try s.fixture.tamper { db in
            var signature = try #require(try Data.fetchOne(db, sql: "SELECT signature FROM audit_checkpoints WHERE seq = 11"))
            signature[10] ^= 0x01
            try db.execute(sql: "UPDATE audit_checkpoints SET signature = ? WHERE seq = 11", arguments: [signature])
        }
        expectProblem(try s.fixture.verify(), kind: "checkpoint-signature", seq: 11)
    }

    @Test func checkpointChainHashAltered() throws {
        let s = try Scenario()
        try s.fixture.tamper { db in
            try db.execute(sql: "UPDATE audit_checkpoints SET chain_hash = ? WHERE seq = 11", arguments: [Data(Random.bytes(count: 32))])
        }
        expectProblem(try s.fixture.verify(), kind: "checkpoint-mismatch", seq: 11)
    }

    @Test func witnessFromAnotherVaultOrWithABadSignature() throws {
        let s = try Scenario()
        let other = try AuditFixture(events: 3)
        let foreign = try other.vault.audit.checkpoint()
        expectProblem(try s.fixture.verify(witness: [foreign]), kind: "witness-foreign", seq: foreign.seq)
        let w = s.witness[0]
        var signature = try Base64URL.decode(w.signature)
        signature[0] ^= 0x40
        let forged = AuditCheckpoint(vaultID: w.vaultID, seq: w.seq, chainHash: w.chainHash, time: w.time,
                                     keyFingerprint: w.keyFingerprint, signature: Base64URL.encode(signature))
        expectProblem(try s.fixture.verify(witness: [forged]), kind: "witness-signature", seq: 11)
    }

    @Test func rewrittenHistoryUnderAWitness() throws {
        // Events 2…11 rewritten into a consistent chain (attacker recomputes every hash)
        // but without the signing key: the stored checkpoint at 11 and the witness both
        // stop matching.
        let s = try Scenario()
        let rewriter = AuditLog(vaultID: s.fixture.vault.id, keyring: nil)
        try s.fixture.tamper { db in
            try db.execute(sql: "DELETE FROM audit_events WHERE seq >= 2")
            try db.execute(sql: "DELETE FROM audit_checkpoints WHERE seq >= 2")
            try rewriter.append((0..<15).map { _ in AuditEntry(.vaultUnlock, outcome: .failed) }, context: s.fixture.context, db: db)
        }
        expectProblem(try s.fixture.verify(witness: s.witness), kind: "witness-mismatch", seq: 11)
    }
}
