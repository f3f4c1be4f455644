import Foundation
import Testing

/// `--role/--purpose`, the per-vault defaults file, `access check`, `policy validate`.
@Suite("privacyctl access")
struct AccessCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    func vaultWithCustomer() throws -> (PrivacyctlTests.KeyFileVault, [String: String]) {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let put = try CLI.run(["records", "put", "--subject", "S1", "--set", "email=Jane.Doe@example.com", "--set", "phone=+1 415 555 0123",
                               "--set", "national_id=123-45-6789", "--set", "country=US", "--json"], environment: env)
        #expect(put.status == 0, "\(put.stderr)")
        return (v, env)
    }

    @Test func roleAndPurposeDecideWhatComesBack() throws {
        let (v, env) = try vaultWithCustomer()
        let agent = ["--role", "support-agent", "--purpose", "customer-support"]
        let email = try CLI.run(["records", "get", "--subject", "S1", "--field", "email", "--json"] + agent, environment: env)
        #expect(email.status == 0, "\(email.stderr)")
        #expect(try email.json()["fields"] as? [String: String] == ["email": "jane.doe@example.com"])
        let id = try CLI.run(["records", "get", "--subject", "S1", "--field", "national_id", "--json"] + agent, environment: env)
        #expect(try id.json()["fields"] as? [String: String] == ["national_id": "****6789"])
        #expect(!id.stdout.contains("123456789") && !id.stderr.contains("123456789"))

        let denied = try CLI.run(["records", "get", "--subject", "S1", "--field", "phone", "--role", "marketer", "--purpose", "marketing-email", "--json"], environment: env)
        #expect(denied.status == Exit.denied)
        let error = try #require(denied.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "denied")
        #expect((error["message"] as? String)?.contains("roles.marketer.read") == true)
        #expect(!denied.stdout.contains("0123") && !denied.stderr.contains("4155550123"))
        let wrongPurpose = try CLI.run(["records", "get", "--subject", "S1", "--field", "email", "--role", "marketer", "--purpose", "customer-support"], environment: env)
        #expect(wrongPurpose.status == Exit.denied && wrongPurpose.stderr.contains("roles.marketer.purposes"))
        let unknown = try CLI.run(["records", "get", "--subject", "S1", "--role", "superuser"], environment: env)
        #expect(unknown.status == Exit.invalidInput && unknown.stderr.contains("role 'superuser' is not defined"))

        // The audit log has what was used, and the denials.
        let events = try CLI.run(["audit", "query", "--json"], environment: env).json()
        let list = try #require(events["events"] as? [[String: Any]])
        #expect(list.contains { $0["role"] as? String == "support-agent" && $0["purpose"] as? String == "customer-support" && $0["action"] as? String == "record.read" })
        #expect(list.filter { $0["outcome"] as? String == "denied" }.count == 3)
        withExtendedLifetime(v) {}
    }

    /// Several subjects in one call: each answers on its own, in the order given.
    @Test func severalSubjectsAnswerEachOnItsOwn() throws {
        let (v, env) = try vaultWithCustomer()
        #expect(try CLI.run(["records", "put", "--subject", "S2", "--set", "email=s2@example.com"], environment: env).status == 0)
        #expect(try CLI.run(["restrict", "S2", "--reason", "art. 18"], environment: env).status == 0)
        let ids = v.vault + "/../page.txt"
        try "S1\nnobody\n\nS2\n".write(toFile: ids, atomically: true, encoding: .utf8)
        let agent = ["--role", "support-agent", "--purpose", "customer-support"]
        let run = try CLI.run(["records", "get", "--subjects-file", ids, "--field", "email", "--json"] + agent, environment: env)
        #expect(run.status == 0, "\(run.stderr)")
        let items = try #require(try run.json()["subjects"] as? [[String: Any]])
        #expect(items.map { $0["subject"] as? String } == ["S1", "nobody", "S2"])
        #expect(items[0]["fields"] as? [String: String] == ["email": "jane.doe@example.com"])
        #expect((items[1]["error"] as? [String: Any])?["code"] as? String == "not-found")
        #expect((items[2]["error"] as? [String: Any])?["code"] as? String == "denied")
        #expect((items[2]["error"] as? [String: Any])?["exit_code"] as? Int == Int(Exit.denied), "the same error shape as a command's")
        #expect(!run.stdout.contains("s2@example.com"))
        let text = try CLI.run(["records", "get", "--subject", "S1", "--subject", "S2", "--field", "email"] + agent, environment: env)
        #expect(text.status == 0 && text.stdout.contains("== S1") && text.stdout.contains("email: jane.doe@example.com") && text.stdout.contains("denied:"))
        #expect(try CLI.run(["records", "get", "--field", "email"], environment: env).status == Exit.usage)
        withExtendedLifetime(v) {}
    }

    @Test func theVaultDefaultsFileSetsRoleAndPurpose() throws {
        let (v, env) = try vaultWithCustomer()
        let defaults = v.vault + "/privacyctl.yaml"
        #expect(try String(contentsOfFile: defaults, encoding: .utf8).contains("role: admin"))
        let grant = try CLI.run(["consent", "grant", "--subject", "S1", "--purpose", "marketing-email", "--channel", "web-form"], environment: env)
        #expect(grant.status == 0, "\(grant.stderr)")
        try "role: marketer\npurpose: marketing-email\n".write(toFile: defaults, atomically: true, encoding: .utf8)
        let email = try CLI.run(["records", "get", "--subject", "S1", "--json"], environment: env)
        #expect(try email.json()["fields"] as? [String: String] == ["email": "jane.doe@example.com"])
        #expect(try CLI.run(["records", "put", "--subject", "S2", "--set", "email=x@example.com"], environment: env).status == Exit.denied)
        // Options win over the file.
        let admin = try CLI.run(["records", "get", "--subject", "S1", "--role", "admin", "--purpose", "privacy-compliance", "--json"], environment: env)
        #expect((try admin.json()["fields"] as? [String: String])?["phone"] == "+14155550123")
        // An unknown role or purpose in the defaults is a policy error with its place.
        try "# defaults\nrole: root\npurpose: fun\n".write(toFile: defaults, atomically: true, encoding: .utf8)
        let validate = try CLI.run(["policy", "validate", "--json"], environment: ["PRIVACYKIT_VAULT": v.vault])
        #expect(validate.status == Exit.invalidInput)
        let errors = try #require(validate.json()["errors"] as? [String])
        #expect(errors.count == 2)
        #expect(errors.contains { $0.hasSuffix("privacyctl.yaml: line 2: key 'role' unknown role 'root' (access.yaml has admin, analyst, auditor, marketer, privacy-officer, service, support-agent)") })
        #expect(errors.contains { $0.contains("privacyctl.yaml: line 3: key 'purpose' unknown purpose 'fun'") })
        let refused = try CLI.run(["records", "list"], environment: env)
        #expect(refused.status == Exit.invalidInput && refused.stderr.contains("role 'root' is not defined"))
        try "role: [admin\n".write(toFile: defaults, atomically: true, encoding: .utf8)
        let broken = try CLI.run(["records", "list"], environment: env)
        #expect(broken.status == Exit.invalidInput && broken.stderr.contains("privacyctl.yaml"))
    }

    @Test func accessCheckExplainsDecisions() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = ["PRIVACYKIT_VAULT": v.vault]  // no root secret needed
        let full = try CLI.run(["access", "check", "--role", "support-agent", "--action", "read", "--field", "email", "--purpose", "customer-support", "--json"], environment: env)
        #expect(full.status == 0)
        #expect(try full.json()["decision"] as? String == "allowed" && (try full.json()["rule"] as? String) == "roles.support-agent.read includes email")
        let masked = try CLI.run(["access", "check", "--role", "support-agent", "--action", "read", "--field", "full_name", "--purpose", "customer-support"], environment: env)
        #expect(masked.status == 0 && masked.stdout.contains("masked: roles.support-agent.read_masked includes full_name"))
        let denied = try CLI.run(["access", "check", "--role", "auditor", "--action", "read", "--field", "email", "--purpose", "privacy-compliance"], environment: env)
        #expect(denied.status == Exit.denied && denied.stdout.contains("denied: roles.auditor.actions does not include read"))
        let noPurpose = try CLI.run(["access", "check", "--role", "admin", "--action", "read"], environment: env)
        #expect(noPurpose.status == Exit.denied && noPurpose.stdout.contains("read needs a purpose"))
        let keys = try CLI.run(["access", "check", "--role", "admin", "--action", "keys"], environment: env)
        #expect(keys.status == 0)
        for bad in [["--role", "root", "--action", "read"], ["--role", "admin", "--action", "fly"],
                    ["--role", "admin", "--action", "read", "--field", "shoe_size"], ["--role", "admin", "--action", "read", "--purpose", "fun"]] {
            let result = try CLI.run(["access", "check"] + bad, environment: env)
            #expect(result.status == Exit.invalidInput, "\(bad): \(result.stderr)")
        }
    }

    @Test func policyValidateReportsEveryErrorAndABrokenPolicyChangesNothing() throws {
        let (v, env) = try vaultWithCustomer()
        #expect(try CLI.run(["policy", "validate"], environment: ["PRIVACYKIT_VAULT": v.vault]).status == 0)
        let access = v.vault + "/Policies/access.yaml"
        try """
            version: 1
            roles:
              a:
                actions: [fly]
              b:
                actions: [read]
                read: [shoe_size]
                purposes: [profiling]
              c:
                actions: [read]
                read: [email]
                purposes: [fun]

            """.write(toFile: access, atomically: true, encoding: .utf8)
        let before = try Data(contentsOf: URL(fileURLWithPath: v.vault + "/vault.sqlite"))
        let result = try CLI.run(["policy", "validate", "--json"], environment: ["PRIVACYKIT_VAULT": v.vault])
        #expect(result.status == Exit.invalidInput)
        let errors = try #require(result.json()["errors"] as? [String])
        #expect(errors.count == 3)
        #expect(errors.contains { $0.contains("access.yaml: line 4: key 'roles.a.actions' unknown action 'fly'") })
        #expect(errors.contains { $0.contains("line 7: key 'roles.b.read' unknown field 'shoe_size'") })
        #expect(errors.contains { $0.contains("line 12: key 'roles.c.purposes' unknown purpose 'fun'") })
        // Every command refuses the vault, naming the first error, and writes nothing.
        let get = try CLI.run(["records", "get", "--subject", "S1"], environment: env)
        #expect(get.status == Exit.invalidInput && get.stderr.contains("access.yaml: line 4"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: v.vault + "/vault.sqlite")) == before)
        // The default file, to merge from.
        let defaults = try CLI.run(["policy", "default", "access.yaml"])
        #expect(defaults.status == 0 && defaults.stdout.contains("support-agent:") && defaults.stdout.hasPrefix("# PrivacyKit default policy: access.yaml"))
        #expect(try CLI.run(["policy", "default", "nope.yaml"]).status == PrivacyctlTests.Exit.notFound)
        // A file from before access control names the way out.
        try "version: 1\n".write(toFile: access, atomically: true, encoding: .utf8)
        let old = try CLI.run(["policy", "validate"], environment: ["PRIVACYKIT_VAULT": v.vault])
        #expect(old.status == Exit.invalidInput && old.stderr.contains("key 'roles' is missing") && old.stderr.contains("privacyctl policy default access.yaml"))
        // A YAML syntax error is named too.
        try "version: 1\nroles: [\n".write(toFile: access, atomically: true, encoding: .utf8)
        let syntax = try CLI.run(["policy", "validate"], environment: ["PRIVACYKIT_VAULT": v.vault])
        #expect(syntax.status == Exit.invalidInput && syntax.stderr.contains("access.yaml: line 3"))
    }

    /// Values can come from a file or standard input instead of the command line (where
    /// other users see them in ps).
    @Test func putReadsValuesFromAFileOrStandardInput() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let file = v.scratch.file("values.txt")
        try "# a customer\nemail=Jane@Example.com\r\nnational_id=123-45-6789\n\n".write(toFile: file, atomically: true, encoding: .utf8)
        let put = try CLI.run(["records", "put", "--subject", "S9", "--values-file", file, "--json"], environment: env)
        #expect(put.status == 0, "\(put.stderr)")
        #expect(try put.json()["changed_fields"] as? [String] == ["email", "national_id"])
        let get = try CLI.run(["records", "get", "--subject", "S9", "--json"], environment: env)
        #expect(try get.json()["fields"] as? [String: String] == ["email": "jane@example.com", "national_id": "123456789"])
        try "email=jane@example.com\nSECRET-CANARY-no-equals\n".write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try CLI.run(["records", "put", "--subject", "S9", "--values-file", file], environment: env)
        #expect(bad.status == Exit.invalidInput && bad.stderr.contains("line 2: expected FIELD=VALUE") && !bad.stderr.contains("CANARY"))
    }
}
