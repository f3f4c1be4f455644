import Foundation
import PrivacyKit

// Issue 21, point 3: a batch `get` of 100 subjects against 100 single `get` calls on the
// same vault, alternating rounds so drift hits both.

let batchUsage = """

      records-batch     vault.records.get(subjects:) of --size subjects against as many single
                          get calls, --rounds alternating, on an imported vault
                          --vault DIR --key PATH --customers N [--size 100 --rounds 30]
                          goal: the batch ≥ 10× the single calls

    """

enum BatchGoals {
    static let speedup = 10.0
}

func runBatchCommand(_ options: Options) throws -> Bool {
    guard options.command == "records-batch" else { return false }
    try options.allow(["vault", "key", "customers", "size", "rounds"])
    let directory = try options.require("vault")
    let vault = try Vault.open(at: URL(fileURLWithPath: directory), rootKey: .keyFile(at: options.string("key") ?? directory + ".key"),
                               context: benchContext)
    let customers = try options.int("customers", default: 20_000)
    let size = try options.int("size", default: 100)
    let rounds = try options.int("rounds", default: 30)
    var random = SplitMix64(seed: 21)
    var single: [Double] = [], batch: [Double] = []
    for round in 0..<(rounds + 2) {
        let ids = (0..<size).map { _ in SyntheticCRM.subjectID(random.below(customers)) }
        let singleTime = try measure { for id in ids { _ = try vault.records.get(subject: id, context: benchContext) } }
        var answers: [SubjectRead] = []
        let batchTime = try measure { answers = try vault.records.get(subjects: ids, context: benchContext) }
        guard answers.allSatisfy({ (try? $0.result.get()) != nil }) else { throw UsageError("a batch answer failed: the vault must hold --customers customers") }
        if round >= 2 {  // the first rounds warm the caches
            single.append(singleTime * 1e3)
            batch.append(batchTime * 1e3)
        }
    }
    let s = Stats(single), b = Stats(batch)
    let ratio = s.median / b.median
    print("== B1. \(size) subjects read: one vault.records.get(subjects:) against \(size) single get calls (all readable fields), \(rounds) alternating rounds, \(grouped(Double(customers))) customers")
    print("   single calls: median \(fmt(s.median, 2)) ms (\(fmt(s.min, 2))–\(fmt(s.max, 2)))   = \(grouped(Double(size) / s.median * 1e3)) subjects/s")
    print("   one batch:    median \(fmt(b.median, 2)) ms (\(fmt(b.min, 2))–\(fmt(b.max, 2)))   = \(grouped(Double(size) / b.median * 1e3)) subjects/s")
    print("   goal batch ≥ \(fmt(BatchGoals.speedup, 0))× the single calls: \(ratio >= BatchGoals.speedup ? "met" : "MISSED") (\(fmt(ratio, 1))×)")
    print(JSON.object([("benchmark", .string("records-batch")), ("size", .int(size)), ("single_ms", .stats(s, decimals: 3)),
                       ("batch_ms", .stats(b, decimals: 3)), ("speedup", .number(ratio))]).text)
    return true
}
