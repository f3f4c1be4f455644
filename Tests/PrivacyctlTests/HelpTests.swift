import ArgumentParser
import Foundation
@testable import privacyctl
import Testing

/// Every command's help ends with examples, and every example parses against the real
/// commands (flags, values, subcommands), so none can drift from what privacyctl accepts.
@Suite("privacyctl help, examples, completions and man page")
struct HelpTests {
    /// Every leaf command below `privacyctl`, from the binary's own description of itself.
    static let leafCommands: [String] = {
        guard let result = try? CLI.run(["--experimental-dump-help"]),
              let object = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
              let root = object["command"] as? [String: Any] else { return [] }
        var leaves: [String] = []
        func walk(_ command: [String: Any], _ path: [String]) {
            let subcommands = command["subcommands"] as? [[String: Any]] ?? []
            if subcommands.isEmpty, !path.isEmpty, path != ["help"] { leaves.append(path.joined(separator: " ")) }
            for sub in subcommands { walk(sub, path + [sub["commandName"] as? String ?? "?"]) }
        }
        walk(root, [])
        return leaves.sorted()
    }()

    /// Splits an example as a POSIX shell would for these simple cases: words, single
    /// quotes; a redirection ends the command.
    static func words(_ line: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quoted = false
        var inWord = false
        for ch in line {
            if ch == "'" { quoted.toggle(); inWord = true; continue }
            if ch == " " && !quoted {
                if inWord { words.append(current) }
                current = ""
                inWord = false
                continue
            }
            current.append(ch)
            inWord = true
        }
        if inWord { words.append(current) }
        if let redirect = words.firstIndex(where: { $0 == ">" || $0 == "<" }) { words.removeSubrange(redirect...) }
        return words
    }

    @Test func thereAreLeafCommands() {
        #expect(Self.leafCommands.count > 50)
        #expect(Self.leafCommands.contains("backup restore") && Self.leafCommands.contains("records put"))
    }

    @Test(arguments: leafCommands)
    func everyCommandsHelpEndsWithExamplesThatParse(_ path: String) throws {
        let examples = try #require(Examples.table.first { $0.key == path }?.value, "no examples for \(path)")
        #expect(!examples.isEmpty)
        for example in examples {
            let words = Self.words(example)
            #expect(words.first == "privacyctl", "\(example)")
            let arguments = Array(words.dropFirst())
            // The example names this command (or its default subcommand's parent).
            let named = path.split(separator: " ").map(String.init)
            #expect(arguments.starts(with: named) || arguments.starts(with: named.dropLast()), "\(example) is not an example of \(path)")
            do {
                let command = try Privacyctl.parseAsRoot(arguments)
                let name = type(of: command).configuration.commandName ?? String(describing: type(of: command))
                #expect(name == named.last || String(describing: type(of: command)).lowercased() == named.last?.replacingOccurrences(of: "-", with: ""),
                        "\(example) parses as \(type(of: command)), not \(path)")
            } catch {
                Issue.record("\(example) does not parse: \(Privacyctl.message(for: error))")
            }
        }
        let help = try CLI.run(path.split(separator: " ").map(String.init) + ["--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Examples:") && help.stdout.contains(examples[0].prefix(20)), "\(path) --help shows no examples")
    }

    @Test func theTopLevelHelpShowsAFirstSession() throws {
        let help = try CLI.run(["--help"])
        #expect(help.stdout.contains("Examples:") && help.stdout.contains("privacyctl init"))
        for example in Examples.section("").split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) where example.hasPrefix("privacyctl ") {
            #expect(throws: Never.self, "\(example)") { _ = try Privacyctl.parseAsRoot(Array(Self.words(example).dropFirst())) }
        }
    }
}

/// Errors that say how to fix them (issue 10): the wrong key file's path and where it came
/// from, the closest valid role or field name, the values a missing policy key takes.
@Suite("privacyctl errors suggest the fix")
struct SuggestedFixTests {
    @Test func aWrongKeyFileIsNamedWithWhereItCameFrom() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let wrong = v.scratch.file("other.key")
        #expect(try CLI.run(["keys", "generate-key-file", wrong]).status == 0)
        let flag = try CLI.run(["keys", "status", "--vault", v.vault, "--key-file", wrong])
        #expect(flag.status == 67)
        #expect(flag.stderr.contains("key file \(wrong) (from --key-file) does not open the keyring"), "\(flag.stderr)")
        let variable = try CLI.run(["keys", "status", "--vault", v.vault], environment: ["PRIVACYKIT_KEY_FILE": wrong])
        #expect(variable.stderr.contains("key file \(wrong) (from PRIVACYKIT_KEY_FILE)"), "\(variable.stderr)")
        // The key itself never appears.
        let key = String(decoding: try Data(contentsOf: URL(fileURLWithPath: wrong)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!flag.stderr.contains(key) && !variable.stderr.contains(key))
    }

    @Test func aMistypedRolePurposeOrFieldGetsTheClosestName() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let env = v.environment()
        #expect(try CLI.run(["records", "put", "--subject", "c1", "--set", "country=DE"], environment: env).status == 0)
        let role = try CLI.run(["records", "get", "--subject", "c1", "--role", "suport-agent", "--purpose", "customer-support"], environment: env)
        #expect(role.status == 65 && role.stderr.contains("did you mean 'support-agent'?"), "\(role.stderr)")
        let purpose = try CLI.run(["records", "get", "--subject", "c1", "--role", "support-agent", "--purpose", "custmer-support"], environment: env)
        #expect(purpose.stderr.contains("did you mean 'customer-support'?"), "\(purpose.stderr)")
        let field = try CLI.run(["records", "find", "--field", "emial", "--value", "x@example.com"], environment: env)
        #expect(field.status == 65 && field.stderr.contains("did you mean 'email'?"), "\(field.stderr)")
        let check = try CLI.run(["access", "check", "--role", "marketr", "--action", "read"], environment: env)
        #expect(check.stderr.contains("did you mean 'marketer'?"), "\(check.stderr)")
    }

    @Test func aMissingPolicyKeySaysWhatItTakes() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        let policies = v.scratch.file("policies")
        try FileManager.default.copyItem(atPath: v.vault + "/Policies", toPath: policies)
        let schema = policies + "/schema.yaml"
        var text = try String(contentsOfFile: schema, encoding: .utf8)
        let line = "    normalizer: email\n"
        #expect(text.contains(line))
        text = text.replacingOccurrences(of: line, with: "")
        try text.write(toFile: schema, atomically: true, encoding: .utf8)
        let result = try CLI.run(["policy", "validate", "--directory", policies])
        #expect(result.status != 0)
        let all = result.stdout + result.stderr
        #expect(all.contains("key 'fields.email.normalizer' is missing (add it, one of email, phone"), "\(all)")
        text = text.replacingOccurrences(of: "    mask: email\n", with: "    mask: emial\n    normalizer: email\n")
        try text.write(toFile: schema, atomically: true, encoding: .utf8)
        let typo = try CLI.run(["policy", "validate", "--directory", policies])
        #expect((typo.stdout + typo.stderr).contains("did you mean 'email'?"), "\(typo.stdout)\(typo.stderr)")
    }
}

extension HelpTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// A bash command line, through CLI.execute (stdout and stderr together).
    static func shell(_ command: String) throws -> (status: Int32, output: String) {
        let result = try CLI.execute(URL(fileURLWithPath: "/bin/bash"), ["-c", command],
                                     environment: ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()])
        return (result.status, result.stdout + result.stderr)
    }

    /// The committed man page is current (scripts/generate-man): every command and every
    /// example is in it, and groff renders it without a warning.
    @Test func theManPageCoversEveryCommandAndExample() throws {
        let page = Self.repository + "/docs/man/privacyctl.1"
        let source = try String(contentsOfFile: page, encoding: .utf8)
        let lint = try Self.shell("groff -man -Tascii -ww -z '\(page)' 2>&1")
        #expect(lint.status == 0 && lint.output.isEmpty, "groff: \(lint.output)")
        for path in Self.leafCommands {
            #expect(source.contains(path.split(separator: " ").last.map(String.init) ?? path), "the man page lacks \(path): run scripts/generate-man")
        }
        for (path, examples) in Examples.table {
            for example in examples {
                // mdoc escapes hyphens and backslashes; compare on what remains.
                let plain = source.replacingOccurrences(of: "\\-", with: "-").replacingOccurrences(of: "\\e", with: "\\")
                let firstLine = Examples.wrapped(example).split(separator: "\n").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                #expect(plain.contains(firstLine), "the man page lacks the example '\(firstLine)' of '\(path)': run scripts/generate-man")
            }
        }
    }

    /// The man page's EXIT STATUS lists every exit code with its JSON word, and its
    /// ENVIRONMENT every PRIVACYKIT_ variable privacyctl and the library read (issue 22, point 8).
    @Test func theManPageListsExitCodesAndTheEnvironment() throws {
        let source = try String(contentsOfFile: Self.repository + "/docs/man/privacyctl.1", encoding: .utf8)
        let status = try #require(source.range(of: ".Sh \"EXIT STATUS\"")).upperBound
        let statusSection = String(source[status...].split(separator: ".Sh ", maxSplits: 1).first ?? "")
        for code in ExitStatus.allCases {
            #expect(statusSection.contains(".It \(code.rawValue)\n.Cm \(code.name) :"), "EXIT STATUS lacks \(code.rawValue) \(code.name)")
        }
        let environment = try #require(source.range(of: ".Sh ENVIRONMENT")).upperBound
        let environmentSection = String(source[environment...].split(separator: ".Sh ", maxSplits: 1).first ?? "")
        let read = try Self.shell("grep -rhoE 'PRIVACYKIT_[A-Z_]+' '\(Self.repository)/Sources/privacyctl' '\(Self.repository)/Sources/PrivacyKit' | sort -u")
        let variables = read.output.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("PRIVACYKIT_TEST_") && $0 != "PRIVACYKIT_TOKEN" && $0 != "PRIVACYKIT_" }
        #expect(variables.count >= 6, "\(variables)")
        for variable in variables {
            #expect(environmentSection.contains(".It Ev \(variable)\n"), "ENVIRONMENT lacks \(variable): add it to scripts/generate-man")
        }
    }

    /// Roles, purposes and fields complete from the policies of the vault on the command line
    /// (or PRIVACYKIT_VAULT), read without a secret; policy files from the build's defaults.
    @Test func completionsComeFromTheVault() throws {
        let v = try PrivacyctlTests.KeyFileVault()
        func complete(_ path: [String], _ option: String, environment: [String: String] = [:]) throws -> [String] {
            let words = ["privacyctl"] + path + (environment.isEmpty ? ["--vault", v.vault] : []) + [option, ""]
            let result = try CLI.run(["---completion"] + path + ["--", option, String(words.count - 1), "0"] + words, environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try complete(["records", "get"], "--role").contains("support-agent"))
        #expect(try complete(["records", "get"], "--purpose", environment: ["PRIVACYKIT_VAULT": v.vault]).contains("marketing-email"))
        let fields = try complete(["records", "get"], "--field")
        #expect(fields.first == "full_name" && fields.contains("national_id"), "\(fields)")
        #expect(try complete(["consent", "status"], "--purpose").contains("sale-or-sharing"))
        let files = try CLI.run(["--generate-completion-script", "bash"]).stdout
        #expect(files.contains("access.yaml") && files.contains("purposes.yaml"), "policy default completes its files")
    }

    /// Completion scripts come from the binary for bash, zsh and fish, are valid shell, and
    /// scripts/install-completions puts them (and the man page) where shells look.
    @Test func completionsAreGeneratedAndInstallable() throws {
        let prefix = try Scratch()
        let install = try Self.shell("'\(Self.repository)/scripts/install-completions' --prefix '\(prefix.path)' --bin '\(CLI.binary.path)'")
        #expect(install.status == 0, "\(install.output)")
        let bash = prefix.path + "/share/bash-completion/completions/privacyctl"
        let zsh = prefix.path + "/share/zsh/site-functions/_privacyctl"
        let fish = prefix.path + "/share/fish/vendor_completions.d/privacyctl.fish"
        let man = prefix.path + "/share/man/man1/privacyctl.1"
        for file in [bash, zsh, fish, man] { #expect(FileManager.default.fileExists(atPath: file), "\(file) missing") }
        let bashText = try String(contentsOfFile: bash, encoding: .utf8)
        for word in ["rotate-kek", "verify-receipt", "--recovery-key-file"] { #expect(bashText.contains(word)) }
        #expect(try Self.shell("bash -n '\(bash)'").status == 0)
        // Sourced, it completes subcommands as bash would ask for them.
        let completed = try Self.shell("""
            source '\(bash)'
            COMP_WORDS=(privacyctl backup re); COMP_CWORD=2; COMP_LINE='privacyctl backup re'; COMP_POINT=${#COMP_LINE}
            _privacyctl 2>/dev/null || true
            printf '%s\\n' "${COMPREPLY[@]}"
            """)
        #expect(completed.output.contains("restore"), "bash completion of 'privacyctl backup re': \(completed.output)")
        #expect(try String(contentsOfFile: zsh, encoding: .utf8).hasPrefix("#compdef privacyctl"))
        #expect(try String(contentsOfFile: fish, encoding: .utf8).contains("privacyctl"))
        let bad = try Self.shell("'\(Self.repository)/scripts/install-completions' --nope")
        #expect(bad.status == 64 && bad.output.contains("--nope"))
    }
}
