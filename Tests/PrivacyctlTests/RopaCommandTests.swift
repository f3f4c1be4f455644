import Foundation
import Testing

/// `privacyctl ropa` end to end: the three formats from a new vault's default
/// processing.yaml, the JSON summary, evidence kept without --force, and a vault without the
/// file refused with a clear error.
@Suite("privacyctl ropa")
struct RopaCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    @Test func writesEachFormatAndSummarisesIt() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment(actor: "dpo")
        let json = v.scratch.file("ropa.json")
        let made = try CLI.run(["ropa", "--format", "json", "--out", json, "--json"], environment: env)
        #expect(made.status == 0, "\(made.stderr)")
        let summary = try made.json()
        #expect(summary["ok"] as? Bool == true && summary["file"] as? String == json && summary["format"] as? String == "json")
        #expect(summary["activities"] as? Int == 7 && (summary["sha256"] as? String)?.count == 64)
        let record = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: json))) as? [String: Any])
        let activities = try #require(record["activities"] as? [[String: Any]])
        let orders = try #require(activities.first { $0["id"] as? String == "customer-orders" })
        #expect((orders["purposes"] as? [[String: Any]])?.first?["lawful_basis"] as? String == "contract")
        #expect((orders["recipients"] as? [[String: Any]])?.contains { $0["country"] as? String == "TW" } == true)

        let csv = v.scratch.file("ropa.csv")
        #expect(try CLI.run(["ropa", "--format", "csv", "--out", csv], environment: env).status == 0)
        let rows = try String(contentsOfFile: csv, encoding: .utf8).components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(rows.count >= 8 && rows[0].hasPrefix("Controller,"), "a header and one row per activity")

        // HTML by default, into the vault's Reports; the path on standard output.
        let html = try CLI.run(["ropa"], environment: env)
        #expect(html.status == 0, "\(html.stderr)")
        let file = html.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(file.hasPrefix(v.vault + "/Reports/ropa-") && file.hasSuffix(".html"))
        #expect(try String(contentsOfFile: file, encoding: .utf8).contains("data-figure=\"activity:customer-support:transfer:0:safeguard\">pipl-standard-contract<"))
        #expect(html.stderr.contains("7 processing activities"))

        // Each export is one ropa.export event by the actor.
        let events = try CLI.run(["audit", "query", "--action", "ropa.export", "--json"], environment: env)
        let listed = try #require(events.json()["events"] as? [[String: Any]])
        #expect(listed.count == 3 && listed.allSatisfy { $0["actor"] as? String == "dpo" && $0["outcome"] as? String == "allowed" })
        #expect(listed.contains { ($0["reason"] as? String)?.contains("sha256 \(summary["sha256"] as? String ?? "-")") == true })

        // Evidence: a different file is kept unless --force.
        try Data("an earlier record".utf8).write(to: URL(fileURLWithPath: csv))
        let refused = try CLI.run(["ropa", "--format", "csv", "--out", csv], environment: env)
        #expect(refused.status == Exit.alreadyExists && refused.stderr.contains("--force"))
        #expect(try CLI.run(["ropa", "--format", "csv", "--out", csv, "--force"], environment: env).status == 0)
        #expect(try String(contentsOfFile: csv, encoding: .utf8).hasPrefix("Controller,"))

        // A role without the policy action is refused.
        let auditor = try CLI.run(["ropa", "--out", v.scratch.file("x.html"), "--role", "auditor"], environment: env)
        #expect(auditor.status == Exit.denied)
    }

    @Test func aVaultWithoutProcessingYAMLWorksButRefusesTheExport() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        try FileManager.default.removeItem(atPath: v.vault + "/Policies/processing.yaml")
        #expect(try CLI.run(["records", "put", "--subject", "S1", "--set", "email=s1@example.org"], environment: env).status == 0)
        let refused = try CLI.run(["ropa", "--json"], environment: env)
        #expect(refused.status == Exit.notFound)
        let error = try #require(refused.json()["error"] as? [String: Any])
        #expect((error["message"] as? String)?.contains("processing.yaml is missing") == true && error["code"] as? String == "not-found")
        #expect(refused.stderr.contains("privacyctl policy default processing.yaml"))

        // policy validate notes the missing file and still passes.
        let validate = try CLI.run(["policy", "validate", "--json"], environment: ["PRIVACYKIT_VAULT": v.vault])
        #expect(validate.status == 0)
        let notes = try #require(validate.json()["notes"] as? [String])
        #expect(notes.count == 1 && notes[0].contains("processing.yaml is missing"))
        let text = try CLI.run(["policy", "validate"], environment: ["PRIVACYKIT_VAULT": v.vault])
        #expect(text.status == 0 && text.stderr.contains("note: ") && text.stderr.contains("processing.yaml"))

        // The default to start from; once in place, the export works.
        let defaults = try CLI.run(["policy", "default", "processing.yaml"])
        #expect(defaults.status == 0 && defaults.stdout.hasPrefix("# PrivacyKit default policy: processing.yaml"))
        try Data(defaults.stdout.utf8).write(to: URL(fileURLWithPath: v.vault + "/Policies/processing.yaml"))
        #expect(try CLI.run(["ropa", "--out", v.scratch.file("ropa.html")], environment: env).status == 0)
    }

    @Test func anInvalidProcessingYAMLIsNamedWithItsLine() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let path = v.vault + "/Policies/processing.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "purposes: [profiling]", with: "purposes: [profilng]")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let validate = try CLI.run(["policy", "validate", "--json"], environment: ["PRIVACYKIT_VAULT": v.vault])
        #expect(validate.status == Exit.invalidInput)
        let errors = try #require(validate.json()["errors"] as? [String])
        #expect(errors.count == 2, "\(errors)")
        #expect(errors.contains { $0.contains("processing.yaml: line ") && $0.contains("key 'activities.analytics.purposes' 'profilng' is not a purpose") })
        // The vault still opens for everything else; ropa names the error.
        #expect(try CLI.run(["records", "list"], environment: v.environment()).status == 0)
        let ropa = try CLI.run(["ropa", "--out", v.scratch.file("r.html")], environment: v.environment())
        #expect(ropa.status == Exit.invalidInput && ropa.stderr.contains("profilng"))
    }
}
