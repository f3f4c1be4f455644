public import Foundation
public import Sodium
import Synchronization

/// A vault: one directory holding the store, the sealed keyring and the policies.
///
/// ```
/// <vault>/
///   vault.sqlite          the store
///   Keys/keyring.json     the sealed keyring, mode 0600
///   Policies/             schema.yaml, purposes.yaml, retention.yaml, access.yaml
/// ```
///
/// Create one with ``create(at:rootKey:kdfLimits:)`` and open it with
/// ``open(at:rootKey:)``. Opening checks everything before it touches anything: a wrong
/// secret, a damaged or missing keyring, or a vault written by a newer PrivacyKit fails
/// with a ``PrivacyKitError`` and leaves the files as they were.
///
/// ```swift
/// let vault = try Vault.open(at: URL(fileURLWithPath: "/srv/crm-vault"),
///                            rootKey: .keyFile(at: "/etc/privacykit/root.key"))
/// print(vault.id, vault.keyStatus())
/// ```
public final class Vault: Sendable {
    /// The vault format this build creates and reads.
    public static let formatVersion = 1

    public static let storeFileName = "vault.sqlite"
    public static let keysDirectoryName = "Keys"
    public static let keyringFileName = "keyring.json"
    public static let policiesDirectoryName = "Policies"

    /// The vault directory.
    public let directory: URL
    public let id: VaultID
    public let store: SQLiteStore

    private struct State: Sendable {
        var keyring: Keyring
        /// BLAKE2b of the keyring file as last read or written: a rewrite first checks the
        /// file is still this one, so two processes cannot silently undo each other.
        var keyringDigest: [UInt8]
    }
    private let state: Mutex<State>

    private init(directory: URL, store: SQLiteStore, keyring: Keyring, keyringDigest: [UInt8]) {
        self.directory = directory
        self.id = keyring.vaultID
        self.store = store
        self.state = Mutex(State(keyring: keyring, keyringDigest: keyringDigest))
    }

    /// The unsealed keyring.
    public var keyring: Keyring { state.withLock { $0.keyring } }

    public var keyringPath: String { Self.keyringPath(directory.path) }
    public var storePath: String { directory.path + "/" + Self.storeFileName }
    public var policiesPath: String { directory.path + "/" + Self.policiesDirectoryName }

    static func keyringPath(_ directory: String) -> String {
        directory + "/" + keysDirectoryName + "/" + keyringFileName
    }

    /// Role, version, creation time and fingerprint of every key; never key bytes.
    public func keyStatus() -> [KeyInfo] { keyring.status }

    // MARK: - Create

    /// Creates a new vault at `directory`, which must not exist or be an empty directory.
    ///
    /// The vault is assembled in a hidden sibling directory and renamed into place at the
    /// end, so a failure or a crash never leaves a half-made vault behind at `directory`.
    ///
    /// - Parameters:
    ///   - directory: where the vault goes; its parent must exist.
    ///   - rootKey: the secret that will unseal the keyring.
    ///   - kdfLimits: Argon2id cost for a passphrase (ignored for a raw key). The default,
    ///     MODERATE, takes about half a second; lower limits are for tests.
    /// - Throws: ``PrivacyKitError`` `.alreadyExists` if `directory` is a file or a
    ///   non-empty directory, `.notFound` if its parent does not exist.
    public static func create(
        at directory: URL, rootKey: RootKey, kdfLimits: Argon2id.Limits = .moderate
    ) throws -> Vault {
        let target = directory.standardizedFileURL.path
        let fm = FileManager.default
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: target, isDirectory: &isDirectory) {
            guard isDirectory.boolValue, (try? fm.contentsOfDirectory(atPath: target))?.isEmpty == true else {
                throw PrivacyKitError(.alreadyExists, "\(target) already exists and is not an empty directory; choose a new path for the vault")
            }
        }
        let parent = (target as NSString).deletingLastPathComponent
        guard fm.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrivacyKitError(.notFound, "the parent directory \(parent) does not exist")
        }

        let staging = parent + "/." + (target as NSString).lastPathComponent + ".creating-" + Hex.encode(Random.bytes(count: 4))
        try SecureFiles.makeDirectory(staging, mode: 0o700)
        var finished = false
        defer { if !finished { try? fm.removeItem(atPath: staging) } }

        try SecureFiles.makeDirectory(staging + "/" + keysDirectoryName, mode: 0o700)
        try SecureFiles.makeDirectory(staging + "/" + policiesDirectoryName, mode: 0o755)
        try PolicySet.writeDefaults(to: staging + "/" + policiesDirectoryName)

        let vaultID = VaultID.random()
        let createdAt = Timestamp.now()
        let fresh = try Keyring.generate(vaultID: vaultID, createdAt: createdAt,
                                         root: RootHeader(kind: rootKey.kind, limits: nil, salt: nil))
        let (bytes, keyring) = try KeyringFile.seal(fresh, rootKey: rootKey, limits: kdfLimits)
        try SecureFiles.replace(bytes, at: keyringPath(staging), mode: 0o600)

        let staged = try SQLiteStore.create(at: staging + "/" + storeFileName, vaultID: vaultID, createdAt: createdAt)
        try staged.close()

        // rename(2) moves the finished vault into place, replacing an empty directory.
        guard rename(staging, target) == 0 else {
            throw PrivacyKitError(.io, "cannot move the new vault into \(target): \(String(cString: strerror(errno)))")
        }
        finished = true
        try SecureFiles.syncDirectory(parent)

        let store = try SQLiteStore.open(at: target + "/" + storeFileName, expecting: vaultID)
        return Vault(directory: URL(fileURLWithPath: target), store: store, keyring: keyring,
                     keyringDigest: try BLAKE2b.hash(bytes))
    }

    // MARK: - Open

    /// Opens the vault at `directory` with its root secret.
    ///
    /// - Throws: ``PrivacyKitError`` with `.notFound` (no vault or no keyring there),
    ///   `.wrongKey` (the secret does not open the keyring), `.integrity` (damaged keyring
    ///   or store, or a keyring and store from different vaults), `.unsupportedVersion`
    ///   (written by a newer PrivacyKit), `.insecurePermissions` (keyring readable by
    ///   others). Nothing on disk is changed when it throws.
    public static func open(at directory: URL, rootKey: RootKey) throws -> Vault {
        let path = directory.standardizedFileURL.path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrivacyKitError(.notFound, "no vault at \(path) (run privacyctl init --vault \(path) to create one)")
        }
        let keyringPath = keyringPath(path)
        guard SecureFiles.mode(of: keyringPath) != nil else {
            throw PrivacyKitError(.notFound, "\(path) has no keyring (\(keysDirectoryName)/\(keyringFileName)); is it a vault?")
        }
        let bytes = try SecureFiles.readSecret(at: keyringPath, what: "keyring", maxBytes: 4 << 20)
        let keyring = try KeyringFile.unseal(bytes, path: keyringPath, rootKey: rootKey)

        let store = try SQLiteStore.open(at: path + "/" + storeFileName, expecting: keyring.vaultID)
        return Vault(directory: URL(fileURLWithPath: path), store: store, keyring: keyring,
                     keyringDigest: try BLAKE2b.hash(bytes))
    }

    // MARK: - Root rotation

    /// Re-seals the keyring under a new root secret. The keys themselves do not change,
    /// so no data is re-encrypted.
    ///
    /// The new keyring is written beside the old one, synced, and renamed over it: a crash
    /// at any point leaves either the old keyring (old secret opens it) or the new one.
    ///
    /// - Throws: `.busy` if another process is changing the keyring, `.integrity` if the
    ///   keyring file changed since this vault was opened.
    public func rotateRoot(to newRootKey: RootKey, kdfLimits: Argon2id.Limits = .moderate) throws {
        try rotateRoot(to: newRootKey, kdfLimits: kdfLimits, hooks: .none)
    }

    func rotateRoot(to newRootKey: RootKey, kdfLimits: Argon2id.Limits, hooks: SecureFiles.WriteHooks) throws {
        try rewriteKeyring(hooks: hooks) { keyring in
            try KeyringFile.seal(keyring, rootKey: newRootKey, limits: kdfLimits)
        }
    }

    /// Rewrites the keyring file under the keyring lock, after checking that it is still
    /// the file this vault read.
    private func rewriteKeyring(
        hooks: SecureFiles.WriteHooks,
        _ makeNew: (Keyring) throws -> (bytes: [UInt8], keyring: Keyring)
    ) throws {
        let lock = try FileLock(path: directory.path + "/" + Self.keysDirectoryName + "/.keyring.lock", what: "the keyring")
        defer { lock.unlock() }
        let current = try SecureFiles.readSecret(at: keyringPath, what: "keyring", maxBytes: 4 << 20)
        let (keyring, digest) = state.withLock { ($0.keyring, $0.keyringDigest) }
        guard ConstantTime.equals(try BLAKE2b.hash(current), digest) else {
            throw PrivacyKitError(.integrity, "\(keyringPath) changed since this vault was opened (another process rotated it?); open the vault again")
        }
        let (bytes, updated) = try makeNew(keyring)
        try SecureFiles.replace(bytes, at: keyringPath, mode: 0o600, hooks: hooks)
        let newDigest = try BLAKE2b.hash(bytes)
        state.withLock { $0 = State(keyring: updated, keyringDigest: newDigest) }
    }
}

/// UTC timestamps as PrivacyKit writes them: ISO 8601 with seconds, `Z`.
enum Timestamp {
    static func now() -> String { string(Date()) }

    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: TimeZone(identifier: "UTC") ?? .current))
    }
}
