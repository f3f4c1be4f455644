import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

@Suite("Audit log")
struct AuditLogTests {
    @Test func eventsCarryTheirContextAndChainFromGenesis() throws {
        let f = try AuditFixture()
        let ctx = AccessContext(actor: "alice", role: "support-agent", purpose: "customer-support", requestID: "REQ-7")
        try f.vault.audit.record([
            AuditEntry(.recordRead, subjectID: "cust-1", fields: ["email", "phone"]),
            AuditEntry(.recordRead, subjectID: "cust-2", fields: ["email"], outcome: .denied, reason: "field not readable", purpose: "marketing-email"),
        ], context: ctx)
        let events = try f.vault.audit.events(matching: AuditQuery(actor: "alice"), context: f.context)
        #expect(events.count == 2)
        let first = try #require(events.first)
        #expect(first.seq == 2)
        #expect(first.action == "record.read" && first.outcome == "allowed")
        #expect(first.role == "support-agent" && first.purpose == "customer-support" && first.requestID == "REQ-7")
        #expect(first.fields == ["email", "phone"])
        #expect(first.subject?.count == 32 && first.subject != "cust-1")
        #expect(events[1].outcome == "denied" && events[1].purpose == "marketing-email" && events[1].reason == "field not readable")
        #expect(events[1].prevHash == first.hash)
        // Both in one transaction: one time.
        #expect(events[0].time == events[1].time)
        // The first event links to the genesis hash of this vault.
        let all = try f.vault.audit.events(matching: AuditQuery(limit: 1), context: f.context)
        #expect(all.first?.action == "vault.create")
        #expect(all.first?.prevHash == Hex.encode(AuditChain.genesis(vaultID: f.vault.id)))
        #expect(try f.verify().ok)
    }

    @Test func sequenceNumbersAreGapFreeAcrossTransactions() throws {
        let f = try AuditFixture(events: 25)
        let seqs = try f.vault.store.read { db in try Int64.fetchAll(db, sql: "SELECT seq FROM audit_events ORDER BY seq") }
        #expect(seqs == Array(1...26))
    }

    @Test func queryBySubjectUsesThePseudonym() throws {
        let f = try AuditFixture()
        try f.vault.audit.record([AuditEntry(.recordRead, subjectID: "cust-42")], context: f.context)
        try f.vault.audit.record([AuditEntry(.recordWrite, subjectID: "cust-43")], context: f.context)
        try f.vault.audit.record([AuditEntry(.recordErase, subjectID: "cust-42")], context: f.context)
        let events = try f.vault.audit.events(matching: AuditQuery(subjectID: "cust-42", action: nil), context: f.context)
        // The query itself is recorded first, under the same pseudonym.
        #expect(events.map(\.action) == ["record.read", "record.erase", "audit.query"])
        #expect(Set(events.compactMap(\.subject)).count == 1)
        let pseudonym = try AuditChain.pseudonym(subjectID: "cust-42", key: try #require(f.vault.keys.keyring.current(.auditMAC)).secret)
        #expect(events.allSatisfy { $0.subject == pseudonym })
        // Another vault's pseudonym for the same id differs: pseudonyms do not link vaults.
        let other = try AuditFixture()
        let otherPseudonym = try AuditChain.pseudonym(subjectID: "cust-42", key: try #require(other.vault.keys.keyring.current(.auditMAC)).secret)
        #expect(otherPseudonym != pseudonym)
        // Filters: action, time window, limit.
        #expect(try f.vault.audit.events(matching: AuditQuery(action: "record.write"), context: f.context).count == 1)
        #expect(try f.vault.audit.events(matching: AuditQuery(until: "2000-01-01"), context: f.context).isEmpty)
        #expect(try f.vault.audit.events(matching: AuditQuery(since: "2000-01-01", limit: 2), context: f.context).count == 2)
    }

    @Test func readingTheLogIsItselfAudited() throws {
        let f = try AuditFixture()
        _ = try f.vault.audit.events(matching: AuditQuery(subjectID: "cust-1"), context: f.context)
        var exported: [AuditEvent] = []
        try f.vault.audit.export(context: f.context) { exported.append($0) }
        #expect(exported.map(\.action) == ["vault.create", "audit.query", "audit.export"])
        #expect(exported[1].subject != nil)
        #expect(try f.verify().ok)
    }

    @Test func exportStartsAfterTheGivenSequence() throws {
        let f = try AuditFixture(events: 5)
        var seqs: [Int64] = []
        let count = try f.vault.audit.export(afterSeq: 3, context: f.context) { seqs.append($0.seq) }
        #expect(seqs == [4, 5, 6, 7])
        #expect(count == 4)
    }

    @Test func auditTablesRefuseUpdateAndDelete() throws {
        let f = try AuditFixture(events: 2)
        for sql in [
            "UPDATE audit_events SET actor = 'eve' WHERE seq = 2",
            "DELETE FROM audit_events WHERE seq = 3",
            "UPDATE audit_checkpoints SET time = 'x'",
            "DELETE FROM audit_checkpoints",
        ] {
            do {
                try f.vault.store.write { db in try db.execute(sql: sql) }
                Issue.record("\(sql) was allowed")
            } catch {
                #expect(String(describing: error).contains("append-only"), "\(sql): \(error)")
            }
        }
        #expect(try f.verify().ok)
        #expect(try f.lastSeq() == 3)
    }

    @Test func fieldNamesMustBeNamesNotValues() throws {
        let f = try AuditFixture()
        let before = try f.lastSeq()
        expectError(.invalidInput) {
            try f.vault.audit.record([AuditEntry(.recordRead, subjectID: "c", fields: ["john@example.com is here"])], context: f.context)
        }
        #expect(try f.lastSeq() == before)
        expectError(.invalidInput) { try f.vault.audit.record([AuditEntry(.recordRead)], context: AccessContext(actor: "", role: "admin")) }
    }

    @Test func checkpointsEveryNEventsInLongRuns() throws {
        let f = try AuditFixture()
        let log = AuditLog(vaultID: f.vault.id, keyring: f.vault.keys.keyring, checkpointInterval: 100)
        try f.vault.store.write { db in
            for _ in 0..<250 { try log.append([AuditEntry(.recordRead, subjectID: "s")], context: f.context, db: db) }
        }
        _ = try f.vault.store.write { db in
            try log.append((0..<120).map { _ in AuditEntry(.recordRead) }, context: f.context, db: db)
        }
        let seqs = try f.vault.store.read { db in try Int64.fetchAll(db, sql: "SELECT seq FROM audit_checkpoints ORDER BY seq") }
        // 1 at creation; then the appends that reach 100 and 200; the bulk one crossing 300.
        #expect(seqs == [1, 100, 200, 371])
        let report = try f.verify()
        #expect(report.ok && report.checkpointsVerified == 4 && report.unsignedTail == 0)
    }

    @Test func checkpointOnDemandIsIdempotentWithoutNewEvents() throws {
        let f = try AuditFixture(events: 3)
        let a = try f.vault.audit.checkpoint()
        let b = try f.vault.audit.checkpoint()
        #expect(a == b)
        #expect(a.seq == 4)
        #expect(a.verifySignature(publicKey: f.vault.auditPublicKey))
        #expect(try f.vault.audit.checkpointIfNeeded() == nil)
        try f.append(1)
        #expect(try f.vault.audit.checkpointIfNeeded()?.seq == 5)
        // A witness line round-trips.
        try a.jsonLine().write(toFile: f.dir.file("witness"), atomically: true, encoding: .utf8)
        #expect(try AuditCheckpoint.readWitnessFile(at: f.dir.file("witness")) == [a])
    }

    @Test func malformedWitnessFileNamesTheLine() throws {
        let f = try AuditFixture()
        let line = try f.vault.audit.checkpoint().jsonLine()
        try (line + "\n\nnot json\n").write(toFile: f.dir.file("w"), atomically: true, encoding: .utf8)
        let error = expectError(.invalidInput) { try AuditCheckpoint.readWitnessFile(at: f.dir.file("w")) }
        #expect(error?.message.contains("line 3") == true)
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func anAuditorVerifiesACopyWithOnlyThePublicKey() throws {
        let f = try AuditFixture(events: 4)
        try f.vault.audit.checkpoint()
        let copy = f.dir.file("copy.sqlite")
        try (f.vault.store as! SQLiteStore).pool.writeWithoutTransaction { db in try db.execute(sql: "VACUUM INTO ?", arguments: [copy]) }
        let publicKey = try VaultFiles.recordedAuditPublicKey(at: f.vault.directory)
        #expect(publicKey == f.vault.auditPublicKey)
        let report = try AuditVerifier.verify(storePath: copy, publicKey: publicKey)
        #expect(report.ok && report.events == 5 && report.checkpointsVerified == 2)
        let stranger = try Ed25519.KeyPair.generate().publicKey
        expectProblem(try AuditVerifier.verify(storePath: copy, publicKey: stranger), kind: "checkpoint-signature", seq: 1)
    }

    // MARK: fail closed

    @Test func anOperationWhoseEventCannotBeWrittenLeavesNoTrace() throws {
        let f = try AuditFixture()
        try f.tamper { db in
            try failAuditInserts(db)
        }
        let before = try f.lastSeq()
        #expect(throws: (any Error).self) {
            try f.vault.core.perform(f.context, AccessRequest(.write, event: .recordWrite)) { tx, _ in
                try tx.db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES ('probe', 'written by the operation')")
                tx.record(AuditEntry(.recordWrite, subjectID: "cust-9", fields: ["email"]))
            }
        }
        let probe = try f.vault.store.read { db in try String.fetchOne(db, sql: "SELECT value FROM vault_meta WHERE key = 'probe'") }
        #expect(probe == nil, "the operation committed without its event")
        #expect(try f.lastSeq() == before)
        // Once events can be written again, the same operation goes through with its event.
        try f.tamper { db in try allowAuditInserts(db) }
        try f.vault.core.perform(f.context, AccessRequest(.write, event: .recordWrite)) { tx, _ in
            try tx.db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES ('probe', 'written by the operation')")
            tx.record(AuditEntry(.recordWrite, subjectID: "cust-9", fields: ["email"]))
        }
        #expect(try f.lastSeq() == before + 1)
    }

    @Test func rotateRootFailsClosedWhenItsEventCannotBeWritten() throws {
        let f = try AuditFixture()
        let keyringBefore = try readBytes(f.vault.keyringPath)
        try f.tamper { db in
            try failAuditInserts(db)
        }
        #expect(throws: (any Error).self) { try f.vault.keys.rotateRoot(to: testPassphrase("new"), kdfLimits: fastLimits, context: keysAdmin) }
        #expect(try readBytes(f.vault.keyringPath) == keyringBefore)
        #expect(!FileManager.default.fileExists(atPath: SecureFiles.pendingPath(for: f.vault.keyringPath)))
        _ = try Vault.open(at: f.vault.directory, rootKey: .keyFile(at: f.dir.file("root.key")))
    }

    @Test func aRotationThatFailsToReplaceTheKeyringRecordsNothing() throws {
        let f = try AuditFixture()
        let before = try f.lastSeq()
        struct DiskFull: Error {}
        let hooks = SecureFiles.WriteHooks(afterTempWritten: { throw DiskFull() })
        #expect(throws: DiskFull.self) {
            try f.vault.keys.rotateRoot(to: testPassphrase("new"), kdfLimits: fastLimits, context: keysAdmin, hooks: hooks)
        }
        #expect(try f.lastSeq() == before)
    }

    @Test func rotateRootIsAudited() throws {
        let f = try AuditFixture()
        try f.vault.keys.rotateRoot(to: testPassphrase("new"), kdfLimits: fastLimits, context: f.context)
        let events = try f.vault.audit.events(matching: AuditQuery(action: "keys.rotate-root"), context: f.context)
        #expect(events.count == 1)
        #expect(events.first?.actor == "tester")
        #expect(events.first?.reason?.contains("passphrase") == true)
    }

    // MARK: no PII in the log

    @Test func canarySubjectIdsNeverReachTheLogItsExportsOrTheFile() throws {
        let f = try AuditFixture()
        let canaries = (1...5).map { "CANARY-\($0)-d41f9e-subject@example.com" }
        for canary in canaries {
            try f.vault.audit.record([
                AuditEntry(.recordWrite, subjectID: canary, fields: ["email", "full_name"]),
                AuditEntry(.recordRead, subjectID: canary, fields: ["email"], outcome: .denied, reason: "masked field"),
            ], context: f.context)
            _ = try f.vault.audit.events(matching: AuditQuery(subjectID: canary), context: f.context)
        }
        try f.vault.keys.rotateRoot(to: testPassphrase("rotated"), kdfLimits: fastLimits, context: f.context)
        let checkpoint = try f.vault.audit.checkpoint()
        var exported = Data()
        let encoder = JSONEncoder()
        try f.vault.audit.export(context: f.context) { exported.append(try encoder.encode($0)) }
        let queried = try f.vault.audit.events(matching: AuditQuery(), context: f.context)
        #expect(queried.count == 19)

        let tableText = try f.vault.store.read { db in
            try StoreRow.fetchAll(db, sql: "SELECT * FROM audit_events").map { $0.description }.joined(separator: "\n")
        }
        var haystacks: [(String, Data)] = [
            ("audit table", Data(tableText.utf8)),
            ("export", exported),
            ("query results", try encoder.encode(queried)),
            ("checkpoint", Data(try checkpoint.jsonLine().utf8)),
        ]
        for file in try FileManager.default.contentsOfDirectory(atPath: f.vault.directory.path) where file.hasPrefix("vault.sqlite") {
            haystacks.append((file, try Data(contentsOf: f.vault.directory.appendingPathComponent(file))))
        }
        for (name, data) in haystacks {
            for canary in canaries + ["CANARY-"] {
                #expect(data.range(of: Data(canary.utf8)) == nil, "\(name) holds a canary subject id")
            }
        }
        // …yet every canary's events are found by its id.
        for canary in canaries {
            let found = try f.vault.audit.events(matching: AuditQuery(subjectID: canary), context: f.context)
            #expect(found.filter { $0.action != "audit.query" }.count == 2)
        }
    }
}

extension AuditLogTests {
    /// Subject lookups must use the segmented index; a full scan of a long log would not
    /// show in a small test otherwise.
    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func subjectQueriesUseTheSegmentedIndex() throws {
        let f = try AuditFixture(events: 3)
        let plan = try f.vault.store.read { db in
            try StoreRow.fetchAll(db, sql: "EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE seq / 65536 IN (0, 1) AND subject = ?", arguments: ["x"])
                .map { $0["detail"] as String? ?? "" }.joined(separator: "\n")
        }
        #expect(plan.contains("audit_events_subject"), "\(plan)")
        // And events past the first segment are still found.
        let log = AuditLog(vaultID: f.vault.id, keyring: f.vault.keys.keyring)
        _ = try f.vault.store.write { db in
            try log.append((0..<70_000).map { i in AuditEntry(.recordRead, subjectID: i == 69_999 ? "late" : nil) }, context: f.context, db: db)
        }
        let found = try f.vault.audit.events(matching: AuditQuery(subjectID: "late"), context: f.context)
        #expect(found.map(\.action) == ["record.read", "audit.query"])
        #expect(found.first?.seq == 70_004)
    }
}

@Suite("Audit log write probe")
struct AuditProbeTests {
    @Test func theProbeLeavesNothingAndFailsWhenNoEventCanBeWritten() throws {
        let fixture = try AuditFixture(events: 3)
        let before = try fixture.vault.store.read { db in try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events") }
        try fixture.vault.audit.probeWritable()
        let after = try fixture.vault.store.read { db in try Int64.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events") }
        #expect(before == after)
        #expect(try fixture.verify().ok)
        let sqlite = fixture.vault.store is SQLiteStore
        try fixture.tamper { db in
            if sqlite {
                try db.execute(sql: "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'no audit'); END")
            } else {
                try db.execute(sql: "CREATE FUNCTION no_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no audit'; END $$")
                try db.execute(sql: "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION no_audit()")
            }
        }
        #expect(throws: (any Error).self) { try fixture.vault.audit.probeWritable() }
    }
}
