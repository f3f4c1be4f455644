import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Init: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a new vault: store, sealed keyring and default policies.",
            discussion: Examples.discussion("""
                The directory must not exist, or be empty. With a passphrase, the keyring is \
                sealed with Argon2id (--kdf, MODERATE by default); with --key-file, under the \
                32-byte key in that file (see `privacyctl keys generate-key-file`). The records \
                go to a SQLite file in the directory, or with --store postgres://… to a \
                PostgreSQL schema that services on several hosts share; the directory then \
                holds the keyring, the policies and the store's URL without its password.
                """, "init")
        )

        @OptionGroup var access: VaultAccessOptions
        @Option(name: .long, help: "Argon2id cost for a passphrase: moderate, interactive, sensitive, or minimum (tests only).")
        var kdf: KDFProfile = .moderate
        @OptionGroup var storeOptions: StoreOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try Output.run(json: output.json) {
                let directory = try access.vault.directory()
                let rootKey = try access.rootKey.resolve(confirm: true)
                if rootKey.kind == .passphrase { kdf.warnIfWeak() }
                let context = try access.context.resolved(access.vault)
                let vault = try Vault.create(at: directory, rootKey: rootKey, kdfLimits: kdf.limits, context: context,
                                             store: try storeOptions.backend())
                // Whoever creates the vault administers it: later commands act as this role
                // (for privacy compliance) unless told otherwise.
                try OperatorDefaults(role: access.context.role ?? "admin", purpose: access.context.purpose ?? "privacy-compliance")
                    .write(vaultDirectory: vault.directory)
                let report = KeyReport(vault)
                if output.json {
                    try Output.json(report)
                } else {
                    Output.standardOutput("Created vault \(vault.id) at \(vault.directory.path)\n")
                    if vault.storeLocation != vault.storePath {
                        Output.standardOutput("Store: \(vault.storeLocation) (recorded without its password: give it as PGPASSWORD)")
                    }
                    Output.standardOutput(report.text)
                }
            }
        }
    }
}
