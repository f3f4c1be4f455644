public import Foundation
import Synchronization

/// A store kept outside the vault directory, on a database server that several hosts
/// share (PostgreSQL, in the PrivacyKitPostgres module). The vault directory then holds the
/// keyring, the policies and a `store.url` file naming the store, never its password.
///
/// PrivacyKit itself links no server driver: a backend module registers itself
/// (`PostgresBackend.register()`), and a vault whose `store.url` names a scheme nobody
/// registered says which module to link.
public protocol StoreBackend: Sendable {
    /// The URL schemes this backend serves, such as `postgres`.
    static var schemes: [String] { get }
    /// A backend for the store at `url`. What the URL leaves out (the password, usually)
    /// comes from `environment`, as the backend's own client tools would take it.
    init(url: String, environment: [String: String]) throws
    /// The URL written to the vault directory: everything needed to find the store
    /// except the password.
    var reference: String { get }
    /// Creates the store for a new vault; refuses a store that already holds one.
    func create(vaultID: VaultID, createdAt: String) throws -> any Store
    /// Opens the store of vault `vaultID`, refusing one that holds another vault or was
    /// written by a newer PrivacyKit, and applies this build's pending migrations.
    func open(expecting vaultID: VaultID) throws -> any Store
    /// Removes the store ``create(vaultID:createdAt:)`` made for `vaultID`, when the vault
    /// around it could not be finished (a create or restore that failed half-way), so a
    /// retry finds the place empty. Touches nothing that holds another vault.
    func discard(vaultID: VaultID) throws
}

/// The registered ``StoreBackend`` types, by URL scheme.
public enum StoreBackends {
    /// The file in a vault directory naming a server store.
    public static let referenceFileName = "store.url"

    /// The store URL a vault directory names, nil for a vault with its own SQLite file.
    public static func reference(ofVault directory: String) throws -> String? {
        let path = directory + "/" + referenceFileName
        guard SecureFiles.mode(of: path) != nil else { return nil }
        let bytes = try SecureFiles.readSecret(at: path, what: "store reference", maxBytes: 64 << 10)
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw PrivacyKitError(.integrity, "\(path) is empty: it should name the vault's store") }
        return text
    }

    /// Opens the store of the vault at `directory`: its SQLite file, or the server store
    /// its `store.url` names (the password from the environment:
    /// `PRIVACYKIT_STORE_URL` replaces the recorded URL whole, for a URL with credentials).
    static func openStore(ofVault directory: String, expecting vaultID: VaultID,
                          environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any Store {
        guard let reference = try reference(ofVault: directory) else {
            return try SQLiteStore.open(at: directory + "/" + VaultLayout.storeFileName, expecting: vaultID)
        }
        return try backend(url: environment["PRIVACYKIT_STORE_URL"] ?? reference, environment: environment).open(expecting: vaultID)
    }

    /// Makes the backend for a store URL, with what the caller gave at registration (a
    /// logger, say) captured.
    public typealias Factory = @Sendable (_ url: String, _ environment: [String: String]) throws -> any StoreBackend

    private static let registered = Mutex<[String: Factory]>([:])

    /// Registers `backend` for its schemes, made with its own `init(url:environment:)`.
    public static func register(_ backend: any StoreBackend.Type) {
        register(schemes: backend.schemes) { url, environment in try backend.init(url: url, environment: environment) }
    }

    /// Registers `make` for `schemes`: how a backend module hands PrivacyKit what it cannot
    /// name (PrivacyKit links no logging or driver package), such as the caller's logger.
    public static func register(schemes: [String], _ make: @escaping Factory) {
        registered.withLock { table in
            for scheme in schemes { table[scheme.lowercased()] = make }
        }
    }

    /// The scheme of a store URL (`postgres` for `postgres://…`), lower-cased.
    static func scheme(of url: String) -> String? {
        guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else { return nil }
        return url[..<colon].lowercased()
    }

    /// The backend for `url`, from the registered ones.
    public static func backend(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> any StoreBackend {
        guard let scheme = scheme(of: url) else {
            throw PrivacyKitError(.invalidInput, "the store URL does not start with a scheme such as postgres://")
        }
        guard let make = registered.withLock({ $0[scheme] }) else {
            let known = registered.withLock { $0.keys.sorted() }
            throw PrivacyKitError(
                .invalidInput,
                "no store backend for \(scheme):// is linked into this program" + (known.isEmpty ? " (link PrivacyKitPostgres and call PostgresBackend.register())" : " (known: \(known.joined(separator: ", ")))"))
        }
        return try make(url, environment)
    }
}
