import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a CRM export (CSV) into the vault, encrypting as it goes.",
            discussion: Examples.discussion("""
                RFC 4180 CSV with a header row. The field separator is the header line's most \
                frequent of ",", ";" and tab (Excel writes ";" where the decimal separator is a \
                comma), or --delimiter. The file must be UTF-8 (a BOM is fine) unless --encoding \
                names latin1 or cp1252; a file that is not UTF-8 is refused before anything is \
                written, naming the encoding it looks like, as are workbooks, UTF-16 text and \
                binary files.

                Columns named like schema fields map by themselves; --map COLUMN=FIELD maps \
                others; columns that map to no field are listed in the summary and skipped, never \
                stored. A bad row is rejected (line, column and reason, never the value, in the \
                reject report) and the import goes on. When more rows are rejected than \
                --max-rejects allows (default 5%), the import exits 65 after writing the report: \
                the good rows are in the vault. Running the same import again changes nothing; \
                an interrupted import can simply be run again.

                --consent-column COLUMN=PURPOSE reads a consent column (yes/no; empty records \
                nothing) into the consent ledger with channel import, under \
                --consent-notice-version (default: the purpose's notice in force).
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
        @Option(name: .long, help: ArgumentHelp("The field separator: ',', ';', 'tab' or '|' (default: detected from the header line).", valueName: "separator"))
        var delimiter: String?
        @Option(name: .long, help: ArgumentHelp("The file's encoding: utf-8, latin1 or cp1252.", valueName: "encoding"))
        var encoding: String = "utf-8"
        @Option(name: .customLong("max-rejects"), help: ArgumentHelp("Fail (exit 65) when more rows than this are rejected: a count, or a percentage of the rows.", valueName: "N|P%"))
        var maxRejects: String = RejectLimit.defaultLimit.description
        @OptionGroup var options: VaultCommandOptions

        func validate() throws {
            for m in map where !m.contains("=") { throw ValidationError("--map takes COLUMN=FIELD") }
            for c in consentColumn where !c.contains("=") { throw ValidationError("--consent-column takes COLUMN=PURPOSE") }
            guard (1...100_000).contains(batchSize) else { throw ValidationError("--batch-size must be 1 to 100000") }
            if let delimiter, CSVDelimiter(name: delimiter) == nil { throw ValidationError("--delimiter takes ',', ';', 'tab' or '|' (got '\(delimiter)')") }
            guard CSVEncoding(name: encoding) != nil else { throw ValidationError("--encoding takes utf-8, latin1 or cp1252 (got '\(encoding)')") }
            guard RejectLimit(maxRejects) != nil else { throw ValidationError("--max-rejects takes a count (N) or a percentage (P%, 0-100); got '\(maxRejects)'") }
        }

        func run() throws {
            let progress = Progress(label: "import")
            try Output.run(json: options.output.json) {
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
                let limit = RejectLimit(maxRejects)
                let importOptions = ImportOptions(
                    columnMap: columnMap, idColumn: idColumn, batchSize: batchSize, rejectReportPath: rejectReport,
                    consentColumns: consentColumns, consentNoticeVersion: consentNoticeVersion,
                    delimiter: delimiter.flatMap(CSVDelimiter.init(name:)), encoding: CSVEncoding(name: encoding) ?? .utf8, maxRejects: limit)
                let summary = try options.session { vault, context in
                    try vault.records.importCSV(at: file, options: importOptions, context: context) {
                        progress.update("\($0.rows) rows: \($0.created) created, \($0.updated) updated, \($0.unchanged) unchanged, \($0.rejected) rejected")
                    }
                }
                progress.finish()
                let failure = summary.rejectLimitExceeded ? Self.limitMessage(summary, limit: limit) : nil
                if options.output.json {
                    try Output.json(Answer(summary: summary, error: failure.map { Output.ErrorBody(status: .invalidInput, code: "invalid-input", message: $0) }))
                } else {
                    text(summary)
                }
                if let failure {
                    Output.standardError("privacyctl: error: \(failure)")
                    throw ExitCode(ExitStatus.invalidInput.rawValue)
                }
            }
        }

        /// The summary, and when the reject limit was passed, `ok: false` and the error.
        struct Answer: Encodable {
            let summary: ImportSummary
            let error: Output.ErrorBody?

            func encode(to encoder: any Encoder) throws {
                try summary.encode(to: encoder)
                var container = encoder.container(keyedBy: Key.self)
                try container.encode(error == nil, forKey: .ok)
                try container.encodeIfPresent(error, forKey: .error)
            }

            enum Key: String, CodingKey { case ok, error }
        }

        static func limitMessage(_ summary: ImportSummary, limit: RejectLimit?) -> String {
            let share = summary.rows == 0 ? 0 : Double(summary.rejected) * 100 / Double(summary.rows)
            return "\(summary.rejected) of \(summary.rows) rows rejected (\(String(format: "%.1f", share))%), more than --max-rejects \(limit?.description ?? "") allows: "
                + "the import failed (the good rows are in the vault; see the reject report\(summary.rejectReport.map { " \($0)" } ?? ""))"
        }

        func text(_ summary: ImportSummary) {
            Output.standardOutput("""
                \(summary.rows) rows: \(summary.created) created, \(summary.updated) updated, \(summary.unchanged) unchanged, \(summary.rejected) rejected
                """)
            if summary.delimiter != .comma || summary.encoding != .utf8 {
                Output.standardOutput("read as \(summary.encoding.rawValue), separator \(summary.delimiter.rawValue)")
            }
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
