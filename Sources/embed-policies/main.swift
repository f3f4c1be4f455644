import Foundation

// Writes a Swift file that holds each given policy file, base64-encoded so no content
// can break out of the string literal. Usage: embed-policies OUTPUT FILE...
let arguments = CommandLine.arguments.dropFirst()
guard let output = arguments.first else {
    FileHandle.standardError.write(Data("usage: embed-policies OUTPUT FILE...\n".utf8))
    exit(64)
}
var source = """
    // Generated at build time by the EmbedPolicies plugin from the top-level Policies/.
    // Edit the YAML files there, not this.

    enum EmbeddedPolicies {
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
