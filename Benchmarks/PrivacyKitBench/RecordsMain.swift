import Foundation
import PrivacyKit

// Subcommands and report of the customer-records benchmarks (see Benchmarks/README.md,
// "Customer records").

let recordsUsage = """

    customer records (see README, "Customer records"):
      records-all       everything below, then a summary (1M customers: 10–11 min here)
                          --customers 1000000 --batch 500 --finds 2000 --misses 20
                          --rounds 9 --crypto-customers 20000 --iterations 20000
                          --baseline-runs 1 [--keep]
      records-gen       write the synthetic CRM export   --customers N --out PATH [--first 0] [--check]
      records-import    (child) vault.records.importCSV of --csv PATH into a new vault --vault DIR
                          --key PATH [--batch 500] [--existing: into that vault, already made];
                          prints customers/s and max RSS
      records-baseline  (child) bare libsodium + GRDB inserts into --store PATH
                          --customers N [--batch 500] [--pooled]
      records-find      find by e-mail on an imported vault --vault DIR --key PATH
                          --customers N [--finds 2000 --misses 20]
      records-encrypt   FieldCipher.seal of one field vs the bare call  [--rounds 9 --iterations 20000]
      records-crypto    the crypto path alone vs the bare loop  [--customers 20000 --rounds 9]
      records-profile   the import taken apart: each phase timed alone  [--customers 20000 --rounds 5]
    """

/// Handles the records-* commands; false if `options.command` is not one of them.
func runRecordsCommand(_ options: Options) throws -> Bool {
    switch options.command {
    case "records-all":
        try recordsAll(options)
    case "records-gen":
        try options.allow(["customers", "out", "check", "first"])
        let count = try options.int("customers", default: 1_000_000)
        let first = try options.int("first", default: 0, minimum: 0)
        let out = try options.require("out")
        let seconds = try measure { try SyntheticCRM.writeCSV(to: out, count: count, first: first) }
        print("wrote \(grouped(Double(count))) customers to \(out) (\(fmt(Double(fileSize(out)) / 1e6, 1)) MB) in \(fmt(seconds, 1)) s")
        if options.flag("check") {
            // Every value must normalize as the import will read it (else it would be
            // rejected), to what the baseline assumes by construction.
            let r = NormalizedCustomer.mismatches(first..<(first + count), schema: try defaultSchema())
            print(r.count == 0 ? "check: every value normalizes, as the baseline assumes" : "check: \(r.count) customers differ: \(r.examples.joined(separator: "; "))")
        }
    case "records-import":
        try options.allow(["csv", "vault", "key", "batch", "customers", "existing"])
        let run = try libraryImport(csv: options.require("csv"), vaultDirectory: options.require("vault"),
                                    keyPath: options.require("key"), customers: options.int("customers", default: 0, minimum: 0),
                                    batch: options.int("batch", default: 500), existing: options.flag("existing"))
        printImportRun(run)
    case "records-baseline":
        try options.allow(["store", "customers", "batch", "pooled"])
        let run = try baselineImport(storePath: options.require("store"), customers: options.int("customers", default: 1_000_000),
                                     batch: options.int("batch", default: 500), usePool: options.flag("pooled"))
        printImportRun(run)
    case "records-find":
        try options.allow(["vault", "key", "customers", "finds", "misses"])
        let directory = try options.require("vault")
        let vault = try Vault.open(at: URL(fileURLWithPath: directory), rootKey: .keyFile(at: options.string("key") ?? directory + ".key"),
                                   context: benchContext)
        var summary: [SummaryRow] = []
        let json = try findSection(vault: vault, customers: options.int("customers", default: 1_000_000),
                                   finds: options.int("finds", default: 2_000), misses: options.int("misses", default: 20, minimum: 0),
                                   summary: &summary)
        print(JSON.object([("benchmark", .string("records-find"))] + json).text)
    case "records-encrypt":
        try options.allow(["rounds", "iterations"])
        try withTemporaryDirectory(keep: false) { dir in
            let bench = try BenchVault.create(in: dir, name: "encrypt")
            var summary: [SummaryRow] = []
            let json = try sealOneSection(vault: bench.vault, rounds: options.int("rounds", default: 9),
                                          iterations: options.int("iterations", default: 20_000), summary: &summary)
            print(JSON.object([("benchmark", .string("records-encrypt"))] + json).text)
        }
    case "records-crypto":
        try options.allow(["customers", "rounds"])
        try withTemporaryDirectory(keep: false) { dir in
            let bench = try BenchVault.create(in: dir, name: "crypto")
            var summary: [SummaryRow] = []
            let json = try cryptoSection(vault: bench.vault, customers: options.int("customers", default: 20_000),
                                         rounds: options.int("rounds", default: 9), summary: &summary)
            print(JSON.object([("benchmark", .string("records-crypto"))] + json).text)
        }
    case "records-profile":
        try options.allow(["customers", "rounds"])
        let k = try options.int("customers", default: 20_000)
        try withTemporaryDirectory(keep: false) { dir in
            let r = try recordsProfile(customers: k, rounds: options.int("rounds", default: 5), dir: dir)
            print("== Where an import's time goes: \(grouped(Double(k))) customers, each phase alone (µs per customer, median and range over rounds)")
            for p in r.pieces {
                print("   \(pad(p.name, 62)) \(padLeft(fmt(p.micros.median, 2), 7))  (\(fmt(p.micros.min, 2))–\(fmt(p.micros.max, 2)))\(p.note.isEmpty ? "" : "  " + p.note)")
            }
            print("   whole vault.records.importCSV of the same rows, in process: \(fmt(r.libraryMicros.median, 1)) µs/customer (\(fmt(r.libraryMicros.min, 1))–\(fmt(r.libraryMicros.max, 1))); baseline \(fmt(r.baselineMicros.median, 1)) µs/customer")
            print(JSON.object([("benchmark", .string("records-profile")), ("customers", .int(k)),
                               ("pieces_us", .object(r.pieces.map { ($0.name.trimmingCharacters(in: .whitespaces), .number($0.micros.median)) })),
                               ("import_us", .stats(r.libraryMicros, decimals: 1)), ("baseline_us", .stats(r.baselineMicros, decimals: 1))]).text)
        }
    default:
        return false
    }
    return true
}

func printImportRun(_ run: ImportRun) {
    print("\(run.mode): \(grouped(Double(run.customers))) customers in \(fmt(run.seconds, 1)) s = \(grouped(run.customersPerSecond))/s; created \(run.created), rejected \(run.rejected); max RSS \(mib(run.maxRSSKB)) MiB (VmHWM \(mib(run.vmHWMKB)), \(mib(run.startMaxRSSKB)) before); store \(fmt(Double(run.storeBytes) / 1e6, 0)) MB; storage read \(fmt(Double(run.storageReadBytes) / 1e6, 0)) MB, written \(fmt(Double(run.storageWriteBytes) / 1e6, 0)) MB")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: (try? encoder.encode(run)) ?? Data(), as: UTF8.self))
}

func curveText(_ c: [Double]) -> String { c.map { grouped($0 / 1000) + "k" }.joined(separator: " ") }

// MARK: - Sections

func importSection(dir: String, customers: Int, batch: Int, baselineRuns: Int, keep: Bool, summary: inout [SummaryRow])
    throws -> (json: [(String, JSON)], vaultDirectory: String, keyPath: String)
{
    let csv = dir + "/customers.csv"
    progress("writing the synthetic CSV (\(grouped(Double(customers))) customers)…")
    let genSeconds = try measure { try SyntheticCRM.writeCSV(to: csv, count: customers) }
    print("== R1. Import of \(grouped(Double(customers))) synthetic customers (6 encrypted fields, 3 blind indexes), transactions of \(batch)")
    print("   CSV \(fmt(Double(fileSize(csv)) / 1e6, 0)) MB, written in \(fmt(genSeconds, 1)) s (not timed); each run in its own child process")
    // The baseline takes the normalized values by construction; check a sample against the Normalizer.
    let sample = NormalizedCustomer.mismatches(0..<min(customers, 2_000), schema: try defaultSchema())
    if sample.count > 0 {
        print("   WARNING: \(sample.count) of the first 2,000 customers normalize differently from what the baseline assumes: \(sample.examples.joined(separator: "; "))")
    }

    // One baseline run before the library; with --baseline-runs 2 or more, the others after
    // it, so drift during the run shows.
    var baselines: [ImportRun] = []
    func baseline(_ i: Int) throws {
        let store = dir + "/baseline-\(i).sqlite"
        progress("baseline import \(i + 1)/\(baselineRuns)…")
        let run = try importInChild(["records-baseline", "--store", store, "--customers", String(customers), "--batch", String(batch)])
        print("   baseline \(i + 1): \(pad(grouped(run.customersPerSecond) + "/s", 9)) (\(fmt(run.seconds, 1)) s; per tenth \(curveText(run.curve))) max RSS \(mib(run.maxRSSKB)) MiB, store \(fmt(Double(run.storeBytes) / 1e6, 0)) MB")
        baselines.append(run)
        if !keep { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: store + suffix) } }
    }
    try baseline(0)
    let vaultDirectory = dir + "/records", keyPath = dir + "/records.key"
    progress("library import (vault.records.importCSV)…")
    let lib = try importInChild(["records-import", "--csv", csv, "--vault", vaultDirectory, "--key", keyPath,
                                 "--batch", String(batch), "--customers", String(customers)])
    print("   library:    \(pad(grouped(lib.customersPerSecond) + "/s", 9)) (\(fmt(lib.seconds, 1)) s; per tenth \(curveText(lib.curve))) created \(grouped(Double(lib.created))), rejected \(lib.rejected); store \(fmt(Double(lib.storeBytes) / 1e6, 0)) MB")
    if !lib.firstRejects.isEmpty { print("   first rejects: \(lib.firstRejects.joined(separator: "; "))") }
    for i in 1..<max(1, baselineRuns) { try baseline(i) }
    if !keep { try? FileManager.default.removeItem(atPath: csv) }

    let base = Stats(baselines.map(\.customersPerSecond))
    let ratio = lib.customersPerSecond / base.median
    let ratioRange = "\(fmt(lib.customersPerSecond / base.max, 2))–\(fmt(lib.customersPerSecond / base.min, 2))"
    print("   ratio library / baseline: \(fmt(ratio, 2)) (against each baseline run: \(ratioRange)); goal ≥ \(RecordGoals.importRatio): \(verdict(ratio / RecordGoals.importRatio))")
    print("   (the library's figure includes CSV parsing, normalization with libphonenumber, an existence read per row, JSON, the audit event per row; the baseline has none of these)")
    print("   per customer: library \(fmt(lib.seconds / Double(lib.customers) * 1e6, 1)) µs wall (CPU \(fmt(lib.cpuSeconds / lib.seconds * 100, 0))% of it), baseline \(fmt(baselines[0].seconds / Double(customers) * 1e6, 1)) µs wall")
    print("   storage I/O during the run: library read \(fmt(Double(lib.storageReadBytes) / 1e6, 0)) MB, wrote \(fmt(Double(lib.storageWriteBytes) / 1e6, 0)) MB; baseline read \(fmt(Double(baselines[0].storageReadBytes) / 1e6, 0)) MB, wrote \(fmt(Double(baselines[0].storageWriteBytes) / 1e6, 0)) MB")
    let rssOK = lib.maxRSSKB < RecordGoals.importMaxRSSKB
    print("   library import peak memory: ru_maxrss \(mib(lib.maxRSSKB)) MiB (\(fmt(Double(lib.maxRSSKB) * 1024 / 1e6, 1)) MB; VmHWM \(mib(lib.vmHWMKB)) MiB; \(mib(lib.startMaxRSSKB)) MiB before importing; sampled peak \(mib(lib.peakRSSDuringKB)) MiB); goal < 200 MB: \(rssOK ? "met (\(fmt(Double(lib.maxRSSKB) / Double(RecordGoals.importMaxRSSKB), 2))× the cap)" : "MISSED")")
    summary.append(SummaryRow(name: "R1. import \(grouped(Double(customers)))", result: "\(grouped(lib.customersPerSecond))/s vs baseline \(rangeText(base))",
                              goal: "≥ 0.6× baseline", verdict: "\(ratio >= RecordGoals.importRatio ? "met" : "MISSED") (\(fmt(ratio, 2))×)"))
    summary.append(SummaryRow(name: "R1. import peak RSS", result: "\(mib(lib.maxRSSKB)) MiB", goal: "< 200 MB",
                              verdict: rssOK ? "met (\(fmt(Double(lib.maxRSSKB) / Double(RecordGoals.importMaxRSSKB), 2))× the cap)" : "MISSED"))
    func runJSON(_ r: ImportRun) -> JSON {
        .object([("customers_per_s", .number(r.customersPerSecond.rounded())), ("seconds", .number(r.seconds)),
                 ("curve", .array(r.curve.map { .number($0.rounded()) })), ("max_rss_kb", .int(r.maxRSSKB)),
                 ("vm_hwm_kb", .int(r.vmHWMKB)), ("cpu_s", .number(r.cpuSeconds)), ("store_bytes", .int(Int(r.storeBytes))),
                 ("created", .int(r.created)), ("rejected", .int(r.rejected)),
                 ("storage_read_bytes", .int(r.storageReadBytes)), ("storage_write_bytes", .int(r.storageWriteBytes))])
    }
    return ([("customers", .int(customers)), ("batch", .int(batch)), ("import_library", runJSON(lib)),
             ("import_baselines", .array(baselines.map(runJSON))), ("import_ratio", .r2(ratio)),
             ("import_max_rss_kb", .int(lib.maxRSSKB))], vaultDirectory, keyPath)
}

func findSection(vault: Vault, customers: Int, finds: Int, misses: Int, summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    print("== R2. vault.records.find(field: \"email\") on the \(grouped(Double(customers)))-customer store: \(grouped(Double(finds))) random existing e-mails (as written in the CSV) + \(misses) absent, after 50 warm-up finds; then the same \(grouped(Double(finds))) again")
    let r = try benchFind(vault: vault, customers: customers, count: finds, misses: misses)
    let h = r.hits, a = r.repeatHits
    func mb(_ bytes: Int) -> String { fmt(Double(bytes) / 1e6, 1) }
    print("   first lookups: p50 \(fmt(h.median)) µs  p90 \(fmt(h.percentile(90))) µs  p99 \(fmt(h.percentile(99))) µs  max \(fmt(h.max)) µs   (read from storage: \(mb(r.storageReadBytes)) MB; wrong answers: \(r.wrong))")
    print("   same again:    p50 \(fmt(a.median)) µs  p90 \(fmt(a.percentile(90))) µs  p99 \(fmt(a.percentile(99))) µs  max \(fmt(a.max)) µs   (read from storage: \(mb(r.repeatStorageReadBytes)) MB)")
    print("   absent:        p50 \(fmt(r.misses.median)) µs  max \(fmt(r.misses.max)) µs")
    print("   pieces (p50): normalize + blind index with its audit event \(fmt(r.blindIndexPart.median, 1)) µs; one audit event in its own transaction \(fmt(r.auditPart.median, 1)) µs (p99 \(fmt(r.auditPart.percentile(99))) µs); FieldCipher init+free (sodium_malloc) \(fmt(r.cipherInitPart.median, 1)) µs; access checks (enforcement) \(fmt(r.accessCheckNs.median, 0)) ns")
    let p99 = h.percentile(99)
    let ok = p99 < RecordGoals.findP99Micros && r.wrong == 0
    print("   goal p99 < 1 ms (first lookups): \(ok ? "met" : "MISSED") (p99 \(fmt(p99 / 1000, 3)) ms = \(fmt(p99 / RecordGoals.findP99Micros, 2))× the cap; repeated: \(fmt(a.percentile(99) / RecordGoals.findP99Micros, 2))×)")
    summary.append(SummaryRow(name: "R2. find by e-mail", result: "p50 \(fmt(h.median)) µs, p99 \(fmt(p99)) µs (again: p99 \(fmt(a.percentile(99))) µs)",
                              goal: "p99 < 1 ms", verdict: ok ? "met (\(fmt(p99 / RecordGoals.findP99Micros, 2))× the cap)" : "MISSED (\(fmt(p99 / RecordGoals.findP99Micros, 2))× the cap)"))
    return [("find_us", .stats(h, decimals: 1)), ("find_p90_us", .number(h.percentile(90).rounded())),
            ("find_p99_us", .number(p99.rounded())), ("find_again_us", .stats(a, decimals: 1)),
            ("find_again_p99_us", .number(a.percentile(99).rounded())), ("find_storage_read_bytes", .int(r.storageReadBytes)),
            ("find_again_storage_read_bytes", .int(r.repeatStorageReadBytes)),
            ("find_miss_us", .stats(r.misses, decimals: 1)), ("find_wrong", .int(r.wrong)),
            ("find_piece_blind_index_audited_us", .number(r.blindIndexPart.median)), ("find_piece_audit_us", .number(r.auditPart.median)),
            ("find_piece_cipher_init_us", .number(r.cipherInitPart.median)),
            ("find_piece_access_check_ns", .number(r.accessCheckNs.median))]
}

func sealOneSection(vault: Vault, rounds: Int, iterations: Int, summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    print("== R3. Library-mode encrypt of one field: FieldCipher.seal (subject key loaded) vs bare crypto_aead_xchacha20poly1305_ietf_encrypt + randombytes_buf nonce; \(rounds) rounds × \(grouped(Double(iterations))), alternating")
    var json: [(String, JSON)] = []
    let cases = [("email", "anna.mueller1@gmx.de"), ("address", "1234 Market Street, Apt 5B, San Francisco, CA 94103, U.S.A.")]
    var worst = 0.0
    for (field, value) in cases {
        let r = try benchSealOne(vaultID: vault.id, value: value, field: field, rounds: rounds, iterations: iterations)
        let ratio = r.library.median / r.bare.median
        worst = max(worst, ratio)
        print("   \(pad(field, 7)) \(r.bytes) B: library \(fmt(r.library.median)) ns (\(fmt(r.library.min))–\(fmt(r.library.max))), bare \(fmt(r.bare.median)) ns (\(fmt(r.bare.min))–\(fmt(r.bare.max))) → \(fmt(ratio, 2))×; bare with pooled nonces \(fmt(r.barePooled.median)) ns (library \(fmt(r.library.median / r.barePooled.median, 2))× that)")
        summary.append(SummaryRow(name: "R3. seal one \(field) (\(r.bytes) B)", result: "\(fmt(r.library.median)) ns vs bare \(fmt(r.bare.median)) ns",
                                  goal: "≤ 1.5× bare", verdict: "\(ratio <= RecordGoals.encryptRatio ? "met" : "MISSED") (\(fmt(ratio, 2))×; \(fmt(r.library.median / r.barePooled.median, 2))× pooled)"))
        json += [("seal_\(field)_ns", .stats(r.library)), ("seal_\(field)_bare_ns", .stats(r.bare)),
                 ("seal_\(field)_bare_pooled_ns", .stats(r.barePooled)), ("seal_\(field)_ratio", .r2(ratio)),
                 ("seal_\(field)_ratio_pooled", .r2(r.library.median / r.barePooled.median))]
    }
    print("   goal ≤ \(RecordGoals.encryptRatio)× the bare call: \(worst <= RecordGoals.encryptRatio ? "met" : "MISSED") (worst \(fmt(worst, 2))×)")
    return json
}

func vaultEncryptSection(vault: Vault, customers: Int, count: Int, summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    let s = try benchVaultEncrypt(vault: vault, customers: customers, count: count)
    print("   for information: public vault.records.encrypt (loads + unwraps the subject key, writes an audit event, returns pk1.… text) on the \(grouped(Double(customers)))-customer store: p50 \(fmt(s.median)) µs, p99 \(fmt(s.percentile(99))) µs (\(count) calls)")
    summary.append(SummaryRow(name: "R3b. vault.records.encrypt (public)", result: "p50 \(fmt(s.median)) µs, p99 \(fmt(s.percentile(99))) µs", goal: "info", verdict: ""))
    return [("vault_encrypt_us", .stats(s, decimals: 1)), ("vault_encrypt_p99_us", .number(s.percentile(99).rounded()))]
}

func cryptoSection(vault: Vault, customers: Int, rounds: Int, summary: inout [SummaryRow]) throws -> [(String, JSON)] {
    print("== R4. Crypto path alone: per customer a new subject key, its wrap, 6 seals, 3 blind indexes (pre-normalized values); \(grouped(Double(customers))) customers × \(rounds) rounds, alternating")
    let data = try normalizedCustomers(0..<customers, schema: vault.policies.schema)
    let r = try benchCryptoPath(vault: vault, customers: data, rounds: rounds)
    let ratio = r.library.median / r.bare.median
    let ratioPooled = r.library.median / r.barePooled.median
    print("   library (FieldCipher + BlindIndexer): \(rangeText(r.library)) customers/s = \(fmt(1e6 / r.library.median, 2)) µs/customer")
    print("   bare loop, randombytes_buf per nonce: \(rangeText(r.bare)) customers/s = \(fmt(1e6 / r.bare.median, 2)) µs/customer")
    print("   bare loop, pooled nonces:             \(rangeText(r.barePooled)) customers/s = \(fmt(1e6 / r.barePooled.median, 2)) µs/customer")
    print("   ratio library / bare: \(fmt(ratio, 2)); goal ≥ \(RecordGoals.cryptoRatio): \(verdict(ratio / RecordGoals.cryptoRatio)); against the pooled bare loop (the same calls the library makes): \(fmt(ratioPooled, 2))×")
    print("   pieces, ns per customer (median): library / bare / bare pooled")
    var pieces: [JSON] = []
    for p in r.pieces {
        print("     \(pad(p.name, 19)) \(padLeft(fmt(p.library.median), 6)) / \(padLeft(fmt(p.bare.median), 6)) / \(padLeft(fmt(p.barePooled.median), 6))   (library − pooled bare: \(fmt(p.library.median - p.barePooled.median)) ns)")
        pieces.append(.object([("piece", .string(p.name)), ("library_ns", .number(p.library.median.rounded())),
                               ("bare_ns", .number(p.bare.median.rounded())), ("bare_pooled_ns", .number(p.barePooled.median.rounded()))]))
    }
    summary.append(SummaryRow(name: "R4. crypto path", result: "\(grouped(r.library.median))/s vs bare \(grouped(r.bare.median))/s",
                              goal: "≥ 0.8× bare", verdict: "\(ratio >= RecordGoals.cryptoRatio ? "met" : "MISSED") (\(fmt(ratio, 2))×; \(fmt(ratioPooled, 2))× pooled)"))
    return [("crypto_customers_per_s", .stats(r.library)), ("crypto_bare_customers_per_s", .stats(r.bare)),
            ("crypto_bare_pooled_customers_per_s", .stats(r.barePooled)), ("crypto_ratio", .r2(ratio)),
            ("crypto_ratio_pooled", .r2(ratioPooled)), ("crypto_pieces", .array(pieces))]
}

func recordsAll(_ options: Options) throws {
    try options.allow(["customers", "batch", "finds", "misses", "rounds", "crypto-customers", "iterations", "baseline-runs", "keep"])
    let customers = try options.int("customers", default: 1_000_000, minimum: 100)
    let batch = try options.int("batch", default: 500)
    let finds = try options.int("finds", default: 2_000)
    let misses = try options.int("misses", default: 20, minimum: 0)
    let rounds = try options.int("rounds", default: 9)
    let cryptoCustomers = try options.int("crypto-customers", default: 20_000)
    let iterations = try options.int("iterations", default: 20_000)
    let baselineRuns = try options.int("baseline-runs", default: 1)
    let started = clock.now
    var json: [(String, JSON)] = [("benchmark", .string("records-all"))]
    var summary: [SummaryRow] = []
    try withTemporaryDirectory(keep: options.flag("keep")) { dir in
        print("privacykit-bench records-all   (\(ProcessInfo.processInfo.activeProcessorCount) cores; files in \(dir))")
        // Crypto first, while the machine is quiet and nothing big is in the page cache.
        let small = try BenchVault.create(in: dir, name: "crypto")
        json += try cryptoSection(vault: small.vault, customers: min(cryptoCustomers, customers), rounds: rounds, summary: &summary)
        json += try sealOneSection(vault: small.vault, rounds: rounds, iterations: iterations, summary: &summary)
        let (importJSON, vaultDirectory, keyPath) = try importSection(dir: dir, customers: customers, batch: batch,
                                                                      baselineRuns: baselineRuns, keep: options.flag("keep"),
                                                                      summary: &summary)
        json += importJSON
        let vault = try Vault.open(at: URL(fileURLWithPath: vaultDirectory), rootKey: .keyFile(at: keyPath), context: benchContext)
        json += try findSection(vault: vault, customers: customers, finds: finds, misses: misses, summary: &summary)
        json += try vaultEncryptSection(vault: vault, customers: customers, count: 500, summary: &summary)
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
