import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a self-contained HTML compliance report of the vault (aggregate figures only).",
            discussion: Examples.discussion("""
                The page shows records per category, consent states per purpose (with a chart), \
                retention due now and over the next --days, open data-subject requests and \
                breaches with their deadlines, the audit chain's status, the last backup, and the \
                record of processing activities (GDPR art. 30) drawn from purposes.yaml, \
                access.yaml and schema.yaml. It holds counts and the ids of requests, breaches and \
                backups, never a field value or a subject id. Written to --out, or by default \
                to <vault>/Reports/compliance-TIME.html, mode 0600, atomically; no script, no \
                external resource. Recorded in the audit log as a record.lookup. The role needs \
                the consent, retention, requests and breach actions.
                """, "report")
        )

        @Option(name: .long, help: ArgumentHelp("Write the HTML here (default: <vault>/Reports/compliance-TIME.html).", valueName: "file"))
        var out: String?
        @Flag(name: .long, help: "Replace a file already at --out.") var force = false
        @Option(name: .long, help: ArgumentHelp("Evaluate at this time instead of now (ISO 8601).", valueName: "time")) var now: String?
        @Option(name: .long, help: ArgumentHelp("The retention look-ahead in days.", valueName: "n")) var days = 90
        @OptionGroup var options: VaultCommandOptions

        struct Result: Encodable {
            let ok = true
            let file: String
            let report: ComplianceReport
        }

        func run() throws {
            try options.run(prepare: {
                let clock = try CLITime.parse(now, option: "--now") ?? Date()
                guard (0...3650).contains(days) else { throw CLIError(.invalidInput, "--days takes 0 to 3650 (got \(days))") }
                // Checked before the vault is read, so a bad destination costs no audit event.
                if let out {
                    try SecureFiles.checkWritableDestination(out, what: "--out")
                    if !force { try SecureFiles.checkNoOtherFile(at: out, holding: nil, what: "--out") }
                }
                return clock
            }, { clock, vault, context in
                let report = try vault.reports.complianceReport(now: clock, horizonDays: days, context: context)
                return Result(file: try vault.reports.writeComplianceReport(ComplianceReportHTML.render(report), to: out, now: clock, overwrite: force), report: report)
            }, text: { result in
                let report = result.report
                Output.standardOutput(result.file)
                Output.standardError("""
                    \(report.subjects) subjects, \(report.openRequests.count) open requests, \(report.openBreaches.count) open breaches, \
                    audit chain \(report.audit.ok ? "verified" : "BROKEN")
                    """)
            })
        }
    }
}
