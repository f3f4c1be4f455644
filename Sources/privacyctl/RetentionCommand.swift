import ArgumentParser
import Foundation
import PrivacyKit
import Sodium

/// What `erase` and `sweep` say when the store could not be scrubbed at once.
private let scrubPendingNote = "privacyctl: note: scrub pending: a reader was still reading the write-ahead log, so the store's files still hold older copies of what was erased; the vault's next command or sweep scrubs them"

/// `verify-receipt` of consent and erasure receipts: read the file, find the key, verify,
/// say what it proves; exit 69 when it does not verify.
enum ReceiptCheck {
    static func run(
        file: String, publicKey: String?, subject: String?, vault: VaultOptions, output: OutputOptions, kind: String,
        verify: (Data, Ed25519.PublicKey?, String?) -> ReceiptVerification
    ) throws {
        try Output.run(json: output.json) {
            let data = try InputFile.read(file, what: "the receipt file")
            let key = try publicKey.map(AuditKeys.parse) ?? (try? vault.directory()).map { try VaultFiles.recordedAuditPublicKey(at: $0) }
            let result = verify(data, key, subject)
            if output.json {
                try Output.json(result)
            } else if result.valid {
                Output.standardOutput("valid \(kind) (key \(result.keyFingerprint ?? "?")). It proves:")
                for line in result.proves { Output.standardOutput("- " + line) }
            } else {
                Output.standardError("privacyctl: invalid \(kind): \(result.problem ?? "?")")
            }
            if !result.valid { throw ExitCode(ExitStatus.integrity.rawValue) }
        }
    }
}

extension Privacyctl {
    struct Holds: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Legal holds: while active, they block every erasure and retention action on what they cover (GDPR art. 17(3)).",
            subcommands: [Place.self, Release.self, List.self])

        struct Place: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Place a hold on a subject or on a retention category.", discussion: Examples.section("holds place"))
            @Option(name: .long, help: ArgumentHelp("The subject held.", valueName: "id")) var subject: String?
            @Option(name: .long, help: ArgumentHelp("The retention category held (retention.yaml).", valueName: "category")) var category: String?
            @Option(name: .long, help: ArgumentHelp("Why: the case, claim or obligation.", valueName: "text")) var reason: String
            @Option(name: .long, help: ArgumentHelp("When it ends by itself (ISO 8601); default: until released.", valueName: "time")) var until: String?
            @OptionGroup var options: VaultCommandOptions

            func run() throws {
                try options.run(prepare: {
                    guard (subject == nil) != (category == nil) else { throw CLIError(.usage, "give --subject or --category (one of them)") }
                    return try CLITime.parse(until, option: "--until")
                }, { end, vault, context in
                    HoldResult(ok: true, hold: try vault.retention.placeHold(subject: subject, category: category, reason: reason, until: end, context: context))
                }, text: { Output.standardOutput("placed \(describe($0.hold))") })
            }
        }

        struct Release: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Release a hold (it stays listed with who released it and why).", discussion: Examples.section("holds release"))
            @Argument(help: ArgumentHelp("The hold id (hold-…).", valueName: "id")) var id: String
            @Option(name: .long, help: ArgumentHelp("Why it is released.", valueName: "text")) var reason: String
            @OptionGroup var options: VaultCommandOptions

            func run() throws {
                try options.run({ vault, context in
                    HoldResult(ok: true, hold: try vault.retention.releaseHold(id: id, reason: reason, context: context))
                }, text: { Output.standardOutput("released \(describe($0.hold))") })
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the active holds (with --all, released and ended ones too).", discussion: Examples.section("holds list"))
            @Flag(name: .long, help: "Include released and ended holds.") var all = false
            @OptionGroup var options: VaultCommandOptions

            func run() throws {
                try options.run({ vault, context in
                    HoldList(ok: true, holds: try vault.retention.holds(includeReleased: all, context: context))
                }, text: { list in
                    Output.standardOutput(lines: list.holds.isEmpty ? ["no \(all ? "" : "active ")holds"] : list.holds.map(describe))
                })
            }
        }

        struct HoldResult: Encodable { let ok: Bool; let hold: LegalHold }
        struct HoldList: Encodable { let ok: Bool; let holds: [LegalHold] }

        static func describe(_ hold: LegalHold) -> String {
            var text = "\(hold.id) on \(hold.subject.map { "subject \($0)" } ?? "category \(hold.category ?? "?")"): \(hold.reason) (placed by \(hold.placedBy) at \(hold.placedAt)"
            if let until = hold.until { text += ", until \(until)" }
            if let released = hold.releasedAt { text += "; released by \(hold.releasedBy ?? "?") at \(released): \(hold.releaseReason ?? "")" }
            return text + ")"
        }
    }

    struct Erase: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a subject by crypto-shredding, and work with erasure receipts.",
            subcommands: [Subject.self, VerifyReceipt.self, List.self],
            defaultSubcommand: Subject.self)

        struct Subject: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Erase one subject: `privacyctl erase SUBJECT --reason R` (refused, exit 73, under a legal hold).",
                discussion: Examples.discussion("Destroys the subject's key, ciphertexts, blind indexes and consent state in one transaction; keeps a tombstone and prints the signed erasure receipt (--out FILE also writes it, never over another file without --force). Erasing an erased subject prints the first receipt again. A subject id that collides with a subcommand name is given as `erase subject ID`.", "erase subject"))
            @Argument(help: ArgumentHelp("The subject id.", valueName: "subject")) var subject: String
            @Option(name: .long, help: ArgumentHelp("Why (the request or obligation): kept in the tombstone and receipt.", valueName: "text")) var reason: String
            @Option(name: .long, help: ArgumentHelp("The data-subject request id it answers.", valueName: "id")) var request: String?
            @Option(name: .long, help: ArgumentHelp("Also write the receipt to this file (never over another file without --force).", valueName: "file"))
            var out: String?
            @Option(name: .customLong("receipt"), help: .hidden) var oldReceipt: String?
            @Flag(name: .long, help: "Replace a file already at --out.") var force = false
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable {
                let ok: Bool
                let alreadyErased: Bool
                let walScrubbed: Bool
                let scrub: ScrubState
                let receipt: ErasureReceipt
                enum CodingKeys: String, CodingKey {
                    case ok, receipt, scrub
                    case alreadyErased = "already_erased", walScrubbed = "wal_scrubbed"
                }

                /// The receipt member in snake_case, for reading: the signed file (--out) keeps
                /// the receipt's own format, and is what `erase verify-receipt` checks.
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(ok, forKey: .ok)
                    try c.encode(alreadyErased, forKey: .alreadyErased)
                    try c.encode(walScrubbed, forKey: .walScrubbed)
                    try c.encode(scrub, forKey: .scrub)
                    try c.encode(SnakeCaseKeys(receipt), forKey: .receipt)
                }
            }

            func run() throws {
                let receipt = try RenamedOption.pick(out, oldReceipt, new: "--out", old: "--receipt")
                try options.run(request: request, prepare: {
                    // Before erasing: a receipt that cannot be written must not follow an erasure.
                    if let receipt {
                        try SecureFiles.checkWritableDestination(receipt, what: "--out")
                        // Only this subject's receipt may be there already: erasing again prints it again.
                        let earlier = FileManager.default.contents(atPath: receipt).flatMap { try? JSONDecoder().decode(ErasureReceipt.self, from: $0) }
                        if !force, earlier?.subject != subject { try SecureFiles.checkNoOtherFile(at: receipt, holding: nil, what: "--out") }
                    }
                }, { _, vault, context in
                    let result = try vault.retention.erase(subject: subject, reason: reason, context: context)
                    if let receipt { try SecureFiles.writeEvidence(Array(try result.receipt.json()), to: receipt, what: "--out", overwrite: force) }
                    return Result(ok: true, alreadyErased: result.alreadyErased, walScrubbed: result.walScrubbed, scrub: result.scrub, receipt: result.receipt)
                }, text: { result in
                    let r = result.receipt
                    Output.standardOutput(result.alreadyErased
                        ? "subject \(subject) was already erased at \(r.erasedAt); receipt \(r.receiptID)"
                        : "erased subject \(subject): key destroyed, \(r.destroyed.encryptedFields) encrypted and \(r.destroyed.plainFields) plain fields, \(r.destroyed.blindIndexEntries) index entries, \(r.destroyed.consentStates) consent states; receipt \(r.receiptID) (audit seq \(r.auditSeq))")
                    if result.scrub == .pending {
                        Output.standardError(scrubPendingNote)
                    }
                })
            }
        }

        struct VerifyReceipt: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "verify-receipt",
                abstract: "Check an erasure receipt offline, and say what it proves.",
                discussion: Examples.discussion("Needs no root secret. The key is --public-key, else the one in --vault's keyring file, else only the receipt's own. Exit status 0 when valid, 69 when not.", "erase verify-receipt"))
            @Argument(help: ArgumentHelp("The receipt file (- for standard input).", valueName: "file")) var file: String
            @Option(name: .customLong("public-key"), help: ArgumentHelp("The vault's audit public key (base64url); write --public-key=KEY.", valueName: "key"))
            var publicKey: String?
            @Option(name: .long, help: ArgumentHelp("The subject the receipt must be about.", valueName: "id")) var subject: String?
            @OptionGroup var vault: VaultOptions
            @OptionGroup var ignoredSecret: IgnoredSecretOptions
            @OptionGroup var output: OutputOptions

            func run() throws {
                ignoredSecret.noteIgnored(by: "erase verify-receipt")
                try ReceiptCheck.run(file: file, publicKey: publicKey, subject: subject, vault: vault, output: output, kind: "erasure receipt",
                                     verify: ErasureReceipt.verify)
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List the tombstones of erased subjects (their receipts), oldest first.", discussion: Examples.section("erase list"))
            @OptionGroup var options: VaultCommandOptions

            /// The receipts in snake_case, for reading (each tombstone's signed receipt keeps
            /// its own format in the vault and in the files `erase --out` writes).
            struct Result: Encodable {
                let ok: Bool
                let erased: [ErasureReceipt]
                enum CodingKeys: String, CodingKey { case ok, erased }
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(ok, forKey: .ok)
                    try c.encode(erased.map(SnakeCaseKeys.init), forKey: .erased)
                }
            }

            func run() throws {
                try options.run({ vault, context in Result(ok: true, erased: try vault.retention.tombstones(context: context)) }, text: { result in
                    for r in result.erased { Output.standardOutput("\(r.subject)  erased \(r.erasedAt) by \(r.actor)\(r.rule.map { " (rule \($0))" } ?? ""): \(r.reason)") }
                    if result.erased.isEmpty { Output.standardOutput("no subject has been erased") }
                })
            }
        }
    }

    struct Restrict: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Restrict a subject's processing (GDPR art. 18): stored, not used, except as access.yaml's `restricted:` allows.",
            subcommands: [Place.self, Lift.self, List.self],
            defaultSubcommand: Place.self)

        struct Place: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Restrict a subject: `privacyctl restrict SUBJECT --reason R`.", discussion: Examples.section("restrict place"))
            @Argument(help: ArgumentHelp("The subject id.", valueName: "subject")) var subject: String
            @Option(name: .long, help: ArgumentHelp("Why (contested accuracy, pending objection, …).", valueName: "text")) var reason: String
            @Option(name: .long, help: ArgumentHelp("The data-subject request id.", valueName: "id")) var request: String?
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let restriction: Restriction }

            func run() throws {
                try options.run(request: request, { vault, context in
                    Result(ok: true, restriction: try vault.retention.restrict(subject: subject, reason: reason, context: context))
                }, text: { Output.standardOutput("subject \(subject) restricted since \($0.restriction.placedAt) (by \($0.restriction.placedBy))") })
            }
        }

        struct Lift: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Lift a restriction (tell the subject first, GDPR art. 18(3)).", discussion: Examples.section("restrict lift"))
            @Argument(help: ArgumentHelp("The subject id.", valueName: "subject")) var subject: String
            @Option(name: .long, help: ArgumentHelp("Why it is lifted.", valueName: "text")) var reason: String
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let subject: String }

            func run() throws {
                try options.run({ vault, context in
                    try vault.retention.liftRestriction(subject: subject, reason: reason, context: context)
                    return Result(ok: true, subject: subject)
                }, text: { Output.standardOutput("restriction of \($0.subject) lifted") })
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List restricted subjects.", discussion: Examples.section("restrict list"))
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let restrictions: [Restriction] }

            func run() throws {
                try options.run({ vault, context in Result(ok: true, restrictions: try vault.retention.restrictions(context: context)) }, text: { result in
                    for r in result.restrictions { Output.standardOutput("\(r.subject)  since \(r.placedAt) by \(r.placedBy): \(r.reason)") }
                    if result.restrictions.isEmpty { Output.standardOutput("no subject is restricted") }
                })
            }
        }
    }

    struct Sweep: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Apply the retention policy: erase, erase fields or anonymize what is due, skipping held subjects.",
            discussion: Examples.discussion("""
                Idempotent and resumable: run it nightly (docs/scheduled-jobs.md has systemd units and a crontab); a sweep \
                that died is finished by the next. One sweep per vault at a time (exit 75 if another runs). Exit status 0 when \
                every action succeeded, 1 when some failed (the summary says which rule), 73 never (held subjects are skipped \
                and counted).
                """, "sweep"))
        @Flag(name: .customLong("dry-run"), help: "List what would be done; change nothing.") var dryRun = false
        @Option(name: .long, help: ArgumentHelp("Evaluate the rules at this time instead of now (ISO 8601).", valueName: "time")) var now: String?
        @Option(name: .long, help: ArgumentHelp("At most this many actions; the rest wait for the next run.", valueName: "n")) var limit: Int?
        @Option(name: .customLong("batch-size"), help: ArgumentHelp("Subjects examined per transaction.", valueName: "n")) var batchSize = 500
        @OptionGroup var options: VaultCommandOptions

        struct Result: Encodable {
            let ok: Bool
            let summary: SweepSummary
            let actions: [SweepAction]?
        }

        /// Debug builds only (the test suite's crash tests): PRIVACYKIT_TEST_KILL_SWEEP=inside:N
        /// or after:N makes the process SIGKILL itself inside, or right after, batch N.
        static func faultInjection() -> SweepHooks {
            var hooks = SweepHooks()
            #if DEBUG
            if let spec = Environment.value("PRIVACYKIT_TEST_KILL_SWEEP") {
                let parts = spec.split(separator: ":")
                if parts.count == 2, let n = Int(parts[1]) {
                    let die: @Sendable (Int) throws -> Void = { if $0 == n { kill(getpid(), SIGKILL) } }
                    if parts[0] == "inside" { hooks.insideTransaction = die } else { hooks.afterBatch = die }
                }
            }
            #endif
            return hooks
        }

        func run() throws {
            try Output.run(json: options.output.json) {
                let clock = try CLITime.parse(now, option: "--now") ?? Date()
                guard batchSize > 0, limit.map({ $0 >= 0 }) ?? true else { throw CLIError(.invalidInput, "--batch-size must be positive and --limit not negative") }
                let progress = Progress(label: "sweep")
                var listed: [SweepAction] = []
                let json = options.output.json
                let summary = try options.session { vault, context in try vault.retention.sweep(
                    SweepOptions(now: clock, dryRun: dryRun, limit: limit, batchSize: batchSize), context: context,
                    hooks: Self.faultInjection(),
                    onAction: { action in
                        if json {
                            if dryRun || action.outcome == .failed || action.outcome == .held { listed.append(action) }
                        } else if dryRun || action.outcome != .done {
                            Output.standardOutput("\(action.outcome.rawValue): \(action.rule) \(action.action.rawValue) \(action.subject)"
                                                  + (action.fields.isEmpty ? "" : " [\(action.fields.joined(separator: ","))]") + (action.detail.map { " (\($0))" } ?? ""))
                        }
                    },
                    progress: { p in progress.update("\(p.rule): \(p.summary.acted) acted, \(p.summary.held) held, \(p.summary.failed) failed") }) }
                progress.finish()
                if json {
                    try Output.json(Result(ok: summary.failed == 0, summary: summary, actions: listed))
                } else {
                    let verb = dryRun ? "would act on" : "acted on"
                    Output.standardOutput("sweep at \(summary.clock)\(dryRun ? " (dry run: nothing changed)" : ""): \(summary.due) due, \(verb) \(summary.acted), \(summary.held) held, \(summary.failed) failed, \(summary.deferred) left for the next run (\(String(format: "%.1f", summary.seconds)) s)")
                    for (rule, counts) in summary.byRule.sorted(by: { $0.key < $1.key }) {
                        Output.standardOutput("  \(rule): due \(counts.due), acted \(counts.acted), held \(counts.held), failed \(counts.failed), deferred \(counts.deferred)")
                    }
                    if let resumed = summary.resumedRun { Output.standardOutput("  finished the work of sweep \(resumed), which was interrupted") }
                    if summary.scrub == .pending {
                        Output.standardError(scrubPendingNote)
                    }
                }
                if summary.failed > 0 { throw ExitCode(ExitStatus.failure.rawValue) }
            }
        }
    }

    struct Retention: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Retention reports.", subcommands: [Report.self])

        struct Report: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Per rule: what is due now (and held), and what falls due in the next days.", discussion: Examples.section("retention report"))
            @Option(name: .long, help: ArgumentHelp("Evaluate at this time instead of now (ISO 8601).", valueName: "time")) var now: String?
            @Option(name: .long, help: ArgumentHelp("The look-ahead in days.", valueName: "n")) var days = 30
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let report: RetentionReport }

            func run() throws {
                try options.run(prepare: { try CLITime.parse(now, option: "--now") ?? Date() }, { clock, vault, context in
                    Result(ok: true, report: try vault.retention.report(now: clock, horizonDays: days, context: context))
                }, text: { result in
                    let report = result.report
                    Output.standardOutput("retention at \(report.clock); due in the next \(report.horizonDays) days:")
                    if report.rules.isEmpty { Output.standardOutput("  retention.yaml has no rules: nothing is ever due") }
                    for r in report.rules {
                        Output.standardOutput("  \(r.rule) (\(r.category), \(r.action.rawValue) \(r.period) after \(r.from)): due now \(r.dueNow), held \(r.heldNow), next \(report.horizonDays) days \(r.dueSoon)")
                    }
                })
            }
        }
    }
}
