public import Foundation
public import Sodium

/// What can be read from a vault's files without its root secret: the audit public key
/// and vault id its keyring records, and a keyless verification of its audit log (for
/// `audit verify` and `audit public-key`, and for auditors).
///
/// A keyring can be swapped by whoever can write the vault: an auditor should compare the
/// recorded public key with a copy kept elsewhere.
public enum VaultFiles {
    /// Verifies the audit log of the vault at `directory` with nothing but the audit public
    /// key (no root secret): its SQLite file, or the server store its `store.url` names.
    public static func verifyAuditWithoutSecret(at directory: URL, publicKey: Ed25519.PublicKey, witness: [AuditCheckpoint] = []) throws -> AuditReport {
        let path = directory.standardizedFileURL.path
        guard try StoreBackends.reference(ofVault: path) != nil else {
            return try AuditVerifier.verify(storePath: path + "/" + VaultLayout.storeFileName, publicKey: publicKey, witness: witness)
        }
        let vaultID = try recordedVaultID(at: directory)
        let store = try StoreBackends.openStore(ofVault: path, expecting: vaultID)
        defer { try? store.close() }
        return try store.read { db in try AuditVerifier.verify(db: db, vaultID: vaultID, publicKey: publicKey, witness: witness) }
    }

    /// The audit public key recorded in the vault's keyring file, read without any secret.
    public static func recordedAuditPublicKey(at directory: URL) throws -> Ed25519.PublicKey {
        let path = VaultLayout.keyringPath(directory.standardizedFileURL.path)
        let bytes = try readKeyring(path)
        guard let text = KeyringFile.peekAuditPublicKey(bytes), let raw = try? Base64URL.decode(text),
              let key = try? Ed25519.PublicKey(bytes: raw)
        else {
            throw PrivacyKitError(.integrity, "\(path) records no valid audit public key")
        }
        return key
    }

    /// The vault id recorded in the keyring file, read without any secret.
    public static func recordedVaultID(at directory: URL) throws -> VaultID {
        let path = VaultLayout.keyringPath(directory.standardizedFileURL.path)
        guard let text = KeyringFile.peekVaultID(try readKeyring(path)), let id = try? VaultID(hex: text) else {
            throw PrivacyKitError(.integrity, "\(path) records no valid vault id")
        }
        return id
    }

    private static func readKeyring(_ path: String) throws -> [UInt8] {
        guard try SecureFiles.exists(path) else {
            throw PrivacyKitError(.notFound, "no keyring at \(path); is it a vault?")
        }
        return try KeyringFile.read(at: path)
    }
}
