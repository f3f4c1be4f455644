import Foundation
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
    /// Column → purpose, for columns holding consent (`yes`/`no`, empty: nothing recorded).
    public var consentColumns: [String: String]
    /// The notice version the imported consents were given under (default: the purpose's).
    public var consentNoticeVersion: String?
    /// The field separator; nil: the header line's most frequent of `,`, `;` and tab.
    public var delimiter: CSVDelimiter?
    /// The file's text encoding. A file that is not valid UTF-8 when read as UTF-8 is
    /// refused before anything is written, with the encoding it looks like.
    public var encoding: CSVEncoding
    /// How many rejected rows make the import a failure (``ImportSummary/rejectLimitExceeded``);
    /// nil: none.
    public var maxRejects: RejectLimit?

    public init(columnMap: [String: String] = [:], idColumn: String? = nil, batchSize: Int = 500, rejectReportPath: String? = nil,
                consentColumns: [String: String] = [:], consentNoticeVersion: String? = nil,
                delimiter: CSVDelimiter? = nil, encoding: CSVEncoding = .utf8, maxRejects: RejectLimit? = .defaultLimit) {
        self.columnMap = columnMap
        self.idColumn = idColumn
        self.batchSize = batchSize
        self.rejectReportPath = rejectReportPath
        self.consentColumns = consentColumns
        self.consentNoticeVersion = consentNoticeVersion
        self.delimiter = delimiter
        self.encoding = encoding
        self.maxRejects = maxRejects
    }
}

/// A CSV field separator.
public enum CSVDelimiter: String, Sendable, CaseIterable, Codable {
    case comma = ","
    case semicolon = ";"
    case tab
    case pipe = "|"

    /// `,`, `;`, `|`, `tab` or a tab character.
    public init?(name: String) {
        switch name {
        case ",": self = .comma
        case ";": self = .semicolon
        case "|": self = .pipe
        case "tab", "\t", "\\t": self = .tab
        default: return nil
        }
    }

    var byte: UInt8 {
        switch self {
        case .comma: 0x2C
        case .semicolon: 0x3B
        case .tab: 0x09
        case .pipe: 0x7C
        }
    }
}

/// How many rejected rows an import tolerates: a count, or a percentage of the rows read.
public enum RejectLimit: Sendable, Equatable, CustomStringConvertible {
    case count(Int)
    case percent(Double)

    /// Above 5% of the rows, the import fails (issue 22: "import succeeds whatever happens").
    public static let defaultLimit = RejectLimit.percent(5)

    /// `N` (rows) or `P%` (of the rows read, 0–100).
    public init?(_ text: String) {
        if text.hasSuffix("%") {
            guard let value = Double(text.dropLast()), value.isFinite, (0...100).contains(value) else { return nil }
            self = .percent(value)
        } else {
            guard let value = Int(text), value >= 0 else { return nil }
            self = .count(value)
        }
    }

    public func isExceeded(rejected: Int, rows: Int) -> Bool {
        switch self {
        case .count(let limit): rejected > limit
        case .percent(let limit): rows > 0 && Double(rejected) * 100 > limit * Double(rows)
        }
    }

    public var description: String {
        switch self {
        case .count(let limit): "\(limit)"
        case .percent(let limit): (limit == limit.rounded() ? "\(Int(limit))" : "\(limit)") + "%"
        }
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
    /// Consent events recorded from consent columns (grants and withdrawals that changed
    /// something).
    public var consentEvents = 0
    /// Columns that map to no field: skipped, never stored.
    public var unknownColumns: [String] = []
    /// The reject report file, when rows were rejected.
    public var rejectReport: String?
    /// The first rejects (all of them are in the report).
    public var rejects: [ImportReject] = []
    /// The separator and encoding the file was read with.
    public var delimiter: CSVDelimiter = .comma
    public var encoding: CSVEncoding = .utf8
    /// More rows were rejected than ``ImportOptions/maxRejects`` allows: the rows that were
    /// good are in the vault (running the import again changes nothing), but the import as
    /// a whole failed and the caller should say so (privacyctl exits 65).
    public var rejectLimitExceeded = false

    enum CodingKeys: String, CodingKey {
        case rows, created, updated, unchanged, rejected, rejects, delimiter, encoding
        case consentEvents = "consent_events"
        case unknownColumns = "unknown_columns"
        case rejectReport = "reject_report"
        case rejectLimitExceeded = "reject_limit_exceeded"
    }
}

extension VaultRecords {
    /// Imports a CSV export (RFC 4180, UTF-8, optional BOM), streaming, in batched
    /// transactions. A bad row does not stop the import: it is rejected with its line,
    /// column and reason, and nothing of it is stored. Running the same import again
    /// changes nothing; an import killed half-way can simply be run again.
    ///
    /// - Parameters:
    ///   - path: the CSV file.
    ///   - options: column mapping, id column, consent columns, batch size, reject report.
    ///   - context: who imports (a role with the `write` action and a purpose).
    ///   - progress: called after every batch with the rows read so far.
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
        // What cannot be a CSV export, or is not in the encoding asked for, is refused
        // before anything is written.
        let sniffer = CSVSniffer(path: path)
        try sniffer.checkIsText()
        try sniffer.checkEncoding(options.encoding)
        let delimiter = options.delimiter ?? sniffer.delimiter()
        let reader = try CSVReader(path: path, delimiter: delimiter.byte, encoding: options.encoding)
        guard let headerRow = try reader.next() else {
            throw PrivacyKitError(.invalidInput, "\(path) is empty: it needs a header row")
        }
        guard case .record(_, let header) = headerRow else {
            // The reader's reason (too long, bad UTF-8, a quote) never holds input bytes.
            var reason = ""
            if case .malformed(_, _, let why) = headerRow { reason = ": \(why)" }
            throw PrivacyKitError(.invalidInput, "\(path): the header row cannot be read\(reason)")
        }
        let plan = try ImportPlan(header: header, schema: schema, purposes: purposes, options: options, file: path)
        // Refused before anything is read further (each batch is checked again).
        _ = try authorize(AccessRequest(.write, event: .recordImport), context: context)
        if !plan.consentColumns.isEmpty {
            _ = try authorize(AccessRequest(.consent, event: .consentGrant), context: context)
        }
        var summary = ImportSummary()
        summary.unknownColumns = plan.unknownColumns
        summary.delimiter = delimiter
        summary.encoding = options.encoding
        var rejects = RejectReport(path: options.rejectReportPath ?? defaultRejectReportPath())
        defer { rejects.close() }

        // Two stages on two threads: a preparer reads, maps, normalizes, encrypts and
        // indexes batch n+1 while this thread writes batch n. The preparer's work is most
        // of an import's CPU time; the writer's is SQLite's.
        let prepareCipher = try borrowCipher()
        let writeCipher = try borrowCipher()
        defer { returnCipher(writeCipher) }
        let handoff = Handoff<PreparedBatch>(capacity: 2)
        let preparer = ImportPreparer(core: core, reader: reader, plan: plan, cipher: prepareCipher, batchSize: max(1, options.batchSize))
        let preparerDone = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            preparer.run(into: handoff)
            returnCipher(prepareCipher)
            preparerDone.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        defer {
            handoff.cancel()
            preparerDone.wait()
        }

        var batches = 0
        func reject(_ r: ImportReject) throws {
            summary.rejected += 1
            if summary.rejects.count < 100 { summary.rejects.append(r) }
            try rejects.write(r)
        }
        while let item = handoff.take() {
            let batch = try item.get()
            summary.rows += batch.rowsRead
            for r in batch.rejects { try reject(r) }
            guard !batch.rows.isEmpty else { continue }
            let (outcomes, consents) = try write(batch.rows, context: context, cipher: writeCipher, notice: options.consentNoticeVersion)
            summary.consentEvents += consents
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
        summary.rejectReport = rejects.finish()
        summary.rejects.sort { $0.line < $1.line }
        summary.rejectLimitExceeded = options.maxRejects?.isExceeded(rejected: summary.rejected, rows: summary.rows) ?? false
        // A bulk write leaves up to thousands of pages in the WAL, which every later read
        // has to look through: fold them into the database now (best effort: if a reader
        // holds an old snapshot, the background checkpoints finish the job).
        (store as? SQLiteStore)?.truncateWAL()
        return summary
    }

    /// Writes one prepared batch in one audited transaction. The store decides: a row
    /// whose subject exists by now (written by an earlier batch, another process, or
    /// earlier in this batch) goes through the full upsert, whatever the preparer saw.
    private func write(
        _ rows: [PreparedRow], context: AccessContext, cipher: FieldCipher, notice: String?
    ) throws -> (outcomes: [(line: Int, result: Result<PutResult, PrivacyKitError>)], consents: Int) {
        try perform(context, AccessRequest(.write, event: .recordImport)) { tx, _ in
            var consents = 0
            let store = RecordStore(core: core)
            let now = Timestamp.now()
            // Which subjects exist and which were erased, from their leaves' rows, proven
            // together: a tombstone deleted behind the vault fails here instead of bringing
            // the person back. New records stay out of their leaves (RecordSeal): no tree
            // is written for them.
            let leaves = try provenLeafRows(tx.db, subjects: rows.map(\.subject), allRecords: true)
            var existing = Set(rows.map(\.subject).filter { leaves[$0]?.hasRecord == true })
            let erased = Set(rows.map(\.subject).filter { leaves[$0]?.erasedAt != nil })
            var outcomes: [(line: Int, result: Result<PutResult, PrivacyKitError>)] = []
            outcomes.reserveCapacity(rows.count)
            for row in rows {
                let result: Result<PutResult, PrivacyKitError>
                if erased.contains(row.subject) {
                    result = .failure(RecordStore.erasedError(row.subject))
                } else if !existing.contains(row.subject), case .new(let prepared) = row.state {
                    result = .success(try store.insert(tx.db, prepared))
                } else if !existing.contains(row.subject), case .invalid(let error) = row.state {
                    result = .failure(error)
                } else {
                    do {
                        var put: PutResult?
                        try tx.db.inSavepoint {
                            put = try store.upsert(tx.db, subjectID: row.subject, values: row.raw, cipher: cipher, now: now)
                        }
                        guard let put else { throw PrivacyKitError(.internal, "an upsert produced no result") }
                        result = .success(put)
                    } catch let error as PrivacyKitError where error.code == .invalidInput || error.code == .integrity {
                        result = .failure(error)
                    }
                }
                if case .success(let put) = result {
                    existing.insert(row.subject)
                    if put.change != .unchanged {
                        tx.record(AuditEntry(.recordImport, subjectID: row.subject, fields: put.changedFields, reason: put.change.rawValue))
                    }
                    consents += try importConsents(tx.db, row: row, notice: notice, context: context, cipher: cipher)
                }
                outcomes.append((row.line, result))
            }
            return (outcomes, consents)
        }
    }

    /// Records a row's consent columns, unless the ledger already says the same (so running
    /// the import again records nothing).
    private func importConsents(_ db: StoreDatabase, row: PreparedRow, notice: String?, context: AccessContext, cipher: FieldCipher) throws -> Int {
        guard !row.consents.isEmpty else { return 0 }
        var recorded = 0
        var pseudonym: String?
        for (purposeID, kind) in row.consents {
            guard let purpose = purposes[purposeID] else { continue }
            let last = try lastConsent(db, subject: row.subject, purpose: purposeID, at: nil)
            let version = notice ?? purpose.noticeVersion
            switch kind {
            case .grant where last?.kind == .grant && last?.noticeVersion == version: continue
            case .withdraw where last != nil && last?.kind != .grant: continue
            default: break
            }
            if pseudonym == nil { pseudonym = try subjectPseudonym(row.subject) }
            _ = try VaultConsent(core: core).appendConsent(db, ConsentChange(kind, purpose: purposeID, channel: .import, noticeVersion: version),
                                  subject: row.subject, pseudonym: pseudonym!, stored: nil, time: Date(), context: context, cipher: cipher)
            recorded += 1
        }
        return recorded
    }

    private func defaultRejectReportPath() -> String {
        let stamp = Timestamp.now().replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        return directory.path + "/Reports/import-\(stamp)-\(Hex.encode(Random.bytes(count: 3)))-rejects.csv"
    }
}
