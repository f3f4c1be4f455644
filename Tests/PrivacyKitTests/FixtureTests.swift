import Foundation
import PrivacyKit
import Sodium
import Testing

/// The frozen fixtures of Tests/Fixtures/v1 through the library API, as a service linking
/// PrivacyKit would meet an old vault, backup, receipt or export. (The privacyctl side, and
/// the check that the committed files are unchanged, are in PrivacyctlTests/FixtureTests.)
/// The fixture vault is a SQLite vault whatever the backend under test, so this suite runs
/// once, on the SQLite run.
@Suite("PrivacyKit on the v1 fixtures", .enabled(if: TestBackend.isSQLite))
struct FixtureTests {
    static let admin = AccessContext(actor: "fixture-test", role: "admin", purpose: "privacy-compliance")
    static let live = ["fx-001", "fx-002", "fx-003", "fx-004", "fx-006", "fx-009", "fx-010"]
    static let erased: Set<String> = ["fx-005", "fx-007", "fx-008"]

    /// The fixture copied into a temporary directory (never opened in place: opening
    /// appends audit events), with the secret files at the mode PrivacyKit insists on (git
    /// keeps no modes).
    struct Fixture {
        let dir: TempDirectory
        let root: URL

        init() throws {
            dir = try TempDirectory()
            root = dir.url.appendingPathComponent("v1")
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Fixtures/v1")
            try FileManager.default.copyItem(at: source, to: root)
            for secret in ["vault/Keys/keyring.json", "fixture-root.key", "fixture-recovery.key", "export-recipient.key"] {
                try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: url(secret).path)
            }
        }

        func url(_ name: String) -> URL { root.appendingPathComponent(name) }
        func data(_ name: String) throws -> Data { try Data(contentsOf: url(name)) }
        var rootKey: RootKey { get throws { try RootKey.keyFile(at: url("fixture-root.key").path) } }
        var auditKey: Ed25519.PublicKey {
            get throws {
                let text = String(decoding: try data("audit-public-key.txt"), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                return try Ed25519.PublicKey(bytes: try Base64URL.decode(text))
            }
        }
        /// Opens the vault, carried over to this build's format first (explicitly: a format-1
        /// vault does not open as it is).
        func open() throws -> Vault {
            do {
                return try Vault.open(at: url("vault"), rootKey: try rootKey, context: FixtureTests.admin)
            } catch let error as PrivacyKitError where error.code == .upgradeRequired {
                // The format only: BackupIdentityTests installs the identity key itself.
                _ = try VaultUpgrade.upgrade(at: url("vault"), rootKey: try rootKey, context: FixtureTests.admin, installIdentity: false)
                return try Vault.open(at: url("vault"), rootKey: try rootKey, context: FixtureTests.admin)
            }
        }
    }

    /// The state every copy of the fixture vault must show: live and erased subjects, a
    /// record's values, an audit log that verifies.
    static func expectFixtureState(_ vault: Vault) throws {
        #expect(try vault.records.listSubjects(context: admin) == live)
        #expect(try vault.records.get(subject: "fx-001", fields: ["email", "phone"], context: admin)
            == ["email": "alice.example@example.com", "phone": "+12025550101"])
        #expect(Set(try vault.retention.tombstones(context: admin).map(\.subject)) == erased)
        #expect(throws: PrivacyKitError.self) { try vault.records.get(subject: "fx-005", context: admin) }
        #expect(try vault.audit.verify().ok)
    }

    @Test func theVaultOpensReadsAndItsLogVerifiesAgainstTheWitness() throws {
        let f = try Fixture()
        let refused = #expect(throws: PrivacyKitError.self, "a format-1 vault opens only once upgraded") {
            try Vault.open(at: f.url("vault"), rootKey: try f.rootKey, context: Self.admin)
        }
        #expect(refused?.code == .upgradeRequired)
        let witness = try AuditCheckpoint.readWitnessFile(at: f.url("witness.jsonl").path)
        #expect(witness.count == 2)
        // Without any secret first, then opened with the fixture's root key.
        let keyless = try VaultFiles.verifyAuditWithoutSecret(at: f.url("vault"), publicKey: try f.auditKey, witness: witness)
        #expect(keyless.ok && keyless.witnessCheckpointsVerified == 2 && keyless.problem == nil)
        let vault = try f.open()
        try Self.expectFixtureState(vault)
        #expect(try vault.records.get(subject: "fx-004", fields: ["full_name"], context: Self.admin) == ["full_name": "試験 太郎"])
        let report = try vault.audit.verify(witness: witness)
        #expect(report.ok && report.witnessCheckpointsVerified == 2)
        let holds = try vault.retention.holds(includeReleased: true, context: Self.admin)
        #expect(holds.count == 2)
    }

    @Test func receiptsVerifyWithTheAuditKeyAndFailWhenAltered() throws {
        let f = try Fixture()
        let key = try f.auditKey
        let consent = [("receipts/consent-fx-001.json", "fx-001"), ("receipts/consent-fx-002-withdrawn.json", "fx-002")]
        for (file, subject) in consent {
            #expect(ConsentReceipt.verify(try f.data(file), publicKey: key, subject: subject).valid, "\(file)")
            #expect(!ConsentReceipt.verify(try f.data(file), publicKey: key, subject: "fx-004").valid)
        }
        let erasure = try f.data("receipts/erasure-fx-005.json")
        #expect(ErasureReceipt.verify(erasure, publicKey: key, subject: "fx-005").valid)
        let altered = Data(String(decoding: erasure, as: UTF8.self).replacingOccurrences(of: "\"fx-005\"", with: "\"fx-099\"").utf8)
        #expect(altered != erasure)
        #expect(!ErasureReceipt.verify(altered, publicKey: key).valid)
    }

    @Test func backupsVerifyAndRestoreWithTheRootKeyAndTheRecoveryKey() throws {
        let f = try Fixture()
        let before = f.url("backups/recovery-before-erasure.pkb"), after = f.url("backups/root-after-erasure.pkb")
        // A key file of v1: no pin. The backups carry no vault identity either (unbound).
        let recovery = try RecoveryKey.read(at: f.url("fixture-recovery.key").path)
        #expect(recovery.pin == nil)
        let live = try f.open()
        #expect(live.keys.identity == nil, "an old vault is not given an identity on open")
        for file in [before, after] {
            let verified = try live.backups.verify(at: file, context: Self.admin)
            #expect(verified.ok, "\(file.lastPathComponent): \(verified.problem ?? "")")
        }
        // With the recovery key alone, an unbound backup passes only when accepted explicitly.
        let refused = VaultBackups.verify(at: before, recoveryKey: recovery)
        #expect(!refused.ok && refused.code == "integrity" && refused.problem?.contains("--allow-unbound-backup") == true)
        #expect(VaultBackups.verify(at: before, recoveryKey: recovery, allowUnbound: true).ok)
        #expect(!VaultBackups.verify(at: after, recoveryKey: recovery, allowUnbound: true).ok, "made without a recovery key")

        // The root key, erasures since the backup from the live vault (none after this one).
        let restored = f.dir.url.appendingPathComponent("restored")
        let summary = try VaultBackups.restore(from: after, to: restored, access: .rootKey(try f.rootKey),
                                              tombstones: .vault(live), context: Self.admin)
        #expect(summary.replayedErasures == 0 && summary.auditVerified && summary.subjects == Self.live.count)
        try Self.expectFixtureState(try Vault.open(at: restored, rootKey: try f.rootKey))

        // The recovery key and a new root key; fx-005's erasure replayed from the signed ledger.
        let recovered = f.dir.url.appendingPathComponent("recovered")
        let newKey = f.dir.file("new-root.key")
        try RootKey.generateKeyFile(at: newKey)
        expectError(.integrity) {
            try VaultBackups.restore(from: before, to: recovered, access: .recoveryKey(recovery), newRootKey: try RootKey.keyFile(at: newKey),
                                     tombstones: .ledger(f.url("erasure-ledger.json")), context: Self.admin)
        }
        #expect(!FileManager.default.fileExists(atPath: recovered.path))
        let replayed = try VaultBackups.restore(from: before, to: recovered, access: .recoveryKey(recovery),
                                               newRootKey: try RootKey.keyFile(at: newKey),
                                               tombstones: .ledger(f.url("erasure-ledger.json")), allowUnbound: true, context: Self.admin)
        #expect(replayed.replayedErasures == 1 && replayed.auditVerified)
        try Self.expectFixtureState(try Vault.open(at: recovered, rootKey: try RootKey.keyFile(at: newKey)))
    }

    @Test func theSealedExportOpensWithTheRecipientKey() throws {
        let f = try Fixture()
        let keyPair = try SubjectExport.readSecretKey(at: f.url("export-recipient.key").path)
        let opened = f.dir.url.appendingPathComponent("opened")
        let manifest = try SubjectExport.openSealed(f.url("export-fx-001"), keyPair: keyPair, to: opened)
        #expect(manifest.subject == "fx-001" && manifest.fields.count == 11 && manifest.withheld.isEmpty)
        let record = String(decoding: try Data(contentsOf: opened.appendingPathComponent("record.json")), as: UTF8.self)
        #expect(record.contains("\"Alice Example\""))
        let other = try SubjectExport.readSecretKey(at: f.url("fixture-recovery.key").path)
        #expect(throws: PrivacyKitError.self) {
            try SubjectExport.openSealed(f.url("export-fx-001"), keyPair: other, to: f.dir.url.appendingPathComponent("o2"))
        }
    }
}
