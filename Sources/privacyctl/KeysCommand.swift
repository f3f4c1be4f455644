import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Inspect and rotate the vault's keys.",
            subcommands: [Status.self, RotateRoot.self, RotateKEK.self, RotateIndex.self, GenerateKeyFile.self]
        )
    }
}

extension Privacyctl.Keys {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List key roles, versions, creation times and fingerprints (never key bytes).", discussion: Examples.section("keys status")
        )

        @OptionGroup var options: VaultCommandOptions

        func run() throws {
            try options.run({ vault, _ in KeyReport(vault) }, text: { Output.standardOutput($0.text) })
        }
    }

    struct RotateRoot: ParsableCommand, OpensVaultAsOperator {
        static let configuration = CommandConfiguration(
            commandName: "rotate-root",
            abstract: "Re-seal the keyring under a new passphrase or key file.",
            discussion: Examples.discussion("""
                The keys inside do not change, so no data is re-encrypted. The new keyring is \
                written beside the old one, synced, and renamed over it: a crash leaves either \
                the old or the new keyring, each usable with its own secret. The new secret \
                comes from --new-key-file, --new-passphrase-file, PRIVACYKIT_NEW_PASSPHRASE, or \
                the terminal.
                """, "keys rotate-root")
        )

        @OptionGroup var access: VaultAccessOptions
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
            var newKind = RootKey.Kind.key
            try run({ vault, context in
                let newKey = try RootKeyOptions.resolve(
                    keyFile: newKeyFile, passphraseFile: newPassphraseFile,
                    keyFileVariable: "PRIVACYKIT_NEW_KEY_FILE", passphraseVariable: "PRIVACYKIT_NEW_PASSPHRASE",
                    prompt: "New vault passphrase: ", confirm: true,
                    missing: "no new root secret given: pass --new-key-file or --new-passphrase-file, or set PRIVACYKIT_NEW_KEY_FILE or PRIVACYKIT_NEW_PASSPHRASE")
                newKind = newKey.kind
                if newKey.kind == .passphrase { kdf.warnIfWeak() }
                try vault.keys.rotateRoot(to: newKey, kdfLimits: kdf.limits, context: context)
                return KeyReport(vault)
            }, text: { report in
                Output.standardOutput("Re-sealed the keyring of vault \(report.vaultID) under the new \(newKind == .passphrase ? "passphrase" : "key file").\n")
                Output.standardOutput(report.text)
            })
        }
    }

    struct GenerateKeyFile: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-key-file",
            abstract: "Write a new random 32-byte root key file (mode 0600) for unattended use.",
            discussion: Examples.discussion("Refuses to overwrite an existing file. Keep the file off the vault's disk and back it up: without it, the vault cannot be opened.", "keys generate-key-file")
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

extension Privacyctl.Keys {
    struct RotateKEK: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-kek",
            abstract: "Add a KEK version and re-wrap every subject key under it.",
            discussion: Examples.discussion("No field is re-encrypted. Batches commit as they go; if the command is interrupted, run it again: it resumes. Old KEK versions are retired once nothing uses them.", "keys rotate-kek")
        )
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .customLong("batch-size"), help: "Subjects per transaction.") var batchSize: Int = 1000

        func run() throws {
            try RotationReport.run("rotate-kek", doing: "re-wrapped", options: options) { vault, context, progress in
                try vault.keys.rotateKEK(context: context, batchSize: batchSize, progress: progress)
            }
        }
    }

    struct RotateIndex: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-index",
            abstract: "Add a blind-index key version and rebuild every blind index under it.",
            discussion: Examples.discussion("Lookups keep working throughout: they ask every live index version until the rebuild finishes. If the command is interrupted, run it again: it resumes where it stopped.", "keys rotate-index")
        )
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .customLong("batch-size"), help: "Subjects per transaction.") var batchSize: Int = 500

        func run() throws {
            try RotationReport.run("rotate-index", doing: "re-indexed", options: options) { vault, context, progress in
                try vault.keys.rotateIndex(context: context, batchSize: batchSize, progress: progress)
            }
        }
    }
}

enum RotationReport {
    struct JSON: Encodable {
        let ok = true
        let summary: RotationSummary
    }

    /// What both rotations do around the library call: open, show progress, sign a
    /// checkpoint, report.
    static func run(
        _ label: String, doing verb: String, options: VaultCommandOptions,
        _ rotate: (Vault, AccessContext, @escaping (Int, Int) -> Void) throws -> RotationSummary
    ) throws {
        let progress = Progress(label: label)
        try options.run({ vault, context in
            let summary = try rotate(vault, context) { progress.update("\($0)/\($1) subjects \(verb)") }
            progress.finish()
            return JSON(summary: summary)
        }, text: { print($0.summary) })
    }

    static func print(_ summary: RotationSummary) {
        let what = summary.role == .kek ? "re-wrapped \(summary.processed) subject keys" : "re-indexed \(summary.processed) subjects"
        Output.standardOutput("\(summary.resumed ? "resumed: " : "")\(what) under \(summary.role.rawValue) v\(summary.version)")
        if !summary.retired.isEmpty {
            Output.standardOutput("retired \(summary.role.rawValue) v\(summary.retired.map(String.init).joined(separator: ", v"))")
        }
    }
}
