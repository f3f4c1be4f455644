import Foundation

// The e-mail rule (see ``Normalizer``): the general Unicode path first, then its
// ASCII fast path beside it, which must agree with it byte for byte and reason for
// reason (NormalizerTests compares the two on generated input).

extension Normalizer {
    /// The general path; `value` is already without invisible characters.
    static func email(_ value: String) -> Result<NormalizedValue, NormalizationError> {
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

    static func asciiEmail(_ value: String) -> Result<NormalizedValue, NormalizationError> {
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
}

/// The failure both paths return: one constructor, so that they cannot differ in the kind
/// they report.
private func fail(_ reason: StaticString) -> Result<NormalizedValue, NormalizationError> {
    .failure(NormalizationError(.email, reason))
}
