import Foundation

// The date rule (see ``Normalizer``): one path, which takes byte-wise shortcuts when the
// value is ASCII.

extension Normalizer {
    /// `value` is already without invisible characters; `ascii` says it is pure ASCII (then
    /// NFKC would leave it as it is).
    static func date(_ value: String, ascii: Bool) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.date, reason))
        }
        let b: [UInt8]
        if ascii {
            b = withUTF8(value) { Array(UnsafeBufferPointer(rebasing: $0[asciiTrimmedRange($0)])) }
        } else {
            b = Array(trimmed(nfkc(value)).utf8)
        }
        if b.isEmpty { return fail("is empty") }
        guard b.count >= 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let year = number(b[0..<4]), let month = number(b[5..<7]), let day = number(b[8..<10])
        else { return fail("is not an ISO 8601 date (YYYY-MM-DD)") }
        if b.count > 10 {
            guard [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(b[10]),
                  isTimeOfDay(b[11...])
            else { return fail("is not an ISO 8601 date (YYYY-MM-DD) or a timestamp with a well-formed time") }
        }
        guard (1800...2200).contains(year) else { return fail("has a year outside 1800–2200") }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else {
            return fail("is not a real calendar date")
        }
        return .success(NormalizedValue(String(decoding: b[0..<10], as: UTF8.self)))
    }

    /// `HH:MM[:SS[(.|,)fraction]][Z | ±HH[[:]MM]]`.
    static func isTimeOfDay(_ b: ArraySlice<UInt8>) -> Bool {
        var i = b.startIndex
        func two(max: Int) -> Bool {
            guard i + 2 <= b.endIndex, let n = number(b[i..<i + 2]), n <= max else { return false }
            i += 2
            return true
        }
        func take(_ c: Character) -> Bool {
            guard i < b.endIndex, b[i] == c.asciiValue! else { return false }
            i += 1
            return true
        }
        guard two(max: 23), take(":"), two(max: 59) else { return false }
        if take(":") {
            guard two(max: 60) else { return false } // 60: leap second
            if take(".") || take(",") {
                let start = i
                while i < b.endIndex, isASCIIDigit(b[i]) { i += 1 }
                if i == start { return false }
            }
        }
        if i == b.endIndex { return true }
        if take("Z") || take("z") { return i == b.endIndex }
        guard take("+") || take("-"), two(max: 23) else { return false }
        if i == b.endIndex { return true }
        _ = take(":")
        return two(max: 59) && i == b.endIndex
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The decimal value of a run of ASCII digits; `nil` if any byte is not one.
    static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var n = 0
        for d in digits {
            guard isASCIIDigit(d) else { return nil }
            n = n * 10 + Int(d - UInt8(ascii: "0"))
        }
        return n
    }
}
