import Foundation
import GRDB
import Testing

/// `privacyctl export …` end to end.
@Suite("privacyctl export")
struct ExportCommandTests {
    typealias Exit = PrivacyctlTests.Exit

    static let canaries = ["Quentin Canarybird", "canarybird@example.com", "7 \"Canary\" Row, Flat 2"]

    struct Setup {
        let v: PrivacyctlTests.KeyFileVault
        let env: [String: String]

        init() throws {
            v = try PrivacyctlTests.KeyFileVault()
            env = v.environment()
            let values = v.scratch.file("values.txt")
            try Data("full_name=\(canaries[0])\nemail=\(canaries[1])\naddress=\(canaries[2])\ncountry=GB\n".utf8).write(to: URL(fileURLWithPath: values))
            let put = try CLI.run(["records", "put", "--subject", "S1", "--values-file", values], environment: env)
            #expect(put.status == 0, "\(put.stderr)")
            #expect(try CLI.run(["records", "put", "--subject", "S2", "--set", "email=s2@example.com"], environment: env).status == 0)
            #expect(try CLI.run(["consent", "grant", "--subject", "S1", "--purpose", "marketing-email", "--channel", "store"], environment: env).status == 0)
        }

        func path(_ name: String) -> String { v.scratch.file(name) }

        /// The newest audit event, read with plain SQL.
        func lastEvent() throws -> String {
            let queue = try DatabaseQueue(path: v.vault + "/vault.sqlite")
            defer { try? queue.close() }
            return try queue.read { db in
                let row = try #require(try Row.fetchOne(db, sql: "SELECT action, outcome FROM audit_events ORDER BY seq DESC LIMIT 1"))
                return "\(row[0] as String) \(row[1] as String)"
            }
        }
    }

    @Test func exportWritesThePackageAndPrintsOneJSONObject() throws {
        let s = try Setup()
        let run = try CLI.run(["export", "S1", "--out", s.path("pkg"), "--json"], environment: s.env)
        #expect(run.status == 0, "\(run.stderr)")
        let json = try run.json()
        #expect(Set(json.keys) == ["ok", "directory", "sealed", "manifest", "written", "bytes", "consent_events", "access_events",
                                   "processing_described", "processing_problem"])
        #expect(json["processing_described"] as? Bool == true && json["processing_problem"] is NSNull)
        #expect(json["ok"] as? Bool == true && json["sealed"] as? Bool == false && json["directory"] as? String == s.path("pkg"))
        let manifest = try #require(json["manifest"] as? [String: Any])
        #expect(manifest["subject"] as? String == "S1" && manifest["vault_id"] as? String == s.v.vaultID && manifest["sealed_to"] == nil)
        #expect(manifest["fields"] as? [String] == ["full_name", "email", "address", "country"])
        #expect(json["consent_events"] as? Int == 1 && manifest["masked"] as? [String] == [] && manifest["withheld"] as? [String] == [])
        let files = try #require(manifest["files"] as? [[String: Any]])
        #expect(files.compactMap { $0["name"] as? String } == ["record.json", "record.csv", "consent.json", "consent.csv", "access-log.json", "access-log.csv", "about.json", "about.txt"])
        #expect(json["written"] as? [String] == files.compactMap { $0["name"] as? String } + ["manifest.json", "SHA256SUMS"])
        let onDisk = try (json["written"] as? [String] ?? []).reduce(0) { $0 + (try s.v.scratch.bytes("pkg/" + $1)).count }
        #expect(json["bytes"] as? Int == onDisk)
        let csv = String(decoding: try s.v.scratch.bytes("pkg/record.csv"), as: UTF8.self)
        #expect(csv.contains("address,\"7 \"\"Canary\"\" Row, Flat 2\",location\r\n"))

        // Text: a summary, no values.
        let text = try CLI.run(["export", "subject", "S1", "--out", s.path("pkg2")], environment: s.env)
        #expect(text.status == 0 && text.stdout.contains("exported S1 to \(s.path("pkg2")): 10 files") && text.stdout.contains("not sealed"))
        #expect(text.stdout.contains("fields: full_name, email, address, country") && !text.stderr.contains("warning"))
        for canary in Self.canaries { #expect(!text.stdout.contains(canary) && !text.stderr.contains(canary)) }
        #expect(try CLI.run(["audit", "verify", "--json"], environment: s.env).json()["ok"] as? Bool == true)
    }

    @Test func withoutProcessingYAMLTheExportSucceedsAndWarns() throws {
        let s = try Setup()
        try FileManager.default.removeItem(atPath: s.v.vault + "/Policies/processing.yaml")
        let text = try CLI.run(["export", "S1", "--out", s.path("pkg")], environment: s.env)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stderr.contains("warning: about.json says the controller has not described its processing") && text.stderr.contains("processing.yaml"))
        let about = String(decoding: try s.v.scratch.bytes("pkg/about.json"), as: UTF8.self)
        #expect(about.contains("\"described\" : false") && about.contains("has not described its processing"))
        let json = try CLI.run(["export", "S1", "--out", s.path("pkg2"), "--json"], environment: s.env)
        #expect(json.status == 0 && !json.stderr.contains("warning: about.json"), "\(json.stderr)")
        let object = try json.json()
        #expect(object["processing_described"] as? Bool == false && (object["processing_problem"] as? String)?.contains("processing.yaml is missing") == true)
        for canary in Self.canaries { #expect(!text.stdout.contains(canary) && !text.stderr.contains(canary) && !about.contains(canary)) }
    }

    @Test func failuresHaveTheirExitCodesAndLeaveNothing() throws {
        let s = try Setup()
        func expectFailure(_ arguments: [String], _ status: Int32, _ code: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
            let run = try CLI.run(arguments + ["--json"], environment: s.env)
            #expect(run.status == status, "\(run.stderr)", sourceLocation: sourceLocation)
            let error = try #require(try run.json()["error"] as? [String: Any], sourceLocation: sourceLocation)
            #expect(error["code"] as? String == code && (error["exit_code"] as? NSNumber)?.int32Value == status, sourceLocation: sourceLocation)
            for canary in Self.canaries { #expect(!run.stdout.contains(canary) && !run.stderr.contains(canary), sourceLocation: sourceLocation) }
        }
        try expectFailure(["export", "S9", "--out", s.path("x")], Exit.notFound, "not-found")
        try FileManager.default.createDirectory(atPath: s.path("full"), withIntermediateDirectories: false)
        try Data("keep".utf8).write(to: URL(fileURLWithPath: s.path("full/keep.txt")))
        try expectFailure(["export", "S1", "--out", s.path("full")], Exit.alreadyExists, "already-exists")
        try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: s.path("bad.pub")))
        try expectFailure(["export", "S1", "--out", s.path("x"), "--seal-to", s.path("bad.pub")], Exit.invalidInput, "invalid-input")
        try expectFailure(["export", "S1", "--out", s.path("x"), "--seal-to", s.path("missing.pub")], Exit.notFound, "not-found")
        try expectFailure(["export", "S1", "--out", s.path("x"), "--role", "marketer", "--purpose", "marketing-email"], Exit.denied, "denied")
        #expect(try s.lastEvent() == "record.export denied")
        try expectFailure(["export", "S1", "--out", s.path("x"), "--role", "support-agent", "--purpose", "customer-support"], Exit.denied, "denied")
        #expect(try s.lastEvent() == "record.export denied")
        try expectFailure(["export", "S1"], Exit.usage, "usage")
        #expect(!FileManager.default.fileExists(atPath: s.path("x")))
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.path("full")) == ["keep.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.v.scratch.path).allSatisfy { !$0.hasPrefix(".") }, "no staging directory left")
    }

    @Test func aSealedPackageRoundTripsThroughKeypairExportAndOpen() throws {
        let s = try Setup()
        let keys = try CLI.run(["export", "keypair", "--out", s.path("req"), "--json"])
        #expect(keys.status == 0, "\(keys.stderr)")
        let keyJSON = try keys.json()
        let fingerprint = try #require(keyJSON["fingerprint"] as? String)
        #expect(keyJSON["public_key"] as? String == s.path("req.pub") && keyJSON["secret_key"] as? String == s.path("req.key"))
        #expect(try FileManager.default.attributesOfItem(atPath: s.path("req.key"))[.posixPermissions] as? Int == 0o600)
        #expect(try CLI.run(["export", "keypair", "--out", s.path("req")]).status == Exit.alreadyExists)

        let export = try CLI.run(["export", "S1", "--out", s.path("sealed"), "--seal-to", s.path("req.pub"), "--json"], environment: s.env)
        #expect(export.status == 0, "\(export.stderr)")
        let json = try export.json()
        let manifest = try #require(json["manifest"] as? [String: Any])
        #expect(json["sealed"] as? Bool == true && manifest["sealed_to"] as? String == fingerprint)
        let files = try #require(manifest["files"] as? [[String: Any]])
        for name in try FileManager.default.contentsOfDirectory(atPath: s.path("sealed")) {
            #expect(name == "README.txt" || name.hasSuffix(".sealed"))
            let bytes = [UInt8](try s.v.scratch.bytes("sealed/" + name))
            for canary in Self.canaries + ["Canarybird"] { #expect(bytes.firstRange(of: Array(canary.utf8)) == nil, "\(canary) in \(name)") }
        }

        let opened = try CLI.run(["export", "open", s.path("sealed"), "--secret-key", s.path("req.key"), "--out", s.path("opened"), "--json"])
        #expect(opened.status == 0, "\(opened.stderr)")
        let openedJSON = try opened.json()
        #expect(openedJSON["directory"] as? String == s.path("opened") && (openedJSON["manifest"] as? [String: Any])?["subject"] as? String == "S1")
        for file in files {
            let name = try #require(file["name"] as? String)
            let bytes = try s.v.scratch.bytes("opened/" + name)
            #expect(bytes.count == file["bytes"] as? Int, "\(name)")
        }
        #expect(String(decoding: try s.v.scratch.bytes("opened/record.json"), as: UTF8.self).contains("canarybird@example.com"))
        let sums = Process()
        sums.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        sums.arguments = ["-c", "--quiet", "SHA256SUMS"]
        sums.currentDirectoryURL = URL(fileURLWithPath: s.path("opened"))
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum") {
            try sums.run()
            sums.waitUntilExit()
            #expect(sums.terminationStatus == 0)
        }

        // A wrong key, a tampered file, an existing target: clear errors, nothing written.
        #expect(try CLI.run(["export", "keypair", "--out", s.path("other")]).status == 0)
        let wrong = try CLI.run(["export", "open", s.path("sealed"), "--secret-key", s.path("other.key"), "--out", s.path("o2")])
        #expect(wrong.status == Exit.wrongKey && wrong.stderr.contains("sealed to key \(fingerprint)"))
        let target = URL(fileURLWithPath: s.path("sealed/access-log.json.sealed"))
        var bytes = try Data(contentsOf: target)
        bytes[bytes.count - 1] ^= 0x80
        try bytes.write(to: target)
        let tampered = try CLI.run(["export", "open", s.path("sealed"), "--secret-key", s.path("req.key"), "--out", s.path("o2"), "--json"])
        #expect(try tampered.status == Exit.integrity && (tampered.json()["error"] as? [String: Any])?["code"] as? String == "integrity")
        #expect(tampered.stderr.contains("access-log.json.sealed"))
        #expect(!FileManager.default.fileExists(atPath: s.path("o2")))
        let exists = try CLI.run(["export", "open", s.path("sealed"), "--secret-key", s.path("req.key"), "--out", s.path("opened")])
        #expect(exists.status == Exit.alreadyExists)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: s.path("req.key"))
        let loose = try CLI.run(["export", "open", s.path("sealed"), "--secret-key", s.path("req.key"), "--out", s.path("o3")])
        #expect(loose.status == Exit.insecurePermissions)
    }
}
