import Foundation
import Sodium

/// Customer records. Every call takes an access context and writes its audit event in the
/// same transaction as the work, and is checked against the access policy first.
public struct VaultRecords: VaultCapability {
    let core: VaultCore

    /// Creates or updates a subject's fields. Values are normalized by the schema; an
    /// empty value removes the field. Writing the same values again changes nothing.
    ///
    /// - Throws: `.invalidInput` naming the field and subject (never the value) for an
    ///   unknown field or a value a strict field's normalizer rejects.
    @discardableResult
    public func put(subject: String, values: [String: String], context: AccessContext) throws -> PutResult {
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(context, AccessRequest(.write, event: .recordWrite, subject: subject)) { tx, _ in
            let result = try RecordStore(core: core).upsert(tx.db, subjectID: subject, values: values, cipher: cipher)
            if result.change != .unchanged {
                tx.record(AuditEntry(.recordWrite, subjectID: subject, fields: result.changedFields, reason: result.change.rawValue))
            }
            return result
        }
    }

    /// Decrypts the chosen fields of a subject (when `fields` is nil: every field the
    /// caller's role may read). A field the role reads only masked comes back masked by its
    /// schema rule; the full value never leaves the library.
    ///
    /// - Throws: `.notFound` for an unknown subject, `.invalidInput` for an unknown field,
    ///   `.denied` for a field the role may not read, `.integrity` if a ciphertext was
    ///   altered or moved.
    public func get(subject: String, fields: [String]? = nil, context: AccessContext) throws -> [String: String] {
        try RecordStore.checkSubjectID(subject)
        for name in fields ?? [] where schema[name] == nil {
            throw PrivacyKitError(.invalidInput, schema.unknownField(name))
        }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        let request = AccessRequest(.read, event: .recordRead, subject: subject, fields: fields, allReadableFields: fields == nil)
        return try perform(context, request) { tx, grant in
            let store = RecordStore(core: core)
            guard let stored = try store.load(tx.db, subjectID: subject) else {
                throw PrivacyKitError(.notFound, "no subject \(subject)")
            }
            return try read(stored, subject: subject, plan: readPlan(grant), cipher: cipher, tx: tx)
        }
    }

    /// The schema's fields a grant lets its caller see, in schema order, with how: decided
    /// once per call, so a batch does not ask the grant again for every subject.
    func readPlan(_ grant: AccessGrant) -> [(spec: FieldSpec, view: FieldView)] {
        schema.fields.compactMap { spec in grant.view(spec.name).map { (spec, $0) } }
    }

    /// The fields of a loaded record the plan lets the caller see, as it may see them,
    /// with the read's audit event (the fields, and which came back masked).
    func read(_ stored: RecordStore.Stored, subject: String, plan: [(spec: FieldSpec, view: FieldView)], cipher: FieldCipher,
              tx: AuditedTransaction) throws -> [String: String] {
        var result: [String: String] = [:]
        result.reserveCapacity(plan.count)
        var masked: [String] = []
        if plan.contains(where: { stored.sealed[$0.spec.name] != nil }) {
            try RecordStore(core: core).unlock(stored, subjectID: subject, cipher: cipher)
        }
        defer { cipher.wipe() }
        for (spec, view) in plan {
            let value: String
            if let envelope = stored.sealed[spec.name] {
                value = try cipher.open(envelope, field: spec.name, subjectID: subject, key: stored.fieldKeys[spec.name])
            } else if let plain = stored.plain[spec.name] {
                value = plain
            } else {
                continue
            }
            switch view {
            case .full: result[spec.name] = value
            case .masked:
                result[spec.name] = Masking.mask(value, rule: spec.mask)
                masked.append(spec.name)
            }
        }
        tx.record(AuditEntry(.recordRead, subjectID: subject, fields: result.keys.sorted(),
                             reason: masked.isEmpty ? nil : "masked: \(masked.joined(separator: ","))"))
        return result
    }

    /// The subjects whose `field` equals `value` after normalization, exactly: blind-index
    /// candidates (every live index version) are decrypted and compared.
    ///
    /// - Parameters:
    ///   - field: a field of the schema: encrypted with a blind index, or unencrypted.
    ///   - value: the value to find, normalized by the field's rule first.
    ///   - region: for a phone number written without its country code, the country
    ///     (ISO 3166-1 alpha-2) it belongs to; the schema's default region otherwise.
    ///   - context: who looks, for which purpose (a role that may read `field`).
    public func find(field: String, value: String, region: String? = nil, context: AccessContext) throws -> [String] {
        guard let spec = schema[field] else {
            throw PrivacyKitError(.invalidInput, schema.unknownField(field))
        }
        let key: String
        switch Normalizer.normalize(value, as: spec.kind, region: region, defaultRegion: schema.defaultRegion) {
        case .success(let normalized): key = normalized.key
        case .failure(let error): throw PrivacyKitError(.invalidInput, "the value to find in \(field): \(error.reason)")
        }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(context, AccessRequest(.read, event: .recordLookup, fields: [field], matchesValues: true)) { tx, _ in
            var matches: [String] = []
            if spec.encrypted {
                guard spec.blindIndexBits != nil else {
                    throw PrivacyKitError(.invalidInput, "field \(field) is encrypted without a blind index; it cannot be searched")
                }
                var candidates: [String] = []
                for version in indexer.versions {
                    let hash = try indexer.index(key, field: spec, version: version)
                    candidates += try tx.db.blindIndex.subjects(field: field, version: version, hash: hash)
                }
                let store = RecordStore(core: core)
                for subject in Set(candidates).sorted() {
                    guard let stored = try store.load(tx.db, subjectID: subject), stored.sealed[field] != nil else { continue }
                    try store.unlock(stored, subjectID: subject, cipher: cipher)
                    guard let plain = try stored.open(field, subjectID: subject, cipher: cipher) else { continue }
                    cipher.wipe()
                    let region = schema.regionField.flatMap { stored.plain[$0] }
                    if case .success(let candidate) = Normalizer.normalize(plain, as: spec.kind, region: region, defaultRegion: schema.defaultRegion),
                       candidate.key == key {
                        matches.append(subject)
                    }
                }
            } else {
                let candidates = try tx.db.decisions.subjects.plainFields(having: field)
                let store = RecordStore(core: core)
                for row in candidates {
                    let plain = PlainFields.decode(row.plain) ?? [:]
                    if let stored = plain[field],
                       case .success(let candidate) = Normalizer.normalize(stored, as: spec.kind, defaultRegion: schema.defaultRegion),
                       candidate.key == key {
                        // A match is a claim about the record: its MAC must hold (a planted value fails here).
                        guard try store.load(tx.db, subjectID: row.id) != nil else { continue }
                        matches.append(row.id)
                    }
                }
            }
            var withheld = try core.withheldSubjects(tx.db, among: matches, context: context)
            if spec.sensitive { withheld.formUnion(try core.limitedSubjects(tx.db, among: matches, context: context)) }
            matches.removeAll { withheld.contains($0) }
            tx.record(AuditEntry(.recordLookup, fields: [field], reason: "\(matches.count) matches" + (withheld.isEmpty ? "" : ", \(withheld.count) without consent or restricted left out")))
            return try visibleIDs(matches, context: context)
        }
    }

    /// Removes fields of a subject (their ciphertexts and index entries).
    public func deleteFields(subject: String, fields: [String], context: AccessContext) throws -> PutResult {
        try put(subject: subject, values: Dictionary(uniqueKeysWithValues: fields.map { ($0, "") }), context: context)
    }

    /// Subject ids in order, a page at a time (`after` the last id of the previous page).
    /// A role that sees subjects by pseudonym gets pseudonyms, and cannot page (`after`
    /// takes an id it never sees).
    public func listSubjects(after: String? = nil, limit: Int = 100, context: AccessContext) throws -> [String] {
        if after != nil, access.roles[context.role]?.pseudonymousIDs == true {
            throw PrivacyKitError(.invalidInput, "role \(context.role) sees subjects by pseudonym: it lists without --after")
        }
        return try perform(context, AccessRequest(.read, event: .recordLookup)) { tx, _ in
            let ids = try tx.db.decisions.subjects.ids(after: after ?? "", limit: max(0, limit))
            tx.record(AuditEntry(.recordLookup, reason: "list \(ids.count) subjects"))
            return try visibleIDs(ids, context: context)
        }
    }

    // MARK: Library mode: ciphertexts that services keep

    /// Encrypts one value of `field` for `subject` and returns a text envelope (`pk1.…`)
    /// for a service to keep in its own database. The value is normalized and validated as
    /// the schema says. It is sealed under the field's current key version, whose key stays
    /// in the vault: erasing the subject makes every such envelope unreadable, and so does
    /// rectifying or removing the field (``put(subject:values:context:)`` with a new value,
    /// ``deleteFields(subject:fields:context:)``), which replaces the version — make the
    /// envelope of a new value after that.
    public func encrypt(_ value: String, field: String, subject: String, context: AccessContext) throws -> String {
        try RecordStore.checkSubjectID(subject)
        let stored = try sealable(value, field: field, subject: subject)
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(context, AccessRequest(.write, event: .recordWrite, subject: subject)) { tx, _ in
            let store = RecordStore(core: core)
            var record = try store.loadOrCreate(tx.db, subjectID: subject, cipher: cipher)
            try store.unlock(record, subjectID: subject, cipher: cipher)
            let key = try store.currentFieldKey(tx.db, &record, field: field, subjectID: subject, cipher: cipher)
            tx.record(AuditEntry(.recordWrite, subjectID: subject, fields: [field], reason: "encrypted for a service"))
            return FieldCipher.text(try cipher.seal(stored, field: field, subjectID: subject, key: key))
        }
    }

    /// `value` as encrypted `field` stores it: normalized and validated as the schema says
    /// (a lenient field keeps a value it cannot normalize as given).
    func sealable(_ value: String, field: String, subject: String) throws -> String {
        guard let spec = schema[field], spec.encrypted else {
            throw PrivacyKitError(.invalidInput, "'\(field)' is not an encrypted field of the schema")
        }
        switch Normalizer.normalize(value, as: spec.kind, defaultRegion: schema.defaultRegion) {
        case .success(let normalized): return normalized.stored
        case .failure(let error):
            guard spec.validation == .lenient else {
                throw PrivacyKitError(.invalidInput, "field \(field) of subject \(subject): \(error.reason)")
            }
            return value
        }
    }

    /// Decrypts a text envelope that ``encrypt(_:field:subject:context:)`` made.
    ///
    /// - Throws: `.notFound` if the subject is unknown or was erased (its key is gone),
    ///   `.integrity` if the envelope was altered or belongs to another field, subject or
    ///   vault.
    public func decrypt(_ envelope: String, field: String, subject: String, context: AccessContext) throws -> String {
        let bytes = try FieldCipher.binary(fromText: envelope)
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        guard let spec = schema[field] else {
            throw PrivacyKitError(.invalidInput, schema.unknownField(field))
        }
        return try perform(context, AccessRequest(.read, event: .recordRead, subject: subject, fields: [field])) { tx, grant in
            let store = RecordStore(core: core)
            guard let stored = try store.load(tx.db, subjectID: subject) else {
                throw PrivacyKitError(.notFound, "no key for subject \(subject) (unknown or erased)")
            }
            try store.unlock(stored, subjectID: subject, cipher: cipher)
            let value = try cipher.open(bytes, field: field, subjectID: subject, key: stored.fieldKeys[field])
            let view = grant.view(field) ?? .masked
            tx.record(AuditEntry(.recordRead, subjectID: subject, fields: [field], reason: "decrypted for a service" + (view == .masked ? " (masked)" : "")))
            return grant.present(value, field: spec) ?? Masking.mask(value, rule: .hidden)
        }
    }

    /// The blind index of `value` for `field` (hex), under the current index version: what
    /// a service stores beside a ciphertext to find it again by value.
    ///
    /// An index lets its holder test guesses of the value, so computing one is a lookup by
    /// value: the caller's role must read `field` in full (a role that sees it only masked
    /// is denied), and each computation is one `record.blind-index` event (the field, never
    /// the value).
    public func blindIndex(_ value: String, field: String, context: AccessContext) throws -> String {
        guard let spec = schema[field], spec.blindIndexBits != nil else {
            throw PrivacyKitError(.invalidInput, "field \(field) has no blind index")
        }
        let key: String
        switch Normalizer.normalize(value, as: spec.kind, defaultRegion: schema.defaultRegion) {
        case .success(let normalized): key = normalized.key
        case .failure(let error): throw PrivacyKitError(.invalidInput, "the value for \(field): \(error.reason)")
        }
        return try perform(context, AccessRequest(.read, event: .recordBlindIndex, fields: [field], matchesValues: true)) { tx, _ in
            let indexer = self.indexer
            let index = Hex.encode([UInt8](try indexer.index(key, field: spec, version: indexer.currentVersion)))
            tx.record(AuditEntry(.recordBlindIndex, fields: [field], reason: "index version \(indexer.currentVersion)"))
            return index
        }
    }
}
