public import Foundation
import Yams

/// How a field that a role may see only partly is shown (used by the access policy).
public enum MaskRule: String, Sendable, Codable, CaseIterable {
    case email, phone, name, last4, hidden, none
}

/// What happens to a value its normalizer rejects.
public enum Validation: String, Sendable, Codable, CaseIterable {
    /// The value is rejected (the import lists it in the reject report).
    case strict
    /// The value is stored as given and counted as invalid in the quality report.
    case lenient
}

/// One field of the record schema.
public struct FieldSpec: Sendable, Equatable {
    public let name: String
    public let category: String
    public let encrypted: Bool
    public let kind: FieldKind
    public let validation: Validation
    /// Size of the blind index in bits, or nil when the field has none.
    public let blindIndexBits: Int?
    public let mask: MaskRule
    /// Sensitive personal information (CPRA § 1798.140(ae); GDPR art. 9; PIPL art. 28): used
    /// after a subject's limit only for the purposes marked `sensitive_after_limit`.
    public var sensitive = false
}

/// The record schema (`Policies/schema.yaml`): the fields of a customer record and how
/// each is encrypted, normalized, validated, indexed and masked.
public struct Schema: Sendable {
    public static let categories = ["contact", "identity", "financial", "demographic", "location", "behavioural", "account"]

    public let fields: [FieldSpec]
    public let defaultRegion: String
    public let regionField: String?
    private let byName: [String: Int]

    public subscript(name: String) -> FieldSpec? { byName[name].map { fields[$0] } }

    /// "'emial' is not a field of the schema (did you mean 'email'?)".
    package func unknownField(_ name: String) -> String {
        "'\(name)' is not a field of the schema\(Suggestion.didYouMean(name, among: fields.map(\.name)))"
    }

    /// Fields with a blind index.
    public var indexedFields: [FieldSpec] { fields.filter { $0.blindIndexBits != nil } }

    /// Loads `schema.yaml` from a policy directory.
    public static func load(from directory: String) throws -> Schema {
        let path = directory + "/schema.yaml"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PrivacyKitError(.notFound, "policy file \(path) is missing")
        }
        return try parse(data, name: path)
    }

    /// Parses schema YAML; every error names the file, the line and the key.
    public static func parse(_ data: Data, name: String) throws -> Schema {
        try PolicySet.validate(data, name: name)
        let root = try PolicySet.compose(data, name: name)
        let reader = PolicyReader(file: name)
        let top = try reader.mapping(root, key: nil)
        try reader.onlyKeys(top, ["version", "default_region", "region_field", "fields"], at: nil, node: root)
        let region = try reader.string(top["default_region"], key: "default_region", node: root) ?? "US"
        guard region.count == 2, region.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw reader.error(top["default_region"] ?? root, key: "default_region", "must be an ISO 3166-1 alpha-2 code such as US")
        }
        let regionField = try reader.string(top["region_field"], key: "region_field", node: root)
        guard let fieldsNode = top["fields"] else {
            throw reader.error(root, key: "fields", "is missing")
        }
        let fieldMap = try reader.mapping(fieldsNode, key: "fields")
        var fields: [FieldSpec] = []
        var byName: [String: Int] = [:]
        for (keyNode, specNode) in fieldMap {
            guard let fieldName = keyNode.string, FieldSpec.isValidName(fieldName) else {
                throw reader.error(keyNode, key: "fields", "field names are lower-case letters, digits and '_', starting with a letter")
            }
            let path = "fields.\(fieldName)"
            let spec = try reader.mapping(specNode, key: path)
            try reader.onlyKeys(spec, ["category", "encrypted", "normalizer", "validation", "blind_index", "mask", "sensitive"], at: path, node: specNode)
            let category = try reader.required(reader.string(spec["category"], key: "\(path).category", node: specNode), key: "\(path).category", node: specNode)
            guard categories.contains(category) else {
                throw reader.error(spec["category"] ?? specNode, key: "\(path).category", "unknown category '\(category)' (one of \(categories.joined(separator: ", ")))")
            }
            let encrypted = try reader.required(reader.bool(spec["encrypted"], key: "\(path).encrypted", node: specNode), key: "\(path).encrypted", node: specNode)
            let kind: FieldKind = try reader.choice(spec["normalizer"], key: "\(path).normalizer", node: specNode)
            let validation: Validation = try reader.choice(spec["validation"], key: "\(path).validation", node: specNode, default: .strict)
            let mask: MaskRule = try reader.choice(spec["mask"], key: "\(path).mask", node: specNode, default: .hidden)
            var bits: Int?
            if let indexNode = spec["blind_index"] {
                if indexNode.bool == false {
                    bits = nil
                } else if let value = indexNode.int, value >= 16, value <= 256, value % 8 == 0 {
                    bits = value
                } else {
                    throw reader.error(indexNode, key: "\(path).blind_index", "must be false or a number of bits from 16 to 256, a multiple of 8")
                }
            }
            if bits != nil && !encrypted {
                throw reader.error(spec["blind_index"] ?? specNode, key: "\(path).blind_index", "only encrypted fields get a blind index (a plain field is searchable as it is)")
            }
            let sensitive = try reader.bool(spec["sensitive"], key: "\(path).sensitive", node: specNode) ?? false
            if sensitive && !encrypted {
                throw reader.error(spec["sensitive"] ?? specNode, key: "\(path).sensitive", "a sensitive field must be encrypted")
            }
            byName[fieldName] = fields.count
            fields.append(FieldSpec(name: fieldName, category: category, encrypted: encrypted, kind: kind,
                                    validation: validation, blindIndexBits: bits, mask: mask, sensitive: sensitive))
        }
        if let regionField {
            guard let field = byName[regionField].map({ fields[$0] }) else {
                throw reader.error(top["region_field"] ?? root, key: "region_field", "names no field of the schema ('\(regionField)')")
            }
            guard field.kind == .country else {
                throw reader.error(top["region_field"] ?? root, key: "region_field", "must name a field whose normalizer is 'country'")
            }
        }
        guard !fields.isEmpty else {
            throw reader.error(fieldsNode, key: "fields", "must list at least one field")
        }
        return Schema(fields: fields, defaultRegion: region, regionField: regionField, byName: byName)
    }
}

extension FieldSpec {
    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= 0x61, first <= 0x7a, name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "_") }
    }
}

/// Reads policy YAML nodes with errors that name the file, line and key.
struct PolicyReader {
    let file: String

    func error(_ node: Node, key: String?, _ problem: String) -> PrivacyKitError {
        let line = node.mark.map { "line \($0.line): " } ?? ""
        let keyText = key.map { "key '\($0)' " } ?? ""
        return PrivacyKitError(.invalidInput, "\(file): \(line)\(keyText)\(problem)")
    }

    func mapping(_ node: Node, key: String?) throws -> Node.Mapping {
        guard let mapping = node.mapping else { throw error(node, key: key, "must be a mapping") }
        return mapping
    }

    func onlyKeys(_ mapping: Node.Mapping, _ allowed: [String], at path: String?, node: Node) throws {
        for key in mapping.keys {
            guard let name = key.string, allowed.contains(name) else {
                let prefix = path.map { "\($0)." } ?? ""
                throw error(key, key: "\(prefix)\(key.string ?? "?")", "is not a known key\(Suggestion.didYouMean(key.string ?? "", among: allowed)) (known: \(allowed.joined(separator: ", ")))")
            }
        }
    }

    func string(_ node: Node?, key: String, node parent: Node) throws -> String? {
        guard let node else { return nil }
        guard let scalar = node.scalar else { throw error(node, key: key, "must be a string") }
        return scalar.string
    }

    func bool(_ node: Node?, key: String, node parent: Node) throws -> Bool? {
        guard let node else { return nil }
        guard let value = node.bool else { throw error(node, key: key, "must be true or false") }
        return value
    }

    /// The items of a list; an absent key is an empty list.
    func list(_ node: Node?, key: String) throws -> [Node] {
        guard let node else { return [] }
        guard let sequence = node.sequence else { throw error(node, key: key, "must be a list") }
        return Array(sequence)
    }

    /// A list of distinct, non-empty strings. `required`: the key must be there with at least
    /// one item; otherwise an absent key is an empty list.
    func strings(_ node: Node?, key: String, parent: Node, required: Bool) throws -> [String] {
        guard let node else {
            if required { throw error(parent, key: key, "is missing") }
            return []
        }
        guard let items = node.sequence, !(required && items.isEmpty) else {
            throw error(node, key: key, required ? "must be a non-empty list" : "must be a list")
        }
        var out: [String] = []
        for item in items {
            guard let text = item.string, !text.isEmpty else { throw error(item, key: key, "must list strings") }
            guard !out.contains(text) else { throw error(item, key: key, "lists '\(text)' twice") }
            out.append(text)
        }
        return out
    }

    func required<T>(_ value: T?, key: String, node: Node) throws -> T {
        guard let value else { throw error(node, key: key, "is missing") }
        return value
    }

    func choice<T: RawRepresentable & CaseIterable>(_ node: Node?, key: String, node parent: Node, default fallback: T? = nil) throws -> T where T.RawValue == String {
        guard let node else {
            if let fallback { return fallback }
            // The fix, not only the fault: which values the missing key takes.
            throw error(parent, key: key, "is missing (add it, one of \(T.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard let text = node.string, let value = T(rawValue: text) else {
            let names = T.allCases.map(\.rawValue)
            throw error(node, key: key, "must be one of \(names.joined(separator: ", "))\(Suggestion.didYouMean(node.string ?? "", among: names))")
        }
        return value
    }
}
