import Foundation
import PrivacyKit
import Sodium

// privacykit-bench: release-mode benchmarks of the audit log. See Benchmarks/README.md.
//
//   swift run -c release privacykit-bench all
//
// Human-readable results go to standard output, ending with one JSON summary line;
// progress goes to standard error.

let usage = """
    usage: privacykit-bench <command> [options]

    commands:
      all            every benchmark below, in temporary vaults under /tmp (under a minute)
                       --rounds 5 --events 10000 --series 3 --single 2000 --checkpoints 500
                       --verify-small 100000 --verify-events 1000000 --verify-runs 3 [--keep]
      append-bulk    events/s of vault.audit.record with --events per transaction
                       --rounds 5 --events 10000 --series 1
                       [--vault DIR [--key PATH]]: into an existing vault instead of fresh ones
      append-single  events/s with one transaction per event   --events 2000
      checkpoint     µs per signed vault.audit.checkpoint()           --count 500
      calibrate      raw Ed25519 sign and BLAKE2b cost in this process
      build-log      create a vault at --vault DIR (key file DIR.key, or --key PATH) and
                     append --events N events in transactions of --batch 10000
      verify         verify a store with AuditVerifier and report events/s and max RSS
                       --store PATH --public-key BASE64URL   (or --vault DIR)
    """

func run(_ options: Options) throws {
    switch options.command {
    case "help":
        print(usage + recordsUsage + batchUsage + consentUsage + retentionUsage + backupUsage + storeUsage)
    case "all":
        try runAll(options)
    case "append-bulk":
        try options.allow(["rounds", "events", "series", "vault", "key"])
        if let directory = options.string("vault") {
            // Into an existing vault (one made by build-log, say): how appends fare on a long log.
            let keyPath = options.string("key") ?? directory + ".key"
            let vault = try Vault.open(at: URL(fileURLWithPath: directory), rootKey: .keyFile(at: keyPath), context: benchContext)
            let events = try options.int("events", default: 10_000)
            let rounds = try options.int("rounds", default: 5)
            var next = 0
            let stats = Stats(try benchBulkAppend(vault: vault, rounds: rounds, events: events, warmup: false, next: &next))
            print("== Bulk append into \(directory): \(grouped(Double(events))) events/transaction, \(rounds) rounds")
            print("   \(rateLine(stats))")
            print(JSON.object([("benchmark", .string("append-bulk")), ("vault", .string(directory)),
                               ("bulk_events_per_s", .stats(stats))]).text)
            return
        }
        try withTemporaryDirectory(keep: false) { dir in
            var summary: [SummaryRow] = []
            let json = try bulkSection(dir: dir, rounds: options.int("rounds", default: 5),
                                       events: options.int("events", default: 10_000),
                                       series: options.int("series", default: 1), summary: &summary)
            print(JSON.object([("benchmark", .string("append-bulk"))] + json).text)
        }
    case "append-single":
        try options.allow(["events"])
        try withTemporaryDirectory(keep: false) { dir in
            var summary: [SummaryRow] = []
            let json = try singleSection(dir: dir, events: options.int("events", default: 2_000), summary: &summary)
            print(JSON.object([("benchmark", .string("append-single"))] + json).text)
        }
    case "checkpoint":
        try options.allow(["count"])
        try withTemporaryDirectory(keep: false) { dir in
            var summary: [SummaryRow] = []
            let json = try checkpointSection(dir: dir, count: options.int("count", default: 500), summary: &summary)
            print(JSON.object([("benchmark", .string("checkpoint"))] + json).text)
        }
    case "calibrate":
        try options.allow([])
        let sign = try rawSignMicros()
        let blake = try rawBLAKE2bMicros()
        print("Ed25519 sign (110 B):   median \(fmt(sign.median, 1)) µs  (LIMITS.md ~\(fmt(Baselines.ed25519SignMicros)) µs)")
        print("BLAKE2b-256 (200 B):    median \(fmt(blake.median, 2)) µs")
        print(JSON.object([("benchmark", .string("calibrate")), ("ed25519_sign_us", .stats(sign, decimals: 2)),
                           ("blake2b_200B_us", .stats(blake, decimals: 3))]).text)
    case "build-log":
        try options.allow(["events", "vault", "key", "batch"])
        let directory = try options.require("vault")
        let keyPath = options.string("key") ?? directory + ".key"
        let events = try options.int("events", default: 1_000_000)
        let batch = try options.int("batch", default: 10_000)
        let bench = try BenchVault.create(directory: directory, keyPath: keyPath)
        var next = 0
        let start = clock.now
        let rates = try buildLog(vault: bench.vault, events: events, batch: batch, next: &next, label: "build-log")
        let seconds = (clock.now - start).seconds
        let s = Stats(rates)
        print("vault:       \(directory)  (key file \(keyPath))")
        print("store:       \(bench.vault.storePath)  (\(fmt(Double(fileSize(bench.vault.storePath)) / 1e6, 1)) MB)")
        print("public key:  \(bench.publicKeyBase64)")
        print("appended:    \(grouped(Double(events))) events in \(fmt(seconds, 1)) s (\(grouped(Double(events) / seconds)) events/s; per transaction median \(grouped(s.median)), min \(grouped(s.min)), max \(grouped(s.max)))")
        print("verify with: privacykit-bench verify --store \(bench.vault.storePath) --public-key \(bench.publicKeyBase64)")
        print(JSON.object([
            ("benchmark", .string("build-log")), ("store", .string(bench.vault.storePath)),
            ("public_key", .string(bench.publicKeyBase64)), ("events", .int(events)),
            ("events_per_s", .number(Double(events) / seconds)), ("per_transaction_events_per_s", .stats(s)),
        ]).text)
    case "verify":
        try options.allow(["store", "public-key", "vault"])
        let storePath: String
        let publicKey: Ed25519.PublicKey
        if let vault = options.string("vault") {
            let url = URL(fileURLWithPath: vault)
            storePath = url.path + "/" + VaultLayout.storeFileName
            publicKey = try VaultFiles.recordedAuditPublicKey(at: url)
        } else {
            storePath = try options.require("store")
            guard let raw = try? Base64URL.decode(options.require("public-key")) else {
                throw UsageError("--public-key must be base64url (unpadded)")
            }
            publicKey = try Ed25519.PublicKey(bytes: raw)
        }
        let result = try verifyStore(storePath: storePath, publicKey: publicKey)
        print("verified \(grouped(Double(result.events))) events (\(result.checkpointsVerified) checkpoints) in \(fmt(result.seconds, 2)) s: \(grouped(result.eventsPerSecond)) events/s; ok=\(result.ok)\(result.problem.map { " (\($0))" } ?? "")")
        print("max RSS (ru_maxrss) \(mib(result.maxRSSKB)) MiB (\(mib(result.startMaxRSSKB)) MiB before verifying), VmHWM \(mib(result.vmHWMKB)) MiB; current RSS \(fmt(Double(result.startRSSKB) / 1024, 1)) MiB before, peak \(fmt(Double(result.peakRSSDuringKB) / 1024, 1)) MiB while verifying; store \(fmt(Double(result.storeBytes) / 1e6, 1)) MB")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        print(String(decoding: try encoder.encode(result), as: UTF8.self))
        if !result.ok { exit(3) }
    case "consent-all":
        try consentAll(options)
    case "consent-may":
        try consentMay(options)
    case "retention-all":
        try retentionAll(options)
    case "retention-sweep":
        try retentionSweepOnly(options)
    case "backup-all":
        try backupAll(options)
    case "backup-library":
        try backupLibraryOnly(options)
    case "store-compare":
        try storeCompare(options)
    default:
        if try runRecordsCommand(options) { return }
        if try runBatchCommand(options) { return }
        throw UsageError("unknown command '\(options.command)'\n\n\(usage)")
    }
}

func withTemporaryDirectory(keep: Bool, _ body: (String) throws -> Void) throws {
    let dir = try makeTemporaryDirectory()
    defer {
        if keep { progress("kept \(dir)") } else { try? FileManager.default.removeItem(atPath: dir) }
    }
    try body(dir)
}

// MARK: - Sections (each prints its lines, adds its goal rows, returns its JSON fields)

/// One row of the final table.
struct SummaryRow {
    let name: String
    let result: String
    let goal: String
    let verdict: String
}

func verdict(_ ratio: Double) -> String { ratio >= 1 ? "met (\(fmt(ratio, 2))×)" : "MISSED (\(fmt(ratio, 2))×)" }

func rateLine(_ s: Stats) -> String {
    "median \(padLeft(grouped(s.median), 7)) events/s   min \(grouped(s.min))   max \(grouped(s.max))   spread \(fmt(s.spreadPercent, 1))%"
}

func rangeText(_ s: Stats) -> String { "\(grouped(s.median))/s (\(grouped(s.min))–\(grouped(s.max)))" }

func bulkSection(dir: String, rounds: Int, events: Int, series: Int, summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    print("== 1. Bulk append: vault.audit.record of \(grouped(Double(events))) events in one transaction, \(rounds) rounds (+1 warm-up) per series, fresh vault per series")
    var allRates: [Double] = []
    var medians: [Double] = []
    var seriesJSON: [JSON] = []
    for s in 0..<series {
        let bench = try BenchVault.create(in: dir, name: "bulk-\(s)")
        var next = 0
        let rates = try benchBulkAppend(vault: bench.vault, rounds: rounds, events: events, warmup: true, next: &next)
        let stats = Stats(rates)
        print("   series \(s + 1): \(rateLine(stats))")
        allRates += rates
        medians.append(stats.median)
        seriesJSON.append(.stats(stats))
    }
    let all = Stats(allRates)
    var json: [(String, JSON)] = [
        ("bulk_events_per_txn", .int(events)),
        ("bulk_events_per_s", .stats(all)),
        ("bulk_goal_ratio", .r2(all.median / Goals.bulkEventsPerSecond)),
        ("bulk_series", .array(seriesJSON)),
    ]
    if series > 1 {
        let m = Stats(medians)
        print("   all \(allRates.count) rounds: \(rateLine(all))")
        print("   noise: series medians \(medians.map { grouped($0) }.joined(separator: ", ")) → \(fmt(m.spreadPercent, 1))% apart; single rounds \(fmt(all.spreadPercent, 1))% apart")
        json.append(("bulk_series_median_spread_pct", .r2(m.spreadPercent)))
    }
    let ratio = all.median / Goals.bulkEventsPerSecond
    print("   goal ≥ \(grouped(Goals.bulkEventsPerSecond)) events/s: \(verdict(ratio))"
          + "   (LIMITS.md GRDB insert baseline ~40k rows/s: \(fmt(all.median / Baselines.grdbInsertRowsPerSecond, 2))×; raw binding ~60k: \(fmt(all.median / Baselines.rawBindRowsPerSecond, 2))×)")
    summary.append(SummaryRow(name: "1. bulk append, fresh vault", result: rangeText(all), goal: "≥ 50,000/s", verdict: verdict(ratio)))
    if series > 1 {
        let m = Stats(medians)
        summary.append(SummaryRow(name: "5. noise, bulk series medians", result: "\(fmt(m.spreadPercent, 1))% apart (rounds \(fmt(all.spreadPercent, 1))%)",
                                  goal: "LIMITS.md ±10–15%", verdict: ""))
    }
    return json
}

func singleSection(dir: String, events: Int, summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    print("== 2. One transaction per event (WAL, default synchronous = NORMAL under GRDB): \(grouped(Double(events))) events")
    let bench = try BenchVault.create(in: dir, name: "single")
    let r = try benchSingleAppend(vault: bench.vault, events: events)
    print("   \(grouped(r.eventsPerSecond)) events/s   latency median \(fmt(r.latency.median)) µs, p90 \(fmt(r.latency.percentile(90))) µs, p99 \(fmt(r.latency.percentile(99))) µs, max \(fmt(r.latency.max)) µs")
    print("   CPU (user+sys) per event \(fmt(r.cpuMicrosPerEvent)) µs of \(fmt(1e6 / r.eventsPerSecond)) µs wall (GRDB's DatabasePool sets synchronous=NORMAL: a WAL commit does not fsync; WAL checkpoints do)")
    summary.append(SummaryRow(name: "2. one transaction per event", result: "\(grouped(r.eventsPerSecond))/s (median \(fmt(r.latency.median)) µs, p99 \(fmt(r.latency.percentile(99))) µs)",
                              goal: "none (report)", verdict: ""))
    return [("single_events", .int(events)), ("single_events_per_s", .number(r.eventsPerSecond.rounded())),
            ("single_latency_us", .stats(r.latency)), ("single_latency_p99_us", .number(r.latency.percentile(99).rounded())),
            ("single_cpu_us_per_event", .number(r.cpuMicrosPerEvent.rounded()))]
}

func checkpointSection(dir: String, count: Int, summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    print("== 4. Signed checkpoint: vault.audit.checkpoint() after one new event, \(count) times")
    let bench = try BenchVault.create(in: dir, name: "checkpoint")
    let r = try benchCheckpoint(vault: bench.vault, count: count)
    print("   signed checkpoint:        median \(padLeft(fmt(r.signed.median), 5)) µs   p90 \(fmt(r.signed.percentile(90))) µs   min \(fmt(r.signed.min)) µs")
    print("   nothing new (stored one): median \(padLeft(fmt(r.noop.median), 5)) µs   (write transaction + 2 SELECTs, nothing signed or committed)")
    print("   record(1 event) before:   median \(padLeft(fmt(r.appendOne.median), 5)) µs")
    print("   raw Ed25519 sign:         median \(padLeft(fmt(r.rawSign.median, 1), 5)) µs   (LIMITS.md ~\(fmt(Baselines.ed25519SignMicros)) µs)")
    print("   → a checkpoint costs \(fmt(r.signed.median / r.rawSign.median, 1))× a raw signature (\(fmt(r.signed.median / Baselines.ed25519SignMicros, 1))× LIMITS.md's 24 µs); the signature is ~\(fmt(r.rawSign.median / r.signed.median * 100, 0))% of it, the write transaction and its commit the rest")
    summary.append(SummaryRow(name: "4. signed checkpoint", result: "\(fmt(r.signed.median)) µs (p90 \(fmt(r.signed.percentile(90))) µs)",
                              goal: "vs sign \(fmt(r.rawSign.median, 1)) µs", verdict: "\(fmt(r.signed.median / r.rawSign.median, 1))× raw sign"))
    return [("checkpoint_us", .stats(r.signed, decimals: 1)), ("checkpoint_noop_us", .stats(r.noop, decimals: 1)),
            ("checkpoint_append_one_us", .stats(r.appendOne, decimals: 1)), ("ed25519_sign_us", .stats(r.rawSign, decimals: 2)),
            ("checkpoint_over_raw_sign", .r2(r.signed.median / r.rawSign.median))]
}

func mib(_ kb: Int) -> String { fmt(Double(kb) / 1024, 1) }

func verifyLine(_ label: String, _ runs: [VerifyResult]) -> String {
    let rates = Stats(runs.map(\.eventsPerSecond))
    let v = runs[0]
    let maxRSS = runs.map(\.maxRSSKB).max() ?? 0
    let hwm = runs.map(\.vmHWMKB).max() ?? 0
    let before = runs.map(\.startMaxRSSKB).max() ?? 0
    return "   \(pad(label, 11)) \(padLeft(grouped(Double(v.events)), 9)) events  \(padLeft(fmt(Stats(runs.map(\.seconds)).median, 2), 5)) s  \(padLeft(grouped(rates.median), 8)) events/s (\(grouped(rates.min))–\(grouped(rates.max)))"
        + " | ru_maxrss \(padLeft(mib(maxRSS), 5)) MiB (\(mib(before)) before verifying), VmHWM \(mib(hwm)) | store \(fmt(Double(v.storeBytes) / 1e6, 0)) MB"
}

func verifySection(dir: String, small: Int, large: Int, batch: Int, rounds: Int, runs: Int,
                   summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    print("== 3. Verify: AuditVerifier.verify(storePath:) in a child process (its own ru_maxrss), \(runs) runs per size; log built with transactions of \(grouped(Double(batch)))")
    let bench = try BenchVault.create(in: dir, name: "verify")
    var next = 0
    var results: [[VerifyResult]] = []
    func check(_ label: String) throws {
        var these: [VerifyResult] = []
        for _ in 0..<runs {
            let v = try verifyInChild(storePath: bench.vault.storePath, publicKeyBase64: bench.publicKeyBase64)
            guard v.ok else { throw UsageError("verification failed: \(v.problem ?? "?")") }
            these.append(v)
        }
        print(verifyLine(label, these))
        results.append(these)
    }
    try check("fresh vault")
    var buildRates = try buildLog(vault: bench.vault, events: small - 1, batch: batch, next: &next, label: "building")
    try check(grouped(Double(small)))
    buildRates += try buildLog(vault: bench.vault, events: large - small, batch: batch, next: &next, label: "building")
    try check(grouped(Double(large)))

    let lastRates = Stats(results[2].map(\.eventsPerSecond))
    let smallRates = Stats(results[1].map(\.eventsPerSecond))
    let ratio = lastRates.median / Goals.verifyEventsPerSecond
    print("   goal ≥ \(grouped(Goals.verifyEventsPerSecond)) events/s at \(grouped(Double(large))): \(verdict(ratio)) on the median; runs \(fmt(lastRates.min / Goals.verifyEventsPerSecond, 2))–\(fmt(lastRates.max / Goals.verifyEventsPerSecond, 2))×"
          + "   (\(fmt(lastRates.median / smallRates.median * 100, 0))% of the rate at \(grouped(Double(small))))")
    let largeRSS = results[2].map(\.maxRSSKB).max() ?? 0
    let smallRSS = results[1].map(\.maxRSSKB).max() ?? 0
    let growth = Double(largeRSS - smallRSS) / 1024
    let rssOK = largeRSS < Goals.verifyMaxRSSKB
    print("   goal max RSS < 100 MB, flat: ru_maxrss \(mib(largeRSS)) MiB at \(grouped(Double(large))) vs \(mib(smallRSS)) MiB at \(grouped(Double(small))) (\(growth >= 0 ? "+" : "")\(fmt(growth, 1)) MiB for \(fmt(Double(large) / Double(small), 0))× the events) → \(rssOK ? "met" : "MISSED")")
    summary.append(SummaryRow(name: "3. verify \(grouped(Double(large))) events", result: rangeText(lastRates),
                              goal: "≥ 300,000/s", verdict: verdict(ratio)))
    summary.append(SummaryRow(name: "3. verify max RSS", result: "\(mib(smallRSS)) MiB at \(grouped(Double(small) / 1000))k, \(mib(largeRSS)) MiB at \(grouped(Double(large) / 1000))k",
                              goal: "< 100 MB, flat", verdict: rssOK ? "met (\(fmt(Double(largeRSS) / Double(Goals.verifyMaxRSSKB), 2))× the cap)" : "MISSED"))

    // How bulk appends fare as the log grows: median events/s per tenth of the build.
    print("   bulk append (\(grouped(Double(batch)))/transaction) while the log grew, median per stretch:")
    var curve: [JSON] = []
    let stretch = max(1, buildRates.count / 10)
    var line = "     "
    for start in stride(from: 0, to: buildRates.count, by: stretch) {
        let slice = Array(buildRates[start..<min(start + stretch, buildRates.count)])
        let m = Stats(slice).median
        let logSize = (start + slice.count) * batch
        line += "≤\(logSize >= 1_000_000 ? fmt(Double(logSize) / 1e6, 1) + "M" : grouped(Double(logSize) / 1000) + "k"): \(grouped(m / 1000))k  "
        curve.append(.object([("log_events_up_to", .int(logSize)), ("median_events_per_s", .number(m.rounded()))]))
    }
    print(line)
    // Then the bulk benchmark itself, on the long log.
    let onLarge = Stats(try benchBulkAppend(vault: bench.vault, rounds: rounds, events: batch, warmup: false, next: &next))
    let largeRatio = onLarge.median / Goals.bulkEventsPerSecond
    print("   bulk append into the \(grouped(Double(large)))-event log, \(rounds) rounds: \(rateLine(onLarge))")
    print("     goal ≥ \(grouped(Goals.bulkEventsPerSecond)) events/s: \(verdict(largeRatio)) on a log this long")
    summary.append(SummaryRow(name: "1b. bulk append, \(grouped(Double(large) / 1000))k-event log", result: rangeText(onLarge),
                              goal: "≥ 50,000/s", verdict: verdict(largeRatio)))

    func resultJSON(_ v: VerifyResult) -> JSON {
        .object([("events", .int(Int(v.events))), ("seconds", .number(v.seconds)),
                 ("events_per_s", .number(v.eventsPerSecond.rounded())), ("max_rss_kb", .int(v.maxRSSKB)),
                 ("start_max_rss_kb", .int(v.startMaxRSSKB)), ("vm_hwm_kb", .int(v.vmHWMKB)),
                 ("start_rss_kb", .int(v.startRSSKB)), ("peak_rss_during_verify_kb", .int(v.peakRSSDuringKB)),
                 ("cpu_s", .number(v.cpuSeconds)), ("store_bytes", .int(Int(v.storeBytes))), ("ok", .bool(v.ok))])
    }
    return [("verify", .array(results.map { .array($0.map(resultJSON)) })),
            ("verify_large_events_per_s", .stats(lastRates)),
            ("verify_goal_ratio", .r2(ratio)),
            ("verify_large_max_rss_kb", .int(largeRSS)), ("verify_small_max_rss_kb", .int(smallRSS)),
            ("build_log_events_per_s", .stats(Stats(buildRates))), ("build_log_curve", .array(curve)),
            ("bulk_on_large_log_events_per_s", .stats(onLarge)),
            ("bulk_on_large_log_goal_ratio", .r2(largeRatio))]
}

func runAll(_ options: Options) throws {
    try options.allow(["rounds", "events", "series", "single", "checkpoints", "verify-small", "verify-events", "verify-runs", "keep"])
    let rounds = try options.int("rounds", default: 5)
    let events = try options.int("events", default: 10_000)
    let series = try options.int("series", default: 3)
    let single = try options.int("single", default: 2_000)
    let checkpoints = try options.int("checkpoints", default: 500)
    let small = try options.int("verify-small", default: 100_000, minimum: 2)
    let large = try options.int("verify-events", default: 1_000_000, minimum: 2)
    let runs = try options.int("verify-runs", default: 3)
    guard large > small else { throw UsageError("--verify-events must be larger than --verify-small") }

    let started = clock.now
    var json: [(String, JSON)] = [("benchmark", .string("all"))]
    var summary: [SummaryRow] = []
    try withTemporaryDirectory(keep: options.flag("keep")) { dir in
        print("privacykit-bench all   (\(ProcessInfo.processInfo.activeProcessorCount) cores; vaults in \(dir))")
        let sign = try rawSignMicros()
        let blake = try rawBLAKE2bMicros()
        print("== 0. Calibration in this run: Ed25519 sign \(fmt(sign.median, 1)) µs (LIMITS.md ~24), BLAKE2b-256 of 200 B \(fmt(blake.median, 2)) µs")
        json += [("calibration_ed25519_sign_us", .number(sign.median)), ("calibration_blake2b_200B_us", .number(blake.median))]
        json += try bulkSection(dir: dir, rounds: rounds, events: events, series: series, summary: &summary)
        json += try singleSection(dir: dir, events: single, summary: &summary)
        json += try checkpointSection(dir: dir, count: checkpoints, summary: &summary)
        json += try verifySection(dir: dir, small: small, large: large, batch: events, rounds: rounds, runs: runs, summary: &summary)
    }
    let total = (clock.now - started).seconds
    print("== Summary (medians; ranges are min–max over rounds/runs)")
    let widths = [summary.map(\.name.count).max() ?? 0, summary.map(\.result.count).max() ?? 0, summary.map(\.goal.count).max() ?? 0]
    for row in summary {
        print("   \(pad(row.name, widths[0]))  \(pad(row.result, widths[1]))  \(pad(row.goal, widths[2]))  \(row.verdict)")
    }
    print("   total \(fmt(total, 0)) s")
    json.append(("total_s", .number(total.rounded())))
    print(JSON.object(json).text)
}

do {
    try run(Options(Array(CommandLine.arguments.dropFirst())))
} catch let error as UsageError {
    progress("privacykit-bench: \(error)")
    exit(2)
} catch {
    progress("privacykit-bench: \(error)")
    exit(1)
}
