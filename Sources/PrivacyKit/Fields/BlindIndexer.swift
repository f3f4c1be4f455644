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
    private let keys = Mutex<[String: SecureBytes]>([:])

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
        let fieldKey = try self.fieldKey(field.name, version: version)
        var out = [UInt8](repeating: 0, count: 32)
        var key = key
        try key.withUTF8 { value in
            try out.withUnsafeMutableBytes { buffer in
                try BLAKE2b.hash(bytes: UnsafeRawBufferPointer(value), key: fieldKey, into: buffer)
            }
        }
        return Data(out.prefix(bits / 8))
    }

    /// The per-field key: derived once per field and version, then kept (locked memory).
    private func fieldKey(_ field: String, version: Int) throws -> SecureBytes {
        let name = "\(field)#\(version)"
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
