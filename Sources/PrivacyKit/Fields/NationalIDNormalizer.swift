import Foundation

// The national-id rule (see ``Normalizer``): the general Unicode path first, then its
// ASCII fast path beside it, which must agree with it byte for byte and reason for
// reason (NormalizerTests compares the two on generated input).

extension Normalizer {
    /// The general path; `value` is already without invisible characters.
    static func nationalID(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let folded = trimmed(nfkc(value))
        if folded.isEmpty { return fail("is empty") }
        if containsControl(folded, allowingWhitespace: true) { return fail("contains control characters") }
        var id = String.UnicodeScalarView()
        for scalar in folded.unicodeScalars {
            if isWhitespace(scalar) || scalar == "." || scalar == "/" || scalar == "\u{2212}"
                || scalar.properties.generalCategory == .dashPunctuation { continue }
            guard isASCIILetter(scalar) || isASCIIDigit(scalar) else {
                return fail("may contain only ASCII letters and digits besides separators")
            }
            id.append(scalar)
        }
        let result = asciiUppercased(String(id))
        guard (4...32).contains(result.utf8.count) else {
            return fail("must have 4 to 32 letters or digits")
        }
        return .success(NormalizedValue(result))
    }

    static func asciiNationalID(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        return withUTF8(value) { b in
            let folded = asciiTrimmedRange(b)
            if folded.isEmpty { return fail("is empty") }
            if folded.contains(where: { isASCIIControl(b[$0]) && !isASCIIWhitespace(b[$0]) }) {
                return fail("contains control characters")
            }
            var count = 0
            for i in folded {
                let c = b[i]
                if isASCIILetter(c) || isASCIIDigit(c) { count += 1; continue }
                if isASCIIWhitespace(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "/") || c == UInt8(ascii: "-") {
                    continue
                }
                return fail("may contain only ASCII letters and digits besides separators")
            }
            guard (4...32).contains(count) else { return fail("must have 4 to 32 letters or digits") }
            let id = String(unsafeUninitializedCapacity: count) { out in
                var n = 0
                for i in folded {
                    let c = b[i]
                    guard isASCIILetter(c) || isASCIIDigit(c) else { continue }
                    out[n] = isASCIILower(c) ? c - 0x20 : c
                    n += 1
                }
                return n
            }
            return .success(NormalizedValue(id))
        }
    }
}

/// The failure both paths return: one constructor, so that they cannot differ in the kind
/// they report.
private func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
    .failure(NormalizationError(.nationalID, reason))
}
