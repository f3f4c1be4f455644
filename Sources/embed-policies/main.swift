import Foundation

// Writes a Swift file that holds each given file, base64-encoded so no content can break
// out of the string literal, as `enum NAME` (default EmbeddedPolicies). Usage:
// embed-policies [--enum NAME] OUTPUT FILE...
var arguments = Array(CommandLine.arguments.dropFirst())
var name = "EmbeddedPolicies"
if arguments.count >= 2, arguments[0] == "--enum" {
    name = arguments[1]
    arguments.removeFirst(2)
}
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: embed-policies [--enum NAME] OUTPUT FILE...\n".utf8))
    exit(64)
}
var source = """
    // Generated at build time by a build plugin (EmbedPolicies, EmbedOpenAPI) from files in
    // the repository. Edit those, not this.

    enum \(name) {
        /// (file name, base64 of its bytes), sorted by name.
        static let files: [(name: String, base64: String)] = [

    """
for path in arguments.dropFirst() {
    let url = URL(fileURLWithPath: path)
    guard let data = FileManager.default.contents(atPath: path) else {
        FileHandle.standardError.write(Data("embed-policies: cannot read \(path)\n".utf8))
        exit(66)
    }
    source += "        (\"\(url.lastPathComponent)\", \"\(data.base64EncodedString())\"),\n"
}
source += "    ]\n}\n"
do {
    try Data(source.utf8).write(to: URL(fileURLWithPath: output), options: .atomic)
} catch {
    FileHandle.standardError.write(Data("embed-policies: cannot write \(output): \(error)\n".utf8))
    exit(73)
}
