import Foundation
@testable import PrivacyKit
import Sodium

/// One fuzz target: what it sets up once per process, and what it does with one input.
/// A target returns normally on any input; a crash, an ASan report, a hang or a broken
/// invariant (``violated(_:)``) is a finding.
struct FuzzTarget: Sendable {
    let summary: String
    var prepare: @Sendable () -> Void = {}
    let run: @Sendable (Data) -> Void
}

/// A broken invariant: reported like a crash, so libFuzzer keeps the input. The message
/// names the property, never input bytes.
func violated(_ property: String) -> Never {
    FileHandle.standardError.write(Data("privacykit-fuzz: invariant broken: \(property)\n".utf8))
    abort()
}

/// Setup that cannot fail on a working build; if it does, the harness is broken, not the
/// code under test, so it stops with a message instead of reporting a finding.
func setup<T>(_ what: String, _ body: () throws -> T) -> T {
    do { return try body() } catch {
        FileHandle.standardError.write(Data("privacykit-fuzz: setup failed (\(what)): \(error)\n".utf8))
        exit(3)
    }
}

/// Fixed, synthetic key material: seeds made with it (`privacykit-fuzz seeds`) authenticate
/// under it, so the fuzzer starts past the cryptographic checks and mutates from there.
/// These keys protect nothing but the committed seed corpus.
enum FixedKeys {
    static func bytes(_ fill: UInt8) -> SecureBytes {
        setup("fixed key") { try SecureBytes(count: 32) { $0.initializeMemory(as: UInt8.self, repeating: fill) } }
    }
    /// Kept as bytes, the key made per use: a `RootKey` keeps its bytes in an enum payload,
    /// whose tag bits hide the pointer from LeakSanitizer, which then reports a static as leaked.
    static let rootKeyBytes = bytes(0x52)
    static var rootKey: RootKey { setup("root key") { try RootKey.key(rootKeyBytes) } }
    static let recovery = setup("recovery key pair") { try SealedBox.KeyPair(secretKey: bytes(0x72)) }
    static let kek = bytes(0x4B)
    static let vaultID = setup("vault id") { try VaultID(bytes: [UInt8](repeating: 0x56, count: VaultID.byteCount)) }
    /// An audit key no receipt is signed with: for the "wrong key" branch of verification.
    static let otherAuditKey = setup("audit key") { try Ed25519.KeyPair(seed: bytes(0x41)).publicKey }
}

/// The default policy set, as the loaders of access and retention policies need it.
enum DefaultPolicies {
    static func file(_ name: String) -> Data {
        guard let file = PolicySet.defaultFiles.first(where: { $0.name == name }) else {
            FileHandle.standardError.write(Data("privacykit-fuzz: no default \(name)\n".utf8))
            exit(3)
        }
        return file.contents
    }
    static let schema = setup("default schema") { try Schema.parse(file("schema.yaml"), name: "schema.yaml") }
    static let purposes = setup("default purposes") { try PurposeSet.parse(file("purposes.yaml"), name: "purposes.yaml") }
}

/// The envelope target's input: a wrapped subject key, then one envelope (binary, or text).
enum EnvelopeInput {
    static let field = "email"
    static let subject = "fz-0001"
    static let kekVersion = 1
    static let wrappedKeyCount = FieldCipher.wrappedKeyByteCount
}

enum RecoveryInput {
    static let backupID = "fz-backup"
}

enum FuzzTargets {
    nonisolated(unsafe) static var selected: FuzzTarget!

    static let all: [String: FuzzTarget] = [
        "csv": csv, "schema": schema, "purposes": purposes, "access": access, "retention": retention,
        "envelope": envelope, "backup": backup, "recovery": recovery, "receipt": receipt, "keyring": keyring,
    ]

    // MARK: CSV

    /// The CSV reader, checked against itself: cut into chunks of 1–16 bytes, the input must
    /// give exactly the rows it gives in one 64 KiB chunk (chunk boundaries are where a
    /// streaming parser goes wrong), and rows must come in line order.
    static let csv = FuzzTarget(summary: "CSV reader: rows equal across chunk sizes, in line order") { data in
        let chunk = 1 + Int(data.first ?? 0) % 16
        let limit = 64 + Int(data.last ?? 0) % 64 * 16
        func rows(_ chunkSize: Int) -> [CSVRow] {
            let reader = CSVReader(data: data, chunkSize: chunkSize, maxRecordBytes: limit)
            var out: [CSVRow] = []
            do {
                while let row = try reader.next() { out.append(row) }
                if try reader.next() != nil { violated("a drained reader returned another row") }
            } catch {
                violated("reading from memory threw")
            }
            return out
        }
        let whole = rows(CSVReader.defaultChunkSize)
        if rows(chunk) != whole { violated("rows differ between chunk size \(chunk) and one chunk") }
        var last = 0
        for row in whole {
            if row.line <= last { violated("row lines are not increasing") }
            last = row.line
            if case .malformed(_, let column, let reason) = row {
                let known = [CSVReader.Reason.invalidUTF8, CSVReader.Reason.quoteInUnquotedField, CSVReader.Reason.charactersAfterClosingQuote,
                             CSVReader.Reason.unterminatedQuote, CSVReader.Reason.recordTooLong]
                if !known.contains(reason) { violated("a malformed row has an unknown reason") }
                if let column, column < 1 { violated("a malformed row has column < 1") }
            }
        }
    }

    // MARK: Policies

    static let schema = FuzzTarget(summary: "PolicySet.validate and Schema.parse") { data in
        _ = try? PolicySet.validate(data, name: "schema.yaml")
        _ = try? Schema.parse(data, name: "schema.yaml")
    }

    static let purposes = FuzzTarget(summary: "PurposeSet.parse") { data in
        _ = try? PurposeSet.parse(data, name: "purposes.yaml")
    }

    static let access = FuzzTarget(summary: "AccessPolicy.parse and .check against the default schema and purposes",
                                   prepare: { _ = DefaultPolicies.schema; _ = DefaultPolicies.purposes }) { data in
        _ = try? AccessPolicy.parse(data, name: "access.yaml", schema: DefaultPolicies.schema, purposes: DefaultPolicies.purposes)
        _ = AccessPolicy.check(data, name: "access.yaml", schema: DefaultPolicies.schema, purposes: DefaultPolicies.purposes)
    }

    static let retention = FuzzTarget(summary: "RetentionPolicy.parse against the default schema and purposes",
                                      prepare: { _ = DefaultPolicies.schema; _ = DefaultPolicies.purposes }) { data in
        _ = try? RetentionPolicy.parse(data, name: "retention.yaml", schema: DefaultPolicies.schema, purposes: DefaultPolicies.purposes)
    }

    // MARK: Envelopes

    /// Unwraps the subject key at the start of the input under the fixed KEK, then opens
    /// the rest as a field envelope (text when it starts with `pk1.`).
    static let envelope = FuzzTarget(summary: "FieldCipher.unwrapSubjectKey, FieldCipher.binary(fromText:), FieldCipher.open") { data in
        let cipher = Cipher.shared
        let bytes = [UInt8](data)
        let cut = min(bytes.count, EnvelopeInput.wrappedKeyCount)
        do {
            try cipher.unwrapSubjectKey(Array(bytes[..<cut]), subjectID: EnvelopeInput.subject, kek: FixedKeys.kek, kekVersion: EnvelopeInput.kekVersion)
        } catch {
            cipher.wipe()
        }
        var envelope = Array(bytes[cut...])
        if envelope.starts(with: Array(FieldCipher.textPrefix.utf8)) {
            guard let binary = try? FieldCipher.binary(fromText: String(decoding: envelope, as: UTF8.self)) else { return }
            envelope = binary
        }
        _ = try? cipher.open(envelope, field: EnvelopeInput.field, subjectID: EnvelopeInput.subject)
        cipher.wipe()
    }

    enum Cipher {
        static let shared = setup("field cipher") { try FieldCipher(vaultID: FixedKeys.vaultID) }
    }

    // MARK: Backups

    /// A backup file (the reader reads files): its header and manifest read without a key,
    /// then the whole file authenticated and decrypted with the fixed recovery key, the
    /// snapshot decompressed and hashed as a restore does (verification, with
    /// `VaultBackups.verify(recoveryKey:)`, runs the same code minus the decompression).
    static let backup = FuzzTarget(summary: "BackupOpener.peek, BackupOpener.read with the recovery key, decompression and hashing",
                                   prepare: { _ = BackupScratch.path }) { data in
        let path = BackupScratch.path
        guard FileManager.default.createFile(atPath: path, contents: data) else { violated("cannot write the scratch backup file") }
        _ = try? BackupOpener.peek(path: path)
        _ = try? BackupOpener.read(path: path, expectVault: nil, hashPlaintext: true, key: { header in
            guard let text = header.recovery, let sealed = try? Base64URL.decode(text) else {
                throw PrivacyKitError(.wrongKey, "no recovery key")
            }
            let blob = try SealedBox.openSecret(sealed, with: FixedKeys.recovery)
            return try RecoveryBlob.decode(blob, backupID: header.backupID, root: RootHeader(kind: .key, limits: nil, salt: nil)).0
        }, progress: nil, sink: { _ in })
    }

    enum BackupScratch {
        /// In memory where /dev/shm exists: one file per process, rewritten for every input.
        static let path: String = {
            let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
            let path = dir + "/privacykit-fuzz-\(getpid()).pkb"
            atexit { unlink(BackupScratch.path) }
            return path
        }()
    }

    /// The recovery blob a backup seals to the recovery public key. The backup target cannot
    /// reach it (the fuzzer cannot make a sealed box), but anyone with that public key can:
    /// decoded, then sealed as a restore with the recovery key seals the restored keyring.
    /// What decodes must seal, and what seals must open again (else the restore made a
    /// vault that cannot be opened).
    static let recovery = FuzzTarget(summary: "RecoveryBlob.decode, then KeyringFile.seal and .unseal of the keyring it gives") { data in
        guard !data.isEmpty, let blob = try? SecureBytes(count: data.count, initializingWith: { $0.copyBytes(from: data) }),
              let (_, keyring) = try? RecoveryBlob.decode(blob, backupID: RecoveryInput.backupID, root: RootHeader(kind: .key, limits: nil, salt: nil))
        else { return }
        // PrivacyKit's errors name roles and versions, never key bytes: safe to print.
        let rootKey = FixedKeys.rootKey
        do {
            let sealed = try KeyringFile.seal(keyring, rootKey: rootKey, limits: .minimum)
            do {
                _ = try KeyringFile.unseal(sealed.bytes, path: "keyring.json", rootKey: rootKey)
            } catch {
                violated("a keyring decoded from a recovery blob seals, but does not unseal: \(error)")
            }
        } catch {
            violated("a keyring decoded from a recovery blob does not seal: \(error)")
        }
    }

    // MARK: Receipts

    static let receipt = FuzzTarget(summary: "ConsentReceipt.verify: own key, a wrong key, a subject") { data in
        _ = ConsentReceipt.verify(data)
        _ = ConsentReceipt.verify(data, publicKey: FixedKeys.otherAuditKey, subject: "fz-0001")
    }

    // MARK: Keyrings

    static let keyring = FuzzTarget(summary: "KeyringFile.unseal with the fixed root key, peekVaultID, peekAuditPublicKey") { data in
        let bytes = [UInt8](data)
        _ = try? KeyringFile.unseal(bytes, path: "keyring.json", rootKey: FixedKeys.rootKey)
        _ = KeyringFile.peekVaultID(bytes)
        _ = KeyringFile.peekAuditPublicKey(bytes)
    }
}

/// libFuzzer's own entry. Never called through it (main.swift hands libFuzzer its callback),
/// but the link pulls in libFuzzer's main object anyway, whose reference to this symbol must
/// resolve: SwiftPM defines `main` with `--defsym`, which does not keep that object out.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    FuzzTargets.selected.run(data.map { Data(bytes: $0, count: size) } ?? Data())
    return 0
}
