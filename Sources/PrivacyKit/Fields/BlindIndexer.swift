package import Foundation
import Sodium
import Synchronization

/// Blind indexes: keyed BLAKE2b of a field's normalized value, truncated to the field's
/// configured bits, under a per-field key derived (`crypto_kdf`) from the blind-index root
/// key of a given version. Equal values give equal indexes, so records are found and
/// duplicates grouped without decrypting; the index alone reveals nothing without the key.
package final class BlindIndexer: Sendable {
    static let kdfContext = "pkblindx"
    private let keyring: Keyring
    private let keys = Mutex<[KeyName: SecureBytes]>([:])

    init(keyring: Keyring) { self.keyring = keyring }

    /// The versions of the blind-index root key, oldest first.
    var versions: [Int] {
        keyring.status.filter { $0.role == .blindIndexRoot }.map(\.version).sorted()
    }

    /// The version new writes use.
    package var currentVersion: Int { versions.last ?? 1 }

    /// The index of a normalized `key` value for `field`, under root key `version`.
    package func index(_ key: String, field: FieldSpec, version: Int) throws -> Data {
        guard let bits = field.blindIndexBits else {
            throw PrivacyKitError(.invalidInput, "field \(field.name) has no blind index")
        }
        return try Self.index(key, fieldKey: fieldKey(field.name, version: version), byteCount: bits / 8)
    }

    /// The key and width of one field's index under one version, resolved once for a run
    /// of values (an import resolves each indexed field once per batch).
    package struct FieldIndex: Sendable {
        let key: SecureBytes
        let byteCount: Int

        package func index(_ value: String) throws -> Data {
            try BlindIndexer.index(value, fieldKey: key, byteCount: byteCount)
        }
    }

    package func fieldIndex(_ field: FieldSpec, version: Int) throws -> FieldIndex {
        guard let bits = field.blindIndexBits else {
            throw PrivacyKitError(.invalidInput, "field \(field.name) has no blind index")
        }
        return FieldIndex(key: try fieldKey(field.name, version: version), byteCount: bits / 8)
    }

    private static func index(_ value: String, fieldKey: SecureBytes, byteCount: Int) throws -> Data {
        // The full 32-byte hash, truncated: the output length is a BLAKE2b parameter, so
        // hashing straight to `byteCount` bytes would give other (incompatible) indexes.
        var value = value
        return try value.withUTF8 { utf8 in
            try withUnsafeTemporaryAllocation(byteCount: 32, alignment: 8) { out in
                try BLAKE2b.hash(bytes: UnsafeRawBufferPointer(utf8), key: fieldKey, into: out)
                return Data(bytes: out.baseAddress!, count: min(byteCount, 32))
            }
        }
    }

    private struct KeyName: Hashable {
        let field: String
        let version: Int
    }

    /// The per-field key: derived once per field and version, then kept (locked memory).
    private func fieldKey(_ field: String, version: Int) throws -> SecureBytes {
        let name = KeyName(field: field, version: version)
        if let key = keys.withLock({ $0[name] }) { return key }
        guard let root = keyring.key(.blindIndexRoot, version: version)?.secret else {
            throw PrivacyKitError(.notFound, "the keyring has no blind-index root key v\(version)")
        }
        // The subkey id names the field: the first 8 bytes of an unkeyed hash of its name.
        let digest = try BLAKE2b.hash(Array("privacykit.blind-index.field:\(field)".utf8), outputByteCount: 16)
        let subkeyID = digest.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let key = try KDF.deriveKey(from: root, subkeyID: subkeyID, context: Self.kdfContext, byteCount: 32)
        keys.withLock { $0[name] = key }
        return key
    }
}
