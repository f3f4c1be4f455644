import CPhoneNumber
import Foundation

/// How a field's values are cleaned and matched (`normalizer:` in `Policies/schema.yaml`).
public enum FieldKind: String, Sendable, Codable, CaseIterable {
    case email, phone, name, nationalID = "national-id", date, country, text
}

/// A cleaned value: `stored` is what is kept (encrypted) and shown, `key` is the match key
/// that blind indexes and duplicate detection use.
public struct NormalizedValue: Sendable, Equatable {
    public let stored: String
    public let key: String

    init(stored: String, key: String) {
        self.stored = stored
        self.key = key
    }

    /// A value whose match key is the stored form itself.
    init(_ both: String) {
        self.init(stored: both, key: both)
    }
}

/// Why a value could not be normalized. The ``reason`` describes the problem in general
/// terms and never contains the value or any part of it: reasons can only be built from
/// string literals (`StaticString`), so no value can be interpolated into one.
public struct NormalizationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let kind: FieldKind
    public let reason: String

    init(_ kind: FieldKind, _ reason: StaticString) {
        self.kind = kind
        self.reason = reason.description
    }

    public var description: String { "invalid \(kind.rawValue): \(reason)" }
}

/// Cleans field values before they are stored, indexed or compared.
///
/// Rules by kind (all kinds first drop the invisible characters U+200B ZERO WIDTH SPACE,
/// U+2060 WORD JOINER and U+FEFF BOM that copy-and-paste leaves behind, and treat white
/// space as the Unicode `White_Space` property; a value that is empty after trimming fails):
///
/// - **email** — NFKC (full-width letters, `＠` and `．` fold), lower-cased (not case-folded:
///   `ß` stays, since `straße.de` and `strasse.de` are different IDN domains), NFC. Exactly
///   one `@`; a local part of 1–64 UTF-8 bytes with no white space, no unquoted specials
///   `"(),:;<>[\]` and no leading, trailing or doubled dot (quoted local parts are not
///   accepted); a domain of at least two dot-separated labels (`。` counts as a dot) made of
///   letters (any script, with combining marks), ASCII digits and inner hyphens, at most 63
///   characters each and 253 in all, whose last label has at least two letters or is an
///   ASCII `xn--` label. IDN domains stay in Unicode (`bücher.de`), punycode stays as
///   written. `stored == key`.
/// - **phone** — E.164 through libphonenumber, using `region` (the record's country) or
///   else `defaultRegion` for numbers without a country calling code. Digits (any script's
///   decimal digits, e.g. full-width), white space and `+ - . ( ) [ ] /` (and their
///   full-width and Unicode dash forms) are accepted; letters are not, so vanity numbers
///   (`1-800-FLOWERS`), extensions (`ext. 12`, `x12`) and surrounding words are rejected
///   rather than silently dropped. A region that is not two ASCII letters counts as
///   unknown: then only numbers with a country calling code are accepted. `stored == key`.
/// - **name** — `stored`: NFKC (full-width Latin, half-width kana, ligatures and U+3000
///   fold), white-space runs collapsed to one space, trimmed. `key`: `stored` case-folded
///   (full Unicode folding, locale-independent: `Straße` ~ `STRASSE`), NFKC again, with
///   typographic apostrophes (`’ ‘ ʼ`) as `'` and hyphen variants (`‐ ‑ ‒ – −`) as `-`.
///   Diacritics are kept in both: `José` and `Jose` are different keys (stripping them
///   would merge distinct names in many languages; fuzzy matching is not a blind index's
///   job). NFC and NFD inputs give the same `stored` and `key`. Control characters other
///   than white space, and more than ``maximumNameLength`` characters, are rejected.
/// - **national-id** — NFKC, then white space, `-`, `.`, `/` and Unicode dashes removed,
///   ASCII upper-cased; 4–32 ASCII letters and digits must remain. `stored == key`.
/// - **date** — an ISO 8601 calendar date in extended form, `YYYY-MM-DD` (full-width digits
///   fold). A full timestamp (`2023-05-17T10:20:30Z`, `…T10:20+08:00`, `…T10:20:30.5`, `T`
///   or a space) is accepted and its date part kept *as written*, with no time-zone
///   conversion; its time part must itself be well-formed. Other forms (`20230517`,
///   `17/05/2023`) are rejected as ambiguous. The date must exist (no `2023-02-30`;
///   Gregorian leap years) and its year lie in 1800–2200. `stored == key`.
/// - **country** — NFKC, trimmed, ASCII upper-cased; exactly two ASCII letters (the shape
///   of ISO 3166-1 alpha-2; whether the code is assigned is not checked). `stored == key`.
/// - **text** — NFC (not NFKC: compatibility folding changes free text, e.g. `x²`), white-
///   space runs (including tabs and line breaks) collapsed to one space, trimmed; other
///   control characters are rejected. `stored == key`.
public enum Normalizer {
    /// Longest accepted name, in characters (grapheme clusters) after normalization.
    public static let maximumNameLength = 200

    /// Normalizes `value` by the rule for `kind`.
    ///
    /// - Parameters:
    ///   - value: The raw value. It is customer data: it appears in no error, log or print.
    ///   - kind: The field's normalizer.
    ///   - region: ISO 3166-1 alpha-2 code for phone numbers (from the record's country
    ///     field); when `nil` or blank, `defaultRegion` is used. Ignored by other kinds.
    ///   - defaultRegion: The region for phone numbers when the record has none.
    /// - Returns: `.success(NormalizedValue)`, or `.failure(NormalizationError)` whose
    ///   `reason` describes the problem without echoing the value.
    public static func normalize(
        _ value: String,
        as kind: FieldKind,
        region: String? = nil,
        defaultRegion: String = "US"
    ) -> Result<NormalizedValue, NormalizationError> {
        normalize(value, as: kind, region: region, defaultRegion: defaultRegion, asciiFastPaths: true)
    }

    /// ``normalize(_:as:region:defaultRegion:)``, with the ASCII fast paths optionally off.
    ///
    /// Every kind first drops the invisible characters; when what is left is pure ASCII
    /// (the common case: e-mails, phone numbers, dates, ids, codes, most Latin names) it is
    /// handled byte by byte, without Foundation's Unicode normalization (NFKC, NFC and case
    /// folding change nothing in ASCII but upper-case letters). Otherwise, or with
    /// `asciiFastPaths` off, the general Unicode path runs. Both must give identical
    /// results, byte for byte and reason for reason; tests turn the fast paths off to
    /// check that.
    static func normalize(
        _ value: String,
        as kind: FieldKind,
        region: String?,
        defaultRegion: String,
        asciiFastPaths: Bool
    ) -> Result<NormalizedValue, NormalizationError> {
        let valueIsASCII = isASCII(value)
        let cleaned = valueIsASCII ? value : withoutInvisibles(value)
        // Dropping invisibles can leave ASCII behind; if nothing was dropped, it did not.
        let ascii = asciiFastPaths
            && (valueIsASCII || (cleaned.utf8.count != value.utf8.count && isASCII(cleaned)))
        return switch kind {
        case .email: ascii ? asciiEmail(cleaned) : email(cleaned)
        case .phone: phone(cleaned, ascii: ascii, region: region, defaultRegion: defaultRegion, asciiFastPaths: asciiFastPaths)
        case .name: ascii ? asciiName(cleaned) : name(cleaned)
        case .nationalID: ascii ? asciiNationalID(cleaned) : nationalID(cleaned)
        case .date: date(cleaned, ascii: ascii)
        case .country: ascii ? asciiCountry(cleaned) : country(cleaned)
        case .text: ascii ? asciiText(cleaned) : text(cleaned)
        }
    }

    /// True when `text` is empty or holds only white space (Unicode `White_Space`) and the
    /// invisible characters U+200B, U+2060 and U+FEFF. Fast for ASCII.
    package static func isBlank(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { isWhitespace($0) || isInvisible($0) }
    }

    /// `text` without Unicode `White_Space` at either end (invisible characters are kept).
    /// Fast for ASCII, and returns `text` itself when there is nothing to trim.
    package static func trimmedWhitespace(_ text: String) -> String {
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, isWhitespace(scalars[start]) { scalars.formIndex(after: &start) }
        while start < end {
            let before = scalars.index(before: end)
            guard isWhitespace(scalars[before]) else { break }
            end = before
        }
        if start == scalars.startIndex && end == scalars.endIndex { return text }
        return String(scalars[start..<end])
    }

    // MARK: E-mail

    /// The general path; `value` is already without invisible characters.
    private static func email(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.email, reason))
        }
        let folded = nfkc(value).lowercased().precomposedStringWithCanonicalMapping
        let address = trimmed(folded)
        if address.isEmpty { return fail("is empty") }
        if containsControl(address, allowingWhitespace: false) { return fail("contains control characters") }
        if address.unicodeScalars.contains(where: isWhitespace) { return fail("contains white space") }

        let parts = address.unicodeScalars.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            return parts.count < 2 ? fail("has no @") : fail("has more than one @")
        }
        let local = parts[0]
        // U+3002 IDEOGRAPHIC FULL STOP separates labels like "." (UTS #46); NFKC has
        // already turned the full-width and half-width full stops into "." and U+3002.
        let domain = String(String.UnicodeScalarView(parts[1].map { $0 == "\u{3002}" ? "." : $0 }))

        if local.isEmpty { return fail("has an empty local part") }
        if String(String.UnicodeScalarView(local)).utf8.count > 64 {
            return fail("has a local part longer than 64 bytes")
        }
        if local.contains(where: { "\"(),:;<>[\\]".unicodeScalars.contains($0) }) {
            return fail("has a local part with characters allowed only in quotes")
        }
        if local.first == "." || local.last == "." || String(String.UnicodeScalarView(local)).contains("..") {
            return fail("has a local part with a leading, trailing or doubled dot")
        }

        if domain.isEmpty { return fail("has no domain") }
        if domain.unicodeScalars.count > 253 { return fail("has a domain longer than 253 characters") }
        let labels = domain.unicodeScalars.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 { return fail("has a domain without a top-level domain") }
        for label in labels {
            if label.isEmpty { return fail("has a domain with an empty label") }
            if label.count > 63 { return fail("has a domain label longer than 63 characters") }
            if label.first == "-" || label.last == "-" {
                return fail("has a domain label that starts or ends with a hyphen")
            }
            if isMark(label[label.startIndex]) { return fail("has a domain label that starts with a combining mark") }
            let allowed = label.allSatisfy { isLetter($0) || isMark($0) || isASCIIDigit($0) || $0 == "-" }
            if !allowed { return fail("has a domain with characters other than letters, digits and hyphens") }
        }
        let tld = String(String.UnicodeScalarView(labels[labels.count - 1]))
        let tldIsLetters = tld.unicodeScalars.allSatisfy { isLetter($0) || isMark($0) }
            && tld.unicodeScalars.filter(isLetter).count >= 2
        let tldIsACE = tld.hasPrefix("xn--") && tld.count > 4 && tld.unicodeScalars.allSatisfy(\.isASCII)
        if !tldIsLetters && !tldIsACE { return fail("has a top-level domain that is not at least two letters") }

        return .success(NormalizedValue(String(String.UnicodeScalarView(local)) + "@" + domain))
    }

    // MARK: Phone

    /// `value` is already without invisible characters; `ascii` says it is pure ASCII and
    /// may take the byte-wise checks.
    private static func phone(
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

    private static let phoneCharactersReason: StaticString =
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

    private static func isPhoneCharacter(_ s: Unicode.Scalar) -> Bool {
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

    // MARK: Name

    /// The general path; `value` is already without invisible characters.
    private static func name(_ cleaned: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.name, reason))
        }
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

    // MARK: National ID

    /// The general path; `value` is already without invisible characters.
    private static func nationalID(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.nationalID, reason))
        }
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

    // MARK: Date

    /// `value` is already without invisible characters; `ascii` says it is pure ASCII (then
    /// NFKC would leave it as it is).
    private static func date(_ value: String, ascii: Bool) -> Result<NormalizedValue, NormalizationError> {
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
    private static func isTimeOfDay(_ b: ArraySlice<UInt8>) -> Bool {
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

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// The decimal value of a run of ASCII digits; `nil` if any byte is not one.
    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var n = 0
        for d in digits {
            guard isASCIIDigit(d) else { return nil }
            n = n * 10 + Int(d - UInt8(ascii: "0"))
        }
        return n
    }

    // MARK: Country

    /// The general path; `value` is already without invisible characters.
    private static func country(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let code = asciiUppercased(trimmed(nfkc(value)))
        if code.isEmpty { return .failure(NormalizationError(.country, "is empty")) }
        guard isAlpha2(code) else {
            return .failure(NormalizationError(.country, "is not a two-letter ISO 3166-1 alpha-2 code"))
        }
        return .success(NormalizedValue(code))
    }

    // MARK: Text

    /// The general path; `value` is already without invisible characters.
    private static func text(_ cleaned: String) -> Result<NormalizedValue, NormalizationError> {
        if containsControl(cleaned, allowingWhitespace: true) {
            return .failure(NormalizationError(.text, "contains control characters"))
        }
        let result = collapsingWhitespace(cleaned.precomposedStringWithCanonicalMapping)
        if result.isEmpty { return .failure(NormalizationError(.text, "is empty")) }
        return .success(NormalizedValue(result))
    }

    // MARK: ASCII fast paths

    // Each mirrors its kind's general path for pure-ASCII input (already without the
    // invisibles, which are not ASCII), with the same checks in the same order. In ASCII,
    // NFKC and NFC change nothing, lower-casing and case folding map A–Z to a–z, the
    // `White_Space` characters are tab, LF, VT, FF, CR and space, the control characters
    // (Cc) are 0x00–0x1F and 0x7F, the letters are A–Z and a–z, the decimal digits 0–9,
    // the only dash punctuation is "-", there are no combining marks, and only CR LF is a
    // grapheme cluster of more than one scalar.

    private static func asciiEmail(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.email, reason))
        }
        return withUTF8(value) { b in
            let address = asciiTrimmedRange(b)
            if address.isEmpty { return fail("is empty") }
            var hasControl = false, hasSpace = false, hasUpper = false
            var at = -1, atCount = 0
            for i in address {
                let c = b[i]
                if isASCIIControl(c) { hasControl = true }
                else if c == 0x20 { hasSpace = true }
                else if c == UInt8(ascii: "@") { atCount += 1; if at < 0 { at = i } }
                else if isASCIIUpper(c) { hasUpper = true }
            }
            if hasControl { return fail("contains control characters") }
            if hasSpace { return fail("contains white space") }
            guard atCount == 1 else { return atCount < 1 ? fail("has no @") : fail("has more than one @") }

            let local = address.lowerBound..<at
            let domain = (at + 1)..<address.upperBound
            if local.isEmpty { return fail("has an empty local part") }
            if local.count > 64 { return fail("has a local part longer than 64 bytes") }
            for i in local {
                switch b[i] {
                case UInt8(ascii: "\""), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: ","),
                     UInt8(ascii: ":"), UInt8(ascii: ";"), UInt8(ascii: "<"), UInt8(ascii: ">"),
                     UInt8(ascii: "["), UInt8(ascii: "\\"), UInt8(ascii: "]"):
                    return fail("has a local part with characters allowed only in quotes")
                default: continue
                }
            }
            let dot = UInt8(ascii: ".")
            if b[local.lowerBound] == dot || b[local.upperBound - 1] == dot
                || local.dropLast().contains(where: { b[$0] == dot && b[$0 + 1] == dot }) {
                return fail("has a local part with a leading, trailing or doubled dot")
            }

            if domain.isEmpty { return fail("has no domain") }
            if domain.count > 253 { return fail("has a domain longer than 253 characters") }
            if !domain.contains(where: { b[$0] == dot }) { return fail("has a domain without a top-level domain") }
            var labelStart = domain.lowerBound
            var tld = domain
            while labelStart <= domain.upperBound {
                var labelEnd = labelStart
                while labelEnd < domain.upperBound, b[labelEnd] != dot { labelEnd += 1 }
                let label = labelStart..<labelEnd
                if label.isEmpty { return fail("has a domain with an empty label") }
                if label.count > 63 { return fail("has a domain label longer than 63 characters") }
                let hyphen = UInt8(ascii: "-")
                if b[label.lowerBound] == hyphen || b[label.upperBound - 1] == hyphen {
                    return fail("has a domain label that starts or ends with a hyphen")
                }
                if !label.allSatisfy({ isASCIILetter(b[$0]) || isASCIIDigit(b[$0]) || b[$0] == hyphen }) {
                    return fail("has a domain with characters other than letters, digits and hyphens")
                }
                tld = label
                labelStart = labelEnd + 1
            }
            // The labels are now letters, digits and inner hyphens.
            let tldIsLetters = tld.count >= 2 && tld.allSatisfy { isASCIILetter(b[$0]) }
            let tldIsACE = tld.count > 4
                && b[tld.lowerBound] | 0x20 == UInt8(ascii: "x") && b[tld.lowerBound + 1] | 0x20 == UInt8(ascii: "n")
                && b[tld.lowerBound + 2] == UInt8(ascii: "-") && b[tld.lowerBound + 3] == UInt8(ascii: "-")
            if !tldIsLetters && !tldIsACE { return fail("has a top-level domain that is not at least two letters") }

            if !hasUpper && address.count == b.count { return .success(NormalizedValue(value)) }
            return .success(NormalizedValue(asciiString(b, address, .lower)))
        }
    }

    /// The checked, trimmed number to hand to libphonenumber.
    private static func asciiPhoneNumber(_ value: String) -> Result<String, NormalizationError> {
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

    private static func asciiName(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.name, reason))
        }
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

    private static func asciiNationalID(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.nationalID, reason))
        }
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

    private static func asciiCountry(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        withUTF8(value) { b in
            let code = asciiTrimmedRange(b)
            if code.isEmpty { return .failure(NormalizationError(.country, "is empty")) }
            guard code.count == 2, isASCIILetter(b[code.lowerBound]), isASCIILetter(b[code.lowerBound + 1]) else {
                return .failure(NormalizationError(.country, "is not a two-letter ISO 3166-1 alpha-2 code"))
            }
            return .success(NormalizedValue(asciiString(b, code, .upper)))
        }
    }

    private static func asciiText(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let hasControl = withUTF8(value) { b in b.contains { isASCIIControl($0) && !isASCIIWhitespace($0) } }
        if hasControl { return .failure(NormalizationError(.text, "contains control characters")) }
        let result = asciiCollapsingWhitespace(value)
        if result.isEmpty { return .failure(NormalizationError(.text, "is empty")) }
        return .success(NormalizedValue(result))
    }

    /// ``collapsingWhitespace(_:)`` for ASCII `text`; `text` itself when nothing changes.
    private static func asciiCollapsingWhitespace(_ text: String) -> String {
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
    private static func withUTF8<R>(_ text: String, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let result = text.utf8.withContiguousStorageIfAvailable(body) { return result }
        var copy = text
        return copy.withUTF8(body)
    }

    /// `bytes` without ASCII white space at either end.
    private static func asciiTrimmedRange(_ bytes: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        var start = 0
        var end = bytes.count
        while start < end, isASCIIWhitespace(bytes[start]) { start += 1 }
        while end > start, isASCIIWhitespace(bytes[end - 1]) { end -= 1 }
        return start..<end
    }

    private enum ASCIICase { case keep, lower, upper }

    /// `bytes[range]` (ASCII) as a string, letters mapped to `letterCase`.
    private static func asciiString(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ letterCase: ASCIICase) -> String {
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
    private static func isASCIIUpper(_ c: UInt8) -> Bool { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) }
    private static func isASCIILower(_ c: UInt8) -> Bool { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(c) }
    private static func isASCIILetter(_ c: UInt8) -> Bool { isASCIIUpper(c) || isASCIILower(c) }

    // MARK: Characters

    /// Unicode NFKC. Foundation's compatibility mapping on Linux leaves some sequences
    /// uncomposed when a combining mark comes from a compatibility decomposition (half-width
    /// "ﾀﾞ" gives タ + U+3099, not ダ); composing once more gives the real NFKC, which the
    /// blind index needs since it hashes bytes.
    static func nfkc(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
    }

    private static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s.isASCII ? isASCIIWhitespace(UInt8(truncatingIfNeeded: s.value)) : s.properties.isWhitespace
    }

    /// Invisible characters that copy-and-paste leaves in values; ZWJ and ZWNJ are kept,
    /// since some scripts need them.
    private static func isInvisible(_ s: Unicode.Scalar) -> Bool {
        s == "\u{200B}" || s == "\u{2060}" || s == "\u{FEFF}"
    }

    private static func isLetter(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: true
        default: false
        }
    }

    private static func isMark(_ s: Unicode.Scalar) -> Bool {
        switch s.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }

    private static func isDecimalDigit(_ s: Unicode.Scalar) -> Bool { s.properties.numericType == .decimal }
    private static func isASCIIDigit(_ s: Unicode.Scalar) -> Bool { ("0"..."9").contains(s) }
    private static func isASCIIDigit(_ b: UInt8) -> Bool { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) }
    private static func isASCIILetter(_ s: Unicode.Scalar) -> Bool { ("A"..."Z").contains(s) || ("a"..."z").contains(s) }

    private static func isAlpha2(_ code: String) -> Bool {
        code.unicodeScalars.count == 2 && code.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) }
    }

    /// True if `text` has a control character (general category Cc); with
    /// `allowingWhitespace`, tab, line feed, carriage return and the like do not count.
    private static func containsControl(_ text: String, allowingWhitespace: Bool) -> Bool {
        text.unicodeScalars.contains {
            $0.properties.generalCategory == .control && !(allowingWhitespace && isWhitespace($0))
        }
    }

    private static func withoutInvisibles(_ text: String) -> String {
        // The invisibles are not ASCII; most values are.
        guard !isASCII(text), text.unicodeScalars.contains(where: isInvisible) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.filter { !isInvisible($0) }))
    }

    private static func trimmed(_ text: String) -> String { trimmedWhitespace(text) }

    /// Trimmed, with every run of white space replaced by one U+0020 SPACE.
    private static func collapsingWhitespace(_ text: String) -> String {
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
    private static func asciiUppercased(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map {
            ("a"..."z").contains($0) ? Unicode.Scalar($0.value - 0x20)! : $0
        }))
    }
}
