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
}
