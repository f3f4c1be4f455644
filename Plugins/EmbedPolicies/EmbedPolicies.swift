import Foundation
import PackagePlugin

/// Embeds the repository's top-level `Policies/*.yaml` into the target as Swift source.
///
/// `privacyctl init` copies the default policy set into every new vault; embedding it
/// means an installed binary carries it, and the YAML files in `Policies/` stay the only
/// copy anyone edits.
@main
struct EmbedPolicies: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        let directory = context.package.directoryURL.appending(path: "Policies")
        let files = try FileManager.default
            .contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "yaml" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedPolicies.swift")
        return [
            .buildCommand(
                displayName: "Embedding default policies from Policies/",
                executable: try context.tool(named: "embed-policies").url,
                arguments: [output.path] + files.map(\.path),
                inputFiles: files,
                outputFiles: [output]
            )
        ]
    }
}
