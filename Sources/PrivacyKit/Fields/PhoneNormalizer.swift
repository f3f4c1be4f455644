import CPhoneNumber
import Foundation

// The phone rule (see ``Normalizer``): the general Unicode path and libphonenumber first,
// then its ASCII fast path beside it, which must agree with it byte for byte and reason for
// reason (NormalizerTests compares the two on generated input).

extension Normalizer {
    /// `value` is already without invisible characters; `ascii` says it is pure ASCII and
    /// may take the byte-wise checks.
    static func phone(
        _ value: String, ascii: Bool, region: String?, defaultRegion: String, asciiFastPaths: Bool
    ) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.phone, reason))
        }
        let number: String
        if ascii {
            switch asciiPhoneNumber(value) {
            case .success(let checked): number = checked
            case .failure(let error): return .failure(error)
            }
        } else {
            number = trimmed(value)
            if number.isEmpty { return fail("is empty") }
            // libphonenumber refuses more than 250 bytes too; stop before copying into C.
            if number.utf8.count > 250 { return fail("is too long to be a phone number") }
            if !number.unicodeScalars.allSatisfy(isPhoneCharacter) {
                return fail(phoneCharactersReason)
            }
            if !number.unicodeScalars.contains(where: isDecimalDigit) { return fail("has no digits") }
        }

        let regionCode = phoneRegion(region, asciiFastPaths: asciiFastPaths)
            ?? phoneRegion(defaultRegion, asciiFastPaths: asciiFastPaths) ?? "ZZ"
        let (code, e164) = libphonenumberE164(number, region: regionCode)
        switch code {
        case PK_PHONE_OK:
            let digits = e164.utf8.dropFirst()
            guard e164.utf8.first == UInt8(ascii: "+"), !digits.isEmpty,
                  digits.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
            else { return fail("could not be converted to E.164") }
            return .success(NormalizedValue(e164))
        case PK_PHONE_INVALID_NUMBER: return fail("is not a valid number for its region")
        case PK_PHONE_NOT_A_NUMBER: return fail("is not a phone number")
        case PK_PHONE_NO_COUNTRY_CODE:
            return fail("has no valid country calling code and the region is missing or unknown")
        case PK_PHONE_TOO_SHORT: return fail("is too short to be a phone number")
        case PK_PHONE_TOO_LONG: return fail("is too long to be a phone number")
        case PK_PHONE_HAS_EXTENSION: return fail("has an extension, which E.164 cannot hold")
        default: return fail("could not be converted to E.164")
        }
    }

    /// Calls CPhoneNumber: one of the `PK_PHONE_*` codes and, for `PK_PHONE_OK`, the E.164
    /// form. The output buffer is zeroed before it is released.
    static func libphonenumberE164(
        _ number: String, region: String, capacity: Int = Int(PK_PHONE_E164_CAPACITY)
    ) -> (code: Int32, e164: String) {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: max(capacity, 1)) { buffer in
            let base = buffer.baseAddress!
            buffer.initialize(repeating: 0)
            let code = pk_phone_normalize(number, region, base, capacity)
            let e164 = code == PK_PHONE_OK ? String(cString: base) : ""
            buffer.update(repeating: 0)
            return (code, e164)
        }
    }

    static let phoneCharactersReason: StaticString =
        "contains characters that are not part of a phone number (letters, extensions and vanity numbers are not accepted)"

    /// `region` as an upper-case two-letter code; `nil` when blank. A malformed region
    /// becomes libphonenumber's unknown region "ZZ".
    static func phoneRegion(_ region: String?, asciiFastPaths: Bool) -> String? {
        guard let region else { return nil }
        if asciiFastPaths && isASCII(region) {
            return withUTF8(region) { bytes in
                let range = asciiTrimmedRange(bytes)
                if range.isEmpty { return nil }
                guard range.count == 2, isASCIILetter(bytes[range.lowerBound]),
                      isASCIILetter(bytes[range.lowerBound + 1])
                else { return "ZZ" }
                return asciiString(bytes, range, .upper)
            }
        }
        let code = asciiUppercased(trimmed(nfkc(region)))
        if code.isEmpty { return nil }
        return isAlpha2(code) ? code : "ZZ"
    }

    static func isPhoneCharacter(_ s: Unicode.Scalar) -> Bool {
        if isDecimalDigit(s) || isWhitespace(s) { return true }
        if s.properties.generalCategory == .dashPunctuation { return true }
        switch s {
        case "+", "\u{FF0B}", // plus, full-width plus
             ".", "\u{FF0E}",
             "(", ")", "\u{FF08}", "\u{FF09}",
             "[", "]", "\u{FF3B}", "\u{FF3D}",
             "/", "\u{FF0F}",
             "\u{2212}": // minus sign
            return true
        default:
            return false
        }
    }

    /// The checked, trimmed number to hand to libphonenumber.
    static func asciiPhoneNumber(_ value: String) -> Result<String, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<String, NormalizationError> {
            .failure(NormalizationError(.phone, reason))
        }
        return withUTF8(value) { b in
            let number = asciiTrimmedRange(b)
            if number.isEmpty { return fail("is empty") }
            if number.count > 250 { return fail("is too long to be a phone number") }
            var hasDigit = false
            for i in number {
                let c = b[i]
                if isASCIIDigit(c) { hasDigit = true; continue }
                switch c {
                case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "("), UInt8(ascii: ")"),
                     UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "/"):
                    continue
                default:
                    if !isASCIIWhitespace(c) { return fail(phoneCharactersReason) }
                }
            }
            if !hasDigit { return fail("has no digits") }
            return .success(number.count == b.count ? value : asciiString(b, number, .keep))
        }
    }
}
