import Foundation
import Testing

/// Flags mean one thing (issue 22, point 2): a single-valued option given twice is a usage
/// error instead of keeping the last, and a mistyped subcommand is named with the nearest one.
@Suite("privacyctl's command line")
struct CommandLineTests {
    @Test func aSingleValuedOptionGivenTwiceIsAUsageError() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let twice = try CLI.run(["audit", "query", "--actor", "a", "--actor", "b", "--json"], environment: v.environment())
        #expect(twice.status == 64 && twice.stderr.contains("--actor is given 2 times"), "\(twice.stderr)")
        let error = try twice.json()
        #expect(error["ok"] as? Bool == false && ((error["error"] as? [String: Any])?["message"] as? String)?.contains("--actor") == true)
        let equals = try CLI.run(["records", "put", "--subject=S1", "--subject=S2", "--set", "email=a@example.org"], environment: v.environment())
        #expect(equals.status == 64 && equals.stderr.contains("--subject"), "\(equals.stderr)")
        // Options that repeat by design still do.
        let repeated = try CLI.run(["records", "put", "--subject", "S1", "--set", "email=a@example.org", "--set", "full_name=Ana"], environment: v.environment())
        #expect(repeated.status == 0, "\(repeated.stderr)")
        #expect(try CLI.run(["records", "get", "--subject", "S1", "--field", "email", "--field", "full_name"], environment: v.environment()).status == 0)
    }

    @Test func aMistypedSubcommandIsNamedWithTheNearestOne() throws {
        let top = try CLI.run(["recods", "get", "--subject", "S1"])
        #expect(top.status == 64 && top.stderr.contains("unknown command 'recods'; did you mean 'records'?"), "\(top.stderr)")
        let nested = try CLI.run(["records", "gte", "--subject", "S1", "--json"])
        #expect(nested.status == 64 && nested.stderr.contains("privacyctl records: unknown command 'gte'; did you mean 'get'?"), "\(nested.stderr)")
        let nestedJSON = try nested.json()
        #expect(nested.stdout.split(separator: "\n").count == 1 && nestedJSON["ok"] as? Bool == false)
        let far = try CLI.run(["zzzz"])
        #expect(far.status == 64 && far.stderr.contains("one of: init, keys"), "\(far.stderr)")
        #expect(!far.stderr.contains("Unknown option") && !far.stderr.contains("Unexpected argument"))
    }

    /// A wrapper that always passes the vault and the secret works with the commands that
    /// need no secret too; they ignore it, and say so with --verbose.
    @Test func keylessCommandsAcceptTheSecretOptionsAndIgnoreThem() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let passphrase = try v.scratch.secret("passphrase", "not used at all")
        let receipt = v.scratch.file("missing-receipt.json")
        let keyless: [(command: [String], status: Int32)] = [
            (["audit", "verify"], 0), (["audit", "public-key"], 0), (["policy", "validate"], 0), (["backup", "list"], 0),
            (["access", "check", "--role", "admin", "--action", "read", "--field", "email", "--purpose", "privacy-compliance"], 0),
            (["erase", "verify-receipt", receipt], 66), (["consent", "verify-receipt", receipt], 66),
        ]
        for (command, status) in keyless {
            let name = command.prefix(2).joined(separator: " ")
            let withKey = try CLI.run(command + ["--vault", v.vault, "--key-file", v.keyFile])
            #expect(withKey.status == status, "\(name) --key-file: \(withKey.stderr)")
            let withPassphrase = try CLI.run(command + ["--vault", v.vault, "--passphrase-file", passphrase, "--verbose"])
            #expect(withPassphrase.status == status, "\(name) --passphrase-file: \(withPassphrase.stderr)")
            #expect(withPassphrase.stderr.contains("\(name) needs no root secret: --passphrase-file ignored"), "\(name): \(withPassphrase.stderr)")
            #expect(!withKey.stderr.contains("ignored"), "said only with --verbose")
        }
    }
}

