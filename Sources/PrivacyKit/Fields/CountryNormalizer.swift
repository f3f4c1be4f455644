import Foundation

// The country rule (see ``Normalizer``): the general Unicode path first, then its
// ASCII fast path beside it, which must agree with it byte for byte and reason for
// reason (NormalizerTests compares the two on generated input).

extension Normalizer {
    /// The general path; `value` is already without invisible characters.
    static func country(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let code = asciiUppercased(trimmed(nfkc(value)))
        if code.isEmpty { return .failure(NormalizationError(.country, "is empty")) }
        guard isAlpha2(code) else {
            return .failure(NormalizationError(.country, "is not a two-letter ISO 3166-1 alpha-2 code"))
        }
        return .success(NormalizedValue(code))
    }

    static func asciiCountry(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        withUTF8(value) { b in
            let code = asciiTrimmedRange(b)
            if code.isEmpty { return .failure(NormalizationError(.country, "is empty")) }
            guard code.count == 2, isASCIILetter(b[code.lowerBound]), isASCIILetter(b[code.lowerBound + 1]) else {
                return .failure(NormalizationError(.country, "is not a two-letter ISO 3166-1 alpha-2 code"))
            }
            return .success(NormalizedValue(asciiString(b, code, .upper)))
        }
    }
}
