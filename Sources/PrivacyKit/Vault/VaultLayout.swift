public import Foundation

/// Where a vault keeps its files. One place for the names, so the CLI, backups and the
/// keyless readers agree with ``Vault`` on every path.
///
/// ```
/// <vault>/
///   vault.sqlite          the store (or store.url naming a server store)
///   Keys/keyring.json     the sealed keyring, mode 0600
///   Policies/             schema.yaml, purposes.yaml, retention.yaml, access.yaml
///   Backups/              encrypted backups (the default place)
/// ```
public enum VaultLayout {
    public static let storeFileName = "vault.sqlite"
    public static let keysDirectoryName = "Keys"
    public static let keyringFileName = "keyring.json"
    public static let policiesDirectoryName = "Policies"

    /// The keyring file of the vault at `directory`.
    public static func keyringPath(_ directory: String) -> String {
        directory + "/" + keysDirectoryName + "/" + keyringFileName
    }

    /// Checks that a vault can be made at `target` (absent, or an empty directory, with an
    /// existing parent) and returns the parent.
    static func checkNewVaultPath(_ target: String, refusal: String) throws -> String {
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: target, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try? fm.contentsOfDirectory(atPath: target))?.isEmpty == true else {
                throw PrivacyKitError(.alreadyExists, "\(target) already exists and is not an empty directory; \(refusal)")
            }
        }
        let parent = (target as NSString).deletingLastPathComponent
        guard fm.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrivacyKitError(.notFound, "the parent directory \(parent) does not exist")
        }
        return parent
    }
}
