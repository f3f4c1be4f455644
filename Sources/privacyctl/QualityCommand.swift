import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Quality: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Data quality without decrypting: completeness, invalid values, duplicates.",
            subcommands: [Report.self, Duplicates.self]
        )
    }
}

extension Privacyctl.Quality {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Per field: completeness, invalid values, duplicate clusters.", discussion: Examples.section("quality report"))
        @OptionGroup var options: RecordsOptions

        func run() throws {
            try Output.run(json: options.output.json) {
                let vault = try options.open()
                let report = try vault.qualityReport(context: options.accessContext())
                try vault.checkpointIfNeeded()
                if options.output.json { try Output.json(report); return }
                Output.standardOutput("\(report.subjects) subjects\n")
                Output.standardOutput("FIELD             PRESENT  COMPLETE  INVALID  DUPLICATE CLUSTERS")
                for f in report.fields {
                    let dup = f.duplicateClusters.map { "\($0) (\(f.subjectsInDuplicateClusters ?? 0) subjects)" } ?? "-"
                    Output.standardOutput(
                        f.field.padding(toLength: 18, withPad: " ", startingAt: 0)
                            + String(f.present).padding(toLength: 9, withPad: " ", startingAt: 0)
                            + String(format: "%5.1f%%    ", f.completeness * 100)
                            + String(f.invalid).padding(toLength: 9, withPad: " ", startingAt: 0) + dup)
                }
            }
        }
    }

    struct Duplicates: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List duplicate clusters by subject id.", discussion: Examples.section("quality duplicates"))
        @OptionGroup var options: RecordsOptions
        @Option(name: .long, help: ArgumentHelp("Only this indexed field.", valueName: "field")) var field: String?

        struct Result: Encodable {
            let ok = true
            let clusters: [DuplicateCluster]
        }

        func run() throws {
            try Output.run(json: options.output.json) {
                let vault = try options.open()
                let clusters = try vault.duplicates(field: field, context: options.accessContext())
                try vault.checkpointIfNeeded()
                if options.output.json { try Output.json(Result(clusters: clusters)); return }
                for c in clusters { Output.standardOutput("\(c.field): \(c.subjects.joined(separator: ", "))") }
                Output.standardError("\(clusters.count) clusters")
            }
        }
    }
}
