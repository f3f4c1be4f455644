import Foundation

/// The report's policy terms in words a DPO reads (issue 22, point 8): "erase the customer
/// 2 years after the last interaction", not "erase P2Y after last_interaction". The policy's
/// own terms stay beside them, in the tables' rule column and in the JSON.
enum ReportWords {
    /// `P2Y` → "2 years", `P1Y6M` → "1 year and 6 months", `PT72H` → "72 hours"; text that is
    /// not an ISO 8601 duration as it is.
    static func period(_ text: String) -> String {
        guard let d = ISODuration(text) else { return text }
        let parts: [(Int, String)] = [(d.years, "year"), (d.months, "month"), (d.weeks, "week"), (d.days, "day"),
                                       (d.hours, "hour"), (d.minutes, "minute"), (d.seconds, "second")]
        let words = parts.filter { $0.0 != 0 }.map { "\($0.0) \($0.1)\($0.0 == 1 ? "" : "s")" }
        switch words.count {
        case 0: return "no time"
        case 1: return words[0]
        default: return words.dropLast().joined(separator: ", ") + " and " + words.last!
        }
    }

    /// A rule's starting event (`RetentionEvent`'s text) as the end of "… after …".
    static func event(_ text: String) -> String {
        switch text {
        case "created": return "the record was created"
        case "last_interaction": return "the last interaction"
        case "account_closed": return "the account was closed"
        default:
            if text.hasPrefix("consent_withdrawn("), text.hasSuffix(")") {
                return "consent to \(text.dropFirst("consent_withdrawn(".count).dropLast()) was withdrawn or objected to"
            }
            if text.hasPrefix("field:") { return "the date in the \(text.dropFirst("field:".count).replacingOccurrences(of: "_", with: " ")) field" }
            return text.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// A retention action (`RetentionAction`'s raw value) as a verb phrase.
    static func action(_ raw: String) -> String {
        switch raw {
        case "erase": "Erase the customer"
        case "erase_fields": "Erase the rule's fields"
        case "anonymize": "Anonymize (keep the non-identifying fields, erase the customer)"
        default: raw.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// "Erase the customer 2 years after the last interaction".
    static func rule(action: String, period: String, from: String) -> String {
        "\(self.action(action)) \(self.period(period)) after \(event(from))"
    }
}
