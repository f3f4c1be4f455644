public import Sodium

/// The secret that unseals a vault's keyring: a passphrase, or 32 random bytes.
///
/// A passphrase is stretched with Argon2id (salt and limits kept in the keyring header);
/// a 32-byte key, from a key file or a secret manager, is for unattended services. Either
/// way the secret stays in protected memory (`SecureBytes`).
///
/// ```swift
/// let vault = try Vault.open(at: url, rootKey: .keyFile(at: "/etc/privacykit/root.key"))
/// ```
public struct RootKey: Sendable {
    enum Material: Sendable {
        case passphrase(SecureBytes)
        case key(SecureBytes)
    }

    let material: Material

    /// Where the secret came from, for the message when it does not open a keyring (the
    /// path of the key file, and which option or variable named it): never the secret.
    public private(set) var origin: String?

    init(material: Material, origin: String? = nil) {
        self.material = material
        self.origin = origin
    }

    /// The same secret, described as coming from `origin` (e.g. "key file /etc/pk/root.key
    /// (from PRIVACYKIT_KEY_FILE)").
    public func described(as origin: String) -> RootKey {
        var copy = self
        copy.origin = origin
        return copy
    }

    /// The kind of root secret, as the keyring header records it.
    public enum Kind: String, Sendable, Codable {
        case passphrase
        case key
    }

    public var kind: Kind {
        switch material {
        case .passphrase: .passphrase
        case .key: .key
        }
    }

    /// Byte length of a raw root key.
    public static let keyByteCount = 32

    /// A passphrase given as UTF-8 bytes in protected memory.
    public static func passphrase(_ bytes: SecureBytes) throws -> RootKey {
        RootKey(material: .passphrase(bytes))
    }

    /// A passphrase given as a Swift string.
    ///
    /// - Warning: a `String` cannot be wiped from memory; prefer ``passphraseFile(at:)`` or
    ///   ``passphrase(_:)-(SecureBytes)`` where the secret can arrive as bytes.
    public static func passphrase(_ text: String) throws -> RootKey {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else {
            throw PrivacyKitError(.invalidInput, "the passphrase is empty")
        }
        return RootKey(material: .passphrase(try SecureBytes(takingBytes: &bytes)))
    }

    /// A raw 32-byte key.
    public static func key(_ bytes: SecureBytes) throws -> RootKey {
        guard bytes.count == keyByteCount else {
            throw PrivacyKitError(.invalidInput, "a root key must be \(keyByteCount) bytes, got \(bytes.count)")
        }
        return RootKey(material: .key(bytes))
    }

    /// Reads a key file: exactly 32 raw bytes, or those 32 bytes as unpadded base64url
    /// text (what `privacyctl keys generate-key-file` writes), with an optional final
    /// newline. The file must not be accessible by group or others (mode 0600 or stricter).
    public static func keyFile(at path: String) throws -> RootKey {
        var raw = try SecureFiles.readSecret(at: path, what: "key file")
        defer { wipe(&raw) }
        if raw.count == keyByteCount {
            return try RootKey.key(SecureBytes(takingBytes: &raw)).described(as: "key file \(path)")
        }
        var text = raw
        defer { wipe(&text) }
        while let last = text.last, last == UInt8(ascii: "\n") || last == UInt8(ascii: "\r") {
            text.removeLast()
        }
        guard var decoded = try? Base64URL.decode(String(decoding: text, as: UTF8.self)),
              decoded.count == keyByteCount
        else {
            throw PrivacyKitError(
                .invalidInput,
                "key file \(path) must hold exactly \(keyByteCount) bytes, raw or as base64url text (privacyctl keys generate-key-file makes one)")
        }
        return try RootKey.key(SecureBytes(takingBytes: &decoded)).described(as: "key file \(path)")
    }

    /// Reads a passphrase from a file (one final newline is dropped). The file must not be
    /// accessible by group or others.
    public static func passphraseFile(at path: String) throws -> RootKey {
        var raw = try SecureFiles.readSecret(at: path, what: "passphrase file")
        defer { wipe(&raw) }
        if raw.last == UInt8(ascii: "\n") { raw.removeLast() }
        if raw.last == UInt8(ascii: "\r") { raw.removeLast() }
        guard !raw.isEmpty else {
            throw PrivacyKitError(.invalidInput, "passphrase file \(path) is empty")
        }
        return try RootKey.passphrase(SecureBytes(takingBytes: &raw)).described(as: "passphrase file \(path)")
    }

    /// Writes a new random key file at `path` (mode 0600, base64url text), refusing to
    /// overwrite an existing file.
    public static func generateKeyFile(at path: String) throws {
        let key = try SecureBytes.random(count: keyByteCount)
        var text = key.withUnsafeBytes { Base64URL.encode(bytes: $0) }
        defer { wipe(&text) }
        try SecureFiles.createNew(text, at: path, mode: 0o600)
    }
}

/// Overwrites a transient array that held secret bytes.
func wipe(_ bytes: inout [UInt8]) { Memory.wipe(&bytes) }
