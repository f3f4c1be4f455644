public import Foundation
import Yams

/// The policy files of a vault (`Policies/`): schema, purposes, retention, access.
///
/// The default set is the repository's top-level `Policies/`, embedded at build time.
/// This version checks that each file is a YAML mapping with a `version`; later versions
/// give each file its full meaning.
public enum PolicySet {
    /// The files every vault has.
    public static let requiredFiles = ["access.yaml", "purposes.yaml", "retention.yaml", "schema.yaml"]

    /// The default policy files: name and bytes.
    public static var defaultFiles: [(name: String, contents: Data)] {
        EmbeddedPolicies.files.compactMap { file in
            Data(base64Encoded: file.base64).map { (file.name, $0) }
        }
    }

    /// Checks one policy file's text; the error names the file and, from the YAML parser,
    /// the line.
    public static func validate(_ contents: Data, name: String) throws {
        guard let text = String(data: contents, encoding: .utf8) else {
            throw PrivacyKitError(.invalidInput, "\(name): not UTF-8 text")
        }
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw PrivacyKitError(.invalidInput, "\(name): \(describe(error))")
        } catch {
            throw PrivacyKitError(.invalidInput, "\(name): not valid YAML")
        }
        guard let mapping = node?.mapping else {
            throw PrivacyKitError(.invalidInput, "\(name): line 1: the top level must be a mapping")
        }
        guard let version = mapping["version"] else {
            throw PrivacyKitError(.invalidInput, "\(name): missing key \"version\"")
        }
        guard version.int == 1 else {
            let line = version.mark.map { "line \($0.line): " } ?? ""
            throw PrivacyKitError(.invalidInput, "\(name): \(line)key \"version\" must be 1")
        }
    }

    /// The YAML node tree of a policy file (already checked by ``validate(_:name:)``).
    static func compose(_ contents: Data, name: String) throws -> Node {
        guard let text = String(data: contents, encoding: .utf8), let node = try? Yams.compose(yaml: text) else {
            throw PrivacyKitError(.invalidInput, "\(name): not valid YAML")
        }
        return node
    }

    /// Writes the default set into `directory` (which must exist).
    static func writeDefaults(to directory: String) throws {
        let files = defaultFiles
        let names = Set(files.map(\.name))
        for required in requiredFiles where !names.contains(required) {
            throw PrivacyKitError(.internal, "the default policy set has no \(required) (rebuild PrivacyKit)")
        }
        for file in files {
            try validate(file.contents, name: "default policy \(file.name)")
            try SecureFiles.replace([UInt8](file.contents), at: directory + "/" + file.name, mode: 0o644)
        }
    }

    /// Checks the policy files of a vault.
    static func validateDirectory(_ directory: String) throws {
        for name in requiredFiles {
            let path = directory + "/" + name
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw PrivacyKitError(.notFound, "policy file \(path) is missing")
            }
            try validate(contents, name: path)
        }
    }

    private static func describe(_ error: YamlError) -> String {
        // Yams's description quotes the offending source line; keep only the position and
        // the problem, since a policy file could be fed something that is not policy.
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let where_ = "line \(mark.line), column \(mark.column)"
            return "\(where_): \(problem)\(context.map { " \($0.text)" } ?? "")"
        default:
            return "not valid YAML"
        }
    }
}
