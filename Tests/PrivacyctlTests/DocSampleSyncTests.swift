import Foundation
import PrivacyKit
import Testing

/// The Markdown a reader sees: the README, docs/ and the DocC catalog.
enum DocFiles {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var markdown: [URL] {
        var files = [root.appendingPathComponent("README.md")]
        for directory in ["docs", "Sources/PrivacyKit/PrivacyKit.docc"] {
            let base = root.appendingPathComponent(directory)
            let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil)
            while let url = walker?.nextObject() as? URL {
                if url.pathExtension == "md" { files.append(url) }
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    static func relative(_ url: URL) -> String { String(url.path.dropFirst(root.path.count + 1)) }

    /// One fenced code block and the `<!-- key: value -->` comment on the line before it.
    struct Block {
        let file: String
        let line: Int
        let language: String
        let tag: (key: String, value: String)?
        let text: String
    }

    static func blocks(in url: URL) throws -> [Block] {
        let lines = try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n")
        var blocks: [Block] = []
        var index = 0
        while index < lines.count {
            let trimmed = lines[index].drop { $0 == " " }
            guard trimmed.hasPrefix("```") else { index += 1; continue }
            let indent = lines[index].count - trimmed.count
            let language = String(trimmed.dropFirst(3)).trimmingCharacters(in: .whitespaces)
            var tag: (String, String)?
            if let previous = lines[..<index].last(where: { !$0.trimmingCharacters(in: .whitespaces).isEmpty }),
               let comment = previous.trimmingCharacters(in: .whitespaces).wholeMatch(of: /<!-- ([a-z-]+): (\S+) -->/) {
                tag = (String(comment.1), String(comment.2))
            }
            var body: [String] = []
            index += 1
            while index < lines.count, !lines[index].drop(while: { $0 == " " }).hasPrefix("```") {
                body.append(String(lines[index].dropFirst(min(indent, lines[index].prefix { $0 == " " }.count))))
                index += 1
            }
            blocks.append(Block(file: relative(url), line: index - body.count, language: language, tag: tag,
                                text: body.joined(separator: "\n")))
            index += 1
        }
        return blocks
    }

    static var allBlocks: [Block] { get throws { try markdown.flatMap { try blocks(in: $0) } } }

    /// `lines` without their common leading spaces.
    static func dedent(_ lines: [String]) -> String {
        let indent = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }.map { $0.prefix { $0 == " " }.count }.min() ?? 0
        return lines.map { String($0.dropFirst(min(indent, $0.count))) }.joined(separator: "\n")
    }
}

@Suite struct DocSampleSync {
    /// `// doc-sample: NAME` … `// end-doc-sample` regions of the test sources.
    static func regions() throws -> [String: String] {
        var regions: [String: String] = [:]
        let tests = DocFiles.root.appendingPathComponent("Tests")
        let walker = FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil)
        while let url = walker?.nextObject() as? URL {
            guard url.pathExtension == "swift" else { continue }
            var name: String?
            var body: [String] = []
            for line in try String(contentsOf: url, encoding: .utf8).components(separatedBy: "\n") {
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if let start = trimmed.wholeMatch(of: /\/\/ doc-sample: (\S+)/) {
                    name = String(start.1)
                    body = []
                } else if trimmed == "// end-doc-sample", let current = name {
                    #expect(regions[current] == nil, "doc sample \(current) is defined twice")
                    regions[current] = DocFiles.dedent(body)
                    name = nil
                } else if name != nil {
                    body.append(line)
                }
            }
            #expect(name == nil, "\(url.lastPathComponent): doc sample \(name ?? "") has no end marker")
        }
        return regions
    }

    @Test func everySwiftSampleIsATestedRegion() throws {
        let regions = try Self.regions()
        var used: Set<String> = []
        for block in try DocFiles.allBlocks where block.language == "swift" {
            guard let tag = block.tag, tag.key == "sample" else {
                Issue.record("\(block.file):\(block.line): a Swift sample without a <!-- sample: NAME --> line before it")
                continue
            }
            used.insert(tag.value)
            guard let expected = regions[tag.value] else {
                Issue.record("\(block.file):\(block.line): no region // doc-sample: \(tag.value) in Tests/")
                continue
            }
            #expect(DocFiles.dedent(block.text.components(separatedBy: "\n")) == expected,
                    "\(block.file):\(block.line): sample \(tag.value) differs from its tested region, which is:\n\(expected)")
        }
        #expect(Set(regions.keys).subtracting(used).isEmpty, "regions no document shows: \(Set(regions.keys).subtracting(used).sorted())")
    }

    /// Every YAML sample is a whole policy file (or privacyctl.yaml) and loads through the
    /// same checks as `privacyctl policy validate`. `<!-- policy: NAME.yaml -->` replaces that
    /// default file; `<!-- policy: SET/NAME.yaml -->` samples of one SET are loaded together,
    /// with the defaults for the files the set lacks.
    @Test func everyYAMLSampleLoads() throws {
        var sets: [String: [(name: String, block: DocFiles.Block)]] = [:]
        var count = 0
        for block in try DocFiles.allBlocks where block.language == "yaml" {
            guard let tag = block.tag, tag.key == "policy" else {
                Issue.record("\(block.file):\(block.line): a YAML sample without a <!-- policy: NAME.yaml --> line before it")
                continue
            }
            count += 1
            let parts = tag.value.split(separator: "/").map(String.init)
            let name = parts.last!
            if name == OperatorDefaults.fileName {
                let scratch = try Scratch()
                _ = try scratch.secret(name, block.text)
                let defaults = try OperatorDefaults.load(vaultDirectory: URL(fileURLWithPath: scratch.path))
                #expect(defaults.role != nil || defaults.purpose != nil || defaults.actor != nil, "\(block.file):\(block.line): empty")
                continue
            }
            #expect((PolicySet.requiredFiles + PolicySet.optionalFiles).contains(name), "\(block.file):\(block.line): \(name) is not a policy file")
            sets[parts.count > 1 ? parts[0] : "\(block.file):\(block.line)", default: []].append((name, block))
        }
        for (set, files) in sets {
            let scratch = try Scratch()
            for file in PolicySet.defaultFiles { try file.contents.write(to: URL(fileURLWithPath: scratch.file(file.name))) }
            for file in files { _ = try scratch.secret(file.name, file.block.text) }
            let errors = PolicySet.check(directory: scratch.path)
            #expect(errors.isEmpty, "policy sample \(set) (\(files.map { "\($0.block.file):\($0.block.line)" })): \(errors.map(\.message))")
        }
        #expect(count > 0)
    }

    /// JSON samples (outputs, a keyring, a witness line) are illustrations with `…` for
    /// elided bytes, but each must still be valid JSON.
    @Test func everyJSONSampleParses() throws {
        for block in try DocFiles.allBlocks where block.language == "json" {
            #expect((try? JSONSerialization.jsonObject(with: Data(block.text.utf8))) != nil, "\(block.file):\(block.line): not valid JSON")
        }
    }
}
