import Foundation
import Sodium

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
