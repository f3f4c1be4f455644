public import Foundation

/// What a data-subject request closed as completed rests on: the vault's own evidence that
/// the thing asked for was done, found when the request is closed and named in its
/// `request.close` event (so the keyed audit chain vouches for the link).
///
/// - erasure: the subject's erasure receipt (its tombstone);
/// - access, export: the `record.export` event of the export package (the manifest's
///   `audit_seq`);
/// - rectification: a `record.write` event of the subject;
/// - restriction: a `record.restrict` event; objection: a `consent.object` or
///   `consent.withdraw` event;
/// - any type, for a subject the vault neither holds nor has erased: nothing is held, which
///   is itself the answer.
///
/// Events count from the request's receipt: work done before it does not answer it.
public struct RequestProof: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        case erasureReceipt = "erasure-receipt"
        case export
        case write
        case restriction
        case objection
        case limit
        case nothingHeld = "nothing-held"
    }

    public let kind: Kind
    /// The audit event that records what was done (nil for `nothing-held`).
    public let auditSeq: Int64?
    /// The erasure receipt's id (`erasure-receipt` only).
    public let receiptID: String?
    /// When it was done (as the audit log or the receipt records it).
    public let at: String?

    enum CodingKeys: String, CodingKey {
        case kind, at
        case auditSeq = "audit_seq"
        case receiptID = "receipt_id"
    }

    /// For the `request.close` event: names the evidence, never a value.
    var summary: String {
        switch kind {
        case .erasureReceipt: "erasure receipt \(receiptID ?? "?") (audit event \(auditSeq.map(String.init) ?? "?"))"
        case .nothingHeld: "nothing held about the subject"
        default: "\(kind.rawValue) audit event \(auditSeq.map(String.init) ?? "?")"
        }
    }

    /// The audit actions that answer a request of `type`, and what they prove.
    static func evidence(for type: DataSubjectRequestType) -> (kind: Kind, actions: [AuditAction]) {
        switch type {
        case .access, .export: (.export, [.recordExport])
        case .rectification: (.write, [.recordWrite])
        case .restriction: (.restriction, [.recordRestrict])
        case .objection: (.objection, [.consentObject, .consentWithdraw])
        case .erasure: (.erasureReceipt, [.recordErase])
        case .limit: (.limit, [.consentObject])
        }
    }
}

extension VaultRequests {
    /// The proof that `request` was carried out, in the closing transaction.
    ///
    /// - Throws: `.invalidInput` naming what is missing and how to produce it.
    func proof(of request: DataSubjectRequest, _ db: StoreDatabase) throws -> RequestProof {
        let subject = request.subject
        // The state the request was just loaded with, in this same transaction.
        switch request.subjectState {
        case .unknown:
            return RequestProof(kind: .nothingHeld, auditSeq: nil, receiptID: nil, at: nil)
        case .erased where request.type == .erasure:
            guard let receipt = try VaultRetention(core: core).tombstoneReceipt(db, subject: subject) else {
                throw PrivacyKitError(.integrity, "subject \(subject) is erased but its tombstone holds no receipt")
            }
            return RequestProof(kind: .erasureReceipt, auditSeq: receipt.auditSeq, receiptID: receipt.receiptID, at: receipt.erasedAt)
        case .live where request.type == .erasure:
            throw PrivacyKitError(.invalidInput, "request \(request.id): subject \(subject) is still stored; \(Self.howTo(.erasure, subject: subject, id: request.id)), or close the request as refused with a reason")
        case .live where request.type == .limit:
            // The limit is the subject's objection to the limit purpose, in the ledger now.
            guard let purpose = core.policies.purposes.limitPurpose else {
                throw PrivacyKitError(.invalidInput, "request \(request.id): purposes.yaml has no purpose with limits_sensitive: true, so no limit can be recorded")
            }
            let since = Timestamp.precise(request.receivedAt)
            guard let last = try lastConsent(db, subject: subject, purpose: purpose.id, at: nil), last.kind == .object, last.time >= since,
                  let event = try AuditTable(db: db).newestAllowedSubjectEvent(try subjectPseudonym(subject), actions: [AuditAction.consentObject.rawValue], since: since)
            else {
                throw PrivacyKitError(.invalidInput, "request \(request.id): subject \(subject) has not objected to \(purpose.id) since the request was received; \(Self.howTo(.limit, subject: subject, id: request.id)), or close the request as refused with a reason")
            }
            return RequestProof(kind: .limit, auditSeq: event.seq, receiptID: nil, at: last.time)
        case .live, .erased:
            let (kind, actions) = RequestProof.evidence(for: request.type)
            let found = try AuditTable(db: db).newestAllowedSubjectEvent(
                try subjectPseudonym(subject), actions: actions.map(\.rawValue), since: Timestamp.precise(request.receivedAt))
            guard let found else {
                throw PrivacyKitError(.invalidInput, "request \(request.id): no \(actions.map(\.rawValue).joined(separator: " or ")) of subject \(subject) since the request was received; \(Self.howTo(request.type, subject: subject, id: request.id)), or close the request as refused with a reason")
            }
            return RequestProof(kind: kind, auditSeq: found.seq, receiptID: nil, at: found.time)
        }
    }

    private static func howTo(_ type: DataSubjectRequestType, subject: String, id: String) -> String {
        switch type {
        case .access, .export: "export the subject's data first (privacyctl export \(subject) --out DIR --request \(id))"
        case .rectification: "correct the record first (privacyctl records put)"
        case .restriction: "restrict the subject first (privacyctl restrict \(subject) --request \(id))"
        case .objection: "record the objection first (privacyctl consent object)"
        case .erasure: "erase the subject first (privacyctl erase \(subject) --request \(id))"
        case .limit: "record the limit first (privacyctl consent object --subject \(subject) --purpose <the limits_sensitive purpose>)"
        }
    }
}
