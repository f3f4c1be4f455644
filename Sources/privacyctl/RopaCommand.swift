import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Ropa: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export the record of processing activities (GDPR art. 30) as JSON, CSV or HTML.",
            discussion: Examples.discussion("""
                The record a supervisory authority may ask for: the controller, its representative \
                and DPO, and for each processing activity its purposes with their lawful basis, \
                the categories of people and of data (with the schema's fields of each), \
                recipients, transfers abroad with their safeguard, the time limits for erasure \
                (the periods of the activity's retention rules), security measures, sources and \
                automated decisions. Drawn from the vault's processing.yaml, joined with \
                purposes.yaml, retention.yaml and schema.yaml; policy text only, no personal data. \
                CSV has one row per activity, several values in a cell joined by "; ", and cells \
                a spreadsheet would run as a formula start with an apostrophe. Written to --out, \
                or by default to <vault>/Reports/ropa-TIME.FORMAT, mode 0600, atomically; an \
                existing different file is kept unless --force. Recorded in the audit log as a \
                ropa.export event with the file's SHA-256. The role needs the policy action. A \
                vault without processing.yaml is refused (66): `privacyctl policy default \
                processing.yaml` prints the default to start from.
                """, "ropa")
        )

        @Option(name: .long, help: ArgumentHelp("The file format: json, csv or html.", valueName: "format"),
                completion: .list(RecordsOfProcessing.Format.allCases.map(\.rawValue)))
        var format = RecordsOfProcessing.Format.html.rawValue
        @Option(name: .long, help: ArgumentHelp("Write the record here (default: <vault>/Reports/ropa-TIME.FORMAT).", valueName: "file"))
        var out: String?
        @Flag(name: .long, help: "Replace a file already at --out.") var force = false
        @Option(name: .long, help: ArgumentHelp("Date the record at this time instead of now (ISO 8601).", valueName: "time")) var now: String?
        @OptionGroup var options: VaultCommandOptions

        func validate() throws {
            guard RecordsOfProcessing.Format(rawValue: format) != nil else {
                throw ValidationError("--format takes json, csv or html, not '\(format)'")
            }
        }

        func run() throws {
            try options.run(prepare: {
                let clock = try CLITime.parse(now, option: "--now") ?? Date()
                // Checked before the vault is opened, and named by the option.
                if let out {
                    try SecureFiles.checkWritableDestination(out, what: "--out")
                    if !force { try SecureFiles.checkNoOtherFile(at: out, holding: nil, what: "--out") }
                }
                return clock
            }, { clock, vault, context in
                try vault.reports.exportRecordsOfProcessing(as: RecordsOfProcessing.Format(rawValue: format) ?? .html, to: out, now: clock, overwrite: force, context: context)
            }, text: { result in
                Output.standardOutput(result.file)
                Output.standardError("\(result.activities) processing activities, \(result.format), \(result.bytes) bytes, sha256 \(result.sha256)")
            })
        }
    }
}
