import Foundation
import Sodium

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
            // A CSV column cannot show that a grant was given on its own.
            if let first = purpose.separateConsent.first {
                throw PrivacyKitError(.invalidInput, "--consent-column \(column)=\(purposeID): purpose \(purposeID) needs a separate consent (\(first.article)), which an imported column cannot show; record each grant with consent grant")
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
