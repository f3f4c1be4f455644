import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    /// What a monitor runs to learn that scheduled jobs stopped (issue 22, point 4): a timer
    /// that no longer fires fails nothing, so only the age of what it last did tells.
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that the scheduled jobs keep running: the age of the last sweep, backup, verified backup, exported checkpoint and keys.",
            discussion: Examples.discussion("""
                Each check compares the age of what was last done, read from the audit log once \
                it verifies with the vault's keys (a \
                finished sweep, a backup made, a backup verified), the witness file (--witness: \
                the last checkpoint exported there) and the keyring (the newest KEK and index \
                key), with its limit, an ISO 8601 duration. Exits 0 when nothing is stale, 1 when \
                something is (or never happened), so a monitor can alert on the exit status alone; \
                the JSON answer has every check with its last time, age and limit. Reading the \
                log is recorded (audit.query), as for audit query.
                """, "status"))

        @Option(name: .customLong("max-sweep-age"), help: ArgumentHelp("The oldest a finished sweep may be.", valueName: "duration"))
        var maxSweepAge = "P1DT2H"
        @Option(name: .customLong("max-backup-age"), help: ArgumentHelp("The oldest the last backup may be.", valueName: "duration"))
        var maxBackupAge = "P1DT2H"
        @Option(name: .customLong("max-verified-backup-age"), help: ArgumentHelp("The oldest the last successful backup verify may be.", valueName: "duration"))
        var maxVerifiedBackupAge = "P8D"
        @Option(name: .long, help: ArgumentHelp("The witness file `audit checkpoint --out` appends to (checked only when given).", valueName: "file"))
        var witness: String?
        @Option(name: .customLong("max-checkpoint-age"), help: ArgumentHelp("The oldest the last checkpoint in --witness may be.", valueName: "duration"))
        var maxCheckpointAge = "PT2H"
        @Option(name: .customLong("max-key-age"), help: ArgumentHelp("The oldest the newest KEK and index key may be (then rotate them).", valueName: "duration"))
        var maxKeyAge = "P1Y"
        @Option(name: .long, help: ArgumentHelp("Judge at this time instead of now (ISO 8601).", valueName: "time")) var now: String?
        @OptionGroup var options: VaultCommandOptions

        struct Check: Encodable {
            let name: String
            /// When it was last done (nil: never).
            let last: String?
            let ageSeconds: Int64?
            let maxAge: String
            let stale: Bool
            enum CodingKeys: String, CodingKey {
                case name, last, stale
                case ageSeconds = "age_seconds", maxAge = "max_age"
            }
        }

        struct Result: Encodable {
            let ok: Bool
            let now: String
            let checks: [Check]
        }

        func run() throws {
            try Output.run(json: options.output.json) {
                let clock = try CLITime.parse(now, option: "--now") ?? Date()
                let limits = try [("--max-sweep-age", maxSweepAge), ("--max-backup-age", maxBackupAge), ("--max-verified-backup-age", maxVerifiedBackupAge),
                                  ("--max-checkpoint-age", maxCheckpointAge), ("--max-key-age", maxKeyAge)].map { try Self.duration($1, option: $0) }
                let witnessTime = try witness.flatMap { path in try AuditCheckpoint.readWitnessFile(at: path).last?.time }
                let checks = try options.session { vault, context -> [Check] in
                    // The ages come from the log: only a log whose every event's chain and MAC
                    // verify is trusted, so a store writer cannot make a stopped job look fresh.
                    if let problem = try vault.audit.verify().problem {
                        throw PrivacyKitError(.integrity, "the audit log fails verification at seq \(problem.seq.map(String.init) ?? "?") (\(problem.message)): the ages status reads from it cannot be trusted")
                    }
                    func lastEvent(_ action: String, where accept: (AuditEvent) -> Bool = { _ in true }) throws -> String? {
                        try vault.audit.events(matching: AuditQuery(action: action, limit: 50, outcome: "allowed", newestFirst: true), context: context)
                            .first(where: accept)?.time
                    }
                    let keys = vault.keys.keyring.status
                    func newest(_ role: KeyRole) -> String? { keys.filter { $0.role == role }.map(\.createdAt).max() }
                    var found: [(String, String?, ISODuration)] = [
                        ("sweep", try lastEvent("retention.sweep") { $0.reason?.contains(" finished:") == true }, limits[0]),
                        ("backup", try lastEvent("backup.create"), limits[1]),
                        ("verified-backup", try lastEvent("backup.verify"), limits[2]),
                    ]
                    if witness != nil { found.append(("exported-checkpoint", witnessTime, limits[3])) }
                    found.append(("kek", newest(.kek), limits[4]))
                    found.append(("index-key", newest(.blindIndexRoot), limits[4]))
                    return found.map { name, last, limit in Self.check(name, last: last, limit: limit, now: clock) }
                }
                let result = Result(ok: !checks.contains(where: \.stale), now: ISOTime.string(clock), checks: checks)
                if options.output.json {
                    try Output.json(result)
                } else {
                    for c in checks {
                        let age = c.ageSeconds.map { Self.words($0) } ?? "never"
                        Output.standardOutput("\(c.stale ? "STALE" : "ok   ")  \(c.name.padding(toLength: 20, withPad: " ", startingAt: 0))  \(c.last.map { "\($0) (\(age) ago)" } ?? "never")  limit \(c.maxAge)")
                    }
                }
                if !result.ok {
                    Output.standardError("privacyctl: status: stale: \(checks.filter(\.stale).map(\.name).joined(separator: ", "))")
                    throw ExitCode(ExitStatus.failure.rawValue)
                }
            }
        }

        static func duration(_ text: String, option: String) throws -> ISODuration {
            guard let duration = ISODuration(text), !duration.isZero else {
                throw CLIError(.invalidInput, "\(option) takes an ISO 8601 duration such as PT26H, P8D or P1Y (got '\(text)')")
            }
            return duration
        }

        static func check(_ name: String, last: String?, limit: ISODuration, now: Date) -> Check {
            guard let last, let when = ISOTime.parsePrecise(last) ?? ISOTime.parse(last) else {
                return Check(name: name, last: nil, ageSeconds: nil, maxAge: limit.description, stale: true)
            }
            return Check(name: name, last: last, ageSeconds: Int64(now.timeIntervalSince(when)), maxAge: limit.description,
                         stale: when < limit.before(now))
        }

        static func words(_ seconds: Int64) -> String {
            switch seconds {
            case ..<120: "\(seconds) s"
            case ..<7200: "\(seconds / 60) min"
            case ..<172_800: "\(seconds / 3600) h"
            default: "\(seconds / 86400) days"
            }
        }
    }
}
