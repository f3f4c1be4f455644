import Foundation
import GRDB
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Bad input across the CLI (issue 9, part 5): for every command, broken inputs give the
/// documented exit code, a message on standard error that names what is at fault, no
/// crash, and leave the vault as it was.
@Suite("bad input")
struct BadInputTests {
    typealias Exit = PrivacyctlTests.Exit

    // MARK: The vault every case starts from

    /// Made once: a vault with records, consent, a request, a breach, a hold, a backup and
    /// a receipt, plus the broken inputs. Each case works on its own copy of the vault
    /// (`$S`); the large inputs stay here (`$T`) and are only read.
    final class Template: Sendable {
        let dir: String
        let backupID: String
        let requestID: String
        let breachID: String
        let holdID: String

        init() throws {
            let dir = BadInputTests.templateDirectory
            self.dir = dir
            // A static is never deinitialized: remove its 60 MB of inputs when the test
            // process exits.
            atexit { try? FileManager.default.removeItem(atPath: BadInputTests.templateDirectory) }
            let fm = FileManager.default
            try fm.createDirectory(atPath: dir + "/case/tmp", withIntermediateDirectories: true)
            try fm.createDirectory(atPath: dir + "/adir", withIntermediateDirectories: true)
            func write(_ name: String, _ text: String, mode: Int = 0o644) throws {
                try Data(text.utf8).write(to: URL(fileURLWithPath: dir + "/" + name))
                try fm.setAttributes([.posixPermissions: mode], ofItemAtPath: dir + "/" + name)
            }
            try write("afile", "not a vault, not a key\n")
            try write("empty", "", mode: 0o600)
            try write("case/empty.key", "", mode: 0o600)
            try write("small.csv", "id,full_name,email,country\nS1,Ann Lee,s1@example.org,GB\nS2,Bo Chen,s2@example.org,US\nS3,Cy Dee,s3@example.org,DE\n")
            try write("summary.txt", "laptop lost\n")
            try write("values.txt", "email=v@example.org\n")
            // Twenty megabytes in one field, and in the header: past the reader's 1 MiB
            // record limit, and past any small-file limit.
            let big = String(repeating: "a", count: 20 << 20)
            try write("huge-field.csv", "id,full_name,email\nH1,Huge," + big + "@example.org\nH2,Fine,h2@example.org\n")
            try write("huge-header.csv", "id," + big + "\nH3,x\n")
            try write("huge.txt", big, mode: 0o600)
            try Data([0xFF, 0xFE, 0x2C, 0x00, 0x0A]).write(to: URL(fileURLWithPath: dir + "/binary.csv"))

            let s = dir + "/case"
            let env = ["PRIVACYKIT_VAULT": s + "/vault", "PRIVACYKIT_KEY_FILE": s + "/root.key", "PRIVACYKIT_ACTOR": "bad-input"]
            func run(_ arguments: [String]) throws -> CLI.Result {
                let r = try CLI.run(arguments, environment: env)
                guard r.status == 0 else { throw SetupError(step: arguments.prefix(2).joined(separator: " "), stderr: r.stderr) }
                return r
            }
            _ = try run(["keys", "generate-key-file", s + "/root.key"])
            _ = try run(["keys", "generate-key-file", s + "/wrong.key"])
            _ = try run(["keys", "generate-key-file", s + "/new.key"])
            _ = try run(["init", "--vault", s + "/vault", "--key-file", s + "/root.key"])
            _ = try run(["import", dir + "/small.csv"])
            _ = try run(["consent", "grant", "--subject", "S1", "--purpose", "marketing-email", "--channel", "app"])
            _ = try run(["erase", "S3", "--reason", "request", "--out", s + "/receipt.json"])
            func id(_ arguments: [String], _ key: String) throws -> String {
                let json = try run(arguments + ["--json"]).json()
                guard let id = (json[key] as? [String: Any])?["id"] as? String else { throw SetupError(step: arguments.prefix(2).joined(separator: " "), stderr: "no \(key).id") }
                return id
            }
            requestID = try id(["requests", "open", "--type", "access", "--subject", "S1", "--regime", "gdpr"], "request")
            breachID = try id(["breach", "open", "--detected-at", "now", "--summary-file", dir + "/summary.txt"], "breach")
            holdID = try id(["holds", "place", "--subject", "S2", "--reason", "claim"], "hold")
            backupID = try id(["backup", "create"], "backup")
            _ = try run(["export", "keypair", "--out", s + "/requester"])
            _ = try run(["export", "S1", "--out", s + "/sealed", "--seal-to", s + "/requester.pub"])
            try Data(try run(["consent", "receipt", "--subject", "S1"]).stdout.utf8).write(to: URL(fileURLWithPath: s + "/consent-receipt.json"))
            _ = try run(["audit", "checkpoint", "--out", s + "/witness.jsonl"])
        }

    }

    static let templateDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("privacyctl-badinput-\(UUID().uuidString)").path

    struct SetupError: Error, CustomStringConvertible {
        let step: String
        let stderr: String
        var description: String { "template setup failed at \(step): \(stderr)" }
    }

    /// Built on first use by whichever case runs first; a failure fails every case with it.
    static let template = Result { try Template() }

    /// A private copy of the template's vault and key files for one case.
    final class Case {
        let t: Template
        let s: String
        let env: [String: String]

        init() throws {
            t = try BadInputTests.template.get()
            s = FileManager.default.temporaryDirectory.appendingPathComponent("privacyctl-badinput-case-\(UUID().uuidString)").path
            let copy = Process()
            copy.executableURL = URL(fileURLWithPath: "/bin/cp")
            copy.arguments = ["-a", t.dir + "/case", s]
            try copy.run()
            copy.waitUntilExit()
            guard copy.terminationStatus == 0 else { throw SetupError(step: "cp", stderr: "") }
            env = ["PRIVACYKIT_VAULT": s + "/vault", "PRIVACYKIT_KEY_FILE": s + "/root.key", "PRIVACYKIT_ACTOR": "bad-input",
                   "TMPDIR": s + "/tmp", "SQLITE_TMPDIR": s + "/tmp"]
        }

        /// `$S` is this case's directory, `$T` the template's; `$BACKUP` and the other
        /// ids are the template vault's.
        func expand(_ text: String) -> String {
            text.replacingOccurrences(of: "$S", with: s).replacingOccurrences(of: "$T", with: t.dir)
                .replacingOccurrences(of: "$BACKUP", with: t.backupID).replacingOccurrences(of: "$REQUEST", with: t.requestID)
                .replacingOccurrences(of: "$BREACH", with: t.breachID).replacingOccurrences(of: "$HOLD", with: t.holdID)
                .replacingOccurrences(of: "$CLIENT", with: "svc1")
        }

        func run(_ arguments: [String], environment: [String: String] = [:]) throws -> CLI.Result {
            try CLI.run(arguments.map(expand), environment: env.merging(environment.mapValues(expand)) { $1 })
        }

        /// `run` through a wrapper (`setpriv …`), which then runs privacyctl.
        func runAs(_ prefix: [String], _ arguments: [String]) throws -> CLI.Result {
            guard !prefix.isEmpty else { return try run(arguments) }
            return try CLI.run(arguments.map(expand), environment: env, wrapper: prefix)
        }

        /// Every file under the case directory: its path, mode and bytes; the store as its
        /// rows. (Opening the store rewrites its header's change counter, and its WAL and
        /// shared-memory files come and go; neither is a change of what it holds.)
        func snapshot() throws -> [String: Data] {
            var result: [String: Data] = [:]
            let fm = FileManager.default
            for path in try fm.subpathsOfDirectory(atPath: s) {
                let full = s + "/" + path
                if path.hasSuffix("vault.sqlite-wal") || path.hasSuffix("vault.sqlite-shm") { continue }
                if path.hasSuffix("vault.sqlite") {
                    result[path] = try Self.rows(ofStore: full)
                    continue
                }
                let mode = (try fm.attributesOfItem(atPath: full)[.posixPermissions] as? Int) ?? -1
                var isDirectory: ObjCBool = false
                _ = fm.fileExists(atPath: full, isDirectory: &isDirectory)
                result[path] = Data("\(mode)".utf8) + (isDirectory.boolValue ? Data() : (fm.contents(atPath: full) ?? Data()))
            }
            return result
        }

        /// Every row of every table, sorted, as one blob (compared, never printed).
        static func rows(ofStore path: String) throws -> Data {
            let queue = try DatabaseQueue(path: path)
            defer { try? queue.close() }
            return try queue.read { db in
                var out = Data()
                for table in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") {
                    out += Data("table \(table)\n".utf8)
                    let rows = try GRDB.Row.fetchAll(db, sql: "SELECT * FROM \"\(table)\"").map { row in
                        row.databaseValues.map { "\($0.storage)" }.joined(separator: "|")
                    }
                    out += Data(rows.sorted().joined(separator: "\n").utf8)
                }
                return out
            }
        }

        deinit { try? FileManager.default.removeItem(atPath: s) }
    }

    // MARK: The table

    /// How a command finds its vault: it opens it with the root secret, reads it without
    /// one, or works without any vault.
    enum Access: Sendable { case secret, vaultOnly, none }

    /// Every leaf command of `privacyctl --help`, with arguments that would otherwise work.
    static let commands: [(Access, [String])] = [
        (.none, ["init", "--vault", "$S/new-vault", "--key-file", "$S/root.key"]),
        (.secret, ["keys", "status"]),
        (.secret, ["keys", "rotate-root", "--new-key-file", "$S/new.key"]),
        (.secret, ["keys", "rotate-kek"]),
        (.secret, ["keys", "rotate-index"]),
        (.none, ["keys", "generate-key-file", "$S/another.key"]),
        (.secret, ["import", "$T/small.csv"]),
        (.secret, ["records", "put", "--subject", "S9", "--set", "email=s9@example.org"]),
        (.secret, ["records", "get", "--subject", "S1"]),
        (.secret, ["records", "find", "--field", "email", "--value", "s1@example.org"]),
        (.secret, ["records", "list"]),
        (.secret, ["records", "delete", "--subject", "S1", "--field", "email"]),
        (.secret, ["quality", "report"]),
        (.secret, ["quality", "duplicates"]),
        (.secret, ["consent", "grant", "--subject", "S2", "--purpose", "marketing-email", "--channel", "app"]),
        (.secret, ["consent", "withdraw", "--subject", "S1", "--purpose", "marketing-email"]),
        (.secret, ["consent", "object", "--subject", "S1", "--gpc"]),
        (.secret, ["consent", "status", "--subject", "S1"]),
        (.secret, ["status", "--max-sweep-age", "P100Y", "--max-backup-age", "P100Y", "--max-verified-backup-age", "P100Y"]),
        (.secret, ["consent", "history", "--subject", "S1"]),
        (.secret, ["consent", "audience", "--purpose", "marketing-email"]),
        (.secret, ["consent", "counts"]),
        (.secret, ["consent", "receipt", "--subject", "S1"]),
        (.vaultOnly, ["consent", "verify-receipt", "$S/consent-receipt.json"]),
        (.vaultOnly, ["erase", "verify-receipt", "$S/receipt.json"]),
        (.vaultOnly, ["audit", "verify"]),
        (.secret, ["upgrade", "--dry-run"]),
        (.secret, ["audit", "checkpoint"]),
        (.vaultOnly, ["audit", "public-key"]),
        (.secret, ["audit", "query"]),
        (.secret, ["audit", "export"]),
        (.vaultOnly, ["access", "check", "--role", "support-agent", "--action", "read", "--field", "email", "--purpose", "customer-support"]),
        (.vaultOnly, ["policy", "validate"]),
        (.none, ["policy", "default", "access.yaml"]),
        (.secret, ["holds", "place", "--subject", "S1", "--reason", "claim"]),
        (.secret, ["holds", "release", "$HOLD", "--reason", "settled"]),
        (.secret, ["holds", "list"]),
        (.secret, ["erase", "S1", "--reason", "request"]),
        (.secret, ["erase", "list"]),
        (.secret, ["restrict", "S1", "--reason", "contested"]),
        (.secret, ["restrict", "lift", "S1", "--reason", "settled"]),
        (.secret, ["restrict", "list"]),
        (.secret, ["sweep", "--dry-run"]),
        (.secret, ["retention", "report"]),
        (.secret, ["requests", "open", "--type", "erasure", "--subject", "S1", "--regime", "gdpr"]),
        (.secret, ["requests", "list"]),
        (.secret, ["requests", "show", "$REQUEST"]),
        (.secret, ["requests", "verify-identity", "$REQUEST", "--requested-at", "now", "--verified-at", "now", "--method", "account-login", "--degree", "reasonable"]),
        (.secret, ["requests", "extend", "$REQUEST", "--reason", "complex"]),
        (.secret, ["requests", "close", "$REQUEST", "--outcome", "completed"]),
        (.secret, ["export", "S1", "--out", "$S/pkg"]),
        (.none, ["export", "open", "$S/sealed", "--secret-key", "$S/requester.key", "--out", "$S/opened"]),
        (.none, ["export", "keypair", "--out", "$S/kp"]),
        (.secret, ["breach", "open", "--detected-at", "now", "--summary-file", "$T/summary.txt"]),
        (.secret, ["breach", "list"]),
        (.secret, ["clients", "add", "$CLIENT", "--role", "service", "--purpose", "order-fulfilment"]),
        (.secret, ["clients", "list"]),
        (.secret, ["clients", "rotate", "$CLIENT"]),
        (.secret, ["clients", "revoke", "$CLIENT"]),
        (.secret, ["breach", "show", "$BREACH"]),
        (.secret, ["breach", "close", "$BREACH", "--reason", "contained"]),
        (.secret, ["breach", "affected", "--since", "2026-01-01", "--until", "2030-01-01"]),
        (.secret, ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m",
                   "--persons", "csv", "--out", "$S/notices"]),
        (.secret, ["backup", "create"]),
        (.vaultOnly, ["backup", "list"]),
        (.secret, ["backup", "verify", "$BACKUP"]),
        (.secret, ["backup", "restore", "$BACKUP", "--out", "$S/restored"]),
        (.secret, ["backup", "prune", "--keep-days", "30"]),
        (.secret, ["backup", "export-ledger", "$S/ledger.json"]),
        (.secret, ["backup", "recovery-keypair", "--out", "$S/recovery"]),
        (.secret, ["report", "--out", "$S/report.html"]),
        (.secret, ["ropa", "--format", "csv", "--out", "$S/ropa.csv"]),
    ]

    /// One broken invocation and what it must give.
    struct Row: Sendable, CustomTestStringConvertible {
        let arguments: [String]
        var environment: [String: String] = [:]
        let exit: Int32
        /// Each must appear in standard error (expanded): the option, file or value at fault.
        let names: [String]
        /// What may change: nothing, or only the store (a refusal or failed unlock is audited
        /// by design), checked with `audit verify` afterwards.
        var storeMayChange = false

        var testDescription: String {
            let env = environment.keys.sorted().map { "\($0)=\(environment[$0]!)" }.joined(separator: " ")
            return "\(env.isEmpty ? "" : env + " ")privacyctl \(arguments.joined(separator: " ")) → \(exit)"
        }
    }

    /// The generic cases, for every command they apply to.
    static let genericRows: [Row] = commands.flatMap { access, arguments -> [Row] in
        var rows = [Row(arguments: arguments + ["--frobnicate"], exit: Exit.usage, names: ["--frobnicate"])]
        if access != .none {
            rows.append(Row(arguments: arguments, environment: ["PRIVACYKIT_VAULT": "$S/missing"], exit: Exit.notFound, names: ["$S/missing"]))
            rows.append(Row(arguments: arguments, environment: ["PRIVACYKIT_VAULT": "$T/afile"], exit: Exit.notFound, names: ["$T/afile"]))
        }
        if access == .secret {
            rows.append(Row(arguments: arguments, environment: ["PRIVACYKIT_KEY_FILE": "$S/wrong.key"], exit: Exit.wrongKey,
                            names: ["does not open the keyring"], storeMayChange: true))
        }
        // Every command reads its key file through the same code: a sample of commands
        // keeps the suite fast.
        let sample = ["keys status", "import $T/small.csv", "records put", "consent grant", "export S1", "backup create", "sweep --dry-run", "breach open"]
        if access == .secret, sample.contains(arguments.prefix(2).joined(separator: " ")) {
            rows.append(Row(arguments: arguments, environment: ["PRIVACYKIT_KEY_FILE": "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir"]))
            rows.append(Row(arguments: arguments, environment: ["PRIVACYKIT_KEY_FILE": "$S/empty.key"], exit: Exit.invalidInput, names: ["$S/empty.key"]))
        }
        return rows
    }

    /// Broken dates, files and values, command by command.
    static let specificRows: [Row] = [
        // Dates that are not dates, or not days of the calendar.
        Row(arguments: ["sweep", "--now", "2026-13-45"], exit: Exit.invalidInput, names: ["--now", "2026-13-45"]),
        Row(arguments: ["sweep", "--now", "2026-02-30"], exit: Exit.invalidInput, names: ["--now", "2026-02-30"]),
        Row(arguments: ["sweep", "--dry-run", "--now", "2026-04-31T10:00:00Z"], exit: Exit.invalidInput, names: ["--now"]),
        Row(arguments: ["retention", "report", "--now", "2026-02-29"], exit: Exit.invalidInput, names: ["--now", "2026-02-29"]),
        Row(arguments: ["consent", "status", "--subject", "S1", "--at", "2026-04-31T10:00:00Z"], exit: Exit.invalidInput, names: ["--at"]),
        Row(arguments: ["consent", "grant", "--subject", "S2", "--purpose", "marketing-email", "--channel", "app", "--expires", "2027-02-30T00:00:00Z"],
            exit: Exit.invalidInput, names: ["--expires"]),
        Row(arguments: ["audit", "query", "--since", "yesterday"], exit: Exit.invalidInput, names: ["--since", "yesterday"]),
        Row(arguments: ["audit", "query", "--until", "2026-02-30"], exit: Exit.invalidInput, names: ["--until", "2026-02-30"]),
        Row(arguments: ["breach", "affected", "--since", "yesterday", "--until", "2030-01-01"], exit: Exit.invalidInput, names: ["--since", "yesterday"]),
        Row(arguments: ["clients", "add", "svc2", "--role", "service", "--purpose", "order-fulfilment", "--expires", "soon"], exit: Exit.invalidInput, names: ["--expires", "soon"]),
        Row(arguments: ["clients", "add", "svc2", "--role", "nobody", "--purpose", "order-fulfilment"], exit: Exit.invalidInput, names: ["nobody"]),
        Row(arguments: ["clients", "add", "svc2", "--role", "service", "--purpose", "marketing-email"], exit: Exit.invalidInput, names: ["marketing-email"]),
        Row(arguments: ["clients", "rotate", "no-such-client"], exit: Exit.notFound, names: ["no-such-client"]),
        Row(arguments: ["breach", "open", "--detected-at", "2026-02-29", "--summary-file", "$T/summary.txt"], exit: Exit.invalidInput, names: ["--detected-at"]),
        Row(arguments: ["breach", "close", "$BREACH", "--reason", "r", "--notified-authority-at", "2026-00-10"], exit: Exit.invalidInput, names: ["--notified-authority-at"]),
        Row(arguments: ["requests", "open", "--type", "access", "--subject", "S1", "--regime", "gdpr", "--received", "2026-02-30"],
            exit: Exit.invalidInput, names: ["--received", "2026-02-30"]),
        Row(arguments: ["requests", "list", "--now", "2026-13-45"], exit: Exit.invalidInput, names: ["--now"]),
        Row(arguments: ["requests", "verify-identity", "$REQUEST", "--requested-at", "now", "--verified-at", "2026-11-31", "--method", "in-person", "--degree", "high"], exit: Exit.invalidInput, names: ["--verified-at"]),
        Row(arguments: ["requests", "close", "$REQUEST", "--outcome", "completed", "--at", "T10:00"], exit: Exit.invalidInput, names: ["--at"]),
        Row(arguments: ["holds", "place", "--subject", "S1", "--reason", "r", "--until", "tomorrow"], exit: Exit.invalidInput, names: ["--until", "tomorrow"]),
        Row(arguments: ["report", "--out", "$S/report.html", "--now", "2026-02-30"], exit: Exit.invalidInput, names: ["--now", "2026-02-30"]),
        Row(arguments: ["status", "--max-sweep-age", "a-day"], exit: Exit.invalidInput, names: ["--max-sweep-age", "a-day", "ISO 8601"]),
        Row(arguments: ["status", "--now", "2026-02-30"], exit: Exit.invalidInput, names: ["--now", "2026-02-30"]),
        Row(arguments: ["status", "--witness", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir", "directory"]),
        Row(arguments: ["status", "--witness", "$S/no-such-witness.jsonl"], exit: Exit.notFound, names: ["$S/no-such-witness.jsonl"]),
        Row(arguments: ["report", "--out", "$S/report.html", "--days", "5000"], exit: Exit.invalidInput, names: ["--days", "5000"]),
        Row(arguments: ["report", "--out", "$T/adir"], exit: Exit.invalidInput, names: ["--out", "$T/adir", "directory"]),
        Row(arguments: ["report", "--out", "$S/no-such-dir/r.html"], exit: Exit.notFound, names: ["--out", "$S/no-such-dir"]),
        Row(arguments: ["ropa", "--format", "xlsx"], exit: Exit.usage, names: ["--format", "xlsx"]),
        Row(arguments: ["ropa", "--out", "$T/adir"], exit: Exit.invalidInput, names: ["--out", "$T/adir", "directory"]),
        Row(arguments: ["ropa", "--out", "$S/no-such-dir/r.html"], exit: Exit.notFound, names: ["--out", "$S/no-such-dir"]),
        Row(arguments: ["ropa", "--now", "2026-02-30"], exit: Exit.invalidInput, names: ["--now", "2026-02-30"]),

        // CSV imports: empty, a directory, missing, a 20 MB header, not UTF-8.
        Row(arguments: ["import", "$T/empty"], exit: Exit.invalidInput, names: ["$T/empty", "empty"]),
        Row(arguments: ["import", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir", "directory"]),
        Row(arguments: ["import", "$S/missing.csv"], exit: Exit.notFound, names: ["$S/missing.csv"]),
        Row(arguments: ["import", "$T/huge-header.csv"], exit: Exit.invalidInput, names: ["$T/huge-header.csv", "header", "too long"]),
        Row(arguments: ["import", "$T/binary.csv"], exit: Exit.invalidInput, names: ["$T/binary.csv", "UTF-8"]),
        Row(arguments: ["import", "$T/small.csv", "--batch-size", "0"], exit: Exit.usage, names: ["--batch-size"]),
        Row(arguments: ["import", "$T/small.csv", "--map", "nothing"], exit: Exit.usage, names: ["--map"]),

        // Small input files: a directory, empty, missing, 20 MB.
        Row(arguments: ["records", "put", "--subject", "S9", "--values-file", "$T/adir"], exit: Exit.invalidInput, names: ["--values-file", "$T/adir", "directory"]),
        Row(arguments: ["records", "put", "--subject", "S9", "--values-file", "$T/empty"], exit: Exit.invalidInput, names: ["--values-file", "$T/empty"]),
        Row(arguments: ["records", "put", "--subject", "S9", "--values-file", "$S/missing"], exit: Exit.notFound, names: ["--values-file", "$S/missing"]),
        Row(arguments: ["records", "put", "--subject", "S9", "--values-file", "$T/huge.txt"], exit: Exit.invalidInput, names: ["--values-file", "$T/huge.txt", "1 MiB"]),
        Row(arguments: ["records", "find", "--field", "email", "--value-file", "$T/adir"], exit: Exit.invalidInput, names: ["--value-file", "$T/adir", "directory"]),
        Row(arguments: ["records", "find", "--field", "email", "--value-file", "$T/empty"], exit: Exit.invalidInput, names: ["--value-file", "$T/empty"]),
        Row(arguments: ["records", "find", "--field", "email", "--value-file", "$S/missing"], exit: Exit.notFound, names: ["--value-file", "$S/missing"]),
        Row(arguments: ["records", "find", "--field", "email", "--value-file", "$T/huge.txt"], exit: Exit.invalidInput, names: ["--value-file", "$T/huge.txt", "1 MiB"]),
        Row(arguments: ["records", "put", "--subject", "S9", "--set", "email"], exit: Exit.usage, names: ["--set"]),
        Row(arguments: ["records", "put", "--subject", "S9", "--set", "nosuchfield=x"], exit: Exit.invalidInput, names: ["nosuchfield"]),
        Row(arguments: ["records", "get", "--subject", "nobody-here"], exit: Exit.notFound, names: ["nobody-here"]),
        Row(arguments: ["records", "list", "--limit", "0"], exit: Exit.usage, names: ["--limit"]),
        Row(arguments: ["consent", "grant", "--subject", "S2", "--purpose", "marketing-email", "--channel", "app", "--note-file", "$T/adir"],
            exit: Exit.invalidInput, names: ["--note-file", "$T/adir"]),
        Row(arguments: ["consent", "grant", "--subject", "S2", "--purpose", "marketing-email", "--channel", "app", "--note-file", "$T/huge.txt"],
            exit: Exit.invalidInput, names: ["--note-file", "$T/huge.txt"]),
        Row(arguments: ["consent", "grant", "--subject", "S2", "--purpose", "no-such-purpose", "--channel", "app"], exit: Exit.invalidInput, names: ["no-such-purpose"]),
        Row(arguments: ["breach", "open", "--detected-at", "now", "--summary-file", "$T/adir"], exit: Exit.invalidInput, names: ["--summary-file", "$T/adir"]),
        Row(arguments: ["breach", "open", "--detected-at", "now", "--summary-file", "$T/empty"], exit: Exit.invalidInput, names: ["summary"]),
        Row(arguments: ["breach", "open", "--detected-at", "now", "--summary-file", "$S/missing"], exit: Exit.notFound, names: ["--summary-file", "$S/missing"]),
        Row(arguments: ["breach", "show", "breach-nosuch"], exit: Exit.notFound, names: ["breach-nosuch"]),
        Row(arguments: ["breach", "notify", "breach-nosuch", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "csv", "--out", "$S/n"],
            exit: Exit.notFound, names: ["breach-nosuch"], storeMayChange: false),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "hk", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "csv", "--out", "$S/n"], exit: Exit.invalidInput, names: ["--regime", "hk"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "csv", "--out", "$S/n"], exit: Exit.usage, names: ["--regime"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "mail", "--out", "$S/n"], exit: Exit.usage, names: ["--persons", "mail"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "sealed", "--out", "$S/n"], exit: Exit.usage, names: ["--seal-to"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "sealed", "--seal-to", "$S/missing.pub", "--out", "$S/n"],
            exit: Exit.notFound, names: ["$S/missing.pub"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "sealed", "--seal-to", "$T/empty", "--out", "$S/n"],
            exit: Exit.invalidInput, names: ["$T/empty"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "sealed", "--seal-to", "$T/empty", "--include-addresses", "--out", "$S/n"],
            exit: Exit.usage, names: ["--include-addresses"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--measures", "m", "--persons", "csv",
                        "--out", "$S/n"], exit: Exit.usage, names: ["--consequences", "$BREACH"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences-file", "$S/missing",
                        "--measures", "m", "--persons", "csv", "--out", "$S/n"], exit: Exit.notFound, names: ["--consequences-file", "$S/missing"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-02-30", "--until", "2030-01-01", "--consequences", "c",
                        "--measures", "m", "--persons", "csv", "--out", "$S/n"], exit: Exit.invalidInput, names: ["--since", "2026-02-30"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "csv", "--out", "$T/afile"],
            exit: Exit.alreadyExists, names: ["$T/afile"]),
        Row(arguments: ["breach", "notify", "$BREACH", "--regime", "gdpr", "--since", "2026-01-01", "--until", "2030-01-01", "--consequences", "c", "--measures", "m", "--persons", "csv", "--out", "$S/no-such-dir/n"],
            exit: Exit.notFound, names: ["$S/no-such-dir"]),
        Row(arguments: ["requests", "show", "dsr-nosuch"], exit: Exit.notFound, names: ["dsr-nosuch"]),
        Row(arguments: ["holds", "release", "hold-nosuch", "--reason", "r"], exit: Exit.notFound, names: ["hold-nosuch"]),

        // Receipts, witnesses, ledgers.
        Row(arguments: ["consent", "verify-receipt", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir", "directory"]),
        Row(arguments: ["consent", "verify-receipt", "$S/missing"], exit: Exit.notFound, names: ["$S/missing"]),
        Row(arguments: ["consent", "verify-receipt", "$T/huge.txt"], exit: Exit.invalidInput, names: ["$T/huge.txt"]),
        Row(arguments: ["erase", "verify-receipt", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir"]),
        // Documented: a receipt that does not verify exits 69, whatever is wrong with it.
        Row(arguments: ["erase", "verify-receipt", "$T/empty"], exit: Exit.integrity, names: ["receipt"]),
        Row(arguments: ["erase", "S1", "--reason", "r", "--out", "$T/adir"], exit: Exit.invalidInput, names: ["--out", "$T/adir"]),
        Row(arguments: ["erase", "S1", "--reason", "r", "--out", "$S/no-such-dir/r.json"], exit: Exit.notFound, names: ["--out", "$S/no-such-dir"]),
        Row(arguments: ["audit", "verify", "--against", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir", "directory"]),
        Row(arguments: ["audit", "verify", "--against", "$T/empty"], exit: Exit.invalidInput, names: ["$T/empty", "no checkpoint"]),
        Row(arguments: ["audit", "verify", "--against", "$S/missing"], exit: Exit.notFound, names: ["$S/missing"]),
        Row(arguments: ["audit", "verify", "--against", "$T/afile"], exit: Exit.invalidInput, names: ["$T/afile", "line 1"]),
        Row(arguments: ["backup", "export-ledger", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir", "directory"]),
        Row(arguments: ["backup", "restore", "$BACKUP", "--out", "$S/r", "--ledger", "$T/empty"], exit: Exit.invalidInput, names: ["$T/empty"]),

        // Backups: a directory or an empty file for a backup, a file for a directory.
        Row(arguments: ["backup", "verify", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir", "directory"]),
        // A verification is audited, whatever its outcome.
        Row(arguments: ["backup", "verify", "$T/empty"], exit: Exit.integrity, names: ["$T/empty", "not a PrivacyKit backup"], storeMayChange: true),
        Row(arguments: ["backup", "verify", "bk-nosuch"], exit: Exit.notFound, names: ["bk-nosuch"]),
        Row(arguments: ["backup", "restore", "$T/empty", "--out", "$S/r"], exit: Exit.integrity, names: ["$T/empty"]),
        Row(arguments: ["backup", "restore", "$BACKUP", "--out", "$S/vault"], exit: Exit.alreadyExists, names: ["$S/vault"]),
        Row(arguments: ["backup", "restore", "$BACKUP", "--out", "$T/afile"], exit: Exit.alreadyExists, names: ["$T/afile"]),
        Row(arguments: ["backup", "create", "--out", "$T/afile"], exit: Exit.invalidInput, names: ["--out", "$T/afile"]),
        Row(arguments: ["backup", "create", "--compress", "--compression-level", "99"], exit: Exit.invalidInput, names: ["compression level", "got 99"]),
        Row(arguments: ["backup", "create", "--recovery-key", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir"]),
        Row(arguments: ["backup", "verify", "$BACKUP", "--recovery-key-file", "$T/empty"], exit: Exit.invalidInput, names: ["$T/empty"]),

        // Exports and key files.
        Row(arguments: ["export", "S1", "--out", "$T/afile"], exit: Exit.alreadyExists, names: ["$T/afile"]),
        Row(arguments: ["export", "S1", "--out", "$S/pkg", "--seal-to", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir"]),
        Row(arguments: ["export", "S1", "--out", "$S/pkg", "--seal-to", "$T/empty"], exit: Exit.invalidInput, names: ["$T/empty"]),
        Row(arguments: ["export", "nobody-here", "--out", "$S/pkg"], exit: Exit.notFound, names: ["nobody-here"]),
        Row(arguments: ["export", "open", "$T/adir", "--secret-key", "$S/empty.key", "--out", "$S/o"], exit: Exit.invalidInput, names: ["$S/empty.key"]),
        Row(arguments: ["export", "open", "$T/adir", "--secret-key", "$S/requester.key", "--out", "$S/o"], exit: Exit.notFound, names: ["$T/adir", "not a sealed"]),
        Row(arguments: ["export", "open", "$S/sealed", "--secret-key", "$S/wrong.key", "--out", "$S/o"], exit: Exit.wrongKey, names: ["sealed"]),
        Row(arguments: ["keys", "rotate-root", "--new-key-file", "$S/empty.key"], exit: Exit.invalidInput, names: ["$S/empty.key"]),
        Row(arguments: ["keys", "rotate-root", "--new-key-file", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir"]),
        Row(arguments: ["keys", "rotate-root", "--new-key-file", "$S/missing.key"], exit: Exit.notFound, names: ["$S/missing.key"]),
        Row(arguments: ["keys", "generate-key-file", "$S/root.key"], exit: Exit.alreadyExists, names: ["$S/root.key"]),
        Row(arguments: ["keys", "generate-key-file", "$T/adir"], exit: Exit.alreadyExists, names: ["$T/adir"]),
        Row(arguments: ["keys", "generate-key-file", "$S/no-such-dir/k.key"], exit: Exit.notFound, names: ["$S/no-such-dir"]),
        Row(arguments: ["init", "--vault", "$S/vault", "--key-file", "$S/root.key"], exit: Exit.alreadyExists, names: ["$S/vault"]),
        Row(arguments: ["init", "--vault", "$T/afile", "--key-file", "$S/root.key"], exit: Exit.alreadyExists, names: ["$T/afile"]),
        Row(arguments: ["init", "--vault", "$S/new-vault", "--key-file", "$S/empty.key"], exit: Exit.invalidInput, names: ["$S/empty.key"]),
        Row(arguments: ["init", "--vault", "$S/new-vault", "--key-file", "$S/root.key", "--kdf", "weak"], exit: Exit.usage, names: ["--kdf", "weak"]),
        Row(arguments: ["policy", "default", "nosuch.yaml"], exit: Exit.notFound, names: ["nosuch.yaml"]),
        Row(arguments: ["policy", "validate", "--directory", "$T/adir"], exit: Exit.invalidInput, names: ["$T/adir"]),
        Row(arguments: ["access", "check", "--role", "nobody", "--action", "read", "--field", "email", "--purpose", "x"], exit: Exit.invalidInput, names: ["nobody"]),
    ]

    @Test(arguments: genericRows + specificRows)
    func brokenInput(_ row: Row) throws {
        let c = try Case()
        let before = try c.snapshot()
        let r = try c.run(row.arguments, environment: row.environment)
        #expect(r.status == row.exit, "exit \(r.status), expected \(row.exit): \(r.stderr)")
        for name in row.names.map(c.expand) {
            #expect(r.stderr.contains(name), "standard error does not name \(name): \(r.stderr)")
        }
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Stack dump") && !r.stderr.contains("unexpected error"), "\(r.stderr)")
        let after = try c.snapshot()
        if row.storeMayChange {
            let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }
            #expect(changed.allSatisfy { $0.hasPrefix("vault/vault.sqlite") }, "changed besides the store: \(changed.sorted())")
            #expect(try c.run(["audit", "verify"]).status == 0)
        } else {
            let same = before == after
            let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
            #expect(same, "the command changed \(changed)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: c.s + "/tmp").isEmpty, "temp files left")
    }

    /// A 20 MB field is past the reader's 1 MiB record limit: that row is rejected with its
    /// line and reason (documented: the import goes on, and exits 0 within --max-rejects), the
    /// rest imported, and nothing of the value stored or reported.
    @Test func aTwentyMegabyteFieldIsRejectedAndTheImportGoesOn() throws {
        let c = try Case()
        let r = try c.run(["import", "$T/huge-field.csv", "--reject-report", "$S/rejects.csv", "--max-rejects", "1", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let summary = try r.json()
        #expect(summary["created"] as? Int == 1 && summary["rejected"] as? Int == 1)
        let report = String(decoding: try Data(contentsOf: URL(fileURLWithPath: c.s + "/rejects.csv")), as: UTF8.self)
        #expect(report.contains("2,,\"record too long\""))
        #expect(report.utf8.count < 200 && r.stdout.utf8.count < 10_000 && r.stderr.utf8.count < 10_000)
        let store = try FileManager.default.attributesOfItem(atPath: c.s + "/vault/vault.sqlite")[.size] as? Int ?? 0
        #expect(store < 2 << 20, "the store grew to \(store) bytes")
        #expect(try c.run(["records", "get", "--subject", "H1"]).status == Exit.notFound)
        #expect(try c.run(["audit", "verify"]).status == 0)
    }

    /// A vault directory this user may not write (0500): every command fails with 74 and
    /// says so, and nothing changes. Root ignores the mode bits, so as root the commands
    /// run as nobody (setpriv) on a copy nobody owns; without setpriv the case is skipped.
    @Test func aReadOnlyVaultDirectory() throws {
        let c = try Case()
        var prefix: [String] = []
        if geteuid() == 0 {
            let setpriv = "/usr/bin/setpriv"
            guard FileManager.default.isExecutableFile(atPath: setpriv), getpwnam("nobody") != nil else {
                print("skipped: running as root without setpriv or a nobody user, so a 0500 directory stops nothing")
                return
            }
            prefix = [setpriv, "--reuid=nobody", "--regid=\(getpwnam("nobody")!.pointee.pw_gid)", "--clear-groups"]
            // nobody must reach the case directory and own the vault and key.
            for path in [c.s, c.s + "/tmp"] { chmod(path, 0o755) }
            let chown = Process()
            chown.executableURL = URL(fileURLWithPath: "/bin/chown")
            chown.arguments = ["-R", "nobody", c.s + "/vault", c.s + "/root.key", c.s + "/tmp"]
            try chown.run()
            chown.waitUntilExit()
            #expect(chown.terminationStatus == 0)
        }
        let before = try c.snapshot()
        chmod(c.s + "/vault", 0o500)
        defer { chmod(c.s + "/vault", 0o700) }
        for arguments in [["keys", "status"], ["records", "put", "--subject", "S9", "--set", "email=s9@example.org"],
                          ["records", "get", "--subject", "S1"], ["import", "$T/small.csv"], ["backup", "create"], ["audit", "verify"]] {
            let r = try c.runAs(prefix, arguments)
            #expect(r.status == 74, "\(arguments): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains(c.s + "/vault") && r.stderr.contains("cannot be written"), "\(arguments): \(r.stderr)")
        }
        chmod(c.s + "/vault", 0o700)
        let after = try c.snapshot()
        let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
        #expect(changed.isEmpty, "the vault changed: \(changed)")
        #expect(try c.runAs(prefix, ["audit", "verify"]).status == 0)
    }

    /// A full disk: the vault on a 16 MiB tmpfs filled to the last few KiB. Each write
    /// fails with 74 naming the disk, leaves no temp or half-written file, and once there
    /// is room again the vault opens, verifies and holds what it held. Mounting needs root
    /// and a container that allows it; where it fails, the case is skipped (RLIMIT_FSIZE
    /// through prlimit would be the fallback, but a limit on file size is not a full disk:
    /// the store file is already past any small limit, so every write fails at once, and
    /// SQLite reports EFBIG as an I/O error, not as SQLITE_FULL; it would test less than
    /// it claims).
    @Test func aFullDisk() throws {
        let c = try Case()
        let disk = c.s + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = Process()
        mount.executableURL = URL(fileURLWithPath: "/bin/mount")
        mount.arguments = ["-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", disk]
        mount.standardError = FileHandle.nullDevice
        guard geteuid() == 0, (try? mount.run()) != nil else { print("skipped: cannot mount a tmpfs here"); return }
        mount.waitUntilExit()
        guard mount.terminationStatus == 0 else { print("skipped: mount -t tmpfs refused (not root, or the container forbids it)"); return }
        defer {
            let umount = Process()
            umount.executableURL = URL(fileURLWithPath: "/bin/umount")
            umount.arguments = [disk]
            try? umount.run()
            umount.waitUntilExit()
        }
        let vault = disk + "/vault"
        let on = ["PRIVACYKIT_VAULT": vault, "TMPDIR": disk + "/tmp", "SQLITE_TMPDIR": disk + "/tmp"]
        try FileManager.default.createDirectory(atPath: disk + "/tmp", withIntermediateDirectories: true)
        #expect(try c.run(["init", "--vault", vault, "--key-file", "$S/root.key"], environment: on).status == 0)
        #expect(try c.run(["import", "$T/small.csv"], environment: on).status == 0)
        var big = "id,full_name,email\n"
        for i in 0..<1500 { big += "F\(i),Name \(i),f\(i)@example.org\n" }
        try Data(big.utf8).write(to: URL(fileURLWithPath: c.s + "/big.csv"))
        let subjects = try c.run(["records", "list", "--json"], environment: on).stdout
        let keyring = try Data(contentsOf: URL(fileURLWithPath: vault + "/Keys/keyring.json"))

        func fill(leaving bytes: Int) throws {
            try? FileManager.default.removeItem(atPath: disk + "/filler")
            var info = statvfs()
            statvfs(disk, &info)
            let free = Int(info.f_bavail) * Int(info.f_frsize)
            try Data(count: max(0, free - bytes)).write(to: URL(fileURLWithPath: disk + "/filler"))
        }
        func check(_ arguments: [String]) throws {
            let r = try c.run(arguments, environment: on)
            #expect(r.status == 74, "\(arguments): exit \(r.status): \(r.stderr)")
            #expect(r.stderr.contains("full") || r.stderr.contains("No space left"), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"))
        }
        func leftovers() throws -> [String] {
            try FileManager.default.subpathsOfDirectory(atPath: disk).filter { path in
                let name = (path as NSString).lastPathComponent
                return name.hasSuffix(".new") || name.hasSuffix(".partial") || name.contains(".backup-snapshot") || name.contains(".restoring-")
                    || name.hasSuffix("-journal") || path.hasPrefix("pkg") || path.hasPrefix("tmp/") || name == "receipt.json"
            }
        }

        // A few KiB left: SQLite cannot even make its shared-memory file, nothing can start.
        try fill(leaving: 24 * 1024)
        for arguments in [["import", "$S/big.csv"], ["records", "put", "--subject", "S9", "--set", "email=s9@example.org"],
                          ["backup", "create"], ["export", "S1", "--out", disk + "/pkg"], ["keys", "rotate-root", "--new-key-file", "$S/new.key"],
                          ["keys", "rotate-kek"], ["erase", "S2", "--reason", "request", "--out", disk + "/receipt.json"]] {
            try check(arguments)
        }
        let left = try leftovers()
        #expect(left.isEmpty, "left behind: \(left)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: vault + "/Keys/keyring.json")) == keyring, "the keyring changed")
        try FileManager.default.removeItem(atPath: disk + "/filler")
        #expect(try c.run(["records", "list", "--json"], environment: on).stdout == subjects)

        // Room to open the store but not to finish: the import's batch and the backup fail
        // part-way, roll back or remove what they wrote, and the import finishes when run again.
        try fill(leaving: 96 * 1024)
        try check(["import", "$S/big.csv", "--batch-size", "1500"])
        try check(["backup", "create"])
        let stillLeft = try leftovers()
        #expect(stillLeft.isEmpty, "left behind: \(stillLeft)")
        #expect(try c.run(["records", "list", "--json"], environment: on).stdout == subjects, "a rolled-back batch left records")
        try FileManager.default.removeItem(atPath: disk + "/filler")
        #expect(try c.run(["keys", "status"], environment: on).status == 0)
        #expect(try c.run(["audit", "verify"], environment: on).status == 0)
        let rerun = try c.run(["import", "$S/big.csv", "--json"], environment: on)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try rerun.json()["created"] as? Int == 1500)
    }

    /// The table covers every command `privacyctl --help` lists.
    @Test func everyCommandIsInTheTable() throws {
        var leaves: [String] = []
        func walk(_ path: [String]) throws {
            let help = try CLI.run(path + ["--help"]).stdout
            guard let range = help.range(of: "SUBCOMMANDS:") else { leaves.append(path.joined(separator: " ")); return }
            // The section ends at its first blank line; a name is a lower-case word.
            let section = help[range.upperBound...].split(separator: "\n", omittingEmptySubsequences: false).dropFirst().prefix { !$0.isEmpty }
            let names = section.compactMap { line -> String? in
                guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first,
                      word.allSatisfy({ $0.isLowercase || $0 == "-" }) else { return nil }
                return String(word)
            }
            guard path.count < 3 else { Issue.record("help nests too deep at \(path)"); return }
            for name in names where name != "help" { try walk(path + [name]) }
        }
        try walk([])
        let tabled = Set(Self.commands.map { $0.1.prefix { !$0.hasPrefix("-") && !$0.hasPrefix("$") && $0.first?.isUppercase != true && !$0.hasSuffix(".yaml") }.joined(separator: " ") })
        for leaf in leaves {
            // Default subcommands (erase SUBJECT, restrict SUBJECT, export SUBJECT) are in
            // the table under their parent's name.
            let parent = leaf.split(separator: " ").dropLast().joined(separator: " ")
            #expect(tabled.contains(leaf) || (["erase subject", "restrict place", "export subject"].contains(leaf) && tabled.contains(parent)),
                    "no bad-input rows for \(leaf)")
        }
        #expect(leaves.count >= 55)
    }
}
