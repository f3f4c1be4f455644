public import Foundation
import Yams

/// What a role may be allowed to do (`actions:` in `Policies/access.yaml`).
public enum AccessAction: String, Sendable, Codable, CaseIterable {
    case read, write, export, erase, consent, retention, hold, backup, restore, keys, audit, policy
    /// Data-subject requests: open, verify, extend, close (and read their register).
    case requests
    /// Personal-data breaches: record incidents, list affected subjects.
    case breach
    /// Restricting a subject's processing (GDPR art. 18) and lifting it.
    case restrict

    /// Actions on customer data: they need a purpose the role holds.
    public var needsPurpose: Bool {
        switch self {
        case .read, .write, .export, .erase, .consent: true
        default: false
        }
    }
}

/// The legal ground a purpose rests on (GDPR art. 6(1)).
public enum LawfulBasis: String, Sendable, Codable, CaseIterable {
    case consent, contract
    case legalObligation = "legal-obligation"
    case vitalInterests = "vital-interests"
    case publicTask = "public-task"
    case legitimateInterests = "legitimate-interests"
}

/// Whether processing for a purpose needs the subject's say.
public enum ConsentModel: String, Sendable, Codable, CaseIterable {
    /// Allowed only under a live grant.
    case optIn = "opt-in"
    /// Allowed until the subject objects (a Global Privacy Control signal is an objection).
    case optOut = "opt-out"
    /// No consent involved (contract, legal obligation, …).
    case notRequired = "not-required"
}

extension ConsentModel {
    /// Consent for a consent-based purpose; the right to object (GDPR art. 21) for one
    /// resting on legitimate interests or a public task; nothing otherwise.
    static func `default`(for basis: LawfulBasis) -> ConsentModel {
        switch basis {
        case .consent: .optIn
        case .legitimateInterests, .publicTask: .optOut
        default: .notRequired
        }
    }
}

/// One purpose of `Policies/purposes.yaml`.
public struct Purpose: Sendable, Equatable {
    public let id: String
    public let description: String
    public let lawfulBasis: LawfulBasis
    public let consent: ConsentModel
    /// How long a grant stays valid, in days (nil: until withdrawn).
    public let validForDays: Int?
    /// The notice (privacy policy) version in force, if the purpose has one.
    public let noticeVersion: String?
    /// Whether a grant under an older notice version stops counting.
    public let reconsentOnNoticeChange: Bool
    /// An objection to this (opt-out) purpose is a subject's limit on the use of its
    /// sensitive personal information (CPRA § 1798.121): at most one purpose says so.
    public var limitsSensitive = false
    /// One of the uses CCPA regulations § 7027(m) still allow after a limit: sensitive
    /// fields stay readable for it.
    public var sensitiveAfterLimit = false
    /// The PIPL cases that make this purpose need a separate consent (单独同意): a grant
    /// given for it alone, never together with other purposes.
    public var separateConsent: [SeparateConsentCase] = []
}

/// Where PIPL asks for a separate consent (单独同意).
public enum SeparateConsentCase: String, Sendable, Codable, CaseIterable {
    /// Providing the data to another processor (art. 23).
    case provisionToOthers = "provision-to-others"
    /// Publishing it (art. 25).
    case publication
    /// Images and identity data collected in public places, used for another purpose (art. 26).
    case publicPlaceImages = "public-place-images"
    /// Sensitive personal information (art. 29).
    case sensitive
    /// Providing it outside the People's Republic of China (art. 39).
    case abroad

    public var article: String {
        switch self {
        case .provisionToOthers: "PIPL art. 23"
        case .publication: "PIPL art. 25"
        case .publicPlaceImages: "PIPL art. 26"
        case .sensitive: "PIPL art. 29"
        case .abroad: "PIPL art. 39"
        }
    }
}

/// The purposes personal data is processed for (`Policies/purposes.yaml`).
public struct PurposeSet: Sendable {
    public let purposes: [String: Purpose]

    public subscript(id: String) -> Purpose? { purposes[id] }

    /// The purpose whose objection limits the use of sensitive data, if the policy has one.
    public var limitPurpose: Purpose? { purposes.values.first { $0.limitsSensitive } }

    /// The purpose `id`, or an error naming it and the purposes there are.
    public func require(_ id: String) throws -> Purpose {
        guard let purpose = purposes[id] else {
            throw PrivacyKitError(.invalidInput, "purpose '\(id)' is not defined in purposes.yaml\(Suggestion.didYouMean(id, among: ids)) (purposes: \(ids.joined(separator: ", ")))")
        }
        return purpose
    }
    public var ids: [String] { purposes.keys.sorted() }

    public static func load(from directory: String) throws -> PurposeSet {
        try parse(PolicySet.read(directory, "purposes.yaml"), name: directory + "/purposes.yaml")
    }

    /// Parses purposes YAML; every error names the file, the line and the key.
    public static func parse(_ data: Data, name: String) throws -> PurposeSet {
        try PolicySet.validate(data, name: name)
        let root = try PolicySet.compose(data, name: name)
        let reader = PolicyReader(file: name)
        let top = try reader.mapping(root, key: nil)
        try reader.onlyKeys(top, ["version", "purposes"], at: nil, node: root)
        guard let list = top["purposes"] else {
            throw reader.error(root, key: "purposes", "is missing (a file from before access control? `privacyctl policy default purposes.yaml` prints the default)")
        }
        var purposes: [String: Purpose] = [:]
        for (keyNode, specNode) in try reader.mapping(list, key: "purposes") {
            guard let id = keyNode.string, AccessPolicy.isValidName(id) else {
                throw reader.error(keyNode, key: "purposes", "purpose ids are lower-case letters, digits and '-', starting with a letter")
            }
            let path = "purposes.\(id)"
            let spec = try reader.mapping(specNode, key: path)
            try reader.onlyKeys(spec, ["description", "lawful_basis", "consent", "valid_for_days", "notice_version", "reconsent_on_notice_change",
                                       "limits_sensitive", "sensitive_after_limit", "separate_consent"], at: path, node: specNode)
            let description = try reader.string(spec["description"], key: "\(path).description", node: specNode) ?? ""
            let basis: LawfulBasis = try reader.choice(spec["lawful_basis"], key: "\(path).lawful_basis", node: specNode)
            let consent: ConsentModel = try reader.choice(
                spec["consent"], key: "\(path).consent", node: specNode, default: ConsentModel.default(for: basis))
            if basis == .consent && consent == .notRequired {
                throw reader.error(spec["consent"] ?? specNode, key: "\(path).consent", "a purpose whose lawful basis is consent needs consent (opt-in or opt-out)")
            }
            var days: Int?
            if let node = spec["valid_for_days"] {
                guard let value = node.int, value > 0, value <= 36_500 else {
                    throw reader.error(node, key: "\(path).valid_for_days", "must be a number of days from 1 to 36500")
                }
                guard consent != .notRequired else {
                    throw reader.error(node, key: "\(path).valid_for_days", "applies only to purposes that need consent")
                }
                days = value
            }
            let notice = try reader.string(spec["notice_version"], key: "\(path).notice_version", node: specNode)
            let reconsent = try reader.bool(spec["reconsent_on_notice_change"], key: "\(path).reconsent_on_notice_change", node: specNode) ?? false
            if reconsent && notice == nil {
                throw reader.error(spec["reconsent_on_notice_change"] ?? specNode, key: "\(path).reconsent_on_notice_change", "needs a notice_version")
            }
            let limits = try reader.bool(spec["limits_sensitive"], key: "\(path).limits_sensitive", node: specNode) ?? false
            if limits && consent != .optOut {
                throw reader.error(spec["limits_sensitive"] ?? specNode, key: "\(path).limits_sensitive", "needs consent: opt-out (the use is allowed until the subject limits it)")
            }
            if limits, let other = purposes.values.first(where: { $0.limitsSensitive }) {
                throw reader.error(spec["limits_sensitive"] ?? specNode, key: "\(path).limits_sensitive", "only one purpose limits sensitive data (\(other.id) already does)")
            }
            let afterLimit = try reader.bool(spec["sensitive_after_limit"], key: "\(path).sensitive_after_limit", node: specNode) ?? false
            var separate: [SeparateConsentCase] = []
            if let node = spec["separate_consent"] {
                let names = SeparateConsentCase.allCases.map(\.rawValue)
                for name in try reader.strings(node, key: "\(path).separate_consent", parent: specNode, required: true) {
                    guard let value = SeparateConsentCase(rawValue: name) else {
                        throw reader.error(node, key: "\(path).separate_consent", "'\(name)' is not a PIPL separate-consent case (one of \(names.joined(separator: ", ")))")
                    }
                    separate.append(value)
                }
                guard consent == .optIn || separate.isEmpty else {
                    throw reader.error(node, key: "\(path).separate_consent", "needs consent: opt-in (a separate consent is a grant)")
                }
            }
            purposes[id] = Purpose(id: id, description: description, lawfulBasis: basis, consent: consent, validForDays: days,
                                   noticeVersion: notice, reconsentOnNoticeChange: reconsent, limitsSensitive: limits, sensitiveAfterLimit: afterLimit,
                                   separateConsent: separate)
        }
        guard !purposes.isEmpty else { throw reader.error(list, key: "purposes", "must list at least one purpose") }
        return PurposeSet(purposes: purposes)
    }
}

/// One role of `Policies/access.yaml`.
public struct Role: Sendable, Equatable {
    public let name: String
    public let description: String
    public let actions: Set<AccessAction>
    /// Fields read in full.
    public let fullFields: Set<String>
    /// Fields read masked (never also in `fullFields`).
    public let maskedFields: Set<String>
    public let purposes: Set<String>
    /// Whether the role sees subjects only by pseudonym (`subject_ids: pseudonymous`): lists,
    /// finds, duplicate clusters and audiences give it the keyed pseudonym (as in the audit
    /// log) instead of the subject id.
    public let pseudonymousIDs: Bool
}

/// How a role sees one field.
public enum FieldView: String, Sendable, Codable {
    case full, masked
}

/// An access decision and the rule that made it.
public struct AccessDecision: Sendable, Equatable {
    public enum Outcome: String, Sendable, Codable {
        case allowed, masked, denied
    }

    public let outcome: Outcome
    /// Which rule decided, in words that name the policy keys (`roles.marketer.actions`).
    public let rule: String

    public var isAllowed: Bool { outcome != .denied }
}

/// Roles → actions, fields and purposes (`Policies/access.yaml`), checked against the
/// schema and the purposes: a role naming an unknown field, category or purpose is a
/// policy error, never a silent deny-all or allow-all.
public struct AccessPolicy: Sendable {
    public let roles: [String: Role]
    public let purposes: PurposeSet
    /// Who may still read a subject whose processing is restricted (GDPR art. 18), from
    /// `restricted:`: a role in `roles` acting for a purpose in `purposes`. Absent: nobody.
    public var restrictedRoles: Set<String> = []
    public var restrictedPurposes: Set<String> = []

    init(roles: [String: Role], purposes: PurposeSet) {
        self.roles = roles
        self.purposes = purposes
    }

    /// Whether `context` may process a restricted subject.
    public func mayProcessRestricted(role: String, purpose: String?) -> Bool {
        guard let purpose else { return false }
        return restrictedRoles.contains(role) && restrictedPurposes.contains(purpose)
    }

    public var roleNames: [String] { roles.keys.sorted() }

    public static func load(from directory: String, schema: Schema, purposes: PurposeSet) throws -> AccessPolicy {
        try parse(PolicySet.read(directory, "access.yaml"), name: directory + "/access.yaml", schema: schema, purposes: purposes)
    }

    /// Parses access YAML; stops at the first error (see ``check(_:name:schema:purposes:)``
    /// for all of them).
    public static func parse(_ data: Data, name: String, schema: Schema, purposes: PurposeSet) throws -> AccessPolicy {
        let (policy, errors) = check(data, name: name, schema: schema, purposes: purposes)
        if let first = errors.first { throw first }
        guard let policy else { throw PrivacyKitError(.internal, "\(name): no policy and no error") }
        return policy
    }

    /// Parses access YAML and returns every error found (one per role at most, plus the
    /// file's own), each naming the file, the line and the key.
    public static func check(_ data: Data, name: String, schema: Schema, purposes: PurposeSet) -> (AccessPolicy?, [PrivacyKitError]) {
        let reader = PolicyReader(file: name)
        let root: Node
        let top: Node.Mapping
        let rolesMapping: Node.Mapping
        do {
            try PolicySet.validate(data, name: name)
            root = try PolicySet.compose(data, name: name)
            top = try reader.mapping(root, key: nil)
            try reader.onlyKeys(top, ["version", "roles", "restricted"], at: nil, node: root)
            guard let rolesNode = top["roles"] else {
                throw reader.error(root, key: "roles", "is missing (a file from before access control? `privacyctl policy default access.yaml` prints the default)")
            }
            rolesMapping = try reader.mapping(rolesNode, key: "roles")
            guard !rolesMapping.isEmpty else { throw reader.error(rolesNode, key: "roles", "must list at least one role") }
        } catch {
            return (nil, [error as? PrivacyKitError ?? PrivacyKitError(.invalidInput, "\(name): not a valid access policy")])
        }
        var roles: [String: Role] = [:]
        var errors: [PrivacyKitError] = []
        for (keyNode, specNode) in rolesMapping {
            do {
                guard let roleName = keyNode.string, isValidName(roleName) else {
                    throw reader.error(keyNode, key: "roles", "role names are lower-case letters, digits and '-', starting with a letter")
                }
                roles[roleName] = try parseRole(roleName, specNode, reader: reader, schema: schema, purposes: purposes)
            } catch {
                errors.append(error as? PrivacyKitError ?? PrivacyKitError(.invalidInput, "\(name): role \(keyNode.string ?? "?") is not valid"))
            }
        }
        var policy = AccessPolicy(roles: roles, purposes: purposes)
        if let node = top["restricted"] {
            do {
                let spec = try reader.mapping(node, key: "restricted")
                try reader.onlyKeys(spec, ["roles", "purposes"], at: "restricted", node: node)
                for item in try list(spec["roles"], key: "restricted.roles", reader: reader) {
                    guard let text = item.string, rolesMapping.contains(where: { $0.key.string == text }) else {
                        throw reader.error(item, key: "restricted.roles", "'\(item.string ?? "?")' is not a role of this file")
                    }
                    policy.restrictedRoles.insert(text)
                }
                for item in try list(spec["purposes"], key: "restricted.purposes", reader: reader) {
                    guard let text = item.string, purposes[text] != nil else {
                        throw reader.error(item, key: "restricted.purposes", "'\(item.string ?? "?")' is not a purpose of purposes.yaml")
                    }
                    policy.restrictedPurposes.insert(text)
                }
            } catch {
                errors.append(error as? PrivacyKitError ?? PrivacyKitError(.invalidInput, "\(name): restricted is not valid"))
            }
        }
        return (errors.isEmpty ? policy : nil, errors)
    }

    private static func parseRole(_ name: String, _ node: Node, reader: PolicyReader, schema: Schema, purposes: PurposeSet) throws -> Role {
        let path = "roles.\(name)"
        let spec = try reader.mapping(node, key: path)
        try reader.onlyKeys(spec, ["description", "actions", "read", "read_masked", "purposes", "subject_ids"], at: path, node: node)
        let description = try reader.string(spec["description"], key: "\(path).description", node: node) ?? ""
        var actions: Set<AccessAction> = []
        for item in try list(spec["actions"], key: "\(path).actions", reader: reader) {
            guard let text = item.string, let action = AccessAction(rawValue: text) else {
                throw reader.error(item, key: "\(path).actions", "unknown action '\(item.string ?? "?")' (one of \(AccessAction.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            actions.insert(action)
        }
        func fields(_ key: String) throws -> Set<String> {
            var result: Set<String> = []
            for item in try list(spec[key], key: "\(path).\(key)", reader: reader) {
                guard let text = item.string else { throw reader.error(item, key: "\(path).\(key)", "must be a field name") }
                if text == "all" {
                    result.formUnion(schema.fields.map(\.name))
                } else if text.hasPrefix("category:") {
                    let category = String(text.dropFirst("category:".count))
                    guard Schema.categories.contains(category) else {
                        throw reader.error(item, key: "\(path).\(key)", "unknown category '\(category)' (one of \(Schema.categories.joined(separator: ", ")))")
                    }
                    result.formUnion(schema.fields.filter { $0.category == category }.map(\.name))
                } else {
                    guard schema[text] != nil else {
                        throw reader.error(item, key: "\(path).\(key)", "unknown field '\(text)' (schema.yaml has \(schema.fields.map(\.name).joined(separator: ", ")))")
                    }
                    result.insert(text)
                }
            }
            return result
        }
        let full = try fields("read")
        let masked = try fields("read_masked").subtracting(full)
        var held: Set<String> = []
        for item in try list(spec["purposes"], key: "\(path).purposes", reader: reader) {
            guard let text = item.string else { throw reader.error(item, key: "\(path).purposes", "must be a purpose id") }
            if text == "all" {
                held.formUnion(purposes.ids)
            } else {
                guard purposes[text] != nil else {
                    throw reader.error(item, key: "\(path).purposes", "unknown purpose '\(text)' (purposes.yaml has \(purposes.ids.joined(separator: ", ")))")
                }
                held.insert(text)
            }
        }
        if !(full.isEmpty && masked.isEmpty) && !actions.contains(.read) && !actions.contains(.export) {
            throw reader.error(spec["read"] ?? spec["read_masked"] ?? node, key: path, "lists fields to read but neither the read nor the export action")
        }
        if actions.contains(where: \.needsPurpose) && held.isEmpty {
            throw reader.error(node, key: "\(path).purposes", "is empty, but the role's actions on customer data need a purpose")
        }
        var pseudonymous = false
        if let node = spec["subject_ids"] {
            switch node.string {
            case "real": pseudonymous = false
            case "pseudonymous": pseudonymous = true
            default: throw reader.error(node, key: "\(path).subject_ids", "must be real or pseudonymous")
            }
        }
        return Role(name: name, description: description, actions: actions, fullFields: full, maskedFields: masked, purposes: held,
                     pseudonymousIDs: pseudonymous)
    }

    private static func list(_ node: Node?, key: String, reader: PolicyReader) throws -> [Node] {
        try reader.list(node, key: key)
    }

    static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first >= 0x61, first <= 0x7a, name.utf8.count <= 64 else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7a) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "-") }
    }

    // MARK: Decisions

    /// Decides one request. `field` applies to reading actions (read, export); a field is
    /// allowed in full, allowed masked, or denied.
    ///
    /// - Throws: `.invalidInput` for a role or purpose the policy does not define (a
    ///   mistake to fix, not a decision to make).
    public func decide(role roleName: String, action: AccessAction, field: String? = nil, purpose: String?) throws -> AccessDecision {
        guard let role = roles[roleName] else {
            throw PrivacyKitError(.invalidInput, "role '\(roleName)' is not defined in access.yaml\(Suggestion.didYouMean(roleName, among: roleNames)) (roles: \(roleNames.joined(separator: ", ")))")
        }
        if let purpose { _ = try purposes.require(purpose) }
        let path = "roles.\(roleName)"
        guard role.actions.contains(action) else {
            return AccessDecision(outcome: .denied, rule: "\(path).actions does not include \(action.rawValue)")
        }
        if let purpose {
            guard role.purposes.contains(purpose) else {
                return AccessDecision(outcome: .denied, rule: "\(path).purposes does not include \(purpose)")
            }
        } else if action.needsPurpose {
            return AccessDecision(outcome: .denied, rule: "\(action.rawValue) needs a purpose; \(path).purposes: \(role.purposes.sorted().joined(separator: ", "))")
        }
        guard let field, action == .read || action == .export else {
            return AccessDecision(outcome: .allowed, rule: "\(path).actions includes \(action.rawValue)" + (purpose.map { " and \(path).purposes includes \($0)" } ?? ""))
        }
        if role.fullFields.contains(field) {
            return AccessDecision(outcome: .allowed, rule: "\(path).read includes \(field)")
        }
        if role.maskedFields.contains(field) {
            return AccessDecision(outcome: .masked, rule: "\(path).read_masked includes \(field)")
        }
        return AccessDecision(outcome: .denied, rule: "field \(field) is in neither \(path).read nor \(path).read_masked")
    }
}
