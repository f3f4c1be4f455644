/// The record of processing as RFC 4180 CSV (``SubjectExport/CSV``): one row per activity,
/// several values in a cell joined by "; ".
///
/// The file is made to be opened in a spreadsheet, and its cells are operator-written policy
/// text: a cell that a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`,
/// a tab or a carriage return) gets a leading apostrophe, so it shows as text and never runs.
enum RecordsOfProcessingCSV {
    static func render(_ record: RecordsOfProcessing) -> [UInt8] {
        typealias T = RecordsOfProcessingText
        let c = record.controller
        let controller = [c.name, c.address, c.contact].joined(separator: ", ")
        let dpo = c.dpo.map { [$0.name, $0.contact].compactMap { $0 }.joined(separator: ", ") } ?? ""
        let representative = c.representative.map { [$0.name, $0.address, $0.contact].joined(separator: ", ") } ?? ""
        let rows = record.activities.map { a -> [String] in
            [
                controller, dpo, representative, a.id, a.name, a.description,
                joined(a.purposes.map(\.id)),
                joined(a.purposes.map { "\($0.id): \($0.lawfulBasis)" }),
                joined(a.dataSubjects),
                joined(a.dataCategories.map(\.category)),
                joined(a.dataCategories.map { "\($0.category): \($0.fields.joined(separator: ", "))" }),
                joined(a.recipients.map { "\($0.name) (\(T.recipientKind($0.kind)), \($0.country))" }),
                joined(a.transfers.map { "\($0.country): \($0.recipient), \(T.safeguard($0.safeguard))" + ($0.reference.map { ", \($0)" } ?? "") }),
                joined(a.retention.map { "\($0.rule): \(ReportWords.rule(action: $0.action, period: $0.period, from: $0.from))" }),
                joined(a.securityMeasures),
                joined(a.sources.map { "\(T.source($0.kind)): \($0.label)" }),
                (a.automatedDecisions.used ? T.yes : T.no) + (a.automatedDecisions.description.map { ": \($0)" } ?? ""),
            ]
        }
        return SubjectExport.CSV.document(header: T.csvHeader, rows: rows.map { $0.map(neutralized) })
    }

    static func joined(_ values: [String]) -> String { values.joined(separator: "; ") }

    /// `value`, with a leading apostrophe if a spreadsheet would take it for a formula.
    static func neutralized(_ value: String) -> String {
        guard let first = value.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) else { return value }
        return "'" + value
    }
}
