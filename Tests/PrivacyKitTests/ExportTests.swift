import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

@Suite("Subject export")
struct ExportTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")
    /// Values that must never appear outside a plain package: in a sealed one, in errors,
    /// in audit reasons.
    static let canaries = ["Quixotic", "Xylophone", "524719036", "zq.canary@example.com"]
    static let record: [String: String] = [
        "full_name": "Zelda Quixotic", "email": "zq.canary@example.com", "phone": "+1 415 555 0123",
        "birth_date": "1990-04-01", "national_id": "524-71-9036", "address": "12 \"Xylophone\" Lane, Apt 3",
        "city": "Springfield", "country": "US", "segment": "vip, \"gold\"",
    ]

    /// A vault (the consent suite's) with c1 (every field, two consent events) and c2 (a
    /// little of both), and reads of each by a support agent.
    struct Setup {
        let base: ConsentTests.Setup
        var dir: TempDirectory { base.dir }
        var vault: Vault { base.vault }

        init() throws {
            base = try ConsentTests.Setup(subjects: [])
            try vault.records.put(subject: "c1", values: ExportTests.record, context: ExportTests.admin)
            try vault.records.put(subject: "c2", values: ["email": "other@example.com", "city": "Elsewhere"], context: ExportTests.admin)
            try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm, evidenceHash: String(repeating: "ab", count: 16)),
                                    subject: "c1", context: ExportTests.admin)
            try vault.consent.record(ConsentChange(.withdraw, purpose: "marketing-email", channel: .callCentre), subject: "c1", context: ExportTests.admin)
            try vault.consent.record(ConsentChange(.grant, purpose: "marketing-sms", channel: .app), subject: "c2", context: ExportTests.admin)
            let agent = AccessContext(actor: "agent-7", role: "support-agent", purpose: "customer-support")
            _ = try vault.records.get(subject: "c1", fields: ["email"], context: agent)
            _ = try vault.records.get(subject: "c2", context: agent)
        }

        func reopen() throws -> Vault { try Vault.open(at: vault.directory, rootKey: .keyFile(at: dir.file("root.key"))) }

        func out(_ name: String = "export") -> URL { dir.url.appendingPathComponent(name) }

        /// Seqs of every audit event about `subject`, read with plain SQL.
        func auditSeqs(of subject: String) throws -> [Int64] {
            let pseudonym = try vault.core.subjectPseudonym(subject)
            return try vault.store.read { db in
                try Int64.fetchAll(db, sql: "SELECT seq FROM audit_events WHERE subject = ? ORDER BY seq", arguments: [pseudonym])
            }
        }

        func event(seq: Int64) throws -> (action: String, outcome: String, fields: String, reason: String?) {
            try vault.store.read { db in
                let row = try #require(try StoreRow.fetchOne(db, sql: "SELECT action, outcome, fields, reason FROM audit_events WHERE seq = ?", arguments: [seq]))
                return (row[0], row[1], row[2], row[3])
            }
        }

        func lastEvent() throws -> (action: String, outcome: String, subject: String?, reason: String?) {
            try vault.store.read { db in
                let row = try #require(try StoreRow.fetchOne(db, sql: "SELECT action, outcome, subject, reason FROM audit_events ORDER BY seq DESC LIMIT 1"))
                return (row[0], row[1], row[2], row[3])
            }
        }

        /// Names in the test directory (so a leftover staging directory shows).
        func entries() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: dir.path)) }
    }

    static func json(_ path: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
    }

    static func csv(_ path: String) throws -> [[String]] {
        let reader = CSVReader(data: try Data(contentsOf: URL(fileURLWithPath: path)))
        var rows: [[String]] = []
        while let row = try reader.next() {
            guard case .record(_, let fields) = row else { Issue.record("malformed CSV row in \(path): \(row)"); continue }
            rows.append(fields)
        }
        return rows
    }

    static let plainFiles = SubjectExport.dataFileNames + ["manifest.json", "SHA256SUMS"]

    @Test func thePlainPackageHoldsTheSubjectsValuesConsentAndOwnAccessEvents() throws {
        let s = try Setup()
        let stored = try s.vault.records.get(subject: "c1", context: Self.admin)
        let otherSeqs = try s.auditSeqs(of: "c2")
        let summary = try s.vault.requests.exportSubject("c1", to: s.out(), context: Self.admin)
        let out = s.out().path

        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: out)) == Set(Self.plainFiles))
        #expect(try mode(out) == 0o700)
        for name in Self.plainFiles { #expect(try mode(out + "/" + name) == 0o600, "\(name)") }
        #expect(summary.written == Self.plainFiles && !summary.sealed && summary.directory == out)
        #expect(try s.entries() == ["root.key", "vault", "export"])

        // Fields: the exact decrypted values, in schema order, with their categories.
        let record = try Self.json(out + "/record.json")
        let fields = try #require(record["fields"] as? [[String: Any]])
        let order = s.vault.policies.schema.fields.map(\.name).filter { stored[$0] != nil }
        #expect(fields.compactMap { $0["field"] as? String } == order)
        for field in fields {
            let name = try #require(field["field"] as? String)
            #expect(field["value"] as? String == stored[name], "\(name)")
            #expect(field["category"] as? String == s.vault.policies.schema[name]?.category && field["masked"] as? Bool == false)
        }
        #expect(record["subject"] as? String == "c1" && (record["withheld"] as? [String]) == [])
        #expect(try Self.csv(out + "/record.csv") == [["field", "value", "category"]] + order.map { [$0, stored[$0]!, s.vault.policies.schema[$0]!.category] })

        // Consent: c1's two events, oldest first.
        let consent = try #require(try Self.json(out + "/consent.json")["events"] as? [[String: Any]])
        #expect(consent.compactMap { $0["kind"] as? String } == ["grant", "withdraw"])
        #expect(consent.compactMap { $0["channel"] as? String } == ["web-form", "call-centre"])
        #expect(consent.allSatisfy { $0["purpose"] as? String == "marketing-email" && $0["notice_version"] as? String == "2026-01" })
        let consentCSV = try Self.csv(out + "/consent.csv")
        #expect(consentCSV.first == ["id", "purpose", "kind", "time", "channel", "notice_version", "expires_at", "evidence_hash"])
        #expect(consentCSV.dropFirst().map { $0[2] } == ["grant", "withdraw"])
        #expect(consentCSV[1][6].hasPrefix("20") && consentCSV[1][7] == String(repeating: "ab", count: 16) && consentCSV[2][6] == "")

        // The access log: exactly c1's events (the export's own last), none of c2's.
        let seqs = try s.auditSeqs(of: "c1")
        let log = try #require(try Self.json(out + "/access-log.json")["events"] as? [[String: Any]])
        #expect(log.compactMap { ($0["seq"] as? NSNumber)?.int64Value } == seqs)
        #expect(Set(seqs).isDisjoint(with: otherSeqs) && !otherSeqs.isEmpty)
        #expect(seqs.last == summary.manifest.auditSeq)
        #expect(log.contains { $0["actor"] as? String == "agent-7" && $0["role"] as? String == "support-agent"
            && $0["purpose"] as? String == "customer-support" && $0["fields"] as? [String] == ["email"] && $0["action"] as? String == "record.read" })
        #expect(log.allSatisfy { $0["subject"] as? String == (try? s.vault.core.subjectPseudonym("c1")) })
        let own = try #require(log.last)
        #expect(own["action"] as? String == "record.export" && own["actor"] as? String == "dpo" && own["outcome"] as? String == "allowed")
        let logCSV = try Self.csv(out + "/access-log.csv")
        #expect(logCSV.first == ["seq", "time", "actor", "role", "action", "purpose", "fields", "outcome", "reason"])
        #expect(logCSV.last?.last == "subject export (10 files, plain)")
        #expect(logCSV.dropFirst().map { Int64($0[0]) } == seqs)

        // One export event: the fields exported, never a value.
        let event = try s.event(seq: summary.manifest.auditSeq)
        #expect(event.action == "record.export" && event.outcome == "allowed")
        #expect(event.reason == "subject export (10 files, plain)")
        for name in order { #expect(event.fields.contains(name)) }
        for canary in Self.canaries { #expect(!event.fields.contains(canary) && !(event.reason ?? "").contains(canary)) }
        #expect(summary.consentEvents == 2 && summary.accessEvents == seqs.count)
        #expect(try s.vault.audit.verify().ok)
    }

    @Test func theManifestAndSHA256SUMSMatchTheFiles() throws {
        let s = try Setup()
        let summary = try s.vault.requests.exportSubject("c1", to: s.out(), context: Self.admin)
        let out = s.out().path
        let manifest = try JSONDecoder().decode(SubjectExportManifest.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/manifest.json")))
        #expect(manifest == summary.manifest)
        #expect(manifest.format == "privacykit-subject-export" && manifest.formatVersion == 1 && manifest.vaultID == s.vault.id.hex)
        #expect(manifest.subject == "c1" && manifest.sealedTo == nil && manifest.withheld.isEmpty && manifest.masked.isEmpty)
        #expect(manifest.files.map(\.name) == SubjectExport.dataFileNames)
        for file in manifest.files {
            let bytes = try readBytes(out + "/" + file.name)
            #expect(file.bytes == bytes.count && file.sha256 == Hex.encode(SHA256.hash(bytes)), "\(file.name)")
        }
        let sums = try String(contentsOfFile: out + "/SHA256SUMS", encoding: .utf8)
        let expected = try (SubjectExport.dataFileNames + ["manifest.json"]).map { "\(Hex.encode(SHA256.hash(try readBytes(out + "/" + $0))))  \($0)\n" }.joined()
        #expect(sums == expected)
        // The tool a requester would use agrees.
        let tool = "/usr/bin/sha256sum"
        if FileManager.default.isExecutableFile(atPath: tool) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = ["-c", "--quiet", "SHA256SUMS"]
            process.currentDirectoryURL = s.out()
            try process.run()
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
        }
    }

    @Test func csvIsRFC4180() throws {
        let values = ["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r\nlf", "", " spaced ", "=1+2"]
        let bytes = SubjectExport.CSV.document(header: ["v", "n"], rows: values.enumerated().map { [$0.element, String($0.offset)] })
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("v,n\r\nplain,0\r\n\"a,b\",1\r\n\"say \"\"hi\"\"\",2\r\n\"two\nlines\",3\r\n"))
        #expect(text.hasSuffix("\r\n,5\r\n spaced ,6\r\n=1+2,7\r\n"))
        let reader = CSVReader(data: Data(bytes))
        var rows: [[String]] = []
        while case .record(_, let fields)? = try reader.next() { rows.append(fields) }
        #expect(rows == [["v", "n"]] + values.enumerated().map { [$0.element, String($0.offset)] })
    }

    @Test func aRoleWithoutExportIsDeniedAndTheDenialIsAudited() throws {
        let s = try Setup()
        let pseudonym = try s.vault.core.subjectPseudonym("c1")
        for context in [AccessContext(actor: "m", role: "marketer", purpose: "marketing-email"),
                        AccessContext(actor: "a", role: "support-agent", purpose: "customer-support"),
                        AccessContext(actor: "p", role: "privacy-officer", purpose: nil)] {
            let error = expectError(.denied) { try s.vault.requests.exportSubject("c1", to: s.out(), context: context) }
            for canary in Self.canaries { #expect(error?.message.contains(canary) == false) }
            let last = try s.lastEvent()
            #expect(last.action == "record.export" && last.outcome == "denied" && last.subject == pseudonym, "\(context.role)")
            #expect(try s.entries() == ["root.key", "vault"], "nothing written, no staging left")
        }
        // The denial is in the subject's own access log, the next time it is exported.
        let summary = try s.vault.requests.exportSubject("c1", to: s.out(), context: Self.admin)
        let log = try #require(try Self.json(summary.directory + "/access-log.json")["events"] as? [[String: Any]])
        #expect(log.filter { $0["outcome"] as? String == "denied" && $0["action"] as? String == "record.export" }.count == 3)
    }

    @Test func fieldsReadMaskedComeOutMaskedAndUnreadableOnesAreWithheld() throws {
        let s = try Setup()
        let path = s.vault.policiesPath + "/access.yaml"
        let policy = try String(contentsOfFile: path, encoding: .utf8)
        let clerk = """
            roles:
              export-clerk:
                description: Answers access requests with identity details masked.
                actions: [export]
                read: ["category:contact", "category:location"]
                read_masked: ["category:identity"]
                purposes: [privacy-compliance]

            """
        try policy.replacingOccurrences(of: "roles:\n", with: clerk).write(toFile: path, atomically: true, encoding: .utf8)
        let vault = try s.reopen()
        let summary = try vault.requests.exportSubject("c1", to: s.out(), context: AccessContext(actor: "clerk", role: "export-clerk", purpose: "privacy-compliance"))
        #expect(summary.manifest.masked == ["full_name", "national_id"])
        #expect(summary.manifest.withheld == ["birth_date", "segment"])
        #expect(summary.manifest.fields == ["full_name", "email", "phone", "national_id", "address", "city", "country"])
        let record = try #require(try Self.json(summary.directory + "/record.json")["fields"] as? [[String: Any]])
        let values = Dictionary(uniqueKeysWithValues: record.map { ($0["field"] as! String, $0["value"] as! String) })
        #expect(values["full_name"] == "Z. Q." && values["national_id"] == "****9036" && values["email"] == "zq.canary@example.com")
        #expect(record.first { $0["field"] as? String == "full_name" }?["masked"] as? Bool == true)
        #expect(try Self.json(summary.directory + "/record.json")["withheld"] as? [String] == ["birth_date", "segment"])
        // Neither the full identity values nor the withheld ones are anywhere in the package.
        for name in try FileManager.default.contentsOfDirectory(atPath: summary.directory) {
            let text = String(decoding: try readBytes(summary.directory + "/" + name), as: UTF8.self)
            for secret in ["Quixotic", "524719036", "1990-04-01", "gold"] { #expect(!text.contains(secret), "\(secret) in \(name)") }
        }
        let event = try s.event(seq: summary.manifest.auditSeq)
        #expect(event.reason == "subject export (10 files, plain); masked: full_name,national_id; withheld: birth_date,segment")
    }

    @Test func unknownAndErasedSubjectsAreNotFoundAndNothingIsWritten() throws {
        let s = try Setup()
        let before = try s.auditSeqs(of: "nobody")
        let unknown = expectError(.notFound) { try s.vault.requests.exportSubject("nobody", to: s.out(), context: Self.admin) }
        #expect(unknown?.message.contains("no subject nobody") == true)
        #expect(try s.auditSeqs(of: "nobody") == before)
        // Erased through the library: a tombstone written behind it fails the decision
        // state's integrity check instead (DecisionStateAttackTests).
        try s.vault.records.put(subject: "gone", values: ["email": "gone@example.com"], context: Self.admin)
        let receipt = try s.vault.retention.erase(subject: "gone", reason: "erasure request", context: Self.admin).receipt
        let erased = expectError(.notFound) { try s.vault.requests.exportSubject("gone", to: s.out(), context: Self.admin) }
        #expect(erased?.message.contains("was erased on \(receipt.erasedAt)") == true, "\(erased?.message ?? "")")
        #expect(try s.entries() == ["root.key", "vault"])
        expectError(.invalidInput) { try s.vault.requests.exportSubject("", to: s.out(), context: Self.admin) }
    }

    @Test func theTargetMustBeNewOrEmptyAndItsParentMustExist() throws {
        let s = try Setup()
        let full = s.out("full")
        try FileManager.default.createDirectory(at: full, withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: full.appendingPathComponent("note.txt"))
        expectError(.alreadyExists) { try s.vault.requests.exportSubject("c1", to: full, context: Self.admin) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: full.path) == ["note.txt"])
        try Data("x".utf8).write(to: s.out("file"))
        expectError(.alreadyExists) { try s.vault.requests.exportSubject("c1", to: s.out("file"), context: Self.admin) }
        expectError(.notFound) { try s.vault.requests.exportSubject("c1", to: s.out("missing/export"), context: Self.admin) }
        let empty = s.out("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: false)
        let summary = try s.vault.requests.exportSubject("c1", to: empty, context: Self.admin)
        #expect(try summary.written.count == 10 && mode(empty.path) == 0o700)
        #expect(try s.entries() == ["root.key", "vault", "full", "file", "empty"])
    }

    // MARK: Sealed

    struct Requester {
        let keys: SubjectExportKeyFiles
        let publicKey: SealedBox.PublicKey
        let keyPair: SealedBox.KeyPair

        init(_ dir: TempDirectory, _ name: String) throws {
            keys = try SubjectExport.generateKeyPair(prefix: dir.file(name))
            publicKey = try SubjectExport.readPublicKey(at: keys.publicKeyPath)
            keyPair = try SubjectExport.readSecretKey(at: keys.secretKeyPath)
        }
    }

    @Test func aSealedPackageHoldsNoPlaintextAndOpensToTheExactFiles() throws {
        let s = try Setup()
        let requester = try Requester(s.dir, "requester")
        #expect(requester.keyPair.publicKey == requester.publicKey)
        let summary = try s.vault.requests.exportSubject("c1", to: s.out(), sealedTo: requester.publicKey, context: Self.admin)
        let out = s.out().path
        let sealedNames = Self.plainFiles.map { $0 + ".sealed" } + ["README.txt"]
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: out)) == Set(sealedNames))
        #expect(summary.written == sealedNames && summary.sealed && summary.manifest.sealedTo == requester.keys.fingerprint)
        for name in sealedNames { #expect(try mode(out + "/" + name) == 0o600) }
        // No plaintext anywhere: not a canary, not the subject id, not a field name.
        for name in sealedNames {
            let bytes = try readBytes(out + "/" + name)
            for needle in Self.canaries + ["Springfield", "record.export", "full_name"] {
                #expect(bytes.firstRange(of: Array(needle.utf8)) == nil, "\(needle) in \(name)")
            }
        }
        let readme = try String(contentsOfFile: out + "/README.txt", encoding: .utf8)
        #expect(readme.contains("Sealed to public key (fingerprint): \(requester.keys.fingerprint)") && readme.contains("privacyctl export open"))
        #expect(try s.event(seq: summary.manifest.auditSeq).reason == "subject export (11 files, sealed)")

        let opened = s.out("opened")
        let manifest = try SubjectExport.openSealed(s.out(), keyPair: requester.keyPair, to: opened)
        #expect(manifest == summary.manifest)
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: opened.path)) == Set(Self.plainFiles))
        #expect(try mode(opened.path) == 0o700)
        // The files are byte for byte those hashed before sealing.
        for file in summary.manifest.files {
            let bytes = try readBytes(opened.path + "/" + file.name)
            #expect(bytes.count == file.bytes && Hex.encode(SHA256.hash(bytes)) == file.sha256, "\(file.name)")
        }
        #expect(try JSONDecoder().decode(SubjectExportManifest.self, from: Data(readBytes(opened.path + "/manifest.json"))) == summary.manifest)
        let values = try #require(try Self.json(opened.path + "/record.json")["fields"] as? [[String: Any]])
        #expect(values.first { $0["field"] as? String == "full_name" }?["value"] as? String == "Zelda Quixotic")
        let sums = try String(contentsOfFile: opened.path + "/SHA256SUMS", encoding: .utf8)
        #expect(sums.split(separator: "\n").count == 9 && sums.contains("  manifest.json\n"))
    }

    @Test func aWrongKeyOrATamperedPackageFailsAndWritesNothing() throws {
        let s = try Setup()
        let requester = try Requester(s.dir, "requester")
        let stranger = try Requester(s.dir, "stranger")
        let summary = try s.vault.requests.exportSubject("c1", to: s.out(), sealedTo: requester.publicKey, context: Self.admin)
        let opened = s.out("opened")
        let names = try s.entries()

        let wrong = expectError(.wrongKey) { try SubjectExport.openSealed(s.out(), keyPair: stranger.keyPair, to: opened) }
        #expect(wrong?.message.contains(requester.keys.fingerprint) == true && wrong?.message.contains(stranger.keys.fingerprint) == true)
        #expect(try s.entries() == names)

        // One flipped byte in one file.
        let target = summary.directory + "/record.csv.sealed"
        let original = try readBytes(target)
        var altered = original
        altered[altered.count / 2] ^= 0x01
        try writeFile(target, altered)
        let tampered = expectError(.integrity) { try SubjectExport.openSealed(s.out(), keyPair: requester.keyPair, to: opened) }
        #expect(tampered?.message.contains("record.csv.sealed") == true)
        #expect(try s.entries() == names)

        // A file replaced by another one sealed to the same key: opens, but not the manifest's.
        try writeFile(target, try SealedBox.seal(Array("field,value,category\r\n".utf8), to: requester.publicKey))
        let swapped = expectError(.integrity) { try SubjectExport.openSealed(s.out(), keyPair: requester.keyPair, to: opened) }
        #expect(swapped?.message.contains("record.csv does not match") == true)

        // A missing file; an extra one.
        try FileManager.default.removeItem(atPath: target)
        expectError(.integrity) { try SubjectExport.openSealed(s.out(), keyPair: requester.keyPair, to: opened) }
        try writeFile(target, original)
        try writeFile(summary.directory + "/extra.sealed", [1, 2, 3])
        let extra = expectError(.integrity) { try SubjectExport.openSealed(s.out(), keyPair: requester.keyPair, to: opened) }
        #expect(extra?.message.contains("extra.sealed") == true)
        try FileManager.default.removeItem(atPath: summary.directory + "/extra.sealed")
        #expect(try s.entries() == names)

        // Restored, it opens; a plain package is not a sealed one.
        try SubjectExport.openSealed(s.out(), keyPair: requester.keyPair, to: opened)
        let plain = try s.vault.requests.exportSubject("c1", to: s.out("plain"), context: Self.admin)
        expectError(.notFound) { try SubjectExport.openSealed(URL(fileURLWithPath: plain.directory), keyPair: requester.keyPair, to: s.out("again")) }
    }

    @Test func keyFilesAreWrittenOnceAndReadStrictly() throws {
        let dir = try TempDirectory()
        let keys = try SubjectExport.generateKeyPair(prefix: dir.file("k"))
        #expect(keys.publicKeyPath == dir.file("k.pub") && keys.secretKeyPath == dir.file("k.key") && keys.fingerprint.count == 32)
        #expect(try mode(keys.secretKeyPath) == 0o600 && (try mode(keys.publicKeyPath)) == 0o644)
        let before = try readBytes(keys.secretKeyPath)
        expectError(.alreadyExists) { try SubjectExport.generateKeyPair(prefix: dir.file("k")) }
        #expect(try readBytes(keys.secretKeyPath) == before)

        let key = try SubjectExport.readPublicKey(at: keys.publicKeyPath)
        #expect(SubjectExport.fingerprint(key) == keys.fingerprint)
        try writeFile(dir.file("hex.pub"), Array(("  " + Hex.encode(key.bytes) + "\r\n").utf8), mode: 0o644)
        #expect(try SubjectExport.readPublicKey(at: dir.file("hex.pub")) == key)
        try writeFile(dir.file("raw.pub"), key.bytes, mode: 0o644)
        #expect(try SubjectExport.readPublicKey(at: dir.file("raw.pub")) == key)
        for bad in ["not a key", Hex.encode(key.bytes) + "00", Base64URL.encode(key.bytes) + "=", String(repeating: "0", count: 64)] {
            try writeFile(dir.file("bad.pub"), Array(bad.utf8), mode: 0o644)
            expectError(.invalidInput) { try SubjectExport.readPublicKey(at: dir.file("bad.pub")) }
        }
        expectError(.notFound) { try SubjectExport.readPublicKey(at: dir.file("missing.pub")) }

        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keys.secretKeyPath)
        expectError(.insecurePermissions) { try SubjectExport.readSecretKey(at: keys.secretKeyPath) }
        try writeFile(dir.file("bad.key"), Array("short".utf8))
        expectError(.invalidInput) { try SubjectExport.readSecretKey(at: dir.file("bad.key")) }
    }
}
