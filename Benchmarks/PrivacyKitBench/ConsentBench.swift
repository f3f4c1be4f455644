import Foundation
import PrivacyKit

// MARK: - Consent: `may` checks and audiences on a 1,000,000-subject vault
//
// The vault is filled through the library's own import: each customer row carries three
// consent columns (marketing e-mail, SMS, profiling), then a second import of the same
// customers changes the e-mail consent of a share of them, so subjects have several ledger
// events each, as a real CRM history would.

let consentUsage = """
      consent-all       `may` checks/s and audience time/memory on a vault of --subjects
                          subjects (default 1,000,000) with several consent events each
                          [--batch 1000 --checks 200000 --keep]
      consent-may       the `may` checks alone on a kept consent-all vault
                          --vault DIR [--key PATH] --subjects N [--batch 1000 --checks 200000]
    """

func consentMay(_ options: Options) throws {
    try options.allow(["vault", "key", "subjects", "batch", "checks"])
    let directory = try options.require("vault")
    let vault = try Vault.open(at: URL(fileURLWithPath: directory), rootKey: .keyFile(at: options.string("key") ?? directory + ".key"),
                               context: benchContext)
    let (now, single, replay) = try benchMay(
        vault: vault, subjects: options.int("subjects", default: 1_000_000), batch: options.int("batch", default: 1000),
        checks: options.int("checks", default: 200_000), past: Date(timeIntervalSince1970: 0))
    print(JSON.object([("benchmark", .string("consent-may")), ("may_checks_per_s", JSON.stats(now)),
                       ("may_single_us", JSON.stats(single, decimals: 1)), ("may_at_checks_per_s", JSON.stats(replay))]).text)
}

/// Consent answers for customer n, deterministic: (marketing e-mail, SMS, profiling), then
/// the e-mail answer of the second import.
func syntheticConsents(_ n: Int) -> (email: String, sms: String, profiling: String, emailLater: String) {
    var r = SplitMix64(seed: UInt64(n) &* 0x9E37_79B9 &+ 7)
    func pick(_ yes: Int, _ no: Int) -> String {
        let x = r.below(100)
        return x < yes ? "yes" : x < yes + no ? "no" : ""
    }
    let email = pick(60, 25)
    let sms = pick(30, 40)
    let profiling = pick(45, 30)
    // A third of the customers change their mind about e-mail later.
    let later = r.below(3) == 0 ? (email == "yes" ? "no" : "yes") : email
    return (email, sms, profiling, later)
}

func writeConsentCSV(to path: String, count: Int, later: Bool) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil) else { throw UsageError("cannot create \(path)") }
    guard let handle = FileHandle(forWritingAtPath: path) else { throw UsageError("cannot write \(path)") }
    defer { try? handle.close() }
    var buffer = "id,email,marketing_consent,sms_opt_in,profiling_ok\n"
    for n in 0..<count {
        let c = syntheticConsents(n)
        buffer += "\(SyntheticCRM.subjectID(n)),c\(n)@example.com,\(later ? c.emailLater : c.email),\(c.sms),\(c.profiling)\n"
        if buffer.utf8.count > 1 << 20 {
            try handle.write(contentsOf: Data(buffer.utf8))
            buffer = ""
        }
    }
    try handle.write(contentsOf: Data(buffer.utf8))
}

func consentAll(_ options: Options) throws {
    try options.allow(["subjects", "batch", "checks", "keep"])
    let subjects = try options.int("subjects", default: 1_000_000)
    let batch = try options.int("batch", default: 1000)
    let checks = try options.int("checks", default: 200_000)
    let started = Date()
    try withTemporaryDirectory(keep: options.flag("keep")) { dir in
        let bench = try BenchVault.create(in: dir, name: "consent")
        let vault = bench.vault
        let admin = AccessContext(actor: "bench", role: "admin", purpose: "privacy-compliance")
        let columns = ["marketing_consent": "marketing-email", "sms_opt_in": "marketing-sms", "profiling_ok": "profiling"]
        var importSeconds: [Double] = []
        var events = 0
        for later in [false, true] {
            let csv = dir + "/consents-\(later ? 2 : 1).csv"
            try writeConsentCSV(to: csv, count: subjects, later: later)
            progress("import \(later ? "2 (changes)" : "1") of \(grouped(Double(subjects))) subjects with 3 consent columns…")
            var summary: ImportSummary?
            importSeconds.append(try measure {
                summary = try vault.records.importCSV(at: csv, options: ImportOptions(consentColumns: columns, consentNoticeVersion: "2026-01"), context: admin) { s in
                    if s.rows % 100_000 < 500 { progress("  \(grouped(Double(s.rows))) rows") }
                }
            })
            events += summary?.consentEvents ?? 0
            try? FileManager.default.removeItem(atPath: csv)
        }
        let ledger = events
        print("== C0. Vault: \(grouped(Double(subjects))) subjects, \(grouped(Double(ledger))) ledger events (\(fmt(Double(ledger) / Double(subjects), 2)) per subject; the audit log has one event per change too); imports took \(importSeconds.map { fmt($0, 0) + " s" }.joined(separator: " + "))")

        // C1 in a child process, after the imports' dirty pages are written back: the
        // checks then measure the vault, not the kernel flushing 1 GB behind them.
        progress("sync, then the may checks in a child process…")
        sync()
        let child = try runChild(["consent-may", "--vault", bench.directory, "--key", bench.keyPath, "--subjects", String(subjects),
                                  "--batch", String(batch), "--checks", String(checks)])
        print(child, terminator: "")

        // C2. audience, in this process: time and the RSS it adds.
        var audiences: [(purpose: String, count: Int, seconds: Double, rssBeforeKB: Int, peakKB: Int)] = []
        for purpose in ["marketing-email", "sale-or-sharing", "order-fulfilment"] {
            let context = AccessContext(actor: "bench", role: "admin", purpose: purpose)
            let before = currentRSSKB() ?? 0
            let sampler = RSSSampler()
            var count = 0
            var checksum = 0
            let t = try measure { count = try vault.consent.audience(purpose: purpose, context: context) { checksum &+= $0.utf8.count } }
            let peak = sampler.stop()
            audiences.append((purpose, count, t, before, peak))
            _ = checksum
        }
        print("== C2. audience (streamed ids) over \(grouped(Double(subjects))) subjects")
        for a in audiences {
            print("   \(pad(a.purpose, 18)) \(padLeft(grouped(Double(a.count)), 10)) subjects in \(fmt(a.seconds, 2)) s; RSS \(fmt(Double(a.rssBeforeKB) / 1024, 1)) MiB before, peak \(fmt(Double(a.peakKB) / 1024, 1)) MiB during (+\(fmt(Double(a.peakKB - a.rssBeforeKB) / 1024, 1)) MiB); goal < 3 s: \(a.seconds < 3 ? "met" : "MISSED") (\(fmt(a.seconds / 3, 2))× the cap)")
        }
        var json: [(String, JSON)] = [
            ("benchmark", .string("consent-all")), ("subjects", .number(Double(subjects))), ("ledger_events", .number(Double(ledger))),
            ("import_seconds", .array(importSeconds.map { .number($0) })),
        ]
        json.append(("audiences", .array(audiences.map { a in
            .object([("purpose", .string(a.purpose)), ("count", .number(Double(a.count))), ("seconds", JSON.r2(a.seconds)),
                     ("rss_before_kb", .number(Double(a.rssBeforeKB))), ("rss_peak_kb", .number(Double(a.peakKB)))])
        })))
        json.append(("total_s", .number(Date().timeIntervalSince(started).rounded())))
        print(JSON.object(json).text)
    }
}

/// C1: `may` checks on a vault of `subjects` synthetic subjects. `past` is a time before
/// any event (answers there replay the ledger and find nothing).
func benchMay(vault: Vault, subjects: Int, batch: Int, checks: Int, past: Date) throws -> (now: Stats, single: Stats, replay: Stats) {
        // C1. may: batches of random subjects, now and at a past time (ledger replay).
        let marketer = AccessContext(actor: "bench", role: "marketer", purpose: "marketing-email")
        var r = SplitMix64(seed: 99)
        func randomBatch() -> [String] { (0..<batch).map { _ in SyntheticCRM.subjectID(r.below(subjects)) } }
        _ = try vault.consent.answer(subjects: randomBatch(), purpose: "marketing-email", context: marketer)  // warm-up
        var rates: [Double] = []
        var allowed = 0
        var done = 0
        while done < checks {
            let ids = randomBatch()
            var answers: [ConsentAnswer] = []
            let t = try measure { answers = try vault.consent.answer(subjects: ids, purpose: "marketing-email", context: marketer) }
            rates.append(Double(ids.count) / t)
            allowed += answers.filter(\.allowed).count
            done += ids.count
        }
        let now = Stats(rates)
        var singles: [Double] = []
        for _ in 0..<2000 {
            let id = SyntheticCRM.subjectID(r.below(subjects))
            singles.append(try measure { _ = try vault.consent.answer(subject: id, purpose: "marketing-email", context: marketer) } * 1e6)
        }
        let single = Stats(singles)
        var pastRates: [Double] = []
        let recent = Date()
        for at in [past, recent] {
            for _ in 0..<20 {
                let ids = randomBatch()
                let t = try measure { _ = try vault.consent.answer(subjects: ids, purpose: "marketing-email", at: at, context: marketer) }
                pastRates.append(Double(ids.count) / t)
            }
        }
        let replay = Stats(pastRates)
        print("== C1. may (vault.consent.answer(subjects:purpose:)), batches of \(batch) random subjects, \(grouped(Double(done))) checks (\(fmt(100 * Double(allowed) / Double(done), 1))% allowed)")
        print("   now: median \(grouped(now.median)) checks/s (\(grouped(now.min))–\(grouped(now.max))) over \(rates.count) batches; goal ≥ 200,000/s: \(now.median >= 200_000 ? "met" : "MISSED") (\(fmt(now.median / 200_000, 2))×)")
        print("   one subject per call (vault.consent.answer(subject:)): p50 \(fmt(single.median, 1)) µs, p99 \(fmt(single.percentile(99), 1)) µs = \(grouped(1e6 / single.median)) checks/s")
        print("   at a given time (ledger replay by pseudonym): median \(grouped(replay.median)) checks/s")

        return (now, single, replay)
}
