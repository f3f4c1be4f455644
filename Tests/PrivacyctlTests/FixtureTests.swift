import Foundation
import Sodium
import Testing

/// The frozen fixtures of Tests/Fixtures/v1 (made by scripts/make-fixtures with the code of
/// 2026-12-07), opened, verified and restored by today's privacyctl as an operator would.
/// Formats will change; these files stay, so every change must keep reading them (or
/// upgrade them explicitly). See Tests/Fixtures/README.md for what each file is.
@Suite("privacyctl on the v1 fixtures")
struct FixtureTests {
    static let committed = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures/v1")

    /// A copy of the fixture folder in a scratch directory: tests never write into the
    /// committed files (opening a vault appends audit events). git keeps no modes, and
    /// privacyctl refuses key files and a keyring that others may read: the copy gets 0700
    /// directories and 0600 files.
    struct Copy {
        let scratch: Scratch
        let root: String
        let manifest: [String: Any]

        /// `upgraded`: carried over to this build's format with `privacyctl upgrade` first,
        /// as an operator must before any other command (format 1 → 2: the keyed audit chain).
        init(upgraded: Bool = true) throws {
            scratch = try Scratch()
            root = scratch.file("v1")
            try FileManager.default.copyItem(atPath: FixtureTests.committed.path, toPath: root)
            let walker = FileManager.default.enumerator(atPath: root)
            try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: root)
            while let relative = walker?.nextObject() as? String {
                let path = root + "/" + relative
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory)
                try FileManager.default.setAttributes([.posixPermissions: isDirectory.boolValue ? 0o700 : 0o600], ofItemAtPath: path)
            }
            manifest = try FixtureTests.manifest(at: root)
            if upgraded {
                let result = try run(["upgrade", "--json"])
                #expect(result.status == 0, "privacyctl upgrade: \(result.stderr)")
            }
        }

        func path(_ name: String) -> String { root + "/" + name }
        var vault: String { path("vault") }
        var key: String { path("fixture-root.key") }
        var publicKey: String {
            get throws { try String(contentsOfFile: path("audit-public-key.txt"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines) }
        }

        /// privacyctl on the copied vault with the fixture's root key.
        func run(_ arguments: [String], extra: [String: String] = [:]) throws -> CLI.Result {
            let environment = ["PRIVACYKIT_VAULT": vault, "PRIVACYKIT_KEY_FILE": key, "PRIVACYKIT_ACTOR": "fixture-test"]
            return try CLI.run(arguments, environment: environment.merging(extra) { $1 })
        }

        /// A manifest member by path (`holds.active`).
        func expected(_ keyPath: String) throws -> String {
            var value: Any = manifest
            for key in keyPath.split(separator: ".") {
                value = try #require((value as? [String: Any])?[String(key)], "manifest.json has no \(keyPath)")
            }
            return try #require(value as? String, "manifest.json's \(keyPath) is not a string")
        }
    }

    static func manifest(at root: String) throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/manifest.json"))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static let liveSubjects = ["fx-001", "fx-002", "fx-003", "fx-004", "fx-006", "fx-009", "fx-010"]
    static let erasedSubjects: Set<String> = ["fx-005", "fx-007", "fx-008"]

    // MARK: The committed files

    /// Every committed file is the one the manifest names, byte for byte, and there is no
    /// other: a regenerated or edited fixture, or a -wal left by opening the committed vault
    /// in place, fails here.
    @Test func theCommittedFilesAreExactlyTheManifestsFiles() throws {
        let root = Self.committed.path
        let files = try #require(try Self.manifest(at: root)["files"] as? [String: String])
        #expect(files.count >= 25)
        var found: Set<String> = []
        let walker = FileManager.default.enumerator(atPath: root)
        while let relative = walker?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory)
            if !isDirectory.boolValue && relative != "manifest.json" { found.insert(relative) }
        }
        #expect(found.subtracting(files.keys).sorted() == [], "files under Tests/Fixtures/v1 that the manifest does not list")
        #expect(Set(files.keys).subtracting(found).sorted() == [], "files the manifest lists that are gone")
        for (name, sha256) in files.sorted(by: { $0.key < $1.key }) {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: root + "/" + name)))
            #expect(Hex.encode(SHA256.hash(bytes)) == sha256, "Tests/Fixtures/v1/\(name) changed: fixtures are frozen, write a new folder")
        }
    }

    // MARK: The vault

    @Test func theVaultOpensWithItsKeyAndReadsBack() throws {
        let f = try Copy()
        let status = try f.run(["keys", "status", "--json"])
        #expect(status.status == 0, "\(status.stderr)")
        #expect(try status.json()["vault_id"] as? String == f.expected("vault_id"))

        let listed = try f.run(["records", "list", "--json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(try listed.json()["subjects"] as? [String] == Self.liveSubjects)

        // Every schema field, decrypted and normalized as the import stored it.
        let alice = try f.run(["records", "get", "--subject", "fx-001", "--json"])
        #expect(alice.status == 0, "\(alice.stderr)")
        #expect(try alice.json()["fields"] as? [String: String] == [
            "full_name": "Alice Example", "email": "alice.example@example.com", "phone": "+12025550101",
            "birth_date": "1980-04-02", "national_id": "FIXTURE0001", "address": "1 Example Street, Apt 2",
            "city": "Springfield", "country": "US", "created_at": "2024-01-15", "last_interaction": "2026-11-01",
            "segment": "customer",
        ])
        let taro = try f.run(["records", "get", "--subject", "fx-004", "--field", "full_name", "--field", "phone", "--field", "closed_at", "--json"])
        #expect(try taro.json()["fields"] as? [String: String] == ["full_name": "試験 太郎", "phone": "+61255500004", "closed_at": "2025-06-30"])
        // The sweep's erase_fields left fx-009 without its contact fields.
        let ida = try #require(try f.run(["records", "get", "--subject", "fx-009", "--json"]).json()["fields"] as? [String: String])
        #expect(ida["full_name"] == "Ida Former" && ida["email"] == nil && ida["phone"] == nil && ida["address"] == nil)
        // Masked in a role that sees identity only partly.
        let masked = try f.run(["records", "get", "--subject", "fx-001", "--role", "support-agent", "--purpose", "customer-support", "--json"])
        let maskedFields = try #require(try masked.json()["fields"] as? [String: String])
        #expect(maskedFields["full_name"] == "A. E." && maskedFields["national_id"] == "****0001" && maskedFields["birth_date"] == "***")
        // Blind indexes made under the fixture's index key still find.
        let found = try f.run(["records", "find", "--field", "email", "--value", " Alice.Example@EXAMPLE.com", "--json"])
        #expect(try found.json()["matches"] as? [String] == ["fx-001"])
        let byPhone = try f.run(["records", "find", "--field", "phone", "--value", "+44 20 7946 0001", "--json"])
        #expect(try byPhone.json()["matches"] as? [String] == ["fx-002"])
        // A read the policy refuses is still refused (and a restricted subject's too).
        #expect(try f.run(["records", "get", "--subject", "fx-001", "--role", "support-agent", "--purpose", "marketing-email"]).status == 68)
        #expect(try f.run(["records", "get", "--subject", "fx-003", "--role", "support-agent", "--purpose", "customer-support"]).status == 68)
    }

    @Test func erasedSubjectsStayErased() throws {
        let f = try Copy()
        #expect(try f.run(["records", "get", "--subject", "fx-005"]).status == 66)
        let erased = try #require(try f.run(["erase", "list", "--json"]).json()["erased"] as? [[String: Any]])
        #expect(Set(erased.compactMap { $0["subject"] as? String }) == Self.erasedSubjects)
        let rules = Dictionary(uniqueKeysWithValues: erased.compactMap { r in (r["subject"] as? String).map { ($0, r["rule"] as? String ?? "") } })
        #expect(rules == ["fx-005": "", "fx-007": "lead-inactive", "fx-008": "customer-tax-records"])
        let byRequest = try #require(erased.first { $0["subject"] as? String == "fx-005" })
        #expect(byRequest["request_id"] as? String == (try f.expected("requests.erasure_closed")))
        // Erasing again changes nothing and returns the stored receipt: the committed one.
        let receipt = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: f.path("receipts/erasure-fx-005.json")))) as? [String: Any]
        let again = try f.run(["erase", "fx-005", "--reason", "fixture test", "--json"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(try again.json()["already_erased"] as? Bool == true)
        #expect((try again.json()["receipt"] as? [String: Any])?["receipt_id"] as? String == receipt?["receiptID"] as? String)
        // A tombstoned id is never created again.
        #expect(try f.run(["records", "put", "--subject", "fx-007", "--set", "city=Anywhere"]).status == 65)
    }

    @Test func consentHoldsRestrictionsRequestsAndBreachesReadBack() throws {
        let f = try Copy()
        func state(_ subject: String, _ purpose: String) throws -> String? {
            let answer = try f.run(["consent", "status", "--subject", subject, "--purpose", purpose, "--json"])
            return (try answer.json()["answers"] as? [[String: Any]])?.first?["state"] as? String
        }
        #expect(try state("fx-001", "marketing-email") == "granted")
        #expect(try state("fx-001", "marketing-sms") == "granted")
        #expect(try state("fx-002", "marketing-email") == "withdrawn")
        #expect(try state("fx-004", "marketing-email") == "withdrawn", "the import's \"no\"")
        #expect(try state("fx-006", "marketing-email") == "never-asked", "the import's empty cell")
        #expect(try state("fx-003", "sale-or-sharing") == "restricted")
        let history = try f.run(["consent", "history", "--subject", "fx-002", "--purpose", "marketing-email", "--json"])
        #expect(history.status == 0, "\(history.stderr)")
        #expect((try history.json()["events"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } == ["grant", "withdraw"])

        let holds = try #require(try f.run(["holds", "list", "--all", "--json"]).json()["holds"] as? [[String: Any]])
        let active = try #require(holds.first { $0["id"] as? String == (try f.expected("holds.active")) })
        #expect(active["subject"] as? String == "fx-010" && active["released_at"] == nil)
        let released = try #require(holds.first { $0["id"] as? String == (try f.expected("holds.released")) })
        #expect(released["subject"] as? String == "fx-002" && released["released_at"] is String)
        // The active hold still blocks an erasure (exit 73, held).
        #expect(try f.run(["erase", "fx-010", "--reason", "fixture test"]).status == 73)

        let restrictions = try f.run(["restrict", "list", "--json"]).json()["restrictions"] as? [[String: Any]]
        #expect(restrictions?.compactMap { $0["subject"] as? String } == ["fx-003"])

        let now = ["--now", "2026-12-08T00:00:00Z"]
        let access = try f.run(["requests", "show", try f.expected("requests.access_open"), "--json"] + now)
        #expect(access.status == 0, "\(access.stderr)")
        let request = try #require(try access.json()["request"] as? [String: Any])
        #expect(request["status"] as? String == "open" && request["type"] as? String == "access" && request["regime"] as? String == "ccpa")
        #expect(request["reference"] as? String == "FX-TICKET-1")
        #expect(request["note"] as? String == "fixture note: wants a copy by post", "the note sealed under fx-001's key opens")
        #expect(request["deadline"] as? String == "2027-01-14T10:00:00.000Z")
        let erasure = try #require(try f.run(["requests", "show", try f.expected("requests.erasure_closed"), "--json"] + now).json()["request"] as? [String: Any])
        #expect(erasure["status"] as? String == "closed" && erasure["outcome"] as? String == "completed" && erasure["subject_state"] as? String == "erased")

        let breach = try #require(try f.run(["breach", "show", try f.expected("breach"), "--json"]).json()["breach"] as? [String: Any])
        #expect(breach["status"] as? String == "closed" && breach["notified_late"] as? Bool == false)
        #expect(breach["deadline"] as? String == "2026-12-01T08:00:00.000Z")
    }

    // MARK: The upgrade path

    /// A format-1 vault is refused (exit 76) without being touched; `upgrade --dry-run`
    /// changes nothing; `upgrade` carries it over, audited, once; the old witness still
    /// verifies, and the whole log now verifies with its MACs.
    @Test func aFormat1VaultIsRefusedUntilUpgradedExplicitlyAndAudited() throws {
        let f = try Copy(upgraded: false)
        // The log's length and head, read keyless (opening a SQLite file in WAL mode writes
        // pages of its own, so the file's bytes are no measure).
        func storeDigest() throws -> String {
            let report = try f.run(["audit", "verify", "--store", f.path("vault/vault.sqlite"), "--public-key=" + (try f.publicKey), "--json"]).json()
            return "\(report["events"] ?? "-") \(report["head_hash"] ?? "-")"
        }
        let keyring = { try Data(contentsOf: URL(fileURLWithPath: f.path("vault/Keys/keyring.json"))) }
        let (store0, keyring0) = (try storeDigest(), try keyring())

        let refused = try f.run(["records", "list", "--json"])
        #expect(refused.status == 76, "\(refused.stderr)")
        let error = try #require(try refused.json()["error"] as? [String: Any])
        #expect(error["code"] as? String == "upgrade-required")
        #expect((error["message"] as? String)?.contains("privacyctl upgrade") == true)

        let dry = try f.run(["upgrade", "--dry-run", "--json"])
        #expect(dry.status == 0, "\(dry.stderr)")
        let plan = try dry.json()
        #expect(plan["dry_run"] as? Bool == true && plan["upgraded"] as? Bool == false)
        #expect(plan["from_format"] as? Int == 1 && plan["to_format"] as? Int == 2)
        let steps = try #require(plan["steps"] as? [String])
        #expect(steps.count == 6 && steps.last?.contains("identity") == true, "\(steps)")
        #expect(try #require(plan["audit_events_verified"] as? Int) > 40)
        #expect(try storeDigest() == store0 && (try keyring()) == keyring0, "neither the refusal nor the dry run may change the vault")
        #expect(try f.run(["upgrade", "--dry-run", "--json"]).json()["from_format"] as? Int == 1)

        let done = try f.run(["upgrade", "--json"])
        #expect(done.status == 0, "\(done.stderr)")
        #expect(try done.json()["upgraded"] as? Bool == true)
        #expect(try keyring() != keyring0, "the keyring gains the audit-chain key")
        let again = try f.run(["upgrade", "--json"])
        #expect(try again.json()["upgraded"] as? Bool == false && (try again.json()["steps"] as? [String]) == [])

        let events = try f.run(["audit", "query", "--action", "vault.upgrade", "--json"])
        #expect((try events.json()["events"] as? [[String: Any]])?.count == 1, "\(events.stdout)")
        let verified = try f.run(["audit", "verify", "--with-secret", "--against", f.path("witness.jsonl"), "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        let report = try verified.json()
        #expect(report["witness_checkpoints_verified"] as? Int == 2)
        #expect(try #require(report["macs_verified"] as? Int) >= 2)
        #expect(try f.run(["records", "list", "--json"]).status == 0)
    }

    // MARK: The audit log and the witness file

    @Test func theAuditLogVerifiesWithTheKeyKeylessAndAgainstTheWitness() throws {
        let f = try Copy(upgraded: false)
        let publicKey = try f.publicKey
        // Keyless first, before anything appends to the copy (or upgrades it: an auditor
        // verifies a format-1 copy as it is): the recorded key, then a trusted copy of it,
        // then the store file alone.
        for arguments in [["audit", "verify"], ["audit", "verify", "--public-key=" + publicKey],
                          ["audit", "verify", "--store", f.path("vault/vault.sqlite"), "--public-key=" + publicKey]] {
            let verified = try f.run(arguments + ["--against", f.path("witness.jsonl"), "--json"])
            #expect(verified.status == 0, "\(arguments): \(verified.stderr)")
            let report = try verified.json()
            #expect(report["ok"] as? Bool == true && report["witness_checkpoints_verified"] as? Int == 2)
            #expect(report["vault_id"] as? String == (try f.expected("vault_id")))
            #expect(try #require(report["events"] as? Int) > 40)
        }
        // With the root key, once upgraded: a read appends to the old log, a new witness line
        // signs it, and the log verifies against all three.
        #expect(try f.run(["upgrade"]).status == 0)
        #expect(try f.run(["records", "get", "--subject", "fx-002", "--field", "city"]).status == 0)
        #expect(try f.run(["audit", "checkpoint", "--out", f.path("witness.jsonl")]).status == 0)
        let after = try f.run(["audit", "verify", "--against", f.path("witness.jsonl"), "--json"])
        #expect(after.status == 0, "\(after.stderr)")
        #expect(try after.json()["witness_checkpoints_verified"] as? Int == 3)

        // A witness line whose signature was altered is caught.
        let lines = try String(contentsOfFile: f.path("witness.jsonl"), encoding: .utf8).split(separator: "\n").map(String.init)
        var first = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        let signature = try #require(first["signature"] as? String)
        first["signature"] = (signature.hasPrefix("A") ? "B" : "A") + signature.dropFirst()
        let forged = f.path("forged-witness.jsonl")
        try JSONSerialization.data(withJSONObject: first, options: [.sortedKeys]).write(to: URL(fileURLWithPath: forged))
        let refused = try f.run(["audit", "verify", "--against", forged, "--json"])
        #expect(refused.status == 69)
        #expect((try refused.json()["problem"] as? [String: Any])?["kind"] as? String == "witness-signature")
    }

    // MARK: Receipts

    @Test func receiptsVerifyAndATamperedCopyFails() throws {
        let f = try Copy()
        let key = "--public-key=" + (try f.publicKey)
        let receipts = [("consent", "receipts/consent-fx-001.json", "fx-001"),
                        ("consent", "receipts/consent-fx-002-withdrawn.json", "fx-002"),
                        ("erase", "receipts/erasure-fx-005.json", "fx-005")]
        for (command, file, subject) in receipts {
            // Offline, with the trusted key, and through the vault's recorded key.
            for source in [[key], ["--vault", f.vault]] {
                let checked = try CLI.run([command, "verify-receipt", f.path(file), "--subject", subject, "--json"] + source)
                #expect(checked.status == 0, "\(file): \(checked.stderr)")
                #expect(try checked.json()["valid"] as? Bool == true)
            }
            let otherSubject = try CLI.run([command, "verify-receipt", f.path(file), "--subject", "fx-004", key, "--json"])
            #expect(otherSubject.status == 69)
            #expect(try otherSubject.json()["valid"] as? Bool == false)

            // One changed character in a signed member.
            let text = try String(contentsOfFile: f.path(file), encoding: .utf8)
            let tampered = f.path(file + ".tampered")
            try text.replacingOccurrences(of: "\"\(subject)\"", with: "\"fx-099\"").write(toFile: tampered, atomically: true, encoding: .utf8)
            #expect(text.contains("\"\(subject)\""))
            let refused = try CLI.run([command, "verify-receipt", tampered, key, "--json"])
            #expect(refused.status == 69, "\(file)")
            #expect(try refused.json()["valid"] as? Bool == false)
        }
        let withdrawn = try String(contentsOfFile: f.path("receipts/consent-fx-002-withdrawn.json"), encoding: .utf8)
        #expect(withdrawn.contains("\"withdrawn\""))
    }

    // MARK: Backups

    @Test func backupsVerifyWithTheRootKeyAndTheRecoveryKey() throws {
        let f = try Copy()
        let backups = try #require(f.manifest["backups"] as? [String: [String: Any]])
        #expect(backups.count == 2)
        for (file, facts) in backups.sorted(by: { $0.key < $1.key }) {
            let verified = try f.run(["backup", "verify", f.path(file), "--json"])
            #expect(verified.status == 0, "\(file): \(verified.stderr)")
            let report = try verified.json()
            #expect(report["ok"] as? Bool == true)
            let manifest = try #require(report["manifest"] as? [String: Any])
            #expect(manifest["backup_id"] as? String == facts["id"] as? String)
            #expect(manifest["compressed"] as? Bool == facts["compressed"] as? Bool)
            #expect(manifest["tombstones"] as? Int == (facts["before_erasure"] as? Bool == true ? 2 : 3))

            // The recovery key alone (no vault, no root secret) opens only the one sealed to it,
            // and, since v1 backups carry no vault identity, only when that is accepted explicitly.
            let sealed = facts["recovery_key"] as? Bool == true
            let recovery = try CLI.run(["backup", "verify", f.path(file), "--recovery-key-file", f.path("fixture-recovery.key"), "--allow-unbound-backup", "--json"])
            #expect(recovery.status == (sealed ? 0 : 67), "\(file): \(recovery.stderr)")
            let unbound = try CLI.run(["backup", "verify", f.path(file), "--recovery-key-file", f.path("fixture-recovery.key")])
            #expect(unbound.status == (sealed ? 69 : 67), "\(file): \(unbound.stderr)")
            #expect(!sealed || unbound.stderr.contains("--allow-unbound-backup"))
        }
        // A flipped byte in the middle is caught.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: f.path("backups/recovery-before-erasure.pkb")))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: f.path("flipped.pkb")))
        #expect(try f.run(["backup", "verify", f.path("flipped.pkb")]).status == 69)
    }

    /// What every restored vault must show: the live subjects, the erased ones erased (their
    /// tombstones kept), an audit log that verifies.
    func expectRestored(_ directory: String, keyFile: String, replayed: Int, _ result: CLI.Result) throws {
        #expect(result.status == 0, "\(result.stderr)")
        let summary = try #require(try result.json()["restore"] as? [String: Any])
        #expect(summary["replayed_erasures"] as? Int == replayed)
        #expect(summary["subjects"] as? Int == Self.liveSubjects.count)
        #expect(summary["audit_verified"] as? Bool == true)
        func run(_ arguments: [String]) throws -> CLI.Result {
            try CLI.run(arguments, environment: ["PRIVACYKIT_VAULT": directory, "PRIVACYKIT_KEY_FILE": keyFile])
        }
        #expect(try run(["records", "list", "--json"]).json()["subjects"] as? [String] == Self.liveSubjects)
        #expect(try run(["records", "get", "--subject", "fx-005"]).status == 66)
        let erased = try run(["erase", "list", "--json"]).json()["erased"] as? [[String: Any]]
        #expect(Set(erased?.compactMap { $0["subject"] as? String } ?? []) == Self.erasedSubjects)
        let alice = try run(["records", "get", "--subject", "fx-001", "--field", "email", "--json"])
        #expect(try alice.json()["fields"] as? [String: String] == ["email": "alice.example@example.com"])
        let verified = try run(["audit", "verify", "--json"])
        #expect(verified.status == 0, "\(verified.stderr)")
        #expect(try verified.json()["ok"] as? Bool == true)
    }

    @Test func theBackupAfterTheErasureRestoresWithTheRootKey() throws {
        let f = try Copy()
        let target = f.scratch.file("restored")
        let restored = try f.run(["backup", "restore", f.path("backups/root-after-erasure.pkb"), "--out", target, "--json"])
        try expectRestored(target, keyFile: f.key, replayed: 0, restored)
    }

    @Test func theBackupBeforeTheErasureRestoresWithTheRootKeyReplayingIt() throws {
        let f = try Copy()
        let target = f.scratch.file("restored")
        let restored = try f.run(["backup", "restore", f.path("backups/recovery-before-erasure.pkb"), "--out", target, "--json"])
        try expectRestored(target, keyFile: f.key, replayed: 1, restored)
    }

    @Test func theRecoveryKeyRestoresWithTheErasureLedger() throws {
        let f = try Copy()
        let newKey = f.scratch.file("new-root.key")
        #expect(try CLI.run(["keys", "generate-key-file", newKey]).status == 0)
        let target = f.scratch.file("recovered")
        // No vault and no root secret: the recovery key, a new root key, the signed ledger; the
        // backup predates vault identities, so it is accepted explicitly, and refused without.
        let arguments = ["backup", "restore", f.path("backups/recovery-before-erasure.pkb"), "--out", target,
                         "--recovery-key-file", f.path("fixture-recovery.key"), "--new-key-file", newKey,
                         "--ledger", f.path("erasure-ledger.json"), "--json"]
        let refused = try CLI.run(arguments)
        #expect(refused.status == 69 && !FileManager.default.fileExists(atPath: target), "\(refused.stderr)")
        let restored = try CLI.run(arguments + ["--allow-unbound-backup"])
        try expectRestored(target, keyFile: newKey, replayed: 1, restored)
        // The old root key does not open the recovered vault.
        #expect(try CLI.run(["records", "list", "--vault", target, "--key-file", f.key]).status == 67)
    }

    // MARK: The subject export package

    @Test func theSealedExportOpensWithItsKeyOnly() throws {
        let f = try Copy()
        let opened = f.scratch.file("opened")
        let result = try CLI.run(["export", "open", f.path("export-fx-001"), "--secret-key", f.path("export-recipient.key"), "--out", opened, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let manifest = try #require(try result.json()["manifest"] as? [String: Any])
        #expect(manifest["subject"] as? String == "fx-001")
        #expect(manifest["vault_id"] as? String == (try f.expected("vault_id")))
        #expect(manifest["withheld"] as? [String] == [] && manifest["masked"] as? [String] == [])
        let record = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: opened + "/record.json"))) as? [String: Any])
        let fields = (record["fields"] as? [[String: Any]] ?? []).reduce(into: [String: String]()) { $0[$1["field"] as? String ?? ""] = $1["value"] as? String }
        #expect(fields["full_name"] == "Alice Example" && fields["phone"] == "+12025550101" && fields.count == 11)
        let consent = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: opened + "/consent.json"))) as? [String: Any])
        #expect((consent["events"] as? [[String: Any]])?.compactMap { $0["purpose"] as? String } == ["marketing-email", "marketing-sms"])
        // Another X25519 key is the wrong key; nothing is written.
        let wrong = try CLI.run(["export", "open", f.path("export-fx-001"), "--secret-key", f.path("fixture-recovery.key"), "--out", f.scratch.file("o2")])
        #expect(wrong.status == 67)
        #expect(!FileManager.default.fileExists(atPath: f.scratch.file("o2")))
    }
}
