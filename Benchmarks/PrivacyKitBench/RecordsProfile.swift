import Foundation
import GRDB
import PrivacyKit

// `records-profile`: an import taken apart. Each phase is timed alone on the same
// customers: the column mapping, normalization (the public Normalizer, per kind), the
// per-row bookkeeping (timestamp, JSON, dictionaries), the crypto, the SQL (with and
// without the existence read and the savepoint per row) and the audit events; then the real
// `vault.records.importCSV` of the same rows. The phases replicate the library's code
// (RecordStore.upsert, ImportPlan, Vault.perform) as of this commit. CSV parsing is left
// out (the reader is internal; the stack samples put it under 1%). Phases timed alone run
// faster than inside the import (hot caches): the stack sampler in Benchmarks/profile/
// gives the shares inside the real thing; this gives costs per call.

struct ProfilePiece {
    let name: String
    /// µs per customer, per round.
    let micros: Stats
    let note: String
}

func recordsProfile(customers k: Int, rounds: Int, dir: String) throws -> (pieces: [ProfilePiece], libraryMicros: Stats, baselineMicros: Stats) {
    let csv = dir + "/profile.csv"
    try SyntheticCRM.writeCSV(to: csv, count: k)
    let schema = try defaultSchema()
    let n = Double(k)
    var pieces: [ProfilePiece] = []
    func piece(_ name: String, _ note: String = "", _ body: () throws -> Void) throws {
        try body()  // warm-up
        var s: [Double] = []
        for _ in 0..<rounds { s.append(try measure(body) / n * 1e6) }
        pieces.append(ProfilePiece(name: name, micros: Stats(s), note: note))
        progress("  \(name): \(fmt(Stats(s).median, 2)) µs/customer")
    }

    // The rows as the CSV reader yields them.
    let rows: [[String]] = (0..<k).map {
        let c = SyntheticCRM.customer($0)
        return [c.id, c.fullName, c.email, c.phone, c.birthDate, c.nationalID, c.address, c.city, c.country, c.segment]
    }

    // ImportPlan.problem(with:) + values(of:) + RecordStore.checkSubjectID.
    let header = SyntheticCustomer.csvHeader.split(separator: ",").map(String.init)
    let mapped = header.indices.filter { $0 != 0 }.map { ($0, header[$0]) }
    var valueRows: [(String, [String: String])] = []
    try piece("column mapping + id checks", "trimmingCharacters ×11, a [String: String] of 9 per row") {
        var out: [(String, [String: String])] = []
        out.reserveCapacity(k)
        for fields in rows {
            guard !fields[0].trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            let subject = fields[0].trimmingCharacters(in: .whitespaces)
            guard !subject.isEmpty, subject.count <= 128,
                  !subject.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else { continue }
            var values: [String: String] = [:]
            for (index, field) in mapped where !fields[index].trimmingCharacters(in: .whitespaces).isEmpty { values[field] = fields[index] }
            out.append((fields[0].trimmingCharacters(in: .whitespaces), values))
        }
        valueRows = out
    }

    // RecordStore.normalize, as written.
    var normalizedRows: [[String: NormalizedValue]] = []
    try piece("normalization (RecordStore.normalize)", "see the per-kind lines") {
        var out: [[String: NormalizedValue]] = []
        out.reserveCapacity(k)
        for (_, values) in valueRows {
            var region: String?
            if let raw = values["country"], !raw.isEmpty, case .success(let c) = Normalizer.normalize(raw, as: .country) { region = c.stored }
            var result: [String: NormalizedValue] = [:]
            for (name, raw) in values {
                let spec = schema[name]!
                let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                if case .success(let v) = Normalizer.normalize(trimmed, as: spec.kind, region: region, defaultRegion: schema.defaultRegion) {
                    result[name] = v
                }
            }
            out.append(result)
        }
        normalizedRows = out
    }
    for name in ["full_name", "email", "phone", "birth_date", "national_id", "address", "city", "country", "segment"] {
        let spec = schema[name]!
        let inputs = valueRows.map { ($0.1[name] ?? "", $0.1["country"]) }
        try piece("  normalize \(name) (\(spec.kind.rawValue))") {
            for (raw, region) in inputs { _ = Normalizer.normalize(raw, as: spec.kind, region: region, defaultRegion: "US") }
        }
    }
    try piece("  trimmingCharacters(.whitespacesAndNewlines) ×9") {
        for (_, values) in valueRows { for (_, raw) in values { _ = raw.trimmingCharacters(in: .whitespacesAndNewlines) } }
    }

    // Per-row bookkeeping of RecordStore.upsert and the import loop.
    try piece("Timestamp.now() (ISOTime.string)", "once per row") {
        for _ in 0..<k { _ = ISOTime.string(Date()) }
    }
    let plains = normalizedRows.map { r in r.filter { ["city", "country", "segment"].contains($0.key) }.mapValues(\.stored) }
    try piece("JSON of the plain fields (new JSONEncoder)", "once per row") {
        for p in plains {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            _ = String(decoding: try encoder.encode(p), as: UTF8.self)
        }
    }
    let envelopeSizes = normalizedRows.map { r in r.filter { schema[$0.key]!.encrypted }.mapValues { [UInt8](repeating: 7, count: 45 + $0.stored.utf8.count) } }
    try piece("dictionaries, sorts, encodeSealed", "Stored.sealed/plain dicts, encodeSealed, invalid/keys sorted, writeIndexes' sorted field set") {
        for (i, sealedSizes) in envelopeSizes.enumerated() {
            var sealed: [String: [UInt8]] = [:]
            var plain: [String: String] = [:]
            for (name, value) in normalizedRows[i] {
                if let e = sealedSizes[name] { sealed[name] = e } else { plain[name] = value.stored }
            }
            var out: [UInt8] = []
            for (name, envelope) in sealed.sorted(by: { $0.key < $1.key }) {
                let nameBytes = Array(name.utf8)
                out.append(UInt8(nameBytes.count))
                out += nameBytes
                let c = UInt32(envelope.count)
                out += [UInt8(c >> 24), UInt8(c >> 16 & 0xff), UInt8(c >> 8 & 0xff), UInt8(c & 0xff)]
                out += envelope
            }
            _ = Set<String>().sorted().joined(separator: ",")
            for name in Set(normalizedRows[i].keys).sorted() { _ = schema[name]?.blindIndexBits }
            _ = normalizedRows[i].keys.sorted()
            if out.count == 1 { print(plain.count) }
        }
    }

    // Crypto: the library's (FieldCipher, BlindIndexer) and the bare calls.
    let vaultDir = dir + "/profile-vault"
    let bench = try BenchVault.create(directory: vaultDir, keyPath: vaultDir + ".key")
    let vault = bench.vault
    let normalized = try normalizedCustomers(0..<k, schema: schema)
    let cipher = try FieldCipher(vaultID: vault.id)
    guard let kek = vault.keys.keyring.current(.kek) else { throw UsageError("no KEK") }
    let specs = Dictionary(uniqueKeysWithValues: schema.indexedFields.map { ($0.name, $0) })
    var sink = 0
    try piece("crypto, library (key, wrap, 6 seals, 3 indexes)") {
        for c in normalized {
            cipher.newSubjectKey()
            sink &+= try cipher.wrapSubjectKey(subjectID: c.id, kek: kek.secret, kekVersion: kek.info.version).count
            for (name, value) in c.sealed { sink &+= try cipher.seal(value, field: name, subjectID: c.id, keyVersion: 1).count }
            let indexer = vault.keys.indexer  // as writeIndexes does, per record
            let version = indexer.currentVersion
            for k in c.indexKeys { sink &+= try indexer.index(k.key, field: specs[k.name]!, version: version).count }
            cipher.wipe()
        }
    }
    let bare = BareCrypto(usePool: false, fields: ["full_name", "email", "phone", "birth_date", "national_id", "address"])
    let bareRows = normalized.map(BareCustomer.init)
    try piece("crypto, bare calls (nonce per call)") {
        for c in bareRows {
            bare.newWrappedKey()
            for f in 0..<6 { c.values[f].withUnsafeBufferPointer { bare.seal($0, field: f, into: bare.envelope) } }
            for i in 0..<3 { c.keys[i].withUnsafeBufferPointer { bare.index($0, key: i) } }
            bare.wipe()
        }
    }

    // SQL: the baseline's inserts, then with the existence read, then with a savepoint per row too.
    var storeIndex = 0
    func sql(existenceRead: Bool, savepoint: Bool) throws {
        storeIndex += 1
        let path = dir + "/profile-\(storeIndex).sqlite"
        let pool = try baselinePool(path: path)
        defer {
            try? pool.close()
            for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) }
        }
        let wrapped = Data(repeating: 1, count: 72)
        let sealedBlobs = envelopeSizes.map { d in Data(d.values.flatMap { $0 } + [UInt8](repeating: 0, count: 6 * 15)) }
        let plainJSON = plains.map { p in String(decoding: (try? JSONEncoder().encode(p)) ?? Data(), as: UTF8.self) }
        var rng = SplitMix64(seed: UInt64(storeIndex))
        let hashes = (0..<(3 * k)).map { _ in withUnsafeBytes(of: rng.next()) { Data($0) } }  // random, like blind indexes
        var done = 0
        while done < k {
            let end = min(k, done + 500)
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    for i in done..<end {
                        let id = normalized[i].id
                        func row() throws {
                            if existenceRead {
                                _ = try Row.fetchOne(db.cachedStatement(sql: "SELECT kek_version, key_version, wrapped_key, sealed, plain, invalid FROM subjects WHERE id = ?"), arguments: [id])
                            }
                            try db.cachedStatement(sql: "INSERT INTO subjects (id, kek_version, key_version, wrapped_key, sealed, plain, invalid, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
                                .execute(arguments: [id, 1, 1, wrapped, sealedBlobs[i], plainJSON[i], "", "2025-01-01T00:00:00Z", "2025-01-01T00:00:00Z"])
                            for (j, name) in ["email", "national_id", "phone"].enumerated() {
                                try db.cachedStatement(sql: "INSERT OR IGNORE INTO blind_index (field, version, hash, subject_id) VALUES (?, ?, ?, ?)")
                                    .execute(arguments: [name, 1, hashes[3 * i + j], id])
                            }
                        }
                        if savepoint { try db.inSavepoint { try row(); return .commit } } else { try row() }
                    }
                    return .commit
                }
            }
            done = end
        }
    }
    try piece("SQL: inserts (1 subject + 3 index rows), 500 per transaction") { try sql(existenceRead: false, savepoint: false) }
    try piece("SQL: + existence read per row") { try sql(existenceRead: true, savepoint: false) }
    try piece("SQL: + existence read + savepoint per row") { try sql(existenceRead: true, savepoint: true) }

    // Audit: one record.import event per row, 500 per transaction (as the import's batches).
    let names = ["address", "birth_date", "city", "country", "email", "full_name", "national_id", "phone", "segment"]
    let entries = (0..<k).map { AuditEntry(.recordImport, subjectID: SyntheticCRM.subjectID($0), fields: names, reason: "created") }
    try piece("audit events (vault.audit.record, 500 per transaction)") {
        var done = 0
        while done < k {
            let end = min(k, done + 500)
            try vault.audit.record(Array(entries[done..<end]), context: benchContext)
            done = end
        }
    }

    // The whole import of the same rows, in this process, and the baseline.
    var lib: [Double] = [], base: [Double] = []
    for r in 0..<max(3, rounds / 2) {
        let v = try BenchVault.create(directory: dir + "/profile-import-\(r)", keyPath: dir + "/profile-import-\(r).key")
        lib.append(try measure { _ = try v.vault.records.importCSV(at: csv, options: ImportOptions(), context: benchContext) } / n * 1e6)
        let store = dir + "/profile-baseline-\(r).sqlite"
        let b = try baselineImport(storePath: store, customers: k, batch: 500, usePool: false)
        base.append(b.seconds / n * 1e6)
        try? FileManager.default.removeItem(atPath: dir + "/profile-import-\(r)")
        for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + s) }
        progress("  whole import: \(fmt(lib.last!, 1)) µs/customer; baseline \(fmt(base.last!, 1)) µs/customer")
    }
    if sink == 42 { print("") }
    return (pieces, Stats(lib), Stats(base))
}
