import Foundation
import Sodium

/// The identity a backup header claims: the vault's identity public key and its certificate
/// of the audit signing key that signs the manifest (whose `headerHash` covers this header).
struct BackupIdentity: Codable, Equatable {
    let vaultID: String
    /// The identity public key (base64url).
    let publicKey: String
    /// The version of the audit signing key (the header's `auditPublicKey`) it certifies.
    let signingKeyVersion: Int
    /// `KeyCertificate` over (vault id, `audit-signing`, that version, that key), base64url.
    let certificate: String
}

/// Whose backup a restore or verification accepts.
///
/// A backup is bound to its vault when its header names the vault's identity and carries
/// the identity's certificate of the key that signed the manifest: then neither the header
/// nor the stream can be changed, and no other vault can make one, without the check
/// failing. Backups made before identities (or by a vault not yet upgraded) are unbound.
struct BackupIdentityCheck {
    /// Whom the caller trusts: a pin, an explicit identity, or the live vault's identity.
    var expected: ExpectedIdentity?
    /// Refuse a bound backup when nothing is expected: the recovery path, where the
    /// recovery public key anyone may seal to is all that opens it.
    var requireExpected: Bool
    /// Accept an unbound backup even though an identity is expected or required.
    var allowUnbound: Bool

    static let unboundOverride = "--allow-unbound-backup"

    /// The identity `header` claims, its certificate checked; nil for an unbound backup.
    static func claimed(by header: BackupHeader) throws -> VaultIdentity? {
        guard let block = header.identity else { return nil }
        let bad = { (what: String) in PrivacyKitError(.integrity, "backup \(header.backupID): \(what)") }
        guard block.vaultID == header.vaultID, let vaultID = try? VaultID(hex: block.vaultID) else {
            throw bad("its identity names vault \(block.vaultID), its header vault \(header.vaultID)")
        }
        guard let identityKey = try? Ed25519.PublicKey(bytes: Base64URL.decode(block.publicKey)),
              let signingKey = try? Ed25519.PublicKey(bytes: Base64URL.decode(header.auditPublicKey)),
              let certificate = try? Base64URL.decode(block.certificate) else {
            throw bad("its identity block is malformed")
        }
        let identity = VaultIdentity(vaultID: vaultID, publicKey: identityKey)
        guard KeyCertificate.isValid(certificate, identity: identity, role: .auditSigning, version: block.signingKeyVersion, publicKey: signingKey) else {
            throw bad("the certificate of its signing key does not verify with the identity it names (\(identity.fingerprint))")
        }
        return identity
    }

    /// Checks `header` against what is expected; returns the identity it is bound to.
    @discardableResult
    func check(_ header: BackupHeader) throws -> VaultIdentity? {
        let identity = try Self.claimed(by: header)
        guard let identity else {
            if (expected != nil || requireExpected) && !allowUnbound {
                throw PrivacyKitError(
                    .integrity,
                    "backup \(header.backupID) carries no vault identity (made before identities, or before the vault was upgraded): who made it cannot be proven. Restore it with the root secret, or accept it explicitly with \(Self.unboundOverride)")
            }
            if let id = expected?.vaultID, id.hex != header.vaultID {
                throw PrivacyKitError(.integrity, "backup \(header.backupID) is of vault \(header.vaultID), not of the expected vault \(id)")
            }
            return nil
        }
        guard let expected else {
            if requireExpected {
                throw PrivacyKitError(
                    .invalidInput,
                    "the recovery key is not pinned to a vault, and backup \(header.backupID) is bound to vault \(identity.vaultID) (identity \(identity.fingerprint)): make a pinned recovery key pair with `privacyctl backup recovery-keypair --vault DIR` (it records the vault's identity), or say whose backup you expect with --expect-identity FINGERPRINT (the vault-identity line of `privacyctl keys status`)")
            }
            return identity
        }
        guard expected.matches(identity) else {
            throw PrivacyKitError(
                .integrity,
                "backup \(header.backupID) was made by vault \(identity.vaultID) (identity \(identity.fingerprint)), not by the expected \(expected.description): refusing a backup that another vault sealed to this key")
        }
        return identity
    }

    /// The keyring a restore would install (the backup's copy, or the recovery blob's) must
    /// hold the identity the backup is bound to, and an unbound backup no identity at all.
    static func checkKeyring(_ keyring: Keyring, boundTo identity: VaultIdentity?, backupID: String) throws {
        guard keyring.identity == identity else {
            throw PrivacyKitError(
                .integrity,
                "the keyring in backup \(backupID) has identity \(keyring.identity?.fingerprint ?? "none"), the backup is bound to \(identity?.fingerprint ?? "none")")
        }
    }
}
