import Foundation
import GRDB
public import Sodium

/// What `audit verify` found.
public struct AuditReport: Sendable, Encodable, Equatable {
    /// The first thing wrong, with the sequence number where it shows.
    public struct Problem: Sendable, Codable, Equatable {
        public let seq: Int64?
        /// `missing`, `link`, `altered`, `mac`, `format`, `checkpoint-missing`, `malformed`, `checkpoint-signature`,
        /// `checkpoint-mismatch`, `checkpoint-beyond-end`, `witness-signature`,
        /// `witness-mismatch`, `witness-beyond-end`, `witness-foreign`, `consent-ledger`.
        public let kind: String
        public let message: String
    }

    public var ok: Bool { problem == nil }
    public let vaultID: String
    public let events: Int64
    public let lastSeq: Int64
    /// Hex of the last event's hash (the genesis hash for an empty log).
    public let headHash: String
    public let checkpointsVerified: Int
    public let witnessCheckpointsVerified: Int
    /// Events after the newest verified checkpoint: covered by the chain, not yet signed.
    public let unsignedTail: Int64
    public let publicKeyFingerprint: String
    /// Format-2 events whose MAC was checked; nil when verified with the public key alone
    /// (which checks what checkpoints cover, not the MACs).
    public let macsVerified: Int64?
    public let problem: Problem?

    enum CodingKeys: String, CodingKey {
        case ok, events, problem
        case vaultID = "vault_id"
        case lastSeq = "last_seq"
        case headHash = "head_hash"
        case checkpointsVerified = "checkpoints_verified"
        case witnessCheckpointsVerified = "witness_checkpoints_verified"
        case unsignedTail = "unsigned_tail"
        case publicKeyFingerprint = "public_key_fingerprint"
        case macsVerified = "macs_verified"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ok, forKey: .ok)
        try c.encode(vaultID, forKey: .vaultID)
        try c.encode(events, forKey: .events)
        try c.encode(lastSeq, forKey: .lastSeq)
        try c.encode(headHash, forKey: .headHash)
        try c.encode(checkpointsVerified, forKey: .checkpointsVerified)
        try c.encode(witnessCheckpointsVerified, forKey: .witnessCheckpointsVerified)
        try c.encode(unsignedTail, forKey: .unsignedTail)
        try c.encode(publicKeyFingerprint, forKey: .publicKeyFingerprint)
        try c.encodeIfPresent(macsVerified, forKey: .macsVerified)
        try c.encodeIfPresent(problem, forKey: .problem)
    }
}

/// Verifies an audit log with nothing but the audit public key: recomputes the chain,
/// checks every stored checkpoint's signature and chain hash, and, given a witness file
/// (earlier exported checkpoints), that each is still a prefix of the log.
///
/// Reads the events in order through a cursor, so memory stays flat however long the log.
public enum AuditVerifier {
    /// Verifies the log in the SQLite store at `storePath` (a live vault's or a copy).
    public static func verify(
        storePath: String, publicKey: Ed25519.PublicKey, witness: [AuditCheckpoint] = []
    ) throws -> AuditReport {
        guard FileManager.default.fileExists(atPath: storePath) else {
            throw PrivacyKitError(.notFound, "the store \(storePath) does not exist")
        }
        return try SQLiteStore.wrap(storePath) {
            let queue = try DatabaseQueue(path: storePath, configuration: SQLiteStore.configuration())
            defer { try? queue.close() }
            return try queue.read { grdb in
                let db = StoreDatabase(connection: SQLiteConnection(grdb))
                guard let id = try VaultMetaTable(db: db).vaultID(),
                      let vaultID = try? VaultID(hex: id)
                else {
                    throw PrivacyKitError(.integrity, "the store \(storePath) has no vault id; it is not a PrivacyKit store")
                }
                return try verify(db: db, vaultID: vaultID, publicKey: publicKey, witness: witness)
            }
        }
    }

    /// Every consent ledger row must match the audit event it names (same kind and subject,
    /// and the row's digest in the event's reason, which the chain covers), and every
    /// consent event must have its row. Streams the ledger.
    private static func checkConsentLedger(db: StoreDatabase, fail: (Int64?, String, String) -> Void) throws {
        let event = try AuditTable(db: db).eventSummaryStatement()
        let cursor = try db.decisions.consent.ledger()
        while let row = try cursor.next() {
            let id: Int64 = row[0]
            let seq: Int64 = row[11]
            let kind: String = row[3]
            let digest = try ConsentRules.digest(
                subject: row[1], purpose: row[2], kind: kind, time: row[4], channel: row[5], notice: row[6], evidence: row[7],
                note: (row[8] as Data?).map { [UInt8]($0) }, actor: row[9], expires: row[10])
            guard let audited = try StoreRow.fetchOne(event, arguments: [seq]),
                  audited[0] as String == "consent.\(kind)", audited[1] as String? == row[1] as String,
                  (audited[2] as String?)?.hasSuffix("ledger \(digest)") == true
            else {
                fail(seq, "consent-ledger", "consent ledger event #\(id) does not match audit event \(seq) (altered, or not written by PrivacyKit)")
                return
            }
        }
        if let orphan = try db.decisions.consent.eventWithoutLedgerRow() {
            fail(orphan, "consent-ledger", "audit event \(orphan) records a consent change the consent ledger does not have (a row was removed)")
        }
    }

    /// With `chainKey` (the vault's audit-chain key) every format-2 event's MAC is checked
    /// too: the whole log, not just what checkpoints cover.
    static func verify(
        db: StoreDatabase, vaultID: VaultID, publicKey: Ed25519.PublicKey, witness: [AuditCheckpoint], chainKey: SecureBytes? = nil
    ) throws -> AuditReport {
        let keyFingerprint = try KeyFingerprint.of(publicKey.bytes)
        var problem: AuditReport.Problem?
        func fail(_ seq: Int64?, _ kind: String, _ message: String) {
            if problem == nil { problem = .init(seq: seq, kind: kind, message: message) }
        }

        // Stored checkpoints by seq (one per command or per 10,000 events: small).
        var stored: [Int64: AuditCheckpoint] = [:]
        for row in try AuditTable(db: db).checkpoints() {
            let checkpoint = AuditLog.checkpoint(from: row, vaultID: vaultID)
            stored[checkpoint.seq] = checkpoint
        }
        // Witness checkpoints must belong to this vault and carry valid signatures.
        var witnessBySeq: [Int64: AuditCheckpoint] = [:]
        for checkpoint in witness {
            guard checkpoint.vaultID == vaultID.hex else {
                fail(checkpoint.seq, "witness-foreign", "witness checkpoint at seq \(checkpoint.seq) is for vault \(checkpoint.vaultID), not \(vaultID.hex)")
                continue
            }
            guard checkpoint.verifySignature(publicKey: publicKey) else {
                fail(checkpoint.seq, "witness-signature", "witness checkpoint at seq \(checkpoint.seq): the signature does not verify with the audit public key")
                continue
            }
            witnessBySeq[checkpoint.seq] = checkpoint
        }

        var verifiedCheckpoints = 0
        var verifiedWitness = 0
        var lastVerifiedCheckpoint: Int64 = -1

        func checkAt(_ seq: Int64, chainHash: [UInt8]) {
            if let checkpoint = stored[seq] {
                if checkpoint.chainHash != Hex.encode(chainHash) {
                    fail(seq, "checkpoint-mismatch", "checkpoint at seq \(seq) signs a chain hash the log does not have at that point")
                } else if !checkpoint.verifySignature(publicKey: publicKey) {
                    fail(seq, "checkpoint-signature", "checkpoint at seq \(seq): the signature does not verify with the audit public key \(keyFingerprint)")
                } else {
                    verifiedCheckpoints += 1
                    lastVerifiedCheckpoint = max(lastVerifiedCheckpoint, seq)
                }
            }
            if let checkpoint = witnessBySeq[seq] {
                if checkpoint.chainHash != Hex.encode(chainHash) {
                    fail(seq, "witness-mismatch", "the log at seq \(seq) is not the one the witness checkpoint signed (rewritten or replaced)")
                } else {
                    verifiedWitness += 1
                    lastVerifiedCheckpoint = max(lastVerifiedCheckpoint, seq)
                }
            }
        }

        let genesis = AuditChain.genesis(vaultID: vaultID)
        var previous = genesis
        var expected: Int64 = 1
        var count: Int64 = 0
        var macs: Int64 = 0
        var newestReferenced: Int64 = -1
        var committedRoot: [UInt8]?
        var rules = KeyedLogRules(keyed: false, checksMACs: chainKey != nil)
        checkAt(0, chainHash: genesis)
        var hasher = AuditHasher()
        // The public key checks no MAC: it reads neither MACs nor roots (two blobs an event).
        let cursor = try AuditTable.inspecting(db, macs: chainKey != nil).allEvents()
        while problem == nil, let row = try cursor.next() {
            let seq: Int64 = row[0]
            guard seq == expected else {
                if seq > expected {
                    fail(expected, "missing", "event \(expected) is missing (deleted); the log jumps from \(expected - 1) to \(seq)")
                } else {
                    fail(seq, "malformed", "event \(seq) is out of order")
                }
                break
            }
            let checked = try hasher.check(row: row, previous: previous, key: chainKey)
            if let why = checked.problem {
                let kind = why.contains("link") ? "link" : why.contains("MAC") ? "mac" : "altered"
                let message = switch kind {
                case "link": "event \(seq) does not link to event \(seq - 1) (an event was inserted, removed or reordered here)"
                case "mac": "event \(seq): \(why) (rewritten without the audit-chain key)"
                default: "event \(seq) was altered: its content does not match its hash"
                }
                fail(seq, kind, message)
                break
            }
            if let problem = rules.take(seq: seq, action: row[4], checked: checked) {
                fail(seq, problem.kind, "event \(seq): \(problem.why)")
                break
            }
            if checked.macked {
                macs += 1
                committedRoot = (row[14] as Data?).map { [UInt8]($0) } ?? DecisionIntegrity.emptyRoot
            }
            if checked.version == 2 {
                let referenced: Int64 = row[13]
                if referenced >= 0, stored[referenced] == nil || referenced >= seq || referenced < newestReferenced {
                    fail(seq, "checkpoint-missing", "event \(seq) was appended after the checkpoint at seq \(referenced), which the log no longer has (a checkpoint was removed)")
                    break
                }
                newestReferenced = max(newestReferenced, referenced)
            }
            previous = checked.hash
            count += 1
            expected += 1
            checkAt(seq, chainHash: checked.hash)
        }
        if problem == nil, chainKey != nil, !rules.keyed {
            fail(1, "mac", "no event carries a MAC, though the keyring holds the audit-chain key (the log was rewritten in format 1)")
        }
        if problem == nil, let unvouched = rules.unvouched {
            fail(unvouched, "mac", "no MAC vouches for event \(unvouched) or any after it (the newest events were rewritten, or the log was cut inside a transaction)")
        }
        // The decision rows, rebuilt from scratch (the stored tree is not trusted), must be
        // what the newest MACed event commits to.
        if problem == nil, let chainKey, let committedRoot,
           try !ConstantTime.equals(DecisionIntegrity(key: chainKey).build(tree: db.decisions.tree, store: false), committedRoot) {
            fail(expected - 1, "decision-state", "the record, consent, restriction, hold and tombstone rows are not the ones the log commits to at its newest MACed event (changed behind the vault)")
        }
        // Every record must carry the MAC the vault wrote over it.
        if problem == nil, let chainKey, let forged = try RecordSeal(key: chainKey).firstForged(db) {
            fail(expected - 1, "record", "the record of subject \(forged) is not the one the vault wrote (its MAC fails: changed, moved or planted behind the vault)")
        }
        let lastSeq = expected - 1
        if problem == nil {
            if let beyond = stored.keys.filter({ $0 > lastSeq }).min() {
                fail(beyond, "checkpoint-beyond-end", "a checkpoint covers seq \(beyond) but the log ends at \(lastSeq): its tail was cut")
            } else if let beyond = witnessBySeq.keys.filter({ $0 > lastSeq }).min() {
                fail(beyond, "witness-beyond-end", "the witness has a checkpoint at seq \(beyond) but the log ends at \(lastSeq): its tail was cut")
            }
        }
        if problem == nil, try db.tableExists("consent_ledger") {
            try checkConsentLedger(db: db, fail: fail)
        }
        return AuditReport(
            vaultID: vaultID.hex, events: count, lastSeq: lastSeq, headHash: Hex.encode(previous),
            checkpointsVerified: verifiedCheckpoints, witnessCheckpointsVerified: verifiedWitness,
            unsignedTail: lastSeq - max(lastVerifiedCheckpoint, 0), publicKeyFingerprint: keyFingerprint,
            macsVerified: chainKey == nil ? nil : macs, problem: problem)
    }
}
