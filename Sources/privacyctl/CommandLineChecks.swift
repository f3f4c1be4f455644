import ArgumentParser
import Foundation

/// What argument-parser lets through or words poorly: a single-valued option given twice
/// (it silently keeps the last), and a mistyped subcommand (reported as an unexpected
/// argument or an unknown option). Both read the command tree argument-parser describes
/// itself with (`--experimental-dump-help`), so they follow every command as declared.
enum CommandLineChecks {
    struct Node: Decodable {
        let commandName: String
        let subcommands: [Node]?
        let arguments: [Argument]?
    }

    struct Argument: Decodable {
        let kind: String
        let isRepeating: Bool
        let names: [Name]?
    }

    struct Name: Decodable {
        let kind: String
        let name: String
    }

    private struct Dump: Decodable { let command: Node }

    static func tree() -> Node? {
        (try? JSONDecoder().decode(Dump.self, from: Data(Privacyctl._dumpHelp().utf8)))?.command
    }

    /// The long option names given, up to a `--` terminator.
    static func optionNames(_ arguments: [String]) -> [String] {
        var names: [String] = []
        for argument in arguments {
            if argument == "--" { break }
            guard argument.hasPrefix("--"), argument.count > 2 else { continue }
            names.append(String(argument.dropFirst(2).prefix { $0 != "=" }))
        }
        return names
    }

    /// The command `arguments` name, following subcommand names from the root (and skipping
    /// the values of the options the command takes), its path, and the first word that named
    /// no subcommand where one was expected.
    static func resolve(_ arguments: [String], in root: Node) -> (command: Node, path: [String], unknown: String?) {
        var node = root
        var path = [root.commandName]
        var skipValue = false
        for argument in arguments {
            if argument == "--" { break }
            if skipValue { skipValue = false; continue }
            if argument.hasPrefix("--") {
                let name = String(argument.dropFirst(2))
                skipValue = !name.contains("=") && node.arguments?.contains { $0.kind == "option" && $0.names?.contains { $0.name == name } == true } == true
                continue
            }
            if argument.hasPrefix("-") { continue }
            guard let subcommands = node.subcommands, !subcommands.isEmpty else { break }
            guard let next = subcommands.first(where: { $0.commandName == argument }) else { return (node, path, argument) }
            node = next
            path.append(next.commandName)
        }
        return (node, path, nil)
    }

    /// A usage error for a single-valued option given more than once, or nil. Cheap when
    /// no option repeats (the tree is described only then).
    static func repeatedOption(_ arguments: [String]) -> String? {
        let names = optionNames(arguments)
        let repeated = Set(names.filter { name in names.filter { $0 == name }.count > 1 })
        guard !repeated.isEmpty, let root = tree() else { return nil }
        let command = resolve(arguments, in: root).command
        for name in repeated.sorted() {
            guard let argument = command.arguments?.first(where: { $0.names?.contains { $0.kind == "long" && $0.name == name } == true }),
                  argument.kind == "option", !argument.isRepeating else { continue }
            return "--\(name) is given \(names.filter { $0 == name }.count) times, but takes one value (it would keep only the last)"
        }
        return nil
    }

    /// After a parse failed with `error` (argument-parser's message): "unknown command 'X'",
    /// with the closest subcommand when one is near (two edits or fewer, or a prefix), or nil
    /// when the failure is another one, or no word stands where a subcommand was expected.
    static func unknownCommand(_ arguments: [String], in error: String) -> String? {
        guard let root = tree() else { return nil }
        let (command, path, unknown) = resolve(arguments, in: root)
        guard let unknown, error.contains("nexpected argument") || error.contains("Unknown option"),
              let subcommands = command.subcommands, !hasDefaultSubcommand(path) else { return nil }
        let names = subcommands.map(\.commandName).filter { $0 != "help" }
        let near = names.map { ($0, distance($0, unknown)) }.filter { $0.1 <= 2 || $0.0.hasPrefix(unknown) }.min { $0.1 < $1.1 }
        return "\(path.joined(separator: " ")): unknown command '\(unknown)'" + (near.map { "; did you mean '\($0.0)'?" } ?? " (one of: \(names.joined(separator: ", ")))")
    }

    /// Whether the command at `path` (from the root) runs a default subcommand, which takes
    /// words that name no subcommand as its own arguments (`erase ID`).
    static func hasDefaultSubcommand(_ path: [String]) -> Bool {
        var type: any ParsableCommand.Type = Privacyctl.self
        for name in path.dropFirst() {
            guard let next = type.configuration.subcommands.first(where: { $0._commandName == name }) else { return false }
            type = next
        }
        return type.configuration.defaultSubcommand != nil
    }

    /// Levenshtein distance (subcommand names are short: the quadratic table is nothing).
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
