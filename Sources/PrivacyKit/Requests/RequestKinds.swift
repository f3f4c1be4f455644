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

    public static let choiceName = "request type"
}

/// The law a request is answered under: it sets the deadline.
public enum PrivacyRegime: String, Sendable, Codable, TrackerChoice {
    case gdpr, ccpa

    public static let choiceName = "regime"
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

// MARK: - Deadlines

/// The legal deadline of a data-subject request: pure functions of the times involved
/// (no clock), in the Gregorian calendar in UTC.
///
/// - GDPR (art. 12(3)): one calendar month from receipt (31 January → 28 or 29 February),
///   three months once extended. The clock is paused while identity verification is awaited
///   (EDPB Guidelines 01/2022), if it was asked for before the deadline: the months are
///   counted from receipt plus the time waited.
/// - CCPA (Cal. Civ. Code 1798.130): 45 days from receipt, 90 once extended, whatever the
///   identity verification takes. Opt-out of sale or sharing (`objection`) and limiting the
///   use of sensitive data (`restriction`) must be honoured within 15 business days
///   (CCPA regulations 7026(f), 7027(g)) and cannot be extended; business days are Monday to
///   Friday in UTC (public holidays are not known here, so that deadline can only come early).
public enum RequestDeadline {
    /// A length of time in calendar terms.
    public enum Period: Sendable, Equatable, CustomStringConvertible {
        case months(Int), days(Int), businessDays(Int)

        public var description: String {
            switch self {
            case .months(let n): "\(n) month\(n == 1 ? "" : "s")"
            case .days(let n): "\(n) days"
            case .businessDays(let n): "\(n) business days"
            }
        }
    }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }()

    /// Whether a request may be extended at all.
    public static func canExtend(regime: PrivacyRegime, type: DataSubjectRequestType) -> Bool {
        !(regime == .ccpa && (type == .objection || type == .restriction))
    }

    /// The time allowed from (paused) receipt to the answer.
    public static func period(regime: PrivacyRegime, type: DataSubjectRequestType, extended: Bool) -> Period {
        switch regime {
        case .gdpr: return .months(extended ? 3 : 1)
        case .ccpa: return canExtend(regime: regime, type: type) ? .days(extended ? 90 : 45) : .businessDays(15)
        }
    }

    /// `date` moved forward by `period`.
    public static func add(_ period: Period, to date: Date) -> Date {
        switch period {
        case .months(let n): return calendar.date(byAdding: .month, value: n, to: date) ?? date.addingTimeInterval(Double(n) * 31 * 86_400)
        case .days(let n): return calendar.date(byAdding: .day, value: n, to: date) ?? date.addingTimeInterval(Double(n) * 86_400)
        case .businessDays(let n):
            var day = date
            var counted = 0
            while counted < n {
                day = calendar.date(byAdding: .day, value: 1, to: day) ?? day.addingTimeInterval(86_400)
                if !calendar.isDateInWeekend(day) { counted += 1 }
            }
            return day
        }
    }

    /// How long the deadline is paused for identity verification as of `asOf`: under GDPR,
    /// from when it was asked for until it arrived (or until `asOf` while it has not), if
    /// it was asked for before the deadline; under CCPA, never.
    public static func pause(
        regime: PrivacyRegime, type: DataSubjectRequestType, receivedAt: Date, extended: Bool,
        identityRequestedAt: Date?, identityVerifiedAt: Date?, asOf: Date
    ) -> TimeInterval {
        guard regime == .gdpr, let requested = identityRequestedAt else { return 0 }
        guard requested <= add(period(regime: regime, type: type, extended: extended), to: receivedAt) else { return 0 }
        return max(0, (identityVerifiedAt ?? asOf).timeIntervalSince(requested))
    }

    /// The time identity verification has been awaited as of `asOf` (reported under both
    /// regimes, whether or not it pauses the deadline).
    public static func identityWait(identityRequestedAt: Date?, identityVerifiedAt: Date?, asOf: Date) -> TimeInterval {
        guard let requested = identityRequestedAt else { return 0 }
        return max(0, (identityVerifiedAt ?? asOf).timeIntervalSince(requested))
    }

    /// The deadline as of `asOf` (which matters only while a GDPR request awaits identity:
    /// the deadline moves with the pause).
    public static func deadline(
        regime: PrivacyRegime, type: DataSubjectRequestType, receivedAt: Date, extended: Bool,
        identityRequestedAt: Date? = nil, identityVerifiedAt: Date? = nil, asOf: Date
    ) -> Date {
        let paused = pause(regime: regime, type: type, receivedAt: receivedAt, extended: extended,
                           identityRequestedAt: identityRequestedAt, identityVerifiedAt: identityVerifiedAt, asOf: asOf)
        return add(period(regime: regime, type: type, extended: extended), to: receivedAt.addingTimeInterval(paused))
    }
}
