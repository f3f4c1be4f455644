public import Foundation

/// ISO 8601 times, the one way PrivacyKit writes and reads them.
///
/// Written in UTC with `Z`: to the second for most records, to the millisecond where events
/// within one second must keep their order (audit events, checkpoints, tracked requests).
/// Read from people (the CLI's options) as a time with a zone, fractional seconds allowed,
/// or a date alone (midnight UTC); read back from the store only in the exact form written.
public enum ISOTime {
    // Format styles are values, built once: formatting runs once per stored row.
    private static let utc = TimeZone(identifier: "UTC") ?? .current
    private static let seconds = Date.ISO8601FormatStyle(timeZone: utc)
    private static let milliseconds = Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: utc)

    /// `2026-01-31T09:00:00Z`.
    public static func string(_ date: Date) -> String { date.formatted(seconds) }

    /// `2026-01-31T09:00:00.123Z`.
    public static func preciseString(_ date: Date) -> String { date.formatted(milliseconds) }

    /// A time as ``preciseString(_:)`` writes it, and nothing looser: a stored time in any
    /// other form is a sign of tampering, not a format to be lenient with.
    public static func parsePrecise(_ text: String) -> Date? {
        try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// A time given by a person: `2026-01-31T09:00:00Z` (or another zone, or with
    /// fractional seconds), or a date, `2026-01-31`, meaning midnight UTC. Nil for anything
    /// else, including days and hours that do not exist (see ``hasValidCalendarFields(_:)``).
    public static func parse(_ text: String) -> Date? {
        guard hasValidCalendarFields(text) else { return nil }
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        if let date = try? Date.ISO8601FormatStyle().parse(text) { return date }
        if text.count == 10, let date = try? Date.ISO8601FormatStyle().parse(text + "T00:00:00Z") { return date }
        return nil
    }

    /// False when `text` starts like an ISO 8601 date or time but names no such day or time
    /// (2026-02-30, 2026-13-01, T25:00). Foundation's ISO 8601 parsers roll those over
    /// into the next month or day, so `sweep --now 2026-02-30` would act on 2 March.
    public static func hasValidCalendarFields(_ text: String) -> Bool {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var n = 0
            for c in b[from..<(from + count)] {
                guard (0x30...0x39).contains(c) else { return nil }
                n = n * 10 + Int(c - 0x30)
            }
            return n
        }
        guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let year = number(0, 4), let month = number(5, 2), let day = number(8, 2) else { return true }
        guard (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]
        guard day <= days else { return false }
        guard b.count >= 16, b[10] == UInt8(ascii: "T"), b[13] == UInt8(ascii: ":"),
              let hour = number(11, 2), let minute = number(14, 2) else { return true }
        guard hour <= 23, minute <= 59 else { return false }
        if b.count >= 19, b[16] == UInt8(ascii: ":"), let second = number(17, 2), second > 59 { return false }
        return true
    }
}
