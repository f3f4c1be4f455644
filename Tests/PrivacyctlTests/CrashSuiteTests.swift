import Foundation
import GRDB
import Testing

/// The crash suite (issue 9): a real `privacyctl` runs an operation and is killed with
/// SIGKILL at a seeded random moment; then the vault must open, its audit log verify, nothing
/// committed before the kill may be lost or rewritten, running the operation again must
/// finish the job, and the end state must equal that of an uninterrupted run of the same
/// operation on a copy of the same vault, down to the files left behind.
///
/// CI runs 5 kills per operation; `PRIVACYKIT_LONG_TESTS=1` runs 50, and
/// `PRIVACYKIT_CRASH_KILLS=N` / `PRIVACYKIT_CRASH_SEED=S` set the count and the seed, and
/// `PRIVACYKIT_CRASH_OPERATIONS=import,sweep` runs only those operations.
@Suite("crash suite: privacyctl killed with SIGKILL")
struct CrashSuiteTests {
    static let environment = ProcessInfo.processInfo.environment
    static let kills = Int(environment["PRIVACYKIT_CRASH_KILLS"] ?? "") ?? (environment["PRIVACYKIT_LONG_TESTS"] == "1" ? 50 : 5)
    static let seed = UInt64(environment["PRIVACYKIT_CRASH_SEED"] ?? "") ?? 20_261_202

    enum Fixture: Sendable { case empty, populated, backedUp }

    struct Operation: Sendable, CustomTestStringConvertible {
        let name: String
        let fixture: Fixture
        let arguments: [String]
        /// Where the operation's result lives (restore writes a new vault).
        var resultVault: String { name == "restore" ? "restored" : "vault" }
        var testDescription: String { name }
    }

    static let operations: [Operation] = [
        Operation(name: "import", fixture: .empty, arguments: ["import", "crm.csv", "--batch-size", "25"]),
        Operation(name: "sweep", fixture: .populated, arguments: ["sweep", "--now", "2026-06-01", "--batch-size", "8"]),
        Operation(name: "rotate-kek", fixture: .populated, arguments: ["keys", "rotate-kek"]),
        Operation(name: "rotate-index", fixture: .populated, arguments: ["keys", "rotate-index"]),
        Operation(name: "erase", fixture: .populated,
                  arguments: ["erase", "c00002", "--reason", "GDPR art. 17", "--request", "dsr-7", "--out", "receipt.json"]),
        Operation(name: "backup-create", fixture: .populated, arguments: ["backup", "create", "--out", "bk"]),
        Operation(name: "restore", fixture: .backedUp, arguments: ["backup", "restore", "@backup", "--out", "restored"]),
    ]

    @Test(arguments: operations)
    func killedAtRandomPointsThenRerunEndsLikeAnUninterruptedRun(_ operation: Operation) throws {
        if let only = Self.environment["PRIVACYKIT_CRASH_OPERATIONS"], !only.split(separator: ",").contains(Substring(operation.name)) { return }
        let scratch = try Scratch()
        let template = scratch.file("template")
        try Self.makeTemplate(template, fixture: operation.fixture)
        let templateEvents = try Self.events(template + "/vault/vault.sqlite")

        // The reference: one uninterrupted run on a copy.
        let reference = scratch.file("reference")
        try Self.copy(template, to: reference)
        let started = Date()
        let straight = try Self.run(operation, in: reference)
        let duration = Date().timeIntervalSince(started)
        #expect(straight.status == 0, "\(operation.name): \(straight.stderr)")
        let expected = try Self.state(of: operation, in: reference)
        let expectedShape = try Self.shape(reference)

        var rng = SplitMix64(seed: Self.seed ^ Self.fnv(operation.name))
        var landed = 0
        for kill in 0..<Self.kills {
            let workspace = scratch.file("kill-\(kill)")
            try Self.copy(template, to: workspace)
            defer { try? FileManager.default.removeItem(atPath: workspace) }
            let delay = Double(rng.next() % 1_000_000) / 1_000_000 * duration
            let wasRunning = try Self.runAndKill(operation, in: workspace, after: delay)
            if wasRunning { landed += 1 }
            let at = "\(operation.name), kill \(kill) at \(String(format: "%.3f", delay)) s"

            // The store opens and its log verifies, with what the killed run committed.
            let verified = try Self.privacyctl(["audit", "verify", "--json"], in: workspace)
            #expect(verified.status == 0 && (try? verified.json()["ok"] as? Bool) == true, "\(at): audit verify: \(verified.stderr)")
            let committedEvents = try Self.events(workspace + "/vault/vault.sqlite")
            let committedSubjects = try Self.subjectsAndTombstones(workspace + "/" + operation.resultVault + "/vault.sqlite")
            #expect(committedEvents.starts(with: templateEvents), "\(at): events from before the run were lost or changed")

            // Running it again finishes the job (a restore that had already renamed its
            // result into place refuses to overwrite it, 72, and its result is checked below).
            let rerun = try Self.run(operation, in: workspace)
            #expect(rerun.status == 0 || (operation.name == "restore" && rerun.status == 72), "\(at): rerun exited \(rerun.status): \(rerun.stderr)")

            let finalEvents = try Self.events(workspace + "/vault/vault.sqlite")
            #expect(finalEvents.starts(with: committedEvents), "\(at): events committed before the kill were lost or rewritten")
            let finalSubjects = try Self.subjectsAndTombstones(workspace + "/" + operation.resultVault + "/vault.sqlite")
            #expect(committedSubjects.isSubset(of: finalSubjects), "\(at): committed subjects were lost")
            let state = try Self.state(of: operation, in: workspace)
            // Compared as Bools first: a failure prints the difference, not both states.
            let sameState = state == expected
            #expect(sameState, "\(at): end state differs: \(Self.difference(state, expected))")
            let shape = try Self.shape(workspace)
            let sameShape = shape == expectedShape
            #expect(sameShape, "\(at): files differ: extra \(shape.subtracting(expectedShape).sorted()), missing \(expectedShape.subtracting(shape).sorted())")
        }
        print("crash suite: \(operation.name): \(Self.kills) kills (\(landed) while running, seed \(Self.seed)), uninterrupted run \(String(format: "%.2f", duration)) s")
    }
}

// MARK: - The harness

extension CrashSuiteTests {
    /// A workspace: `vault/`, `root.key`, `crm.csv`, `bk/`; privacyctl runs inside it with
    /// relative paths, so copies of it are interchangeable.
    static func makeTemplate(_ path: String, fixture: Fixture) throws {
        try FileManager.default.createDirectory(atPath: path + "/bk", withIntermediateDirectories: true)
        #expect(try privacyctl(["keys", "generate-key-file", "root.key"], in: path, vault: false).status == 0)
        let made = try privacyctl(["init", "--vault", "vault", "--key-file", "root.key"], in: path, vault: false)
        #expect(made.status == 0, "\(made.stderr)")
        var csv = "id,full_name,email,phone,country,segment,last_interaction,closed_at\n"
        for i in 0..<1200 {
            let id = String(format: "c%05d", i)
            let tail = ["lead,2020-01-01,", "customer,2025-01-01,2022-01-01", "closed,2016-01-01,2015-01-01", "lead,2026-05-01,"][i % 4]
            csv += "\(id),Name \(i),\(id)@crash.example,+1 415 555 \(String(format: "%04d", i)),US,\(tail)\n"
        }
        try Data(csv.utf8).write(to: URL(fileURLWithPath: path + "/crm.csv"))
        guard fixture != .empty else { return }
        let imported = try privacyctl(["import", "crm.csv"], in: path)
        #expect(imported.status == 0, "\(imported.stderr)")
        if fixture == .backedUp {
            let backup = try privacyctl(["backup", "create", "--out", "bk"], in: path)
            #expect(backup.status == 0, "\(backup.stderr)")
        }
    }

    static let baseEnvironment = ["PRIVACYKIT_KEY_FILE": "root.key", "PRIVACYKIT_ACTOR": "crash-suite"]

    static func privacyctl(_ arguments: [String], in workspace: String, vault: Bool = true) throws -> CLI.Result {
        try CLI.run(arguments, environment: vault ? baseEnvironment.merging(["PRIVACYKIT_VAULT": "vault"]) { $1 } : [:], in: workspace)
    }

    static func arguments(_ operation: Operation, in workspace: String) throws -> [String] {
        try operation.arguments.map { argument in
            guard argument == "@backup" else { return argument }
            let files = try FileManager.default.contentsOfDirectory(atPath: workspace + "/bk").filter { $0.hasSuffix(".pkb") }.sorted()
            return "bk/" + (try #require(files.first, "no backup in the template"))
        }
    }

    static func run(_ operation: Operation, in workspace: String) throws -> CLI.Result {
        try privacyctl(arguments(operation, in: workspace), in: workspace)
    }

    /// Starts the operation, kills it with SIGKILL after `delay` seconds; says whether it was
    /// still running then.
    static func runAndKill(_ operation: Operation, in workspace: String, after delay: TimeInterval) throws -> Bool {
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = try arguments(operation, in: workspace)
        process.environment = baseEnvironment.merging(["PRIVACYKIT_VAULT": "vault", "PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]) { $1 }
        process.currentDirectoryURL = URL(fileURLWithPath: workspace)
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        Thread.sleep(forTimeInterval: delay)
        let running = process.isRunning
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        return running && process.terminationReason == .uncaughtSignal
    }

    static func copy(_ source: String, to destination: String) throws {
        let cp = Process()
        cp.executableURL = URL(fileURLWithPath: "/bin/cp")
        cp.arguments = ["-a", source, destination]
        try cp.run()
        cp.waitUntilExit()
        #expect(cp.terminationStatus == 0)
    }

    /// The audit log as (seq, hash) pairs: a committed event lost or rewritten changes it.
    static func events(_ store: String) throws -> [String] {
        try withStore(store) { db in
            try Row.fetchAll(db, sql: "SELECT seq, hex(hash) FROM audit_events ORDER BY seq").map { "\($0[0] as Int64) \($0[1] as String)" }
        }
    }

    static func subjectsAndTombstones(_ store: String) throws -> Set<String> {
        guard FileManager.default.fileExists(atPath: store) else { return [] }
        return try withStore(store) { db in
            Set(try String.fetchAll(db, sql: "SELECT id FROM subjects UNION ALL SELECT subject_id FROM tombstones"))
        }
    }

    static func withStore<T>(_ path: String, _ body: (Database) throws -> T) throws -> T {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read(body)
    }

    /// What the operation leaves, comparable between two copies of one template: no times,
    /// no random ids, no ciphertexts; key versions as "current or not", since a rerun may
    /// add a new version where the uninterrupted run added one.
    static func state(of operation: Operation, in workspace: String) throws -> [String] {
        let vault = operation.resultVault
        var lines = try withStore(workspace + "/" + vault + "/vault.sqlite") { db in
            var lines: [String] = []
            lines += try Row.fetchAll(db, sql: """
                SELECT id, kek_version = (SELECT max(kek_version) FROM subjects), plain, invalid FROM subjects ORDER BY id
                """).map { "subject \($0[0] as String) current-kek=\($0[1] as Bool) \($0[2] as String) \($0[3] as String)" }
            lines += try Row.fetchAll(db, sql: """
                SELECT field, version = (SELECT max(version) FROM blind_index), count(*) FROM blind_index GROUP BY 1, 2 ORDER BY 1, 2
                """).map { "blind-index \($0[0] as String) current=\($0[1] as Bool) \($0[2] as Int)" }
            lines += try Row.fetchAll(db, sql: "SELECT subject_id, reason, request_id, rule FROM tombstones ORDER BY 1")
                .map { "tombstone \($0[0] as String) \($0[1] as String) \($0[2] as String? ?? "-") \($0[3] as String? ?? "-")" }
            lines += try Row.fetchAll(db, sql: "SELECT rule, category, plain FROM anonymized_records ORDER BY 1, 2, 3")
                .map { "anonymized \($0[0] as String) \($0[1] as String) \($0[2] as String)" }
            lines += try Row.fetchAll(db, sql: "SELECT purpose, subject_id, kind FROM consent_state ORDER BY 1, 2")
                .map { "consent \($0[0] as String) \($0[1] as String) \($0[2] as String)" }
            // Per-subject events, each exactly as often as in one run: an action done twice
            // shows here. Run-level events (subject NULL) may repeat: a rerun is a new run;
            // so may an erasure asked again, which is answered with the first receipt and
            // audited as such ("already erased"), not done again.
            lines += try Row.fetchAll(db, sql: """
                SELECT action, subject, outcome, count(*) FROM audit_events
                WHERE subject IS NOT NULL AND coalesce(reason, '') NOT LIKE 'already erased%'
                GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
                """).map { "event \($0[0] as String) \($0[1] as String) \($0[2] as String) x\($0[3] as Int)" }
            return lines
        }
        let environment = baseEnvironment.merging(["PRIVACYKIT_VAULT": vault]) { $1 }
        func cli(_ arguments: [String]) throws -> [String: Any] {
            let result = try CLI.run(arguments + ["--json"], environment: environment, in: workspace)
            #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
            return (try? result.json()) ?? [:]
        }
        let verify = try cli(["audit", "verify"])
        lines.append("audit-verify ok=\(verify["ok"] as? Bool ?? false) unsigned_tail=\(verify["unsigned_tail"] as? Int ?? -1)")
        let keys = try cli(["keys", "status"])["keys"] as? [[String: Any]] ?? []
        lines += Dictionary(grouping: keys, by: { $0["role"] as? String ?? "?" }).map { "keys \($0.key) x\($0.value.count)" }.sorted()
        // The keys work: sample subjects decrypt, and are found through their blind index.
        for id in ["c00001", "c00600", "c01199"] {
            let fields = try CLI.run(["records", "get", "--subject", id, "--json"], environment: environment, in: workspace)
            let values = (try? fields.json()["fields"] as? [String: String]) ?? nil
            lines.append("get \(id) \(fields.status) \(values.map { $0.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } } ?? [])")
            if let email = values?["email"] {
                let found = try cli(["records", "find", "--field", "email", "--value", email])["matches"] as? [String]
                lines.append("find \(id) \(found ?? [])")
            }
        }
        switch operation.name {
        case "erase":
            let receipt = try CLI.run(["erase", "verify-receipt", "receipt.json", "--subject", "c00002", "--json"], environment: environment, in: workspace)
            lines.append("receipt status=\(receipt.status) valid=\(((try? receipt.json()["valid"] as? Bool) ?? nil) == true)")
        case "backup-create":
            // Every complete backup verifies (a kill after the rename makes the rerun a
            // second backup, so their number is not compared; leftover files are).
            let files = try FileManager.default.contentsOfDirectory(atPath: workspace + "/bk").filter { $0.hasSuffix(".pkb") }
            lines.append("backups present=\(!files.isEmpty)")
            for file in files {
                let verified = try CLI.run(["backup", "verify", "bk/" + file, "--json"], environment: environment, in: workspace)
                lines.append("backup verifies=\(verified.status == 0)")
            }
            lines = Array(Set(lines)).sorted()
        default:
            break
        }
        return lines
    }

    /// Every file and directory left in the workspace, with random ids and times blanked;
    /// SQLite's -wal/-shm are left out (whether they exist depends on who closed last).
    static func shape(_ workspace: String) throws -> Set<String> {
        let paths = try FileManager.default.subpathsOfDirectory(atPath: workspace)
        var shape = Set<String>()
        for path in paths where !path.hasSuffix("-wal") && !path.hasSuffix("-shm") {
            var normalized = path
            for pattern in ["bk-[0-9a-f]+", "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{6}Z", "[0-9]{8}T[0-9]{6}Z-[0-9a-f]+", "restoring-[0-9a-f]+"] {
                normalized = normalized.replacingOccurrences(of: pattern, with: "*", options: .regularExpression)
            }
            shape.insert(normalized)
        }
        return shape
    }

    static func difference(_ a: [String], _ b: [String]) -> String {
        let extra = Set(a).subtracting(b).sorted().prefix(5)
        let missing = Set(b).subtracting(a).sorted().prefix(5)
        return "extra \(Array(extra)), missing \(Array(missing))"
    }

    static func fnv(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}

/// A small seeded generator (SplitMix64), so a failing kill point can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
