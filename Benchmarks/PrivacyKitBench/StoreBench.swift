import Foundation
import PrivacyKit
import PrivacyKitPostgres
import Sodium

// MARK: - Stores: the same import, finds and sweep on SQLite and on PostgreSQL
//
// One synthetic CRM file (the retention benchmark's: one subject in ten due for erasure at
// its clock) is imported through the library into a fresh vault on each backend; then
// random finds by e-mail; then the sweep; then single erasures. The PostgreSQL server is on loopback, so the
// figures include a network round trip per statement but no network latency to speak of.

let storeUsage = """
      store-compare     import, find and sweep on SQLite and on PostgreSQL, side by side:
                          --postgres URL (or PRIVACYKIT_BENCH_POSTGRES; a fresh schema is
                          made) [--subjects 20000 --finds 2000 --batch 500 --erasures 200
                          --runs 1 --keep]
    """

struct StoreFigures {
    let backend: String
    let importRowsPerSecond: Double
    let find: Stats
    let findsPerSecond: Double
    let sweepSeconds: Double
    let sweepActed: Int
    /// Single erasures after the sweep (each with its scrub: WAL truncation on SQLite,
    /// VACUUM on PostgreSQL), ms.
    let erasure: Stats
}

func storeRun(backendName: String, store: (any StoreBackend)?, dir: String, csv: String, subjects: Int, finds: Int, batch: Int,
              erasures: Int) throws -> StoreFigures {
    let keyPath = dir + "/\(backendName).key"
    try RootKey.generateKeyFile(at: keyPath)
    let vault = try Vault.create(at: URL(fileURLWithPath: dir + "/\(backendName)"), rootKey: .keyFile(at: keyPath), context: benchContext, store: store)
    let admin = AccessContext(actor: "bench", role: "admin", purpose: "privacy-compliance")
    progress("\(backendName): import \(grouped(Double(subjects))) subjects…")
    let importSeconds = try measure { _ = try vault.records.importCSV(at: csv, context: admin) { _ in } }

    progress("\(backendName): \(finds) finds…")
    var r = SplitMix64(seed: 0xF1D)
    for i in 0..<50 { _ = try vault.records.find(field: "email", value: SyntheticCRM.customer(i * 7 % subjects).email, context: benchContext) }
    var latencies: [Double] = []
    let findSeconds = try measure {
        for _ in 0..<finds {
            let email = SyntheticCRM.customer(r.below(subjects)).email
            var found: [String] = []
            latencies.append(try measure { found = try vault.records.find(field: "email", value: email, context: benchContext) } * 1e6)
            guard found.count == 1 else { throw UsageError("a find returned \(found.count) subjects") }
        }
    }
    progress("\(backendName): sweep…")
    let run = try benchSweep(vault: vault, subjects: subjects, batch: batch)
    progress("\(backendName): \(erasures) single erasures…")
    let erasure = Stats(try benchErasures(vault: vault, subjects: subjects, count: erasures))
    return StoreFigures(backend: backendName, importRowsPerSecond: Double(subjects) / importSeconds, find: Stats(latencies),
                        findsPerSecond: Double(finds) / findSeconds, sweepSeconds: run.seconds, sweepActed: run.summary.acted,
                        erasure: erasure)
}

func storeCompare(_ options: Options) throws {
    try options.allow(["postgres", "subjects", "finds", "batch", "runs", "erasures", "keep"])
    guard let base = options.string("postgres") ?? ProcessInfo.processInfo.environment["PRIVACYKIT_BENCH_POSTGRES"] else {
        throw UsageError("store-compare needs a PostgreSQL server: --postgres postgres://user:password@127.0.0.1:5432/db (scripts/postgres start makes one)")
    }
    let subjects = try options.int("subjects", default: 20_000)
    let finds = try options.int("finds", default: 2_000)
    let batch = try options.int("batch", default: 500)
    let runs = try options.int("runs", default: 1)
    let erasures = try options.int("erasures", default: 200)
    var all: [StoreFigures] = []
    try withTemporaryDirectory(keep: options.flag("keep")) { dir in
        let csv = dir + "/crm.csv"
        try writeRetentionCSV(to: csv, count: subjects)
        for run in 0..<runs {
            all.append(try storeRun(backendName: "sqlite-\(run)", store: nil, dir: dir, csv: csv, subjects: subjects, finds: finds, batch: batch, erasures: erasures))
            let schema = "bench_" + Hex.encode(Random.bytes(count: 6))
            let backend = try PostgresBackend(url: base + (base.contains("?") ? "&" : "?") + "schema=" + schema,
                                              environment: ProcessInfo.processInfo.environment)
            all.append(try storeRun(backendName: "postgres-\(run)", store: backend, dir: dir, csv: csv, subjects: subjects, finds: finds, batch: batch, erasures: erasures))
        }
    }
    func median(_ values: [Double]) -> Double { Stats(values).median }
    let sqlite = all.filter { $0.backend.hasPrefix("sqlite") }, postgres = all.filter { $0.backend.hasPrefix("postgres") }
    print("== S1. The same vault on SQLite and on PostgreSQL (loopback): \(grouped(Double(subjects))) subjects, \(finds) finds, sweep of 10% due; \(runs) run(s), medians")
    print(pad("", 26) + padLeft("SQLite", 14) + padLeft("PostgreSQL", 14) + padLeft("PG / SQLite", 14))
    let rows: [(String, Double, Double, Int)] = [
        ("import rows/s", median(sqlite.map(\.importRowsPerSecond)), median(postgres.map(\.importRowsPerSecond)), 0),
        ("find p50 µs", median(sqlite.map(\.find.median)), median(postgres.map(\.find.median)), 0),
        ("find p99 µs", median(sqlite.map { $0.find.percentile(99) }), median(postgres.map { $0.find.percentile(99) }), 0),
        ("finds/s (one thread)", median(sqlite.map(\.findsPerSecond)), median(postgres.map(\.findsPerSecond)), 0),
        ("sweep s", median(sqlite.map(\.sweepSeconds)), median(postgres.map(\.sweepSeconds)), 2),
        ("erasure p50 ms", median(sqlite.map(\.erasure.median)), median(postgres.map(\.erasure.median)), 2),
        ("erasure p99 ms", median(sqlite.map { $0.erasure.percentile(99) }), median(postgres.map { $0.erasure.percentile(99) }), 2),
    ]
    for (name, a, b, decimals) in rows {
        print(pad(name, 26) + padLeft(fmt(a, decimals), 14) + padLeft(fmt(b, decimals), 14) + padLeft(fmt(b / a, 2), 14))
    }
    print("   sweeps acted on: " + all.map { "\($0.backend) \($0.sweepActed)" }.joined(separator: ", "))
    print(JSON.object([
        ("benchmark", .string("store-compare")), ("subjects", .number(Double(subjects))), ("finds", .number(Double(finds))),
        ("runs", .array(all.map { f in
            JSON.object([("backend", .string(f.backend)), ("import_rows_per_s", .r2(f.importRowsPerSecond)),
                         ("find_us", .stats(f.find)), ("finds_per_s", .r2(f.findsPerSecond)),
                         ("sweep_s", .r2(f.sweepSeconds)), ("sweep_acted", .number(Double(f.sweepActed))),
                         ("erasure_ms", .stats(f.erasure, decimals: 2))])
        })),
    ]).text)
}
