import Foundation
import Testing

/// `records find --value-file FILE|-`: the value looked for need not be on the command line
/// (where `ps` and the shell's history show it).
@Suite("privacyctl records find --value-file")
struct RecordsFindValueFileTests {
    typealias Exit = PrivacyctlTests.Exit

    @Test func findReadsTheValueFromAFileOrStandardInput() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let put = try CLI.run(["records", "put", "--subject", "c1", "--set", "email=ann@example.com", "--set", "national_id=AB123456C"], environment: env)
        #expect(put.status == 0, "\(put.stderr)")

        func find(_ field: String, file contents: String?, stdin: String? = nil) throws -> CLI.Result {
            var arguments = ["records", "find", "--field", field, "--json", "--value-file"]
            if let contents {
                let path = v.scratch.file("value-\(UUID().uuidString)")
                try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
                arguments.append(path)
            } else {
                arguments.append("-")
            }
            return try CLI.run(arguments, environment: env, input: stdin.map { Data($0.utf8) })
        }
        // One final newline, LF or CRLF, is not part of the value; normalization applies
        // as for --value.
        for contents in ["ann@example.com", "ann@EXAMPLE.com\n", "ann@example.com\r\n"] {
            let found = try find("email", file: contents)
            #expect(found.status == 0, "\(found.stderr)")
            #expect(try found.json()["matches"] as? [String] == ["c1"], "\(contents.debugDescription)")
        }
        let piped = try find("national_id", file: nil, stdin: "AB123456C\n")
        #expect(piped.status == 0, "\(piped.stderr)")
        #expect(try piped.json()["matches"] as? [String] == ["c1"])
        let none = try find("email", file: "nobody@example.com\n")
        #expect(try none.json()["matches"] as? [String] == [])
        #expect(!none.stdout.contains("nobody") && !none.stderr.contains("nobody"))
    }

    @Test func valueAndValueFileAreOneOrTheOther() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        let file = v.scratch.file("value")
        try Data("ann@example.com\n".utf8).write(to: URL(fileURLWithPath: file))

        let both = try CLI.run(["records", "find", "--field", "email", "--value", "ann@example.com", "--value-file", file], environment: env)
        #expect(both.status == Exit.usage)
        #expect(both.stderr.contains("--value-file"))
        let neither = try CLI.run(["records", "find", "--field", "email"], environment: env)
        #expect(neither.status == Exit.usage)
        #expect(neither.stderr.contains("--value-file"))

        let empty = v.scratch.file("empty")
        try Data("\n".utf8).write(to: URL(fileURLWithPath: empty))
        let blank = try CLI.run(["records", "find", "--field", "email", "--value-file", empty], environment: env)
        #expect(blank.status == Exit.invalidInput)
        #expect(blank.stderr.contains("--value-file") && blank.stderr.contains(empty))
        let missing = try CLI.run(["records", "find", "--field", "email", "--value-file", v.scratch.file("missing")], environment: env)
        #expect(missing.status == Exit.notFound)
        #expect(missing.stderr.contains("--value-file"))
        let emptyStdin = try CLI.run(["records", "find", "--field", "email", "--value-file", "-"], environment: env)
        #expect(emptyStdin.status == Exit.invalidInput)
        // Refused before the vault is opened: no unlock, no audit event.
        let events = try CLI.run(["audit", "events", "--json"], environment: env)
        #expect(!events.stdout.contains("\"records.find\""), "\(events.stdout.prefix(2000))")
    }
}
