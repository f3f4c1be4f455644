import Foundation
import Testing

/// The shell samples of the README, docs/ and the DocC catalog, against the built privacyctl:
/// every command line names real subcommands and flags, the blocks marked
/// `<!-- run: NAME -->` run, and the systemd units and crontab under docs/ are the ones shown
/// and are valid.
@Suite struct DocCommands {
    static let shellLanguages: Set<String> = ["sh", "bash", "shell", "console", "cron", "ini"]

    /// `privacyctl PATH… --help`, cached: the help text and the subcommand names it lists.
    final class HelpCache: @unchecked Sendable {
        typealias Help = (text: String, subcommands: Set<String>, defaultSubcommand: String?)
        private var cache: [[String]: Help] = [:]

        func help(_ path: [String]) throws -> Help? {
            if let known = cache[path] { return known }
            let result = try CLI.run(path + ["--help"])
            guard result.status == 0 else { return nil }
            var subcommands: Set<String> = []
            var defaultSubcommand: String?
            var inSection = false
            for line in result.stdout.components(separatedBy: "\n") {
                if line.hasPrefix("SUBCOMMANDS:") { inSection = true; continue }
                if inSection {
                    if !line.isEmpty && !line.hasPrefix(" ") { inSection = false; continue }
                    if let name = line.wholeMatch(of: /\ \ ([a-z][a-z0-9-]*)(?:\ \(default\))?(?:\s.*)?/) {
                        subcommands.insert(String(name.1))
                        if line.contains(" (default) ") { defaultSubcommand = String(name.1) }
                    }
                }
            }
            let entry = (result.stdout, subcommands, defaultSubcommand)
            cache[path] = entry
            return entry
        }
    }

    /// The privacyctl invocations in a shell text: continuation lines joined, comments
    /// dropped, split at `;`, `&&`, `||` and ` | `, as word lists starting after `privacyctl`.
    static func invocations(in text: String) -> [[String]] {
        let joined = text.replacingOccurrences(of: "\\\n", with: " ")
        var result: [[String]] = []
        for rawLine in joined.components(separatedBy: "\n") {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("#") { continue }
            let code = line.replacing(/\s#\s.*$/, with: "").replacing(/\s#$/, with: "")
            for segment in code.split(separator: /;|&&|\|\||\s\|\s/) {
                let words = words(String(segment))
                guard let start = words.firstIndex(where: { $0 == "privacyctl" || $0.hasSuffix("/privacyctl") || $0.hasSuffix("=privacyctl") })
                else { continue }
                result.append(Array(words[(start + 1)...]))
            }
        }
        return result
    }

    /// Shell-like words: white space separates, quotes group (and are removed).
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current = ""
        var quote: Character?
        var inWord = false
        for c in text {
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\"" || c == "'" {
                quote = c
                inWord = true
            } else if c.isWhitespace {
                if inWord { words.append(current); current = ""; inWord = false }
            } else {
                current.append(c)
                inWord = true
            }
        }
        if inWord { words.append(current) }
        return words
    }

    /// Problems with one invocation: an unknown subcommand path, or a flag its help lacks.
    static func check(_ words: [String], help: HelpCache) throws -> [String] {
        var path: [String] = []
        var index = 0
        guard var current = try help.help(path) else { return ["privacyctl --help fails"] }
        while index < words.count, current.subcommands.contains(words[index]), let next = try help.help(path + [words[index]]) {
            path.append(words[index])
            current = next
            index += 1
        }
        // `privacyctl erase cust-42 --reason R` runs erase's default subcommand.
        if let name = current.defaultSubcommand, let next = try help.help(path + [name]) {
            path.append(name)
            current = next
        }
        var problems: [String] = []
        if path.isEmpty, let first = words.first, !first.hasPrefix("-") {
            problems.append("'\(first)' is not a privacyctl command")
        }
        for word in words[index...] {
            guard let flag = word.drop(while: { $0 == "[" || $0 == "(" }).firstMatch(of: /^--[a-z0-9][a-z0-9-]*/)?.0 else { continue }
            if current.text.firstMatch(of: try Regex("\(flag)(?![a-z0-9-])")) == nil { problems.append("privacyctl \(path.joined(separator: " ")) has no \(flag)") }
        }
        return problems
    }

    @Test func everyDocumentedCommandLineParses() throws {
        let help = HelpCache()
        var checked = 0
        for block in try DocFiles.allBlocks where Self.shellLanguages.contains(block.language) {
            for words in Self.invocations(in: block.text) {
                checked += 1
                for problem in try Self.check(words, help: help) {
                    Issue.record("\(block.file):\(block.line): \(problem)  [privacyctl \(words.joined(separator: " "))]")
                }
            }
        }
        for unit in try Self.shippedFiles() {
            for words in Self.invocations(in: try String(contentsOf: unit, encoding: .utf8)) {
                checked += 1
                for problem in try Self.check(words, help: help) { Issue.record("\(DocFiles.relative(unit)): \(problem)") }
            }
        }
        #expect(checked > 50, "only \(checked) command lines found")
    }

    /// docs/systemd/* and docs/cron/*: the files operators copy.
    static func shippedFiles() throws -> [URL] {
        try ["docs/systemd", "docs/cron"].flatMap { directory -> [URL] in
            let url = DocFiles.root.appendingPathComponent(directory)
            guard FileManager.default.fileExists(atPath: url.path) else { return [] }
            return try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil).sorted { $0.path < $1.path }
        }
    }

    /// A block tagged `<!-- file: PATH -->` shows that file of the repository, whole.
    @Test func shownFilesAreTheShippedOnes() throws {
        var shown: Set<String> = []
        for block in try DocFiles.allBlocks {
            guard let tag = block.tag, tag.key == "file" else { continue }
            shown.insert(tag.value)
            let url = DocFiles.root.appendingPathComponent(tag.value)
            let contents = try? String(contentsOf: url, encoding: .utf8)
            #expect(contents?.trimmingCharacters(in: .newlines) == block.text.trimmingCharacters(in: .newlines),
                    "\(block.file):\(block.line): differs from \(tag.value)")
        }
        for file in try Self.shippedFiles() {
            #expect(shown.contains(DocFiles.relative(file)), "\(DocFiles.relative(file)) is shown in no document")
        }
    }

    /// The units, with ExecStart pointing at the built binary, pass `systemd-analyze verify`.
    @Test func systemdUnitsVerify() throws {
        let units = try Self.shippedFiles().filter { ["service", "timer"].contains($0.pathExtension) }
        #expect(!units.isEmpty)
        let analyze = "/usr/bin/systemd-analyze"
        guard FileManager.default.isExecutableFile(atPath: analyze) else {
            // .ci/run installs systemd where it is missing: CI always verifies the units.
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("\(analyze) is not installed: CI must verify the units")
            } else {
                print("systemdUnitsVerify: \(analyze) is not installed; the units were only checked for their privacyctl command lines")
            }
            return
        }
        let scratch = try Scratch()
        for unit in units {
            let text = try String(contentsOf: unit, encoding: .utf8)
                .replacingOccurrences(of: "/usr/local/bin/privacyctl", with: CLI.binary.path)
                .replacingOccurrences(of: "/usr/local/bin/privacyd", with: CLI.binary.deletingLastPathComponent().appendingPathComponent("privacyd").path)
            try Data(text.utf8).write(to: URL(fileURLWithPath: scratch.file(unit.lastPathComponent)))
        }
        let result = try CLI.execute(URL(fileURLWithPath: analyze), ["verify", "--man=no"] + units.map { scratch.file($0.lastPathComponent) },
                                     environment: ["PATH": "/usr/bin:/bin"])
        let text = result.stdout + result.stderr
        // Lines about the host (no such user here, no running systemd) are not the units' fault.
        let problems = text.components(separatedBy: "\n").filter { line in
            !line.isEmpty && !line.contains("Failed to resolve user") && !line.contains("System has not been booted with systemd")
                && !line.contains("Failed to connect to bus") && !line.contains("was not found")
        }
        #expect(result.status == 0 && problems.isEmpty, "systemd-analyze verify:\n\(text)")
    }

    /// The `<!-- run: NAME -->` blocks of each document, in order, as one bash script in a
    /// scratch directory: the absolute paths the documents use (/etc/privacykit, /srv, …)
    /// are moved under it, and `privacyctl` is the built one.
    @Test func runnableBlocksRun() throws {
        for file in DocFiles.markdown {
            let blocks = try DocFiles.blocks(in: file).filter { $0.tag?.key == "run" }
            guard !blocks.isEmpty else { continue }
            let scratch = try Scratch()
            var script = "set -euo pipefail\n"
            for block in blocks {
                script += "echo '### \(block.tag!.value)' >&2\n" + Self.relocate(block.text, under: scratch.path) + "\n"
            }
            for directory in ["etc", "srv", "secure", "mnt", "var/log", "var/backups"] {
                try FileManager.default.createDirectory(atPath: scratch.file(directory), withIntermediateDirectories: true)
            }
            let result = try CLI.execute(URL(fileURLWithPath: "/bin/bash"), ["-c", script],
                                         environment: ["PATH": CLI.binary.deletingLastPathComponent().path + ":/usr/bin:/bin", "HOME": scratch.path],
                                         in: scratch.path)
            let output = result.stdout + result.stderr
            #expect(result.status == 0,
                    "\(DocFiles.relative(file)): the run blocks failed (exit \(result.status)):\n\(output.suffix(3000))")
        }
    }

    static let relocated = ["/etc/privacykit", "/srv/", "/secure/offline", "/mnt/witness", "/var/log/privacykit", "/var/backups/privacykit"]

    static func relocate(_ text: String, under root: String) -> String {
        var text = text
        for prefix in relocated {
            let pattern = try! NSRegularExpression(pattern: "(^|[\\s=\"'(])" + NSRegularExpression.escapedPattern(for: prefix), options: [.anchorsMatchLines])
            text = pattern.stringByReplacingMatches(in: text, range: NSRange(text.startIndex..., in: text),
                                                    withTemplate: "$1" + NSRegularExpression.escapedTemplate(for: root + prefix))
        }
        return text
    }

    /// The exit-code tables of docs/exit-codes.md and the README list exactly the codes and
    /// names of ExitStatus.swift.
    @Test func exitCodeTablesMatchTheSource() throws {
        let source = try String(contentsOf: DocFiles.root.appendingPathComponent("Sources/privacyctl/ExitStatus.swift"), encoding: .utf8)
        var numbers: [String: Int] = [:]
        for match in source.matches(of: /case (\w+) = (\d+)/) { numbers[String(match.1)] = Int(match.2) }
        var expected: Set<String> = []
        for match in source.matches(of: /case \.(\w+): "([a-z-]+)"/) {
            let number = try #require(numbers[String(match.1)], "ExitStatus.\(match.1) has no number")
            if number != 0 { expected.insert("\(number) \(match.2)") }
        }
        #expect(expected.count == numbers.count - 1)
        for document in ["docs/exit-codes.md", "README.md"] {
            let text = try String(contentsOf: DocFiles.root.appendingPathComponent(document), encoding: .utf8)
            let rows = Set(text.matches(of: /(?m)^\| (\d+) \| `([a-z-]+)`/).map { "\($0.1) \($0.2)" }).filter { !$0.hasPrefix("0 ") }
            #expect(rows == expected, "\(document): the exit-code table differs from ExitStatus.swift: missing \(expected.subtracting(rows).sorted()), extra \(rows.subtracting(expected).sorted())")
        }
    }
}
