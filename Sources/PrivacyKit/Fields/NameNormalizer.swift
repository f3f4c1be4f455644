import Foundation

// The name rule (see ``Normalizer``): the general Unicode path first, then its
// ASCII fast path beside it, which must agree with it byte for byte and reason for
// reason (NormalizerTests compares the two on generated input).

extension Normalizer {
    /// The general path; `value` is already without invisible characters.
    static func name(_ cleaned: String) -> Result<NormalizedValue, NormalizationError> {
        if containsControl(cleaned, allowingWhitespace: true) { return fail("contains control characters") }
        let stored = collapsingWhitespace(nfkc(cleaned))
        if stored.isEmpty { return fail("is empty") }
        if stored.count > maximumNameLength { return fail("is longer than 200 characters") }

        let folded = nfkc(stored.folding(options: [.caseInsensitive], locale: nil))
        var key = String.UnicodeScalarView()
        for scalar in folded.unicodeScalars {
            switch scalar {
            case "\u{2018}", "\u{2019}", "\u{02BC}": key.append("'")
            case "\u{2010}", "\u{2011}", "\u{2012}", "\u{2013}", "\u{2212}": key.append("-")
            default: key.append(scalar)
            }
        }
        return .success(NormalizedValue(stored: stored, key: String(key)))
    }

    static func asciiName(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let hasUpper: Bool? = withUTF8(value) { b in
            var upper = false
            for c in b {
                if isASCIIControl(c) && !isASCIIWhitespace(c) { return nil }
                if isASCIIUpper(c) { upper = true }
            }
            return upper
        }
        guard let hasUpper else { return fail("contains control characters") }
        let stored = asciiCollapsingWhitespace(value)
        if stored.isEmpty { return fail("is empty") }
        // No CR is left, so every character is one byte.
        if stored.utf8.count > maximumNameLength { return fail("is longer than 200 characters") }
        let key = hasUpper ? withUTF8(stored) { asciiString($0, 0..<$0.count, .lower) } : stored
        return .success(NormalizedValue(stored: stored, key: key))
    }
}

/// The failure both paths return: one constructor, so that they cannot differ in the kind
/// they report.
private func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
    .failure(NormalizationError(.name, reason))
}
