import Foundation

/// Foundation's white-space trimming with a fast path for the common case.
///
/// `trimmingCharacters(in:)` bridges through `NSString` on Linux and cost more per
/// imported row than the row's SQL. A value whose first and last bytes are printable
/// ASCII has nothing to trim under either set, so it is returned as it is; any other
/// value goes to Foundation, which keeps the exact semantics (Unicode spaces included).
enum Trim {
    /// `s.trimmingCharacters(in: .whitespaces)`.
    static func whitespace(_ s: String) -> String {
        hasNothingToTrim(s) ? s : s.trimmingCharacters(in: .whitespaces)
    }

    /// `s.trimmingCharacters(in: .whitespacesAndNewlines)`.
    static func whitespaceAndNewlines(_ s: String) -> String {
        hasNothingToTrim(s) ? s : s.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func hasNothingToTrim(_ s: String) -> Bool {
        // 0x21...0x7E: no ASCII white space, no newline, and not the start of a
        // multi-byte scalar (every Unicode space but these is outside ASCII).
        guard let first = s.utf8.first, let last = s.utf8.last else { return false }
        return (0x21...0x7E).contains(first) && (0x21...0x7E).contains(last)
    }
}
