import Foundation
import PackagePlugin

/// Embeds `docs/openapi.json` into privacyd's library, which serves it at
/// `/v1/openapi.json`: the committed document is the only copy anyone edits, and an
/// installed binary carries it.
@main
struct EmbedOpenAPI: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let document = context.package.directoryURL.appending(path: "docs/openapi.json")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedOpenAPI.swift")
        return [
            .buildCommand(
                displayName: "Embedding docs/openapi.json",
                executable: try context.tool(named: "embed-policies").url,
                arguments: ["--enum", "EmbeddedOpenAPI", output.path, document.path],
                inputFiles: [document],
                outputFiles: [output]
            )
        ]
    }
}
