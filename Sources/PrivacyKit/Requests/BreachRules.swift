public import Foundation

/// Whom a breach must be reported to under one regime, by when, and on which article: a
/// pure function of the regime, the time the breach was detected and the amendments in
/// force then (``RegimePolicy/inForce``). Where a statute sets no clock the deadline is nil
/// and ``BreachObligation/when`` says what it asks instead — never an invented time.
public struct BreachObligation: Sendable, Equatable, Encodable {
    public enum Recipient: String, Sendable, Codable {
        /// The supervisory authority (the PDPC in Taiwan, the CAC and sector regulators in
        /// China, the Attorney General in California).
        case authority
        /// The persons whose data was affected.
        case persons
    }

    public let recipient: Recipient
    /// The deadline, when the statute sets a clock.
    public let deadline: Date?
    /// What the statute asks, in words ("within 72 hours of becoming aware").
    public let when: String
    /// When it applies at all ("unless unlikely to result in a risk"); nil: always.
    public let condition: String?
    public let citation: String

    enum CodingKeys: String, CodingKey { case recipient, deadline, when, condition, citation }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(recipient, forKey: .recipient)
        try c.encode(deadline.map(Timestamp.precise), forKey: .deadline)
        try c.encode(when, forKey: .when)
        try c.encode(condition, forKey: .condition)
        try c.encode(citation, forKey: .citation)
    }
}

public enum BreachRules {
    /// The obligations a breach detected at `detectedAt` carries under `regime`.
    ///
    /// - GDPR: the authority within 72 hours of becoming aware, unless the breach is
    ///   unlikely to result in a risk (art. 33(1)); the persons without undue delay when it
    ///   is likely to result in a high risk (art. 34(1)).
    /// - CCPA: California residents in the most expedient time possible and without
    ///   unreasonable delay, and the Attorney General when more than 500 are notified
    ///   (Cal. Civ. Code § 1798.82(a), (f)); no fixed clock.
    /// - Taiwan's PDPA, art. 12 as first enacted: the persons, by appropriate means, once
    ///   the facts are established; as amended on 11 November 2025, from the day
    ///   `regimes.yaml` says it is in force: the persons without waiting for the facts to
    ///   be established, and the Personal Data Protection Commission for incidents that
    ///   meet its reporting criteria. The amendment is selected by the detection time.
    /// - PIPL (art. 57): remedial measures at once, and the authority and the persons told;
    ///   no fixed clock. The persons need not be told where the measures avoid the harm,
    ///   unless the authority asks for it (art. 57(2)).
    public static func obligations(regime: PrivacyRegime, detectedAt: Date, policy: RegimePolicy) -> [BreachObligation] {
        switch regime {
        case .gdpr:
            return [
                BreachObligation(recipient: .authority, deadline: BreachDeadline.notification(detectedAt: detectedAt),
                                 when: "within 72 hours of becoming aware", condition: "unless the breach is unlikely to result in a risk to the persons",
                                 citation: "GDPR art. 33(1)"),
                BreachObligation(recipient: .persons, deadline: nil, when: "without undue delay",
                                 condition: "when the breach is likely to result in a high risk to the persons", citation: "GDPR art. 34(1)"),
            ]
        case .ccpa:
            return [
                BreachObligation(recipient: .persons, deadline: nil, when: "in the most expedient time possible and without unreasonable delay",
                                 condition: "California residents whose unencrypted personal information was, or is reasonably believed to have been, acquired",
                                 citation: "Cal. Civ. Code § 1798.82(a)"),
                BreachObligation(recipient: .authority, deadline: nil, when: "with a sample copy of the notice, when it is sent",
                                 condition: "more than 500 California residents notified", citation: "Cal. Civ. Code § 1798.82(f)"),
            ]
        case .pdpaTW:
            guard policy.applies(.pdpaTW2025, at: detectedAt) else {
                return [BreachObligation(recipient: .persons, deadline: nil, when: "by appropriate means, once the facts are established",
                                         condition: nil, citation: "PDPA (Taiwan) art. 12 (as enacted)")]
            }
            return [
                BreachObligation(recipient: .persons, deadline: nil, when: "without waiting for the facts to be established",
                                 condition: nil, citation: "PDPA (Taiwan) art. 12 (as amended 2025-11-11)"),
                BreachObligation(recipient: .authority, deadline: nil, when: "as the Personal Data Protection Commission's rules require",
                                 condition: "incidents that meet the Commission's reporting criteria", citation: "PDPA (Taiwan) art. 12 (as amended 2025-11-11)"),
            ]
        case .pipl:
            return [
                BreachObligation(recipient: .authority, deadline: nil, when: "at once, with the remedial measures taken",
                                 condition: nil, citation: "PIPL art. 57(1)"),
                BreachObligation(recipient: .persons, deadline: nil, when: "at once, with the remedial measures taken",
                                 condition: "not needed where the measures avoid the harm, unless the authority asks for it", citation: "PIPL art. 57(1)-(2)"),
            ]
        }
    }
}
