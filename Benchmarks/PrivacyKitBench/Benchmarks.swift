import Foundation
import PrivacyKit
import Sodium

// The benchmarks themselves. Each returns plain numbers; main.swift prints them.

/// Goals from the issue, on the project's machine (see /work/shared/LIMITS.md).
enum Goals {
    static let bulkEventsPerSecond = 50_000.0
    static let verifyEventsPerSecond = 300_000.0
    static let verifyMaxRSSKB = 100 * 1024  // 100 MB, taken as MiB to be strict
}

/// Baselines from LIMITS.md, for ratios.
enum Baselines {
    /// GRDB `execute(arguments:)`, default cache, rows of 6 × 60 B blobs + an indexed 32 B blob.
    static let grdbInsertRowsPerSecond = 40_000.0
    /// Raw `sqlite3_bind_*` on GRDB's prepared statement, same rows.
    static let rawBindRowsPerSecond = 60_000.0
    static let ed25519SignMicros = 24.0
}

/// Who the benchmark events say acted.
let benchContext = AccessContext(actor: "bench", role: "service", purpose: "customer-support")

/// "cust-000123": a customer out of 100,000, spread so consecutive events name different ones.
func customerID(_ n: Int) -> String {
    let digits = String((n &* 7_919) % 100_000)
    return "cust-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
}

/// Realistic read events: a support agent's service reads a customer's email and phone.
func makeEntries(count: Int, first: Int) -> [AuditEntry] {
    (0..<count).map { i in
        AuditEntry(.recordRead, subjectID: customerID(first + i), fields: ["email", "phone"], reason: nil)
    }
}

/// A vault opened with a generated key file (no passphrase stretching).
struct BenchVault {
    let vault: Vault
    let directory: String
    let keyPath: String

    /// Creates `parent/name` and its key file `parent/name.key`.
    static func create(in parent: String, name: String) throws -> BenchVault {
        try create(directory: parent + "/" + name, keyPath: parent + "/" + name + ".key")
    }

    static func create(directory: String, keyPath: String) throws -> BenchVault {
        try RootKey.generateKeyFile(at: keyPath)
        let vault = try Vault.create(at: URL(fileURLWithPath: directory), rootKey: .keyFile(at: keyPath),
                                     context: benchContext)
        return BenchVault(vault: vault, directory: directory, keyPath: keyPath)
    }

    var publicKeyBase64: String { Base64URL.encode(vault.auditPublicKey.bytes) }
}

// MARK: - 1. Bulk append

/// `rounds` transactions of `events` events each (after one untimed warm-up transaction
/// when `warmup`); returns events/s per round. `next` numbers the customers.
func benchBulkAppend(vault: Vault, rounds: Int, events: Int, warmup: Bool, next: inout Int) throws -> [Double] {
    if warmup {
        try vault.audit.record(makeEntries(count: events, first: next), context: benchContext)
        next += events
    }
    var rates: [Double] = []
    for _ in 0..<rounds {
        let entries = makeEntries(count: events, first: next)
        next += events
        let seconds = try measure { try vault.audit.record(entries, context: benchContext) }
        rates.append(Double(events) / seconds)
    }
    return rates
}

// MARK: - 2. One transaction per event

struct SingleAppendResult {
    let events: Int
    let totalSeconds: Double
    /// Per-call latency, µs.
    let latency: Stats
    /// CPU time (user + system) per event, µs: the rest of the wall time is waiting (fsync).
    let cpuMicrosPerEvent: Double
    var eventsPerSecond: Double { Double(events) / totalSeconds }
}

func benchSingleAppend(vault: Vault, events: Int) throws -> SingleAppendResult {
    // Warm up the statement cache and the connection.
    for i in 0..<20 { try vault.audit.record(makeEntries(count: 1, first: i), context: benchContext) }
    let batches = (0..<events).map { makeEntries(count: 1, first: $0) }
    var latencies: [Double] = []
    latencies.reserveCapacity(events)
    let before = ResourceUsage.current()
    let start = clock.now
    for batch in batches {
        let seconds = try measure { try vault.audit.record(batch, context: benchContext) }
        latencies.append(seconds * 1e6)
    }
    let total = (clock.now - start).seconds
    let after = ResourceUsage.current()
    return SingleAppendResult(events: events, totalSeconds: total, latency: Stats(latencies),
                              cpuMicrosPerEvent: (after.cpuSeconds - before.cpuSeconds) / Double(events) * 1e6)
}

// MARK: - 4. Checkpoints

struct CheckpointResult {
    /// `vault.audit.checkpoint()` after one new event: a new checkpoint is signed and stored. µs.
    let signed: Stats
    /// `vault.audit.checkpoint()` with nothing new: returns the stored one (a write transaction
    /// with two SELECTs, no signature, nothing to commit). µs.
    let noop: Stats
    /// `vault.audit.record` of the one event before each signed checkpoint, for comparison. µs.
    let appendOne: Stats
    /// Raw Ed25519 signature of a checkpoint-sized message, measured in the same run. µs.
    let rawSign: Stats
}

func benchCheckpoint(vault: Vault, count: Int) throws -> CheckpointResult {
    for i in 0..<10 {  // warm-up
        try vault.audit.record(makeEntries(count: 1, first: i), context: benchContext)
        try vault.audit.checkpoint()
    }
    var signed: [Double] = []
    var appendOne: [Double] = []
    var lastSeq = try vault.audit.checkpoint().seq
    for i in 0..<count {
        let entries = makeEntries(count: 1, first: i)
        appendOne.append(try measure { try vault.audit.record(entries, context: benchContext) } * 1e6)
        var checkpoint: AuditCheckpoint?
        signed.append(try measure { checkpoint = try vault.audit.checkpoint() } * 1e6)
        guard let seq = checkpoint?.seq, seq == lastSeq + 1 else {
            throw UsageError("checkpoint benchmark: expected a new checkpoint at seq \(lastSeq + 1), got \(checkpoint?.seq ?? -1)")
        }
        lastSeq = seq
    }
    var noop: [Double] = []
    for _ in 0..<count {
        noop.append(try measure { _ = try vault.audit.checkpoint() } * 1e6)
    }
    return CheckpointResult(signed: Stats(signed), noop: Stats(noop), appendOne: Stats(appendOne),
                            rawSign: try rawSignMicros())
}

/// Ed25519 sign of a ~110-byte message (the size of a checkpoint message), µs per call,
/// as the median-able sample of 20 batches of 200.
func rawSignMicros() throws -> Stats {
    let pair = try Ed25519.KeyPair.generate()
    let message = [UInt8](repeating: 0x5a, count: 110)
    var samples: [Double] = []
    for _ in 0..<3 { _ = try pair.sign(message) }
    for _ in 0..<20 {
        let seconds = try measure { for _ in 0..<200 { _ = try pair.sign(message) } }
        samples.append(seconds / 200 * 1e6)
    }
    return Stats(samples)
}

/// BLAKE2b-256 of a 200-byte message (about one event's canonical encoding), µs per call.
func rawBLAKE2bMicros() throws -> Stats {
    let message = [UInt8](repeating: 0xa5, count: 200)
    var samples: [Double] = []
    for _ in 0..<20 {
        let seconds = try measure { for _ in 0..<2_000 { _ = try BLAKE2b.hash(message) } }
        samples.append(seconds / 2_000 * 1e6)
    }
    return Stats(samples)
}

// MARK: - 3. Building and verifying a long log

/// Appends events in transactions of `batch` until the log has grown by `events`.
/// Returns events/s per transaction.
func buildLog(vault: Vault, events: Int, batch: Int, next: inout Int, label: String) throws -> [Double] {
    var rates: [Double] = []
    var done = 0
    var lastReport = clock.now
    while done < events {
        let n = min(batch, events - done)
        let entries = makeEntries(count: n, first: next)
        next += n
        let seconds = try measure { try vault.audit.record(entries, context: benchContext) }
        rates.append(Double(n) / seconds)
        done += n
        if (clock.now - lastReport).seconds > 5 || done == events {
            progress("  \(label): \(grouped(Double(done))) / \(grouped(Double(events))) events appended")
            lastReport = clock.now
        }
    }
    return rates
}

/// What the `verify` subcommand measures (printed as its last line, read by `all`).
struct VerifyResult: Codable {
    var benchmark = "verify"
    let ok: Bool
    let problem: String?
    let events: Int64
    let checkpointsVerified: Int
    let seconds: Double
    let eventsPerSecond: Double
    /// ru_maxrss before the verification started (runtime, Foundation, libsodium loaded).
    let startMaxRSSKB: Int
    /// ru_maxrss after it: the peak of the whole process.
    let maxRSSKB: Int
    /// Current RSS just before verifying, and the peak sampled while verifying (/proc/self/statm).
    let startRSSKB: Int
    let peakRSSDuringKB: Int
    /// VmHWM after verifying: this process image's own peak (cross-checks ru_maxrss).
    let vmHWMKB: Int
    let cpuSeconds: Double
    let storeBytes: Int64

    enum CodingKeys: String, CodingKey {
        case benchmark, ok, problem, events, seconds
        case checkpointsVerified = "checkpoints_verified"
        case eventsPerSecond = "events_per_s"
        case startMaxRSSKB = "start_max_rss_kb"
        case maxRSSKB = "max_rss_kb"
        case startRSSKB = "start_rss_kb"
        case peakRSSDuringKB = "peak_rss_during_verify_kb"
        case vmHWMKB = "vm_hwm_kb"
        case cpuSeconds = "cpu_s"
        case storeBytes = "store_bytes"
    }
}

/// Verifies the store in this process with `AuditVerifier.verify(storePath:…)`.
func verifyStore(storePath: String, publicKey: Ed25519.PublicKey) throws -> VerifyResult {
    let before = ResourceUsage.current()
    let startRSS = currentRSSKB() ?? 0
    let sampler = RSSSampler()
    var report: AuditReport?
    let seconds = try measure {
        report = try AuditVerifier.verify(storePath: storePath, publicKey: publicKey)
    }
    let peakDuring = sampler.stop()
    let after = ResourceUsage.current()
    guard let report else { throw UsageError("no report") }
    let problem = report.problem.map { "\($0.kind) at \($0.seq.map(String.init) ?? "?"): \($0.message)" }
    return VerifyResult(
        ok: report.ok, problem: problem, events: report.events, checkpointsVerified: report.checkpointsVerified,
        seconds: seconds, eventsPerSecond: Double(report.events) / seconds,
        startMaxRSSKB: before.maxRSSKB, maxRSSKB: after.maxRSSKB, startRSSKB: startRSS, peakRSSDuringKB: peakDuring,
        vmHWMKB: peakRSSKB() ?? 0, cpuSeconds: after.cpuSeconds - before.cpuSeconds,
        storeBytes: fileSize(storePath) + fileSize(storePath + "-wal"))
}

/// Runs `verify` in a child process, so its max RSS is the verification's alone.
func verifyInChild(storePath: String, publicKeyBase64: String) throws -> VerifyResult {
    let output = try runChild(["verify", "--store", storePath, "--public-key", publicKeyBase64])
    guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }) else {
        throw UsageError("verify child printed no JSON line:\n\(output)")
    }
    return try JSONDecoder().decode(VerifyResult.self, from: Data(line.utf8))
}
