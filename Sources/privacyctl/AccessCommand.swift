import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Access: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Explain access decisions of the vault's access policy.",
            subcommands: [Check.self]
        )

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Say whether a role may take an action (on a field, for a purpose), and which rule decides.",
                discussion: Examples.discussion("Reads only the vault's Policies/ (no root secret). Exit status 0 when allowed (in full or masked), 68 when denied, 65 for a role, action, field or purpose the policy does not know.", "access check")
            )
            @OptionGroup var vault: VaultOptions
            @OptionGroup var ignoredSecret: IgnoredSecretOptions
            @Option(name: .long, help: ArgumentHelp("The role.", valueName: "role")) var role: String
            @Option(name: .long, help: ArgumentHelp("The action: \(AccessAction.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "action"))
            var action: String
            @Option(name: .long, help: ArgumentHelp("A field to read.", valueName: "field")) var field: String?
            @Option(name: .long, help: ArgumentHelp("The purpose.", valueName: "purpose")) var purpose: String?
            @OptionGroup var output: OutputOptions

            struct Result: Encodable {
                let ok: Bool
                let role: String
                let action: String
                let field: String?
                let purpose: String?
                let decision: String
                let rule: String
            }

            func run() throws {
                ignoredSecret.noteIgnored(by: "access check")
                try Output.run(json: output.json) {
                    guard let action = AccessAction(rawValue: action) else {
                        throw CLIError(.invalidInput, "unknown action '\(action)' (one of \(AccessAction.allCases.map(\.rawValue).joined(separator: ", ")))")
                    }
                    let policies = try vault.directory().path + "/" + VaultLayout.policiesDirectoryName
                    let schema = try Schema.load(from: policies)
                    if let field, schema[field] == nil {
                        throw CLIError(.invalidInput, schema.unknownField(field))
                    }
                    let purposes = try PurposeSet.load(from: policies)
                    let policy = try AccessPolicy.load(from: policies, schema: schema, purposes: purposes)
                    let decision = try policy.decide(role: role, action: action, field: field, purpose: purpose)
                    if output.json {
                        try Output.json(Result(ok: decision.isAllowed, role: role, action: action.rawValue, field: field, purpose: purpose,
                                               decision: decision.outcome.rawValue, rule: decision.rule))
                    } else {
                        Output.standardOutput("\(decision.outcome.rawValue): \(decision.rule)")
                    }
                    if !decision.isAllowed { throw ExitCode(ExitStatus.denied.rawValue) }
                }
            }
        }
    }

    struct Policy: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Work with the vault's policy files.",
            subcommands: [Validate.self, Default.self]
        )

        struct Default: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print one of the default policy files this build ships (the ones `init` copies into a vault).",
                discussion: Examples.discussion("For a vault made by an older version whose policy files lack what this version needs (roles, purposes): review the default, then merge it into the vault's Policies/.", "policy default"))
            @Argument(help: ArgumentHelp("The file: \(PolicySet.defaultFiles.map(\.name).sorted().joined(separator: ", ")).", valueName: "name"), completion: VaultCompletions.policyFiles)
            var name: String
            @OptionGroup var output: OutputOptions

            struct Result: Encodable {
                let name: String
                let contents: String
            }

            func run() throws {
                try Output.run(json: output.json) {
                    guard let file = PolicySet.defaultFiles.first(where: { $0.name == name }) else {
                        throw CLIError(.notFound, "no default policy file '\(name)' (there are \(PolicySet.defaultFiles.map(\.name).sorted().joined(separator: ", ")))")
                    }
                    if output.json {
                        try Output.json(Result(name: file.name, contents: String(decoding: file.contents, as: UTF8.self)))
                    } else {
                        FileHandle.standardOutput.write(file.contents)
                    }
                }
            }
        }

        struct Validate: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check every file in the vault's Policies/ (and its privacyctl.yaml) and report all errors at once.",
                discussion: Examples.discussion("Reads only the policy files (no root secret). Exit status 0 when the set loads, 65 otherwise. Give --directory to check a policy directory that is not (yet) a vault's.", "policy validate")
            )
            @OptionGroup var vault: VaultOptions
            @OptionGroup var ignoredSecret: IgnoredSecretOptions
            @Option(name: .long, help: ArgumentHelp("A policy directory to check instead of the vault's.", valueName: "dir"))
            var directory: String?
            @OptionGroup var output: OutputOptions

            struct Result: Encodable {
                let ok: Bool
                let directory: String
                let errors: [String]
                /// What is worth knowing but not wrong: an optional file that is missing.
                let notes: [String]
            }

            func run() throws {
                ignoredSecret.noteIgnored(by: "policy validate")
                try Output.run(json: output.json) {
                    let path = try directory ?? (vault.existingDirectory().path + "/" + VaultLayout.policiesDirectoryName)
                    var errors = PolicySet.check(directory: path)
                    // The vault's operator defaults must name a role and purpose that exist.
                    if directory == nil, errors.isEmpty, let vaultDirectory = try? vault.directory() {
                        let schema = try Schema.load(from: path)
                        let purposes = try PurposeSet.load(from: path)
                        let access = try AccessPolicy.load(from: path, schema: schema, purposes: purposes)
                        errors += OperatorDefaults.check(vaultDirectory: vaultDirectory, access: access)
                    }
                    let notes = PolicySet.notes(directory: path)
                    if output.json {
                        try Output.json(Result(ok: errors.isEmpty, directory: path, errors: errors.map(\.message), notes: notes))
                    } else if errors.isEmpty {
                        for note in notes { Output.standardError("note: \(note)") }
                        Output.standardOutput("\(path): every policy file is valid")
                    } else {
                        for note in notes { Output.standardError("note: \(note)") }
                        for error in errors { Output.standardError(error.message) }
                        Output.standardError("\(errors.count) error\(errors.count == 1 ? "" : "s") in \(path)")
                    }
                    if !errors.isEmpty { throw ExitCode(ExitStatus.invalidInput.rawValue) }
                }
            }
        }
    }
}
