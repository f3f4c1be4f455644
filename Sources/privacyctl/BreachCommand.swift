import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Breach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record personal-data breaches and their 72-hour notification deadline; list the subjects a window of the audit log touched; draft the notices.",
            discussion: "Times are ISO 8601 (2026-01-31T09:00:00Z), a date (midnight UTC) or `now`.",
            subcommands: [Open.self, List.self, Show.self, Close.self, Affected.self, Notify.self]
        )
    }
}

/// The window of the audit log whose subjects a breach touched (`breach affected`, `breach
/// notify`).
struct BreachWindowOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Events at or after this time.", valueName: "time")) var since: String
    @Option(name: .long, help: ArgumentHelp("Events before this time.", valueName: "time")) var until: String
    @Option(name: .long, help: ArgumentHelp("Only events by this actor.", valueName: "name")) var actor: String?
    @Option(name: .customLong("key-version"), help: ArgumentHelp("Only subjects whose key is wrapped under this KEK version now.", valueName: "n"))
    var keyVersion: Int?
}

/// Who reads the log: `--actor` filters the window, so the reader is never taken from it.
struct BreachReaderOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The role the reader acts in (default: the vault's privacyctl.yaml, else admin).", valueName: "role")) var role: String?
    @Option(name: .long, help: ArgumentHelp("The purpose the reader acts for (default: the vault's privacyctl.yaml).", valueName: "purpose")) var purpose: String?

    func context(_ vault: VaultOptions) throws -> AccessContext {
        try ContextOptions.resolve(actor: nil, role: role, purpose: purpose, vault: vault)
    }
}

enum BreachOutput {
    struct One: Encodable {
        let ok = true
        let breach: BreachRecord
    }

    struct Many: Encodable {
        let ok = true
        let count: Int
        let breaches: [BreachRecord]
    }

    struct Impact: Encodable {
        let ok = true
        let affected: BreachImpact
    }

    static func summary(_ b: BreachRecord) -> String {
        "\(b.id)  detected \(ISOTime.preciseString(b.detectedAt))  notify by \(ISOTime.preciseString(b.deadline))  \(b.status.rawValue)\(b.overdue ? "  OVERDUE" : "")"
    }

    static func detail(_ one: One) -> [String] {
        let b = one.breach
        var lines = [summary(b), "  opened by \(b.openedBy) at \(ISOTime.preciseString(b.openedAt))", "  summary: \(b.summary)"]
        if let closed = b.closedAt {
            let notified = b.notifiedAuthorityAt.map { "authority notified at \(ISOTime.preciseString($0))\(b.notifiedLate == true ? " (after the deadline)" : " (on time)")" }
            lines.append("  closed at \(ISOTime.preciseString(closed)) by \(b.closedBy ?? "?"): \(b.closeReason ?? ""); \(notified ?? "authority not notified")")
        }
        return lines
    }

    static func counts(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
    }

    static func impact(_ result: Impact) -> [String] {
        let impact = result.affected
        var lines = impact.subjects.map { s in
            "\(s.subject)\(s.erased ? " (erased)" : "")  \(s.events) events (\(counts(s.actions)))  \(counts(s.categories))"
        }
        lines.append("\(impact.subjects.count) subjects, \(impact.events) events, \(ISOTime.preciseString(impact.since)) to \(ISOTime.preciseString(impact.until))")
        for (category, total) in impact.totals.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(category): \(total.subjects) subjects, \(total.values) values")
        }
        if !impact.unresolved.isEmpty {
            lines.append("\(impact.unresolved.count) pseudonyms match no stored or erased subject: \(impact.unresolved.joined(separator: ", "))")
        }
        return lines
    }
}

extension Privacyctl.Breach {
    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record a breach; prints its id and notification deadline (detection + 72 hours).",
            discussion: Examples.discussion("The summary is stored in the vault, never in the audit log.", "breach open"))
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .customLong("detected-at"), help: ArgumentHelp("When the organisation became aware of it.", valueName: "time")) var detectedAt: String
        @Option(name: .long, help: ArgumentHelp("What happened (visible in ps: prefer --summary-file).", valueName: "text")) var summary: String?
        @Option(name: .customLong("summary-file"), help: ArgumentHelp("The summary from a file, or - for standard input.", valueName: "file")) var summaryFile: String?

        func run() throws {
            try options.run({ vault, context in
                guard let text = try InputFile.text(summary, file: summaryFile, option: "summary") else { throw CLIError(.usage, "give --summary or --summary-file") }
                return BreachOutput.One(breach: try vault.breaches.open(detectedAt: try CLITime.parse(detectedAt, option: "--detected-at"), summary: text, context: context))
            }, text: { Output.standardOutput(lines: [BreachOutput.summary($0.breach)]) })
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List breaches with their notification deadline and whether it has passed.", discussion: Examples.section("breach list"))
        @OptionGroup var options: VaultCommandOptions
        @Flag(name: .customLong("open"), help: "Only breaches not closed.") var openOnly = false
        @OptionGroup var now: NowOption

        func run() throws {
            try options.run({ vault, context in
                let breaches = try vault.breaches.list(openOnly: openOnly, now: try now.date(), context: context)
                return BreachOutput.Many(count: breaches.count, breaches: breaches)
            }, text: { Output.standardOutput(lines: $0.breaches.map(BreachOutput.summary) + ["\($0.count) breaches"]) })
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one breach with its summary.", discussion: Examples.section("breach show"))
        @OptionGroup var options: VaultCommandOptions
        @Argument(help: ArgumentHelp("The breach id (breach-…).", valueName: "id")) var id: String
        @OptionGroup var now: NowOption

        func run() throws {
            try options.run({ vault, context in
                BreachOutput.One(breach: try vault.breaches.get(id, now: try now.date(), context: context))
            }, text: { Output.standardOutput(lines: BreachOutput.detail($0)) })
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a breach once the authority was notified (--notified-authority-at) or the decision not to notify was taken.", discussion: Examples.section("breach close"))
        @OptionGroup var options: VaultCommandOptions
        @Argument(help: ArgumentHelp("The breach id (breach-…).", valueName: "id")) var id: String
        @Option(name: .long, help: ArgumentHelp("Why it is closed (stored; not in the audit log).", valueName: "text")) var reason: String
        @Option(name: .customLong("notified-authority-at"), help: ArgumentHelp("When the supervisory authority was notified.", valueName: "time"))
        var notifiedAuthorityAt: String?
        @OptionGroup var at: AtOption

        func run() throws {
            try options.run({ vault, context in
                BreachOutput.One(breach: try vault.breaches.close(
                    id, reason: reason, notifiedAuthorityAt: try CLITime.parse(notifiedAuthorityAt, option: "--notified-authority-at"),
                    at: try at.date(), context: context))
            }, text: { Output.standardOutput(lines: BreachOutput.detail($0)) })
        }
    }

    struct Affected: ParsableCommand, OpensVault {
        static let configuration = CommandConfiguration(
            abstract: "List the subjects whose data was read, exported or changed in a window of the audit log, with counts per field category.",
            discussion: Examples.discussion("""
                Counts allowed record.read, record.export, record.write and record.import events with \
                --since <= time < --until. Pseudonyms are mapped back to subject ids inside the vault; \
                erased subjects are marked. Here --actor filters; the reader is recorded as the vault's \
                privacyctl.yaml actor, else $PRIVACYKIT_ACTOR or the OS user, with --role and --purpose.
                """, "breach affected"))
        @OptionGroup var vault: VaultOptions
        @OptionGroup var rootKey: RootKeyOptions
        @OptionGroup var window: BreachWindowOptions
        @Option(name: .long, help: ArgumentHelp("The breach this is for (named in the audit event).", valueName: "id")) var breach: String?
        @OptionGroup var reader: BreachReaderOptions
        @OptionGroup var output: OutputOptions

        func accessContext() throws -> AccessContext { try reader.context(vault) }

        func run() throws {
            try run({ vault, context in
                BreachOutput.Impact(affected: try vault.breaches.affected(
                    since: try CLITime.parse(window.since, option: "--since"), until: try CLITime.parse(window.until, option: "--until"),
                    actor: window.actor, kekVersion: window.keyVersion, breach: breach, context: context))
            }, text: { Output.standardOutput(lines: BreachOutput.impact($0)) })
        }
    }
}

extension Privacyctl.Breach {
    struct Notify: ParsableCommand, OpensVault {
        static let configuration = CommandConfiguration(
            abstract: "Draft a breach's notification to the authority and its notices to the persons into a new directory.",
            discussion: Examples.discussion("""
                Writes authority.json and authority.txt (per --regime: the items of GDPR art. 33(3), \
                PIPL art. 57(1) or the others' equivalents, with the deadline and article; where a \
                regime has no authority duty or no clock, the draft says so), person-notice.txt (the \
                text the persons get), persons.csv (subject, status, channels, regimes) and \
                manifest.json (SHA-256 of every file). The persons are the subjects whose data was \
                read, exported or changed in --since/--until (as `breach affected` finds them). \
                --persons sealed: one notice-NNNN.sealed per person that can be reached, holding the \
                notice and the person's contact values, sealed to the mail tool's --seal-to key; no \
                address is written in plaintext. --persons csv: persons.csv only, with the channels' \
                names; --include-addresses adds the contact values in plaintext. Reading contact \
                values needs read on the e-mail, phone and location fields in full, and is audited \
                per person (record.read); the whole is one breach.notify event. The texts are \
                written into the notices, never into the audit log. The directory must not exist or \
                be empty, and appears only when complete. As in `breach affected`, --actor filters; \
                the drafter is recorded as the vault's privacyctl.yaml actor, else $PRIVACYKIT_ACTOR \
                or the OS user, with --role and --purpose.
                """, "breach notify"))
        @Argument(help: ArgumentHelp("The breach id (breach-…).", valueName: "id")) var id: String
        @Option(name: .long, help: ArgumentHelp("gdpr, ccpa, pdpa-tw or pipl (repeat for more).", valueName: "regime"),
                completion: .list(PrivacyRegime.allCases.map(\.rawValue)))
        var regime: [String] = []
        @OptionGroup var window: BreachWindowOptions
        @Option(name: .long, help: ArgumentHelp("The likely consequences (visible in ps: prefer --consequences-file).", valueName: "text")) var consequences: String?
        @Option(name: .customLong("consequences-file"), help: ArgumentHelp("The likely consequences from a file, or - for standard input.", valueName: "file"))
        var consequencesFile: String?
        @Option(name: .long, help: ArgumentHelp("The measures taken or proposed.", valueName: "text")) var measures: String?
        @Option(name: .customLong("measures-file"), help: ArgumentHelp("The measures from a file, or - for standard input.", valueName: "file"))
        var measuresFile: String?
        @Option(name: .long, help: ArgumentHelp("What the persons can do (default: a general sentence).", valueName: "text")) var advice: String?
        @Option(name: .customLong("advice-file"), help: ArgumentHelp("The advice from a file, or - for standard input.", valueName: "file"))
        var adviceFile: String?
        @Option(name: .customLong("public-summary"), help: ArgumentHelp(
            "What happened, as the persons read it (default: a sentence with the detection date; the breach's own summary is never sent to them).",
            valueName: "text"))
        var publicSummary: String?
        @Option(name: .customLong("public-summary-file"), help: ArgumentHelp("The public summary from a file, or - for standard input.", valueName: "file"))
        var publicSummaryFile: String?
        @Option(name: .long, help: ArgumentHelp("sealed (one file per person, sealed to --seal-to) or csv (persons.csv).", valueName: "mode"),
                completion: .list(["sealed", "csv"]))
        var persons: String
        @Option(name: .customLong("seal-to"), help: ArgumentHelp("The mail tool's X25519 public key file (with --persons sealed).", valueName: "file"))
        var sealTo: String?
        @Flag(name: .customLong("include-addresses"), help: "With --persons csv: add the contact values in plaintext (audited as a read of them for every person).")
        var includeAddresses = false
        @Option(name: .long, help: ArgumentHelp("The directory to create.", valueName: "dir")) var out: String
        @OptionGroup var vault: VaultOptions
        @OptionGroup var rootKey: RootKeyOptions
        @OptionGroup var reader: BreachReaderOptions
        @OptionGroup var output: OutputOptions

        func accessContext() throws -> AccessContext { try reader.context(vault) }

        func validate() throws {
            guard !regime.isEmpty else { throw ValidationError("give --regime (gdpr, ccpa, pdpa-tw or pipl; repeat for more)") }
            switch persons {
            case "sealed":
                guard sealTo != nil else { throw ValidationError("--persons sealed needs --seal-to FILE (the mail tool's public key)") }
                if includeAddresses { throw ValidationError("--include-addresses is for --persons csv: sealed notices hold the addresses already") }
            case "csv":
                if sealTo != nil { throw ValidationError("--seal-to is for --persons sealed") }
            default:
                throw ValidationError("--persons takes sealed or csv, not '\(persons)'")
            }
        }

        struct Input {
            let request: BreachNoticeRequest
        }

        /// The texts, regimes, times and key, checked before the vault is opened.
        func input() throws -> Input {
            var regimes: [PrivacyRegime] = []
            for name in regime {
                guard let parsed = PrivacyRegime(rawValue: name) else {
                    throw CLIError(.invalidInput, "--regime: unknown regime '\(name)' (one of \(PrivacyRegime.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                regimes.append(parsed)
            }
            func required(_ inline: String?, _ file: String?, _ option: String) throws -> String {
                guard let text = try InputFile.text(inline, file: file, option: option),
                      !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty
                else { throw CLIError(.usage, "breach \(id): give --\(option) or --\(option)-file (not empty)") }
                return text
            }
            let mode: BreachPersonNotices = try sealTo.map { .sealed(to: try SubjectExport.readPublicKey(at: $0)) } ?? .csv(includeAddresses: includeAddresses)
            return Input(request: BreachNoticeRequest(
                regimes: regimes, since: try CLITime.parse(window.since, option: "--since"), until: try CLITime.parse(window.until, option: "--until"),
                actor: window.actor, kekVersion: window.keyVersion,
                consequences: try required(consequences, consequencesFile, "consequences"), measures: try required(measures, measuresFile, "measures"),
                advice: try InputFile.text(advice, file: adviceFile, option: "advice"),
                publicSummary: try InputFile.text(publicSummary, file: publicSummaryFile, option: "public-summary"), persons: mode))
        }

        func run() throws {
            try run(prepare: input, { input, vault, context in
                ExportOutput(try vault.breaches.notify(id, input.request, to: URL(fileURLWithPath: out), context: context))
            }, text: { result in
                let summary = result.body
                let m = summary.manifest
                let c = m.counts
                Output.standardOutput("drafted the notices of \(m.breach) (\(m.regimes.map(\.rawValue).joined(separator: ", "))) in \(summary.directory): "
                    + "\(summary.written.count) files, \(summary.bytes) bytes")
                Output.standardOutput("\(c.subjects) persons: \(c.notices) reachable, \(c.erased) erased, \(c.refused) refused, \(c.noChannel) without a channel"
                    + (c.unresolved > 0 ? "; \(c.unresolved) unresolved pseudonyms" : ""))
                Output.standardOutput(m.sealedTo.map { "notices sealed to key \($0)" }
                    ?? (m.addresses ? "persons.csv holds contact values in plaintext: keep it safe and delete it after sending" : "persons.csv holds no addresses"))
            })
        }
    }
}
