public import Foundation
public import Sodium

/// A legal hold (GDPR art. 17(3)): while active it blocks every erasure and retention action
/// on the subject, or on every subject of the category, it covers.
public struct LegalHold: Sendable, Codable, Equatable {
    public let id: String
    /// The subject held, or nil for a category hold.
    public let subject: String?
    /// The retention category held, or nil for a subject hold.
    public let category: String?
    public let reason: String
    public let placedBy: String
    public let placedAt: String
    /// When it ends by itself (nil: until released).
    public let until: String?
    public let releasedAt: String?
    public let releasedBy: String?
    public let releaseReason: String?

    enum CodingKeys: String, CodingKey {
        case id, subject, category, reason, until
        case placedBy = "placed_by", placedAt = "placed_at", releasedAt = "released_at", releasedBy = "released_by"
        case releaseReason = "release_reason"
    }

    /// Whether it blocks actions at `time` (a `Timestamp.precise(_:)` string).
    public func isActive(at time: String) -> Bool {
        releasedAt == nil && (until.map { $0 > time } ?? true)
    }

    /// How an error names the hold: its id, what it covers, its reason and who placed it.
    var summary: String {
        "hold \(id) on \(subject.map { "subject \($0)" } ?? "category \(category ?? "?")") (\(reason); placed by \(placedBy) at \(placedAt)\(until.map { ", until \($0)" } ?? ""))"
    }
}

/// A signed erasure receipt: which subject was erased, when, why, and what was destroyed —
/// field names and counts, never values. Signed with the vault's Ed25519 audit key.
public struct ErasureReceipt: Codable, Sendable, Equatable {
    public struct Destroyed: Codable, Sendable, Equatable {
        /// 1: the subject's wrapped key was deleted from the live store, so no ciphertext of
        /// it (here, in services' databases) can be opened through the vault any more. The
        /// receipt is signed in the erasing transaction, before the store's files are
        /// scrubbed of older copies of the row: whether that is done yet is the erasure
        /// result's ``ErasureResult/scrub``, not a claim of the receipt.
        public let subjectKeys: Int
        /// Records deleted (the subject's row).
        public let records: Int
        public let encryptedFields: Int
        public let plainFields: Int
        public let blindIndexEntries: Int
        public let consentStates: Int
    }

    public let version: String
    public let receiptID: String
    public let vaultID: String
    public let subject: String
    /// The subject's pseudonym in the audit log and consent ledger (which remain).
    public let subjectPseudonym: String
    public let erasedAt: String
    public let reason: String
    public let requestID: String?
    /// The retention rule, when a sweep erased the subject.
    public let rule: String?
    public let actor: String
    /// The names of the fields the subject had.
    public let fields: [String]
    public let destroyed: Destroyed
    /// The audit event that recorded the erasure.
    public let auditSeq: Int64
    public let publicKey: String
    public var signature: ReceiptSignature?

    public static let formatVersion = "privacykit.erasure-receipt.v1"

    /// The receipt as a JSON document (pretty-printed, sorted keys).
    public func json() throws -> Data { try receiptJSON() }

    /// Checks a receipt offline, as ``ConsentReceipt/verify(_:publicKey:subject:)`` does.
    public static func verify(_ data: Data, publicKey: Ed25519.PublicKey? = nil, subject: String? = nil) -> ReceiptVerification {
        let (parsed, parseProblem) = parseExactly(data, kind: "erasure receipt")
        guard let receipt = parsed, receipt.version == formatVersion else {
            return ReceiptVerification(valid: false, problem: parseProblem ?? "not a PrivacyKit erasure receipt (version is not \(formatVersion))",
                                       proves: [], keyFingerprint: nil)
        }
        let (problem, fingerprint) = receipt.signatureProblem(publicKey: publicKey)
        if let problem { return ReceiptVerification(valid: false, problem: problem, proves: [], keyFingerprint: fingerprint) }
        if let subject, subject != receipt.subject {
            return ReceiptVerification(valid: false, problem: "the receipt is about another subject, not \(subject)", proves: [], keyFingerprint: fingerprint)
        }
        var proves = [
            "The holder of the Ed25519 key \(fingerprint ?? "?") (the audit key of vault \(receipt.vaultID)) signed that subject \(receipt.subject) was erased at \(receipt.erasedAt) (\(receipt.reason)), recorded as audit event \(receipt.auditSeq); it has not been altered since.",
            "Deleted from the vault's live store: the subject's key, \(receipt.destroyed.records) record with \(receipt.destroyed.encryptedFields) encrypted and \(receipt.destroyed.plainFields) plain fields (\(receipt.fields.joined(separator: ", "))), \(receipt.destroyed.blindIndexEntries) blind-index entries, \(receipt.destroyed.consentStates) consent states.",
        ]
        if publicKey == nil {
            proves.append("Without --public-key, that the key is this vault's is not checked: compare \(fingerprint ?? "?") with the vault's published audit key.")
        }
        proves.append("It does not prove that the store's files were already scrubbed of older copies of those rows (the receipt is signed before the scrub; the erasure's result says whether it was done or is pending), that backups made before no longer hold them (a restore replays the erasure), or that no copy of the plaintext exists outside the vault.")
        return ReceiptVerification(valid: true, problem: nil, proves: proves, keyFingerprint: fingerprint)
    }
}

extension ErasureReceipt: SignedReceipt {}

/// What an erasure call did.
public struct ErasureResult: Sendable {
    public let receipt: ErasureReceipt
    /// True when the subject had been erased before (the receipt is that erasure's).
    public let alreadyErased: Bool
    /// Whether the store's files are scrubbed of older copies of the subject's rows (its
    /// wrapped key, its ciphertexts): `.pending` when a reader kept SQLite's write-ahead
    /// log busy. A pending scrub is recorded in the store and finished by the vault's next
    /// open, erasure or sweep.
    public let scrub: ScrubState

    /// `scrub == .done`.
    public var walScrubbed: Bool { scrub == .done }
}

/// What one subject's erasure destroyed, inside a transaction (for the caller's receipt).
struct ErasedSubject {
    let receipt: ErasureReceipt
    let category: String?
}

/// Retention: legal holds, erasure by crypto-shredding with signed receipts, restriction
/// of processing, and the sweeps that apply `retention.yaml`.
public struct VaultRetention: VaultCapability {
    let core: VaultCore

    // MARK: - Categories and holds

    /// Places a legal hold on a subject or on a retention category. `until`: when it ends by
    /// itself (nil: until released). Audited as `hold.place`.
    public func placeHold(subject: String? = nil, category: String? = nil, reason: String, until: Date? = nil, context: AccessContext) throws -> LegalHold {
        guard (subject == nil) != (category == nil) else {
            throw PrivacyKitError(.invalidInput, "a hold covers either a subject or a category (give one of them)")
        }
        if let subject { try RecordStore.checkSubjectID(subject) }
        if let category, retention.category(named: category) == nil {
            throw PrivacyKitError(.invalidInput, "'\(category)' is not a category of retention.yaml (categories: \(retention.categories.map(\.name).joined(separator: ", ")))")
        }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PrivacyKitError(.invalidInput, "a hold needs a reason (the case or obligation it serves)") }
        let now = Date()
        if let until, until <= now { throw PrivacyKitError(.invalidInput, "--until must be in the future") }
        let id = "hold-" + Hex.encode(Random.bytes(count: 6))
        let placedAt = Timestamp.precise(now)
        return try perform(context, AccessRequest(.hold, event: .holdPlace, subject: subject)) { tx, _ in
            try tx.db.decisions.holds.insert(id: id, subject: subject, category: category, reason: reason, placedBy: context.actor,
                                             placedAt: placedAt, until: until.map(Timestamp.precise))
            // The reason is the operator's text: it stays in the hold, not in the log.
            tx.record(AuditEntry(.holdPlace, subjectID: subject,
                                 reason: "\(id)\(category.map { " on category \($0)" } ?? "")\(until.map { " until \(Timestamp.precise($0))" } ?? "")"))
            return try hold(tx.db, id: id)
        }
    }

    /// Releases a hold (it stays listed, with who released it and why). Audited as
    /// `hold.release`.
    public func releaseHold(id: String, reason: String, context: AccessContext) throws -> LegalHold {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PrivacyKitError(.invalidInput, "releasing a hold needs a reason") }
        let existing = try store.read { db in try db.decisions.holds.hold(id: id) }
        guard let existing else { throw PrivacyKitError(.notFound, "no hold \(id)") }
        return try perform(context, AccessRequest(.hold, event: .holdRelease, subject: existing.subject)) { tx, _ in
            let changed = try tx.db.decisions.holds.release(id: id, at: Timestamp.precise(Date()), by: context.actor, reason: reason)
            guard changed == 1 else { throw PrivacyKitError(.invalidInput, "hold \(id) was already released") }
            tx.record(AuditEntry(.holdRelease, subjectID: existing.subject, reason: id))
            return try hold(tx.db, id: id)
        }
    }

    private func hold(_ db: StoreDatabase, id: String) throws -> LegalHold {
        guard let hold = try db.decisions.holds.hold(id: id) else {
            throw PrivacyKitError(.internal, "hold \(id) vanished inside its own transaction")
        }
        return hold
    }

    /// Every hold (released ones too when `includeReleased`), newest first.
    public func holds(includeReleased: Bool = false, context: AccessContext) throws -> [LegalHold] {
        let now = Timestamp.precise(Date())
        return try perform(context, AccessRequest(.hold, event: .holdPlace)) { tx, _ in
            try tx.db.decisions.holds.newestFirst()
                .filter { includeReleased || $0.isActive(at: now) }
        }
    }

    // MARK: - Erasure

    /// Whether `subject` was erased (has a tombstone).
    public func isErased(_ subject: String) throws -> Bool {
        try store.read { db in try db.decisions.tombstones.contains(subject) }
    }

    /// Erases a subject by crypto-shredding, in one transaction: refuses if a legal hold
    /// covers it (naming the hold); else deletes its wrapped key (with `secure_delete`, so the
    /// bytes are overwritten), its ciphertexts, blind-index entries, consent state and
    /// restriction, keeps a tombstone (id, time, reason, request id — the context's), and
    /// records `record.erase`. Every ciphertext of the subject, wherever it was kept, stops
    /// decrypting. Erasing an erased subject changes nothing and returns the first receipt.
    ///
    /// - Throws: `.held` naming the hold, `.notFound` for a subject that never existed,
    ///   `.denied` for a role without `erase`.
    public func erase(subject: String, reason: String, context: AccessContext) throws -> ErasureResult {
        try RecordStore.checkSubjectID(subject)
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PrivacyKitError(.invalidInput, "an erasure needs a reason (the request or rule it answers)") }
        enum Outcome { case erased(ErasureReceipt, already: Bool), held([LegalHold]) }
        let outcome = try perform(context, AccessRequest(.erase, event: .recordErase, subject: subject)) { tx, _ -> Outcome in
            if let receipt = try tombstoneReceipt(tx.db, subject: subject) {
                tx.record(AuditEntry(.recordErase, subjectID: subject, reason: "already erased at \(receipt.erasedAt)"))
                return .erased(receipt, already: true)
            }
            let now = Timestamp.precise(Date())
            guard let stored = try RecordStore(core: core).load(tx.db, subjectID: subject) else {
                throw PrivacyKitError(.notFound, "no subject \(subject)")
            }
            let holds = try activeHolds(tx.db, subject: subject, category: retentionCategory(plain: stored.plain), at: now)
            if !holds.isEmpty {
                // The refusal is recorded (and committed); the error follows.
                tx.record(AuditEntry(.recordErase, subjectID: subject, outcome: .denied, reason: "legal hold \(holds.map(\.id).joined(separator: ","))"))
                return .held(holds)
            }
            let erased = try eraseInTransaction(tx, subject: subject, stored: stored, reason: reason, rule: nil, context: context, now: now)
            return .erased(erased.receipt, already: false)
        }
        switch outcome {
        case .held(let holds):
            throw PrivacyKitError(.held, "subject \(subject) is under legal hold and was not erased: \(holds.map(\.summary).joined(separator: "; "))")
        case .erased(let receipt, let already):
            // An erasure repeated retries a scrub the first one left pending.
            return ErasureResult(receipt: receipt, alreadyErased: already, scrub: already ? core.finishPendingScrub() ?? .done : core.scrubDeleted())
        }
    }

    /// The receipt of an erased subject's tombstone, or nil if it was not erased.
    func tombstoneReceipt(_ db: StoreDatabase, subject: String) throws -> ErasureReceipt? {
        guard let text = try db.decisions.tombstones.receipt(subject: subject) else {
            return nil
        }
        guard let receipt = try? JSONDecoder().decode(ErasureReceipt.self, from: Data(text.utf8)) else {
            throw PrivacyKitError(.integrity, "the tombstone of subject \(subject) holds a damaged receipt")
        }
        return receipt
    }

    /// The erasure itself, in the caller's audited transaction (holds already checked):
    /// delete the row (its key and ciphertexts; blind indexes, consent state and restriction
    /// go with it by foreign key), write the tombstone and the signed receipt, and record
    /// `record.erase` — or, for a sweep, `retention.action`.
    func eraseInTransaction(
        _ tx: AuditedTransaction, subject: String, stored: RecordStore.Stored, reason: String, rule: String?,
        context: AccessContext, now: String, event: AuditAction = .recordErase
    ) throws -> ErasedSubject {
        guard let signer = audit.signer else { throw PrivacyKitError(.internal, "the keyring has no audit signing key") }
        let db = tx.db
        let rows = db.decisions
        let indexEntries = try db.blindIndex.count(subject: subject)
        let consentStates = try rows.consent.stateCount(subject: subject)
        guard try rows.subjects.delete(id: subject) == 1 else { throw PrivacyKitError(.internal, "subject \(subject) vanished while being erased") }
        try core.markScrubPending(db)
        // The event's sequence number: the events this transaction recorded so far come first.
        let seq = try AuditLog.lastSeq(db: db) + Int64(tx.entries.count) + 1
        let fields = (Array(stored.sealed.keys) + Array(stored.plain.keys)).sorted()
        var receipt = ErasureReceipt(
            version: ErasureReceipt.formatVersion, receiptID: "er-" + Hex.encode(Random.bytes(count: 8)), vaultID: id.hex, subject: subject,
            subjectPseudonym: try subjectPseudonym(subject), erasedAt: now, reason: reason, requestID: context.requestID, rule: rule,
            actor: context.actor, fields: fields,
            destroyed: .init(subjectKeys: 1, records: 1, encryptedFields: stored.sealed.count, plainFields: stored.plain.count,
                             blindIndexEntries: indexEntries, consentStates: consentStates),
            auditSeq: seq, publicKey: Base64URL.encode(signer.publicKey.bytes), signature: nil)
        try receipt.sign(with: signer)
        guard let receiptText = String(data: try receipt.receiptJSON(), encoding: .utf8) else {
            throw PrivacyKitError(.internal, "an erasure receipt did not encode")
        }
        try rows.tombstones.insert(subject: subject, erasedAt: now, reason: reason, requestID: context.requestID, rule: rule, actor: context.actor,
                                   auditSeq: seq, receipt: receiptText)
        let detail = rule.map { "rule \($0): " } ?? ""
        tx.record(AuditEntry(event, subjectID: subject, fields: fields, reason: "\(detail)erased (\(receipt.receiptID))"))
        return ErasedSubject(receipt: receipt, category: retentionCategory(plain: stored.plain))
    }

    /// The tombstones, oldest first (for replay after a restore, and reports).
    public func tombstones(context: AccessContext) throws -> [ErasureReceipt] {
        try perform(context, AccessRequest(.erase, event: .recordErase)) { tx, _ in
            try tx.db.decisions.tombstones.receipts().map { text in
                guard let receipt = try? JSONDecoder().decode(ErasureReceipt.self, from: Data(text.utf8)) else {
                    throw PrivacyKitError(.integrity, "a tombstone holds a damaged receipt")
                }
                return receipt
            }
        }
    }
}
