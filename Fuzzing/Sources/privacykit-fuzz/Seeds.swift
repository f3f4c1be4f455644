import Foundation
@testable import PrivacyKit
import Sodium

/// Writes the seed corpus: valid inputs made by PrivacyKit itself (under ``FixedKeys``), so
/// the fuzzer starts deep in each parser. All data is synthetic (`fz-…` subjects at
/// example.invalid). Run by hand (`privacykit-fuzz seeds Fuzzing/Corpus`), results committed.
enum Seeds {
    static let admin = AccessContext(actor: "fuzz-seeds", role: "admin", purpose: "privacy-compliance")

    static func write(to directory: String) throws {
        func put(_ target: String, _ name: String, _ bytes: some Sequence<UInt8>) throws {
            let dir = directory + "/" + target
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data(bytes).write(to: URL(fileURLWithPath: dir + "/" + name))
        }

        for (index, text) in csv.enumerated() { try put("csv", "seed-\(index)", Array(text.utf8)) }
        try put("csv", "seed-bom-invalid-utf8", [0xEF, 0xBB, 0xBF] + Array("id,name\n1,".utf8) + [0xC3, 0x28] + Array("\n2,ok\n".utf8))

        for (target, file) in [("schema", "schema.yaml"), ("purposes", "purposes.yaml"), ("access", "access.yaml"), ("retention", "retention.yaml")] {
            try put(target, "default", DefaultPolicies.file(file))
        }

        // Envelopes: a subject key wrapped under the fixed KEK, then a value sealed under it.
        let cipher = try FieldCipher(vaultID: FixedKeys.vaultID)
        cipher.newSubjectKey()
        let wrapped = try cipher.wrapSubjectKey(subjectID: EnvelopeInput.subject, kek: FixedKeys.kek, kekVersion: EnvelopeInput.kekVersion)
        for (index, value) in ["fz-0001@example.invalid", "", "Fuzz Ünicode Person"].enumerated() {
            let envelope = try cipher.seal(value, field: EnvelopeInput.field, subjectID: EnvelopeInput.subject, keyVersion: index + 1)
            try put("envelope", "binary-\(index)", wrapped + envelope)
            try put("envelope", "text-\(index)", wrapped + Array(FieldCipher.text(envelope).utf8))
        }

        // A recovery blob: a backup key and a fresh keyring.
        let keyring = try Keyring.generate(vaultID: FixedKeys.vaultID, createdAt: "2026-01-01T00:00:00.000Z",
                                           root: RootHeader(kind: .key, limits: nil, salt: nil))
        let blob = try RecoveryBlob.encode(backupKey: SecureBytes.random(count: 32), keyring: keyring, backupID: RecoveryInput.backupID)
        try put("recovery", "blob", blob.withUnsafeBytes { Array($0) })

        // A small vault under the fixed root key: its keyring, a consent receipt, backups.
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("privacykit-fuzz-seeds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let vault = try Vault.create(at: scratch.appendingPathComponent("vault"), rootKey: FixedKeys.rootKey, kdfLimits: .minimum)
        for id in ["fz-0001", "fz-0002"] {
            _ = try vault.records.put(subject: id, values: ["full_name": "Fuzz Person \(id)", "email": "\(id)@example.invalid"], context: admin)
        }
        _ = try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm), subject: "fz-0001", context: admin)
        _ = try vault.consent.record(ConsentChange(.withdraw, purpose: "marketing-sms", channel: .app), subject: "fz-0001", context: admin)
        try put("keyring", "keyring.json", readFile(scratch.appendingPathComponent("vault/Keys/keyring.json").path))
        try put("receipt", "receipt.json", try vault.consent.receipt(subject: "fz-0001", context: admin).json())
        try put("receipt", "receipt-one-purpose.json", try vault.consent.receipt(subject: "fz-0002", purpose: "marketing-email", context: admin).json())
        let backups = scratch.appendingPathComponent("backups")
        try FileManager.default.createDirectory(at: backups, withIntermediateDirectories: true)
        let compressed = try vault.backups.create(to: backups, recoveryKey: FixedKeys.recovery.publicKey,
                                                compression: BackupCompression(level: 19), context: admin)
        try put("backup", "compressed.pkb", readFile(compressed.file))
        // Only a compressed backup: an uncompressed one of even this small vault is 130 KiB,
        // which would slow every run; the stream code is the same but for the decompressor.
    }

    static func readFile(_ path: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: path)) }

    static let csv = [
        "subject_id,full_name,email\nfz-0001,Fuzz Person,fz-0001@example.invalid\n",
        "id,note\r\nfz-1,\"quoted, with comma\"\r\nfz-2,\"line\nbreak and \"\"quotes\"\"\"\r\n",
        "a,b\rc,d\r\n\n\n\"\"\ne,\"unterminated\n",
        "x,y\nbad\"quote,1\n\"closed\"trailing,2\n,,\n",
    ]
}
