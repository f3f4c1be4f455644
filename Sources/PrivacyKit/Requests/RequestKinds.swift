public import Foundation
import Sodium

// MARK: - Kinds

/// A closed set of names read from operators and scripts: parsing one names the bad value
/// and lists the good ones.
public protocol TrackerChoice: RawRepresentable<String>, CaseIterable, Sendable {
    /// What the value is, for messages ("request type").
    static var choiceName: String { get }
}

extension TrackerChoice {
    /// The case named `text`.
    ///
    /// - Throws: `.invalidInput` naming `text` and the accepted names.
    public init(parsing text: String) throws {
        guard let value = Self(rawValue: text) else {
            throw PrivacyKitError(.invalidInput, "unknown \(Self.choiceName) '\(text)' (one of \(Self.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = value
    }
}

/// What the data subject asks for (GDPR articles 15 to 21; CCPA know, delete, correct,
/// opt-out and limit).
public enum DataSubjectRequestType: String, Sendable, Codable, TrackerChoice {
    /// Access (GDPR art. 15; CCPA right to know).
    case access
    /// Export in a portable format (GDPR art. 20 portability).
    case export
    /// Rectification (GDPR art. 16; CCPA right to correct).
    case rectification
    /// Restriction of processing (GDPR art. 18; CCPA limit use of sensitive data).
    case restriction
    /// Objection (GDPR art. 21; CCPA opt-out of sale or sharing).
    case objection
    /// Erasure (GDPR art. 17; CCPA right to delete).
    case erasure
    /// Limit the use of sensitive personal information (CPRA § 1798.121; CCPA only):
    /// answered by the subject's objection to the policy's `limits_sensitive` purpose.
    case limit

    public static let choiceName = "request type"
}

/// The law a request is answered under: it sets the deadline (``RequestDeadline``) and how
/// sure the requester's identity must be (``IdentityDegree/required(regime:type:)``).
public enum PrivacyRegime: String, Sendable, Codable, TrackerChoice {
    /// The EU General Data Protection Regulation.
    case gdpr
    /// The California Consumer Privacy Act as amended by the CPRA, with its regulations.
    case ccpa
    /// Taiwan's Personal Data Protection Act (個人資料保護法).
    case pdpaTW = "pdpa-tw"
    /// China's Personal Information Protection Law (个人信息保护法).
    case pipl

    public static let choiceName = "regime"
}

/// How sure the controller is that the requester is the person the request is about.
public enum IdentityDegree: String, Sendable, Codable, TrackerChoice, Comparable {
    /// No verification: the law forbids asking for it (opt-outs, refusals of marketing).
    case none
    /// A reasonable degree of certainty (CCPA regulations § 7062(b), (d); GDPR art. 12(6)).
    case reasonable
    /// A reasonably high degree (CCPA regulations § 7062(c): specific pieces of information).
    case high

    public static let choiceName = "identity degree"

    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
    private var rank: Int { self == .none ? 0 : self == .reasonable ? 1 : 2 }

    /// The least degree a request must have been verified to before it is completed, and
    /// the rule that says so.
    ///
    /// - Opt-outs of sale or sharing and limits on sensitive data (CCPA regulations
    ///   §§ 7026(d), 7027(e)) and objections to marketing (GDPR art. 21(2)–(3); Taiwan PDPA
    ///   art. 20(2); PIPL art. 24(2)) need none: asking for proof would burden the right.
    /// - CCPA: a reasonably high degree to hand over specific pieces of information (access,
    ///   export: § 7062(c)); a reasonable degree otherwise (§§ 7060–7062).
    /// - GDPR (art. 12(2), 12(6)), Taiwan's PDPA (art. 10, 11: the person's own data) and
    ///   PIPL (art. 50): a reasonable degree.
    public static func required(regime: PrivacyRegime, type: DataSubjectRequestType) -> (degree: IdentityDegree, citation: String) {
        switch (regime, type) {
        case (.ccpa, .objection): return (.none, "CCPA regulations § 7026(d)")
        case (.ccpa, .restriction), (.ccpa, .limit): return (.none, "CCPA regulations § 7027(e)")
        case (.gdpr, .objection): return (.none, "GDPR art. 21(2)-(3)")
        case (.pdpaTW, .objection): return (.none, "PDPA (Taiwan) art. 20(2)")
        case (.pipl, .objection): return (.none, "PIPL art. 24(2)")
        case (.ccpa, .access), (.ccpa, .export): return (.high, "CCPA regulations § 7062(c)")
        case (.ccpa, _): return (.reasonable, "CCPA regulations §§ 7060-7062")
        case (.gdpr, _): return (.reasonable, "GDPR art. 12(2), 12(6)")
        case (.pdpaTW, _): return (.reasonable, "PDPA (Taiwan) art. 10, 11")
        case (.pipl, _): return (.reasonable, "PIPL art. 50")
        }
    }
}

/// How the requester's identity was verified.
public enum IdentityMethod: String, Sendable, Codable, TrackerChoice {
    /// Nothing was asked for (the request needs no verification).
    case notRequired = "not-required"
    /// Signed in to an existing password-protected account (CCPA regulations § 7061).
    case accountLogin = "account-login"
    /// Answered from the e-mail address or phone number on file.
    case contactConfirmation = "contact-confirmation"
    /// Matched data points the controller holds (two: reasonable; three and a signed
    /// declaration: reasonably high, § 7062(b)–(c)).
    case matchingDataPoints = "matching-data-points"
    /// An identity document was checked (and not kept beyond the check).
    case identityDocument = "identity-document"
    /// In person, at a counter.
    case inPerson = "in-person"
    /// An authorised agent with the person's signed permission (§ 7063).
    case authorizedAgent = "authorized-agent"

    public static let choiceName = "identity method"
}

public enum DataSubjectRequestStatus: String, Sendable, Codable, CaseIterable {
    case open
    /// Identity verification was asked for and has not arrived.
    case awaitingIdentity = "awaiting-identity"
    /// The deadline was extended (once).
    case extended
    case closed
}

public enum DataSubjectRequestOutcome: String, Sendable, Codable, TrackerChoice {
    case completed, refused, withdrawn

    public static let choiceName = "outcome"
}

/// Whether the vault knows a request's subject now.
public enum RequestSubjectState: String, Sendable, Codable, CaseIterable {
    /// A stored subject.
    case live
    /// Erased: only its tombstone is left.
    case erased
    /// Neither stored nor erased (opened with `unknownSubject`).
    case unknown
}
