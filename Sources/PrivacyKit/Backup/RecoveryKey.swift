import Foundation
public import Sodium

/// The offline recovery private key, with the vault it was made for.
///
/// The recovery public key is no secret: any vault, or anyone at all, can seal a backup to
/// it. What makes a recovery restore safe is the pin: the identity of the vault the key pair
/// was made for, recorded in the private key file (`backup recovery-keypair --vault …`), so
/// a restore accepts only backups that this identity (through its certified signing key)
/// made. A key file without a pin (made before identities, or without a vault) is refused
/// for identity-bound backups unless the identity is given explicitly (``ExpectedIdentity``).
///
/// The private key file: the secret key as base64url text (what it always was), then, when
/// pinned, a newline and `vault-id <32 hex digits>` and `vault-identity <base64url public
/// key>` lines. The public file is unchanged. See docs/formats.md "Recovery key files".
public struct RecoveryKey: Sendable {
    public let pair: SealedBox.KeyPair
    /// The identity the key pair was made for; nil for an unpinned key file.
    public let pin: VaultIdentity?

    public init(pair: SealedBox.KeyPair, pin: VaultIdentity?) {
        self.pair = pair
        self.pin = pin
    }

    static let vaultIDLabel = "vault-id"
    static let identityLabel = "vault-identity"

    /// Makes `PREFIX.key` (0600, pinned to `identity` when given) and `PREFIX.pub`,
    /// refusing to overwrite either.
    public static func generate(prefix: String, pinnedTo identity: VaultIdentity?) throws -> SubjectExportKeyFiles {
        let trailer = identity.map { "\n\(vaultIDLabel) \($0.vaultID.hex)\n\(identityLabel) \(Base64URL.encode($0.publicKey.bytes))\n" } ?? ""
        return try SubjectExport.generateKeyPair(prefix: prefix, secretTrailer: trailer)
    }

    /// Reads a recovery private key file: pinned, or an old one (32 bytes raw, base64url or
    /// hex) without a pin. It must not be accessible by group or others.
    public static func read(at path: String) throws -> RecoveryKey {
        // Read into locked memory and decoded from there: no copy of the key or its text on the heap.
        let file = try SecureFiles.readSecretLocked(at: path, what: "recovery key file", maxBytes: 4096)
        let newline = UInt8(ascii: "\n")
        let pinned = file.withUnsafeBytes { raw -> (key: SecureBytes?, pin: String)? in
            guard raw.count != SealedBox.secretKeyByteCount, let end = raw.firstIndex(of: newline),
                  raw[(end + 1)...].contains(where: { $0 != newline && $0 != UInt8(ascii: "\r") }) else { return nil }
            let line = SecureFiles.dropLineEnds(UnsafeRawBufferPointer(rebasing: raw[..<end]), all: false)
            return (SubjectExport.decodeKey(line), String(decoding: raw[(end + 1)...], as: UTF8.self))
        }
        guard let pinned else { return RecoveryKey(pair: try SubjectExport.readSecretKey(at: path), pin: nil) }
        guard let key = pinned.key else {
            throw PrivacyKitError(.invalidInput, "recovery key file \(path): the first line must be a 32-byte X25519 secret key (privacyctl backup recovery-keypair makes one)")
        }
        return RecoveryKey(pair: try SealedBox.KeyPair(secretKey: key), pin: try pin(pinned.pin, path: path))
    }

    /// The pin lines (public text).
    private static func pin(_ text: String, path: String) throws -> VaultIdentity {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let parts = line.split(separator: " ", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2, [vaultIDLabel, identityLabel].contains(parts[0]), fields[parts[0]] == nil else {
                throw PrivacyKitError(.invalidInput, "recovery key file \(path): after the key, only one `\(vaultIDLabel) HEX` and one `\(identityLabel) BASE64URL` line may follow")
            }
            fields[parts[0]] = parts[1]
        }
        guard let id = fields[vaultIDLabel], let vaultID = try? VaultID(hex: id),
              let key = fields[identityLabel], let bytes = try? Base64URL.decode(key), let publicKey = try? Ed25519.PublicKey(bytes: bytes) else {
            throw PrivacyKitError(.invalidInput, "recovery key file \(path): the pin needs a `\(vaultIDLabel)` (32 hex digits) and a `\(identityLabel)` (an Ed25519 public key, base64url) line")
        }
        return VaultIdentity(vaultID: vaultID, publicKey: publicKey)
    }
}
