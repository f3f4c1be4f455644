import Foundation
import Testing

/// The scheduled jobs as docs/scheduled-jobs.md sets them up (issue 22, point 4): the cron
/// lines leave logs whose every line parses, and the sweep unit's command works as the
/// unprivileged user that owns the vault.
@Suite("scheduled jobs as documented")
struct ScheduledJobsTests {
    /// A scratch root with the documents' directories, a vault, its key file and a recovery
    /// key pair where the documents put them; `privacyctl` is the built one.
    struct Host {
        let scratch: Scratch
        var root: String { scratch.path }

        init() throws {
            scratch = try Scratch()
            for directory in ["etc/privacykit", "srv", "mnt/witness", "var/log/privacykit", "var/backups/privacykit"] {
                try FileManager.default.createDirectory(atPath: scratch.file(directory), withIntermediateDirectories: true)
            }
            for arguments in [["keys", "generate-key-file", scratch.file("etc/privacykit/root.key")],
                              ["init", "--vault", scratch.file("srv/crm-vault"), "--key-file", scratch.file("etc/privacykit/root.key")],
                              ["backup", "recovery-keypair", "--out", scratch.file("etc/privacykit/recovery")]] {
                let result = try CLI.run(arguments)
                #expect(result.status == 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
            }
        }

        /// `text` with the documents' absolute paths moved under the scratch root.
        func relocate(_ text: String) -> String {
            DocCommands.relocate(text, under: root).replacingOccurrences(of: "/usr/local/bin/privacyctl", with: CLI.binary.path)
                .replacingOccurrences(of: ">/var/log/privacykit", with: ">" + root + "/var/log/privacykit")
        }
    }

    static func shipped(_ path: String) throws -> String {
        try String(contentsOf: DocFiles.root.appendingPathComponent(path), encoding: .utf8)
    }

    @Test func theCronLinesRunTwiceLeaveLogsWhoseEveryLineParses() throws {
        let host = try Host()
        let crontab = try Self.shipped("docs/cron/privacykit.crontab").split(separator: "\n").map(String.init)
        let variables = crontab.filter { $0.hasPrefix("PRIVACYKIT_") }.map { "export " + host.relocate($0) }
        let nightly = try #require(crontab.first { $0.contains(" sweep ") })
        let verify = try #require(crontab.first { $0.contains("backup verify") })
        let command = { (line: String) in line.split(separator: " ", maxSplits: 5).last.map(String.init) ?? "" }
        let script = (["set -u"] + variables + [host.relocate(command(nightly)), host.relocate(command(verify))]).joined(separator: "\n")
        for run in 1...2 {
            let result = try CLI.execute(URL(fileURLWithPath: "/bin/bash"), ["-c", script], environment: ["PATH": "/usr/bin:/bin"], in: host.root)
            #expect(result.status == 0, "run \(run): \(result.stdout) \(result.stderr)")
        }
        func lines(_ name: String) -> [Substring] {
            (try? String(contentsOfFile: host.scratch.file("var/log/privacykit/" + name), encoding: .utf8))?.split(separator: "\n") ?? []
        }
        #expect(lines("sweep.jsonl").count == 2 && lines("backup.jsonl").count == 6, "sweep \(lines("sweep.jsonl").count), backup \(lines("backup.jsonl").count)")
        for line in lines("sweep.jsonl") + lines("backup.jsonl") {
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["ok"] as? Bool == true, "not one JSON answer: \(line.prefix(200))")
        }
        #expect(BackupFiles(host.scratch.file("var/backups/privacykit")).count == 2, "the backups went to the backup disk, not the vault's")
    }

    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && getpwnam("nobody") != nil,
                   "needs root, setpriv and a nobody user"))
    func theSweepUnitRunsAsTheUnprivilegedOwnerOfTheVault() throws {
        let host = try Host()
        // As the tmpfiles and install lines of the docs set it up, with nobody for privacykit.
        for (path, mode) in [("srv/crm-vault", "0700"), ("etc/privacykit/root.key", "0600")] {
            #expect(try CLI.execute(URL(fileURLWithPath: "/bin/chown"), ["-R", "nobody:nogroup", host.scratch.file(path)], environment: [:]).status == 0)
            #expect(try CLI.execute(URL(fileURLWithPath: "/bin/chmod"), [mode, host.scratch.file(path)], environment: [:]).status == 0)
        }
        for directory in [host.root, host.scratch.file("etc"), host.scratch.file("etc/privacykit"), host.scratch.file("srv")] { chmod(directory, 0o711) }
        let unit = try Self.shipped("docs/systemd/privacykit-sweep.service").split(separator: "\n").map(String.init)
        let environment = unit.filter { $0.hasPrefix("Environment=") }.map { "export " + host.relocate(String($0.dropFirst("Environment=".count))) }
        let execStart = try #require(unit.first { $0.hasPrefix("ExecStart=") }).dropFirst("ExecStart=".count)
        let asNobody = ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--", "/bin/bash", "-c"]
        let swept = try CLI.execute(URL(fileURLWithPath: "/usr/bin/setpriv"), asNobody + [(environment + [host.relocate(String(execStart))]).joined(separator: "\n")],
                                    environment: ["PATH": "/usr/bin:/bin"], in: "/")
        #expect(swept.status == 0, "\(swept.stdout) \(swept.stderr)")
        #expect(swept.stdout.split(separator: "\n").count == 1 && swept.stdout.contains("\"ok\":true"), "\(swept.stdout)")
        // The same job on a vault its user cannot read is an I/O error naming both (74), not "no vault".
        #expect(try CLI.execute(URL(fileURLWithPath: "/bin/chown"), ["root", host.scratch.file("srv/crm-vault")], environment: [:]).status == 0)
        let refused = try CLI.execute(URL(fileURLWithPath: "/usr/bin/setpriv"), asNobody + [(environment + [host.relocate(String(execStart))]).joined(separator: "\n")],
                                      environment: ["PATH": "/usr/bin:/bin"], in: "/")
        #expect(refused.status == 74 && refused.stderr.contains("nobody") && refused.stderr.contains(host.scratch.file("srv/crm-vault")), "\(refused.stderr)")
    }
}

/// The backup files in a directory.
private func BackupFiles(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".pkb") }
}
