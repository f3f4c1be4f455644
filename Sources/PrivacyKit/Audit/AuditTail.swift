import Foundation
import Sodium
import Synchronization

/// What the vault checks of the log before it extends or signs it, so that it never acts
/// on, or signs, a chain a store writer rewrote (format 2; `docs/threat-model.md`).
///
/// - Before an append: the newest event's MAC verifies (one keyed hash).
/// - Before a checkpoint is signed: every event after the newest point this process, or a
///   checkpoint this vault signed, vouches for links to it, hashes to what it stores and
///   carries a valid MAC. A store writer who dropped checkpoints and recomputed the chain
///   cannot make the MACs, so the vault refuses to sign (`.integrity`).
enum AuditTail {
    /// The newest (seq, hash) this process verified or wrote on a verified head.
    final class VerifiedHead: Sendable {
        private let value = Mutex<(seq: Int64, hash: [UInt8])?>(nil)

        func set(seq: Int64, hash: [UInt8]) { value.withLock { $0 = (seq, hash) } }
        func get() -> (seq: Int64, hash: [UInt8])? { value.withLock { $0 } }
    }

    /// Checks the head an append is about to extend. Returns whether the head is the one
    /// this process last verified (so what it appends is verified too), and the state root
    /// its MAC covers when this check verified that MAC.
    static func checkHead(
        _ head: AuditHead?, log: AuditLog, db: StoreDatabase, hasher: inout AuditHasher
    ) throws -> (trusted: Bool, root: [UInt8]?) {
        guard let head else { return (true, nil) }
        guard let key = log.chainKey else { return (false, nil) }
        if let known = log.verifiedHead.get(), known.seq == head.seq, ConstantTime.equals(known.hash, [UInt8](head.hash)) {
            return (true, nil)
        }
        if let mac = head.mac {
            return (false, try verifiedRoot(of: head, mac: mac, key: key, hasher: &hasher))
        }
        if head.checkpointSeq == nil, log.upgrading { return (false, nil) }
        // No MAC of its own (a failed unlock, or a forgery): what vouches for it is a walk
        // from the last point this vault trusts.
        try verifyBeforeSigning(head: head, log: log, db: db)
        return (true, nil)
    }

    /// The state root `head`'s MAC covers, once the MAC verifies.
    private static func verifiedRoot(of head: AuditHead, mac: Data, key: SecureBytes, hasher: inout AuditHasher) throws -> [UInt8] {
        let stateRoot = head.stateRoot.map { [UInt8]($0) }
        let expected = try head.hash.withUnsafeBytes { try hasher.mac(hash: $0, stateRoot: stateRoot, key: key) }
        guard ConstantTime.equals(expected, [UInt8](mac)) else { throw forged(head.seq, "its MAC does not verify") }
        return stateRoot ?? DecisionIntegrity.emptyRoot
    }

    /// Verifies the events between the newest trusted point and `head` (see the type).
    static func verifyBeforeSigning(head: AuditHead?, log: AuditLog, db: StoreDatabase) throws {
        guard let key = log.chainKey, let head else { return }
        if let known = log.verifiedHead.get(), known.seq == head.seq, ConstantTime.equals(known.hash, [UInt8](head.hash)) {
            return
        }
        let table = AuditTable(db: db)
        let trusted = try trustedStart(log: log, table: table)
        var start = (seq: trusted.seq, hash: trusted.hash)
        var hasher = AuditHasher()
        var rules = KeyedLogRules(keyed: trusted.keyed, checksMACs: true)
        let cursor = try table.events(after: start.seq)
        while let row = try cursor.next() {
            let seq: Int64 = row[0]
            guard seq == start.seq + 1 else { throw forged(start.seq + 1, "the log jumps from \(start.seq) to \(seq)") }
            let checked = try hasher.check(row: row, previous: start.hash, key: key)
            if let problem = checked.problem { throw forged(seq, problem) }
            if let problem = rules.take(seq: seq, action: row[4], checked: checked) { throw forged(seq, problem.why) }
            start = (seq, checked.hash)
        }
        if let unvouched = rules.unvouched, !log.upgrading { throw forged(unvouched, "no MAC vouches for it (the newest events were rewritten or cut)") }
        guard start.seq == head.seq, ConstantTime.equals(start.hash, [UInt8](head.hash)) else {
            throw forged(head.seq, "the chain does not reach it")
        }
        guard rules.keyed || log.upgrading else { throw forged(head.seq, "no event carries a MAC") }
        log.verifiedHead.set(seq: head.seq, hash: start.hash)
    }

    /// Where the walk starts: the point this process verified, if its event is unchanged;
    /// else the newest stored checkpoint whose signature (this vault's key) and chain hash
    /// hold; else the genesis.
    /// `keyed`: whether that point is a format-2 event (or follows one).
    private static func trustedStart(log: AuditLog, table: AuditTable) throws -> (seq: Int64, hash: [UInt8], keyed: Bool) {
        // A format-2 event this vault vouches for (a failed unlock has no MAC, but is one).
        func keyed(_ row: StoreRow) -> Bool { (row[13] as Int64?) != nil }
        if let known = log.verifiedHead.get(), let row = try table.event(seq: known.seq),
           case .blob(let stored) = row.values[12], ConstantTime.equals(stored, known.hash) {
            return (known.seq, known.hash, keyed(row))
        }
        if let signer = log.signer {
            for row in try table.checkpoints().reversed() {
                let checkpoint = AuditLog.checkpoint(from: row, vaultID: log.vaultID)
                guard checkpoint.verifySignature(publicKey: signer.publicKey) else { continue }
                let hash = [UInt8](row.chainHash)
                if row.seq == 0 { return (0, hash, false) }
                if let event = try table.event(seq: row.seq), case .blob(let stored) = event.values[12], ConstantTime.equals(stored, hash) {
                    return (row.seq, hash, keyed(event))
                }
            }
        }
        return (0, AuditChain.genesis(vaultID: log.vaultID), false)
    }

    /// The decision-state root the newest MACed event commits to (its MAC checked): what
    /// every decision is checked against (see ``DecisionIntegrity``).
    static func committedRoot(log: AuditLog, db: StoreDatabase) throws -> [UInt8] {
        guard let key = log.chainKey else {
            throw PrivacyKitError(.internal, "the decision state cannot be checked without the audit-chain key")
        }
        let table = AuditTable(db: db)
        let newest = try db.auditHead ?? table.head()
        db.auditHead = .some(newest)
        // The head, unless a failed unlock (written without keys, so without a MAC) is newer.
        guard let head = newest?.mac != nil ? newest : try table.newestKeyed(), let mac = head.mac else { return DecisionIntegrity.emptyRoot }
        var hasher = AuditHasher()
        return try verifiedRoot(of: head, mac: mac, key: key, hasher: &hasher)
    }

    /// The root events that change no decision commit to: `checked`, the one the head check
    /// verified; else the head's, once its MAC verifies (the head check may have trusted it
    /// by seq and hash alone); else the newest MACed event's.
    static func unchangedRoot(
        head: AuditHead?, checked: [UInt8]?, log: AuditLog, db: StoreDatabase, hasher: inout AuditHasher
    ) throws -> [UInt8] {
        if let checked { return checked }
        guard let key = log.chainKey, let head, let mac = head.mac else {
            return try committedRoot(log: log, db: db)
        }
        return try verifiedRoot(of: head, mac: mac, key: key, hasher: &hasher)
    }

    static func forged(_ seq: Int64, _ why: String) -> PrivacyKitError {
        PrivacyKitError(.integrity, "the audit log was altered behind the vault at event \(seq): \(why); nothing was signed — run `privacyctl audit verify` and restore from a backup or a witness")
    }
}

extension AuditHasher {
    /// What checking one stored event found.
    struct RowCheck {
        let hash: [UInt8]
        let version: Int
        let problem: String?
        /// It carries a MAC, which verified (when a key was given).
        var macked = false
        /// A failed unlock, written without keys: no MAC will ever vouch for it.
        var keyless = false
    }

    /// Recomputes the hash of a row of ``AuditTable/eventColumns`` (format 1 or 2) and,
    /// given the chain key, checks a format-2 event's MAC. Only the last event of each
    /// append has one; it vouches for the events before it through the chain. A failed
    /// unlock is written without keys, so none may ever vouch for it: it proves only what
    /// anyone could say.
    mutating func check(row: StoreRow, previous: [UInt8], key: SecureBytes?) throws -> RowCheck {
        let checkpointSeq: Int64? = row.values.count > 13 ? row[13] : nil
        let version = checkpointSeq == nil ? 1 : 2
        guard case .blob(let prev) = row.values[11], ConstantTime.equals(prev, previous) else {
            return RowCheck(hash: previous, version: version, problem: "it does not link to the event before it")
        }
        let hash = try previous.withUnsafeBytes { prevBytes in
            try self.hash(
                seq: row[0], time: row[1], actor: row[2], role: row[3], action: row[4], subject: row[5], fields: row[6],
                purpose: row[7], outcome: row[8], reason: row[9], requestID: row[10], checkpointSeq: checkpointSeq, prevHash: prevBytes)
        }
        guard case .blob(let stored) = row.values[12], ConstantTime.equals(stored, hash) else {
            return RowCheck(hash: hash, version: version, problem: "its content does not match its hash")
        }
        guard version == 2, let key else { return RowCheck(hash: hash, version: version, problem: nil) }
        let keyless = (row[4] as String) == AuditAction.vaultUnlock.rawValue && (row[8] as String) == AuditOutcome.failed.rawValue
            && (row[5] as String?) == nil
        guard let mac = row[15] as Data? else { return RowCheck(hash: hash, version: version, problem: nil, keyless: keyless) }
        let stateRoot: Data? = row[14]
        let expected = try hash.withUnsafeBytes { try self.mac(hash: $0, stateRoot: stateRoot.map { [UInt8]($0) }, key: key) }
        guard ConstantTime.equals(expected, [UInt8](mac)) else {
            return RowCheck(hash: hash, version: version, problem: "its MAC does not verify")
        }
        return RowCheck(hash: hash, version: version, problem: nil, macked: true)
    }
}
