import Foundation
import Sodium

// MARK: - Shared checks of the trackers (requests and breaches)

enum Tracking {
    /// Times later than the clock by more than this are refused as mistakes.
    static let clockSkew: TimeInterval = 300

    /// A new id: `prefix-` and 16 random hex digits.
    static func newID(_ prefix: String) -> String { prefix + "-" + Hex.encode(Random.bytes(count: 8)) }

    static func date(_ stamp: String) throws -> Date {
        guard let date = ISOTime.parsePrecise(stamp) else {
            throw PrivacyKitError(.integrity, "a stored time is not ISO 8601 with milliseconds")
        }
        return date
    }

    static func date(_ stamp: String?) throws -> Date? { try stamp.map { try date($0) } }

    /// `date` as stored (milliseconds, UTC), refused when in the future: a time the operator
    /// gives is when something happened.
    static func past(_ date: Date, _ what: String) throws -> String {
        guard date.timeIntervalSinceNow <= clockSkew else {
            throw PrivacyKitError(.invalidInput, "\(what) \(Timestamp.precise(date)) is in the future")
        }
        return Timestamp.precise(date)
    }

    /// `stamp` is not before `earlier` (both as stored).
    static func notBefore(_ stamp: String, _ what: String, _ earlier: Date?, _ earlierWhat: String) throws {
        if let earlier, try date(stamp) < earlier {
            throw PrivacyKitError(.invalidInput, "\(what) \(stamp) is before \(earlierWhat) \(Timestamp.precise(earlier))")
        }
    }

    /// Operator text (a reason, a summary), trimmed: 1 to `limit` characters, no control
    /// characters (line breaks only where `lines`). Messages never quote it.
    static func text(_ text: String, _ what: String, limit: Int = 500, lines: Bool = false) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw PrivacyKitError(.invalidInput, "\(what) is empty") }
        guard trimmed.count <= limit else { throw PrivacyKitError(.invalidInput, "\(what) is longer than \(limit) characters") }
        let allowed: Set<Unicode.Scalar> = lines ? ["\n", "\t"] : []
        if trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !allowed.contains($0) }) {
            throw PrivacyKitError(.invalidInput, "\(what) contains control characters\(lines ? "" : " (it is one line)")")
        }
        return trimmed
    }

    /// A reference in another system: 1 to 64 of `A-Z a-z 0-9 . _ : # / -`.
    static func reference(_ text: String) throws -> String {
        guard text.range(of: #"^[A-Za-z0-9._:#/-]{1,64}$"#, options: .regularExpression) != nil else {
            throw PrivacyKitError(.invalidInput, "a reference is 1 to 64 of A-Z a-z 0-9 . _ : # / - (a ticket number, not personal data)")
        }
        return text
    }

    static func subjectState(_ db: StoreDatabase, _ subject: String) throws -> RequestSubjectState {
        // Requests outlive their subjects, so a request's subject is looked up on every
        // read: the statements are cached.
        let rows = db.decisions
        if try rows.subjects.exists(subject, cached: true) { return .live }
        if try rows.tombstones.contains(subject, cached: true) { return .erased }
        return .unknown
    }
}
