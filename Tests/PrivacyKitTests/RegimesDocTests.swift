import Foundation
import Testing

/// docs/regimes.md names, for each article, the test that shows the feature: a reviewer
/// follows them, so each must exist (issue 23, point 5).
@Suite("docs/regimes.md")
struct RegimesDocTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Every Swift source under Tests/, by path.
    static func testSources() throws -> [String] {
        let tests = root.appendingPathComponent("Tests")
        let names = FileManager.default.enumerator(atPath: tests.path)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        return try names.map { try String(contentsOf: tests.appendingPathComponent($0), encoding: .utf8) }
    }

    @Test func everyTestTheTablesNameExistsInItsSuite() throws {
        let doc = try String(contentsOf: Self.root.appendingPathComponent("docs/regimes.md"), encoding: .utf8)
        let sources = try Self.testSources()
        // The test column: `Suite.test` in backticks, a capitalised suite and a test name.
        let named = doc.matches(of: /`([A-Z][A-Za-z]+Tests)\.([a-z][A-Za-z0-9]+)`/).map { (String($0.1), String($0.2)) }
        #expect(named.count >= 30, "the tables name \(named.count) tests")
        for (suite, test) in named {
            let found = sources.contains { $0.contains("struct \(suite) ") && $0.contains("func \(test)(") }
            #expect(found, "docs/regimes.md names \(suite).\(test), which no test file defines")
        }
        // One table per regime, and the old page is gone (this one replaces it).
        for heading in ["## GDPR", "## CCPA / CPRA", "## PDPA (Taiwan)", "## PIPL"] { #expect(doc.contains(heading)) }
        #expect(!FileManager.default.fileExists(atPath: Self.root.appendingPathComponent("docs/gdpr-ccpa.md").path))
    }
}
