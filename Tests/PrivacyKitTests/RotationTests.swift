import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

@Suite("Key rotation")
struct RotationTests {
    let ctx = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")

    struct Setup {
        let dir: TempDirectory
        let vault: Vault
        let ctx = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")

        init(subjects: Int) throws {
            let made = try KeyFileTestVault()
            dir = made.dir
            vault = made.vault
            for i in 0..<subjects {
                try vault.records.put(subject: String(format: "s%03d", i), values: [
                    "email": "person\(i)@example.com", "phone": "+1 415 555 \(String(format: "%04d", i))", "full_name": "Person \(i)",
                ], context: ctx)
            }
        }

        func reopen() throws -> Vault { try Vault.open(at: vault.directory, rootKey: .keyFile(at: dir.file("root.key"))) }

        func everyRecordDecrypts(_ v: Vault, count: Int) throws {
            for i in 0..<count {
                #expect(try v.records.get(subject: String(format: "s%03d", i), fields: ["email"], context: ctx)["email"] == "person\(i)@example.com")
            }
        }
    }

    @Test func rotateKEKRewrapsEverySubjectAndRetiresTheOldKey() throws {
        let s = try Setup(subjects: 25)
        let summary = try s.vault.keys.rotateKEK(context: ctx, batchSize: 10)
        #expect(summary == RotationSummary(role: .kek, version: 2, resumed: false, processed: 25, retired: [1]))
        #expect(s.vault.keys.keyring.versions(.kek) == [2])
        try s.everyRecordDecrypts(s.vault, count: 25)
        let reopened = try s.reopen()
        #expect(reopened.keys.keyring.versions(.kek) == [2])
        try s.everyRecordDecrypts(reopened, count: 25)
        #expect(try reopened.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subjects WHERE kek_version <> 2") } == 0)
        // New subjects are wrapped under the new KEK.
        try reopened.records.put(subject: "new", values: ["email": "n@example.com"], context: ctx)
        #expect(try reopened.store.read { db in try Int.fetchOne(db, sql: "SELECT kek_version FROM subjects WHERE id = 'new'") } == 2)
        #expect(try reopened.audit.verify().ok)
    }

    @Test func aKEKRotationInterruptedIsResumedNotRestarted() throws {
        let s = try Setup(subjects: 25)
        #expect(throws: PrivacyKitError.self) {
            try s.vault.keys.rotateKEK(context: ctx, batchSize: 10, progress: nil, stopAfterBatches: 1)
        }
        // Half way: both versions live, every record still decrypts.
        let mid = try s.reopen()
        #expect(mid.keys.keyring.versions(.kek) == [1, 2])
        try s.everyRecordDecrypts(mid, count: 25)
        let summary = try mid.keys.rotateKEK(context: ctx, batchSize: 10)
        #expect(summary.resumed && summary.version == 2 && summary.processed == 15 && summary.retired == [1])
        try s.everyRecordDecrypts(try s.reopen(), count: 25)
    }

    @Test func findsWorkBeforeDuringAndAfterAnIndexRebuild() throws {
        let s = try Setup(subjects: 30)
        #expect(try s.vault.records.find(field: "email", value: "person7@example.com", context: ctx) == ["s007"])
        #expect(throws: PrivacyKitError.self) {
            try s.vault.keys.rotateIndex(context: ctx, batchSize: 8, progress: nil, stopAfterBatches: 2)
        }
        let mid = try s.reopen()
        #expect(mid.keys.keyring.versions(.blindIndexRoot) == [1, 2])
        // Subjects re-indexed (s000…s015) and not yet (s016…) are both found.
        for i in [3, 20, 29] {
            #expect(try mid.records.find(field: "email", value: "PERSON\(i)@example.com", context: ctx) == [String(format: "s%03d", i)])
            #expect(try mid.records.find(field: "phone", value: "(415) 555-\(String(format: "%04d", i))", context: ctx) == [String(format: "s%03d", i)])
        }
        // A write during the rebuild indexes under the new version and is found.
        try mid.records.put(subject: "s005", values: ["email": "changed@example.com"], context: ctx)
        #expect(try mid.records.find(field: "email", value: "changed@example.com", context: ctx) == ["s005"])
        #expect(try mid.records.find(field: "email", value: "person5@example.com", context: ctx).isEmpty)
        let summary = try mid.keys.rotateIndex(context: ctx, batchSize: 8)
        #expect(summary.resumed && summary.version == 2 && summary.retired == [1])
        let after = try s.reopen()
        #expect(after.keys.keyring.versions(.blindIndexRoot) == [2])
        #expect(try after.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM blind_index WHERE version <> 2") } == 0)
        for i in [3, 20, 29] {
            #expect(try after.records.find(field: "email", value: "person\(i)@example.com", context: ctx) == [String(format: "s%03d", i)])
        }
        #expect(try after.records.find(field: "email", value: "changed@example.com", context: ctx) == ["s005"])
        #expect(try after.records.duplicates(context: ctx).isEmpty)
        #expect(try after.audit.verify().ok)
    }

    /// A vault opened before another process rotated the keyring must not go on with the
    /// old keys: a subject key wrapped under a retired KEK would be lost, a lookup under a
    /// dropped index version would miss. Every audited call refuses, nothing changes, and a vault opened
    /// again works.
    @Test(arguments: ["kek", "index"])
    func aVaultOpenedBeforeAnotherRotatedRefusesToWrite(_ role: String) throws {
        let s = try Setup(subjects: 3)
        let other = try s.reopen()  // another process, as far as the keyring goes
        if role == "kek" { _ = try other.keys.rotateKEK(context: ctx) } else { _ = try other.keys.rotateIndex(context: ctx) }
        expectError(.integrity) { try s.vault.records.listSubjects(context: ctx) }
        expectError(.integrity) { try s.vault.records.put(subject: "late", values: ["email": "late@example.com"], context: ctx) }
        expectError(.integrity) { try s.vault.records.find(field: "email", value: "person1@example.com", context: ctx) }
        #expect(try other.records.listSubjects(context: ctx).count == 3)
        let fresh = try s.reopen()
        try fresh.records.put(subject: "late", values: ["email": "late@example.com"], context: ctx)
        #expect(try fresh.records.find(field: "email", value: "late@example.com", context: ctx) == ["late"])
        #expect(try other.records.find(field: "email", value: "person1@example.com", context: ctx) == ["s001"])
        try s.everyRecordDecrypts(fresh, count: 3)
    }

    /// Only the contents count: a keyring file rewritten with the same bytes (a restore
    /// from a copy, `touch`) does not stop the vault.
    @Test func theSameKeyringRewrittenIsNotAChange() throws {
        let s = try Setup(subjects: 1)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: s.vault.keyringPath))
        usleep(20_000)
        try SecureFiles.replace([UInt8](bytes), at: s.vault.keyringPath, mode: 0o600)
        try s.vault.records.put(subject: "after", values: ["email": "after@example.com"], context: ctx)
        #expect(try s.vault.records.find(field: "email", value: "after@example.com", context: ctx) == ["after"])
    }
}
