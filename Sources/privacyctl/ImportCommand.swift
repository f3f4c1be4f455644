import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a CRM export (CSV) into the vault, encrypting as it goes.",
            discussion: Examples.discussion("""
                RFC 4180 CSV in UTF-8 (a BOM is fine) with a header row. Columns named like schema \
                fields map by themselves; --map COLUMN=FIELD maps others; columns that map to no \
                field are listed in the summary and skipped, never stored. A bad row is rejected \
                (line, column and reason, never the value, in the reject report) and the import \
                goes on. Running the same import again changes nothing; an interrupted import can \
                simply be run again. Exits 0 even with rejected rows: read "rejected" in the summary.                 --consent-column COLUMN=PURPOSE reads a consent column (yes/no; empty records                 nothing) into the consent ledger with channel import, under --consent-notice-version                 (default: the purpose's notice in force).
                """, "import")
        )

        @Argument(help: ArgumentHelp("The CSV file.", valueName: "file.csv")) var file: String
        @Option(name: .long, help: ArgumentHelp("Map a column to a field (repeat for more).", valueName: "column=field"))
        var map: [String] = []
        @Option(name: .customLong("id-column"), help: ArgumentHelp("The column of subject ids (default: id, subject_id or customer_id).", valueName: "column"))
        var idColumn: String?
        @Option(name: .customLong("reject-report"), help: ArgumentHelp("Where to write the reject report (default: the vault's Reports/).", valueName: "file"))
        var rejectReport: String?
        @Option(name: .customLong("batch-size"), help: "Rows per transaction.") var batchSize: Int = 500
        @Option(name: .customLong("consent-column"), help: ArgumentHelp("A consent column and its purpose (repeat for more).", valueName: "column=purpose"))
        var consentColumn: [String] = []
        @Option(name: .customLong("consent-notice-version"), help: ArgumentHelp("The notice version the imported consents were given under.", valueName: "version"))
        var consentNoticeVersion: String?
        @OptionGroup var options: VaultCommandOptions

        func validate() throws {
            for m in map where !m.contains("=") { throw ValidationError("--map takes COLUMN=FIELD") }
            for c in consentColumn where !c.contains("=") { throw ValidationError("--consent-column takes COLUMN=PURPOSE") }
            guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1 to 100000") }
        }

        func run() throws {
            let progress = Progress(label: "import")
            try options.run({ vault, context in
                var columnMap: [String: String] = [:]
                for m in map {
                    let parts = m.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    columnMap[String(parts[0])] = String(parts[1])
                }
                var consentColumns: [String: String] = [:]
                for c in consentColumn {
                    let parts = c.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                    consentColumns[String(parts[0])] = String(parts[1])
                }
                let summary = try vault.records.importCSV(
                    at: file,
                    options: ImportOptions(columnMap: columnMap, idColumn: idColumn, batchSize: batchSize, rejectReportPath: rejectReport,
                                           consentColumns: consentColumns, consentNoticeVersion: consentNoticeVersion),
                    context: context
                ) { progress.update("\($0.rows) rows: \($0.created) created, \($0.updated) updated, \($0.unchanged) unchanged, \($0.rejected) rejected") }
                progress.finish()
                return summary
            }, text: { summary in
                Output.standardOutput("""
                    \(summary.rows) rows: \(summary.created) created, \(summary.updated) updated, \(summary.unchanged) unchanged, \(summary.rejected) rejected
                    """)
                if !consentColumn.isEmpty { Output.standardOutput("consent events recorded: \(summary.consentEvents)") }
                if !summary.unknownColumns.isEmpty {
                    Output.standardOutput("skipped columns (no such field): \(summary.unknownColumns.joined(separator: ", "))")
                }
                if let report = summary.rejectReport {
                    Output.standardOutput("reject report: \(report)")
                    for r in summary.rejects.prefix(10) {
                        Output.standardOutput("  line \(r.line)\(r.column.map { ", column \($0)" } ?? ""): \(r.reason)")
                    }
                }
            })
        }
    }
}

/// A one-line progress display on standard error, only when it is a terminal.
final class Progress {
    private let label: String
    private let enabled = isatty(STDERR_FILENO) == 1
    private var last = ContinuousClock.now
    private var shown = false

    init(label: String) { self.label = label }

    func update(_ text: String) {
        guard enabled, ContinuousClock.now - last > .milliseconds(200) else { return }
        last = ContinuousClock.now
        shown = true
        FileHandle.standardError.write(Data("\r\u{1B}[K\(label): \(text)".utf8))
    }

    func finish() {
        if shown { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}
