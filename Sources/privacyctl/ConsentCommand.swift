import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Consent: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record and answer consent: grants, withdrawals, objections, state, history, audiences.",
            subcommands: [Grant.self, Withdraw.self, Object.self, Status.self, History.self, Audience.self, Counts.self, Receipt.self, VerifyReceipt.self]
        )
    }
}

/// The options every consent command shares. `--purpose` names the purpose consented to,
/// so the purpose the operator acts for is `--acting-for` (default: the vault's
/// privacyctl.yaml).
struct ConsentOptions: ParsableArguments, OpensVault {
    @OptionGroup var vault: VaultOptions
    @OptionGroup var rootKey: RootKeyOptions
    @Option(name: .long, help: ArgumentHelp("Who is acting (default: $PRIVACYKIT_ACTOR, else the OS user).", valueName: "name"))
    var actor: String?
    @Option(name: .long, help: ArgumentHelp("The role acted in (default: the vault's privacyctl.yaml, else admin).", valueName: "role"))
    var role: String?
    @Option(name: .customLong("acting-for"), help: ArgumentHelp("The purpose the operator acts for (default: the vault's privacyctl.yaml).", valueName: "purpose"))
    var actingFor: String?
    @OptionGroup var output: OutputOptions

    func accessContext() throws -> AccessContext {
        try ContextOptions.resolve(actor: actor, role: role, purpose: actingFor, vault: vault)
    }
}

/// The options of grant, withdraw and object.
struct ConsentChangeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The subject id.", valueName: "id")) var subject: String
    @Option(name: .long, help: ArgumentHelp("The purpose (purposes.yaml).", valueName: "purpose"), completion: VaultCompletions.purposes) var purpose: String?
    @Option(name: .long, help: ArgumentHelp("Where it came from: \(ConsentChannel.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "channel"))
    var channel: String = ConsentChannel.api.rawValue
    @Option(name: .customLong("notice-version"), help: ArgumentHelp("The notice version shown (default: the one in force).", valueName: "version"))
    var noticeVersion: String?
    @Option(name: .customLong("evidence-hash"), help: ArgumentHelp("Hash (hex) of the signed form or recording.", valueName: "hex"))
    var evidenceHash: String?
    @Option(name: .customLong("note-file"), help: ArgumentHelp("A free-text note (stored encrypted), from a file or - for standard input.", valueName: "file"))
    var noteFile: String?
    @Option(name: .long, help: ArgumentHelp("An expiry (ISO 8601) earlier than the purpose's validity.", valueName: "time"))
    var expires: String?

    func change(_ kind: ConsentKind, purpose: String) throws -> ConsentChange {
        guard let channel = ConsentChannel(rawValue: channel) else {
            throw CLIError(.invalidInput, "unknown --channel '\(channel)' (one of \(ConsentChannel.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        var note: String?
        if let noteFile {
            note = try InputFile.text(noteFile, what: "--note-file")
        }
        return ConsentChange(kind, purpose: purpose, channel: channel, noticeVersion: noticeVersion, evidenceHash: evidenceHash, note: note,
                             expiresAt: try CLITime.parse(expires, option: "--expires"))
    }
}

enum ConsentOutput {
    struct Events: Encodable {
        let ok = true
        let events: [ConsentEvent]
    }

    /// grant and withdraw: one event for one purpose.
    static func record(_ kind: ConsentKind, options: ConsentOptions, change: ConsentChangeOptions) throws {
        try options.run(prepare: {
            guard let purpose = change.purpose else { throw CLIError(.usage, "give --purpose") }
            return purpose
        }, { purpose, vault, context in
            Events(events: [try vault.consent.record(try change.change(kind, purpose: purpose), subject: change.subject, context: context)])
        }, text: print)
    }

    static func print(_ result: Events) {
        for e in result.events {
            var line = "#\(e.id)  \(e.time)  \(e.kind.rawValue)  \(e.purpose)  via \(e.channel)"
            if let notice = e.noticeVersion { line += "  notice \(notice)" }
            if let expires = e.expiresAt { line += "  expires \(expires)" }
            if e.evidenceHash != nil { line += "  evidence" }
            if e.hasNote { line += "  note" }
            Output.standardOutput(line + "  by \(e.actor)  (audit seq \(e.auditSeq))")
        }
    }
}

extension Privacyctl.Consent {
    struct Grant: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that a subject agreed to a purpose.", discussion: Examples.section("consent grant"))
        @OptionGroup var options: ConsentOptions
        @OptionGroup var change: ConsentChangeOptions

        func run() throws { try ConsentOutput.record(.grant, options: options, change: change) }
    }

    struct Withdraw: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that a subject withdrew a consent (it stays withdrawn until a new grant).", discussion: Examples.section("consent withdraw"))
        @OptionGroup var options: ConsentOptions
        @OptionGroup var change: ConsentChangeOptions

        func run() throws { try ConsentOutput.record(.withdraw, options: options, change: change) }
    }

    struct Object: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record an objection to a purpose, or with --gpc a Global Privacy Control signal (an objection to every opt-out purpose).", discussion: Examples.section("consent object"))
        @OptionGroup var options: ConsentOptions
        @OptionGroup var change: ConsentChangeOptions
        @Flag(name: .long, help: "A Global Privacy Control signal: object to every opt-out purpose.") var gpc = false

        func validate() throws {
            if gpc == (change.purpose != nil) { throw ValidationError("give either --purpose or --gpc") }
        }

        func run() throws {
            try options.run({ vault, context in
                ConsentOutput.Events(events: gpc
                    ? try vault.consent.recordGPC(subject: change.subject, context: context)
                    : [try vault.consent.record(try change.change(.object, purpose: change.purpose!), subject: change.subject, context: context)])
            }, text: ConsentOutput.print)
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "May a subject be processed for a purpose (now, or --at a time)? With the reason.",
            discussion: Examples.discussion("Without --purpose: every purpose. Exit status 0 whatever the answer; read `allowed` in --json. Many subjects (--subject repeated, or --subjects-file) are answered in one read per purpose.", "consent status"))
        @OptionGroup var options: ConsentOptions
        @OptionGroup var subjectList: SubjectListOptions
        @Option(name: .long, help: ArgumentHelp("One purpose (default: all).", valueName: "purpose"), completion: VaultCompletions.purposes) var purpose: String?
        @Option(name: .long, help: ArgumentHelp("The time to answer for (ISO 8601; default: now).", valueName: "time")) var at: String?

        struct Result: Encodable {
            let ok = true
            let answers: [ConsentAnswer]
        }

        func run() throws {
            let batch = subjectList.isBatch
            try options.run(prepare: { (try CLITime.parse(at, option: "--at"), try subjectList.subjects()) }, { input, vault, context in
                let ids = purpose.map { [$0] } ?? vault.policies.purposes.ids
                // Subject by subject, each subject's purposes together, as a single subject's are.
                let byPurpose = try ids.map { try vault.consent.answer(subjects: input.1, purpose: $0, at: input.0, context: context) }
                return Result(answers: input.1.indices.flatMap { index in byPurpose.map { $0[index] } })
            }, text: { result in
                for a in result.answers {
                    Output.standardOutput("\(batch ? "\(a.subject) " : "")\(a.purpose): \(a.allowed ? "allowed" : "not allowed") (\(a.state.rawValue)): \(a.reason)")
                }
            })
        }
    }

    struct History: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every consent event of a subject, oldest first.", discussion: Examples.section("consent history"))
        @OptionGroup var options: ConsentOptions
        @Option(name: .long, help: ArgumentHelp("The subject id.", valueName: "id")) var subject: String
        @Option(name: .long, help: ArgumentHelp("One purpose (default: all).", valueName: "purpose"), completion: VaultCompletions.purposes) var purpose: String?

        func run() throws {
            try options.run({ vault, context in
                ConsentOutput.Events(events: try vault.consent.history(subject: subject, purpose: purpose, context: context))
            }, text: ConsentOutput.print)
        }
    }

    struct Audience: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every subject that may be processed for a purpose now, one id per line (streamed).",
            discussion: Examples.discussion("With --json, one JSON object per line ({\"subject\": …}), then a summary line.", "consent audience"))
        @OptionGroup var options: ConsentOptions
        @Option(name: .long, help: ArgumentHelp("The purpose.", valueName: "purpose"), completion: VaultCompletions.purposes) var purpose: String

        struct Line: Encodable { let subject: String }
        struct Summary: Encodable {
            let ok = true
            let purpose: String
            let count: Int
        }

        func run() throws {
            let json = options.output.json
            try Output.run(json: json) {
                // The library acts for the audience's purpose (the role must hold it).
                let count = try options.session { vault, context in
                    try vault.consent.audience(purpose: purpose, context: context) { id in
                        if json { try Output.jsonLine(Line(subject: id)) } else { Output.standardOutput(id) }
                    }
                }
                if json { try Output.jsonLine(Summary(purpose: purpose, count: count)) } else { Output.standardError("\(count) subjects") }
            }
        }
    }

    struct Counts: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "How many subjects are in each consent state, per purpose that needs consent.", discussion: Examples.section("consent counts"))
        @OptionGroup var options: ConsentOptions

        struct Result: Encodable {
            let ok = true
            let purposes: [String: [String: Int]]
        }

        func run() throws {
            try options.run({ vault, context in
                let counts = try vault.consent.counts(context: context)
                return Result(purposes: counts.mapValues { Dictionary(uniqueKeysWithValues: $0.map { ($0.key.rawValue, $0.value) }) })
            }, text: { result in
                for (purpose, states) in result.purposes.sorted(by: { $0.key < $1.key }) {
                    Output.standardOutput("\(purpose): " + states.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                }
            })
        }
    }
}

extension Privacyctl.Consent {
    struct Receipt: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a signed consent receipt (JSON, Kantara Consent Receipt fields) for a subject to standard output.",
            discussion: Examples.discussion("Every purpose that needs consent, or --purpose. Signed with the vault's Ed25519 audit key; check it with `consent verify-receipt`.", "consent receipt"))
        @OptionGroup var options: ConsentOptions
        @Option(name: .long, help: ArgumentHelp("The subject id.", valueName: "id")) var subject: String
        @Option(name: .long, help: ArgumentHelp("One purpose (default: every purpose that needs consent).", valueName: "purpose"), completion: VaultCompletions.purposes) var purpose: String?

        /// `--json`: the receipt inside the one-line answer. Its own keys are the Kantara
        /// Consent Receipt's (a standard's names, kept as the standard spells them).
        struct Result: Encodable {
            let ok = true
            let receipt: ConsentReceipt
        }

        func run() throws {
            try Output.run(json: options.output.json) {
                let receipt = try options.session { vault, context in try vault.consent.receipt(subject: subject, purpose: purpose, context: context) }
                // Without --json, the receipt document itself: the file `verify-receipt` checks.
                if options.output.json { try Output.json(Result(receipt: receipt)) } else { FileHandle.standardOutput.write(try receipt.json()) }
            }
        }
    }

    struct VerifyReceipt: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-receipt",
            abstract: "Check a consent receipt offline, and say exactly what it proves.",
            discussion: Examples.discussion("Needs no root secret. The key is --public-key (from `audit public-key`), else the one recorded in --vault's keyring file, else only the receipt's own key (integrity, not origin). Exit status 0 when valid, 69 when not.", "consent verify-receipt"))
        @Argument(help: ArgumentHelp("The receipt file (- for standard input).", valueName: "file")) var file: String
        @Option(name: .customLong("public-key"), help: ArgumentHelp("The vault's audit public key (base64url). Write --public-key=KEY: a key can start with '-'.", valueName: "key"))
        var publicKey: String?
        @Option(name: .long, help: ArgumentHelp("The subject the receipt must be about.", valueName: "id")) var subject: String?
        @OptionGroup var vault: VaultOptions
        @OptionGroup var ignoredSecret: IgnoredSecretOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            ignoredSecret.noteIgnored(by: "consent verify-receipt")
            try ReceiptCheck.run(file: file, publicKey: publicKey, subject: subject, vault: vault, output: output, kind: "receipt",
                                 verify: ConsentReceipt.verify)
        }
    }
}
