import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The leak suite (issue 9, part 4): one end-to-end workflow through the real `privacyctl`,
/// with canary strings in every kind of personal data, then a byte-level search of
/// everything the workflow left behind.
///
/// What may hold a canary in plaintext, and nothing else:
/// - the input files the test itself wrote (the CSV, the values file, the consent note);
/// - standard output of a read that asked for values and was allowed them (`records get`
///   for admin, support-agent, marketer): printing them is the command's job;
/// - the unsealed export package and the directory `export open` writes: plaintext for the
///   data subject, by design.
/// Their standard error is still searched, and so is every other output (summaries,
/// errors, reports, audit output, an analyst's read, which may see no canary field).
@Suite("leak suite")
struct LeakSuiteTests {
    /// A canary: a random token that appears in one value, and the extra forms under which a
    /// normalized copy could be written (a phone in E.164, digits only).
    struct Canary {
        let label: String
        /// Searched case-insensitively; also searched hex- and base64-encoded.
        let tokens: [String]
    }

    static func token(_ prefix: String) -> String {
        let letters = Array("bcdfghjkmnpqrstvwxz")
        return prefix + String((0..<10).map { _ in letters.randomElement()! })
    }

    static func digits(_ count: Int) -> String { String((0..<count).map { _ in "0123456789".randomElement()! }) }

    /// One run of privacyctl, kept to search later.
    struct Run {
        let label: String
        let result: CLI.Result
        /// Its standard output is explicit personal-data output (see the suite's comment).
        let explicitOutput: Bool
    }

    final class Workflow {
        let scratch: Scratch
        let vault: String
        let keyFile: String
        let tmp: String
        let env: [String: String]
        var runs: [Run] = []

        init() throws {
            scratch = try Scratch()
            for dir in ["in", "keys", "tmp", "out", "backups"] {
                try FileManager.default.createDirectory(atPath: scratch.file(dir), withIntermediateDirectories: true)
            }
            tmp = scratch.file("tmp")
            keyFile = scratch.file("keys/root.key")
            vault = scratch.file("vault")
            // TMPDIR (and SQLite's own variable) inside the scratch directory, so any temp
            // file privacyctl or SQLite makes is searched and must be gone at the end.
            env = ["PRIVACYKIT_VAULT": vault, "PRIVACYKIT_KEY_FILE": keyFile, "PRIVACYKIT_ACTOR": "leak-suite",
                   "TMPDIR": tmp, "SQLITE_TMPDIR": tmp]
        }

        @discardableResult
        func run(_ label: String, _ arguments: [String], expect status: Int32 = 0, explicit: Bool = false,
                 extra: [String: String] = [:]) throws -> CLI.Result {
            let result = try CLI.run(arguments, environment: env.merging(extra) { $1 })
            // The label and the status only: the output may hold a canary.
            #expect(result.status == status, "\(label): exit \(result.status), expected \(status)")
            runs.append(Run(label: label, result: result, explicitOutput: explicit))
            return result
        }
    }

    @Test func noCanaryOutlivesTheWorkflowOutsideExplicitOutput() throws {
        let w = try Workflow()
        // Five subjects, each with its own canaries in every encrypted field.
        struct Person { let id, name, email, phone, e164, nationalID, nationalIDNormalized, address, note: String }
        var people: [Person] = []
        var canaries: [Canary] = []
        for (index, id) in ["L1", "C1", "C2", "A1", "A2"].enumerated() {
            let name = Self.token("Qn"), mail = Self.token("qm"), street = Self.token("qa"), idPart = Self.token("qi"), note = Self.token("qo")
            let last = Self.digits(3)
            let natDigits = Self.digits(4)
            let p = Person(
                id: id,
                name: "\(name.capitalized) O'Vex",
                email: "\(mail.uppercased())@Example.ORG",
                phone: index % 2 == 0 ? "020 7946 0\(last)" : "(415) 555-0\(last)",
                e164: index % 2 == 0 ? "+442079460\(last)" : "+14155550\(last)",
                nationalID: "\(idPart)-\(natDigits)",
                nationalIDNormalized: "\(idPart)\(natDigits)".uppercased(),
                address: "\(street) Row 7,\nFlat \"2\"",
                note: note)
            people.append(p)
            canaries.append(Canary(label: "\(id) name", tokens: [name]))
            canaries.append(Canary(label: "\(id) email", tokens: [mail, "\(mail)@example.org"]))
            canaries.append(Canary(label: "\(id) phone", tokens: [p.e164, String(p.e164.dropFirst()), p.phone]))
            canaries.append(Canary(label: "\(id) national id", tokens: [idPart, p.nationalIDNormalized]))
            canaries.append(Canary(label: "\(id) address", tokens: [street]))
            canaries.append(Canary(label: "\(id) notes column", tokens: [note]))
        }
        let rejectedMail = Self.token("qr"), malformedName = Self.token("qw"), consentNote = Self.token("qc")
        canaries.append(Canary(label: "rejected row's email", tokens: [rejectedMail]))
        canaries.append(Canary(label: "malformed row's name", tokens: [malformedName]))
        canaries.append(Canary(label: "consent note", tokens: [consentNote]))

        // A messy CSV: BOM, CRLF, quoted fields with commas, quotes and newlines, an unknown
        // column, a consent column, a duplicate e-mail in another case, a rejected row (bad
        // e-mail, strict) and a malformed one (an unclosed quote).
        func q(_ s: String) -> String { "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" }
        let segments = ["lead,2020-01-01,", "customer,2016-01-01,2015-01-01", "customer,2025-01-01,2022-01-01",
                        "lead,2026-11-01,", "lead,2026-11-01,"]
        var csv = "\u{FEFF}id,full_name,email,phone,national_id,address,country,segment,last_interaction,closed_at,notes,marketing_consent\r\n"
        for (i, p) in people.enumerated() {
            csv += "\(p.id),\(q(p.name)), \(p.email) ,\(p.phone),\(p.nationalID),\(q(p.address)),\(i % 2 == 0 ? "GB" : "US"),\(segments[i]),\(q(p.note)),\(i == 3 ? "yes" : "")\r\n"
        }
        csv += "A3,Dup Person,\(people[3].email.lowercased()),,,,GB,lead,2026-11-01,,,no\r\n"
        csv += "R1,Rejected Person,not-an-email-\(rejectedMail),,,,GB,lead,2026-11-01,,,\r\n"
        csv += "M1,\"\(malformedName) unclosed,x@example.org,,,,GB,lead,2026-11-01,,,\r\n"
        let csvPath = w.scratch.file("in/crm.csv")
        try Data(csv.utf8).write(to: URL(fileURLWithPath: csvPath))
        let notePath = w.scratch.file("in/note.txt")
        try Data("called back, said \(consentNote)".utf8).write(to: URL(fileURLWithPath: notePath))

        // Init, import, consent.
        try w.run("generate-key-file", ["keys", "generate-key-file", w.keyFile])
        try w.run("init", ["init", "--vault", w.vault, "--key-file", w.keyFile])
        try w.run("import", ["import", csvPath, "--consent-column", "marketing_consent=marketing-email", "--reject-report", w.scratch.file("out/rejects.csv"), "--max-rejects", "100%"])
        let summary = try w.run("import --json", ["import", csvPath, "--consent-column", "marketing_consent=marketing-email", "--max-rejects", "100%", "--json"]).json()
        #expect(summary["rejected"] as? Int == 2 && summary["unchanged"] as? Int == 6, "import summary counts")
        try w.run("consent grant", ["consent", "grant", "--subject", "A2", "--purpose", "marketing-email", "--channel", "web-form", "--note-file", notePath])
        try w.run("consent withdraw", ["consent", "withdraw", "--subject", "A3", "--purpose", "marketing-email"])
        try w.run("consent history", ["consent", "history", "--subject", "A2", "--json"])
        try w.run("consent status", ["consent", "status", "--subject", "A1"])
        try w.run("consent audience", ["consent", "audience", "--purpose", "marketing-email"])
        try w.run("consent receipt", ["consent", "receipt", "--subject", "A2"])

        // Reads under several roles. Only the ones allowed values are explicit output.
        let adminGet = try w.run("records get admin", ["records", "get", "--subject", "A1", "--json"], explicit: true)
        #expect(adminGet.stdout.contains(people[3].e164), "the admin read shows the phone: the canary search has something to find")
        try w.run("records get support-agent", ["records", "get", "--subject", "A1", "--role", "support-agent", "--purpose", "customer-support"], explicit: true)
        try w.run("records get marketer", ["records", "get", "--subject", "A1", "--field", "email", "--role", "marketer", "--purpose", "marketing-email"], explicit: true)
        try w.run("records get marketer phone (denied)", ["records", "get", "--subject", "A1", "--field", "phone", "--role", "marketer", "--purpose", "marketing-email"], expect: 68)
        try w.run("records get analyst, no consent (denied)", ["records", "get", "--subject", "A1", "--role", "analyst", "--purpose", "profiling"], expect: 68)
        try w.run("consent grant profiling", ["consent", "grant", "--subject", "A1", "--purpose", "profiling", "--channel", "app"])
        let analyst = try w.run("records get analyst", ["records", "get", "--subject", "A1", "--role", "analyst", "--purpose", "profiling", "--json"])
        let analystFields = Set((try analyst.json()["fields"] as? [String: String] ?? [:]).keys)
        #expect(analystFields.contains("country") && analystFields.isSubset(of: ["country", "segment", "created_at", "last_interaction"]))
        try w.run("records find email", ["records", "find", "--field", "email", "--value", people[3].email])
        try w.run("records find phone", ["records", "find", "--field", "phone", "--value", people[0].e164, "--json"])
        try w.run("records find national id", ["records", "find", "--field", "national_id", "--value", people[1].nationalID])
        try w.run("records put invalid", ["records", "put", "--subject", "A5", "--set", "email=bad-\(rejectedMail)"], expect: 65)
        try w.run("records list", ["records", "list"])

        // Quality, rotations.
        try w.run("quality report", ["quality", "report"])
        try w.run("quality report --json", ["quality", "report", "--json"])
        try w.run("quality duplicates", ["quality", "duplicates", "--field", "email", "--json"])
        try w.run("rotate-kek", ["keys", "rotate-kek"])
        try w.run("rotate-index", ["keys", "rotate-index", "--json"])
        let newKey = w.scratch.file("keys/new.key")
        try w.run("generate new key", ["keys", "generate-key-file", newKey])
        try w.run("rotate-root", ["keys", "rotate-root", "--new-key-file", newKey])
        try FileManager.default.removeItem(atPath: w.keyFile)
        try FileManager.default.moveItem(atPath: newKey, toPath: w.keyFile)
        try w.run("keys status", ["keys", "status"])

        // Retention: report, a dry run, the sweep, an erasure with its receipt.
        try w.run("retention report", ["retention", "report", "--now", "2026-12-01T00:00:00Z"])
        try w.run("sweep dry run", ["sweep", "--dry-run", "--now", "2026-12-01T00:00:00Z", "--json"])
        try w.run("sweep", ["sweep", "--now", "2026-12-01T00:00:00Z"])
        let receipt = w.scratch.file("out/erased.json")
        try w.run("erase", ["erase", "A2", "--reason", "GDPR art. 17 request", "--out", receipt])
        try w.run("erase list", ["erase", "list", "--json"])

        // Exports: one unsealed (explicit), one sealed and opened (the opened copy is explicit).
        let unsealed = w.scratch.file("out/export-plain")
        try w.run("export unsealed", ["export", "A1", "--out", unsealed])
        try w.run("export keypair", ["export", "keypair", "--out", w.scratch.file("keys/requester")])
        let sealed = w.scratch.file("out/export-sealed")
        try w.run("export sealed", ["export", "A1", "--out", sealed, "--seal-to", w.scratch.file("keys/requester.pub"), "--json"])
        let opened = w.scratch.file("out/export-opened")
        try w.run("export open", ["export", "open", sealed, "--secret-key", w.scratch.file("keys/requester.key"), "--out", opened])

        // Backups: create (plain and compressed), list, verify, ledger, restore.
        let backups = w.scratch.file("backups")
        let created = try w.run("backup create", ["backup", "create", "--out", backups, "--json"]).json()
        let backupFile = try #require((created["backup"] as? [String: Any])?["file"] as? String)
        try w.run("backup create --compress", ["backup", "create", "--compress"])
        try w.run("backup list", ["backup", "list", "--dir", backups])
        try w.run("backup verify", ["backup", "verify", backupFile])
        try w.run("backup export-ledger", ["backup", "export-ledger", w.scratch.file("out/ledger.json")])
        let restored = w.scratch.file("restored")
        try w.run("backup restore", ["backup", "restore", backupFile, "--out", restored])
        try w.run("audit verify restored", ["audit", "verify"], extra: ["PRIVACYKIT_VAULT": restored])
        try w.run("records list restored", ["records", "list", "--json"], extra: ["PRIVACYKIT_VAULT": restored])

        // Audit output of the whole run.
        try w.run("audit verify", ["audit", "verify", "--json"])
        try w.run("audit query", ["audit", "query", "--subject", "A1", "--json"])
        try w.run("audit export", ["audit", "export", "--format", "jsonl"])
        try w.run("breach affected", ["breach", "affected", "--since", "2026-01-01T00:00:00Z", "--until", "2030-01-01T00:00:00Z"])

        // The explicit outputs really hold canaries: the search below would find a leak.
        let plainRecord = try Data(contentsOf: URL(fileURLWithPath: unsealed + "/record.json"))
        #expect(Self.holdsAny(plainRecord, canaries.filter { $0.label.hasPrefix("A1") }) != nil, "the unsealed export holds A1's values")
        #expect(Self.holdsAny(Data(adminGet.stdout.utf8), canaries) != nil, "the admin read holds values")
        #expect(Self.holdsAny(try Data(contentsOf: URL(fileURLWithPath: csvPath)), [canaries.last!]) == nil)
        #expect(Self.holdsAny(try Data(contentsOf: URL(fileURLWithPath: notePath)), [canaries.last!]) != nil)

        // 1. Every output but the explicit standard outputs.
        for run in w.runs {
            if !run.explicitOutput, let hit = Self.holdsAny(Data(run.result.stdout.utf8), canaries) {
                Issue.record("standard output of \(run.label) holds the canary \(hit)")
            }
            if let hit = Self.holdsAny(Data(run.result.stderr.utf8), canaries) {
                Issue.record("standard error of \(run.label) holds the canary \(hit)")
            }
            #expect(!run.result.stderr.contains("Fatal error"), "\(run.label) crashed")
        }

        // 2. Every file left in the scratch directory, as raw bytes (SQLite files, WAL/SHM,
        // backups, reports, receipts, sealed exports, the restored vault, temp files), except
        // the test's own input and the two explicit plaintext packages.
        let excluded = [w.scratch.file("in"), unsealed, opened]
        var searched = 0
        for file in try FileManager.default.subpathsOfDirectory(atPath: w.scratch.path).sorted() {
            let path = w.scratch.file(file)
            guard !excluded.contains(where: { path == $0 || path.hasPrefix($0 + "/") }) else { continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            searched += 1
            if let hit = Self.holdsAny(data, canaries) { Issue.record("\(file) holds the canary \(hit)") }
        }
        #expect(searched >= 20, "searched \(searched) files")
        for expected in ["vault/vault.sqlite", "restored/vault.sqlite", "out/rejects.csv", "out/erased.json", "out/ledger.json"] {
            #expect(FileManager.default.fileExists(atPath: w.scratch.file(expected)), "\(expected) was written and searched")
        }

        // 3. No temp file survives: the private TMPDIR is empty, and no half-made file or
        // directory (.new, .partial, snapshot, staging, journal) is left anywhere.
        let tmpLeft = try FileManager.default.contentsOfDirectory(atPath: w.tmp)
        #expect(tmpLeft.isEmpty, "temp files left in TMPDIR: \(tmpLeft)")
        let leftovers = try FileManager.default.subpathsOfDirectory(atPath: w.scratch.path).filter { path in
            let name = (path as NSString).lastPathComponent
            return name.hasSuffix(".new") || name.hasSuffix(".partial") || name.hasSuffix("-journal") || name.contains(".backup-snapshot")
                || name.contains(".restoring-") || name.hasSuffix(".tmp") || name.hasPrefix(".tmp")
        }
        #expect(leftovers.isEmpty, "temp files left: \(leftovers)")

        // 4. File modes: nothing secret or personal is open to group or others.
        var privateFiles = [receipt, w.scratch.file("out/ledger.json"), w.scratch.file("out/rejects.csv"), backupFile]
        for dir in [w.vault, restored] {
            privateFiles += [dir + "/Keys/keyring.json", dir + "/vault.sqlite"]
            privateFiles += [dir + "/vault.sqlite-wal", dir + "/vault.sqlite-shm"].filter { FileManager.default.fileExists(atPath: $0) }
            #expect(try Self.mode(dir) == 0o700, "\(dir) is 0700")
            #expect(try Self.mode(dir + "/Keys") == 0o700, "\(dir)/Keys is 0700")
        }
        privateFiles += try FileManager.default.contentsOfDirectory(atPath: backups).map { backups + "/" + $0 }
        privateFiles += try FileManager.default.contentsOfDirectory(atPath: w.vault + "/Backups").map { w.vault + "/Backups/" + $0 }
        for package in [unsealed, sealed, opened] {
            #expect(try Self.mode(package) & 0o077 == 0, "\(package) is private")
            privateFiles += try FileManager.default.contentsOfDirectory(atPath: package).map { package + "/" + $0 }
        }
        if let reports = try? FileManager.default.contentsOfDirectory(atPath: w.vault + "/Reports") {
            privateFiles += reports.map { w.vault + "/Reports/" + $0 }
        }
        for path in privateFiles {
            let mode = try Self.mode(path)
            #expect(mode & 0o077 == 0, "\(path) has mode \(String(mode, radix: 8))")
        }
    }

    static func mode(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int ?? 0o777
    }

    /// The label of the first canary found in `data`: any token as text (ASCII case
    /// ignored), or its lower-case hex, or its base64 / base64url at any alignment.
    static func holdsAny(_ data: Data, _ canaries: [Canary]) -> String? {
        let folded = Data(data.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 })
        for canary in canaries {
            for token in canary.tokens {
                let lower = token.lowercased()
                if contains(folded, Array(lower.utf8)) { return "\(canary.label) (text)" }
                if contains(folded, Array(lower.utf8.map { String(format: "%02x", $0) }.joined().utf8)) {
                    return "\(canary.label) (hex)"
                }
                for form in Set([token, lower, token.uppercased()]) {
                    let bytes = Array(form.utf8)
                    // The base64 of bytes that start at a 3-byte boundary of the encoded
                    // text; trying the three shifts finds the token wherever it sits.
                    for shift in 0..<3 where bytes.count - shift >= 9 {
                        let slice = Array(bytes[shift..<(shift + (bytes.count - shift) / 3 * 3)])
                        let b64 = Data(slice).base64EncodedString()
                        let url = b64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                        if contains(data, Array(b64.utf8)) || contains(data, Array(url.utf8)) {
                            return "\(canary.label) (base64)"
                        }
                    }
                }
            }
        }
        return nil
    }

    /// memchr for the first byte, memcmp for the rest: Data.range(of:) is too slow for a
    /// few thousand searches of each store file (and Glibc's module lacks memmem).
    static func contains(_ haystack: Data, _ needle: [UInt8]) -> Bool {
        haystack.withUnsafeBytes { hay in
            needle.withUnsafeBytes { n in
                guard let h = hay.baseAddress, let p = n.baseAddress, n.count > 0, hay.count >= n.count else { return false }
                let first = Int32(n[0])
                var offset = 0
                let last = hay.count - n.count
                while offset <= last {
                    guard let found = memchr(h + offset, first, last - offset + 1) else { return false }
                    let at = h.distance(to: UnsafeRawPointer(found))
                    if memcmp(h + at, p, n.count) == 0 { return true }
                    offset = at + 1
                }
                return false
            }
        }
    }
}
