import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "keys",
            abstract: "Inspect and rotate the vault's keys.",
            subcommands: [Status.self, RotateRoot.self, GenerateKeyFile.self]
        )
    }
}

extension Privacyctl.Keys {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "List key roles, versions, creation times and fingerprints (never key bytes)."
        )

        @OptionGroup var vaultOptions: VaultOptions
        @OptionGroup var rootKeyOptions: RootKeyOptions
        @OptionGroup var contextOptions: ContextOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            try Output.run(json: output.json) {
                let vault = try VaultSession.open(vaultOptions, rootKeyOptions, contextOptions)
                let report = KeyReport(vault)
                if output.json { try Output.json(report) } else { Output.standardOutput(report.text) }
            }
        }
    }

    struct RotateRoot: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-root",
            abstract: "Re-seal the keyring under a new passphrase or key file.",
            discussion: """
                The keys inside do not change, so no data is re-encrypted. The new keyring is
                written beside the old one, synced, and renamed over it: a crash leaves either
                the old or the new keyring, each usable with its own secret. The new secret
                comes from --new-key-file, --new-passphrase-file, PRIVACYKIT_NEW_PASSPHRASE, or
                the terminal.
                """
        )

        @OptionGroup var vaultOptions: VaultOptions
        @OptionGroup var rootKeyOptions: RootKeyOptions
        @OptionGroup var contextOptions: ContextOptions
        @Option(name: .customLong("new-key-file"), help: ArgumentHelp("A file holding the new 32-byte root key (mode 0600).", valueName: "file"))
        var newKeyFile: String?
        @Option(name: .customLong("new-passphrase-file"), help: ArgumentHelp("A file holding the new passphrase (mode 0600).", valueName: "file"))
        var newPassphraseFile: String?
        @Option(name: .long, help: "Argon2id cost for a new passphrase: moderate, interactive, sensitive, or minimum (tests only).")
        var kdf: KDFProfile = .moderate
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if newKeyFile != nil && newPassphraseFile != nil {
                throw ValidationError("--new-key-file and --new-passphrase-file cannot be used together")
            }
        }

        func run() throws {
            try Output.run(json: output.json) {
                let vault = try VaultSession.open(vaultOptions, rootKeyOptions, contextOptions)
                let newKey = try RootKeyOptions.resolve(
                    keyFile: newKeyFile, passphraseFile: newPassphraseFile,
                    keyFileVariable: "PRIVACYKIT_NEW_KEY_FILE", passphraseVariable: "PRIVACYKIT_NEW_PASSPHRASE",
                    prompt: "New vault passphrase: ", confirm: true,
                    missing: "no new root secret given: pass --new-key-file or --new-passphrase-file, or set PRIVACYKIT_NEW_KEY_FILE or PRIVACYKIT_NEW_PASSPHRASE")
                if newKey.kind == .passphrase { kdf.warnIfWeak() }
                try vault.rotateRoot(to: newKey, kdfLimits: kdf.limits, context: contextOptions.context)
                try vault.checkpointIfNeeded()
                let report = KeyReport(vault)
                if output.json {
                    try Output.json(report)
                } else {
                    Output.standardOutput("Re-sealed the keyring of vault \(vault.id) under the new \(newKey.kind == .passphrase ? "passphrase" : "key file").\n")
                    Output.standardOutput(report.text)
                }
            }
        }
    }

    struct GenerateKeyFile: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-key-file",
            abstract: "Write a new random 32-byte root key file (mode 0600) for unattended use.",
            discussion: "Refuses to overwrite an existing file. Keep the file off the vault's disk and back it up: without it, the vault cannot be opened."
        )

        @Argument(help: ArgumentHelp("Where to write the key file.", valueName: "file"))
        var path: String
        @OptionGroup var output: OutputOptions

        struct Result: Encodable {
            let ok = true
            let keyFile: String
            enum CodingKeys: String, CodingKey {
                case ok
                case keyFile = "key_file"
            }
        }

        func run() throws {
            try Output.run(json: output.json) {
                try RootKey.generateKeyFile(at: path)
                if output.json {
                    try Output.json(Result(keyFile: path))
                } else {
                    Output.standardOutput("Wrote a new root key to \(path) (mode 0600).")
                }
            }
        }
    }
}
