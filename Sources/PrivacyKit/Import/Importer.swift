import Foundation
import GRDB
import Sodium

/// How to read a CSV export.
public struct ImportOptions: Sendable {
    /// Column name → schema field, for columns not named like a field.
    public var columnMap: [String: String]
    /// The column holding subject ids (default: `id`, `subject_id` or `customer_id`).
    public var idColumn: String?
    /// Rows per transaction.
    public var batchSize: Int
    /// Where the reject report goes (default: the vault's `Reports/`).
    public var rejectReportPath: String?

    public init(columnMap: [String: String] = [:], idColumn: String? = nil, batchSize: Int = 500, rejectReportPath: String? = nil) {
        self.columnMap = columnMap
        self.idColumn = idColumn
        self.batchSize = batchSize
        self.rejectReportPath = rejectReportPath
    }
}

/// One rejected row: where and why, never the value.
public struct ImportReject: Sendable, Codable, Equatable {
    public let line: Int
    public let column: String?
    public let reason: String
}

public struct ImportSummary: Sendable, Codable, Equatable {
    public var rows = 0
    public var created = 0
    public var updated = 0
    public var unchanged = 0
    public var rejected = 0
    /// Columns that map to no field: skipped, never stored.
    public var unknownColumns: [String] = []
    /// The reject report file, when rows were rejected.
    public var rejectReport: String?
    /// The first rejects (all of them are in the report).
    public var rejects: [ImportReject] = []

    enum CodingKeys: String, CodingKey {
        case rows, created, updated, unchanged, rejected, rejects
        case unknownColumns = "unknown_columns"
        case rejectReport = "reject_report"
    }
}

extension Vault {
    /// Imports a CSV export (RFC 4180, UTF-8, optional BOM), streaming, in batched
    /// transactions. A bad row does not stop the import: it is rejected with its line,
    /// column and reason, and nothing of it is stored. Running the same import again
    /// changes nothing; an import killed half-way can simply be run again.
    ///
    /// - Parameter progress: called after every batch with the rows read so far.
    /// - Throws: `.notFound` for a missing file, `.invalidInput` for a file whose header
    ///   cannot be used (no id column, a column mapped to an unknown field).
    public func importCSV(
        at path: String, options: ImportOptions = ImportOptions(), context: AccessContext,
        progress: ((ImportSummary) -> Void)? = nil
    ) throws -> ImportSummary {
        try importCSV(at: path, options: options, context: context, progress: progress, stopAfterBatches: nil)
    }

    func importCSV(
        at path: String, options: ImportOptions, context: AccessContext,
        progress: ((ImportSummary) -> Void)?, stopAfterBatches: Int?
    ) throws -> ImportSummary {
        let reader = try CSVReader(path: path)
        guard let headerRow = try reader.next() else {
            throw PrivacyKitError(.invalidInput, "\(path) is empty: it needs a header row")
        }
        guard case .record(_, let header) = headerRow else {
            throw PrivacyKitError(.invalidInput, "\(path): the header row cannot be read")
        }
        let plan = try ImportPlan(header: header, schema: schema, options: options, file: path)
        var summary = ImportSummary()
        summary.unknownColumns = plan.unknownColumns
        var rejects = RejectReport(path: options.rejectReportPath ?? defaultRejectReportPath())
        defer { rejects.close() }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        var batches = 0
        var batch: [(line: Int, fields: [String])] = []
        func flush() throws {
            guard !batch.isEmpty else { return }
            let rows = batch
            batch.removeAll(keepingCapacity: true)
            var outcomes: [(line: Int, result: Result<PutResult, PrivacyKitError>)] = []
            try perform(context) { tx in
                let store = RecordStore(vault: self)
                for row in rows {
                    let (subject, values) = plan.values(of: row.fields)
                    do {
                        var result: PutResult?
                        try tx.db.inSavepoint {
                            result = try store.upsert(tx.db, subjectID: subject, values: values, cipher: cipher)
                            return .commit
                        }
                        if let result {
                            if result.change != .unchanged {
                                tx.record(AuditEntry(.recordImport, subjectID: subject, fields: result.changedFields, reason: result.change.rawValue))
                            }
                            outcomes.append((row.line, .success(result)))
                        }
                    } catch let error as PrivacyKitError where error.code == .invalidInput || error.code == .integrity {
                        outcomes.append((row.line, .failure(error)))
                    }
                }
            }
            for outcome in outcomes {
                switch outcome.result {
                case .success(let result):
                    switch result.change {
                    case .created: summary.created += 1
                    case .updated: summary.updated += 1
                    case .unchanged: summary.unchanged += 1
                    }
                case .failure(let error):
                    try reject(ImportReject(line: outcome.line, column: plan.column(mentionedIn: error.message), reason: error.message))
                }
            }
            batches += 1
            progress?(summary)
            if let stopAfterBatches, batches >= stopAfterBatches {
                throw PrivacyKitError(.internal, "import stopped after \(batches) batches (test hook)")
            }
        }
        func reject(_ r: ImportReject) throws {
            summary.rejected += 1
            if summary.rejects.count < 100 { summary.rejects.append(r) }
            try rejects.write(r)
        }
        while let row = try reader.next() {
            summary.rows += 1
            switch row {
            case .malformed(let line, let column, let reason):
                try reject(ImportReject(line: line, column: column.flatMap { plan.header.indices.contains($0 - 1) ? plan.header[$0 - 1] : nil }, reason: reason))
            case .record(let line, let fields):
                if let problem = plan.problem(with: fields) {
                    try reject(ImportReject(line: line, column: problem.column, reason: problem.reason))
                } else {
                    batch.append((line, fields))
                    if batch.count >= max(1, options.batchSize) { try flush() }
                }
            }
        }
        try flush()
        summary.rejectReport = rejects.finish()
        summary.rejects.sort { $0.line < $1.line }
        return summary
    }

    private func defaultRejectReportPath() -> String {
        let stamp = Timestamp.now().replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        return directory.path + "/Reports/import-\(stamp)-\(Hex.encode(Random.bytes(count: 3)))-rejects.csv"
    }
}

/// How the columns of one CSV file map to the schema.
struct ImportPlan {
    let header: [String]
    let idIndex: Int
    /// Column index → field name.
    let mapped: [(index: Int, field: String)]
    let unknownColumns: [String]

    init(header: [String], schema: Schema, options: ImportOptions, file: String) throws {
        self.header = header
        // "E-Mail", "e_mail" and "Email" all name `email`: compare letters and digits only.
        func key(_ s: String) -> String {
            String(s.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) })
        }
        let fieldsByKey = Dictionary(schema.fields.map { (key($0.name), $0.name) }, uniquingKeysWith: { a, _ in a })
        for (column, field) in options.columnMap where schema[field] == nil {
            throw PrivacyKitError(.invalidInput, "--map \(column)=\(field): '\(field)' is not a field of the schema")
        }
        for column in options.columnMap.keys where !header.contains(column) {
            throw PrivacyKitError(.invalidInput, "--map names column '\(column)', which \(file) does not have")
        }
        let idCandidates = options.idColumn.map { [$0] } ?? ["id", "subject_id", "customer_id"]
        guard let idIndex = header.firstIndex(where: { column in idCandidates.contains { key($0) == key(column) } }) else {
            throw PrivacyKitError(.invalidInput, "\(file) has no subject id column (\(idCandidates.joined(separator: ", "))); name one with --id-column")
        }
        self.idIndex = idIndex
        var mapped: [(Int, String)] = []
        var unknown: [String] = []
        var seen: Set<String> = []
        for (index, column) in header.enumerated() where index != idIndex {
            let field = options.columnMap[column] ?? fieldsByKey[key(column)]
            guard let field else { unknown.append(column); continue }
            guard seen.insert(field).inserted else {
                throw PrivacyKitError(.invalidInput, "\(file): two columns map to field \(field)")
            }
            mapped.append((index, field))
        }
        self.mapped = mapped
        self.unknownColumns = unknown
    }

    func problem(with fields: [String]) -> (column: String?, reason: String)? {
        guard fields.count == header.count else {
            return (nil, "has \(fields.count) columns, the header has \(header.count)")
        }
        if fields[idIndex].trimmingCharacters(in: .whitespaces).isEmpty {
            return (header[idIndex], "missing subject id")
        }
        if (try? RecordStore.checkSubjectID(fields[idIndex].trimmingCharacters(in: .whitespaces))) == nil {
            return (header[idIndex], "invalid subject id (1 to \(RecordStore.maxSubjectLength) characters, no control characters)")
        }
        return nil
    }

    func values(of fields: [String]) -> (subject: String, values: [String: String]) {
        var values: [String: String] = [:]
        for (index, field) in mapped {
            let value = fields[index]
            // An empty cell means "no value here", not "remove the field".
            if !value.trimmingCharacters(in: .whitespaces).isEmpty { values[field] = value }
        }
        return (fields[idIndex].trimmingCharacters(in: .whitespaces), values)
    }

    /// The column of the field an error message names ("field F of subject …").
    func column(mentionedIn message: String) -> String? {
        for (index, field) in mapped where message.hasPrefix("field \(field) ") { return header[index] }
        return nil
    }
}

/// The reject report: CSV of line, column, reason (never a value), mode 0600, created on
/// the first reject.
struct RejectReport {
    let path: String
    private var handle: FileHandle?

    init(path: String) { self.path = path }

    mutating func write(_ reject: ImportReject) throws {
        if handle == nil {
            let directory = SecureFiles.parent(of: path)
            if !FileManager.default.fileExists(atPath: directory) {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            try SecureFiles.createNew(Array("line,column,reason\n".utf8), at: path, mode: 0o600)
            handle = FileHandle(forWritingAtPath: path)
            try handle?.seekToEnd()
        }
        func quote(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        let line = "\(reject.line),\(reject.column.map(quote) ?? ""),\(quote(reject.reason))\n"
        try handle?.write(contentsOf: Data(line.utf8))
    }

    mutating func finish() -> String? {
        guard let handle else { return nil }
        try? handle.synchronize()
        try? handle.close()
        self.handle = nil
        return path
    }

    mutating func close() { _ = finish() }
}
