/// Partial views of values for roles that may read a field only masked
/// (`mask:` in `Policies/schema.yaml`). A masked value never contains more of the value
/// than its rule keeps, and short values keep less (or nothing), so a mask cannot give a
/// whole short value away. Masks are fixed-width: they do not reveal the length either.
public enum Masking {
    /// The mask of `value` under `rule`.
    public static func mask(_ value: String, rule: MaskRule) -> String {
        switch rule {
        case .none: value
        case .hidden: "***"
        case .email: email(value)
        case .phone: phone(value)
        case .name: name(value)
        case .last4: last4(value)
        }
    }

    /// `j***@example.com`: the first character of a local part of 3 or more characters,
    /// and the domain. Shorter local parts keep nothing.
    static func email(_ value: String) -> String {
        guard let at = value.lastIndex(of: "@") else { return "***" }
        let local = value[..<at]
        let domain = value[value.index(after: at)...]
        let kept = local.count >= 3 ? String(local.prefix(1)) : ""
        return kept + "***@" + domain
    }

    /// `***1234`: the last 4 digits of a number of 10 or more digits, the last 3 of 7 to 9
    /// digits, nothing of a shorter one.
    static func phone(_ value: String) -> String {
        let digits = value.unicodeScalars.filter { $0.properties.numericType == .decimal }
        let keep = digits.count >= 10 ? 4 : digits.count >= 7 ? 3 : 0
        return "***" + String(String.UnicodeScalarView(digits.suffix(keep)))
    }

    /// Initials: `J. D.` for `Jane Doe`; for a name written without spaces in a script
    /// without letter case (Chinese, Japanese, Korean), the first character: `陳**`.
    /// A one-character name keeps nothing.
    static func name(_ value: String) -> String {
        let words = value.split(whereSeparator: { $0.isWhitespace })
        guard let first = words.first else { return "***" }
        if words.count == 1 {
            guard first.count >= 2 else { return "***" }
            if first.first.map(isCaseless) == true { return String(first.prefix(1)) + "**" }
            return String(first.prefix(1)) + "."
        }
        return words.compactMap { $0.first.map { "\($0)." } }.joined(separator: " ")
    }

    /// `****1234`: the last 4 letters or digits of a value of 8 or more, the last 2 of 5 to
    /// 7, nothing of a shorter one.
    static func last4(_ value: String) -> String {
        let kept = value.filter { $0.isLetter || $0.isNumber }
        let keep = kept.count >= 8 ? 4 : kept.count >= 5 ? 2 : 0
        return "****" + String(kept.suffix(keep))
    }

    private static func isCaseless(_ c: Character) -> Bool {
        c.isLetter && !c.isUppercase && !c.isLowercase
    }
}
