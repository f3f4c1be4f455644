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
        switch kind {
        case .email: email(value)
        case .phone: phone(value, region: region, defaultRegion: defaultRegion)
        case .name: name(value)
        case .nationalID: nationalID(value)
        case .date: date(value)
        case .country: country(value)
        case .text: text(value)
        }
    }

    // MARK: E-mail

    private static func email(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.email, reason))
        }
        let folded = nfkc(withoutInvisibles(value)).lowercased().precomposedStringWithCanonicalMapping
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

    private static func phone(
        _ value: String, region: String?, defaultRegion: String
    ) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.phone, reason))
        }
        let number = trimmed(withoutInvisibles(value))
        if number.isEmpty { return fail("is empty") }
        // libphonenumber refuses more than 250 bytes too; stop before copying into C.
        if number.utf8.count > 250 { return fail("is too long to be a phone number") }
        if !number.unicodeScalars.allSatisfy(isPhoneCharacter) {
            return fail("contains characters that are not part of a phone number (letters, extensions and vanity numbers are not accepted)")
        }
        if !number.unicodeScalars.contains(where: isDecimalDigit) { return fail("has no digits") }

        let regionCode = phoneRegion(region) ?? phoneRegion(defaultRegion) ?? "ZZ"
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

    /// `region` as an upper-case two-letter code; `nil` when blank. A malformed region
    /// becomes libphonenumber's unknown region "ZZ".
    private static func phoneRegion(_ region: String?) -> String? {
        guard let region else { return nil }
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

    private static func name(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.name, reason))
        }
        let cleaned = withoutInvisibles(value)
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

    private static func nationalID(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.nationalID, reason))
        }
        let folded = trimmed(nfkc(withoutInvisibles(value)))
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

    private static func date(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
            .failure(NormalizationError(.date, reason))
        }
        let text = trimmed(nfkc(withoutInvisibles(value)))
        if text.isEmpty { return fail("is empty") }
        let b = Array(text.utf8)
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

    private static func country(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let code = asciiUppercased(trimmed(nfkc(withoutInvisibles(value))))
        if code.isEmpty { return .failure(NormalizationError(.country, "is empty")) }
        guard isAlpha2(code) else {
            return .failure(NormalizationError(.country, "is not a two-letter ISO 3166-1 alpha-2 code"))
        }
        return .success(NormalizedValue(code))
    }

    // MARK: Text

    private static func text(_ value: String) -> Result<NormalizedValue, NormalizationError> {
        let cleaned = withoutInvisibles(value)
        if containsControl(cleaned, allowingWhitespace: true) {
            return .failure(NormalizationError(.text, "contains control characters"))
        }
        let result = collapsingWhitespace(cleaned.precomposedStringWithCanonicalMapping)
        if result.isEmpty { return .failure(NormalizationError(.text, "is empty")) }
        return .success(NormalizedValue(result))
    }

    // MARK: Characters

    /// Unicode NFKC. Foundation's compatibility mapping on Linux leaves some sequences
    /// uncomposed when a combining mark comes from a compatibility decomposition (half-width
    /// "ﾀﾞ" gives タ + U+3099, not ダ); composing once more gives the real NFKC, which the
    /// blind index needs since it hashes bytes.
    static func nfkc(_ text: String) -> String {
        text.precomposedStringWithCompatibilityMapping.precomposedStringWithCanonicalMapping
    }

    private static func isWhitespace(_ s: Unicode.Scalar) -> Bool { s.properties.isWhitespace }

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
        guard text.unicodeScalars.contains(where: isInvisible) else { return text }
        return String(String.UnicodeScalarView(text.unicodeScalars.filter { !isInvisible($0) }))
    }

    private static func trimmed(_ text: String) -> String {
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isWhitespace($0) }),
              let last = scalars.lastIndex(where: { !isWhitespace($0) })
        else { return "" }
        return String(scalars[first...last])
    }

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
