public import Foundation
import Yams

/// Per-vault defaults for the identity of admin commands: `<vault>/privacyctl.yaml`.
///
/// ```yaml
/// role: admin
/// purpose: privacy-compliance
/// ```
///
/// `actor`, `role` and `purpose` are all optional; command-line options override them.
/// The file holds no secret. An invalid file is an error naming the file, line and key.
public struct OperatorDefaults: Sendable, Equatable {
    public static let fileName = "privacyctl.yaml"

    public var actor: String?
    public var role: String?
    public var purpose: String?

    public init(actor: String? = nil, role: String? = nil, purpose: String? = nil) {
        self.actor = actor
        self.role = role
        self.purpose = purpose
    }

    /// The vault's defaults; none when the file does not exist.
    public static func load(vaultDirectory: URL) throws -> OperatorDefaults {
        let path = vaultDirectory.path + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return OperatorDefaults() }
        guard let text = String(data: data, encoding: .utf8) else {
            throw PrivacyKitError(.invalidInput, "\(path): not UTF-8 text")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw PrivacyKitError(.invalidInput, "\(path): not valid YAML")
        }
        guard let node else { return OperatorDefaults() }
        let reader = PolicyReader(file: path)
        let mapping = try reader.mapping(node, key: nil)
        try reader.onlyKeys(mapping, ["actor", "role", "purpose"], at: nil, node: node)
        return OperatorDefaults(
            actor: try reader.string(mapping["actor"], key: "actor", node: node),
            role: try reader.string(mapping["role"], key: "role", node: node),
            purpose: try reader.string(mapping["purpose"], key: "purpose", node: node))
    }

    /// Checks the vault's defaults file against the access policy: a role or purpose it
    /// names must exist. Errors name the file, the line and the key; none without a file.
    public static func check(vaultDirectory: URL, access: AccessPolicy) -> [PrivacyKitError] {
        let path = vaultDirectory.path + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        do {
            _ = try load(vaultDirectory: vaultDirectory)
        } catch let error as PrivacyKitError {
            return [error]
        } catch {
            return [PrivacyKitError(.invalidInput, "\(path): not valid")]
        }
        guard let text = String(data: data, encoding: .utf8), let node = try? Yams.compose(yaml: text), let mapping = node.mapping else { return [] }
        let reader = PolicyReader(file: path)
        var errors: [PrivacyKitError] = []
        if let roleNode = mapping["role"], let role = roleNode.string, access.roles[role] == nil {
            errors.append(reader.error(roleNode, key: "role", "unknown role '\(role)' (access.yaml has \(access.roleNames.joined(separator: ", ")))"))
        }
        if let purposeNode = mapping["purpose"], let purpose = purposeNode.string, access.purposes[purpose] == nil {
            errors.append(reader.error(purposeNode, key: "purpose", "unknown purpose '\(purpose)' (purposes.yaml has \(access.purposes.ids.joined(separator: ", ")))"))
        }
        return errors
    }

    /// Writes the defaults file (mode 0600, like everything in the vault directory).
    public func write(vaultDirectory: URL) throws {
        var text = "# Defaults for privacyctl on this vault; --actor, --role and --purpose override them.\n"
        if let actor { text += "actor: \(actor)\n" }
        if let role { text += "role: \(role)\n" }
        if let purpose { text += "purpose: \(purpose)\n" }
        try SecureFiles.replace(Array(text.utf8), at: vaultDirectory.path + "/" + Self.fileName, mode: 0o600)
    }
}
