import Foundation
import Sodium

/// Writes the audit log: events appended in the caller's transaction, and signed
/// checkpoints. Owned by a ``Vault``; holds the audit keys when the vault is unlocked, and
/// none when it records a failed unlock.
struct AuditLog: Sendable {
    let vaultID: VaultID
    /// Keys subject pseudonyms; nil only for the keyless log of a failed unlock.
    let macKey: SecureBytes?
    let signer: Ed25519.KeyPair?
    let signerFingerprint: String?
    /// Keys every event's MAC (format 2); nil for the keyless log of a failed unlock.
    let chainKey: SecureBytes?
    /// A checkpoint is signed inside the append that crosses every multiple of this.
    let checkpointInterval: Int64
    /// The newest head this process has verified (see ``AuditTail``).
    let verifiedHead = AuditTail.VerifiedHead()

    /// Set only for `privacyctl upgrade`: the head it extends is a format-1 event.
    let upgrading: Bool

    static let defaultCheckpointInterval: Int64 = 10_000

    init(vaultID: VaultID, keyring: Keyring?, checkpointInterval: Int64 = defaultCheckpointInterval, upgrading: Bool = false) {
        self.vaultID = vaultID
        self.upgrading = upgrading
        self.macKey = keyring?.current(.auditMAC)?.secret
        self.chainKey = keyring?.current(.auditChain)?.secret
        let signing = keyring?.current(.auditSigning)
        self.signer = signing?.signingPair
        self.signerFingerprint = signing?.info.fingerprint
        self.checkpointInterval = checkpointInterval
    }

    /// The append statement, for the tests that write events as a keyless store writer would.
    static let insertSQL = AuditTable.insertSQL

    /// Appends `entries` in the current transaction of `db`. Throws (and so rolls the
    /// caller's transaction back) if any event cannot be written.
    ///
    /// - Returns: the sequence numbers written.
    @discardableResult
    func append(_ entries: [AuditEntry], context: AccessContext, db: StoreDatabase, stateRoot: [UInt8]? = nil) throws -> ClosedRange<Int64>? {
        guard !entries.isEmpty else { return nil }
        var hasher = AuditHasher()
        guard db.isInsideTransaction else {
            throw PrivacyKitError(.internal, "audit events must be appended inside a transaction")
        }
        for text in [context.actor, context.role] where text.isEmpty {
            throw PrivacyKitError(.invalidInput, "an audit event needs a non-empty actor and role")
        }
        let table = AuditTable(db: db)
        let head = try db.auditHead ?? table.head()
        // Never extend a head a store writer made: its MAC must verify (format 2).
        let (trusted, headRoot) = try AuditTail.checkHead(head, log: self, db: db, hasher: &hasher)
        var seq: Int64 = head?.seq ?? 0
        var prev: Data = head?.hash ?? Data(AuditChain.genesis(vaultID: vaultID))
        let first = seq + 1
        let time = Timestamp.precise(Date())
        let statement = try table.insertStatement()
        let checkpointSeq = try table.lastCheckpointSeq() ?? -1
        // The decision state these events commit to: the audited transaction's changes so
        // far, written into the tree now; else the one given (the upgrade), else unchanged.
        let committed: [UInt8]? = if chainKey == nil { nil } else if let decisionGuard = db.decisionGuard, decisionGuard.laterAppendCertain {
            try decisionGuard.root
        } else if let decisionGuard = db.decisionGuard, decisionGuard.isInvolved || decisionGuard.hasPendingChanges {
            try decisionGuard.commit(tree: db.decisions.tree)
        } else if let stateRoot {
            stateRoot
        } else {
            try AuditTail.unchangedRoot(head: head, checked: headRoot, log: self, db: db, hasher: &hasher)
        }
        // Only the last event of an append carries the MAC and the root: the chain links the
        // others to it, so it vouches for them (and a bulk append pays for one MAC).
        let last = entries.count - 1
        for (index, entry) in entries.enumerated() {
            seq += 1
            let subject: String? = try entry.subjectID.map { id in
                guard let macKey else {
                    throw PrivacyKitError(.internal, "cannot record a subject without the audit MAC key")
                }
                return try AuditChain.pseudonym(subjectID: id, key: macKey)
            }
            for field in entry.fields where !Self.isFieldName(field) {
                throw PrivacyKitError(.invalidInput, "audit event \(entry.action.rawValue): field names are letters, digits, '_', '-' and '.' (got a name of \(field.count) characters that is not)")
            }
            let fields = entry.fields.joined(separator: ",")
            let purpose = entry.purpose ?? context.purpose
            let hash = try prev.withUnsafeBytes { prevBytes in
                try hasher.hash(
                    seq: seq, time: time, actor: context.actor, role: context.role, action: entry.action.rawValue,
                    subject: subject, fields: fields, purpose: purpose, outcome: entry.outcome.rawValue,
                    reason: entry.reason, requestID: context.requestID, checkpointSeq: checkpointSeq, prevHash: prevBytes)
            }
            let keyed = index == last ? chainKey : nil
            let mac = try keyed.map { key in
                Data(try hash.withUnsafeBytes { try hasher.mac(hash: $0, stateRoot: committed, key: key) })
            }
            let hashData = Data(hash)
            try statement.execute(arguments: [
                seq, time, context.actor, context.role, entry.action.rawValue, subject, fields, purpose,
                entry.outcome.rawValue, entry.reason, context.requestID, prev, hashData, checkpointSeq,
                keyed == nil ? nil : committed.map { Data($0) }, mac,
            ])
            prev = hashData
        }
        // The head moved: read again when next needed (the reads above may have kept the old one).
        db.auditHead = nil
        // What this process appended onto a head it trusted is trusted too.
        if trusted { verifiedHead.set(seq: seq, hash: [UInt8](prev)) }
        if signer != nil, (first - 1) / checkpointInterval != seq / checkpointInterval {
            try checkpoint(db: db)
        }
        return first...seq
    }

    static func isFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 64 && name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a)
                || c == UInt8(ascii: "_") || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
        }
    }

    /// Signs the current head of the log and stores the checkpoint (once per sequence
    /// number: asking again without new events returns the stored one).
    @discardableResult
    func checkpoint(db: StoreDatabase) throws -> AuditCheckpoint {
        guard let signer, let signerFingerprint else {
            throw PrivacyKitError(.internal, "cannot sign a checkpoint without the audit signing key")
        }
        let table = AuditTable(db: db)
        let head = try table.head()
        let seq: Int64 = head?.seq ?? 0
        if let existing = try Self.storedCheckpoint(db: db, seq: seq, vaultID: vaultID) {
            return existing
        }
        // Sign only a head that extends what this vault signed before (fail closed).
        try AuditTail.verifyBeforeSigning(head: head, log: self, db: db)
        let chainHash: [UInt8] = head.map { [UInt8]($0.hash) } ?? AuditChain.genesis(vaultID: vaultID)
        let time = Timestamp.precise(Date())
        let signature = try signer.sign(AuditChain.checkpointMessage(vaultID: vaultID, seq: seq, chainHash: chainHash, time: time))
        try table.insertCheckpoint(seq: seq, chainHash: Data(chainHash), time: time, keyFingerprint: signerFingerprint, signature: Data(signature))
        return AuditCheckpoint(vaultID: vaultID.hex, seq: seq, chainHash: Hex.encode(chainHash), time: time,
                               keyFingerprint: signerFingerprint, signature: Base64URL.encode(signature))
    }

    static func storedCheckpoint(db: StoreDatabase, seq: Int64, vaultID: VaultID) throws -> AuditCheckpoint? {
        try AuditTable(db: db).checkpoint(seq: seq).map { checkpoint(from: $0, vaultID: vaultID) }
    }

    static func checkpoint(from row: AuditCheckpointRow, vaultID: VaultID) -> AuditCheckpoint {
        AuditCheckpoint(
            vaultID: vaultID.hex, seq: row.seq, chainHash: Hex.encode([UInt8](row.chainHash)), time: row.time,
            keyFingerprint: row.keyFingerprint, signature: Base64URL.encode([UInt8](row.signature)))
    }

    /// The sequence number of the newest checkpoint, or nil when there is none.
    static func lastCheckpointSeq(db: StoreDatabase) throws -> Int64? {
        try AuditTable(db: db).lastCheckpointSeq()
    }

    static func lastSeq(db: StoreDatabase) throws -> Int64 {
        try AuditTable(db: db).lastSeq()
    }

    // MARK: - Reading

    /// An event from a row of ``AuditTable/eventColumns``.
    static func event(from row: StoreRow) -> AuditEvent {
        let fields: String = row[6]
        return AuditEvent(
            seq: row[0], time: row[1], actor: row[2], role: row[3], action: row[4], subject: row[5],
            fields: fields.isEmpty ? [] : fields.split(separator: ",").map(String.init),
            purpose: row[7], outcome: row[8], reason: row[9], requestID: row[10],
            prevHash: Hex.encode([UInt8](row[11] as Data)), hash: Hex.encode([UInt8](row[12] as Data)))
    }
}

/// Filters for ``VaultAudit/events(matching:context:)``.
public struct AuditQuery: Sendable {
    /// The real subject id; matched through its pseudonym.
    public var subjectID: String?
    public var actor: String?
    public var action: String?
    /// Inclusive bounds on the event time (ISO 8601 UTC; a date alone means its midnight).
    public var since: String?
    public var until: String?
    public var afterSeq: Int64?
    public var limit: Int?
    /// `allowed`, `denied` or `failed`.
    public var outcome: String?
    /// Newest first (with `limit: 1`, the last such event).
    public var newestFirst = false

    public init(subjectID: String? = nil, actor: String? = nil, action: String? = nil, since: String? = nil,
                until: String? = nil, afterSeq: Int64? = nil, limit: Int? = nil, outcome: String? = nil, newestFirst: Bool = false) {
        self.subjectID = subjectID
        self.actor = actor
        self.action = action
        self.since = since
        self.until = until
        self.afterSeq = afterSeq
        self.limit = limit
        self.outcome = outcome
        self.newestFirst = newestFirst
    }
}
