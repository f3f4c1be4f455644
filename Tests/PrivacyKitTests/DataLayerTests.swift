import Foundation
import Testing

// Issue 19: SQL lives in one data layer, `Sources/PrivacyKit/Store/` (and the PostgreSQL
// module). Feature code asks the typed accessors there (`RequestsTable`, `AuditTable`, …);
// a string literal holding SQL anywhere else in PrivacyKit fails here, named file:line.
// The check reads the sources as text, so it needs no vault and runs on every backend.

@Suite struct DataLayer {
    static let sources = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/PrivacyKit")

    @Test
    func noSQLOutsideStore() throws {
        let found = try SQLLiterals.find(under: Self.sources, excluding: ["Store/"])
        #expect(found.isEmpty, "SQL outside Store/ (ask a table type in Store/Tables instead):\n\(found.joined(separator: "\n"))")
    }

    /// The tables decisions rest on are named in SQL only behind `DecisionRows`
    /// (`Store/Decisions/`), so the check on every such row has one place to go. Exclusions:
    /// `Store/Decisions/` itself; `Store/SQLiteStore.swift` and PrivacyKitPostgres's
    /// `PostgresSchema.swift`, which create the tables (migrations, not reads or writes of
    /// rows). `PostgresStore.swift` names them only in a `VACUUM`, which is housekeeping and
    /// no statement the detector looks for, so it is scanned like the rest.
    @Test
    func decisionTablesOnlyBehindDecisionRows() throws {
        let tables = ["consent_state", "consent_ledger", "restrictions", "legal_holds", "tombstones", "subjects"]
        let names = try NSRegularExpression(pattern: "\\b(?:" + tables.joined(separator: "|") + ")\\b")
        let roots = [(Self.sources, ["Store/Decisions/", "Store/SQLiteStore.swift"]),
                     (Self.sources.deletingLastPathComponent().appendingPathComponent("PrivacyKitPostgres"), ["PostgresSchema.swift"])]
        var found: [String] = []
        for (root, excluded) in roots {
            found += try SQLLiterals.find(under: root, excluding: excluded) { text in
                names.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
            }
        }
        #expect(found.isEmpty, "SQL on a decision table outside Store/Decisions (add a method to its DecisionRows accessor):\n\(found.joined(separator: "\n"))")
    }

    /// The detector itself: what it must catch, and what it must leave alone.
    @Test func detectorCatchesSQLLiterals() {
        let source = #"""
            let a = "SELECT id FROM subjects WHERE id = ?"
            let b = "SELECT \(Table.columns) FROM breaches"
            let c = """
                INSERT INTO vault_meta (key, value)
                VALUES (?, ?)
                """
            try db.execute(sql: "UPDATE subjects SET kek_version = ?")
            let d = #"DELETE FROM blind_index WHERE version < ?"#
            let e = "PRAGMA page_size"
            let f = """
                CREATE TABLE t (id TEXT);
                CREATE INDEX t_id ON t(id);
                """
            let g = "DROP TABLE t"
            // SELECT x FROM y in a comment is prose, not SQL.
            /* INSERT INTO t nor here */
            let h = "select a from b, or an UPDATE of the policy set, is not caught"
            let i = "the \("SELECT") keyword alone"
            """#
        #expect(SQLLiterals.find(in: source, file: "Sample.swift") == [
            "Sample.swift:1", "Sample.swift:2", "Sample.swift:3", "Sample.swift:7", "Sample.swift:8", "Sample.swift:9", "Sample.swift:10",
            "Sample.swift:14",
        ])
    }
}

/// Finds string literals that hold SQL in Swift source text.
enum SQLLiterals {
    /// Statements as the store writes them: upper-case keywords.
    static let patterns = [
        #"\bSELECT\b[\s\S]*?\bFROM\b"#, #"\bINSERT\s+INTO\b"#, #"\bUPDATE\s+[A-Za-z_][A-Za-z0-9_]*\s+SET\b"#, #"\bDELETE\s+FROM\b"#,
        #"\bCREATE\s+(?:UNIQUE\s+)?(?:TABLE|INDEX|TRIGGER)\b"#, #"\bDROP\s"#, #"\bPRAGMA\b"#,
    ]

    /// `path:line` of every offending literal in the `.swift` files under `root`, paths
    /// relative to it, skipping those starting with one of `excluding` (folders end in `/`).
    static func find(under root: URL, excluding: [String], where keep: (String) -> Bool = { _ in true }) throws -> [String] {
        let rootPath = root.standardizedFileURL.path + "/"
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var found: [String] = []
        for case let url as URL in walker where url.pathExtension == "swift" {
            let relative = String(url.standardizedFileURL.path.dropFirst(rootPath.count))
            if excluding.contains(where: { relative.hasPrefix($0) }) { continue }
            found += find(in: try String(contentsOf: url, encoding: .utf8), file: relative, where: keep)
        }
        return found.sorted { $0.localizedStandardCompare($1) == .orderedAscending }
    }

    /// `file:line` (the line a literal starts on) of every literal in `source` holding SQL.
    /// `keep` narrows it to the literals whose text it accepts.
    static func find(in source: String, file: String, where keep: (String) -> Bool = { _ in true }) -> [String] {
        let regexes = patterns.map { try! NSRegularExpression(pattern: $0) }
        func isSQL(_ text: String) -> Bool {
            regexes.contains { $0.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil }
        }
        // An interpolation's literals are read before the literal around them: by line.
        return literals(in: source).filter { isSQL($0.text) && keep($0.text) }.map(\.line).sorted().map { "\(file):\($0)" }
    }

    /// The string literals of `source` (single-line, `"""` and raw `#"…"#` ones), with
    /// interpolations kept as written, and comments skipped. An interpolation's own
    /// literals are reported too.
    static func literals(in source: String) -> [(line: Int, text: String)] {
        let chars = Array(source.unicodeScalars)
        var result: [(line: Int, text: String)] = []
        var i = 0
        var line = 1

        func at(_ k: Int) -> Unicode.Scalar? { k < chars.count ? chars[k] : nil }
        func starts(_ s: String, _ k: Int) -> Bool {
            var k = k
            for c in s.unicodeScalars {
                guard at(k) == c else { return false }
                k += 1
            }
            return true
        }

        // Scans code from `i` until an unmatched `)` (inside an interpolation) or the end.
        func code(inInterpolation: Bool) {
            var depth = 0
            while i < chars.count {
                let c = chars[i]
                if c == "\n" { line += 1; i += 1; continue }
                if starts("//", i) {
                    while i < chars.count && chars[i] != "\n" { i += 1 }
                    continue
                }
                if starts("/*", i) {
                    var nesting = 0
                    while i < chars.count {
                        if starts("/*", i) { nesting += 1; i += 2; continue }
                        if starts("*/", i) { nesting -= 1; i += 2; if nesting == 0 { break } else { continue } }
                        if chars[i] == "\n" { line += 1 }
                        i += 1
                    }
                    continue
                }
                if c == "#" || c == "\"" {
                    var hashes = 0
                    while at(i + hashes) == "#" { hashes += 1 }
                    if at(i + hashes) == "\"" {
                        i += hashes
                        literal(hashes: hashes)
                        continue
                    }
                }
                if inInterpolation {
                    if c == "(" { depth += 1 }
                    if c == ")" {
                        if depth == 0 { i += 1; return }
                        depth -= 1
                    }
                }
                i += 1
            }
        }

        // Reads the literal whose opening quote is at `i`.
        func literal(hashes: Int) {
            let startLine = line
            let multiline = starts("\"\"\"", i)
            i += multiline ? 3 : 1
            let close = (multiline ? "\"\"\"" : "\"") + String(repeating: "#", count: hashes)
            let escape = "\\" + String(repeating: "#", count: hashes)
            var text = String.UnicodeScalarView()
            while i < chars.count {
                if starts(close, i) { i += close.unicodeScalars.count; break }
                if !multiline && chars[i] == "\n" { break }  // unterminated: leave it
                if starts(escape + "(", i) {
                    // The interpolation's text stays in the literal, as written.
                    let from = i
                    i += escape.unicodeScalars.count + 1
                    code(inInterpolation: true)
                    text.append(contentsOf: chars[from..<i])
                    continue
                }
                if starts(escape, i) {
                    text.append(contentsOf: chars[i..<min(i + escape.unicodeScalars.count + 1, chars.count)])
                    i += escape.unicodeScalars.count + 1
                    continue
                }
                if chars[i] == "\n" { line += 1 }
                text.append(chars[i])
                i += 1
            }
            result.append((startLine, String(text)))
        }

        code(inInterpolation: false)
        return result
    }
}
