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

    public init(columnMap: [String: String] = [:], idColumn: String? = nil, batchSize: Int = 500, rejectReportPath: String? = nil,
                consentColumns: [String: String] = [:], consentNoticeVersion: String? = nil) {
        self.columnMap = columnMap
        self.idColumn = idColumn
        self.batchSize = batchSize
        self.rejectReportPath = rejectReportPath
        self.consentColumns = consentColumns
        self.consentNoticeVersion = consentNoticeVersion
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

    enum CodingKeys: String, CodingKey {
        case rows, created, updated, unchanged, rejected, rejects
        case consentEvents = "consent_events"
        case unknownColumns = "unknown_columns"
        case rejectReport = "reject_report"
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
        let reader = try CSVReader(path: path)
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
            var existing = try RecordStore.existingSubjects(tx.db, among: rows.map(\.subject))
            let erased = try RecordStore.erasedSubjects(tx.db, among: rows.map(\.subject))
            var outcomes: [(line: Int, result: Result<PutResult, PrivacyKitError>)] = []
            outcomes.reserveCapacity(rows.count)
            for row in rows {
                let result: Result<PutResult, PrivacyKitError>
                if erased.contains(row.subject) {
                    result = .failure(RecordStore.erasedError(row.subject))
                } else if !existing.contains(row.subject), case .new(let prepared) = row.state {
                    result = .success(try store.insert(tx.db, prepared, now: now))
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

/// A row on its way from the preparer to the writer.
struct PreparedRow: Sendable {
    enum State: Sendable {
        /// A subject the store did not have when the batch was prepared.
        case new(RecordStore.PreparedRecord)
        /// Rejected on the assumption that the subject is new (a strict field's value is
        /// invalid).
        case invalid(PrivacyKitError)
        /// The subject existed: the writer updates it.
        case existing
    }

    let line: Int
    let subject: String
    /// The mapped values as read, for the writer's full upsert.
    let raw: [String: String]
    let state: State
    /// From consent columns: purpose and what to record.
    var consents: [(purpose: String, kind: ConsentKind)] = []
}

struct PreparedBatch: Sendable {
    var rowsRead = 0
    var rejects: [ImportReject] = []
    var rows: [PreparedRow] = []
}

/// The first stage of an import: reads rows, rejects malformed ones, and prepares new
/// subjects' rows. Runs on its own thread; owns the reader and its cipher until it ends.
// @unchecked: its mutable parts (reader, cipher) are used by the preparer thread only.
final class ImportPreparer: @unchecked Sendable {
    private let core: VaultCore
    private let reader: CSVReader
    private let plan: ImportPlan
    private let cipher: FieldCipher
    private let batchSize: Int

    init(core: VaultCore, reader: CSVReader, plan: ImportPlan, cipher: FieldCipher, batchSize: Int) {
        self.core = core
        self.reader = reader
        self.plan = plan
        self.cipher = cipher
        self.batchSize = batchSize
    }

    func run(into handoff: Handoff<PreparedBatch>) {
        do {
            var batch = PreparedBatch()
            var pending: [(line: Int, subject: String, values: [String: String], consents: [(purpose: String, kind: ConsentKind)])] = []
            while let row = try reader.next() {
                batch.rowsRead += 1
                switch row {
                case .malformed(let line, let column, let reason):
                    batch.rejects.append(ImportReject(
                        line: line, column: column.flatMap { plan.header.indices.contains($0 - 1) ? plan.header[$0 - 1] : nil }, reason: reason))
                case .record(let line, let fields):
                    if let problem = plan.problem(with: fields) {
                        batch.rejects.append(ImportReject(line: line, column: problem.column, reason: problem.reason))
                    } else {
                        switch plan.consents(of: fields) {
                        case .failure(let problem):
                            batch.rejects.append(ImportReject(line: line, column: problem.column, reason: problem.reason))
                        case .success(let consents):
                            let (subject, values) = plan.values(of: fields)
                            pending.append((line, subject, values, consents))
                        }
                    }
                }
                if pending.count >= batchSize {
                    batch.rows = try prepare(pending)
                    pending.removeAll(keepingCapacity: true)
                    guard handoff.put(.success(batch)) else { return }
                    batch = PreparedBatch()
                }
            }
            batch.rows = try prepare(pending)
            if batch.rowsRead > 0 { _ = handoff.put(.success(batch)) }
            handoff.finish()
        } catch {
            _ = handoff.put(.failure(error))
            handoff.finish()
        }
    }

    private func prepare(_ pending: [(line: Int, subject: String, values: [String: String], consents: [(purpose: String, kind: ConsentKind)])]) throws -> [PreparedRow] {
        guard !pending.isEmpty else { return [] }
        let store = RecordStore(core: core)
        let keys = try RecordStore.PreparationKeys(core: core)
        let existing = try core.store.read { db in try RecordStore.existingSubjects(db, among: pending.map(\.subject)) }
        var rows: [PreparedRow] = []
        rows.reserveCapacity(pending.count)
        for row in pending {
            let state: PreparedRow.State
            if existing.contains(row.subject) {
                state = .existing
            } else {
                do {
                    state = .new(try store.prepareNew(subjectID: row.subject, values: row.values, cipher: cipher, keys: keys))
                } catch let error as PrivacyKitError where error.code == .invalidInput {
                    state = .invalid(error)
                }
            }
            rows.append(PreparedRow(line: row.line, subject: row.subject, raw: row.values, state: state, consents: row.consents))
        }
        return rows
    }
}

struct ImportProblem: Error {
    let column: String?
    let reason: String
}

/// How the columns of one CSV file map to the schema.
struct ImportPlan: Sendable {
    let header: [String]
    let idIndex: Int
    /// Column index → field name.
    let mapped: [(index: Int, field: String)]
    let unknownColumns: [String]
    /// Column index → purpose, for consent columns.
    let consentColumns: [(index: Int, column: String, purpose: String)]

    init(header: [String], schema: Schema, purposes: PurposeSet, options: ImportOptions, file: String) throws {
        self.header = header
        // "E-Mail", "e_mail" and "Email" all name `email`: compare letters and digits only.
        func key(_ s: String) -> String {
            String(s.lowercased().unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) })
        }
        let fieldsByKey = Dictionary(schema.fields.map { (key($0.name), $0.name) }, uniquingKeysWith: { a, _ in a })
        for (column, field) in options.columnMap where schema[field] == nil {
            throw PrivacyKitError(.invalidInput, "--map \(column)=\(field): \(schema.unknownField(field))")
        }
        for column in options.columnMap.keys where !header.contains(column) {
            throw PrivacyKitError(.invalidInput, "--map names column '\(column)', which \(file) does not have")
        }
        let idCandidates = options.idColumn.map { [$0] } ?? ["id", "subject_id", "customer_id"]
        guard let idIndex = header.firstIndex(where: { column in idCandidates.contains { key($0) == key(column) } }) else {
            throw PrivacyKitError(.invalidInput, "\(file) has no subject id column (\(idCandidates.joined(separator: ", "))); name one with --id-column")
        }
        self.idIndex = idIndex
        var consentColumns: [(Int, String, String)] = []
        for (column, purposeID) in options.consentColumns.sorted(by: { $0.key < $1.key }) {
            guard let index = header.firstIndex(of: column) else {
                throw PrivacyKitError(.invalidInput, "--consent-column names column '\(column)', which \(file) does not have")
            }
            guard let purpose = purposes[purposeID] else {
                throw PrivacyKitError(.invalidInput, "--consent-column \(column)=\(purposeID): '\(purposeID)' is not a purpose of purposes.yaml")
            }
            guard purpose.consent != .notRequired else {
                throw PrivacyKitError(.invalidInput, "--consent-column \(column)=\(purposeID): purpose \(purposeID) needs no consent")
            }
            consentColumns.append((index, column, purposeID))
        }
        self.consentColumns = consentColumns
        var mapped: [(Int, String)] = []
        var unknown: [String] = []
        var seen: Set<String> = []
        for (index, column) in header.enumerated() where index != idIndex && !consentColumns.contains(where: { $0.0 == index }) {
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
        if Trim.whitespace(fields[idIndex]).isEmpty {
            return (header[idIndex], "missing subject id")
        }
        if (try? RecordStore.checkSubjectID(Trim.whitespace(fields[idIndex]))) == nil {
            return (header[idIndex], "invalid subject id (1 to \(RecordStore.maxSubjectLength) characters, no control characters)")
        }
        return nil
    }

    func values(of fields: [String]) -> (subject: String, values: [String: String]) {
        var values: [String: String] = [:]
        for (index, field) in mapped {
            let value = fields[index]
            // An empty cell means "no value here", not "remove the field".
            if !Trim.whitespace(value).isEmpty { values[field] = value }
        }
        return (Trim.whitespace(fields[idIndex]), values)
    }

    /// The consent columns of a row: yes/y/true/1 grants, no/n/false/0 withdraws, empty
    /// records nothing; anything else rejects the row (the value is not echoed).
    func consents(of fields: [String]) -> Result<[(purpose: String, kind: ConsentKind)], ImportProblem> {
        var result: [(purpose: String, kind: ConsentKind)] = []
        for (index, column, purpose) in consentColumns {
            switch Trim.whitespace(fields[index]).lowercased() {
            case "": continue
            case "yes", "y", "true", "1": result.append((purpose, .grant))
            case "no", "n", "false", "0": result.append((purpose, .withdraw))
            default: return .failure(ImportProblem(column: column, reason: "a consent value is yes or no (or empty)"))
            }
        }
        return .success(result)
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
