/// What every store backend offers. SQLite (``SQLiteStore``) is the embedded default;
/// PostgreSQL (the PrivacyKitPostgres module) serves one vault to many hosts.
public protocol Store: AnyObject, Sendable {
    /// Where the store is, for messages: a file path, or a URL without its password.
    var location: String { get }
    var dialect: StoreDialect { get }
    /// The vault id, store format version and creation time written when the vault was made.
    func metadata() throws -> StoreMetadata
    /// Runs `body` in a read-only transaction on a consistent snapshot.
    func read<T>(_ body: (StoreDatabase) throws -> T) throws -> T
    /// Runs `body` in a write transaction. Write transactions are serialized across every
    /// process and host using the store (SQLite's writer lock; a PostgreSQL advisory lock),
    /// which is what keeps the audit chain linear and gap-free.
    func write<T>(_ body: (StoreDatabase) throws -> T) throws -> T
    /// Takes the store-wide lock `name` (one sweep at a time, whichever host runs it), or
    /// returns nil at once when another process holds it. A process that dies releases it.
    func tryJobLock(_ name: String) throws -> StoreJobLock?
    /// Makes deleted rows unreadable on disk where the engine keeps old versions around
    /// (SQLite's WAL, PostgreSQL's dead tuples), best effort; says whether it got through.
    func scrubDeleted() -> Bool
    /// Closes every connection.
    func close() throws
    /// Applies the schema migrations an older store lacks (open leaves an older format as
    /// it is). Only the upgrade path calls it; it changes no row.
    func upgradeSchema() throws
}

extension Store {
    public func metadata() throws -> StoreMetadata {
        try StoreMetadata(values: read(StoreMetadata.values(in:)), store: location)
    }
}

/// A held store-wide lock (see ``Store/tryJobLock(_:)``).
public final class StoreJobLock: @unchecked Sendable {
    private var onRelease: (() -> Void)?

    public init(onRelease: @escaping () -> Void) { self.onRelease = onRelease }

    public func release() {
        onRelease?()
        onRelease = nil
    }

    deinit { release() }
}

/// What a store says about itself in its `vault_meta` table.
public struct StoreMetadata: Sendable, Equatable {
    public let vaultID: VaultID
    public let formatVersion: Int
    public let createdAt: String

    public init(vaultID: VaultID, formatVersion: Int, createdAt: String) {
        self.vaultID = vaultID
        self.formatVersion = formatVersion
        self.createdAt = createdAt
    }

    /// The `vault_meta` table as a dictionary (empty when there is no such table).
    public static func values(in db: StoreDatabase) throws -> [String: String] {
        guard try db.tableExists("vault_meta") else { return [:] }
        return Dictionary(try StoreRow.fetchAll(db, sql: "SELECT key, value FROM vault_meta").map { ($0["key"] as String, $0["value"] as String) },
                          uniquingKeysWith: { a, _ in a })
    }

    /// The metadata in `values` (from ``values(in:)``), or `.integrity` naming the store.
    public init(values: [String: String], store location: String) throws {
        guard let id = values["vault_id"], let vaultID = try? VaultID(hex: id),
              let version = values["format_version"].flatMap(Int.init), let created = values["created_at"]
        else {
            throw PrivacyKitError(.integrity, "the store \(location) has incomplete vault metadata")
        }
        self.init(vaultID: vaultID, formatVersion: version, createdAt: created)
    }

    /// The format version `vault_meta` records (0 when it records none).
    public static func formatVersion(of meta: [String: String]) -> Int {
        meta["format_version"].flatMap(Int.init) ?? 0
    }

    /// What every backend checks in a store's `vault_meta` before it changes anything: not
    /// written by a newer PrivacyKit (`superseded`: it holds migrations this build does not
    /// know), and holding vault `vaultID`.
    public static func checkBeforeOpening(
        _ meta: [String: String], store location: String, expecting vaultID: VaultID, readsUpTo formatVersion: Int, superseded: Bool = false
    ) throws {
        let version = meta["format_version"]
        if superseded || (version.flatMap(Int.init) ?? 0) > formatVersion {
            throw PrivacyKitError(
                .unsupportedVersion,
                "the store \(location) was written by a newer PrivacyKit (format \(version ?? "?")); this build reads up to \(formatVersion): upgrade PrivacyKit")
        }
        guard let storedID = meta["vault_id"] else {
            throw PrivacyKitError(.integrity, "the store \(location) has no vault id; it is not a PrivacyKit store")
        }
        guard storedID == vaultID.hex else {
            throw PrivacyKitError(.integrity, "the store \(location) belongs to vault \(storedID) but the keyring to vault \(vaultID)")
        }
    }
}
