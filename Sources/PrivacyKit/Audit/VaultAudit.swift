import Foundation
import Sodium

/// The audit log of a vault: recording events for work done outside it, signing
/// checkpoints, verifying the chain, and reading it back (itself audited).
public struct VaultAudit: VaultCapability {
    let core: VaultCore

    /// Records events in their own transaction: for services that act on data outside the
    /// vault (a ciphertext they keep, say) and must still leave an audit trail.
    public func record(_ entries: [AuditEntry], context: AccessContext) throws {
        try core.record(entries, context: context)
    }

    /// Signs a checkpoint over the current head of the audit log (or returns the existing
    /// one if nothing was appended since).
    @discardableResult
    public func checkpoint() throws -> AuditCheckpoint {
        try store.write { db in try audit.checkpoint(db: db) }
    }

    /// Signs a checkpoint if events were appended since the last one. The CLI calls this
    /// at the end of every command.
    @discardableResult
    public func checkpointIfNeeded() throws -> AuditCheckpoint? {
        try store.write { db in
                let last = try AuditLog.lastSeq(db: db)
                if let signed = try AuditLog.lastCheckpointSeq(db: db), signed >= last { return nil }
                return try audit.checkpoint(db: db)
            }
    }

    /// Throws unless the audit log takes an event now: the write lock, then one event
    /// inserted (through the append-only triggers and every constraint) and rolled back,
    /// leaving nothing. privacyd's readiness probe: an operation whose event cannot be
    /// written fails, so a server that cannot write one is not ready.
    public func probeWritable() throws {
        struct RolledBack: Error {}
        do {
            try store.write { db in
                let seq = try AuditLog.lastSeq(db: db) + 1
                try AuditTable(db: db).insertStatement().execute(arguments: [
                    seq, Timestamp.precise(Date()), "privacyd", "probe", AuditAction.auditQuery.rawValue, nil, "", nil,
                    AuditOutcome.allowed.rawValue, "readiness probe, rolled back", nil, Data(count: 32), Data(count: 32), nil, nil, nil,
                ])
                throw RolledBack()
            }
        } catch is RolledBack {
            return
        }
    }

    /// Verifies the whole audit log with the vault's keys (every event's MAC, which a store
    /// writer cannot recompute), its checkpoints with the public key, and, optionally, a
    /// witness file's checkpoints.
    public func verify(witness: [AuditCheckpoint] = []) throws -> AuditReport {
        try store.read { db in
                try AuditVerifier.verify(db: db, vaultID: id, publicKey: auditPublicKey, witness: witness,
                                         chainKey: keyring.current(.auditChain)?.secret)
            }
    }

    /// Events matching `query`, oldest first (newest first if it says so). Reading the log is itself recorded
    /// (`audit.query`).
    public func events(matching query: AuditQuery, context: AccessContext) throws -> [AuditEvent] {
        let subject = try query.subjectID.map { id -> String in
            guard let key = keyring.current(.auditMAC)?.secret else {
                throw PrivacyKitError(.internal, "the keyring has no audit MAC key")
            }
            return try AuditChain.pseudonym(subjectID: id, key: key)
        }
        // The seq of this query's own event: the newest the read below can see.
        let last = try perform(context, AccessRequest(.audit, event: .auditQuery, subject: query.subjectID)) { tx, _ in
            tx.record(AuditEntry(.auditQuery, subjectID: query.subjectID))
            return try AuditLog.lastSeq(db: tx.db) + 1
        }
        return try store.read { db in
                try AuditTable(db: db).events(
                    subject: subject, newestSeq: last, actor: query.actor, action: query.action, since: query.since, until: query.until,
                    afterSeq: query.afterSeq, limit: query.limit, outcome: query.outcome, newestFirst: query.newestFirst
                ).map(AuditLog.event(from:))
            }
    }

    /// Streams every event after `afterSeq` (and, given `since`, at or after that time, as
    /// ``AuditQuery/since`` compares), oldest first, to `handle` (for a SIEM). The export
    /// is recorded first (`audit.export`), then read from one consistent snapshot.
    ///
    /// - Returns: the number of events handed over.
    @discardableResult
    public func export(
        afterSeq: Int64 = 0, since: String? = nil, context: AccessContext, _ handle: (AuditEvent) throws -> Void
    ) throws -> Int64 {
        try perform(context, AccessRequest(.audit, event: .auditExport)) { tx, _ in
            tx.record(AuditEntry(.auditExport, reason: "after seq \(afterSeq)" + (since.map { ", since \($0)" } ?? "")))
        }
        return try store.read { db in
                var count: Int64 = 0
                let cursor = try AuditTable(db: db).events(after: afterSeq, since: since)
                while let row = try cursor.next() {
                    try handle(AuditLog.event(from: row))
                    count += 1
                }
                return count
            }
    }
}
