import ArgumentParser
import Foundation
import PrivacyKit

/// Shell completions that come from the vault (issue 22, point 8): roles, purposes and
/// fields from its policy files, read without any secret, from the --vault on the command
/// line being completed, else PRIVACYKIT_VAULT. A vault that cannot be read completes
/// nothing rather than failing the shell.
enum VaultCompletions {
    static let roles = CompletionKind.custom { words, _, _ in
        names(words) { try AccessPolicy.load(from: $0, schema: Schema.load(from: $0), purposes: PurposeSet.load(from: $0)).roleNames }
    }
    static let purposes = CompletionKind.custom { words, _, _ in names(words) { try PurposeSet.load(from: $0).ids } }
    static let fields = CompletionKind.custom { words, _, _ in names(words) { try Schema.load(from: $0).fields.map(\.name) } }
    /// The policy files `policy default` prints.
    static let policyFiles = CompletionKind.list(PolicySet.defaultFiles.map(\.name).sorted())

    /// `read` applied to the policies directory of the vault `words` (the command line being
    /// completed) name.
    static func names(_ words: [String], _ read: (String) throws -> [String]) -> [String] {
        let given = words.firstIndex(of: "--vault").flatMap { words.indices.contains($0 + 1) ? words[$0 + 1] : nil }
            ?? words.first { $0.hasPrefix("--vault=") }.map { String($0.dropFirst("--vault=".count)) }
        guard let vault = given ?? Environment.value("PRIVACYKIT_VAULT") else { return [] }
        return (try? read(vault + "/" + VaultLayout.policiesDirectoryName)) ?? []
    }
}
