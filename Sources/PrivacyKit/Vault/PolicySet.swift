public import Foundation
import Sodium
import Yams

/// The policy files of a vault (`Policies/`): schema, purposes, retention, access.
///
/// The default set is the repository's top-level `Policies/`, embedded at build time.
/// This version checks that each file is a YAML mapping with a `version`; later versions
/// give each file its full meaning.
public enum PolicySet {
    /// The files every vault has.
    public static let requiredFiles = ["access.yaml", "purposes.yaml", "retention.yaml", "schema.yaml"]
    /// Files a vault may have: checked, backed up and restored when present.
    public static let optionalFiles = [ProcessingPolicy.fileName, RegimePolicy.fileName]

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

    /// Checks every policy file of a directory and returns every error found (the schema
    /// and purposes stop at their first error; access reports one per role), each naming
    /// the file, line and key. Empty: the set loads.
    public static func check(directory: String) -> [PrivacyKitError] {
        var errors: [PrivacyKitError] = []
        func attempt<T>(_ body: () throws -> T) -> T? {
            do { return try body() } catch let error as PrivacyKitError { errors.append(error) } catch {
                errors.append(PrivacyKitError(.invalidInput, "\(directory): \(error)"))
            }
            return nil
        }
        for name in requiredFiles {
            _ = attempt { try validate(try read(directory, name), name: directory + "/" + name) }
        }
        guard errors.isEmpty else { return errors }
        let schema = attempt { try Schema.load(from: directory) }
        let purposes = attempt { try PurposeSet.load(from: directory) }
        var retention: RetentionPolicy?
        if let schema, let purposes, let data = attempt({ try read(directory, "access.yaml") }) {
            errors += AccessPolicy.check(data, name: directory + "/access.yaml", schema: schema, purposes: purposes).1
            retention = attempt { try RetentionPolicy.load(from: directory, schema: schema, purposes: purposes) }
        } else {
            for name in ["access.yaml", "retention.yaml"] {
                errors.append(PrivacyKitError(.invalidInput, "\(directory)/\(name): not checked, because it refers to schema.yaml and purposes.yaml, which have errors"))
            }
        }
        errors += ProcessingPolicy.checkFile(in: directory, schema: schema, purposes: purposes, retention: retention)
        _ = attempt { try RegimePolicy.load(from: directory) }
        return errors
    }

    /// What `policy validate` notes without failing: optional files a directory lacks.
    public static func notes(directory: String) -> [String] {
        [ProcessingPolicy.note(directory: directory)].compactMap { $0 }
    }

    /// A digest of every `.yaml` file of a policy directory (names and contents): what the
    /// vault compares to notice that its policies changed.
    static func digest(of directory: String) throws -> String {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") }.sorted()
        var canonical = Canonical("privacykit.policy-set.v1")
        for name in names {
            canonical.append(name)
            canonical.append([UInt8](try read(directory, name)))
        }
        return Hex.encode(try BLAKE2b.hash(canonical.bytes))
    }

    /// The bytes of one policy file of a directory.
    static func read(_ directory: String, _ name: String) throws -> Data {
        let path = directory + "/" + name
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PrivacyKitError(.notFound, "policy file \(path) is missing")
        }
        return data
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
