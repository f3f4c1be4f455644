import Foundation
import Testing

/// `--json` answers with one object on one line, on success and on failure, so a cron line
/// `… --json >>run.jsonl` and the journal get one parsable record per run; each says `ok`.
@Suite("--json is one line")
struct JSONLineTests {
    @Test func successesAndFailuresAreOneJSONLineEach() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let runs: [(arguments: [String], environment: [String: String])] = [
            (["keys", "status"], env),
            (["records", "put", "--subject", "S1", "--set", "email=s1@example.org", "--set", "full_name=Ana Lee"], env),
            (["records", "get", "--subject", "S1", "--purpose", "customer-support", "--role", "support-agent"], env),
            (["clients", "add", "svc", "--role", "service", "--purpose", "order-fulfilment"], env),
            (["audit", "verify"], env),
            (["consent", "receipt", "--subject", "S1"], env),
            (["policy", "default", "purposes.yaml"], env),
            (["records", "get", "--subject", "S1"], ["PRIVACYKIT_VAULT": v.vault, "PRIVACYKIT_KEY_FILE": v.scratch.file("missing.key")]),
            (["records", "get", "--frobnicate"], env),
        ]
        for run in runs {
            let result = try CLI.run(run.arguments + ["--json"], environment: run.environment)
            let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.count == 2 && lines[1].isEmpty, "\(run.arguments.joined(separator: " ")): \(lines.count - 1) lines")
            let object = try? JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
            #expect(object != nil && (object?["ok"] as? Bool) == (result.status == 0), "\(run.arguments.joined(separator: " ")): \(result.stdout)")
        }
    }

    /// Every key is snake_case (issue 22, point 1), the backup manifest's too, and a backup's
    /// id is `id` wherever a backup is listed. Maps keyed by data (rule ids, consent states)
    /// are not key names: they are skipped by their parent's name.
    @Test func everyKeyIsSnakeCase() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let csv = v.scratch.file("crm.csv")
        try Data("id,full_name,email,country\nc1,Ann Lee,ann@example.com,GB\nc2,Bo Chen,bo@example.com,CN\n".utf8).write(to: URL(fileURLWithPath: csv))
        let commands: [[String]] = [
            ["import", csv], ["records", "get", "--subject", "c1"], ["records", "get", "--subject", "c1", "--subject", "c2"],
            ["consent", "grant", "--subject", "c1", "--purpose", "marketing-email", "--channel", "web-form"],
            ["consent", "history", "--subject", "c1"], ["backup", "create"], ["backup", "list"], ["keys", "status"],
            ["audit", "verify"], ["audit", "checkpoint"], ["report"], ["ropa"], ["sweep", "--dry-run"], ["retention", "report"], ["quality", "report"],
            ["holds", "list"], ["requests", "list"], ["clients", "list"], ["policy", "validate"], ["policy", "default", "access.yaml"],
            ["audit", "query", "--limit", "3"], ["erase", "c2", "--reason", "asked"], ["erase", "list"],
        ]
        let dataKeyed: Set<String> = ["by_rule", "states", "fields", "figures", "counts", "by_category", "by_purpose", "by_action"]
        func badKeys(_ value: Any, _ path: String) -> [String] {
            if let object = value as? [String: Any] {
                return object.flatMap { key, child -> [String] in
                    let here = path.isEmpty ? key : path + "." + key
                    let ok = key.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil
                    return (ok ? [] : [here]) + (dataKeyed.contains(key) ? [] : badKeys(child, here))
                }
            }
            if let array = value as? [Any] { return array.flatMap { badKeys($0, path + "[]") } }
            return []
        }
        var backupIDs: [String] = []
        for command in commands {
            let result = try CLI.run(command + ["--json"], environment: env)
            #expect(result.status == 0, "\(command.joined(separator: " ")): \(result.stderr)")
            let object = try result.json()
            #expect(badKeys(object, "").isEmpty, "\(command.joined(separator: " ")): \(badKeys(object, "").sorted())")
            if command == ["backup", "create"] { backupIDs.append((object["backup"] as? [String: Any])?["id"] as? String ?? "") }
            if command == ["backup", "list"] { backupIDs.append(((object["backups"] as? [[String: Any]])?.first)?["id"] as? String ?? "-") }
        }
        #expect(backupIDs.count == 2 && backupIDs[0] == backupIDs[1] && !backupIDs[0].isEmpty, "\(backupIDs)")
    }

    /// Every command's answer, on success and on failure, is one line valid against its JSON
    /// Schema in docs/schemas/ (issue 22, point 1): scripts/json-schemas.py runs a scenario
    /// that calls each of them on a scratch vault. A key renamed, dropped or added fails it
    /// until the schema is regenerated (--write) and the change reviewed.
    @Test func everyCommandAnswersAsItsCommittedSchemaSays() throws {
        let probe = try CLI.execute(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", "import jsonschema"], environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"])
        guard probe.status == 0 else {
            if ProcessInfo.processInfo.environment["CI"] == "true" { Issue.record("python3 has no jsonschema module: CI must check the schemas") }
            else { print("everyCommandAnswersAsItsCommittedSchemaSays: python3 has no jsonschema module (apt install python3-jsonschema); not checked") }
            return
        }
        let script = DocFiles.root.appendingPathComponent("scripts/json-schemas.py").path
        let result = try CLI.execute(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, "--bin", CLI.binary.path],
                                     environment: ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"])
        #expect(result.status == 0, "\(result.stderr)\(result.stdout)")
        #expect(result.stdout.contains("answers of "), "\(result.stdout)")
    }
}

