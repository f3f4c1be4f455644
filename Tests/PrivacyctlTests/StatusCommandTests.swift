import Foundation
import GRDB
import Testing

/// `privacyctl status` (issue 22, point 4): a monitor learns from the exit status alone that
/// a scheduled job stopped, since a timer that no longer fires fails nothing.
@Suite("privacyctl status")
struct StatusCommandTests {
    @Test func staleOrMissingJobsExit1AndFreshOnesExit0() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let fresh = try CLI.run(["status", "--json"], environment: env)
        #expect(fresh.status == 1 && fresh.stdout.split(separator: "\n").count == 1, "\(fresh.stderr)")
        let never = try fresh.json()
        let stale = Set(((never["checks"] as? [[String: Any]]) ?? []).filter { $0["stale"] as? Bool == true }.compactMap { $0["name"] as? String })
        #expect(never["ok"] as? Bool == false && stale == ["sweep", "backup", "verified-backup"], "\(stale)")
        #expect(fresh.stderr.contains("stale: sweep, backup, verified-backup"))

        #expect(try CLI.run(["sweep"], environment: env).status == 0)
        let backup = try CLI.run(["backup", "create", "--json"], environment: env)
        let id = try #require((try backup.json()["backup"] as? [String: Any])?["id"] as? String)
        #expect(try CLI.run(["backup", "verify", id], environment: env).status == 0)
        let witness = v.scratch.file("witness.jsonl")
        #expect(try CLI.run(["audit", "checkpoint", "--out", witness], environment: env).status == 0)
        let ok = try CLI.run(["status", "--witness", witness], environment: env)
        #expect(ok.status == 0, "\(ok.stdout) \(ok.stderr)")
        #expect(ok.stdout.contains("exported-checkpoint") && !ok.stdout.contains("STALE"))

        // A day and a half later, with no job run since: the daily ones are stale, the weekly
        // verify and the yearly keys are not.
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(36 * 3600))
        let late = try CLI.run(["status", "--witness", witness, "--now", later, "--json"], environment: env)
        let checks = ((try late.json()["checks"] as? [[String: Any]]) ?? []).reduce(into: [String: Bool]()) { $0[$1["name"] as? String ?? ""] = $1["stale"] as? Bool }
        #expect(late.status == 1 && checks == ["sweep": true, "backup": true, "verified-backup": false, "exported-checkpoint": true, "kek": false, "index-key": false],
                "\(checks)")
        let looser = try CLI.run(["status", "--now", later, "--max-sweep-age", "P2D", "--max-backup-age", "P2D"], environment: env)
        #expect(looser.status == 0, "\(looser.stdout)")
        let bad = try CLI.run(["status", "--max-sweep-age", "a day"], environment: env)
        #expect(bad.status == 65 && bad.stderr.contains("--max-sweep-age takes an ISO 8601 duration"))
    }

    /// A store writer without keys makes a stopped sweep look fresh by editing the time of
    /// the last one in the log: status refuses the log (69) instead of answering from it.
    @Test func aForgedSweepTimeIsRefusedNotBelieved() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        #expect(try CLI.run(["sweep"], environment: env).status == 0)
        #expect(try CLI.run(["status", "--max-backup-age", "P100Y", "--max-verified-backup-age", "P100Y"], environment: env).status == 1, "no backup yet")
        let later = ISO8601DateFormatter().string(from: Date().addingTimeInterval(10 * 86400))
        let queue = try DatabaseQueue(path: v.vault + "/vault.sqlite")
        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER IF EXISTS audit_events_no_update")
            try db.execute(sql: "UPDATE audit_events SET time = ? WHERE seq = (SELECT MAX(seq) FROM audit_events WHERE action = 'retention.sweep' AND reason LIKE '% finished:%')",
                           arguments: [later])
        }
        try queue.close()
        let forged = try CLI.run(["status", "--now", later, "--json"], environment: env)
        #expect(forged.status == 69 && forged.stderr.contains("fails verification"), "\(forged.stdout) \(forged.stderr)")
    }
}

