import Foundation
import Sodium

enum RecoveryBlob {
    static let label = "privacykit.backup.recovery.v1"

    static func encode(backupKey: SecureBytes, keyring: Keyring, backupID: String) throws -> SecureBytes {
        var parts: [[UInt8]] = [Array(label.utf8), keyring.vaultID.bytes, Array(keyring.createdAt.utf8), Array(backupID.utf8)]
        var secrets: [SecureBytes] = [backupKey]
        for key in keyring.keys {
            parts.append(Array(key.info.role.rawValue.utf8))
            parts.append(Array(String(key.info.version).utf8))
            parts.append(Array(key.info.createdAt.utf8))
            secrets.append(key.secret)
        }
        // Layout: the public parts (length-prefixed), then the secrets (length-prefixed) in order.
        let publicBytes = parts.reduce(into: [UInt8]()) { $0 += BackupFile.be32($1.count) + $1 }
        let total = 4 + publicBytes.count + secrets.reduce(0) { $0 + 4 + $1.count }
        return try SecureBytes(count: total) { out in
            var at = 0
            func put(_ bytes: UnsafeRawBufferPointer) {
                out.baseAddress!.advanced(by: at).copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
                at += bytes.count
            }
            BackupFile.be32(parts.count).withUnsafeBytes(put)
            publicBytes.withUnsafeBytes(put)
            for secret in secrets {
                BackupFile.be32(secret.count).withUnsafeBytes(put)
                secret.withUnsafeBytes(put)
            }
        }
    }

    /// The backup key and a keyring rebuilt from the blob (with `root` as its root header).
    static func decode(_ blob: SecureBytes, backupID: String, root: RootHeader) throws -> (SecureBytes, Keyring) {
        let source = "the backup's recovery blob"
        func damaged() -> PrivacyKitError { PrivacyKitError(.integrity, "\(source) is damaged") }
        return try blob.withUnsafeBytes { raw -> (SecureBytes, Keyring) in
            var at = 0
            func field() throws -> UnsafeRawBufferPointer {
                guard at + 4 <= raw.count else { throw damaged() }
                let n = Int(raw[at]) << 24 | Int(raw[at + 1]) << 16 | Int(raw[at + 2]) << 8 | Int(raw[at + 3])
                at += 4
                guard n >= 0, at + n <= raw.count else { throw damaged() }
                defer { at += n }
                return UnsafeRawBufferPointer(rebasing: raw[at..<at + n])
            }
            guard at + 4 <= raw.count else { throw damaged() }
            let count = Int(raw[0]) << 24 | Int(raw[1]) << 16 | Int(raw[2]) << 8 | Int(raw[3])
            at = 4
            var parts: [String] = []
            var vaultBytes: [UInt8] = []
            for i in 0..<count {
                let f = try field()
                if i == 1 { vaultBytes = Array(f) } else { parts.append(String(decoding: f, as: UTF8.self)) }
            }
            guard parts.count >= 3, parts[0] == label, (parts.count - 3) % 3 == 0 else { throw damaged() }
            guard parts[2] == backupID else {
                throw PrivacyKitError(.integrity, "the recovery blob belongs to backup \(parts[2]), not \(backupID)")
            }
            let vaultID = try VaultID(bytes: vaultBytes)
            // Every key is 32 bytes; another length would only fail later, where it is used.
            func secret(_ what: String) throws -> SecureBytes {
                let f = try field()
                guard f.count == 32 else { throw PrivacyKitError(.integrity, "\(source): \(what) is \(f.count) bytes, not 32") }
                return try SecureBytes(count: f.count) { $0.copyMemory(from: f) }
            }
            let backupKey = try secret("the backup key")
            var keys: [UnsealedKey] = []
            var i = 3
            while i < parts.count {
                guard let role = KeyRole(rawValue: parts[i]), let version = Int(parts[i + 1]) else { throw damaged() }
                // Checked as a keyring file's keys are: the restored keyring is sealed from
                // these, and sealing encodes the version unsigned.
                try Keyring.checkNew(role, version: version, among: keys, source: source)
                keys.append(try Keyring.makeKey(role: role, version: version, createdAt: parts[i + 2], secret: try secret("key \(role.rawValue) v\(version)")))
                i += 3
            }
            try Keyring.checkComplete(keys, identity: keys.contains { $0.info.role == .identity }, source: source)
            return (backupKey, Keyring(vaultID: vaultID, createdAt: parts[1], root: root, keys: keys))
        }
    }
}

/// What the manifest counts, read in the snapshot's own transaction.
