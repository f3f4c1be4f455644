import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// A backup's manifest is read only in the exact bytes the vault wrote, as receipts are: its
/// signature covers a re-encoding of what is parsed, so a member added or given twice would
/// be content no signature covers, which another JSON reader may take instead. (Before,
/// every variant below except one of the two duplicates verified and restored.)
@Suite("Backup manifest strictness")
struct BackupManifestStrictnessTests {
    /// `bytes` with its manifest replaced by `edit` of it, the length field and end marker
    /// kept consistent: what a store writer or a backup host can do without a key.
    static func editingManifest(_ bytes: [UInt8], _ edit: (String) -> String) -> [UInt8] {
        let end = bytes.count - 12
        let length = Int(bytes[end]) << 24 | Int(bytes[end + 1]) << 16 | Int(bytes[end + 2]) << 8 | Int(bytes[end + 3])
        let manifest = Array(edit(String(decoding: bytes[(end - length)..<end], as: UTF8.self)).utf8)
        return Array(bytes[..<(end - length)]) + manifest + BackupFile.be32(manifest.count) + Array(bytes[(end + 4)...])
    }

    @Test func aManifestWithAnAddedOrDuplicatedMemberIsRefusedByVerifyAndRestore() throws {
        let s = try BackupTests.Setup(subjects: 3)
        let backup = try s.backup()
        let original = try readBytes(backup.file)
        let vaultID = backup.manifest.vaultID
        let forged = String(repeating: "0", count: vaultID.count)
        let variants: [(String, (String) -> String)] = [
            ("vaultID twice, the same", { "{\"vaultID\":\"\(vaultID)\"," + $0.dropFirst() }),
            ("vaultID twice, forged first", { "{\"vaultID\":\"\(forged)\"," + $0.dropFirst() }),
            ("vaultID twice, forged last", { $0.dropLast() + ",\"vaultID\":\"\(forged)\"}" }),
            ("added member", { "{\"note\":\"restore this one\"," + $0.dropFirst() }),
            ("spaces added", { "{ " + $0.dropFirst() }),
        ]
        for (name, edit) in variants {
            let bytes = Self.editingManifest(original, edit)
            #expect(bytes != original, "\(name) changed nothing")
            let path = s.dir.file("edited.pkb")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let verified = try s.vault.backups.verify(at: URL(fileURLWithPath: path), context: BackupTests.admin)
            #expect(!verified.ok && verified.code == "integrity", "\(name): verified")
            #expect(verified.problem?.contains("exact form") == true, "\(name): \(verified.problem ?? "")")
            let error = #expect(throws: PrivacyKitError.self, "\(name): restored") { _ = try s.restore(path, to: "restored") }
            #expect(error?.code == .integrity && error?.message.contains("exact form") == true, "\(name): \(error?.message ?? "")")
            #expect(!FileManager.default.fileExists(atPath: s.dir.file("restored")), "\(name): left a vault behind")
        }
        // The file as written still verifies: the check refuses only what the vault did not write.
        #expect(try s.vault.backups.verify(at: URL(fileURLWithPath: backup.file), context: BackupTests.admin).ok)
    }
}
