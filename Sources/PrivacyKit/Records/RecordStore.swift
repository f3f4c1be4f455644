import Foundation
import Sodium

/// The outcome of writing one record.
public enum RecordChange: String, Sendable, Codable {
    case created, updated, unchanged
}

public struct PutResult: Sendable, Codable, Equatable {
    public let subject: String
    public let change: RecordChange
    /// Fields whose value changed (names only).
    public let changedFields: [String]
    /// Lenient fields stored as given because their normalizer rejected the value.
    public let invalidFields: [String]

    enum CodingKeys: String, CodingKey {
        case subject, change
        case changedFields = "changed_fields"
        case invalidFields = "invalid_fields"
    }
}

/// Reading and writing customer records: encrypted fields under the subject's key, plain
/// fields as JSON, blind indexes for the indexed fields.
struct RecordStore {
    let core: VaultCore
    var schema: Schema { core.policies.schema }

    static let maxSubjectLength = 128

    static func checkSubjectID(_ id: String) throws {
        // Printable ASCII is the common case and has no control character: no Unicode
        // property lookup per scalar (measured in a batch of reads).
        if !id.isEmpty, id.utf8.count <= maxSubjectLength, id.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) { return }
        guard !id.isEmpty, id.count <= maxSubjectLength, !id.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PrivacyKitError(.invalidInput, "a subject id is 1 to \(maxSubjectLength) characters without control characters")
        }
    }

    struct Stored {
        var kekVersion: Int
        var keyVersion: Int
        var wrappedKey: [UInt8]
        /// The encrypted fields' envelopes, by name.
        var sealed: [String: [UInt8]]
        /// Each encrypted field's key version (a destroyed one after a removal); none for
        /// an envelope written before field keys, which the subject key opens.
        var fieldKeys: [String: FieldKey]
        var plain: [String: String]
        var invalid: Set<String>
        /// How many times the record changed since it was created (see ``RecordSeal``).
        var revision: Int
        /// The row as read, for a rewrite that leaves the fields as they are (a re-wrap).
        let row: SubjectRow

        /// The value of encrypted field `name`, if stored (the subject key must be loaded).
        func open(_ name: String, subjectID: String, cipher: FieldCipher) throws -> String? {
            try sealed[name].map { try cipher.open($0, field: name, subjectID: subjectID, key: fieldKeys[name]) }
        }

        var encodedFields: [UInt8] { RecordStore.encodeFields(envelopes: sealed, keys: fieldKeys) }
    }

    func load(_ db: StoreDatabase, subjectID: String) throws -> Stored? {
        guard let row = try core.checkedSubjectRow(db, id: subjectID) else { return nil }
        return try decode(row, subjectID: subjectID)
    }

    /// The subject's record, made empty first if it has none (an erased subject is refused
    /// as an upsert refuses it).
    func loadOrCreate(_ db: StoreDatabase, subjectID: String, cipher: FieldCipher) throws -> Stored {
        if let record = try load(db, subjectID: subjectID) { return record }
        _ = try upsert(db, subjectID: subjectID, values: [:], cipher: cipher)
        guard let record = try load(db, subjectID: subjectID) else {
            throw PrivacyKitError(.internal, "subject \(subjectID) vanished while being created")
        }
        return record
    }

    /// A record from its row as read with its proven leaf, its MAC checked.
    func decode(_ row: SubjectRow, subjectID: String) throws -> Stored {
        guard let plain = PlainFields.decode(row.plain) else {
            throw PrivacyKitError(.integrity, "the plain fields of subject \(subjectID) are damaged")
        }
        let (revision, entries) = try seal.check(row, id: subjectID)
        let fields = try Self.decodeFields(entries, subjectID: subjectID)
        return Stored(
            kekVersion: row.kekVersion, keyVersion: row.keyVersion, wrappedKey: row.wrappedKey,
            sealed: fields.envelopes, fieldKeys: fields.keys, plain: plain,
            invalid: Set(row.invalid.split(separator: ",").map(String.init)), revision: revision, row: row)
    }

    /// Stores `stored`'s subject key wrapped anew (KEK rotation): the fields and revision as
    /// they are, the MAC renewed over the new wrapped key.
    func rewrap(_ db: StoreDatabase, subjectID: String, _ stored: Stored, kekVersion: Int, wrappedKey: [UInt8]) throws {
        guard let header = RecordSeal.header([UInt8](stored.row.sealed)) else {
            throw PrivacyKitError(.integrity, "the record of subject \(subjectID) has no MAC")
        }
        let sealed = try seal.sealed(RecordSeal.row(id: subjectID, stored.row, entries: Array(header.entries), revision: header.revision,
                                                    rewrapped: (kekVersion, wrappedKey)))
        try db.decisions.subjects.rewrap(id: subjectID, kekVersion: kekVersion, wrappedKey: Data(wrappedKey), sealed: Data(sealed))
    }

    var seal: RecordSeal { RecordSeal(key: core.integrity.key) }

    /// Writes `stored` back as the record's next revision (its leaf proven and updated, its
    /// MAC renewed) in the current transaction.
    func save(_ db: StoreDatabase, subjectID: String, _ stored: inout Stored, now: String = Timestamp.now()) throws {
        stored.revision += 1
        let plain = Self.json(stored.plain), invalid = stored.invalid.sorted().joined(separator: ",")
        let sealed = try seal.sealed(RecordSeal.Row(
            id: subjectID, kekVersion: stored.kekVersion, keyVersion: stored.keyVersion, wrappedKey: stored.wrappedKey, entries: stored.encodedFields,
            plain: plain, invalid: invalid, createdAt: stored.row.createdAt, updatedAt: now, revision: stored.revision))
        try db.decisions.subjects.updateFields(id: subjectID, sealed: Data(sealed), plain: plain, invalid: invalid, updatedAt: now)
    }

    /// The ids among `ids` that have a record.
    static func existingSubjects(_ db: StoreDatabase, among ids: [String]) throws -> Set<String> {
        try db.decisions.subjects.existing(among: ids)
    }

    /// An erased subject is never re-created under its id: an old export imported again, or
    /// a service writing to a stale id, must not bring the person back.
    static func refuseErased(_ db: StoreDatabase, subjectID: String, code: PrivacyKitError.Code = .invalidInput) throws {
        if let erasedAt = try db.decisions.tombstones.erasedAt(subject: subjectID) {
            throw erasedError(subjectID, at: erasedAt, code: code)
        }
    }

    static func erasedError(_ subjectID: String, at erasedAt: String? = nil, code: PrivacyKitError.Code = .invalidInput) -> PrivacyKitError {
        PrivacyKitError(code, "subject \(subjectID) was erased\(erasedAt.map { " at \($0)" } ?? ""); an erased subject is not re-created (give a returning customer a new id)")
    }

    /// Unwraps the subject's key into the cipher's buffer.
    func unlock(_ stored: Stored, subjectID: String, cipher: FieldCipher) throws {
        guard let kek = core.keyring.key(.kek, version: stored.kekVersion) else {
            throw PrivacyKitError(.integrity, "subject \(subjectID) is wrapped under KEK v\(stored.kekVersion), which the keyring does not have")
        }
        try cipher.unwrapSubjectKey(stored.wrappedKey, subjectID: subjectID, kek: kek.secret, kekVersion: stored.kekVersion)
    }

    /// Normalizes `values` for the record; a strict field's invalid value throws, a
    /// lenient one is kept as given and reported.
    func normalize(_ values: [String: String], subjectID: String, existingRegion: String?) throws
        -> (values: [String: NormalizedValue], invalid: Set<String>, removed: Set<String>)
    {
        var region = existingRegion
        if let regionField = schema.regionField, let raw = values[regionField], !raw.isEmpty,
           case .success(let country) = Normalizer.normalize(raw, as: .country) {
            region = country.stored
        }
        var result: [String: NormalizedValue] = [:]
        var invalid: Set<String> = []
        var removed: Set<String> = []
        for (name, raw) in values {
            guard let spec = schema[name] else {
                throw PrivacyKitError(.invalidInput, "subject \(subjectID): \(schema.unknownField(name))")
            }
            let trimmed = Trim.whitespaceAndNewlines(raw)
            if trimmed.isEmpty {
                removed.insert(name)
                continue
            }
            switch Normalizer.normalize(trimmed, as: spec.kind, region: region, defaultRegion: schema.defaultRegion) {
            case .success(let value):
                result[name] = value
            case .failure(let error):
                guard spec.validation == .lenient else {
                    throw PrivacyKitError(.invalidInput, "field \(name) of subject \(subjectID): \(error.reason)")
                }
                result[name] = NormalizedValue(stored: trimmed, key: trimmed)
                invalid.insert(name)
            }
        }
        return (result, invalid, removed)
    }

    /// A new subject's row, made ready outside the transaction: normalized, its key
    /// generated and wrapped, its fields sealed and indexed. An import prepares batch
    /// *n*+1 this way on one thread while another writes batch *n*.
    struct PreparedRecord: Sendable {
        struct IndexEntry: Sendable {
            let field: String
            let hash: Data
        }

        let subjectID: String
        let kekVersion: Int
        let wrappedKey: [UInt8]
        /// The `sealed` column: the record's MAC header (``RecordSeal``, revision 0), then
        /// the encrypted fields in the ``encodeFields(envelopes:keys:)`` layout. Made here,
        /// on the preparing thread, so the writing one only inserts.
        let sealed: [UInt8]
        let createdAt: String
        let plainJSON: String
        let invalidFields: [String]
        let indexVersion: Int
        let indexes: [IndexEntry]
        let fields: [String]
    }

    /// What a run of ``prepareNew(subjectID:values:cipher:keys:)`` calls needs from the
    /// keyring, looked up once, and the time its records are created at.
    struct PreparationKeys {
        let now: String
        let seal: RecordSeal
        let kekVersion: Int
        let kek: SecureBytes
        let indexVersion: Int
        let indexes: [String: BlindIndexer.FieldIndex]

        init(core: VaultCore, now: String = Timestamp.now()) throws {
            self.now = now
            seal = RecordSeal(key: core.integrity.key)
            guard let kek = core.keyring.current(.kek) else {
                throw PrivacyKitError(.integrity, "the keyring has no KEK")
            }
            kekVersion = kek.info.version
            self.kek = kek.secret
            let indexer = core.indexer
            indexVersion = indexer.currentVersion
            var indexes: [String: BlindIndexer.FieldIndex] = [:]
            for field in core.policies.schema.indexedFields {
                indexes[field.name] = try indexer.fieldIndex(field, version: indexVersion)
            }
            self.indexes = indexes
        }
    }

    /// Prepares the row of a subject that does not exist yet. Throws `.invalidInput` when
    /// a strict field's value is invalid (nothing is kept then).
    func prepareNew(subjectID: String, values raw: [String: String], cipher: FieldCipher, keys: PreparationKeys) throws -> PreparedRecord {
        try Self.checkSubjectID(subjectID)
        defer { cipher.wipe() }
        let (values, invalid, _) = try normalize(raw, subjectID: subjectID, existingRegion: nil)
        cipher.newSubjectKey()
        let wrapped = try cipher.wrapSubjectKey(subjectID: subjectID, kek: keys.kek, kekVersion: keys.kekVersion)
        let names = values.keys.sorted()
        var sealed: [UInt8] = []
        var plain: [String: String] = [:]
        var indexes: [PreparedRecord.IndexEntry] = []
        for name in names {
            guard let spec = schema[name], let value = values[name] else { continue }
            if spec.encrypted {
                // The encodeFields layout, written in place (names in sorted order).
                let key = cipher.newFieldKey(version: 1)
                Self.appendEntryHeader(name: name, key: key, envelopeCount: FieldCipher.envelopeByteCount(plaintextCount: value.stored.utf8.count), to: &sealed)
                try cipher.seal(value.stored, field: name, subjectID: subjectID, key: key, appendingTo: &sealed)
            } else {
                plain[name] = value.stored
            }
            if !invalid.contains(name), let index = keys.indexes[name] {
                indexes.append(.init(field: name, hash: try index.index(value.key)))
            }
        }
        let plainJSON = Self.json(plain), invalidFields = invalid.sorted()
        let column = try keys.seal.sealed(RecordSeal.Row(
            id: subjectID, kekVersion: keys.kekVersion, keyVersion: 1, wrappedKey: wrapped, entries: sealed,
            plain: plainJSON, invalid: invalidFields.joined(separator: ","), createdAt: keys.now, updatedAt: keys.now, revision: 0))
        return PreparedRecord(
            subjectID: subjectID, kekVersion: keys.kekVersion, wrappedKey: wrapped, sealed: column, createdAt: keys.now,
            plainJSON: plainJSON, invalidFields: invalidFields, indexVersion: keys.indexVersion,
            indexes: indexes, fields: names)
    }

    /// Inserts a prepared row (the subject must not exist) in the current transaction.
    func insert(_ db: StoreDatabase, _ record: PreparedRecord) throws -> PutResult {
        try db.decisions.subjects.insert(
            id: record.subjectID, kekVersion: record.kekVersion, keyVersion: 1, wrappedKey: Data(record.wrappedKey), sealed: Data(record.sealed),
            plain: record.plainJSON, invalid: record.invalidFields.joined(separator: ","), createdAt: record.createdAt, updatedAt: record.createdAt)
        let index = db.blindIndex
        for entry in record.indexes {
            try index.insert(field: entry.field, version: record.indexVersion, hash: entry.hash, subject: record.subjectID)
        }
        return PutResult(subject: record.subjectID, change: .created, changedFields: record.fields, invalidFields: record.invalidFields)
    }

    /// Creates or updates one record in the current transaction. Re-writing the same
    /// values changes nothing (so an import can be run again).
    func upsert(_ db: StoreDatabase, subjectID: String, values raw: [String: String], cipher: FieldCipher, now: String = Timestamp.now()) throws -> PutResult {
        try Self.checkSubjectID(subjectID)
        defer { cipher.wipe() }
        guard let existing = try load(db, subjectID: subjectID) else {
            try Self.refuseErased(db, subjectID: subjectID)
            let prepared = try prepareNew(subjectID: subjectID, values: raw, cipher: cipher, keys: PreparationKeys(core: core, now: now))
            return try insert(db, prepared)
        }
        var stored = existing
        let regionField = schema.regionField
        let (values, invalidNow, removed) = try normalize(
            raw, subjectID: subjectID, existingRegion: regionField.flatMap { existing.plain[$0] })
        try unlock(stored, subjectID: subjectID, cipher: cipher)
        var changed: Set<String> = []
        for (name, value) in values {
            let spec = schema[name]!  // normalize() checked every name
            let current: String? = spec.encrypted ? try stored.open(name, subjectID: subjectID, cipher: cipher) : stored.plain[name]
            let wasInvalid = stored.invalid.contains(name)
            if current == value.stored && wasInvalid == invalidNow.contains(name) { continue }
            try set(&stored, name: name, value: value, subjectID: subjectID, cipher: cipher)
            if invalidNow.contains(name) { stored.invalid.insert(name) } else { stored.invalid.remove(name) }
            changed.insert(name)
        }
        for name in removed where stored.sealed[name] != nil || stored.plain[name] != nil || stored.fieldKeys[name]?.salt != nil {
            // The version's key goes with its value: copies of the envelope kept elsewhere
            // (a service's, an older row's) no longer open in this vault. A value from
            // before field keys leaves version 1 destroyed, so a restore knows it went.
            stored.fieldKeys[name] = stored.fieldKeys[name]?.destroyed ?? (stored.sealed[name] != nil ? FieldKey(version: 1, salt: nil) : nil)
            stored.sealed[name] = nil
            stored.plain[name] = nil
            stored.invalid.remove(name)
            changed.insert(name)
        }
        guard !changed.isEmpty else {
            return PutResult(subject: subjectID, change: .unchanged, changedFields: [], invalidFields: invalidNow.sorted())
        }
        try save(db, subjectID: subjectID, &stored, now: now)
        try writeIndexes(db, subjectID: subjectID, values: values, invalid: stored.invalid, fields: changed)
        return PutResult(subject: subjectID, change: .updated, changedFields: changed.sorted(), invalidFields: invalidNow.sorted())
    }

    private func set(_ record: inout Stored, name: String, value: NormalizedValue, subjectID: String, cipher: FieldCipher) throws {
        guard let spec = schema[name] else { return }
        if spec.encrypted {
            // A new value, a new key version: the old one's envelopes stop opening.
            // After a value from before field keys (version 0), version 2: version 1 is what
            // an unchanged re-seal of such a value gets (currentFieldKey), which destroys nothing.
            let key = cipher.newFieldKey(version: (record.fieldKeys[name]?.version ?? (record.sealed[name] != nil ? 1 : 0)) + 1)
            record.fieldKeys[name] = key
            record.sealed[name] = try cipher.seal(value.stored, field: name, subjectID: subjectID, key: key)
        } else {
            record.plain[name] = value.stored
        }
    }

    /// The key version `field`'s envelopes are sealed under now, made (and stored) when the
    /// field has none or its newest was destroyed. A value stored before field keys is
    /// sealed again under it, since one field keeps one version.
    func currentFieldKey(_ db: StoreDatabase, _ record: inout Stored, field: String, subjectID: String, cipher: FieldCipher) throws -> FieldKey {
        if let key = record.fieldKeys[field], key.salt != nil { return key }
        let key = cipher.newFieldKey(version: (record.fieldKeys[field]?.version ?? 0) + 1)
        if let legacy = try record.open(field, subjectID: subjectID, cipher: cipher) {
            record.sealed[field] = try cipher.seal(legacy, field: field, subjectID: subjectID, key: key)
        }
        record.fieldKeys[field] = key
        try save(db, subjectID: subjectID, &record)
        return key
    }

    /// Replaces the blind-index entries of `fields` with those of their new values, under
    /// the current index version (invalid values get none).
    private func writeIndexes(
        _ db: StoreDatabase, subjectID: String, values: [String: NormalizedValue], invalid: Set<String>, fields: Set<String>,
        isNew: Bool = false
    ) throws {
        let version = core.indexer.currentVersion
        for name in fields.sorted() {
            guard let spec = schema[name], spec.blindIndexBits != nil else { continue }
            if !isNew {
                try db.blindIndex.delete(subject: subjectID, field: name)
            }
            guard let value = values[name], !invalid.contains(name) else { continue }
            let hash = try core.indexer.index(value.key, field: spec, version: version)
            try db.blindIndex.insert(field: name, version: version, hash: hash, subject: subjectID)
        }
    }

    // MARK: Encoding

    /// Encrypted fields, sorted by name, per field `[u8 name length][name][u32 BE key
    /// version][u8 salt length: 0 or 32][salt][u32 BE envelope length][envelope]` (after the
    /// record's MAC header: ``RecordSeal``). Key version 0 is an envelope written before
    /// field keys (the subject key opens it); a version without a salt was destroyed (its
    /// field removed), and has no envelope; a version with a salt and no envelope is a key
    /// made for a service's envelopes.
    static func encodeFields(envelopes: [String: [UInt8]], keys: [String: FieldKey]) -> [UInt8] {
        var out: [UInt8] = []
        for name in Set(envelopes.keys).union(keys.keys).sorted() {
            let envelope = envelopes[name] ?? []
            appendEntryHeader(name: name, key: keys[name] ?? FieldKey(version: 0, salt: nil), envelopeCount: envelope.count, to: &out)
            out += envelope
        }
        return out
    }

    static func appendEntryHeader(name: String, key: FieldKey, envelopeCount n: Int, to out: inout [UInt8]) {
        out.append(UInt8(truncatingIfNeeded: name.utf8.count))
        out.append(contentsOf: name.utf8)
        out.appendBigEndian32(key.version)
        out.append(UInt8(key.salt?.count ?? 0))
        if let salt = key.salt { out.append(contentsOf: salt) }
        out.appendBigEndian32(n)
    }

    /// The envelopes of a `sealed` column, by name (for counting which fields a record
    /// has; nothing is checked).
    static func decodeSealed(_ bytes: [UInt8], subjectID: String) throws -> [String: [UInt8]] {
        try decodeColumn(bytes, subjectID: subjectID).envelopes
    }

    /// The field entries of a whole `sealed` column, after its MAC header (or of the
    /// layout before record MACs); nothing is checked.
    static func decodeColumn(_ bytes: [UInt8], subjectID: String) throws -> (envelopes: [String: [UInt8]], keys: [String: FieldKey]) {
        if let header = RecordSeal.header(bytes) { return try decodeFields(Array(header.entries), subjectID: subjectID) }
        return try decodeFields(bytes, subjectID: subjectID, keyed: false)
    }

    /// Reads the field entries: of the field-key layout, or (`keyed` false) of the one
    /// before it (`[u8 name length][name][u32 BE envelope length][envelope]…`, no keys).
    static func decodeFields(_ bytes: [UInt8], subjectID: String, keyed: Bool = true) throws -> (envelopes: [String: [UInt8]], keys: [String: FieldKey]) {
        var envelopes: [String: [UInt8]] = [:]
        var keys: [String: FieldKey] = [:]
        func damaged() -> PrivacyKitError { PrivacyKitError(.integrity, "the encrypted fields of subject \(subjectID) are damaged") }
        func u32(_ i: Int) -> Int { Int(UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16 | UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])) }
        var i = 0
        while i < bytes.count {
            let nameLength = Int(bytes[i]); i += 1
            guard nameLength > 0, i + nameLength + 4 <= bytes.count, let name = String(validating: bytes[i..<(i + nameLength)], as: UTF8.self) else { throw damaged() }
            i += nameLength
            if keyed {
                guard i + 5 <= bytes.count else { throw damaged() }
                let version = u32(i)
                let saltLength = Int(bytes[i + 4])
                i += 5
                guard saltLength == 0 || saltLength == FieldKey.saltByteCount, i + saltLength + 4 <= bytes.count else { throw damaged() }
                if version > 0 { keys[name] = FieldKey(version: version, salt: saltLength == 0 ? nil : Array(bytes[i..<(i + saltLength)])) }
                i += saltLength
            }
            let n = u32(i)
            i += 4
            guard i + n <= bytes.count else { throw damaged() }
            if n > 0 { envelopes[name] = Array(bytes[i..<(i + n)]) }
            i += n
        }
        return (envelopes, keys)
    }

    /// The plain fields as a JSON object with sorted keys. Written by hand: a
    /// `JSONEncoder` per row cost more than the row's SQL. Escapes `"`, `\\` and every
    /// control character, so any string round-trips through a JSON decoder.
    static func json(_ plain: [String: String]) -> String {
        var out = "{"
        var first = true
        for key in plain.keys.sorted() {
            if !first { out += "," }
            first = false
            appendJSONString(key, to: &out)
            out += ":"
            appendJSONString(plain[key]!, to: &out)
        }
        return out + "}"
    }

    private static func appendJSONString(_ s: String, to out: inout String) {
        out += "\""
        var needsEscape = false
        for b in s.utf8 where b < 0x20 || b == 0x22 || b == 0x5C { needsEscape = true; break }
        guard needsEscape else {
            out += s
            out += "\""
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}
