#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
    ///
    /// The file is read into locked memory and decoded from there into the key's own, so no
    /// copy of the key or of its text is left on the heap.
    public static func keyFile(at path: String) throws -> RootKey {
        let file = try SecureFiles.readSecretLocked(at: path, what: "key file")
        let key = try file.withUnsafeBytes { raw -> SecureBytes? in
            if raw.count == keyByteCount {
                return try SecureBytes(count: keyByteCount) { $0.copyMemory(from: raw) }
            }
            let text = SecureFiles.dropLineEnds(raw, all: true)
            return try? SecureBytes(count: keyByteCount) { out in
                guard try Base64URL.decode(text, into: out) == keyByteCount else {
                    throw PrivacyKitError(.invalidInput, "short key")
                }
            }
        }
        guard let key else {
            throw PrivacyKitError(
                .invalidInput,
                "key file \(path) must hold exactly \(keyByteCount) bytes, raw or as base64url text (privacyctl keys generate-key-file makes one)")
        }
        return try RootKey.key(key).described(as: "key file \(path)")
    }

    /// Reads a passphrase from a file (one final newline is dropped), into locked memory
    /// with no other copy. The file must not be accessible by group or others.
    public static func passphraseFile(at path: String) throws -> RootKey {
        let file = try SecureFiles.readSecretLocked(at: path, what: "passphrase file")
        let passphrase = try file.withUnsafeBytes { raw -> SecureBytes? in
            let text = SecureFiles.dropLineEnds(raw, all: false)
            return text.isEmpty ? nil : try SecureBytes(count: text.count) { $0.copyMemory(from: text) }
        }
        guard let passphrase else {
            throw PrivacyKitError(.invalidInput, "passphrase file \(path) is empty")
        }
        return try RootKey.passphrase(passphrase).described(as: "passphrase file \(path)")
    }

    /// Takes the passphrase from the environment variable `name`, for services whose
    /// secret manager hands secrets over that way; nil when the variable is unset or empty.
    ///
    /// The value is copied into locked memory and then overwritten with zeros where the
    /// environment holds it, so the variable reads as empty afterwards: to this process,
    /// to anything it starts, and in `/proc/PID/environ`. Read it once, before starting
    /// threads that read the environment.
    ///
    /// - Warning: a process that copied its whole environment before this call (e.g.
    ///   through `ProcessInfo.processInfo.environment`) holds a copy this cannot wipe;
    ///   prefer ``passphraseFile(at:)``.
    public static func passphrase(environmentVariable name: String) throws -> RootKey? {
        guard let value = getenv(name) else { return nil }
        let count = strlen(value)
        guard count > 0 else { return nil }
        defer { Memory.wipe(bytesAt: UnsafeMutableRawBufferPointer(start: value, count: count)) }
        let bytes = try SecureBytes(count: count) { $0.copyMemory(from: UnsafeRawBufferPointer(start: value, count: count)) }
        return try RootKey.passphrase(bytes).described(as: "passphrase in \(name)")
    }

    /// The root secret an operator gave, in this order: `keyFile`, `passphraseFile`, the key
    /// file named by `keyFileVariable`, the passphrase in `passphraseVariable` (see
    /// ``passphrase(environmentVariable:)``); each described by where it came from, so a
    /// wrong one is named. Nil when none is given (privacyctl then asks on the terminal,
    /// privacyd refuses to start). privacyctl and privacyd share it, so their flags and
    /// `PRIVACYKIT_*` fallbacks mean the same.
    public static func given(keyFile: String?, passphraseFile: String?, keyFileVariable: String = "PRIVACYKIT_KEY_FILE",
                             passphraseVariable: String = "PRIVACYKIT_PASSPHRASE") throws -> RootKey? {
        if let keyFile { return try RootKey.keyFile(at: keyFile).described(as: "key file \(keyFile) (from --key-file)") }
        if let passphraseFile { return try RootKey.passphraseFile(at: passphraseFile).described(as: "passphrase file \(passphraseFile) (from --passphrase-file)") }
        if let value = getenv(keyFileVariable), value.pointee != 0 {
            let path = String(cString: value)
            return try RootKey.keyFile(at: path).described(as: "key file \(path) (from \(keyFileVariable))")
        }
        return try passphrase(environmentVariable: passphraseVariable)
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
