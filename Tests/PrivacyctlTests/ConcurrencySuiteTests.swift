import Foundation
import GRDB
import PrivacyKit
import Testing

/// The concurrency suite (issue 9): for a bounded time, two `privacyctl import`s of the same
/// file, a sweep, backups and `audit verify` run as processes in a loop, while two service
/// threads in this process write and read through the library, on one vault. Afterwards:
/// every command succeeded (no "database is locked" reached anyone), every acknowledged write
/// is there with its last value, no subject exists twice or was created twice, the audit log
/// verifies, and the last backup restores.
///
/// CI runs 6 s of load; `PRIVACYKIT_LONG_TESTS=1` runs 120 s (`PRIVACYKIT_CONCURRENCY_SECONDS`
/// sets it).
@Suite("concurrency suite: processes and threads on one vault")
struct ConcurrencySuiteTests {
    static let environment = ProcessInfo.processInfo.environment
    static let seconds = Double(environment["PRIVACYKIT_CONCURRENCY_SECONDS"] ?? "") ?? (environment["PRIVACYKIT_LONG_TESTS"] == "1" ? 120 : 6)

    /// What the workers saw, shared between threads.
    final class Ledger: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var runs: [(command: String, result: CLI.Result)] = []
        private(set) var serviceErrors: [String] = []
        /// subject → the last value a put of it returned success for (per-thread subjects).
        private(set) var acknowledged: [String: String] = [:]
        /// Values acknowledged for the subject both threads write.
        private(set) var sharedValues: Set<String> = []
        private(set) var sharedWrites = 0
        private(set) var reads = 0

        func ran(_ command: String, _ result: CLI.Result) { lock.withLock { runs.append((command, result)) } }
        func failed(_ message: String) { lock.withLock { serviceErrors.append(message) } }
        func wrote(_ subject: String, _ value: String) { lock.withLock { acknowledged[subject] = value } }
        func wroteShared(_ value: String) { lock.withLock { sharedValues.insert(value); sharedWrites += 1 } }
        func read() { lock.withLock { reads += 1 } }
    }

    @Test func importsServiceSweepBackupAndVerifyAtOnce() throws {
        let workspace = try Scratch()
        let ws = workspace.path
        try CrashSuiteTests.makeTemplate(ws, fixture: .populated)
        // New customers for the two importers (the same file: both race to create each id).
        var csv = "id,full_name,email,phone,country,segment,last_interaction\n"
        for i in 0..<1500 {
            let id = String(format: "n%05d", i)
            csv += "\(id),New \(i),\(id)@load.example,+1 628 555 \(String(format: "%04d", i)),US,lead,2026-05-01\n"
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: ws + "/new.csv"))

        let ledger = Ledger()
        let deadline = Date().addingTimeInterval(Self.seconds)
        let group = DispatchGroup()
        func loop(_ name: String, _ body: @escaping @Sendable () -> Void) {
            group.enter()
            let thread = Thread {
                while Date() < deadline { body() }
                group.leave()
            }
            thread.name = name
            thread.start()
        }
        func command(_ arguments: [String]) -> @Sendable () -> Void {
            {
                do {
                    ledger.ran(arguments.joined(separator: " "), try CrashSuiteTests.privacyctl(arguments, in: ws))
                } catch {
                    ledger.failed("\(arguments.joined(separator: " ")): \(error)")
                }
            }
        }
        loop("import-1", command(["import", "new.csv", "--batch-size", "25"]))
        loop("import-2", command(["import", "new.csv", "--batch-size", "40"]))
        loop("sweep", command(["sweep", "--now", "2026-06-01", "--batch-size", "16"]))
        loop("backup", command(["backup", "create", "--out", "bk"]))
        loop("verify", command(["audit", "verify"]))

        let rootKey = try RootKey.keyFile(at: ws + "/root.key")
        for thread in 0..<2 {
            let vault = try Vault.open(at: URL(fileURLWithPath: ws + "/vault"), rootKey: rootKey)
            let context = AccessContext(actor: "service-\(thread)", role: "service", purpose: "customer-support")
            let counter = Counter()
            loop("service-\(thread)") {
                let n = counter.next()
                let subject = "s\(thread)-\(n % 40)"
                let value = "Service \(thread) Write \(n)"
                do {
                    try vault.records.put(subject: subject, values: ["full_name": value, "country": "US"], context: context)
                    ledger.wrote(subject, value)
                    let shared = "Shared \(thread) \(n)"
                    let result = try vault.records.put(subject: "shared-1", values: ["full_name": shared], context: context)
                    if result.change != .unchanged { ledger.wroteShared(shared) }
                    let back = try vault.records.get(subject: subject, fields: ["full_name"], context: context)
                    if back["full_name"] != value { ledger.failed("\(subject) read back another value") }
                    ledger.read()
                    _ = try vault.records.find(field: "email", value: "c00003@crash.example", context: context)
                } catch {
                    ledger.failed("service-\(thread) on \(subject): \(error)")
                }
            }
        }
        #expect(group.wait(timeout: .now() + Self.seconds + 300) == .success, "workers did not stop")

        // Nothing failed, nothing was refused as busy or locked.
        #expect(ledger.serviceErrors.isEmpty, "\(ledger.serviceErrors.prefix(5))")
        for (command, result) in ledger.runs {
            #expect(result.status == 0, "\(command) exited \(result.status): \(result.stderr)")
            #expect(!result.stderr.contains("locked") && !result.stderr.contains("busy"), "\(command): \(result.stderr)")
        }
        let ran = Dictionary(grouping: ledger.runs, by: { $0.command.split(separator: " ").first.map(String.init) ?? "" }).mapValues(\.count)
        for name in ["import", "sweep", "backup", "audit"] { #expect(ran[name, default: 0] > 0, "no \(name) ran") }
        #expect(ledger.reads > 0 && ledger.sharedWrites > 0)

        // Every acknowledged write is there with its last value (checked through a fresh
        // vault handle, as another host would), and the shared subject holds one of them.
        let vault = try Vault.open(at: URL(fileURLWithPath: ws + "/vault"), rootKey: rootKey)
        let context = AccessContext(actor: "checker", role: "service", purpose: "customer-support")
        var lost: [String] = []
        for (subject, value) in ledger.acknowledged where try vault.records.get(subject: subject, fields: ["full_name"], context: context)["full_name"] != value {
            lost.append(subject)
        }
        #expect(lost.isEmpty, "lost updates: \(lost.sorted().prefix(5))")
        let shared = try vault.records.get(subject: "shared-1", fields: ["full_name"], context: context)["full_name"] ?? ""
        #expect(ledger.sharedValues.contains(shared), "shared-1 holds a value no put was acknowledged for")

        // Each new id exists once and was created once, though two importers raced for it.
        let (created, writes, subjects) = try CrashSuiteTests.withStore(ws + "/vault/vault.sqlite") { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_events WHERE action = 'record.import' AND reason = 'created'") ?? -1,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_events WHERE action = 'record.write' AND actor LIKE 'service-%'") ?? -1,
             try String.fetchAll(db, sql: "SELECT id FROM subjects WHERE id LIKE 'n%'"))
        }
        #expect(Set(subjects).count == subjects.count)
        let importedEveryRow = ledger.runs.contains { $0.command.hasPrefix("import") && $0.result.status == 0 }
        if importedEveryRow { #expect(subjects.count == 1500) }
        #expect(created == 1200 + subjects.count, "record.import 'created' events: \(created) for \(1200 + subjects.count) subjects")
        #expect(writes >= ledger.sharedWrites)
        // Every write of the subject both threads raced on has its event, no more, no less.
        let auditor = AccessContext(actor: "checker", role: "admin", purpose: "privacy-compliance")
        let sharedEvents = try vault.audit.events(matching: AuditQuery(subjectID: "shared-1", action: "record.write", limit: 1_000_000), context: auditor)
        #expect(sharedEvents.count == ledger.sharedWrites, "\(sharedEvents.count) events for \(ledger.sharedWrites) acknowledged writes")
        for id in ["n00000", "n00777", "n01499"] where subjects.contains(id) {
            #expect(try vault.records.find(field: "email", value: "\(id)@load.example", context: context) == [id])
        }

        let verified = try CrashSuiteTests.privacyctl(["audit", "verify", "--json"], in: ws)
        #expect(verified.status == 0 && (try? verified.json()["ok"] as? Bool) == true, "\(verified.stderr)")

        // The newest backup restores and verifies.
        let backups = try FileManager.default.contentsOfDirectory(atPath: ws + "/bk").filter { $0.hasSuffix(".pkb") }.sorted()
        let newest = try #require(backups.last, "no backup was made")
        let restored = try CrashSuiteTests.privacyctl(["backup", "restore", "bk/" + newest, "--out", "restored", "--json"], in: ws)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(((try? restored.json()["restore"] as? [String: Any]) ?? nil)?["audit_verified"] as? Bool == true)
        print("concurrency suite: \(Self.seconds) s: \(ran) commands, \(ledger.acknowledged.count) service subjects, \(ledger.sharedWrites) shared writes, \(ledger.reads) reads, \(backups.count) backups")
    }
}

/// A counter a looping worker owns.
final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.withLock { value += 1; return value } }
}
