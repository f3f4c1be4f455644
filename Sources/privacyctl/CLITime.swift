import Foundation
import PrivacyKit

/// Times on the command line: `now`, or ISO 8601 as ``ISOTime/parse(_:)`` reads it (a time
/// with its zone, or a date meaning midnight UTC). One reading for every option, so
/// `--now`, `--at` and `--until` accept the same words in every command. The message
/// repeats what was given: a time is never personal data, and seeing it shows the typo.
enum CLITime {
    static func parse(_ text: String, option: String) throws -> Date {
        if text == "now" { return Date() }
        guard let date = ISOTime.parse(text) else {
            throw CLIError(.invalidInput, "\(option) takes an ISO 8601 time (2026-01-31T09:00:00Z), a date (2026-01-31, midnight UTC) or now; got '\(text)'")
        }
        return date
    }

    static func parse(_ text: String?, option: String) throws -> Date? { try text.map { try parse($0, option: option) } }
}
