import Foundation

// What every kind's two paths share: the character classes of the general paths, and the
// byte-wise helpers of the ASCII fast paths.
//
// An ASCII fast path mirrors its kind's general path for pure-ASCII input (already
// without the invisibles, which are not ASCII), with the same checks in the same order. In
// ASCII, NFKC and NFC change nothing, lower-casing and case folding map A–Z to a–z, the
// `White_Space` characters are tab, LF, VT, FF, CR and space, the control characters (Cc)
// are 0x00–0x1F and 0x7F, the letters are A–Z and a–z, the decimal digits 0–9, the only
// dash punctuation is "-", there are no combining marks, and only CR LF is a grapheme
// cluster of more than one scalar.

extension Normalizer {
    /// True when every byte of `text` is ASCII; a word at a time.
    static func isASCII(_ text: String) -> Bool {
        withUTF8(text) { bytes in
            guard let base = bytes.baseAddress else { return true }
            let raw = UnsafeRawPointer(base)
            var bits: UInt64 = 0
            var i = 0
            while i + 8 <= bytes.count {
                bits |= raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < bytes.count {
                bits |= UInt64(bytes[i])
                i += 1
            }
            return bits & 0x8080_8080_8080_8080 == 0
        }
    }

    /// Calls `body` with `text`'s UTF-8 bytes, without copying a native string.
    @inline(__always)
    static func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        return copy.withUTF8(body)
    }

    /// `bytes` without ASCII white space at either end.
    static func asciiTrimmedRange(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        var start = 0
        var end = bytes.count
        while start < end, isASCIIWhitespace(bytes[start]) { start += 1 }
        while end > start, isASCIIWhitespace(bytes[end - 1]) { end -= 1 }
        return start..<end
    }

    enum ASCIICase { case keep, lower, upper }

    /// `bytes[range]` (ASCII) as a string, letters mapped to `letterCase`.
    static func asciiString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ letterCase: ASCIICase) -> String {
        if range.isEmpty { return "" }
        return String(unsafeUninitializedCapacity: range.count) { out in
            var n = 0
            for i in range {
                let c = bytes[i]
                switch letterCase {
                case .keep: out[n] = c
                case .lower: out[n] = isASCIIUpper(c) ? c + 0x20 : c
                case .upper: out[n] = isASCIILower(c) ? c - 0x20 : c
                }
                n += 1
            }
            return n
        }
    }

    /// Unicode `White_Space` among ASCII bytes: tab, LF, VT, FF, CR, space.
    static func isASCIIWhitespace(_ c: UInt8) -> Bool { c == 0x20 || (0x09...0x0D).contains(c) }
    /// General category Cc among ASCII bytes.
    static func isASCIIControl(_ c: UInt8) -> Bool { c < 0x20 || c == 0x7F }
    static func isASCIIUpper(_ c: UInt8) -> Bool { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) }
    static func isASCIILower(_ c: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) }
    static func isASCIILetter(_ c: UInt8) -> Bool { isASCIIUpper(c) || isASCIILower(c) }

    /// ``collapsingWhitespace(_:)`` for ASCII `text`; `text` itself when nothing changes.
    static func asciiCollapsingWhitespace(_ text: String) -> String {
        withUTF8(text) { b in
            var changes = false
            var afterSpace = true // at the start, a space would be dropped
            for c in b {
                if isASCIIWhitespace(c) {
                    if c != 0x20 || afterSpace { changes = true; break }
                    afterSpace = true
                } else {
                    afterSpace = false
                }
            }
            if !changes, let last = b.last, isASCIIWhitespace(last) { changes = true }
            if !changes { return text }
            return String(unsafeUninitializedCapacity: b.count) { out in
                var n = 0
                var pendingSpace = false
                for c in b {
                    if isASCIIWhitespace(c) {
                        pendingSpace = n > 0
                    } else {
                        if pendingSpace { out[n] = 0x20; n += 1 }
                        pendingSpace = false
                        out[n] = c
                        n += 1
                    }
                }
                return n
            }
        }
    }

    // MARK: Characters

    /// Unicode NFKC. Foundation's compatibility mapping on Linux leaves some sequences
    /// uncomposed when a combining mark comes from a compatibility decomposition (half-width
    /// "ﾀﾞ" gives タ + U+3099, not ダ); composing once more gives the real NFKC, which the
    /// blind index needs since it hashes bytes.
    static func nfkc(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s.isASCII ? isASCIIWhitespace(UInt8(truncatingIfNeeded: s.value)) : s.properties.isWhitespace
    }

    /// Invisible characters that copy-and-paste leaves in values; ZWJ and ZWNJ are kept,
    /// since some scripts need them.
    static func isInvisible(_ s: Unicode.Scalar) -> Bool {
        s == "\u{200B}" || s == "\u{2060}" || s == "\u{FEFF}"
    }

    static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    static func isMark(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    static func isDecimalDigit(_ s: Unicode.Scalar) -> Bool { s.properties.numericType == .decimal }
    static func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
    static func isASCIIDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
    static func isASCIILetter(_ s: Unicode.Scalar) -> Bool { ("A"..."Z").contains(s) || ("a"..."z").contains(s) }

    static func isAlpha2(_ code: String) -> Bool {
        code.unicodeScalars.count == 2 && code.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) }
    }

    /// True if `text` has a control character (general category Cc); with
    /// `allowingWhitespace`, tab, line feed, carriage return and the like do not count.
    static func containsControl(_ text: String, allowingWhitespace: Bool) -> Bool {
        text.unicodeScalars.contains {
            $0.properties.generalCategory == .control && !(allowingWhitespace && isWhitespace($0))
        }
    }

    static func withoutInvisibles(_ text: String) -> String {
        // The invisibles are not ASCII; most values are.
        guard !isASCII(text), text.unicodeScalars.contains(where: isInvisible) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.filter { !isInvisible($0) }))
    }

    static func trimmed(_ text: String) -> String { trimmedWhitespace(text) }

    /// Trimmed, with every run of white space replaced by one U+0020 SPACE.
    static func collapsingWhitespace(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if isWhitespace(scalar) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// ASCII a–z upper-cased; everything else unchanged.
    static func asciiUppercased(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            ("a"..."z").contains($0) ? Unicode.Scalar($0.value - 0x20)! : $0
        }))
    }
}
