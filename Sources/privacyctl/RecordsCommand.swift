import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Records: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Put, get, find and list customer records (encrypted field by field).",
            subcommands: [Put.self, Get.self, Find.self, List.self, Delete.self]
        )
    }
}

extension Privacyctl.Records {
    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create or update a subject's fields.",
            discussion: Examples.discussion("Values are normalized and validated by the schema; an empty value (--set city=) removes the field. Values given with --set are visible to other users of this machine (ps): pass personal data with --values-file FILE (or - for standard input), one FIELD=VALUE per line, and use `privacyctl import` for bulk data.", "records put")
        )
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .long, help: ArgumentHelp("The subject id.", valueName: "id")) var subject: String
        @Option(name: .customLong("set"), help: ArgumentHelp("A field and its value (repeat for more).", valueName: "field=value"))
        var assignments: [String] = []
        @Option(name: .customLong("values-file"), help: ArgumentHelp("Read FIELD=VALUE lines from this file, or - for standard input (not visible in ps).", valueName: "file"))
        var valuesFile: String?

        func validate() throws {
            guard !assignments.isEmpty || valuesFile != nil else { throw ValidationError("give at least one --set FIELD=VALUE, or --values-file") }
            for a in assignments where !a.contains("=") {
                throw ValidationError("--set takes FIELD=VALUE (got an argument without '=')")
            }
        }

        /// The values of `--set` and `--values-file`.
        func values() throws -> [String: String] {
            var values: [String: String] = [:]
            var lines: [(where: String, text: String)] = assignments.map { ("--set", $0) }
            if let valuesFile {
                let text = try InputFile.text(valuesFile, what: "--values-file")
                // "\r\n" is one Character in Swift: split on both forms.
                for (index, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
                    if line.isEmpty || line.hasPrefix("#") { continue }
                    lines.append(("\(valuesFile) line \(index + 1)", String(line)))
                }
            }
            for (source, line) in lines {
                // The message names the place, never the line itself: it holds a value.
                guard let equals = line.firstIndex(of: "=") else { throw CLIError(.invalidInput, "\(source): expected FIELD=VALUE") }
                values[String(line[..<equals])] = String(line[line.index(after: equals)...])
            }
            // An empty values file is more likely a failed pipe than a deliberate no-op.
            guard !values.isEmpty else { throw CLIError(.invalidInput, "--values-file \(valuesFile ?? "-") holds no FIELD=VALUE line") }
            return values
        }

        func run() throws {
            try options.run(prepare: values, { values, vault, context in
                try vault.records.put(subject: subject, values: values, context: context)
            }, text: { result in
                var line = "\(result.change.rawValue) \(subject)"
                if !result.changedFields.isEmpty { line += ": \(result.changedFields.joined(separator: ", "))" }
                if !result.invalidFields.isEmpty { line += " (stored as given, invalid: \(result.invalidFields.joined(separator: ", ")))" }
                Output.standardOutput(line)
            })
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decrypt and print subjects' fields.",
            discussion: Examples.discussion("With several subjects (--subject repeated, or --subjects-file), they are read in one transaction, one audit event each, and each answers on its own: its fields, or why not (not-found, denied). The command then exits 0; `error` per subject says what was refused.", "records get"))
        @OptionGroup var options: VaultCommandOptions
        @OptionGroup var subjectList: SubjectListOptions
        @Option(name: .long, help: ArgumentHelp("A field to print (repeat for more; default: all).", valueName: "field"), completion: VaultCompletions.fields)
        var field: [String] = []

        struct Result: Encodable {
            let ok = true
            let subject: String
            let fields: [String: String]
            /// The schema's order, for the text output.
            let order: [String]

            enum CodingKeys: String, CodingKey { case ok, subject, fields }
        }

        struct BatchResult: Encodable {
            struct Item: Encodable {
                let subject: String
                let fields: [String: String]?
                let error: Output.ErrorBody?
            }
            let ok = true
            let subjects: [Item]
            let order: [String]

            enum CodingKeys: String, CodingKey { case ok, subjects }
        }

        func run() throws {
            let fields = field.isEmpty ? nil : field
            let subject = subjectList.subject
            guard subjectList.isBatch else {
                return try options.run({ vault, context in
                    let values = try vault.records.get(subject: subject[0], fields: fields, context: context)
                    return Result(subject: subject[0], fields: values, order: vault.policies.schema.fields.map(\.name))
                }, text: { result in
                    for name in result.order { if let v = result.fields[name] { Output.standardOutput("\(name): \(v)") } }
                })
            }
            try options.run(prepare: subjectList.subjects, { ids, vault, context in
                let reads = try vault.records.get(subjects: ids, fields: fields, context: context)
                return BatchResult(subjects: reads.map { read in
                    switch read.result {
                    case .success(let values): BatchResult.Item(subject: read.subject, fields: values, error: nil)
                    case .failure(let error): BatchResult.Item(subject: read.subject, fields: nil, error: Output.ErrorBody(error))
                    }
                }, order: vault.policies.schema.fields.map(\.name))
            }, text: { result in
                for item in result.subjects {
                    Output.standardOutput("== \(item.subject)")
                    if let error = item.error { Output.standardOutput("   \(error.code): \(error.message)") }
                    for name in result.order { if let v = item.fields?[name] { Output.standardOutput("   \(name): \(v)") } }
                }
            })
        }
    }

    struct Find: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find subjects by a field's value (through its blind index, exactly).",
            discussion: Examples.discussion("A value given with --value is visible to other users of this machine (ps) and stays in the shell's history: pass personal data with --value-file FILE, or --value-file - to read it from standard input. The file holds the value alone; one final newline (LF or CRLF) is dropped, anything else counts.", "records find"))
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .long, help: ArgumentHelp("The field.", valueName: "field"), completion: VaultCompletions.fields) var field: String
        @Option(name: .long, help: ArgumentHelp("The value (normalized like stored values); visible in ps: prefer --value-file.", valueName: "value")) var value: String?
        @Option(name: .customLong("value-file"), help: ArgumentHelp("Read the value from this file, or - for standard input (not visible in ps); one final newline is dropped.", valueName: "file"))
        var valueFile: String?
        @Option(name: .long, help: ArgumentHelp("The country of a phone number written without its country code (default: the schema's default region).", valueName: "code")) var region: String?

        struct Result: Encodable {
            let ok = true
            let field: String
            let matches: [String]
        }

        func validate() throws {
            switch (value, valueFile) {
            case (nil, nil): throw ValidationError("give the value with --value-file FILE (- for standard input) or --value")
            case (.some, .some): throw ValidationError("give --value or --value-file, not both")
            default: break
            }
        }

        /// The value to look for: `--value` as typed, or the value file's text without one
        /// final newline (a file written by `echo`, or a line piped in, ends with one; the
        /// value itself never does).
        func lookedFor() throws -> String {
            guard let valueFile else {
                if isatty(STDIN_FILENO) == 1 {
                    Output.standardError("privacyctl: note: --value is visible to other users of this machine (ps); --value-file - reads it from standard input instead")
                }
                return value ?? ""
            }
            var text = try InputFile.text(valueFile, what: "--value-file")
            if text.hasSuffix("\r\n") {
                text.removeLast()  // "\r\n" is one Character
            } else if text.hasSuffix("\n") {
                text.removeLast()
            }
            guard !text.isEmpty else { throw CLIError(.invalidInput, "--value-file \(valueFile) holds no value") }
            return text
        }

        func run() throws {
            try options.run(prepare: lookedFor, { value, vault, context in
                Result(field: field, matches: try vault.records.find(field: field, value: value, region: region, context: context))
            }, text: { result in
                Output.standardOutput(lines: result.matches)
                Output.standardError("\(result.matches.count) matching subjects")
            })
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List subject ids, a page at a time.", discussion: Examples.section("records list"))
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .long, help: ArgumentHelp("Start after this subject id.", valueName: "id")) var after: String?
        @Option(name: .long, help: "Page size.") var limit: Int = 100

        struct Result: Encodable {
            let ok = true
            let subjects: [String]
            let next: String?
        }

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1 to 10000") }
        }

        func run() throws {
            try options.run({ vault, context in
                let ids = try vault.records.listSubjects(after: after, limit: limit, context: context)
                return Result(subjects: ids, next: ids.count == limit ? ids.last : nil)
            }, text: { result in
                Output.standardOutput(lines: result.subjects)
                if let next = result.next { Output.standardError("more: --after \(next)") }
            })
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove fields of a subject.", discussion: Examples.section("records delete"))
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .long, help: ArgumentHelp("The subject id.", valueName: "id")) var subject: String
        @Option(name: .long, help: ArgumentHelp("A field to remove (repeat for more).", valueName: "field")) var field: [String] = []

        func validate() throws {
            guard !field.isEmpty else { throw ValidationError("give at least one --field") }
        }

        func run() throws {
            try options.run({ vault, context in
                try vault.records.deleteFields(subject: subject, fields: field, context: context)
            }, text: { Output.standardOutput("\($0.change.rawValue) \(subject)") })
        }
    }
}
