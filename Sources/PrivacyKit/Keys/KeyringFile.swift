import Foundation
import Sodium

/// The sealed keyring on disk (`Keys/keyring.json`).
///
/// A JSON document whose header (format, version, vault id, how the root secret is
/// stretched) is readable, and whose keys are each wrapped with XChaCha20-Poly1305 under a
/// key derived from the root secret. The associated data of each wrapped key names its
/// vault, role, version and creation time, so an entry moved to another role, version or
/// vault does not unwrap. A verifier entry tells a wrong root secret (the verifier does
/// not open) from a damaged entry (the verifier opens, an entry does not).
///
/// Format 2 is format 1 with the vault's identity key (role `vault-identity`) and, on each
/// audit signing entry, that key's certificate: a keyring without an identity is still
/// written as format 1, byte for byte as before, so older PrivacyKit keeps reading it; one
/// with an identity is refused by them as a newer format, not misread as a damaged file.
/// The version is in every associated data, so an identity entry cannot be dropped by
/// rewriting `format_version` to 1.
///
/// Format reference: `docs/formats.md` (keyring).
enum KeyringFile {
    static let format = "privacykit-keyring"
    /// The newest format this build reads and writes.
    static let formatVersion = 2
    /// The first format with the identity key.
    static let identityFormatVersion = 2
    static let verifierPlaintext = Array("privacykit keyring verifier v1".utf8)
    /// Context for deriving the wrapping key from the root key (`crypto_kdf`, 8 bytes).
    static let wrapContext = "pkeyring"

    struct Sealed: Codable {
        var nonce: String
        var ciphertext: String
    }

    struct Entry: Codable {
        var role: String
        var version: Int
        var createdAt: String
        var fingerprint: String
        var publicKey: String?
        /// Format 2, audit signing entries: the identity key's certificate (base64url).
        var certificate: String?
        var nonce: String
        var ciphertext: String

        enum CodingKeys: String, CodingKey {
            case role, version, fingerprint, nonce, ciphertext, certificate
            case createdAt = "created_at"
            case publicKey = "public_key"
        }
    }

    struct Header: Codable {
        var format: String
        var formatVersion: Int

        enum CodingKeys: String, CodingKey {
            case format
            case formatVersion = "format_version"
        }
    }

    struct Document: Codable {
        var format: String
        var formatVersion: Int
        var vaultID: String
        var createdAt: String
        var root: RootHeader
        var verifier: Sealed
        var keys: [Entry]

        enum CodingKeys: String, CodingKey {
            case format, root, verifier, keys
            case formatVersion = "format_version"
            case vaultID = "vault_id"
            case createdAt = "created_at"
        }
    }

    // MARK: - Sealing

    /// Seals `keyring` under `rootKey`. For a passphrase, `limits` sets the Argon2id cost
    /// and a fresh salt is drawn; every wrapped key gets a fresh nonce.
    static func seal(_ keyring: Keyring, rootKey: RootKey, limits: Argon2id.Limits) throws -> (bytes: [UInt8], keyring: Keyring) {
        let header: RootHeader
        switch rootKey.material {
        case .passphrase:
            header = RootHeader(kind: .passphrase, limits: limits, salt: Random.bytes(count: Argon2id.saltByteCount))
        case .key:
            header = RootHeader(kind: .key, limits: nil, salt: nil)
        }
        let wrapKey = try deriveWrapKey(rootKey: rootKey, header: header)
        let sealedKeyring = keyring.with(root: header, wrapKey: wrapKey)
        return (try reseal(sealedKeyring), sealedKeyring)
    }

    /// Seals `keyring` again under the wrap key and header it was opened or sealed with
    /// (fresh nonces): for adding or retiring keys without the root secret.
    static func reseal(_ keyring: Keyring) throws -> [UInt8] {
        guard let wrapKey = keyring.wrapKey else {
            throw PrivacyKitError(.internal, "this keyring has no wrap key to be re-sealed with")
        }
        let header = keyring.root
        let version = keyring.identity == nil ? 1 : identityFormatVersion
        let verifier = try XChaCha20Poly1305.seal(
            verifierPlaintext, using: wrapKey,
            authenticating: verifierAD(version: version, vaultID: keyring.vaultID, header: header))
        let entries = try keyring.keys.map { key in
            let sealed = try XChaCha20Poly1305.seal(
                key.secret, using: wrapKey, authenticating: entryAD(version: version, vaultID: keyring.vaultID, info: key.info))
            return Entry(role: key.info.role.rawValue, version: key.info.version, createdAt: key.info.createdAt,
                         fingerprint: key.info.fingerprint, publicKey: key.info.publicKey, certificate: key.certificate.map(Base64URL.encode),
                         nonce: Base64URL.encode(sealed.nonce.bytes), ciphertext: Base64URL.encode(sealed.ciphertext))
        }
        let document = Document(
            format: format, formatVersion: version, vaultID: keyring.vaultID.hex,
            createdAt: keyring.createdAt, root: header,
            verifier: Sealed(nonce: Base64URL.encode(verifier.nonce.bytes), ciphertext: Base64URL.encode(verifier.ciphertext)),
            keys: entries)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var bytes = [UInt8](try encoder.encode(document))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    // MARK: - Unsealing

    /// Opens a sealed keyring.
    ///
    /// - Throws: ``PrivacyKitError`` with `.unsupportedVersion` (newer format),
    ///   `.wrongKey` (the secret does not open it, or is of the other kind),
    ///   `.integrity` (an entry was altered, is missing, or is duplicated),
    ///   `.invalidInput` (not a keyring at all).
    static func unseal(_ bytes: [UInt8], path: String, rootKey: RootKey) throws -> Keyring {
        let data = Data(bytes)
        let decoder = JSONDecoder()
        guard let header = try? decoder.decode(Header.self, from: data), header.format == format else {
            throw PrivacyKitError(.invalidInput, "\(path) is not a PrivacyKit keyring (no \"format\": \"\(format)\" header)")
        }
        guard header.formatVersion <= formatVersion else {
            throw PrivacyKitError(
                .unsupportedVersion,
                "\(path) has keyring format \(header.formatVersion); this PrivacyKit reads up to \(formatVersion): upgrade PrivacyKit")
        }
        guard header.formatVersion >= 1 else {
            throw PrivacyKitError(.invalidInput, "\(path) has an invalid keyring format version \(header.formatVersion)")
        }
        let document: Document
        do {
            document = try decoder.decode(Document.self, from: data)
        } catch {
            throw PrivacyKitError(.integrity, "\(path) is damaged: \(describe(error))")
        }
        guard let vaultID = try? VaultID(hex: document.vaultID) else {
            throw PrivacyKitError(.integrity, "\(path): the vault id is not 32 hex digits")
        }
        let root = document.root
        guard root.kind == rootKey.kind else {
            let wanted = root.kind == .passphrase ? "a passphrase" : "a key file"
            throw PrivacyKitError(.wrongKey, "the keyring \(path) is sealed with \(wanted), and \(rootKey.kind == .passphrase ? "a passphrase" : "a key") was given")
        }

        let wrapKey = try deriveWrapKey(rootKey: rootKey, header: root)
        do {
            let verifier = try sealedMessage(document.verifier, what: "verifier", path: path)
            let opened = try XChaCha20Poly1305.open(verifier, using: wrapKey, authenticating: verifierAD(version: header.formatVersion, vaultID: vaultID, header: root))
            guard ConstantTime.equals(opened, verifierPlaintext) else {
                throw PrivacyKitError(.integrity, "\(path): the verifier entry holds unexpected content")
            }
        } catch let error as SodiumError where error.code == .authenticationFailed {
            let secret = rootKey.origin ?? (root.kind == .passphrase ? "passphrase" : "key file")
            throw PrivacyKitError(.wrongKey, "the \(secret) does not open the keyring \(path): give this vault's root secret (another vault's, or one replaced by `keys rotate-root`, fails like this), or the keyring's header was altered")
        } catch let error as SodiumError {
            throw PrivacyKitError(.integrity, "\(path): the verifier entry is malformed", cause: error)
        }

        var keys: [UnsealedKey] = []
        for entry in document.keys {
            guard let role = KeyRole(rawValue: entry.role) else {
                throw PrivacyKitError(.integrity, "\(path): unknown key role \"\(entry.role)\"")
            }
            try Keyring.checkNew(role, version: entry.version, among: keys, source: path)
            let name = "\(role.rawValue) v\(entry.version)"
            let info = KeyInfo(role: role, version: entry.version, createdAt: entry.createdAt,
                               fingerprint: entry.fingerprint, publicKey: entry.publicKey)
            let sealed = try sealedMessage(Sealed(nonce: entry.nonce, ciphertext: entry.ciphertext), what: "key \(name)", path: path)
            let secret: SecureBytes
            do {
                secret = try XChaCha20Poly1305.openSecret(sealed, using: wrapKey, authenticating: entryAD(version: header.formatVersion, vaultID: vaultID, info: info))
            } catch let error as SodiumError {
                throw PrivacyKitError(.integrity, "\(path): key \(name) does not unwrap (altered or moved)", cause: error)
            }
            let key = try Keyring.makeKey(role: role, version: entry.version, createdAt: entry.createdAt, secret: secret)
            guard key.info == info else {
                throw PrivacyKitError(.integrity, "\(path): key \(name) does not match its recorded fingerprint")
            }
            keys.append(key)
        }
        try Keyring.checkComplete(keys, identity: header.formatVersion >= identityFormatVersion, source: path)
        let keyring = Keyring(vaultID: vaultID, createdAt: document.createdAt, root: root, keys: keys, wrapKey: wrapKey)
        // The recorded certificates are for readers without the secret; they must be the
        // ones the identity makes (Ed25519 is deterministic), or the file was altered.
        for entry in document.keys where entry.certificate != nil || (keyring.identity != nil && entry.role == KeyRole.auditSigning.rawValue) {
            let made = keyring.keys.first { $0.info.role.rawValue == entry.role && $0.info.version == entry.version }?.certificate
            guard let made, entry.certificate == Base64URL.encode(made) else {
                throw PrivacyKitError(.integrity, "\(path): the certificate of key \(entry.role) v\(entry.version) is missing or not the identity's")
            }
        }
        return keyring
    }

    /// The vault id a keyring file claims, read without any secret (for error messages and
    /// for matching a keyring to its store).
    static func peekVaultID(_ bytes: [UInt8]) -> String? {
        struct Peek: Decodable {
            let vaultID: String
            enum CodingKeys: String, CodingKey { case vaultID = "vault_id" }
        }
        return try? JSONDecoder().decode(Peek.self, from: Data(bytes)).vaultID
    }

    /// The audit signing public key a keyring file records, read without any secret.
    static func peekAuditPublicKey(_ bytes: [UInt8]) -> String? {
        guard let document = try? JSONDecoder().decode(Document.self, from: Data(bytes)) else { return nil }
        return document.keys
            .filter { $0.role == KeyRole.auditSigning.rawValue }
            .max { $0.version < $1.version }?.publicKey
    }

    // MARK: - Helpers

    private static func deriveWrapKey(rootKey: RootKey, header: RootHeader) throws -> SecureBytes {
        let root: SecureBytes
        switch rootKey.material {
        case .key(let key):
            root = key
        case .passphrase(let passphrase):
            guard header.kdf == RootHeader.argon2id, let limits = header.limits,
                  let saltText = header.salt, let salt = try? Base64URL.decode(saltText),
                  salt.count == Argon2id.saltByteCount
            else {
                throw PrivacyKitError(.integrity, "the keyring header's passphrase parameters (kdf, salt, limits) are missing or malformed")
            }
            do {
                root = try Argon2id.deriveKey(from: passphrase, salt: salt, limits: limits, byteCount: 32)
            } catch let error as SodiumError {
                throw PrivacyKitError(.io, "cannot stretch the passphrase with Argon2id (memlimit \(limits.memLimit) bytes)", cause: error)
            }
        }
        return try KDF.deriveKey(from: root, subkeyID: 1, context: wrapContext)
    }

    private static func verifierAD(version: Int, vaultID: VaultID, header: RootHeader) -> [UInt8] {
        var c = Canonical("privacykit.keyring.verifier")
        c.append(UInt64(version))
        c.append(vaultID.bytes)
        header.append(to: &c)
        return c.bytes
    }

    private static func entryAD(version: Int, vaultID: VaultID, info: KeyInfo) -> [UInt8] {
        var c = Canonical("privacykit.keyring.key")
        c.append(UInt64(version))
        c.append(vaultID.bytes)
        c.append(info.role.rawValue)
        c.append(UInt64(info.version))
        c.append(info.createdAt)
        c.append(info.publicKey ?? "")
        return c.bytes
    }

    private static func sealedMessage(_ sealed: Sealed, what: String, path: String) throws -> XChaCha20Poly1305.SealedMessage {
        do {
            let nonce = try XChaCha20Poly1305.Nonce(bytes: Base64URL.decode(sealed.nonce))
            return XChaCha20Poly1305.SealedMessage(nonce: nonce, ciphertext: try Base64URL.decode(sealed.ciphertext))
        } catch {
            throw PrivacyKitError(.integrity, "\(path): the \(what) entry is malformed", cause: error as? SodiumError)
        }
    }

    /// A decoding error as a path and a reason, without echoing any value.
    static func describe(_ error: any Error) -> String {
        if let error = error as? SodiumError { return error.description }
        guard let error = error as? DecodingError else { return "not valid JSON" }
        func path(_ context: DecodingError.Context) -> String {
            let p = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return p.isEmpty ? "top level" : p
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing key \"\(key.stringValue)\" at \(path(context))"
        case .typeMismatch(_, let context): return "wrong type at \(path(context))"
        case .valueNotFound(_, let context): return "missing value at \(path(context))"
        case .dataCorrupted(let context): return "invalid data at \(path(context))"
        @unknown default: return "not a valid keyring"
        }
    }
}
