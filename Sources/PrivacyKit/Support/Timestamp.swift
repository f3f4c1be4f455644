import Foundation

/// UTC timestamps as PrivacyKit writes them: ISO 8601 with seconds, `Z`.
enum Timestamp {
    static func now() -> String { string(Date()) }

    static func string(_ date: Date) -> String { ISOTime.string(date) }

    /// UTC with milliseconds, for audit events, checkpoints and every decision row.
    static func precise(_ date: Date) -> String { ISOTime.preciseString(date) }
}
