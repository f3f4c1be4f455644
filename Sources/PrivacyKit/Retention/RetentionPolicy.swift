public import Foundation
import Yams

/// An ISO 8601 duration (`P2Y`, `P18M`, `P90D`, `P6W`, `P1DT12H`), applied on the UTC
/// Gregorian calendar: `P1M` before 31 March is the last day of February.
public struct ISODuration: Sendable, Equatable, CustomStringConvertible {
    public var years = 0, months = 0, weeks = 0, days = 0, hours = 0, minutes = 0, seconds = 0
    /// The text it was written as.
    public let description: String

    public init?(_ text: String) {
        description = text
        var rest = Substring(text)
        guard rest.first == "P" else { return nil }
        rest = rest.dropFirst()
        var inTime = false
        var any = false
        var number = ""
        // Designators must come in this order, each at most once.
        var order = ["Y", "M", "W", "D"]
        while let c = rest.first {
            rest = rest.dropFirst()
            if c.isASCII && c.isNumber { number.append(c); continue }
            if c == "T" {
                guard !inTime, number.isEmpty, !rest.isEmpty else { return nil }
                inTime = true
                order = ["H", "M", "S"]
                continue
            }
            let designator = String(c)
            guard let position = order.firstIndex(of: designator), !number.isEmpty, number.count <= 6, let value = Int(number) else { return nil }
            order.removeFirst(position + 1)
            number = ""
            any = true
            switch (inTime, designator) {
            case (false, "Y"): years = value
            case (false, "M"): months = value
            case (false, "W"): weeks = value
            case (false, "D"): days = value
            case (true, "H"): hours = value
            case (true, "M"): minutes = value
            case (true, "S"): seconds = value
            default: return nil
            }
        }
        guard any, number.isEmpty else { return nil }
    }

    public var isZero: Bool { [years, months, weeks, days, hours, minutes, seconds].allSatisfy { $0 == 0 } }

    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? .current
        return calendar
    }()

    private func components(sign: Int) -> DateComponents {
        DateComponents(year: sign * years, month: sign * months, day: sign * (weeks * 7 + days),
                       hour: sign * hours, minute: sign * minutes, second: sign * seconds)
    }

    /// `date` minus this duration.
    public func before(_ date: Date) -> Date { Self.calendar.date(byAdding: components(sign: -1), to: date) ?? date }

    /// `date` plus this duration.
    public func after(_ date: Date) -> Date { Self.calendar.date(byAdding: components(sign: 1), to: date) ?? date }
}

/// What a retention rule does to a subject that is due.
public enum RetentionAction: String, Sendable, Codable, CaseIterable {
    /// Crypto-shred the whole subject.
    case erase
    /// Remove only the rule's fields.
    case eraseFields = "erase_fields"
    /// Keep the rule's non-identifying fields, detached from the subject; erase the subject.
    case anonymize
}

/// The event a rule counts its period from.
public enum RetentionEvent: Sendable, Equatable, CustomStringConvertible {
    case created
    case lastInteraction
    case accountClosed
    /// The subject's last withdrawal of, or objection to, a purpose (a later grant cancels it).
    case consentWithdrawn(purpose: String)
    /// An unencrypted date field of the record.
    case field(String)

    public var description: String {
        switch self {
        case .created: "created"
        case .lastInteraction: "last_interaction"
        case .accountClosed: "account_closed"
        case .consentWithdrawn(let purpose): "consent_withdrawn(\(purpose))"
        case .field(let name): "field:\(name)"
        }
    }
}

/// One rule of `Policies/retention.yaml`.
public struct RetentionRule: Sendable, Equatable {
    public let name: String
    /// A category of the policy, or nil for every category (`any`).
    public let category: String?
    public let period: ISODuration
    public let from: RetentionEvent
    public let action: RetentionAction
    /// For `erase_fields`: the fields erased.
    public let fields: [String]
    /// For `anonymize`: the fields kept.
    public let keep: [String]
    public let legalReason: String
}

/// A data category of the retention policy.
public struct RetentionCategory: Sendable, Equatable {
    public let name: String
    public let description: String
    /// Values of the category field that put a record in this category.
    public let values: [String]
}

/// The retention policy (`Policies/retention.yaml`): categories, where event dates come from,
/// and the rules a sweep applies.
public struct RetentionPolicy: Sendable {
    /// The unencrypted record field that decides a record's category.
    public let categoryField: String?
    public let defaultCategory: String?
    /// In file order.
    public let categories: [RetentionCategory]
    /// The record fields holding the `created`, `last_interaction` and `account_closed` dates.
    public let createdField: String?
    public let lastInteractionField: String?
    public let accountClosedField: String?
    /// In file order: a sweep applies them in this order.
    public let rules: [RetentionRule]

    public static let anyCategory = "any"

    public func category(named name: String) -> RetentionCategory? { categories.first { $0.name == name } }

    /// The category of a record whose category field holds `value`.
    public func category(forValue value: String?) -> String? {
        if let value, let match = categories.first(where: { $0.values.contains(value) }) { return match.name }
        return defaultCategory
    }

    public static func load(from directory: String, schema: Schema, purposes: PurposeSet) throws -> RetentionPolicy {
        try parse(PolicySet.read(directory, "retention.yaml"), name: directory + "/retention.yaml", schema: schema, purposes: purposes)
    }

    /// Parses retention YAML; every error names the file, the line and the key. A file with
    /// no rules (as vaults made before retention have) is a policy that keeps everything.
    public static func parse(_ data: Data, name: String, schema: Schema, purposes: PurposeSet) throws -> RetentionPolicy {
        try PolicySet.validate(data, name: name)
        let root = try PolicySet.compose(data, name: name)
        let reader = PolicyReader(file: name)
        let top = try reader.mapping(root, key: nil)
        try reader.onlyKeys(top, ["version", "category_field", "default_category", "categories", "events", "rules"], at: nil, node: root)

        func plainField(_ node: Node?, key: String, parent: Node, date: Bool) throws -> String? {
            guard let name = try reader.string(node, key: key, node: parent) else { return nil }
            try checkPlainField(name, key: key, at: node ?? parent, date: date)
            return name
        }
        func checkPlainField(_ name: String, key: String, at: Node, date: Bool) throws {
            guard let spec = schema[name] else { throw reader.error(at, key: key, "'\(name)' is not a field of schema.yaml") }
            guard !spec.encrypted else {
                throw reader.error(at, key: key, "field \(name) is encrypted: retention reads only unencrypted fields (a sweep never decrypts)")
            }
            if date && spec.kind != .date { throw reader.error(at, key: key, "field \(name) is not a date field (normalizer date)") }
        }

        let categoryField = try plainField(top["category_field"], key: "category_field", parent: root, date: false)
        var categories: [RetentionCategory] = []
        if let node = top["categories"] {
            var seenValues: [String: String] = [:]
            for (keyNode, specNode) in try reader.mapping(node, key: "categories") {
                guard let id = keyNode.string, AccessPolicy.isValidName(id), id != anyCategory else {
                    throw reader.error(keyNode, key: "categories", "category names are lower-case letters, digits and '-', starting with a letter (and not 'any')")
                }
                let path = "categories.\(id)"
                let spec = try reader.mapping(specNode, key: path)
                try reader.onlyKeys(spec, ["description", "values"], at: path, node: specNode)
                let values = try stringList(spec["values"], key: "\(path).values", parent: specNode, reader: reader)
                for value in values {
                    if let other = seenValues[value] {
                        throw reader.error(spec["values"] ?? specNode, key: "\(path).values", "value '\(value)' is already listed for category \(other)")
                    }
                    seenValues[value] = id
                }
                categories.append(RetentionCategory(
                    name: id, description: try reader.string(spec["description"], key: "\(path).description", node: specNode) ?? "", values: values))
            }
            if !categories.isEmpty && categoryField == nil {
                throw reader.error(node, key: "categories", "needs category_field: the record field whose value decides the category")
            }
        }
        let defaultCategory = try reader.string(top["default_category"], key: "default_category", node: root)
        if let defaultCategory, !categories.contains(where: { $0.name == defaultCategory }) {
            throw reader.error(top["default_category"] ?? root, key: "default_category", "'\(defaultCategory)' is not a category of this file")
        }

        var created: String?, lastInteraction: String?, accountClosed: String?
        if let node = top["events"] {
            let events = try reader.mapping(node, key: "events")
            try reader.onlyKeys(events, ["created", "last_interaction", "account_closed"], at: "events", node: node)
            created = try plainField(events["created"], key: "events.created", parent: node, date: true)
            lastInteraction = try plainField(events["last_interaction"], key: "events.last_interaction", parent: node, date: true)
            accountClosed = try plainField(events["account_closed"], key: "events.account_closed", parent: node, date: true)
        }

        var rules: [RetentionRule] = []
        if let node = top["rules"] {
            for (keyNode, specNode) in try reader.mapping(node, key: "rules") {
                guard let id = keyNode.string, AccessPolicy.isValidName(id) else {
                    throw reader.error(keyNode, key: "rules", "rule names are lower-case letters, digits and '-', starting with a letter")
                }
                let path = "rules.\(id)"
                let spec = try reader.mapping(specNode, key: path)
                try reader.onlyKeys(spec, ["category", "period", "from", "purpose", "action", "fields", "keep", "legal_reason"], at: path, node: specNode)
                let categoryName = try reader.required(try reader.string(spec["category"], key: "\(path).category", node: specNode),
                                                       key: "\(path).category", node: specNode)
                if categoryName != anyCategory && !categories.contains(where: { $0.name == categoryName }) {
                    throw reader.error(spec["category"] ?? specNode, key: "\(path).category",
                                       "'\(categoryName)' is not a category of this file (categories: \((categories.map(\.name) + [anyCategory]).joined(separator: ", ")))")
                }
                let periodText = try reader.required(try reader.string(spec["period"], key: "\(path).period", node: specNode), key: "\(path).period", node: specNode)
                guard let period = ISODuration(periodText), !period.isZero else {
                    throw reader.error(spec["period"] ?? specNode, key: "\(path).period", "must be an ISO 8601 duration longer than zero, such as P2Y, P18M, P90D or P6W")
                }
                let fromText = try reader.required(try reader.string(spec["from"], key: "\(path).from", node: specNode), key: "\(path).from", node: specNode)
                let fromNode = spec["from"] ?? specNode
                let purpose = try reader.string(spec["purpose"], key: "\(path).purpose", node: specNode)
                let from: RetentionEvent
                switch fromText {
                case "created": from = .created
                case "last_interaction": from = .lastInteraction
                case "account_closed":
                    guard accountClosed != nil else {
                        throw reader.error(fromNode, key: "\(path).from", "account_closed needs events.account_closed: the date field that records when an account closed")
                    }
                    from = .accountClosed
                case "consent_withdrawn":
                    guard let purpose else { throw reader.error(specNode, key: "\(path).purpose", "is missing: consent_withdrawn counts from the withdrawal of a purpose") }
                    guard let known = purposes[purpose] else {
                        throw reader.error(spec["purpose"] ?? specNode, key: "\(path).purpose", "'\(purpose)' is not a purpose of purposes.yaml")
                    }
                    guard known.consent != .notRequired else {
                        throw reader.error(spec["purpose"] ?? specNode, key: "\(path).purpose", "purpose \(purpose) needs no consent, so it is never withdrawn")
                    }
                    from = .consentWithdrawn(purpose: purpose)
                default:
                    guard fromText.hasPrefix("field:") else {
                        throw reader.error(fromNode, key: "\(path).from", "must be created, last_interaction, account_closed, consent_withdrawn or field:NAME")
                    }
                    let field = String(fromText.dropFirst(6))
                    try checkPlainField(field, key: "\(path).from", at: fromNode, date: true)
                    from = .field(field)
                }
                if purpose != nil, case .consentWithdrawn = from {} else if purpose != nil {
                    throw reader.error(spec["purpose"] ?? specNode, key: "\(path).purpose", "applies only to from: consent_withdrawn")
                }
                let action: RetentionAction = try reader.choice(spec["action"], key: "\(path).action", node: specNode)
                var fields: [String] = []
                var keep: [String] = []
                switch action {
                case .erase:
                    for key in ["fields", "keep"] where spec[key] != nil {
                        throw reader.error(spec[key] ?? specNode, key: "\(path).\(key)", "does not apply to action erase")
                    }
                case .eraseFields:
                    if spec["keep"] != nil { throw reader.error(spec["keep"] ?? specNode, key: "\(path).keep", "applies only to action anonymize") }
                    fields = try stringList(spec["fields"], key: "\(path).fields", parent: specNode, reader: reader)
                    for field in fields where schema[field] == nil {
                        throw reader.error(spec["fields"] ?? specNode, key: "\(path).fields", "'\(field)' is not a field of schema.yaml")
                    }
                case .anonymize:
                    if spec["fields"] != nil { throw reader.error(spec["fields"] ?? specNode, key: "\(path).fields", "applies only to action erase_fields") }
                    keep = try stringList(spec["keep"], key: "\(path).keep", parent: specNode, reader: reader)
                    for field in keep {
                        guard let kept = schema[field] else {
                            throw reader.error(spec["keep"] ?? specNode, key: "\(path).keep", "'\(field)' is not a field of schema.yaml")
                        }
                        // An encrypted field is identifying by the schema's own judgement, and
                        // its key is shredded with the subject anyway.
                        guard !kept.encrypted, !["identity", "contact"].contains(kept.category) else {
                            throw reader.error(spec["keep"] ?? specNode, key: "\(path).keep",
                                               "field \(field) identifies a person (encrypted or of category \(kept.category)); anonymize keeps only non-identifying fields")
                        }
                    }
                }
                let reason = try reader.required(try reader.string(spec["legal_reason"], key: "\(path).legal_reason", node: specNode),
                                                 key: "\(path).legal_reason", node: specNode)
                guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
                    throw reader.error(spec["legal_reason"] ?? specNode, key: "\(path).legal_reason", "must not be empty")
                }
                rules.append(RetentionRule(name: id, category: categoryName == anyCategory ? nil : categoryName, period: period, from: from,
                                           action: action, fields: fields, keep: keep, legalReason: reason))
            }
        }
        if !rules.isEmpty && categories.isEmpty && rules.contains(where: { $0.category != nil }) {
            throw reader.error(root, key: "categories", "is missing: rules name categories")
        }
        return RetentionPolicy(categoryField: categoryField, defaultCategory: defaultCategory, categories: categories,
                               createdField: created, lastInteractionField: lastInteraction, accountClosedField: accountClosed, rules: rules)
    }

    private static func stringList(_ node: Node?, key: String, parent: Node, reader: PolicyReader) throws -> [String] {
        try reader.strings(node, key: key, parent: parent, required: true)
    }
}
