import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Testing

/// An erasure says only what it has done: when a reader keeps SQLite's write-ahead log busy,
/// the store's files still hold the subject's old pages, the result says the scrub is
/// pending, and a later command finishes it.
@Suite("Erasure scrub")
struct ErasureScrubTests {
    static let admin = AccessContext(actor: "setup", role: "admin", purpose: "privacy-compliance")

    struct Setup {
        let made: KeyFileTestVault
        var vault: Vault { made.vault }
        /// The erased subject's wrapped key and sealed fields, as the store held them.
        let wrappedKey: [UInt8]
        let sealed: [UInt8]

        init() throws {
            made = try KeyFileTestVault()
            // Small records: each row stays on its page (no overflow page to scan for).
            for id in ["gone", "kept"] {
                try made.vault.records.put(subject: id, values: ["email": "\(id)@canary.example", "full_name": "Canary \(id)"], context: ErasureScrubTests.admin)
            }
            let row = try #require(try made.vault.store.read { db in
                try StoreRow.fetchOne(db, sql: "SELECT wrapped_key, sealed FROM subjects WHERE id = 'gone'")
            })
            wrappedKey = [UInt8](row["wrapped_key"] as Data)
            sealed = [UInt8](row["sealed"] as Data)
        }

        /// The store's files that hold any of the erased subject's bytes (read with the
        /// store open: closing it would checkpoint and hide a miss).
        func filesHoldingTheSubject() throws -> [String] {
            let base = vault.storePath
            return try [base, base + "-wal", base + "-shm"].filter { path in
                guard FileManager.default.fileExists(atPath: path) else { return false }
                let bytes = try readBytes(path)
                return BackupTests.contains(bytes, wrappedKey) || BackupTests.contains(bytes, sealed)
            }.map { URL(fileURLWithPath: $0).lastPathComponent }
        }

        /// Another process's read transaction, which keeps the WAL from being truncated.
        func holdReader() throws -> DatabaseQueue {
            var config = Configuration()
            config.readonly = true
            config.allowsUnsafeTransactions = true
            let reader = try DatabaseQueue(path: vault.storePath, configuration: config)
            try reader.inDatabase { db in
                try db.execute(sql: "BEGIN DEFERRED")
                _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM subjects")
            }
            return reader
        }
    }

    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite files")) func aScrubHeldUpByAReaderIsPendingAndFinishedByTheNextCommand() throws {
        let s = try Setup()
        #expect(s.wrappedKey.count >= 32 && s.sealed.count >= 32)
        #expect(try !s.filesHoldingTheSubject().isEmpty, "the scan must see the subject before it is erased")
        let reader = try s.holdReader()

        let result = try s.vault.retention.erase(subject: "gone", reason: "GDPR art. 17", context: Self.admin)
        #expect(!result.alreadyErased)
        #expect(result.scrub == .pending && !result.walScrubbed)
        #expect(try s.vault.core.scrubIsPending())
        // Pending is the truth: the old pages are still in the files.
        #expect(try !s.filesHoldingTheSubject().isEmpty)
        // The receipt claims what the transaction did, not the scrub.
        let verified = ErasureReceipt.verify(try result.receipt.json(), publicKey: s.vault.auditPublicKey, subject: "gone")
        #expect(verified.valid && verified.proves.contains { $0.contains("scrubbed") && $0.contains("does not prove") })
        // Erasing again while the reader is still there: still pending, said again.
        #expect(try s.vault.retention.erase(subject: "gone", reason: "again", context: Self.admin).scrub == .pending)

        // The reader goes away, but keeps its connection (so no close checkpoints the log).
        try reader.inDatabase { try $0.execute(sql: "ROLLBACK") }
        defer { try? reader.close() }
        // A later command: opening the vault finishes the scrub.
        let later = try Vault.open(at: s.vault.directory, rootKey: .keyFile(at: s.made.keyFile))
        #expect(try !later.core.scrubIsPending())
        let left = try s.filesHoldingTheSubject()
        #expect(left.isEmpty, "the erased subject's key or ciphertext is still in \(left)")
        #expect(try later.records.get(subject: "kept", fields: ["email"], context: Self.admin)["email"] == "kept@canary.example")
        #expect(try later.audit.verify().ok)
    }

    /// Without a reader the scrub is done at once, and nothing is left owed.
    @Test func anUnhinderedErasureIsScrubbedAtOnce() throws {
        let s = try Setup()
        let result = try s.vault.retention.erase(subject: "gone", reason: "GDPR art. 17", context: Self.admin)
        #expect(result.scrub == .done && result.walScrubbed)
        #expect(try !s.vault.core.scrubIsPending())
        if TestBackend.isSQLite {
            let left = try s.filesHoldingTheSubject()
            #expect(left.isEmpty, "still in \(left)")
        }
    }

    /// A sweep finishes a scrub an erasure left pending, and says so.
    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite files")) func aSweepFinishesAPendingScrub() throws {
        let s = try Setup()
        let reader = try s.holdReader()
        #expect(try s.vault.retention.erase(subject: "gone", reason: "GDPR art. 17", context: Self.admin).scrub == .pending)
        try reader.inDatabase { try $0.execute(sql: "ROLLBACK") }
        defer { try? reader.close() }
        let summary = try s.vault.retention.sweep(SweepOptions(now: Date()), context: Self.admin)
        #expect(summary.scrub == .done && summary.walScrubbed == true)
        #expect(try !s.vault.core.scrubIsPending())
        let left = try s.filesHoldingTheSubject()
        #expect(left.isEmpty, "still in \(left)")
    }
}
