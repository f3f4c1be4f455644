public import Foundation
import Sodium

// MARK: - A request

/// A data-subject request, with its deadline and status evaluated at ``asOf``.
public struct DataSubjectRequest: Sendable, Equatable, Encodable {
    public let id: String
    public let type: DataSubjectRequestType
    public let regime: PrivacyRegime
    public let subject: String
    public let subjectState: RequestSubjectState
    public let receivedAt: Date
    /// A reference in another system (a ticket number); never personal data.
    public let reference: String?
    public let hasNote: Bool
    /// The note, decrypted: only from ``VaultRequests/get(_:now:context:)`` while the subject's
    /// key exists.
    public let note: String?
    public let openedAt: Date
    public let openedBy: String
    public let identityRequestedAt: Date?
    public let identityVerifiedAt: Date?
    public let extendedAt: Date?
    public let extensionReason: String?
    public let closedAt: Date?
    public let closedBy: String?
    public let outcome: DataSubjectRequestOutcome?
    public let closeReason: String?
    /// How the requester's identity was verified, and to what degree (recorded with
    /// ``identityVerifiedAt``; nil for requests verified before they were recorded).
    public let identityMethod: IdentityMethod?
    public let identityDegree: IdentityDegree?
    /// What a request closed as completed rested on.
    public let proof: RequestProof?
    /// The regime's rule for this type: the deadline's period, extension and citation.
    public let rule: RequestDeadline.Rule
    /// The time the computed values below are for.
    public let asOf: Date

    /// A closed request is evaluated at its closing: the clock stopped then.
    var clock: Date { closedAt ?? asOf }

    public var deadline: Date {
        RequestDeadline.deadline(rule, receivedAt: receivedAt, extended: extendedAt != nil,
                                 identityRequestedAt: identityRequestedAt, identityVerifiedAt: identityVerifiedAt, asOf: clock)
    }

    /// The least identity degree the request must be verified to before it is completed.
    public var identityRequired: IdentityDegree { IdentityDegree.required(regime: regime, type: type).degree }

    /// Whether the recorded verification is enough to complete the request.
    public var identitySufficient: Bool {
        identityRequired == .none || (identityDegree.map { $0 >= identityRequired } ?? false)
    }

    public var daysWaitingForIdentity: Double {
        RequestDeadline.identityWait(identityRequestedAt: identityRequestedAt, identityVerifiedAt: identityVerifiedAt, asOf: clock) / 86_400
    }

    public var status: DataSubjectRequestStatus {
        if closedAt != nil { return .closed }
        if identityRequestedAt != nil && identityVerifiedAt == nil { return .awaitingIdentity }
        return extendedAt != nil ? .extended : .open
    }

    /// Open and past its deadline at ``asOf`` (an answer at the deadline instant is on time).
    public var overdue: Bool { closedAt == nil && asOf > deadline }

    /// For a closed request: whether it was closed after its deadline.
    public var answeredLate: Bool? { closedAt.map { $0 > deadline } }

    enum CodingKeys: String, CodingKey {
        case id, type, regime, subject, reference, note, outcome, status, deadline, overdue
        case subjectState = "subject_state", receivedAt = "received_at", hasNote = "has_note", openedAt = "opened_at", openedBy = "opened_by"
        case identityRequestedAt = "identity_requested_at", identityVerifiedAt = "identity_verified_at"
        case daysWaitingForIdentity = "days_waiting_for_identity", extendedAt = "extended_at", extensionReason = "extension_reason"
        case closedAt = "closed_at", closedBy = "closed_by", closeReason = "close_reason", answeredLate = "answered_late", asOf = "as_of"
        case identityMethod = "identity_method", identityDegree = "identity_degree", identityRequired = "identity_required"
        case proof, deadlineBasis = "deadline_basis", deadlineStatutory = "deadline_statutory"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let texts: [(CodingKeys, String?)] = [
            (.id, id), (.type, type.rawValue), (.regime, regime.rawValue), (.subject, subject), (.subjectState, subjectState.rawValue),
            (.reference, reference), (.note, note), (.openedBy, openedBy), (.extensionReason, extensionReason), (.closedBy, closedBy),
            (.outcome, outcome?.rawValue), (.closeReason, closeReason), (.status, status.rawValue),
            (.identityMethod, identityMethod?.rawValue), (.identityDegree, identityDegree?.rawValue),
            (.identityRequired, identityRequired.rawValue), (.deadlineBasis, rule.citation),
        ]
        let times: [(CodingKeys, Date?)] = [
            (.receivedAt, receivedAt), (.openedAt, openedAt), (.identityRequestedAt, identityRequestedAt), (.identityVerifiedAt, identityVerifiedAt),
            (.extendedAt, extendedAt), (.closedAt, closedAt), (.deadline, deadline), (.asOf, asOf),
        ]
        for (key, text) in texts { try c.encodeIfPresent(text, forKey: key) }
        for (key, time) in times { try c.encodeIfPresent(time.map(Timestamp.precise), forKey: key) }
        try c.encode(hasNote, forKey: .hasNote)
        try c.encode(daysWaitingForIdentity, forKey: .daysWaitingForIdentity)
        try c.encode(overdue, forKey: .overdue)
        try c.encodeIfPresent(answeredLate, forKey: .answeredLate)
        try c.encode(rule.statutory, forKey: .deadlineStatutory)
        try c.encodeIfPresent(proof, forKey: .proof)
    }

    /// From a stored row (``RequestsTable``): kinds and times checked.
    init(_ row: SubjectRequestRow, subjectState: RequestSubjectState, note: String?, asOf: Date) throws {
        guard let type = DataSubjectRequestType(rawValue: row.type), let regime = PrivacyRegime(rawValue: row.regime) else {
            throw PrivacyKitError(.integrity, "data-subject request \(row.id) has an unknown type or regime")
        }
        id = row.id
        self.type = type
        self.regime = regime
        subject = row.subjectID
        self.subjectState = subjectState
        receivedAt = try Tracking.date(row.receivedAt)
        reference = row.reference
        hasNote = row.note != nil
        self.note = note
        openedAt = try Tracking.date(row.openedAt)
        openedBy = row.openedBy
        identityRequestedAt = try Tracking.date(row.identityRequestedAt)
        identityVerifiedAt = try Tracking.date(row.identityVerifiedAt)
        extendedAt = try Tracking.date(row.extendedAt)
        extensionReason = row.extensionReason
        closedAt = try Tracking.date(row.closedAt)
        closedBy = row.closedBy
        outcome = row.outcome.flatMap(DataSubjectRequestOutcome.init(rawValue:))
        closeReason = row.closeReason
        identityMethod = row.identityMethod.flatMap(IdentityMethod.init(rawValue:))
        identityDegree = row.identityDegree.flatMap(IdentityDegree.init(rawValue:))
        proof = try row.proof.map { text in
            guard let proof = try? JSONDecoder().decode(RequestProof.self, from: Data(text.utf8)) else {
                throw PrivacyKitError(.integrity, "data-subject request \(row.id) has a damaged proof of completion")
            }
            return proof
        }
        let own = row.ownDays.map { RequestDeadline.OwnDeadline(days: $0, extensionDays: row.ownExtensionDays) }
        guard let rule = try? RequestDeadline.rule(regime: regime, type: type, own: own) else {
            throw PrivacyKitError(.integrity, "data-subject request \(row.id) is under \(regime.rawValue) but holds no deadline of the controller's own")
        }
        self.rule = rule
        self.asOf = asOf
    }
}
