import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// A vault with a known audit history, and raw access to its store for tampering.
struct AuditFixture {
    let dir: TempDirectory
    let vault: Vault
    let context = AccessContext(actor: "tester", role: "admin", purpose: "privacy-compliance")

    /// Creates a vault (seq 1, checkpointed), then appends `events` more, one per
    /// transaction, for subjects `subject-2`, `subject-3`, …
    init(events: Int = 0) throws {
        let made = try KeyFileTestVault()
        dir = made.dir
        vault = made.vault
        try append(events)
    }

    func append(_ count: Int) throws {
        for _ in 0..<count {
            let next = try lastSeq() + 1
            try vault.audit.record([AuditEntry(.recordRead, subjectID: "subject-\(next)", fields: ["email", "phone"])], context: context)
        }
    }

    func lastSeq() throws -> Int64 {
        try vault.store.read { db in try AuditLog.lastSeq(db: db) }
    }

    func verify(witness: [AuditCheckpoint] = []) throws -> AuditReport {
        try vault.audit.verify(witness: witness)
    }

    /// A decision fails closed on forged state and says why, and `audit verify` with the
    /// vault's keys reports the decision state.
    @discardableResult
    func expectFailsClosed(
        verifyKind: String = "decision-state", sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
    ) throws -> PrivacyKitError? {
        let error = #expect(throws: PrivacyKitError.self, sourceLocation: sourceLocation) { try body() }
        #expect(error?.code == .integrity, "\(error?.message ?? "")", sourceLocation: sourceLocation)
        #expect(error?.message.hasPrefix(DecisionIntegrity.failurePrefix) == true, sourceLocation: sourceLocation)
        let report = try verify()
        #expect(report.problem?.kind == verifyKind, "audit verify: \(report.problem?.kind ?? "ok")", sourceLocation: sourceLocation)
        return error
    }

    func newestEvent() throws -> StoreRow {
        try #require(try vault.store.read { db in
            try StoreRow.fetchOne(db, sql: "SELECT action, outcome, reason FROM audit_events ORDER BY seq DESC LIMIT 1")
        })
    }

    /// Runs raw SQL on the store behind the library's back, with the append-only triggers
    /// dropped, as an attacker with file access would.
    func tamper(_ body: (StoreDatabase) throws -> Void) throws {
        guard vault.store is SQLiteStore else {
            // PostgreSQL: a superuser session that fires no triggers.
            try vault.store.write { db in
                try db.execute(sql: "SET LOCAL session_replication_role = replica")
                try body(db)
            }
            return
        }
        let queue = try DatabaseQueue(path: vault.storePath)
        defer { try? queue.close() }
        try queue.writeWithoutTransaction { db in
            for trigger in ["audit_events_no_update", "audit_events_no_delete", "audit_checkpoints_no_update", "audit_checkpoints_no_delete"] {
                try db.execute(sql: "DROP TRIGGER IF EXISTS \(trigger)")
            }
            try db.inTransaction {
                try body(StoreDatabase(connection: SQLiteConnection(db)))
                return .commit
            }
        }
    }

    /// The stored hash of event `seq`.
    func hash(of seq: Int64) throws -> Data {
        try vault.store.read { db in try #require(try Data.fetchOne(db, sql: "SELECT hash FROM audit_events WHERE seq = ?", arguments: [seq])) }
    }
}

/// Asserts the report names `kind` at `seq`.
func expectProblem(_ report: AuditReport, kind: String, seq: Int64, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(!report.ok, "tampering was not detected", sourceLocation: sourceLocation)
    #expect(report.problem?.kind == kind, "kind: \(report.problem?.kind ?? "none") — \(report.problem?.message ?? "")", sourceLocation: sourceLocation)
    #expect(report.problem?.seq == seq, "seq: \(report.problem?.seq.map(String.init) ?? "none") — \(report.problem?.message ?? "")", sourceLocation: sourceLocation)
}

/// Writes a stored event row back under another sequence number, everything else as it was.
func reinsert(_ row: StoreRow, at seq: Int64, db: StoreDatabase) throws {
    try db.execute(sql: AuditLog.insertSQL, arguments: [
        seq, row.value("time"), row.value("actor"), row.value("role"), row.value("action"), row.value("subject"), row.value("fields"),
        row.value("purpose"), row.value("outcome"), row.value("reason"), row.value("request_id"), row.value("prev_hash"), row.value("hash"),
        row.value("checkpoint_seq"), row.value("state_root"), row.value("mac"),
    ])
}

/// Makes every insert into audit_events fail (storage that cannot take an event), on either
/// backend; ``allowAuditInserts(_:)`` undoes it.
func failAuditInserts(_ db: StoreDatabase) throws {
    switch db.dialect {
    case .sqlite:
        try db.execute(sql: "CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit storage failed'); END")
    case .postgres:
        try db.execute(sql: """
            CREATE FUNCTION audit_fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit storage failed'; END $$;
            CREATE TRIGGER audit_fail BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_fail()
            """)
    }
}

func allowAuditInserts(_ db: StoreDatabase) throws {
    switch db.dialect {
    case .sqlite: try db.execute(sql: "DROP TRIGGER audit_fail")
    case .postgres: try db.execute(sql: "DROP TRIGGER audit_fail ON audit_events")
    }
}

/// Lifts the append-only guard of `table` for `operation` (UPDATE or DELETE), as someone
/// with write access to the store could.
func dropAppendOnly(_ db: StoreDatabase, _ table: String, _ operation: String) throws {
    switch db.dialect {
    case .sqlite: try db.execute(sql: "DROP TRIGGER \(table)_no_\(operation.lowercased())")
    case .postgres: try db.execute(sql: "ALTER TABLE \(table) DISABLE TRIGGER \(table)_append_only")
    }
}

/// Verifies a vault's log with only a public key, whatever its store.
func verifyWithKey(_ vault: Vault, _ publicKey: Ed25519.PublicKey, witness: [AuditCheckpoint] = []) throws -> AuditReport {
    try VaultFiles.verifyAuditWithoutSecret(at: vault.directory, publicKey: publicKey, witness: witness)
}
