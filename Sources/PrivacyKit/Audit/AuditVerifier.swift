import Foundation
import GRDB
public import Sodium

/// What `audit verify` found.
public struct AuditReport: Sendable, Encodable, Equatable {
    /// The first thing wrong, with the sequence number where it shows.
    public struct Problem: Sendable, Codable, Equatable {
        public let seq: Int64?
        /// `missing`, `link`, `altered`, `malformed`, `checkpoint-signature`,
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

    /// Hashes are public, so a plain `memcmp` is fine here (no timing secret).
    private static func equal(_ stored: [UInt8], _ bytes: [UInt8]) -> Bool {
        stored.count == bytes.count && stored.withUnsafeBytes { d in
            bytes.withUnsafeBytes { b in b.count == 0 || memcmp(d.baseAddress!, b.baseAddress!, b.count) == 0 }
        }
    }

    static func verify(
        db: StoreDatabase, vaultID: VaultID, publicKey: Ed25519.PublicKey, witness: [AuditCheckpoint]
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
        checkAt(0, chainHash: genesis)
        var hasher = AuditHasher()
        let cursor = try AuditTable(db: db).allEvents()
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
            // Text columns as Swift strings (short ones need no allocation), hashes compared
            // in place with memcmp: measured ~1.6x faster than wrapping every column's bytes
            // in a no-copy Data, which allocates per column.
            hasher.begin(seq: seq)
            hasher.field(row[1] as String)
            hasher.field(row[2] as String)
            hasher.field(row[3] as String)
            hasher.field(row[4] as String)
            hasher.optional(row[5] as String?)
            hasher.field(row[6] as String)
            hasher.optional(row[7] as String?)
            hasher.field(row[8] as String)
            hasher.optional(row[9] as String?)
            hasher.optional(row[10] as String?)
            let linked = if case .blob(let bytes) = row.values[11] { Self.equal(bytes, previous) } else { false }
            guard linked else {
                fail(seq, "link", "event \(seq) does not link to event \(seq - 1) (an event was inserted, removed or reordered here)")
                break
            }
            let recomputed = try previous.withUnsafeBytes { try hasher.finish(prevHash: $0) }
            let intact = if case .blob(let bytes) = row.values[12] { Self.equal(bytes, recomputed) } else { false }
            guard intact else {
                fail(seq, "altered", "event \(seq) was altered: its content does not match its hash")
                break
            }
            previous = recomputed
            count += 1
            expected += 1
            checkAt(seq, chainHash: recomputed)
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
            problem: problem)
    }
}
