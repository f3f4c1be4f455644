import Foundation
import Sodium

/// One subject's answer in a batch read (``VaultRecords/get(subjects:fields:context:)``).
public struct SubjectRead: Sendable {
    public let subject: String
    /// The fields the caller may see (masked where its role sees them masked), or why not:
    /// `.notFound` (no such subject, or erased), `.denied` (restricted, or without the
    /// consent the purpose needs; recorded as a denial).
    public let result: Result<[String: String], PrivacyKitError>
}

/// An envelope to open in a batch (``VaultRecords/decrypt(_:context:)``).
public struct EnvelopeItem: Sendable {
    public let envelope: String
    public let field: String
    public let subject: String

    public init(envelope: String, field: String, subject: String) {
        self.envelope = envelope
        self.field = field
        self.subject = subject
    }
}

/// A value to seal in a batch (``VaultRecords/encrypt(_:context:)``).
public struct ValueItem: Sendable {
    public let value: String
    public let field: String
    public let subject: String

    public init(value: String, field: String, subject: String) {
        self.value = value
        self.field = field
        self.subject = subject
    }
}

extension VaultRecords {
    /// The most subjects or items one batch call takes.
    public static let maxBatch = 1000

    /// ``get(subject:fields:context:)`` for many subjects, in one transaction: the access
    /// policy decides once for the role, purpose and fields, then each subject is decided
    /// from its own proven decision rows (erased, restricted, consent) and read, with one
    /// `record.read` event per subject read and one denial per subject refused — the
    /// evidence is the same as for single reads. Answers come in the order asked,
    /// duplicates included (each subject is read and recorded once).
    ///
    /// - Throws: for the whole batch: `.invalidInput` (a bad id or field, more than
    ///   ``maxBatch`` subjects), `.denied` (the role or purpose may not read these fields),
    ///   `.integrity` (a subject's rows are not the ones the audit log commits to: nothing
    ///   is read).
    public func get(subjects: [String], fields: [String]? = nil, context: AccessContext) throws -> [SubjectRead] {
        try Self.checkBatch(subjects, of: "subjects")
        for name in fields ?? [] where schema[name] == nil {
            throw PrivacyKitError(.invalidInput, schema.unknownField(name))
        }
        guard !subjects.isEmpty else { return [] }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        let request = AccessRequest(.read, event: .recordRead, fields: fields, allReadableFields: fields == nil)
        let results = try perform(context, request) { tx, grant -> [String: Result<[String: String], PrivacyKitError>] in
            let store = RecordStore(core: core)
            let decided = try core.readDecisions(tx.db, subjects: subjects, fields: fields, context: context)
            let plan = readPlan(grant)
            let limitedPlan = decided.limited.isEmpty ? plan : plan.filter { !$0.spec.sensitive }
            var results: [String: Result<[String: String], PrivacyKitError>] = [:]
            for subject in subjects where results[subject] == nil {
                if let refusal = decided.refusals[subject] {
                    results[subject] = .failure(refused(subject, refusal, fields: fields ?? [], context: context, tx: tx))
                } else if let row = decided.records[subject] {
                    results[subject] = .success(try read(try store.decode(row, subjectID: subject), subject: subject,
                                                         plan: decided.limited.contains(subject) ? limitedPlan : plan, cipher: cipher, tx: tx))
                } else {
                    results[subject] = .failure(PrivacyKitError(.notFound, "no subject \(subject)"))
                }
            }
            return results
        }
        return subjects.map { SubjectRead(subject: $0, result: results[$0] ?? .failure(PrivacyKitError(.notFound, "no subject \($0)"))) }
    }

    /// ``decrypt(_:field:subject:context:)`` for many envelopes, in one transaction: one
    /// access decision for the role, purpose and fields, then each subject decided from its
    /// proven rows and recorded once (`record.read`, its fields), as single calls would.
    /// Each item answers with its value (masked where the role sees the field masked) or
    /// its own error: `.notFound` (unknown or erased subject, or a destroyed key version),
    /// `.denied` (restricted, no consent), `.integrity` (an envelope altered or moved),
    /// `.invalidInput` (not an envelope).
    ///
    /// - Throws: for the whole batch, as ``get(subjects:fields:context:)``.
    public func decrypt(_ items: [EnvelopeItem], context: AccessContext) throws -> [Result<String, PrivacyKitError>] {
        try Self.checkBatch(items.map(\.subject), of: "items")
        for item in items {
            guard schema[item.field] != nil else { throw PrivacyKitError(.invalidInput, schema.unknownField(item.field)) }
        }
        guard !items.isEmpty else { return [] }
        let fields = Array(Set(items.map(\.field))).sorted()
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(context, AccessRequest(.read, event: .recordRead, fields: fields)) { tx, grant in
            let store = RecordStore(core: core)
            let subjects = items.map(\.subject)
            // Fields per subject differ: a limit is applied below to each subject's own items.
            let decided = try core.readDecisions(tx.db, subjects: subjects, fields: nil, context: context)
            var results = [Result<String, PrivacyKitError>?](repeating: nil, count: items.count)
            let bySubject = Dictionary(grouping: items.indices, by: { items[$0].subject })
            for subject in subjects where results[bySubject[subject]![0]] == nil {
                let indices = bySubject[subject]!
                let asked = Array(Set(indices.map { items[$0].field })).sorted()
                if let refusal = decided.refusals[subject] {
                    let error = refused(subject, refusal, fields: asked, context: context, tx: tx)
                    for index in indices { results[index] = .failure(error) }
                    continue
                }
                let sensitive = decided.limited.contains(subject) ? asked.filter { schema[$0]?.sensitive == true } : []
                if !sensitive.isEmpty {
                    let error = refused(subject, .denied(rule: VaultCore.limitedRule(subject, purpose: context.purpose)), fields: sensitive, context: context, tx: tx)
                    for index in indices where sensitive.contains(items[index].field) { results[index] = .failure(error) }
                    if indices.allSatisfy({ results[$0] != nil }) { continue }
                }
                guard let row = decided.records[subject] else {
                    for index in indices where results[index] == nil { results[index] = .failure(PrivacyKitError(.notFound, "no key for subject \(subject) (unknown or erased)")) }
                    continue
                }
                let stored = try store.decode(row, subjectID: subject)
                try store.unlock(stored, subjectID: subject, cipher: cipher)
                defer { cipher.wipe() }
                var masked = false
                for index in indices where results[index] == nil {
                    let item = items[index]
                    results[index] = Result {
                        let value = try cipher.open(try FieldCipher.binary(fromText: item.envelope), field: item.field, subjectID: subject,
                                                    key: stored.fieldKeys[item.field])
                        if grant.view(item.field) != .full { masked = true }
                        return grant.present(value, field: schema[item.field]!) ?? Masking.mask(value, rule: .hidden)
                    }.mapError { $0 as? PrivacyKitError ?? PrivacyKitError(.integrity, "field \(item.field) of subject \(subject): the envelope does not open") }
                }
                let opened = indices.filter { !sensitive.contains(items[$0].field) }
                tx.record(AuditEntry(.recordRead, subjectID: subject, fields: asked.filter { !sensitive.contains($0) },
                                     reason: "decrypted \(opened.count) for a service" + (masked ? " (masked)" : "")))
            }
            return results.map { $0! }
        }
    }

    /// ``encrypt(_:field:subject:context:)`` for many values, in one transaction: one access
    /// decision, then per subject its record made if needed and each field's current key
    /// version used, with one `record.write` event per subject. Each item answers with its
    /// envelope (`pk1.…`) or its own error: `.invalidInput` (a field that is not encrypted, a
    /// value a strict field rejects, an erased subject).
    ///
    /// - Throws: for the whole batch: more than ``maxBatch`` items, a bad subject id,
    ///   `.denied` for the role, `.integrity` for forged state.
    public func encrypt(_ items: [ValueItem], context: AccessContext) throws -> [Result<String, PrivacyKitError>] {
        try Self.checkBatch(items.map(\.subject), of: "items")
        guard !items.isEmpty else { return [] }
        let prepared = items.map { item in
            Result { try sealable(item.value, field: item.field, subject: item.subject) }.mapError { $0 as? PrivacyKitError ?? PrivacyKitError(.internal, "\($0)") }
        }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(context, AccessRequest(.write, event: .recordWrite)) { tx, _ in
            let store = RecordStore(core: core)
            var results = prepared.map { $0.map { _ in "" } }
            let bySubject = Dictionary(grouping: items.indices.filter { (try? prepared[$0].get()) != nil }, by: { items[$0].subject })
            for subject in bySubject.keys.sorted() {
                let indices = bySubject[subject]!
                do {
                    var sealed: [Int: String] = [:]
                    try tx.db.inSavepoint {
                        var record = try store.loadOrCreate(tx.db, subjectID: subject, cipher: cipher)
                        try store.unlock(record, subjectID: subject, cipher: cipher)
                        defer { cipher.wipe() }
                        for index in indices {
                            let field = items[index].field
                            let key = try store.currentFieldKey(tx.db, &record, field: field, subjectID: subject, cipher: cipher)
                            sealed[index] = FieldCipher.text(try cipher.seal(try prepared[index].get(), field: field, subjectID: subject, key: key))
                        }
                    }
                    for (index, envelope) in sealed { results[index] = .success(envelope) }
                    tx.record(AuditEntry(.recordWrite, subjectID: subject, fields: Array(Set(indices.map { items[$0].field })).sorted(),
                                         reason: "encrypted \(indices.count) for a service"))
                } catch let error as PrivacyKitError where error.code == .invalidInput {
                    for index in indices { results[index] = .failure(error) }
                }
            }
            return results
        }
    }

    /// ``blindIndex(_:field:context:)`` for many values, in one transaction: one access
    /// decision for the fields asked (each must be read in full by the role), then one
    /// `record.blind-index` event per index computed, as single calls would write. Each item
    /// answers with its index (hex) or its own `.invalidInput` (a value its field's rule
    /// does not accept).
    ///
    /// - Throws: for the whole batch: more than ``maxBatch`` items, a field that is unknown
    ///   or has no blind index (`.invalidInput`), `.denied` for the role.
    public func blindIndex(_ items: [(value: String, field: String)], context: AccessContext) throws -> [Result<String, PrivacyKitError>] {
        try Self.checkBatchSize(items.count, of: "items")
        var specs: [String: FieldSpec] = [:]
        for item in items where specs[item.field] == nil {
            guard let spec = schema[item.field], spec.blindIndexBits != nil else {
                throw PrivacyKitError(.invalidInput, "field \(item.field) has no blind index")
            }
            specs[item.field] = spec
        }
        guard !items.isEmpty else { return [] }
        let keys = items.map { item in
            Normalizer.normalize(item.value, as: specs[item.field]!.kind, defaultRegion: schema.defaultRegion)
                .map(\.key).mapError { PrivacyKitError(.invalidInput, "the value for \(item.field): \($0.reason)") }
        }
        let request = AccessRequest(.read, event: .recordBlindIndex, fields: specs.keys.sorted(), matchesValues: true)
        return try perform(context, request) { tx, _ in
            let indexer = self.indexer
            let version = indexer.currentVersion
            return try zip(items, keys).map { item, key in
                guard case .success(let key) = key else { return key }
                let index = Hex.encode([UInt8](try indexer.index(key, field: specs[item.field]!, version: version)))
                tx.record(AuditEntry(.recordBlindIndex, fields: [item.field], reason: "index version \(version)"))
                return .success(index)
            }
        }
    }

    /// Refuses a batch over ``maxBatch`` (`what`: what it counts) or with a bad subject id.
    private static func checkBatch(_ subjects: [String], of what: String) throws {
        try checkBatchSize(subjects.count, of: what)
        for subject in subjects { try RecordStore.checkSubjectID(subject) }
    }

    /// Refuses `count` items over ``maxBatch`` (`.invalidInput`; `what`: what they are), for
    /// a caller that batches another call (privacyd's consent answers and blind indexes).
    public static func checkBatchSize(_ count: Int, of what: String) throws {
        guard count <= maxBatch else {
            throw PrivacyKitError(.invalidInput, "a batch takes at most \(maxBatch) \(what) (got \(count))")
        }
    }

    /// A refused subject's error; a denial is recorded as one, as a single call's would be.
    private func refused(_ subject: String, _ refusal: VaultCore.SubjectRefusal, fields: [String], context: AccessContext, tx: AuditedTransaction) -> PrivacyKitError {
        switch refusal {
        case .erased(let at):
            return PrivacyKitError(.notFound, "subject \(subject) was erased on \(at)")
        case .denied(let rule):
            tx.record(AuditEntry(.recordRead, subjectID: subject, fields: fields.filter(AuditLog.isFieldName), outcome: .denied, reason: rule))
            return PrivacyKitError(.denied, "role \(context.role)\(context.purpose.map { " for purpose \($0)" } ?? ""): read denied: \(rule)")
        }
    }
}
