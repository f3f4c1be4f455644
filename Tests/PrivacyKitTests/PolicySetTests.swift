import Foundation
@testable import PrivacyKit
import Testing

@Suite("Policy set")
struct PolicySetTests {
    /// The repository's top-level Policies/ directory.
    static let repositoryPolicies = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Policies")

    @Test func embeddedDefaultsAreTheRepositoryFiles() throws {
        let embedded = PolicySet.defaultFiles
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.repositoryPolicies.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(embedded.map(\.name) == names)
        for file in embedded {
            let onDisk = try Data(contentsOf: Self.repositoryPolicies.appendingPathComponent(file.name))
            #expect(file.contents == onDisk, "\(file.name) differs from the embedded copy")
        }
        #expect(Set(names).isSuperset(of: PolicySet.requiredFiles))
    }

    @Test func everyDefaultFileIsValid() throws {
        for file in PolicySet.defaultFiles {
            try PolicySet.validate(file.contents, name: file.name)
        }
    }

    @Test(arguments: [
        ("version: 1\nkey: [unclosed\n", "line"),
        ("- a list\n- not a mapping\n", "mapping"),
        ("name: no version\n", "version"),
        ("version: 2\n", "version"),
        ("version: 1\n  bad: indentation\n", "line"),
    ])
    func invalidPolicyIsRejectedWithWhere(yaml: String, mentions: String) throws {
        let error = expectError(.invalidInput) { try PolicySet.validate(Data(yaml.utf8), name: "schema.yaml") }
        #expect(error?.message.hasPrefix("schema.yaml") == true)
        #expect(error?.message.contains(mentions) == true, "\(error?.message ?? "")")
    }

    @Test func aVaultWithABrokenPolicyIsReported() throws {
        let dir = try TempDirectory()
        let vault = try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: testPassphrase(), kdfLimits: fastLimits)
        try PolicySet.validateDirectory(vault.policiesPath)
        try writeFile(vault.policiesPath + "/access.yaml", Array("version: [\n".utf8), mode: 0o644)
        let error = expectError(.invalidInput) { try PolicySet.validateDirectory(vault.policiesPath) }
        #expect(error?.message.contains("access.yaml") == true)
        try FileManager.default.removeItem(atPath: vault.policiesPath + "/access.yaml")
        expectError(.notFound) { try PolicySet.validateDirectory(vault.policiesPath) }
    }
}
