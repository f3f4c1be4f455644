import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Breach: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record personal-data breaches and their 72-hour notification deadline; list the subjects a window of the audit log touched.",
            discussion: "Times are ISO 8601 (2026-01-31T09:00:00Z), a date (midnight UTC) or `now`.",
            subcommands: [Open.self, List.self, Show.self, Close.self, Affected.self]
        )
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
        @Option(name: .long, help: ArgumentHelp("Events at or after this time.", valueName: "time")) var since: String
        @Option(name: .long, help: ArgumentHelp("Events before this time.", valueName: "time")) var until: String
        @Option(name: .long, help: ArgumentHelp("Only events by this actor.", valueName: "name")) var actor: String?
        @Option(name: .customLong("key-version"), help: ArgumentHelp("Only subjects whose key is wrapped under this KEK version now.", valueName: "n"))
        var keyVersion: Int?
        @Option(name: .long, help: ArgumentHelp("The breach this is for (named in the audit event).", valueName: "id")) var breach: String?
        @Option(name: .long, help: ArgumentHelp("The role the reader acts in (default: the vault's privacyctl.yaml, else admin).", valueName: "role")) var role: String?
        @Option(name: .long, help: ArgumentHelp("The purpose the reader acts for (default: the vault's privacyctl.yaml).", valueName: "purpose")) var purpose: String?
        @OptionGroup var output: OutputOptions

        /// `--actor` filters here, so the reader is never taken from it.
        func accessContext() throws -> AccessContext {
            try ContextOptions.resolve(actor: nil, role: role, purpose: purpose, vault: vault)
        }

        func run() throws {
            try run({ vault, context in
                BreachOutput.Impact(affected: try vault.breaches.affected(
                    since: try CLITime.parse(since, option: "--since"), until: try CLITime.parse(until, option: "--until"),
                    actor: actor, kekVersion: keyVersion, breach: breach, context: context))
            }, text: { Output.standardOutput(lines: BreachOutput.impact($0)) })
        }
    }
}
