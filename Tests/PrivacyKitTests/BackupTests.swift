import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Synchronization
import Testing

@Suite("Backups")
struct BackupTests {
    static let admin = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")

    struct Setup {
        let dir: TempDirectory
        let vault: Vault
        let keyFile: String

        init(subjects: Int = 30) throws {
            let made = try KeyFileTestVault(kdfLimits: fastLimits)
            (dir, keyFile, vault) = (made.dir, made.keyFile, made.vault)
            for i in 0..<subjects {
                let id = String(format: "s%03d", i)
                try vault.records.put(subject: id, values: ["full_name": "Canary \(id) Person", "email": "\(id)@canary.example", "city": "Canarytown \(id)",
                                                    "segment": "customer"], context: BackupTests.admin)
                if i % 3 == 0 {
                    try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm), subject: id, context: BackupTests.admin)
                }
            }
        }

        var root: RootKey { get throws { try .keyFile(at: keyFile) } }

        func backup(recovery: SealedBox.PublicKey? = nil) throws -> BackupSummary {
            try vault.backups.create(recoveryKey: recovery, context: BackupTests.admin)
        }

        func restore(_ file: String, to name: String, access: BackupAccess? = nil, newRoot: RootKey? = nil, source: TombstoneSource? = nil) throws -> (RestoreSummary, Vault) {
            let target = dir.url.appendingPathComponent(name)
            let summary = try VaultBackups.restore(from: URL(fileURLWithPath: file), to: target, access: access ?? .rootKey(try root), newRootKey: newRoot,
                                                  kdfLimits: fastLimits, tombstones: source ?? .vault(vault), context: BackupTests.admin,
                                                  store: TestBackend.store())
            return (summary, try Vault.open(at: target, rootKey: newRoot ?? (try root)))
        }
    }

    @Test func aRestoredVaultAnswersAsTheOriginalDidAtBackupTime() throws {
        let s = try Setup()
        let before = try Self.answers(s.vault)
        let backup = try s.backup()
        #expect(backup.manifest.subjects == 30 && backup.manifest.consentEvents == 10)
        // Changes after the backup are not in it.
        try s.vault.records.put(subject: "later", values: ["email": "later@x.example"], context: Self.admin)
        let (summary, restored) = try s.restore(backup.file, to: "restored")
        #expect(summary.subjects == 30 && summary.replayedErasures == 0 && summary.auditVerified)
        #expect(try Self.answers(restored) == before)
        #expect(restored.id == s.vault.id)
        // The restored log holds the original events up to the backup, then the restore's own.
        let events = try restored.audit.events(matching: AuditQuery(), context: Self.admin)
        let original = try s.vault.audit.events(matching: AuditQuery(), context: Self.admin)
        let upTo = backup.manifest.auditHeadSeq
        #expect(events.filter { $0.seq <= upTo } == original.filter { $0.seq <= upTo })
        #expect(events.contains { $0.action == "backup.restore" })
        #expect(try restored.audit.verify().ok)
    }

    /// The optional policy files (processing.yaml, regimes.yaml) travel with the backup: a
    /// restored vault answers PIPL deadlines and the record of processing as the original.
    @Test func theOptionalPolicyFilesAreBackedUpAndRestored() throws {
        let s = try Setup(subjects: 1)
        let policies = s.vault.core.policiesPath
        let regimes = "version: 1\nown_deadlines:\n  pipl:\n    days: 20\n"
        try Data(regimes.utf8).write(to: URL(fileURLWithPath: policies + "/regimes.yaml"))
        let processing = try Data(contentsOf: URL(fileURLWithPath: policies + "/processing.yaml"))
        let backup = try s.backup()
        let (_, restored) = try s.restore(backup.file, to: "restored")
        let restoredPolicies = restored.core.policiesPath
        #expect(try Data(contentsOf: URL(fileURLWithPath: restoredPolicies + "/regimes.yaml")) == Data(regimes.utf8))
        #expect(try Data(contentsOf: URL(fileURLWithPath: restoredPolicies + "/processing.yaml")) == processing)
        #expect(restored.core.policies.regimes.ownDeadlines[.pipl]?.days == 20 && restored.core.policies.processing != nil)
    }

    /// Every record, consent history and finds, as one comparable value.
    static func answers(_ vault: Vault) throws -> [String] {
        var out: [String] = []
        for id in try vault.records.listSubjects(limit: 1000, context: admin) {
            out.append("\(id) \(try vault.records.get(subject: id, context: admin).sorted { $0.key < $1.key })")
            out.append("\(id) consent \(try vault.consent.history(subject: id, context: admin).map { "\($0.purpose) \($0.kind) \($0.time)" })")
        }
        out.append("find \(try vault.records.find(field: "email", value: "s007@canary.example", context: admin))")
        return out
    }

    /// Issue 20, point 3: a field rectified or removed after the backup does not come back
    /// in the restored vault, whether the changes come from the live vault or its ledger.
    @Test func fieldsRectifiedOrRemovedAfterTheBackupStayGoneInTheRestoredVault() throws {
        let s = try Setup(subjects: 3)
        let backup = try s.backup()
        try s.vault.records.put(subject: "s001", values: ["email": "new@canary.example"], context: Self.admin)
        _ = try s.vault.records.deleteFields(subject: "s002", fields: ["full_name"], context: Self.admin)
        let ledgerFile = s.dir.file("ledger.json")
        let ledger = try s.vault.backups.exportErasureLedger(context: Self.admin)
        #expect(ledger.fieldVersions == [DestroyedFieldVersions(subject: "s001", field: "email", below: 2),
                                         DestroyedFieldVersions(subject: "s002", field: "full_name", below: 2)])
        try ledger.json().write(to: URL(fileURLWithPath: ledgerFile))

        for (name, source) in [("from-vault", TombstoneSource.vault(s.vault)), ("from-ledger", .ledger(URL(fileURLWithPath: ledgerFile)))] {
            let (summary, restored) = try s.restore(backup.file, to: name, source: source)
            #expect(summary.replayedFieldVersions == 2)
            let s001 = try restored.records.get(subject: "s001", context: Self.admin)
            let s002 = try restored.records.get(subject: "s002", context: Self.admin)
            // The old values are gone; the fields the backup holds unchanged are there.
            #expect(s001["email"] == nil && s001["full_name"] == "Canary s001 Person")
            #expect(s002["full_name"] == nil && s002["email"] == "s002@canary.example")
            #expect(try restored.records.find(field: "email", value: "s001@canary.example", context: Self.admin).isEmpty)
            #expect(try restored.audit.verify().ok)
            try restored.store.close()
        }
        // Without the changes to replay, the backup's old values come back (documented).
        let (plain, old) = try s.restore(backup.file, to: "no-ledger", source: TombstoneSource.none)
        #expect(plain.replayedFieldVersions == 0)
        #expect(try old.records.get(subject: "s001", fields: ["email"], context: Self.admin)["email"] == "s001@canary.example")
    }

    @Test func subjectsErasedAfterTheBackupStayErasedInTheRestoredVault() throws {
        let s = try Setup()
        let backup = try s.backup()
        try s.vault.retention.erase(subject: "s004", reason: "GDPR art. 17", context: Self.admin)
        let ledgerFile = s.dir.file("ledger.json")
        try s.vault.backups.exportErasureLedger(context: Self.admin).json().write(to: URL(fileURLWithPath: ledgerFile))

        for (name, source) in [("from-vault", TombstoneSource.vault(s.vault)), ("from-ledger", .ledger(URL(fileURLWithPath: ledgerFile)))] {
            let (summary, restored) = try s.restore(backup.file, to: name, source: source)
            #expect(summary.replayedErasures == 1 && summary.subjects == 29)
            expectError(.notFound) { try restored.records.get(subject: "s004", context: Self.admin) }
            #expect(try restored.records.find(field: "email", value: "s004@canary.example", context: Self.admin).isEmpty)
            expectError(.invalidInput) { try restored.records.put(subject: "s004", values: ["email": "x@y.example"], context: Self.admin) }
            try restored.store.close()
            for (file, bytes) in try snapshot(restored.directory.path) {
                for canary in ["Canary s004 Person", "s004@canary.example", "Canarytown s004"] {
                    let found = Self.contains(bytes, Array(canary.utf8))  // a Bool: a failure must not print the bytes
                    #expect(!found, "\(canary) in \(name)/\(file)")
                }
            }
            if TestBackend.isSQLite {
                // The search is shown to work: a subject not erased is there in the clear.
                let kept = Self.contains(try readBytes(restored.storePath), Array("Canarytown s005".utf8))
                #expect(kept)
            }
        }
        // A ledger with a member its signature does not cover is refused, as receipts are.
        let issued = try String(contentsOfFile: ledgerFile, encoding: .utf8)
        let doubled = "{\n  \"added\" : \"by someone else\"," + issued.dropFirst()
        #expect(doubled != issued)
        try doubled.write(toFile: ledgerFile, atomically: true, encoding: .utf8)
        expectError(.integrity) { try s.restore(backup.file, to: "doubled-ledger", source: .ledger(URL(fileURLWithPath: ledgerFile))) }
        try issued.write(toFile: ledgerFile, atomically: true, encoding: .utf8)
        // A ledger that was altered does not verify and nothing is restored.
        var text = try String(contentsOfFile: ledgerFile, encoding: .utf8)
        text = text.replacingOccurrences(of: "s004", with: "s005")
        try text.write(toFile: ledgerFile, atomically: true, encoding: .utf8)
        expectError(.integrity) { try s.restore(backup.file, to: "bad-ledger", source: .ledger(URL(fileURLWithPath: ledgerFile))) }
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("bad-ledger")))
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        var i = 0
        while i <= haystack.count - needle.count {
            if haystack[i] == needle[0] && Array(haystack[i..<i + needle.count]) == needle { return true }
            i += 1
        }
        return false
    }

    /// Offsets of the chunks of a backup file: (start of the length prefix, total length).
    static func chunks(_ bytes: [UInt8]) -> [(Int, Int)] {
        func be32(_ at: Int) -> Int { Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3]) }
        var at = 8 + 4 + be32(8) + SecretStream.headerByteCount
        var out: [(Int, Int)] = []
        let manifestLength = be32(bytes.count - 12)
        let end = bytes.count - 12 - manifestLength
        while at < end {
            let n = be32(at)
            out.append((at, 4 + n))
            at += 4 + n
        }
        return out
    }

    @Test func tamperingIsDetectedByVerifyAndRestoreWithTheReason() throws {
        let s = try Setup(subjects: 120)
        let backup = try s.backup()
        let other = try s.backup()
        let original = try readBytes(backup.file)
        let chunks = Self.chunks(original)
        #expect(chunks.count == backup.chunks && chunks.count >= 3)
        let otherBytes = try readBytes(other.file)
        let foreign = try Setup(subjects: 2)
        let foreignBackup = try foreign.backup()

        var cases: [(String, [UInt8], String)] = []
        for i in [0, 1, chunks.count - 1] {
            var b = original
            b[chunks[i].0 + 4 + chunks[i].1 / 2] ^= 0x01
            cases.append(("flipped byte in chunk \(i)", b, "chunk \(i)"))
        }
        var removed = original
        removed.removeSubrange(chunks[1].0..<chunks[1].0 + chunks[1].1)
        cases.append(("removed chunk", removed, "chunk 1"))
        var duplicated = original
        duplicated.insert(contentsOf: original[chunks[1].0..<chunks[1].0 + chunks[1].1], at: chunks[2].0)
        cases.append(("duplicated chunk", duplicated, "chunk 2"))
        cases.append(("cut tail", Array(original[..<(chunks.last!.0 + 100)]), "truncated"))
        cases.append(("cut after the final chunk", Array(original[..<(chunks.last!.0 + chunks.last!.1)]), "truncated"))
        // The other backup's manifest in place of this one's.
        let myEnd = chunks.last!.0 + chunks.last!.1
        let otherChunks = Self.chunks(otherBytes)
        let otherEnd = otherChunks.last!.0 + otherChunks.last!.1
        cases.append(("swapped manifest", Array(original[..<myEnd]) + Array(otherBytes[otherEnd...]), "swapped"))
        // The manifest edited in place (one more subject, same length): its signature fails.
        var edited = original
        let manifestText = Array("\"subjects\":120".utf8)
        let at = try #require((myEnd..<edited.count - manifestText.count).first { Array(edited[$0..<$0 + manifestText.count]) == manifestText })
        edited.replaceSubrange(at..<at + manifestText.count, with: Array("\"subjects\":121".utf8))
        cases.append(("edited manifest", edited, "signature"))
        var header = original
        header[20] ^= 0x01
        cases.append(("altered header", header, ""))
        cases.append(("backup of another vault", try readBytes(foreignBackup.file), "backup of vault"))

        for (name, bytes, reason) in cases {
            let path = s.dir.file("tampered.pkb")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let verified = try s.vault.backups.verify(at: URL(fileURLWithPath: path), context: Self.admin)
            #expect(!verified.ok, "\(name)")
            #expect(reason.isEmpty || verified.problem?.contains(reason) == true, "\(name): \(verified.problem ?? "")")
            do {
                _ = try s.restore(path, to: "restored")
                Issue.record("\(name): restored")
            } catch let error as PrivacyKitError {
                #expect(reason.isEmpty || error.message.contains(reason) || name == "backup of another vault", "\(name): \(error.message)")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: s.dir.path).filter { $0.contains("restor") }.isEmpty, "\(name): left something")
        }
        #expect(try s.vault.backups.verify(at: URL(fileURLWithPath: backup.file), context: Self.admin).ok)
        // Each verification is audited.
        let verifies = try s.vault.audit.events(matching: AuditQuery(action: "backup.verify"), context: Self.admin)
        #expect(verifies.filter { $0.outcome == "failed" }.count == cases.count)
    }

    @Test func theRecoveryKeyAloneRestoresWhenTheRootSecretIsLost() throws {
        let s = try Setup()
        let recovery = RecoveryKey(pair: try SealedBox.KeyPair.generate(), pin: try #require(s.vault.keys.identity))
        let backup = try s.backup(recovery: recovery.pair.publicKey)
        let plain = try s.backup()
        #expect(VaultBackups.verify(at: URL(fileURLWithPath: backup.file), recoveryKey: recovery).ok)
        let newKey = s.dir.file("new.key")
        try RootKey.generateKeyFile(at: newKey)
        let (summary, restored) = try s.restore(backup.file, to: "recovered", access: .recoveryKey(recovery), newRoot: try .keyFile(at: newKey), source: TombstoneSource.none)
        #expect(summary.subjects == 30)
        #expect(try restored.records.get(subject: "s001", fields: ["email"], context: Self.admin) == ["email": "s001@canary.example"])
        #expect(restored.auditPublicKey == s.vault.auditPublicKey)
        // The old root secret does not open the recovered vault; another recovery key opens nothing.
        expectError(.wrongKey) { try Vault.open(at: restored.directory, rootKey: try s.root) }
        let stranger = RecoveryKey(pair: try SealedBox.KeyPair.generate(), pin: recovery.pin)
        #expect(!VaultBackups.verify(at: URL(fileURLWithPath: backup.file), recoveryKey: stranger).ok)
        expectError(.wrongKey) { try s.restore(backup.file, to: "stranger", access: .recoveryKey(stranger), newRoot: try .keyFile(at: newKey), source: TombstoneSource.none) }
        let without = VaultBackups.verify(at: URL(fileURLWithPath: plain.file), recoveryKey: recovery)
        #expect(!without.ok && without.problem?.contains("without a recovery key") == true)
        // The file holds no key in the clear: neither the backup key nor a keyring secret.
        let bytes = try readBytes(backup.file)
        for key in s.vault.keys.keyring.keys {
            let secret = key.secret.withUnsafeBytes { Array($0) }
            let found = Self.contains(bytes, secret)  // never print a key
            #expect(!found, "\(key.info.role)")
        }
    }

    @Test func aBackupTakenWhileAnotherConnectionWritesIsConsistent() throws {
        let s = try Setup(subjects: 200)
        let writer = try Vault.open(at: s.vault.directory, rootKey: try s.root)
        let done = Atomic<Bool>(false)
        let written = Atomic<Int>(0)
        let thread = Thread {
            var i = 0
            while !done.load(ordering: .relaxed) {
                _ = try? writer.records.put(subject: "w\(i)", values: ["email": "w\(i)@x.example", "city": "C\(i)"], context: BackupTests.admin)
                written.add(1, ordering: .relaxed)
                i += 1
            }
        }
        thread.start()
        while written.load(ordering: .relaxed) < 5 { usleep(1000) }
        let backup = try s.backup()
        done.store(true, ordering: .relaxed)
        let (summary, restored) = try s.restore(backup.file, to: "restored", source: TombstoneSource.none)
        #expect(summary.auditVerified && summary.subjects == backup.manifest.subjects)
        // Every subject in the snapshot has its write event in the snapshot's log, and no more.
        let writes = try restored.audit.events(matching: AuditQuery(action: "record.write"), context: Self.admin)
        #expect(Set(writes.compactMap(\.subject)).count == summary.subjects)
        #expect(summary.subjects > 200)
    }

    /// An erasure while the backup holds the store frozen lands in the WAL only (no
    /// checkpoint may write the store file meanwhile); the backup checkpoints when it ends,
    /// so the store file does not keep the subject's old pages, and the backup itself (taken
    /// before) restores with the subject erased again.
    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func anErasureDuringABackupLeavesNothingInTheWALOnceTheBackupEnds() throws {
        let s = try Setup(subjects: 40)
        var erasure: ErasureResult?
        let backup = try s.vault.backups.create(context: Self.admin) { _, _ in
            if erasure == nil { erasure = try? s.vault.retention.erase(subject: "s007", reason: "GDPR art. 17", context: Self.admin) }
        }
        #expect(backup.snapshot == "frozen-file" && backup.manifest.subjects == 40)
        #expect(erasure?.walScrubbed == false, "the frozen store should have kept the erasure from truncating the WAL")
        // Read with the store still open: closing it would checkpoint and hide a miss.
        for (file, bytes) in try snapshot(s.vault.directory.path) where !file.hasPrefix("Backups") {
            let found = Self.contains(bytes, Array("Canarytown s007".utf8))
            #expect(!found, "in \(file)")
        }
        let kept = Self.contains(try readBytes(s.vault.storePath), Array("Canarytown s008".utf8))
        #expect(kept)
        let live = try Vault.open(at: s.vault.directory, rootKey: try s.root)
        let (summary, restored) = try s.restore(backup.file, to: "restored", source: .vault(live))
        #expect(summary.replayedErasures == 1)
        expectError(.notFound) { try restored.records.get(subject: "s007", context: Self.admin) }
    }

    /// With the WAL held by another reader the store cannot be frozen: the backup copies it
    /// (online backup) instead, and is just as whole; the temp copy is gone afterwards.
    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func whenAnotherReaderHoldsTheWALTheBackupCopiesTheStore() throws {
        let s = try Setup(subjects: 20)
        #expect(try s.backup().snapshot == "frozen-file")
        var config = Configuration()
        config.readonly = true
        config.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: s.vault.storePath, configuration: config)
        try s.vault.records.put(subject: "before-read", values: ["email": "a@b.example"], context: Self.admin)
        try other.inDatabase { db in
            try db.execute(sql: "BEGIN DEFERRED")
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM subjects")
        }
        try s.vault.records.put(subject: "after-read", values: ["email": "c@d.example"], context: Self.admin)
        let copied = try s.backup()
        #expect(copied.snapshot == "online-copy" && copied.manifest.subjects == 22)
        try other.inDatabase { try $0.execute(sql: "ROLLBACK") }
        try other.close()
        #expect(try s.vault.backups.verify(at: URL(fileURLWithPath: copied.file), context: Self.admin).ok)
        let (summary, _) = try s.restore(copied.file, to: "restored")
        #expect(summary.subjects == 22)
        #expect(try FileManager.default.contentsOfDirectory(atPath: s.vault.directory.path).filter { $0.contains("snapshot") }.isEmpty)
    }

    @Test func aCompressedBackupIsSmallerAndRestoresTheSameVault() throws {
        let s = try Setup(subjects: 150)
        let before = try Self.answers(s.vault)
        let plain = try s.backup()
        let packed = try s.vault.backups.create(compression: try BackupCompression(level: 3), context: Self.admin)
        let compressedBytes = try #require(packed.manifest.compressedBytes)
        #expect(packed.manifest.compressed && !plain.manifest.compressed && plain.manifest.compressedBytes == nil)
        #expect(Double(compressedBytes) < 0.7 * Double(packed.manifest.plaintextBytes))
        #expect(packed.ciphertextBytes < plain.ciphertextBytes)
        let verified = try s.vault.backups.verify(at: URL(fileURLWithPath: packed.file), context: Self.admin)
        #expect(verified.ok && verified.plaintextBytes == packed.manifest.plaintextBytes)
        let (summary, restored) = try s.restore(packed.file, to: "restored")
        #expect(summary.subjects == 150 && summary.auditVerified)
        #expect(try Self.answers(restored) == before)

        // A flipped byte in a chunk of a compressed backup: caught by its MAC, before zstd sees it.
        var bytes = try readBytes(packed.file)
        let chunk = Self.chunks(bytes)[0]
        bytes[chunk.0 + 4 + chunk.1 / 2] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: s.dir.file("tampered.pkb")))
        let tampered = try s.vault.backups.verify(at: URL(fileURLWithPath: s.dir.file("tampered.pkb")), context: Self.admin)
        #expect(!tampered.ok && tampered.problem?.contains("chunk 0") == true)
        expectError(.integrity) { try s.restore(s.dir.file("tampered.pkb"), to: "tampered-restore") }
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("tampered-restore")))

        for level: Int32 in [0, 20, -8] { expectError(.invalidInput) { _ = try BackupCompression(level: level) } }
    }

    @Test func pruneDeletesOldBackupsAndRecordsIt() throws {
        let s = try Setup(subjects: 2)
        let a = try s.backup()
        let b = try s.backup()
        #expect(try s.vault.backups.prune(keepDays: 1, context: Self.admin).isEmpty)
        let removed = try s.vault.backups.prune(keepDays: 1, now: Date().addingTimeInterval(2 * 86_400), context: Self.admin)
        #expect(Set(removed) == [a.file, b.file])
        #expect(!FileManager.default.fileExists(atPath: a.file))
        #expect(try s.vault.audit.events(matching: AuditQuery(action: "backup.prune"), context: Self.admin).count == 2)
        expectError(.denied) { try s.vault.backups.prune(keepDays: 0, context: AccessContext(actor: "x", role: "auditor", purpose: "privacy-compliance")) }
    }

    @Test func aRestoreNeverWritesOverAVault() throws {
        let s = try Setup(subjects: 1)
        let backup = try s.backup()
        expectError(.alreadyExists) {
            _ = try VaultBackups.restore(from: URL(fileURLWithPath: backup.file), to: s.vault.directory, access: .rootKey(try s.root),
                                        tombstones: .vault(s.vault), context: Self.admin)
        }
        expectError(.wrongKey) {
            let wrong = s.dir.file("wrong.key")
            try RootKey.generateKeyFile(at: wrong)
            _ = try s.restore(backup.file, to: "wrong", access: .rootKey(try .keyFile(at: wrong)))
        }
        #expect(!FileManager.default.fileExists(atPath: s.dir.file("wrong")))
    }
}
