public import Foundation

/// A restriction of processing (GDPR art. 18): the subject's data stays stored, but is not
/// read, exported, found or put in an audience except by the roles and purposes that
/// `access.yaml`'s `restricted:` names (legal claims, the subject's own requests).
public struct Restriction: Sendable, Codable, Equatable {
    public let subject: String
    public let reason: String
    public let placedBy: String
    public let placedAt: String
    public let requestID: String?

    enum CodingKeys: String, CodingKey {
        case subject, reason
        case placedBy = "placed_by", placedAt = "placed_at", requestID = "request_id"
    }
}

extension ConsentAnswer {
    /// The same question, answered "no: restricted".
    func restricted() -> ConsentAnswer {
        ConsentAnswer(subject: subject, purpose: purpose, state: .restricted, eventID: eventID, lawfulBasis: lawfulBasis, lastKind: lastKind,
                      lastTime: lastTime, lastNotice: lastNotice, expiresAt: expiresAt, currentNotice: currentNotice)
    }
}

extension VaultRetention {
    /// Restricts a subject's processing. The reason is kept with the restriction; the audit
    /// event (`record.restrict`) names the request, not the reason. Restricting a restricted
    /// subject changes nothing.
    @discardableResult
    public func restrict(subject: String, reason: String, context: AccessContext) throws -> Restriction {
        try RecordStore.checkSubjectID(subject)
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PrivacyKitError(.invalidInput, "a restriction needs a reason (contested accuracy, pending objection, …)") }
        return try perform(context, AccessRequest(.restrict, event: .recordRestrict, subject: subject)) { tx, _ in
            let rows = tx.db.decisions
            guard try rows.subjects.exists(subject) else {
                throw PrivacyKitError(.notFound, "no subject \(subject)")
            }
            if let existing = try rows.restrictions.restriction(subject: subject) { return existing }
            try rows.restrictions.insert(subject: subject, reason: reason, placedBy: context.actor, placedAt: Timestamp.precise(Date()),
                                         requestID: context.requestID)
            tx.record(AuditEntry(.recordRestrict, subjectID: subject))
            guard let placed = try rows.restrictions.restriction(subject: subject) else {
                throw PrivacyKitError(.internal, "the restriction of \(subject) vanished inside its own transaction")
            }
            return placed
        }
    }

    /// Lifts a restriction (GDPR art. 18(3): the subject is told before it is lifted).
    /// Audited as `record.unrestrict` with `reason`.
    public func liftRestriction(subject: String, reason: String, context: AccessContext) throws {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw PrivacyKitError(.invalidInput, "lifting a restriction needs a reason") }
        try perform(context, AccessRequest(.restrict, event: .recordUnrestrict, subject: subject)) { tx, _ in
            guard try tx.db.decisions.restrictions.delete(subject: subject) == 1 else { throw PrivacyKitError(.notFound, "subject \(subject) is not restricted") }
            tx.record(AuditEntry(.recordUnrestrict, subjectID: subject, reason: reason))
        }
    }

    /// Every restriction, by subject id.
    public func restrictions(context: AccessContext) throws -> [Restriction] {
        try perform(context, AccessRequest(.restrict, event: .recordRestrict)) { tx, _ in
            try tx.db.decisions.restrictions.all()
        }
    }
}
