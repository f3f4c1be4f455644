import Foundation
import GRDB
@testable import PrivacyKit
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
        dir = try TempDirectory()
        try RootKey.generateKeyFile(at: dir.file("root.key"))
        vault = try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: .keyFile(at: dir.file("root.key")))
        try append(events)
    }

    func append(_ count: Int) throws {
        for _ in 0..<count {
            let next = try lastSeq() + 1
            try vault.record([AuditEntry(.recordRead, subjectID: "subject-\(next)", fields: ["email", "phone"])], context: context)
        }
    }

    func lastSeq() throws -> Int64 {
        try vault.store.read { db in try AuditLog.lastSeq(db: db) }
    }

    func verify(witness: [AuditCheckpoint] = []) throws -> AuditReport {
        try vault.verifyAudit(witness: witness)
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
    ])
}
