import Foundation
public import Sodium

/// Who a vault is: its id and the public half of its identity key.
///
/// The identity key (an Ed25519 key pair in the keyring, role ``KeyRole/identity``) is made
/// with the vault and never rotates. It certifies the keys that do (the audit signing key,
/// `KeyCertificate`), and every backup carries the identity and the certificate of the key
/// that signed it, so a restore can tell a backup of this vault from one that another vault
/// sealed to the same recovery public key. Pin it when the recovery key pair is made
/// (``RecoveryKey``), or give it at restore time (``ExpectedIdentity``).
public struct VaultIdentity: Sendable, Hashable {
    public let vaultID: VaultID
    public let publicKey: Ed25519.PublicKey

    public init(vaultID: VaultID, publicKey: Ed25519.PublicKey) {
        self.vaultID = vaultID
        self.publicKey = publicKey
    }

    /// 32 hex digits (``KeyFingerprint``): what `keys status` shows for the
    /// `vault-identity` key, and what `--expect-identity` takes.
    public var fingerprint: String { (try? KeyFingerprint.of(publicKey.bytes)) ?? "" }
}

extension Keyring {
    /// The vault's identity; nil for a vault made before identities that has not been
    /// upgraded (`VaultKeys.installIdentity(context:)`).
    public var identity: VaultIdentity? {
        current(.identity)?.signingPair.map { VaultIdentity(vaultID: vaultID, publicKey: $0.publicKey) }
    }
}

/// What a restore or a verification with the recovery key expects the backup's maker to be.
///
/// From a pinned recovery key file, or given explicitly: a whole identity, or only the
/// fingerprint of its public key (32 hex digits: the `vault-identity` line of `keys status`).
public struct ExpectedIdentity: Sendable, Equatable {
    /// Nil when only a fingerprint was given.
    public let vaultID: VaultID?
    public let fingerprint: String

    public init(_ identity: VaultIdentity) {
        vaultID = identity.vaultID
        fingerprint = identity.fingerprint
    }

    /// A fingerprint (32 hex digits, case ignored) or a base64url Ed25519 public key.
    public init(text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        vaultID = nil
        if trimmed.count == 32, let bytes = try? Hex.decode(trimmed.lowercased()), bytes.count == 16 {
            fingerprint = trimmed.lowercased()
        } else if let bytes = try? Base64URL.decode(trimmed), let key = try? Ed25519.PublicKey(bytes: bytes) {
            fingerprint = try KeyFingerprint.of(key.bytes)
        } else {
            throw PrivacyKitError(.invalidInput, "an expected identity is the vault-identity key's fingerprint (32 hex digits, from `privacyctl keys status`) or its public key (base64url)")
        }
    }

    func matches(_ identity: VaultIdentity) -> Bool {
        (vaultID == nil || vaultID == identity.vaultID) && fingerprint == identity.fingerprint
    }

    var description: String { vaultID.map { "vault \($0), identity \(fingerprint)" } ?? "identity \(fingerprint)" }
}

/// The identity key's signature over a key that rotates: (vault id, role, version, public
/// key), so a verifier that trusts the identity accepts every certified version.
enum KeyCertificate {
    static func message(vaultID: VaultID, role: KeyRole, version: Int, publicKey: Ed25519.PublicKey) -> [UInt8] {
        var c = Canonical("privacykit.key-certificate.v1")
        c.append(vaultID.bytes)
        c.append(role.rawValue)
        c.append(UInt64(version))
        c.append(publicKey.bytes)
        return c.bytes
    }

    static func sign(vaultID: VaultID, role: KeyRole, version: Int, publicKey: Ed25519.PublicKey, identity: Ed25519.KeyPair) throws -> [UInt8] {
        try identity.sign(message(vaultID: vaultID, role: role, version: version, publicKey: publicKey))
    }

    static func isValid(_ certificate: [UInt8], identity: VaultIdentity, role: KeyRole, version: Int, publicKey: Ed25519.PublicKey) -> Bool {
        version >= 1 && identity.publicKey.isValidSignature(
            certificate, for: message(vaultID: identity.vaultID, role: role, version: version, publicKey: publicKey))
    }
}

extension VaultKeys {
    /// The vault's identity (nil until an old vault is upgraded).
    public var identity: VaultIdentity? { keyring.identity }

    /// Gives a vault made before identities its identity key, and certifies its audit
    /// signing keys with it: the upgrade step behind `privacyctl upgrade`. Audited as
    /// `keys.install-identity`, under the keyring lock, like a rotation; the keyring file
    /// becomes format 2. Nothing else changes: backups made before stay restorable with
    /// the root secret; from now on backups are bound to the identity.
    ///
    /// Never done silently on open: until it runs, the vault's recovery backups cannot be
    /// bound to it, and a recovery restore of them needs an explicit override.
    ///
    /// - Returns: the new identity.
    /// - Throws: `.alreadyExists` if the vault has an identity already, `.denied` for a
    ///   role without the `keys` action, `.busy` / `.integrity` as a rotation does.
    public func installIdentity(context: AccessContext) throws -> VaultIdentity {
        _ = try authorize(AccessRequest(.keys, event: .keysInstallIdentity), context: context)
        if let identity { throw Self.hasIdentity(identity) }
        let seed = try SecureBytes.random(count: Ed25519.seedByteCount)
        let pair = try Ed25519.KeyPair(seed: seed)
        let fingerprint = try KeyFingerprint.of(pair.publicKey.bytes)
        try rewriteKeyring(context: context, entry: AuditEntry(.keysInstallIdentity, reason: "identity key \(fingerprint) added; audit signing keys certified"),
                           hooks: .none) { keyring in
            // Checked again on the file this rewrite read: another process may have upgraded it.
            if let identity = keyring.identity { throw Self.hasIdentity(identity) }
            let key = try Keyring.makeKey(role: .identity, version: 1, createdAt: Timestamp.now(), secret: seed)
            let updated = Keyring(vaultID: keyring.vaultID, createdAt: keyring.createdAt, root: keyring.root, keys: keyring.keys + [key],
                                  wrapKey: keyring.wrapKey)
            return (try KeyringFile.reseal(updated), updated)
        }
        guard let identity else { throw PrivacyKitError(.internal, "the identity key is missing after being added") }
        return identity
    }

    private static func hasIdentity(_ identity: VaultIdentity) -> PrivacyKitError {
        PrivacyKitError(.alreadyExists, "vault \(identity.vaultID) has an identity key already (\(identity.fingerprint)); it never changes")
    }
}
