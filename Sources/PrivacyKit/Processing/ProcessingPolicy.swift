public import Foundation
import Yams

/// The record of processing activities (`Policies/processing.yaml`, GDPR art. 30(1)): the
/// controller, and for each processing activity its purposes, the people and data it
/// concerns, recipients, transfers and their safeguards, retention rules, security
/// measures, sources and automated decisions.
///
/// The file is optional: a vault without it opens as before (nothing the vault decides
/// depends on it), and `privacyctl ropa` refuses to run until it exists. When present it
/// is checked against the other policy files: every purpose, every data category a schema
/// field has and every retention rule belongs to some activity, and every name an activity
/// uses exists.
public struct ProcessingPolicy: Sendable, Equatable {
    public static let fileName = "processing.yaml"

    /// A person or organisation with a postal address and a way to reach it.
    public struct Party: Sendable, Equatable, Codable {
        public let name: String
        public let address: String
        public let contact: String
    }

    /// The data protection officer (GDPR art. 37, PIPL art. 52), where one is designated.
    public struct Officer: Sendable, Equatable, Codable {
        public let name: String?
        public let contact: String
    }

    public struct Controller: Sendable, Equatable, Codable {
        public let name: String
        public let address: String
        public let contact: String
        /// The representative in the EU (GDPR art. 27), for a controller established outside it.
        public let representative: Party?
        public let dpo: Officer?
    }

    public enum RecipientKind: String, Sendable, Codable, CaseIterable {
        case processor, controller, authority, `internal`
    }

    public struct Recipient: Sendable, Equatable, Codable {
        public let name: String
        public let kind: RecipientKind
        /// ISO 3166-1 alpha-2.
        public let country: String
    }

    /// What makes a transfer abroad lawful: GDPR arts. 45–49, PIPL art. 38(1).
    public enum Safeguard: String, Sendable, Codable, CaseIterable {
        case adequacy
        case standardContractualClauses = "standard-contractual-clauses"
        case bindingCorporateRules = "binding-corporate-rules"
        case derogation
        case piplStandardContract = "pipl-standard-contract"
        case piplCertification = "pipl-certification"
        case piplSecurityAssessment = "pipl-security-assessment"
    }

    public struct Transfer: Sendable, Equatable, Codable {
        public let country: String
        /// The name of one of the activity's recipients.
        public let recipient: String
        public let safeguard: Safeguard
        /// The adequacy decision, contract, rules or filing relied on.
        public let reference: String?
    }

    public enum SourceKind: String, Sendable, Codable, CaseIterable {
        case fromSubject = "from-subject"
        case thirdParty = "third-party"
    }

    /// Where an activity's data comes from (GDPR art. 14(2)(f), 15(1)(g)).
    public struct Source: Sendable, Equatable, Codable {
        public let kind: SourceKind
        public let label: String
    }

    /// Automated decision-making, profiling included (GDPR art. 22, 15(1)(h); PIPL art. 24).
    public struct AutomatedDecisions: Sendable, Equatable, Codable {
        public let used: Bool
        public let description: String?
    }

    public struct Activity: Sendable, Equatable {
        public let id: String
        public let name: String
        public let description: String
        public let purposes: [String]
        public let dataSubjects: [String]
        /// Schema categories (``Schema/categories``).
        public let dataCategories: [String]
        public let recipients: [Recipient]
        public let transfers: [Transfer]
        /// Rule names of retention.yaml.
        public let retention: [String]
        public let securityMeasures: [String]
        public let sources: [Source]
        public let automatedDecisions: AutomatedDecisions
    }

    public let controller: Controller
    /// In file order.
    public let activities: [Activity]

    /// Loads `processing.yaml` from a policy directory: nil when the directory has none.
    public static func loadIfPresent(from directory: String, schema: Schema, purposes: PurposeSet, retention: RetentionPolicy) throws -> ProcessingPolicy? {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try parse(data, name: path, schema: schema, purposes: purposes, retention: retention)
    }

    /// What a vault opens with: the policy, or why there is none (`.notFound`: no file;
    /// else its first error). Never throws: the record decides nothing, so it never stops a
    /// vault from opening.
    static func loadForVault(from directory: String, schema: Schema, purposes: PurposeSet, retention: RetentionPolicy) -> (ProcessingPolicy?, PrivacyKitError?) {
        do {
            guard let policy = try loadIfPresent(from: directory, schema: schema, purposes: purposes, retention: retention) else {
                return (nil, PrivacyKitError(.notFound, "\(directory)/\(fileName) is missing: this vault has no record of processing activities (`privacyctl policy default \(fileName)` prints the default to start from)"))
            }
            return (policy, nil)
        } catch {
            return (nil, error as? PrivacyKitError ?? PrivacyKitError(.invalidInput, "\(directory)/\(fileName): not a valid processing policy"))
        }
    }

    /// Every error of a policy directory's `processing.yaml` (none when it has no such
    /// file: see ``note(directory:)``). nil arguments: the files they come from have
    /// errors, and the record is not checked against them.
    static func checkFile(in directory: String, schema: Schema?, purposes: PurposeSet?, retention: RetentionPolicy?) -> [PrivacyKitError] {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        guard let schema, let purposes, let retention else {
            return [PrivacyKitError(.invalidInput, "\(path): not checked, because it refers to schema.yaml, purposes.yaml and retention.yaml, which have errors")]
        }
        return check(data, name: path, schema: schema, purposes: purposes, retention: retention).1
    }

    /// What `policy validate` says of a directory without `processing.yaml` (a note, not an
    /// error: the file is optional).
    static func note(directory: String) -> String? {
        guard !FileManager.default.fileExists(atPath: directory + "/" + fileName) else { return nil }
        return "\(directory)/\(fileName) is missing: optional, but without it there is no record of processing activities (`privacyctl ropa`); `privacyctl policy default \(fileName)` prints the default to start from"
    }

    /// Parses processing YAML; stops at the first error (see
    /// ``check(_:name:schema:purposes:retention:)`` for all of them).
    public static func parse(_ data: Data, name: String, schema: Schema, purposes: PurposeSet, retention: RetentionPolicy) throws -> ProcessingPolicy {
        let (policy, errors) = check(data, name: name, schema: schema, purposes: purposes, retention: retention)
        if let first = errors.first { throw first }
        guard let policy else { throw PrivacyKitError(.internal, "\(name): no policy and no error") }
        return policy
    }

    /// Parses processing YAML and returns every error, each naming the file, the line and
    /// the key: the first error of the file's shape, or else every name that does not
    /// resolve and everything the other policy files have that no activity covers.
    public static func check(
        _ data: Data, name: String, schema: Schema, purposes: PurposeSet, retention: RetentionPolicy
    ) -> (ProcessingPolicy?, [PrivacyKitError]) {
        let reader = PolicyReader(file: name)
        let parsed: (policy: ProcessingPolicy, places: Places)
        do {
            try PolicySet.validate(data, name: name)
            parsed = try shape(try PolicySet.compose(data, name: name), reader: reader)
        } catch {
            return (nil, [error as? PrivacyKitError ?? PrivacyKitError(.invalidInput, "\(name): not a valid processing policy")])
        }
        let errors = crossCheck(parsed.policy, parsed.places, reader: reader, schema: schema, purposes: purposes, retention: retention)
        return (errors.isEmpty ? parsed.policy : nil, errors)
    }

    /// The YAML nodes the cross-check names in its errors.
    struct Places {
        var activities: Node
        /// Per activity: each list item of `purposes`, `data_categories` and `retention`.
        var items: [String: [String: [(String, Node)]]] = [:]
    }

    private static func shape(_ root: Node, reader: PolicyReader) throws -> (ProcessingPolicy, Places) {
        let top = try reader.mapping(root, key: nil)
        try reader.onlyKeys(top, ["version", "controller", "activities"], at: nil, node: root)
        guard let controllerNode = top["controller"] else { throw reader.error(root, key: "controller", "is missing") }
        let controller = try parseController(controllerNode, reader: reader)
        guard let activitiesNode = top["activities"] else { throw reader.error(root, key: "activities", "is missing") }
        let mapping = try reader.mapping(activitiesNode, key: "activities")
        guard !mapping.isEmpty else { throw reader.error(activitiesNode, key: "activities", "must list at least one activity") }
        // Coverage errors point at the `activities:` line itself, where an activity is added.
        var places = Places(activities: top.first { $0.key.string == "activities" }?.key ?? activitiesNode)
        var activities: [Activity] = []
        for (keyNode, specNode) in mapping {
            guard let id = keyNode.string, AccessPolicy.isValidName(id) else {
                throw reader.error(keyNode, key: "activities", "activity ids are lower-case letters, digits and '-', starting with a letter")
            }
            let (activity, items) = try parseActivity(id, specNode, reader: reader)
            activities.append(activity)
            places.items[id] = items
        }
        return (ProcessingPolicy(controller: controller, activities: activities), places)
    }

    private static func parseController(_ node: Node, reader: PolicyReader) throws -> Controller {
        let spec = try reader.mapping(node, key: "controller")
        try reader.onlyKeys(spec, ["name", "address", "contact", "representative", "dpo"], at: "controller", node: node)
        let party = try parseParty(node, spec, path: "controller", reader: reader)
        var representative: Party?
        if let repNode = spec["representative"] {
            let rep = try reader.mapping(repNode, key: "controller.representative")
            try reader.onlyKeys(rep, ["name", "address", "contact"], at: "controller.representative", node: repNode)
            representative = try parseParty(repNode, rep, path: "controller.representative", reader: reader)
        }
        var dpo: Officer?
        if let dpoNode = spec["dpo"] {
            let officer = try reader.mapping(dpoNode, key: "controller.dpo")
            try reader.onlyKeys(officer, ["name", "contact"], at: "controller.dpo", node: dpoNode)
            dpo = Officer(name: try text(officer["name"], key: "controller.dpo.name", parent: dpoNode, reader: reader, required: false),
                          contact: try text(officer["contact"], key: "controller.dpo.contact", parent: dpoNode, reader: reader) ?? "")
        }
        return Controller(name: party.name, address: party.address, contact: party.contact, representative: representative, dpo: dpo)
    }

    private static func parseParty(_ node: Node, _ spec: Node.Mapping, path: String, reader: PolicyReader) throws -> Party {
        Party(name: try text(spec["name"], key: "\(path).name", parent: node, reader: reader) ?? "",
              address: try text(spec["address"], key: "\(path).address", parent: node, reader: reader) ?? "",
              contact: try text(spec["contact"], key: "\(path).contact", parent: node, reader: reader) ?? "")
    }

    private static func parseActivity(_ id: String, _ node: Node, reader: PolicyReader) throws -> (Activity, [String: [(String, Node)]]) {
        let path = "activities.\(id)"
        let spec = try reader.mapping(node, key: path)
        try reader.onlyKeys(spec, ["name", "description", "purposes", "data_subjects", "data_categories", "recipients", "transfers",
                                   "retention", "security_measures", "source", "automated_decisions"], at: path, node: node)
        var items: [String: [(String, Node)]] = [:]
        func located(_ key: String, required: Bool) throws -> [String] {
            let values = try reader.strings(spec[key], key: "\(path).\(key)", parent: node, required: required)
            items[key] = Array(zip(values, spec[key]?.sequence.map { Array($0) } ?? []))
            return values
        }
        let purposes = try located("purposes", required: true)
        let categories = try located("data_categories", required: true)
        let retention = try located("retention", required: false)

        var recipients: [Recipient] = []
        for (index, item) in try reader.list(spec["recipients"], key: "\(path).recipients").enumerated() {
            let key = "\(path).recipients[\(index)]"
            let fields = try reader.mapping(item, key: key)
            try reader.onlyKeys(fields, ["name", "kind", "country"], at: key, node: item)
            let recipient = Recipient(
                name: try text(fields["name"], key: "\(key).name", parent: item, reader: reader) ?? "",
                kind: try reader.choice(fields["kind"], key: "\(key).kind", node: item),
                country: try country(fields["country"], key: "\(key).country", parent: item, reader: reader))
            guard !recipients.contains(where: { $0.name == recipient.name }) else {
                throw reader.error(fields["name"] ?? item, key: "\(key).name", "names recipient '\(recipient.name)' twice")
            }
            recipients.append(recipient)
        }
        var transfers: [Transfer] = []
        for (index, item) in try reader.list(spec["transfers"], key: "\(path).transfers").enumerated() {
            let key = "\(path).transfers[\(index)]"
            let fields = try reader.mapping(item, key: key)
            try reader.onlyKeys(fields, ["country", "recipient", "safeguard", "reference"], at: key, node: item)
            let recipient = try text(fields["recipient"], key: "\(key).recipient", parent: item, reader: reader) ?? ""
            guard recipients.contains(where: { $0.name == recipient }) else {
                throw reader.error(fields["recipient"] ?? item, key: "\(key).recipient",
                                   "'\(recipient)' is not a recipient of this activity\(Suggestion.didYouMean(recipient, among: recipients.map(\.name)))")
            }
            transfers.append(Transfer(
                country: try country(fields["country"], key: "\(key).country", parent: item, reader: reader), recipient: recipient,
                safeguard: try reader.choice(fields["safeguard"], key: "\(key).safeguard", node: item),
                reference: try text(fields["reference"], key: "\(key).reference", parent: item, reader: reader, required: false)))
        }
        var sources: [Source] = []
        for (index, item) in try reader.list(spec["source"], key: "\(path).source").enumerated() {
            let key = "\(path).source[\(index)]"
            let fields = try reader.mapping(item, key: key)
            try reader.onlyKeys(fields, ["kind", "label"], at: key, node: item)
            sources.append(Source(kind: try reader.choice(fields["kind"], key: "\(key).kind", node: item),
                                  label: try text(fields["label"], key: "\(key).label", parent: item, reader: reader) ?? ""))
        }
        guard !sources.isEmpty else { throw reader.error(spec["source"] ?? node, key: "\(path).source", "must name at least one source (kind from-subject or third-party, and a label)") }

        guard let decisionsNode = spec["automated_decisions"] else {
            throw reader.error(node, key: "\(path).automated_decisions", "is missing (used: true or false)")
        }
        let decisions = try reader.mapping(decisionsNode, key: "\(path).automated_decisions")
        try reader.onlyKeys(decisions, ["used", "description"], at: "\(path).automated_decisions", node: decisionsNode)
        let used = try reader.required(reader.bool(decisions["used"], key: "\(path).automated_decisions.used", node: decisionsNode),
                                       key: "\(path).automated_decisions.used", node: decisionsNode)
        let explanation = try text(decisions["description"], key: "\(path).automated_decisions.description", parent: decisionsNode,
                                   reader: reader, required: used)

        let activity = Activity(
            id: id, name: try text(spec["name"], key: "\(path).name", parent: node, reader: reader) ?? "",
            description: try text(spec["description"], key: "\(path).description", parent: node, reader: reader, required: false) ?? "",
            purposes: purposes, dataSubjects: try reader.strings(spec["data_subjects"], key: "\(path).data_subjects", parent: node, required: true),
            dataCategories: categories, recipients: recipients, transfers: transfers, retention: retention,
            securityMeasures: try reader.strings(spec["security_measures"], key: "\(path).security_measures", parent: node, required: false),
            sources: sources, automatedDecisions: AutomatedDecisions(used: used, description: explanation))
        return (activity, items)
    }

    /// Every name an activity uses must exist, and every purpose, field category and
    /// retention rule of the other files must belong to some activity.
    private static func crossCheck(
        _ policy: ProcessingPolicy, _ places: Places, reader: PolicyReader, schema: Schema, purposes: PurposeSet, retention: RetentionPolicy
    ) -> [PrivacyKitError] {
        var errors: [PrivacyKitError] = []
        let ruleNames = retention.rules.map(\.name)
        for activity in policy.activities {
            let path = "activities.\(activity.id)"
            let items = places.items[activity.id] ?? [:]
            for (id, node) in items["purposes"] ?? [] where purposes[id] == nil {
                errors.append(reader.error(node, key: "\(path).purposes",
                                           "'\(id)' is not a purpose of purposes.yaml\(Suggestion.didYouMean(id, among: purposes.ids))"))
            }
            for (category, node) in items["data_categories"] ?? [] where !Schema.categories.contains(category) {
                errors.append(reader.error(node, key: "\(path).data_categories",
                                           "unknown category '\(category)' (one of \(Schema.categories.joined(separator: ", ")))"))
            }
            for (rule, node) in items["retention"] ?? [] where !ruleNames.contains(rule) {
                errors.append(reader.error(node, key: "\(path).retention",
                                           "'\(rule)' is not a rule of retention.yaml\(Suggestion.didYouMean(rule, among: ruleNames))"))
            }
        }
        let covered = (purposes: Set(policy.activities.flatMap(\.purposes)), categories: Set(policy.activities.flatMap(\.dataCategories)),
                       rules: Set(policy.activities.flatMap(\.retention)))
        for id in purposes.ids where !covered.purposes.contains(id) {
            errors.append(reader.error(places.activities, key: "activities", "no activity lists purpose '\(id)' of purposes.yaml (add it to an activity's purposes)"))
        }
        for category in Schema.categories where !covered.categories.contains(category) {
            let fields = schema.fields.filter { $0.category == category }.map(\.name)
            guard !fields.isEmpty else { continue }
            errors.append(reader.error(places.activities, key: "activities",
                                       "no activity lists data category '\(category)', which schema.yaml fields \(fields.joined(separator: ", ")) have (add it to an activity's data_categories)"))
        }
        for rule in ruleNames where !covered.rules.contains(rule) {
            errors.append(reader.error(places.activities, key: "activities", "no activity lists rule '\(rule)' of retention.yaml (add it to an activity's retention)"))
        }
        return errors
    }

    /// A non-empty string; `required`: the key must be there.
    private static func text(_ node: Node?, key: String, parent: Node, reader: PolicyReader, required: Bool = true) throws -> String? {
        guard let value = try reader.string(node, key: key, node: parent) else {
            if required { throw reader.error(parent, key: key, "is missing") }
            return nil
        }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else { throw reader.error(node ?? parent, key: key, "must not be empty") }
        return value
    }

    private static func country(_ node: Node?, key: String, parent: Node, reader: PolicyReader) throws -> String {
        let code = try text(node, key: key, parent: parent, reader: reader) ?? ""
        guard code.count == 2, code.allSatisfy({ $0.isASCII && $0.isUppercase }) else {
            throw reader.error(node ?? parent, key: key, "must be an ISO 3166-1 alpha-2 code such as GB, TW or CN")
        }
        return code
    }
}
