import CSodium
import Foundation
import GRDB
import PrivacyKit
import Sodium
import Synchronization

// The customer-records benchmarks: CSV import against a bare libsodium + SQLite baseline,
// find by e-mail, library-mode encrypt of one field, and the crypto path alone. Each
// returns plain numbers; RecordsMain.swift prints them.

/// Goals from the issue.
enum RecordGoals {
    /// Import throughput, as a fraction of the baseline's in the same run.
    static let importRatio = 0.6
    /// Peak RSS of the import: 200 MB, taken as 200,000,000 bytes (195,312 KiB) to be strict.
    static let importMaxRSSKB = 200_000_000 / 1024
    static let findP99Micros = 1_000.0
    /// Library-mode encrypt of one field: at most this multiple of the bare libsodium call.
    static let encryptRatio = 1.5
    /// The crypto path: at least this fraction of the bare loop's customers/s.
    static let cryptoRatio = 0.8
}

/// The default schema (the one every new vault gets).
func defaultSchema() throws -> Schema {
    guard let file = PolicySet.defaultFiles.first(where: { $0.name == "schema.yaml" }) else {
        throw UsageError("PrivacyKit ships no default schema.yaml")
    }
    return try Schema.parse(file.contents, name: "schema.yaml")
}

/// Customers n..<n+count, normalized (untimed preparation for the baseline and the crypto path).
func normalizedCustomers(_ range: Range<Int>, schema: Schema) throws -> [NormalizedCustomer] {
    try range.map { try NormalizedCustomer(SyntheticCRM.customer($0), schema: schema) }
}

// MARK: - The bare baseline: libsodium calls only

/// Locked-free, allocation-free libsodium calls with buffers made once: what the import's
/// crypto would cost with no PrivacyKit code around it. Keys are random (a bare program has
/// no keyring); associated data has the same length as the library's (the library binds
/// format, vault id, field, subject id and key version), so every call hashes as many bytes.
final class BareCrypto {
    static let keyBytes = 32, nonceBytes = 24, tagBytes = 16
    /// Envelope header as the library writes it: format (1) ‖ key version (4) ‖ nonce (24).
    static let headerBytes = 1 + 4 + 24
    static let wrappedBytes = 24 + 32 + 16

    let kek = UnsafeMutablePointer<UInt8>.allocate(capacity: keyBytes)
    let subjectKey = UnsafeMutablePointer<UInt8>.allocate(capacity: keyBytes)
    let indexKeys = UnsafeMutablePointer<UInt8>.allocate(capacity: 3 * keyBytes)
    let hash = UnsafeMutablePointer<UInt8>.allocate(capacity: 32)
    let wrapped = UnsafeMutablePointer<UInt8>.allocate(capacity: wrappedBytes)
    /// For the micro-benchmarks: one envelope at a time.
    let envelope = UnsafeMutablePointer<UInt8>.allocate(capacity: 4096)
    let keyAD: [UInt8]
    /// Same length as the library's field AD for each of the six fields (schema order).
    let fieldADs: [[UInt8]]

    /// Nonces: one `randombytes_buf(24)` per call (`usePool == false`, as the issue's
    /// baseline describes) or 4 KiB at a time, handed out 24 bytes each (what the library's
    /// NoncePool does).
    let usePool: Bool
    private let pool = UnsafeMutablePointer<UInt8>.allocate(capacity: 170 * 24)
    private var poolOffset = 170 * 24

    init(usePool: Bool, fields: [String], subjectIDLength: Int = 12) {
        self.usePool = usePool
        randombytes_buf(kek, Self.keyBytes)
        randombytes_buf(indexKeys, 3 * Self.keyBytes)
        memset(subjectKey, 0, Self.keyBytes)
        // The library's layouts (Canonical: u32 BE length ‖ bytes per part), with a
        // placeholder vault id and subject id of the benchmark's length.
        func canonical(_ parts: [[UInt8]]) -> [UInt8] {
            parts.flatMap { p -> [UInt8] in
                let n = UInt32(p.count)
                return [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + p
            }
        }
        let vault = [UInt8](repeating: 0x11, count: 16), subject = [UInt8](repeating: 0x63, count: subjectIDLength)
        keyAD = canonical([Array("privacykit.subject-key.v1".utf8), vault, subject, [UInt8](repeating: 0, count: 8)])
        fieldADs = fields.map {
            canonical([Array("privacykit.field.v1".utf8), [0, 0, 0, 0, 0, 0, 0, 1], vault, Array($0.utf8), subject,
                       [0, 0, 0, 0, 0, 0, 0, 1]])
        }
    }

    deinit {
        for p in [kek, subjectKey, indexKeys, hash, wrapped, envelope, pool] { p.deallocate() }
    }

    @inline(__always)
    func nonce(into target: UnsafeMutablePointer<UInt8>) {
        if !usePool {
            randombytes_buf(target, Self.nonceBytes)
            return
        }
        if poolOffset + Self.nonceBytes > 170 * 24 {
            randombytes_buf(pool, 170 * 24)
            poolOffset = 0
        }
        memcpy(target, pool + poolOffset, Self.nonceBytes)
        sodium_memzero(pool + poolOffset, Self.nonceBytes)
        poolOffset += Self.nonceBytes
    }

    /// randombytes_buf(32) for a new subject key, then its wrap under the KEK.
    @inline(__always)
    func newWrappedKey() {
        randombytes_buf(subjectKey, Self.keyBytes)
        nonce(into: wrapped)
        keyAD.withUnsafeBufferPointer { ad in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                wrapped + Self.nonceBytes, nil, subjectKey, UInt64(Self.keyBytes), ad.baseAddress, UInt64(ad.count), nil, wrapped, kek)
        }
    }

    /// Seals `value` under the subject key into `out` (header ‖ ciphertext ‖ tag).
    @inline(__always)
    func seal(_ value: UnsafeBufferPointer<UInt8>, field: Int, into out: UnsafeMutablePointer<UInt8>) {
        out[0] = 1
        out[1] = 0; out[2] = 0; out[3] = 0; out[4] = 1
        nonce(into: out + 5)
        fieldADs[field].withUnsafeBufferPointer { ad in
            _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                out + Self.headerBytes, nil, value.baseAddress!, UInt64(value.count), ad.baseAddress, UInt64(ad.count), nil,
                out + 5, subjectKey)
        }
    }

    /// Keyed BLAKE2b-256 of `value` under index key `k` (0…2), truncated to 8 bytes in `hash`.
    @inline(__always)
    func index(_ value: UnsafeBufferPointer<UInt8>, key k: Int) {
        _ = crypto_generichash(hash, 32, value.baseAddress!, UInt64(value.count), indexKeys + k * Self.keyBytes, Self.keyBytes)
    }

    func wipe() { sodium_memzero(subjectKey, Self.keyBytes) }
}

/// A customer as bytes, for the bare loops (converted once, untimed).
struct BareCustomer {
    let id: String
    /// The six stored values, schema order.
    let values: [[UInt8]]
    /// The three index keys (email, phone, national_id).
    let keys: [[UInt8]]
    let plainJSON: String

    init(_ c: NormalizedCustomer) {
        id = c.id
        values = c.sealed.map { Array($0.value.utf8) }
        keys = c.indexKeys.map { Array($0.key.utf8) }
        // The plain fields as the library writes them (its JSONEncoder with sorted keys
        // gives this text); built here, outside the timing: the baseline stores it.
        plainJSON = "{" + c.plain.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\(Self.escaped($0.value))\"" }.joined(separator: ",") + "}"
    }

    /// JSON string escaping as JSONEncoder does it (including `/` as `\/`).
    static func escaped(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/": out += "\\/"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out
    }
}

/// Customers `range` as bytes, made on every core (untimed preparation).
func makeBareCustomers(_ range: Range<Int>) -> [BareCustomer] {
    let workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    let per = (range.count + workers - 1) / workers
    let parts = Mutex([[BareCustomer]](repeating: [], count: workers))
    DispatchQueue.concurrentPerform(iterations: workers) { w in
        let lo = range.lowerBound + w * per, hi = min(range.upperBound, lo + per)
        guard lo < hi else { return }
        let made = (lo..<hi).map { BareCustomer(NormalizedCustomer(synthetic: SyntheticCRM.customer($0))) }
        parts.withLock { $0[w] = made }
    }
    return parts.withLock { $0.flatMap { $0 } }
}

// MARK: - 1. Import

/// What one import run (library or baseline) measured, printed by the child as JSON.
struct ImportRun: Codable {
    var benchmark = "records-import"
    let mode: String
    let customers: Int
    let seconds: Double
    let customersPerSecond: Double
    let created: Int
    let rejected: Int
    /// customers/s per tenth of the run, to see whether it slows as the store grows.
    let curve: [Double]
    let maxRSSKB: Int
    let startMaxRSSKB: Int
    let vmHWMKB: Int
    let peakRSSDuringKB: Int
    let cpuSeconds: Double
    let storeBytes: Int64
    let firstRejects: [String]
    /// Bytes read from / written to storage during the run (/proc/self/io): page-cache misses and writeback.
    var storageReadBytes = 0
    var storageWriteBytes = 0

    enum CodingKeys: String, CodingKey {
        case benchmark, mode, customers, seconds, created, rejected, curve
        case customersPerSecond = "customers_per_s"
        case maxRSSKB = "max_rss_kb"
        case startMaxRSSKB = "start_max_rss_kb"
        case vmHWMKB = "vm_hwm_kb"
        case peakRSSDuringKB = "peak_rss_during_kb"
        case cpuSeconds = "cpu_s"
        case storeBytes = "store_bytes"
        case firstRejects = "first_rejects"
        case storageReadBytes = "storage_read_bytes"
        case storageWriteBytes = "storage_write_bytes"
    }
}

/// Tenths of a run from (rows done, time) marks: customers/s in each tenth.
func curve(marks: [(rows: Int, seconds: Double)], total: Int) -> [Double] {
    var out: [Double] = []
    var last = (rows: 0, seconds: 0.0)
    var nextTenth = 1
    for m in marks where m.rows * 10 >= nextTenth * total {
        out.append(Double(m.rows - last.rows) / max(m.seconds - last.seconds, 1e-9))
        last = m
        while nextTenth * total <= m.rows * 10 { nextTenth += 1 }
    }
    return out
}

final class Marks: @unchecked Sendable {  // used from one thread only
    var items: [(rows: Int, seconds: Double)] = []
}

/// The library: `vault.records.importCSV` of the file into a fresh vault made here (key file, so
/// no Argon2id). Runs in a child process so its max RSS is its own.
func libraryImport(csv: String, vaultDirectory: String, keyPath: String, customers: Int, batch: Int, existing: Bool = false) throws -> ImportRun {
    let vault = existing
        ? try Vault.open(at: URL(fileURLWithPath: vaultDirectory), rootKey: .keyFile(at: keyPath), context: benchContext)
        : try BenchVault.create(directory: vaultDirectory, keyPath: keyPath).vault
    let ioBefore = storageIO()
    let before = ResourceUsage.current()
    let sampler = RSSSampler()
    let marks = Marks()
    var lastReport = clock.now
    let start = clock.now
    let summary = try vault.records.importCSV(at: csv, options: ImportOptions(batchSize: batch), context: benchContext) { s in
        let now = clock.now
        marks.items.append((s.rows, (now - start).seconds))
        if (now - lastReport).seconds > 10 {
            progress("  library import: \(grouped(Double(s.rows))) / \(grouped(Double(customers))) rows, \(grouped(Double(s.rows) / (now - start).seconds))/s")
            lastReport = now
        }
    }
    let seconds = (clock.now - start).seconds
    let peak = sampler.stop()
    let after = ResourceUsage.current()
    let store = vault.storePath
    let io = storageIO()
    var run = ImportRun(
        mode: "library", customers: summary.rows, seconds: seconds, customersPerSecond: Double(summary.created) / seconds,
        created: summary.created, rejected: summary.rejected, curve: curve(marks: marks.items, total: summary.rows),
        maxRSSKB: after.maxRSSKB, startMaxRSSKB: before.maxRSSKB, vmHWMKB: peakRSSKB() ?? 0, peakRSSDuringKB: peak,
        cpuSeconds: after.cpuSeconds - before.cpuSeconds, storeBytes: fileSize(store) + fileSize(store + "-wal"),
        firstRejects: summary.rejects.prefix(5).map { "line \($0.line) \($0.column ?? "-"): \($0.reason)" })
    run.storageReadBytes = io.read - ioBefore.read
    run.storageWriteBytes = io.write - ioBefore.write
    return run
}

/// The subjects and blind_index tables of migration "v3-records", as the library creates them.
let recordsSchemaSQL = """
    CREATE TABLE subjects (
        id TEXT PRIMARY KEY NOT NULL,
        kek_version INTEGER NOT NULL,
        key_version INTEGER NOT NULL,
        wrapped_key BLOB NOT NULL,
        sealed BLOB NOT NULL,
        plain TEXT NOT NULL,
        invalid TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX subjects_kek ON subjects(kek_version);
    CREATE TABLE blind_index (
        field TEXT NOT NULL,
        version INTEGER NOT NULL,
        hash BLOB NOT NULL,
        subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
        PRIMARY KEY (field, version, hash, subject_id)
    ) WITHOUT ROWID;
    CREATE INDEX blind_index_subject ON blind_index(subject_id);
    """

/// A GRDB pool configured as the library's store is (WAL, foreign keys, secure_delete).
func baselinePool(path: String) throws -> DatabasePool {
    var config = Configuration()
    config.foreignKeysEnabled = true
    config.busyMode = .timeout(10)
    config.prepareDatabase { db in try db.execute(sql: "PRAGMA secure_delete = ON") }
    let pool = try DatabasePool(path: path, configuration: config)
    try pool.write { db in try db.execute(sql: recordsSchemaSQL) }
    return pool
}

/// The baseline: per customer the same libsodium calls as the import (a random subject
/// key, its wrap, six seals, three keyed BLAKE2b) and the same rows (one in `subjects`,
/// three in `blind_index`) through GRDB cached statements, `batch` customers per immediate
/// transaction. Values are normalized before each batch, outside the timing; no CSV, no
/// normalization, no audit event, no existence check, no JSON encoding, no dictionaries.
func baselineImport(storePath: String, customers: Int, batch: Int, usePool: Bool) throws -> ImportRun {
    let fieldNames = ["full_name", "email", "phone", "birth_date", "national_id", "address"]
    let crypto = BareCrypto(usePool: usePool, fields: fieldNames)
    // The sealed blob in the library's layout: by field name, u8 name length ‖ name ‖
    // u32 BE envelope length ‖ envelope.
    let order = fieldNames.indices.sorted { fieldNames[$0] < fieldNames[$1] }
    let nameBytes = fieldNames.map { Array($0.utf8) }
    let indexNames = ["email", "phone", "national_id"]
    var blob = [UInt8](repeating: 0, count: 8192)
    let pool = try baselinePool(path: storePath)
    let ioBefore = storageIO()
    let before = ResourceUsage.current()
    let sampler = RSSSampler()
    var seconds = 0.0
    var marks: [(rows: Int, seconds: Double)] = []
    var lastReport = clock.now
    var done = 0
    while done < customers {
        let n = min(batch, customers - done)
        let rows = makeBareCustomers(done..<(done + n))  // untimed
        let now = ISOTime.string(Date())
        seconds += try measure {
            try pool.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    let insertSubject = try db.cachedStatement(sql: """
                        INSERT INTO subjects (id, kek_version, key_version, wrapped_key, sealed, plain, invalid, created_at, updated_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """)
                    let insertIndex = try db.cachedStatement(
                        sql: "INSERT OR IGNORE INTO blind_index (field, version, hash, subject_id) VALUES (?, ?, ?, ?)")
                    for row in rows {
                        crypto.newWrappedKey()
                        var used = 0
                        blob.withUnsafeMutableBufferPointer { out in
                            let base = out.baseAddress!
                            for f in order {
                                let name = nameBytes[f]
                                base[used] = UInt8(name.count); used += 1
                                _ = name.withUnsafeBufferPointer { memcpy(base + used, $0.baseAddress!, name.count) }
                                used += name.count
                                let n = UInt32(BareCrypto.headerBytes + row.values[f].count + BareCrypto.tagBytes)
                                base[used] = UInt8(n >> 24); base[used + 1] = UInt8(n >> 16 & 0xff)
                                base[used + 2] = UInt8(n >> 8 & 0xff); base[used + 3] = UInt8(n & 0xff)
                                used += 4
                                row.values[f].withUnsafeBufferPointer { crypto.seal($0, field: f, into: base + used) }
                                used += Int(n)
                            }
                        }
                        crypto.wipe()
                        try insertSubject.execute(arguments: [
                            row.id, 1, 1, Data(bytes: crypto.wrapped, count: BareCrypto.wrappedBytes), Data(blob[0..<used]),
                            row.plainJSON, "", now, now,
                        ])
                        for k in 0..<3 {
                            row.keys[k].withUnsafeBufferPointer { crypto.index($0, key: k) }
                            try insertIndex.execute(arguments: [indexNames[k], 1, Data(bytes: crypto.hash, count: 8), row.id])
                        }
                    }
                    return .commit
                }
            }
        }
        done += n
        marks.append((done, seconds))
        if (clock.now - lastReport).seconds > 10 {
            progress("  baseline\(usePool ? " (pooled nonces)" : ""): \(grouped(Double(done))) / \(grouped(Double(customers))) customers, \(grouped(Double(done) / seconds))/s")
            lastReport = clock.now
        }
    }
    let peak = sampler.stop()
    let after = ResourceUsage.current()
    try pool.close()
    let io = storageIO()
    var run = ImportRun(
        mode: usePool ? "baseline-pooled" : "baseline", customers: customers, seconds: seconds,
        customersPerSecond: Double(customers) / seconds, created: customers, rejected: 0,
        curve: curve(marks: marks, total: customers), maxRSSKB: after.maxRSSKB, startMaxRSSKB: before.maxRSSKB,
        vmHWMKB: peakRSSKB() ?? 0, peakRSSDuringKB: peak, cpuSeconds: after.cpuSeconds - before.cpuSeconds,
        storeBytes: fileSize(storePath) + fileSize(storePath + "-wal"), firstRejects: [])
    run.storageReadBytes = io.read - ioBefore.read
    run.storageWriteBytes = io.write - ioBefore.write
    return run
}

func importInChild(_ arguments: [String]) throws -> ImportRun {
    let output = try runChild(arguments)
    guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
        throw UsageError("import child printed no JSON line:\n\(output)")
    }
    return try JSONDecoder().decode(ImportRun.self, from: Data(line.utf8))
}

// MARK: - 2. Find by e-mail

struct FindResult {
    /// Latency of finds of existing e-mails, µs: first lookups of these customers, then
    /// the same lookups again (their pages now in the OS page cache).
    let hits: Stats
    let repeatHits: Stats
    /// Latency of finds of e-mails that are not in the store, µs.
    let misses: Stats
    let wrong: Int
    /// Bytes read from storage (/proc/self/io read_bytes) during each pass: page-cache misses.
    let storageReadBytes: Int
    let repeatStorageReadBytes: Int
    /// Pieces, µs: normalize + blind index as a caller gets it (`vault.records.blindIndex`,
    /// which is authorised and writes its own `record.blind-index` event), an audit event in its own
    /// transaction (`vault.audit.record`), and making a FieldCipher (`sodium_malloc` + free).
    let blindIndexPart: Stats
    let auditPart: Stats
    let cipherInitPart: Stats
    /// The access checks of one find (the action with its purpose, then the field), in ns:
    /// the overhead of enforcement per call.
    let accessCheckNs: Stats
}

/// Bytes this process has read from storage (page-cache misses) and caused to be written
/// to storage so far (/proc/self/io, Linux); 0 where unknown.
func storageIO() -> (read: Int, write: Int) {
    guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else { return (0, 0) }
    func value(_ key: String) -> Int {
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return 0 }
        return Int(line.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces)) ?? 0
    }
    return (value("read_bytes"), value("write_bytes"))
}

func storageReadBytes() -> Int { storageIO().read }

/// `count` finds of random existing customers' e-mails (as the CRM wrote them), with
/// `misses` finds of absent ones interleaved, on `vault` holding customers 0..<customers;
/// then the same finds again.
func benchFind(vault: Vault, customers: Int, count: Int, misses missCount: Int, seed: UInt64 = 42) throws -> FindResult {
    var r = SplitMix64(seed: seed)
    let picks = (0..<count).map { _ in r.below(customers) }
    let queries = picks.map { SyntheticCRM.customer($0).email }
    let absent = (0..<missCount).map { "nobody.\($0)@nowhere-\(r.below(1000)).example" }
    for i in 0..<50 { _ = try vault.records.find(field: "email", value: SyntheticCRM.customer(i * 7 % customers).email, context: benchContext) }
    var wrong = 0
    var misses: [Double] = []
    func pass(withMisses: Bool) throws -> (Stats, Int) {
        var hits: [Double] = []
        let readBefore = storageReadBytes()
        for (i, q) in queries.enumerated() {
            var found: [String] = []
            hits.append(try measure { found = try vault.records.find(field: "email", value: q, context: benchContext) } * 1e6)
            if found != [SyntheticCRM.subjectID(picks[i])] { wrong += 1 }
            if withMisses, i % max(1, count / max(1, missCount)) == 0, misses.count < missCount {
                let a = absent[misses.count]
                var none: [String] = []
                misses.append(try measure { none = try vault.records.find(field: "email", value: a, context: benchContext) } * 1e6)
                if !none.isEmpty { wrong += 1 }
            }
        }
        return (Stats(hits), storageReadBytes() - readBefore)
    }
    let (first, firstRead) = try pass(withMisses: true)
    let (again, againRead) = try pass(withMisses: false)
    // Pieces of a find, measured alone.
    var bi: [Double] = [], audit: [Double] = [], cipher: [Double] = [], access: [Double] = []
    let entry = [AuditEntry(.recordLookup, fields: ["email"], reason: "1 matches")]
    for q in queries.prefix(500) {
        bi.append(try measure { _ = try vault.records.blindIndex(q, field: "email", context: benchContext) } * 1e6)
        audit.append(try measure { try vault.audit.record(entry, context: benchContext) } * 1e6)
        cipher.append(try measure { _ = try FieldCipher(vaultID: vault.id) } * 1e6)
        access.append(try measure {
            for _ in 0..<100 {
                _ = try vault.policies.access.decide(role: benchContext.role, action: .read, purpose: benchContext.purpose)
                _ = try vault.policies.access.decide(role: benchContext.role, action: .read, field: "email", purpose: benchContext.purpose)
            }
        } * 1e9 / 100)
    }
    return FindResult(hits: first, repeatHits: again, misses: Stats(misses.isEmpty ? [0] : misses), wrong: wrong,
                      storageReadBytes: firstRead, repeatStorageReadBytes: againRead,
                      blindIndexPart: Stats(bi), auditPart: Stats(audit), cipherInitPart: Stats(cipher),
                      accessCheckNs: Stats(access))
}

/// `vault.records.encrypt` (library mode, public API) for existing subjects: per-call µs.
func benchVaultEncrypt(vault: Vault, customers: Int, count: Int) throws -> Stats {
    var r = SplitMix64(seed: 7)
    var samples: [Double] = []
    for i in 0..<(count + 20) {
        let subject = SyntheticCRM.subjectID(r.below(customers))
        let t = try measure { _ = try vault.records.encrypt("anna.mueller1@gmx.de", field: "email", subject: subject, context: benchContext) } * 1e6
        if i >= 20 { samples.append(t) }
    }
    return Stats(samples)
}

// MARK: - 3. One field: FieldCipher.seal against the bare call

struct SealOneResult {
    let label: String
    let bytes: Int
    /// ns per call, per round.
    let library: Stats
    let bare: Stats
    let barePooled: Stats
}

/// `FieldCipher.seal` of one value (subject key already in the cipher) against
/// `crypto_aead_xchacha20poly1305_ietf_encrypt` with a `randombytes_buf` nonce on the same
/// bytes (same AD length, output into a buffer made once), and with pooled nonces.
/// Rounds alternate between the three so drift hits all of them.
func benchSealOne(vaultID: VaultID, value: String, field: String, rounds: Int, iterations: Int) throws -> SealOneResult {
    let cipher = try FieldCipher(vaultID: vaultID)
    cipher.newSubjectKey()
    let subject = SyntheticCRM.subjectID(123_456)
    let bare = BareCrypto(usePool: false, fields: [field])
    let pooled = BareCrypto(usePool: true, fields: [field])
    let bytes = Array(value.utf8)
    var sink = 0
    func lib() throws -> Double {
        try measure { for _ in 0..<iterations { sink &+= try cipher.seal(value, field: field, subjectID: subject, keyVersion: 1).count } }
    }
    func raw(_ c: BareCrypto) -> Double {
        bytes.withUnsafeBufferPointer { v in measure { for _ in 0..<iterations { c.seal(v, field: 0, into: c.envelope) } } }
    }
    _ = try lib(); _ = raw(bare); _ = raw(pooled)  // warm-up
    var l: [Double] = [], b: [Double] = [], p: [Double] = []
    for _ in 0..<rounds {
        l.append(try lib() / Double(iterations) * 1e9)
        b.append(raw(bare) / Double(iterations) * 1e9)
        p.append(raw(pooled) / Double(iterations) * 1e9)
    }
    if sink == 42 { print("") }
    return SealOneResult(label: field, bytes: bytes.count, library: Stats(l), bare: Stats(b), barePooled: Stats(p))
}

// MARK: - 4. The crypto path alone

struct CryptoPathResult {
    let customersPerRound: Int
    /// customers/s per round.
    let library: Stats
    let bare: Stats
    let barePooled: Stats
    /// ns per customer, per piece (medians over rounds): library vs bare (per-call nonce) vs bare pooled.
    let pieces: [(name: String, library: Stats, bare: Stats, barePooled: Stats)]
}

/// Per customer: new subject key, its wrap, six seals, three blind indexes (values already
/// normalized), then the key wiped — with FieldCipher and the vault's BlindIndexer, against
/// the same libsodium calls in a bare loop.
func benchCryptoPath(vault: Vault, customers data: [NormalizedCustomer], rounds: Int) throws -> CryptoPathResult {
    let cipher = try FieldCipher(vaultID: vault.id)
    guard let kek = vault.keys.keyring.current(.kek) else { throw UsageError("the vault has no KEK") }
    let indexer = vault.keys.indexer
    let version = indexer.currentVersion
    let specs = Dictionary(uniqueKeysWithValues: vault.policies.schema.indexedFields.map { ($0.name, $0) })
    let fieldNames = ["full_name", "email", "phone", "birth_date", "national_id", "address"]
    let bare = BareCrypto(usePool: false, fields: fieldNames)
    let pooled = BareCrypto(usePool: true, fields: fieldNames)
    let bytes = data.map(BareCustomer.init)
    let indexSpecs = data[0].indexKeys.map { specs[$0.name]! }
    var sink = 0

    func libKey() throws {
        for c in data {
            cipher.newSubjectKey()
            sink &+= try cipher.wrapSubjectKey(subjectID: c.id, kek: kek.secret, kekVersion: kek.info.version).count
            cipher.wipe()
        }
    }
    func libSeal() throws {
        for c in data {
            for (name, value) in c.sealed { sink &+= try cipher.seal(value, field: name, subjectID: c.id, keyVersion: 1).count }
        }
    }
    func libIndex() throws {
        for c in data {
            for (i, k) in c.indexKeys.enumerated() { sink &+= try indexer.index(k.key, field: indexSpecs[i], version: version).count }
        }
    }
    func libAll() throws {
        for c in data {
            cipher.newSubjectKey()
            sink &+= try cipher.wrapSubjectKey(subjectID: c.id, kek: kek.secret, kekVersion: kek.info.version).count
            for (name, value) in c.sealed { sink &+= try cipher.seal(value, field: name, subjectID: c.id, keyVersion: 1).count }
            for (i, k) in c.indexKeys.enumerated() { sink &+= try indexer.index(k.key, field: indexSpecs[i], version: version).count }
            cipher.wipe()
        }
    }
    func rawKey(_ b: BareCrypto) { for _ in bytes { b.newWrappedKey(); b.wipe() } }
    func rawSeal(_ b: BareCrypto) {
        for c in bytes { for f in 0..<6 { c.values[f].withUnsafeBufferPointer { b.seal($0, field: f, into: b.envelope) } } }
    }
    func rawIndex(_ b: BareCrypto) {
        for c in bytes { for k in 0..<3 { c.keys[k].withUnsafeBufferPointer { b.index($0, key: k) } } }
    }
    func rawAll(_ b: BareCrypto) {
        for c in bytes {
            b.newWrappedKey()
            for f in 0..<6 { c.values[f].withUnsafeBufferPointer { b.seal($0, field: f, into: b.envelope) } }
            for k in 0..<3 { c.keys[k].withUnsafeBufferPointer { b.index($0, key: k) } }
            b.wipe()
        }
    }
    let n = Double(data.count)
    try libAll(); rawAll(bare); rawAll(pooled)  // warm-up
    var l: [Double] = [], b: [Double] = [], p: [Double] = []
    for _ in 0..<rounds {
        l.append(n / (try measure { try libAll() }))
        b.append(n / measure { rawAll(bare) })
        p.append(n / measure { rawAll(pooled) })
    }
    var pieces: [(String, Stats, Stats, Stats)] = []
    for (name, libPart, rawPart) in [("subject key + wrap", libKey, rawKey), ("6 seals", libSeal, rawSeal), ("3 blind indexes", libIndex, rawIndex)] as [(String, () throws -> Void, (BareCrypto) -> Void)] {
        var lp: [Double] = [], bp: [Double] = [], pp: [Double] = []
        for _ in 0..<max(3, rounds / 2) {
            lp.append(try measure { try libPart() } / n * 1e9)
            bp.append(measure { rawPart(bare) } / n * 1e9)
            pp.append(measure { rawPart(pooled) } / n * 1e9)
        }
        pieces.append((name, Stats(lp), Stats(bp), Stats(pp)))
    }
    if sink == 42 { print("") }
    return CryptoPathResult(customersPerRound: data.count, library: Stats(l), bare: Stats(b), barePooled: Stats(p),
                            pieces: pieces.map { (name: $0.0, library: $0.1, bare: $0.2, barePooled: $0.3) })
}
