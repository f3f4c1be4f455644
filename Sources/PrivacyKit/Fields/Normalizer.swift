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
}
