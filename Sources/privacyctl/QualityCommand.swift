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
        @OptionGroup var options: VaultCommandOptions

        func run() throws {
            try options.run({ vault, context in try vault.records.qualityReport(context: context) }, text: { report in
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
            })
        }
    }

    struct Duplicates: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List duplicate clusters by subject id.", discussion: Examples.section("quality duplicates"))
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .long, help: ArgumentHelp("Only this indexed field.", valueName: "field")) var field: String?

        struct Result: Encodable {
            let ok = true
            let clusters: [DuplicateCluster]
        }

        func run() throws {
            try options.run({ vault, context in Result(clusters: try vault.records.duplicates(field: field, context: context)) }, text: { result in
                for c in result.clusters { Output.standardOutput("\(c.field): \(c.subjects.joined(separator: ", "))") }
                Output.standardError("\(result.clusters.count) clusters")
            })
        }
    }
}
