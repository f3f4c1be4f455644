import Foundation
import PrivacyKit

// MARK: - Retention: a sweep over a large vault, and single erasures
//
// The vault is filled through the library's import with the synthetic CRM customers, each
// given a segment, a last interaction and (for customers) a closing date so that exactly
// one subject in ten is due under the default retention.yaml at the sweep's clock:
//   n % 10 == 0            lead, last interaction 2020  -> lead-inactive: erase
//   n % 10 in 1...4        lead, last interaction 2026  -> nothing due
//   n % 10 in 5...9        customer, account open       -> nothing due

let retentionUsage = """
      retention-all     sweep time and memory on vaults of --sizes subjects (default
                          100000,1000000; 10% due), then --erasures single erasures on each
                          (latency p50/p99) [--batch 500 --erasures 1000 --keep]
      retention-sweep   the sweep alone on a kept vault: --vault DIR [--key PATH] [--batch 500]
    """

/// The sweep's clock: every n % 10 == 0 lead is idle more than two years by then.
let retentionClock = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21

func writeRetentionCSV(to path: String, count: Int) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
        throw UsageError("cannot create \(path)")
    }
    defer { try? handle.close() }
    var buffer = "id,full_name,email,phone,birth_date,national_id,address,city,country,segment,last_interaction\n"
    for n in 0..<count {
        let c = SyntheticCRM.customer(n)
        let kind = n % 10
        let segment = kind < 5 ? "lead" : "customer"
        let last = kind == 0 ? "2020-0\(1 + n % 9)-15" : "2026-0\(1 + n % 8)-10"
        buffer += [c.id, c.fullName, c.email, c.phone, c.birthDate, c.nationalID, c.address, c.city, c.country, segment, last]
            .map(SyntheticCustomer.csvField).joined(separator: ",") + "\n"
        if buffer.utf8.count > 1 << 20 {
            try handle.write(contentsOf: Data(buffer.utf8))
            buffer = ""
        }
    }
    try handle.write(contentsOf: Data(buffer.utf8))
}

struct SweepRun {
    let subjects: Int
    let seconds: Double
    let summary: SweepSummary
    let rssBeforeKB: Int
    let peakKB: Int
}

func benchSweep(vault: Vault, subjects: Int, batch: Int) throws -> SweepRun {
    let admin = AccessContext(actor: "bench", role: "admin", purpose: "privacy-compliance")
    let before = currentRSSKB() ?? 0
    let sampler = RSSSampler()
    var summary: SweepSummary?
    let seconds = try measure {
        summary = try vault.retention.sweep(SweepOptions(now: retentionClock, batchSize: batch), context: admin, progress: { p in
            if p.summary.acted % 20_000 < batch { progress("  \(p.rule): \(grouped(Double(p.summary.acted))) acted") }
        })
    }
    let peak = sampler.stop()
    guard let summary else { throw UsageError("the sweep returned nothing") }
    return SweepRun(subjects: subjects, seconds: seconds, summary: summary, rssBeforeKB: before, peakKB: peak)
}

/// Latency of `count` single erasures of subjects that were not due (ms each).
func benchErasures(vault: Vault, subjects: Int, count: Int) throws -> [Double] {
    let officer = AccessContext(actor: "bench", role: "privacy-officer", purpose: "privacy-compliance")
    var r = SplitMix64(seed: 0xE2A5E)
    var chosen = Set<Int>()
    while chosen.count < min(count, subjects / 2) {
        let n = r.below(subjects)
        if n % 10 != 0 { chosen.insert(n) }
    }
    var latencies: [Double] = []
    for n in chosen {  // a Set's order: no locality between consecutive erasures
        let id = SyntheticCRM.subjectID(n)
        latencies.append(try measure { _ = try vault.retention.erase(subject: id, reason: "benchmark erasure", context: officer) } * 1000)
    }
    return latencies
}

func retentionSweepOnly(_ options: Options) throws {
    try options.allow(["vault", "key", "batch"])
    let directory = try options.require("vault")
    let vault = try Vault.open(at: URL(fileURLWithPath: directory), rootKey: .keyFile(at: options.string("key") ?? directory + ".key"), context: benchContext)
    let run = try benchSweep(vault: vault, subjects: 0, batch: options.int("batch", default: 500))
    print("sweep: \(grouped(Double(run.summary.acted))) acted of \(grouped(Double(run.summary.due))) due in \(fmt(run.seconds, 1)) s; RSS \(mib(run.rssBeforeKB)) → peak \(mib(run.peakKB)) MiB")
}

func retentionAll(_ options: Options) throws {
    try options.allow(["sizes", "batch", "erasures", "keep"])
    let sizes = (options.string("sizes") ?? "100000,1000000").split(separator: ",").compactMap { Int($0) }
    guard !sizes.isEmpty else { throw UsageError("--sizes takes numbers such as 100000,1000000") }
    let batch = try options.int("batch", default: 500)
    let erasures = try options.int("erasures", default: 1000)
    var rows: [(SweepRun, Stats, Int64)] = []
    try withTemporaryDirectory(keep: options.flag("keep")) { dir in
        for size in sizes {
            let bench = try BenchVault.create(in: dir, name: "retention-\(size)")
            let csv = dir + "/retention-\(size).csv"
            try writeRetentionCSV(to: csv, count: size)
            progress("import \(grouped(Double(size))) subjects…")
            let admin = AccessContext(actor: "bench", role: "admin", purpose: "privacy-compliance")
            let importSeconds = try measure {
                _ = try bench.vault.records.importCSV(at: csv, context: admin) { s in
                    if s.rows % 100_000 < 500 { progress("  \(grouped(Double(s.rows))) rows") }
                }
            }
            try? FileManager.default.removeItem(atPath: csv)
            progress("imported in \(fmt(importSeconds, 0)) s; sync, then the sweep…")
            sync()
            let run = try benchSweep(vault: bench.vault, subjects: size, batch: batch)
            progress("swept in \(fmt(run.seconds, 1)) s; \(erasures) single erasures…")
            let latencies = Stats(try benchErasures(vault: bench.vault, subjects: size, count: erasures))
            rows.append((run, latencies, fileSize(bench.vault.storePath)))
        }
    }
    print("== R1. Sweep (default retention.yaml, 10% of subjects due: erase), batches of \(batch)")
    for (run, _, store) in rows {
        let s = run.summary
        print("   \(padLeft(grouped(Double(run.subjects)), 9)) subjects: \(grouped(Double(s.acted))) erased of \(grouped(Double(s.due))) due in \(fmt(run.seconds, 1)) s (\(grouped(Double(s.acted) / run.seconds))/s); RSS \(mib(run.rssBeforeKB)) MiB before, peak \(mib(run.peakKB)) MiB (+\(mib(run.peakKB - run.rssBeforeKB))); store \(fmt(Double(store) / 1e6, 0)) MB; goal < 60 s: \(run.seconds < 60 ? "met" : "MISSED") (\(fmt(run.seconds / 60, 2))× the cap)")
    }
    print("== R2. One erasure (erase + tombstone + signed receipt + audit event + WAL checkpoint), \(erasures) random subjects")
    for (run, l, _) in rows {
        print("   \(padLeft(grouped(Double(run.subjects)), 9)) subjects: p50 \(fmt(l.median, 2)) ms, p99 \(fmt(l.percentile(99), 2)) ms, max \(fmt(l.max, 2)) ms; goal p99 < 10 ms: \(l.percentile(99) < 10 ? "met" : "MISSED") (\(fmt(l.percentile(99) / 10, 2))× the cap)")
    }
    print(JSON.object([
        ("benchmark", .string("retention-all")),
        ("runs", .array(rows.map { run, l, store in
            .object([("subjects", .number(Double(run.subjects))), ("due", .number(Double(run.summary.due))), ("acted", .number(Double(run.summary.acted))),
                     ("sweep_seconds", JSON.r2(run.seconds)), ("rss_before_kb", .number(Double(run.rssBeforeKB))), ("rss_peak_kb", .number(Double(run.peakKB))),
                     ("store_bytes", .number(Double(store))), ("erase_ms", JSON.stats(l, decimals: 3))])
        })),
    ]).text)
}
