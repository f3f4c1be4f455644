import Foundation

// The text rule (see ``Normalizer``): the general Unicode path first, then its
// ASCII fast path beside it, which must agree with it byte for byte and reason for
// reason (NormalizerTests compares the two on generated input).

extension Normalizer {
    /// The general path; `value` is already without invisible characters.
    static func text(_ cleaned: String) -> Result<NormalizedValue, NormalizationError> {
        if containsControl(cleaned, allowingWhitespace: true) {
            return .failure(NormalizationError(.text, "contains control characters"))
        }
        let result = collapsingWhitespace(cleaned.precomposedStringWithCanonicalMapping)
        if result.isEmpty { return .failure(NormalizationError(.text, "is empty")) }
        return .success(NormalizedValue(result))
    }

    static func asciiText(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let hasControl = withUTF8(value) { b in b.contains { isASCIIControl($0) && !isASCIIWhitespace($0) } }
        if hasControl { return .failure(NormalizationError(.text, "contains control characters")) }
        let result = asciiCollapsingWhitespace(value)
        if result.isEmpty { return .failure(NormalizationError(.text, "is empty")) }
        return .success(NormalizedValue(result))
    }
}
