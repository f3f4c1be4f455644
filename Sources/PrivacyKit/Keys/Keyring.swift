import Foundation
public import Sodium

/// What a key in the keyring is for.
public enum KeyRole: String, Sendable, Codable, CaseIterable {
    /// Key-encryption key: wraps every subject key (versioned, rotatable).
    case kek
    /// Root of the per-field blind-index keys.
    case blindIndexRoot = "blind-index-root"
    /// Ed25519 seed that signs audit checkpoints, receipts and backup manifests.
    case auditSigning = "audit-signing"
    /// Keys the subject pseudonyms in the audit log.
    case auditMAC = "audit-mac"
    /// Wraps the random key of each backup.
    case backup
    /// Keys the MAC of every audit event (format 2): a store writer without it cannot
    /// rewrite the log. Never rotated. A keyring without one belongs to a format-1 vault
    /// that `privacyctl upgrade` has not carried over yet.
    case auditChain = "audit-chain"
    /// Ed25519 seed of the vault's identity: made with the vault, never rotated; it
    /// certifies the audit signing key (see ``VaultIdentity``). Absent from keyrings made
    /// before identities (format 1) until `VaultKeys.installIdentity(context:)` adds it.
    case identity = "vault-identity"

    /// The roles whose keys sign (Ed25519 seeds, with a public key).
    var signs: Bool { self == .auditSigning || self == .identity }
}

/// The identity of a vault: 16 random bytes, shown as 32 hex digits.
public struct VaultID: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public static let byteCount = 16

    public init(bytes: [UInt8]) throws {
        guard bytes.count == Self.byteCount else {
            throw PrivacyKitError(.invalidInput, "a vault id is \(Self.byteCount) bytes, got \(bytes.count)")
        }
        self.bytes = bytes
    }

    public init(hex: String) throws {
        guard let bytes = try? Hex.decode(hex) else {
            throw PrivacyKitError(.invalidInput, "a vault id is 32 hex digits")
        }
        try self.init(bytes: bytes)
    }

    static func random() -> VaultID {
        VaultID(unchecked: Random.bytes(count: byteCount))
    }

    private init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

/// What `keys status` shows of a key: never its bytes.
public struct KeyInfo: Sendable, Codable, Equatable {
    public let role: KeyRole
    public let version: Int
    /// When the key was created (ISO 8601, UTC).
    public let createdAt: String
    /// 32 hex digits that identify the key without revealing it: a keyed BLAKE2b of a fixed
    /// label under the key (symmetric keys), or the BLAKE2b of the public key (Ed25519).
    public let fingerprint: String
    /// The Ed25519 public key, base64url, for the audit signing and identity keys.
    public let publicKey: String?

    enum CodingKeys: String, CodingKey {
        case role, version, fingerprint
        case createdAt = "created_at"
        case publicKey = "public_key"
    }
}

/// A key taken out of the keyring, in protected memory.
package struct UnsealedKey: Sendable {
    package let info: KeyInfo
    package let secret: SecureBytes
    /// The signing pair, for ``KeyRole/auditSigning`` and ``KeyRole/identity``.
    let signingPair: Ed25519.KeyPair?
    /// For an audit signing key of a keyring with an identity: the identity's signature
    /// over it (`KeyCertificate`).
    var certificate: [UInt8]? = nil
}

/// How the keyring's root secret is turned into the key that unwraps it.
public struct RootHeader: Sendable, Equatable, Codable {
    public let kind: RootKey.Kind
    /// `argon2id13` for a passphrase; absent for a raw key.
    public let kdf: String?
    public let limits: Argon2id.Limits?
    let salt: String?

    static let argon2id = "argon2id13"

    enum CodingKeys: String, CodingKey { case kind, kdf, salt, opslimit, memlimit }

    init(kind: RootKey.Kind, limits: Argon2id.Limits?, salt: [UInt8]?) {
        self.kind = kind
        self.kdf = kind == .passphrase ? Self.argon2id : nil
        self.limits = limits
        self.salt = salt.map(Base64URL.encode)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        kind = try c.decode(RootKey.Kind.self, forKey: .kind)
        kdf = try c.decodeIfPresent(String.self, forKey: .kdf)
        salt = try c.decodeIfPresent(String.self, forKey: .salt)
        if let ops = try c.decodeIfPresent(UInt64.self, forKey: .opslimit),
           let mem = try c.decodeIfPresent(UInt64.self, forKey: .memlimit) {
            limits = try Argon2id.Limits(opsLimit: ops, memLimit: mem)
        } else {
            limits = nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(kind, forKey: .kind)
        try c.encodeIfPresent(kdf, forKey: .kdf)
        try c.encodeIfPresent(salt, forKey: .salt)
        try c.encodeIfPresent(limits?.opsLimit, forKey: .opslimit)
        try c.encodeIfPresent(limits?.memLimit, forKey: .memlimit)
    }

    func append(to canonical: inout Canonical) {
        canonical.append(kind.rawValue)
        canonical.append(kdf ?? "")
        canonical.append(salt ?? "")
        canonical.append(limits?.opsLimit ?? 0)
        canonical.append(limits?.memLimit ?? 0)
    }
}

/// The vault's keys, unsealed, in protected memory.
///
/// Every key is versioned; `current(_:)` is the newest version of a role, the one new
/// data is written under. Nothing here exposes key bytes outside the library.
public struct Keyring: Sendable {
    public let vaultID: VaultID
    /// When the keyring (the vault) was created.
    public let createdAt: String
    /// How the keyring is sealed now (root kind and Argon2id limits).
    public let root: RootHeader
    /// By role (in ``KeyRole`` order), then version.
    let keys: [UnsealedKey]

    /// The key that wraps every entry, derived from the root secret when the keyring was
    /// sealed or opened: lets the vault add or retire keys without asking for the secret.
    let wrapKey: SecureBytes?

    init(vaultID: VaultID, createdAt: String, root: RootHeader, keys: [UnsealedKey], wrapKey: SecureBytes? = nil) {
        self.vaultID = vaultID
        self.createdAt = createdAt
        self.root = root
        self.wrapKey = wrapKey
        let order = Dictionary(uniqueKeysWithValues: KeyRole.allCases.enumerated().map { ($1, $0) })
        let sorted = keys.sorted {
            (order[$0.info.role] ?? 0, $0.info.version) < (order[$1.info.role] ?? 0, $1.info.version)
        }
        // Certificates follow from the keys (Ed25519 signs deterministically): made here, so
        // every way a keyring is built (generated, unsealed, recovered, rotated) carries them.
        let identity = sorted.first { $0.info.role == .identity }?.signingPair
        self.keys = sorted.map { key in
            guard key.info.role == .auditSigning, let identity, let pair = key.signingPair else { return key }
            var certified = key
            certified.certificate = try? KeyCertificate.sign(vaultID: vaultID, role: .auditSigning, version: key.info.version,
                                                             publicKey: pair.publicKey, identity: identity)
            return certified
        }
    }

    /// Role, version, creation time and fingerprint of every key, by role then version.
    public var status: [KeyInfo] { keys.map(\.info) }

    /// The newest version of `role`.
    package func current(_ role: KeyRole) -> UnsealedKey? {
        keys.filter { $0.info.role == role }.max { $0.info.version < $1.info.version }
    }

    func key(_ role: KeyRole, version: Int) -> UnsealedKey? {
        keys.first { $0.info.role == role && $0.info.version == version }
    }

    /// The audit public key: all an auditor needs to verify signatures.
    public var auditPublicKey: Ed25519.PublicKey? { current(.auditSigning)?.signingPair?.publicKey }

    /// A fresh keyring for a new vault: KEK v1, blind-index root v1, audit signing and MAC
    /// keys, backup key.
    static func generate(vaultID: VaultID, createdAt: String, root: RootHeader) throws -> Keyring {
        let keys = try KeyRole.allCases.map { role in
            try Keyring.makeKey(role: role, version: 1, createdAt: createdAt, secret: SecureBytes.random(count: 32))
        }
        return Keyring(vaultID: vaultID, createdAt: createdAt, root: root, keys: keys)
    }

    static func makeKey(role: KeyRole, version: Int, createdAt: String, secret: SecureBytes) throws -> UnsealedKey {
        if role.signs {
            let pair = try Ed25519.KeyPair(seed: secret)
            let fingerprint = try KeyFingerprint.of(pair.publicKey.bytes)
            let info = KeyInfo(role: role, version: version, createdAt: createdAt, fingerprint: fingerprint,
                               publicKey: Base64URL.encode(pair.publicKey.bytes))
            return UnsealedKey(info: info, secret: secret, signingPair: pair)
        }
        let info = KeyInfo(role: role, version: version, createdAt: createdAt,
                           fingerprint: try symmetricFingerprint(secret), publicKey: nil)
        return UnsealedKey(info: info, secret: secret, signingPair: nil)
    }

    /// What a key read from outside (a keyring file, a backup's recovery blob) must be before
    /// it joins `keys`: a version from 1 (the associated data of its wrapping encodes it
    /// unsigned), and not one already there. `source` names where it was read from.
    static func checkNew(_ role: KeyRole, version: Int, among keys: [UnsealedKey], source: String) throws {
        guard version >= 1 else {
            throw PrivacyKitError(.integrity, "\(source): key \(role.rawValue) has invalid version \(version)")
        }
        guard !keys.contains(where: { $0.info.role == role && $0.info.version == version }) else {
            throw PrivacyKitError(.integrity, "\(source): key \(role.rawValue) v\(version) appears twice")
        }
    }

    /// Roles a format-1 vault's keyring lacks until `privacyctl upgrade` adds them.
    static let addedByUpgrade: Set<KeyRole> = [.auditChain]

    /// A keyring read from outside must hold a key of every role (the identity key only
    /// when `identity` says so: keyrings of format 1 have none; the audit-chain key only
    /// once upgraded), and one identity at most.
    static func checkComplete(_ keys: [UnsealedKey], identity: Bool, source: String) throws {
        for role in KeyRole.allCases where !keys.contains(where: { $0.info.role == role }) && (role != .identity || identity)
            && !addedByUpgrade.contains(role) {
            throw PrivacyKitError(.integrity, "\(source): the keyring has no \(role.rawValue) key")
        }
        if !identity, keys.contains(where: { $0.info.role == .identity }) {
            throw PrivacyKitError(.integrity, "\(source): a keyring of format 1 holds a \(KeyRole.identity.rawValue) key")
        }
        guard keys.filter({ $0.info.role == .identity }).allSatisfy({ $0.info.version == 1 }) else {
            throw PrivacyKitError(.integrity, "\(source): the \(KeyRole.identity.rawValue) key never rotates, yet a version other than 1 is there")
        }
    }

    static func symmetricFingerprint(_ secret: SecureBytes) throws -> String {
        Hex.encode(try BLAKE2b.hash(Array("privacykit.key-fingerprint.v1".utf8), key: secret, outputByteCount: 16))
    }

    func with(root: RootHeader, wrapKey: SecureBytes) -> Keyring {
        Keyring(vaultID: vaultID, createdAt: createdAt, root: root, keys: keys, wrapKey: wrapKey)
    }

    /// The versions of `role`, oldest first.
    func versions(_ role: KeyRole) -> [Int] {
        keys.filter { $0.info.role == role }.map(\.info.version).sorted()
    }

    /// A copy with a new random key of `role`, one version above the newest.
    func addingKey(_ role: KeyRole, createdAt: String) throws -> Keyring {
        guard role != .identity else { throw PrivacyKitError(.internal, "the identity key never rotates") }
        let version = (versions(role).last ?? 0) + 1
        let key = try Keyring.makeKey(role: role, version: version, createdAt: createdAt, secret: SecureBytes.random(count: 32))
        return Keyring(vaultID: vaultID, createdAt: self.createdAt, root: root, keys: keys + [key], wrapKey: wrapKey)
    }

    /// A copy without the given versions of `role` (retired keys).
    func removingKeys(_ role: KeyRole, versions: Set<Int>) -> Keyring {
        Keyring(vaultID: vaultID, createdAt: createdAt, root: root,
                keys: keys.filter { !($0.info.role == role && versions.contains($0.info.version)) }, wrapKey: wrapKey)
    }
}
