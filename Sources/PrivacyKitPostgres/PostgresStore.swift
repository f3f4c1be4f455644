import Foundation
public import Logging
public import PrivacyKit

/// A vault's store on PostgreSQL: one vault shared by services on many hosts.
///
/// The same tables as the SQLite store, in the schema the URL names. Reads run in
/// read-only REPEATABLE READ transactions (one consistent snapshot, as a SQLite read
/// transaction). A write first takes one advisory lock per vault, then runs in a
/// REPEATABLE READ transaction begun under it: write transactions are serialized across
/// every host, as SQLite serializes them in one file, so the audit chain's head read at
/// the start of a write is still the head when it commits — sequence numbers and chain
/// hashes stay gap-free and linear whichever hosts write. Reads never wait for it.
///
/// The snapshot is what keeps a store writer who takes no lock from slipping a row into
/// a write: the decision tree's new tags are computed from the rows this transaction saw
/// when it checked them, so a row committed in between is not folded into the new root
/// (it fails the next check), and an update of a row changed in between fails the write
/// (a serialization failure). Under READ COMMITTED each statement saw the newest rows. The
/// lock is session-level and taken before `BEGIN`, so the snapshot starts after the last
/// writer's commit; it is released after the commit or rollback (and by the server if the
/// connection drops).
public final class PostgresStore: Store, @unchecked Sendable {
    public let settings: PostgresSettings
    public var location: String { settings.redacted }
    public var dialect: StoreDialect { .postgres }

    /// Store format version this build writes (as ``SQLiteStore/formatVersion``).
    public static let formatVersion = 2

    /// Idle connections, reused; at most `maxIdle` are kept. (A lock, not a Mutex: the
    /// connections are handed between threads, one user at a time, which Sendable cannot say.)
    private let lock = NSLock()
    private var idle: [PGConnection] = []
    private let maxIdle = 8

    /// Where the connections' driver messages go (the caller's, never one built here).
    let logger: Logger

    init(settings: PostgresSettings, logger: Logger) {
        self.settings = settings
        self.logger = logger
    }

    deinit { try? close() }

    // Advisory lock keys are two int4s: a constant naming the use, and the schema's hash,
    // so vaults sharing one database never wait on each other.
    static let writeLockClass: Int64 = 0x504B_5752  // "PKWR"
    static let jobLockClass: Int64 = 0x504B_4A42  // "PKJB"

    private func checkout() throws -> PGConnection {
        if let connection = lock.withLock({ idle.popLast() }) {
            if !connection.isClosed { return connection }
        }
        return try Self.wrap(settings) { try PGConnection(settings: settings, logger: logger) }
    }

    private func checkin(_ connection: PGConnection) {
        guard !connection.isClosed, !connection.isInsideTransaction else {
            connection.close()
            return
        }
        let kept = lock.withLock { () -> Bool in
            guard idle.count < maxIdle else { return false }
            idle.append(connection)
            return true
        }
        if !kept { connection.close() }
    }

    private func transaction<T>(readOnly: Bool, _ body: (StoreDatabase) throws -> T) throws -> T {
        let connection = try checkout()
        defer { checkin(connection) }
        return try Self.wrap(settings) {
            if !readOnly {
                _ = try connection.fetchAll("SELECT pg_advisory_lock(?::int4, hashtext(current_schema()))", [.integer(Self.writeLockClass)])
            }
            defer {
                if !readOnly {
                    // A connection that cannot unlock is closed, which unlocks it.
                    do {
                        _ = try connection.fetchAll("SELECT pg_advisory_unlock(?::int4, hashtext(current_schema()))", [.integer(Self.writeLockClass)])
                    } catch {
                        connection.close()
                    }
                }
            }
            try connection.begin(readOnly: readOnly, repeatableRead: true)
            do {
                let result = try body(StoreDatabase(connection: connection))
                try connection.commit()
                return result
            } catch {
                try? connection.rollback()
                throw error
            }
        }
    }

    public func read<T>(_ body: (StoreDatabase) throws -> T) throws -> T {
        try transaction(readOnly: true, body)
    }

    public func write<T>(_ body: (StoreDatabase) throws -> T) throws -> T {
        try transaction(readOnly: false, body)
    }

    /// A session-level advisory lock on a connection of its own, held until released. A
    /// host that dies drops its connection, and the server the lock with it.
    public func tryJobLock(_ name: String) throws -> StoreJobLock? {
        let connection = try Self.wrap(settings) { try PGConnection(settings: settings, logger: logger) }
        let taken = try Self.wrap(settings) {
            try Bool.fetchOne(StoreDatabase(connection: connection),
                              sql: "SELECT pg_try_advisory_lock(?::int4, hashtext(current_schema() || ?))",
                              arguments: [Self.jobLockClass, name]) ?? false
        }
        guard taken else {
            connection.close()
            return nil
        }
        return StoreJobLock {
            // Unlocked before the session closes: the server notices a closed connection a
            // moment later, and a sweep started right after this one must find the lock free.
            // (A host that dies never gets here; its closed session releases the lock.)
            _ = try? connection.fetchAll("SELECT pg_advisory_unlock(?::int4, hashtext(current_schema() || ?))",
                                         [.integer(Self.jobLockClass), .text(name)])
            connection.close()
        }
    }


    /// VACUUM makes the space of deleted rows reusable. PostgreSQL gives no guarantee the
    /// old bytes are overwritten (its WAL and freed page space keep them for a while):
    /// what finishes an erasure on a server store is rotating the KEK that wrapped the
    /// erased subject's key (see docs/key-management.md).
    public func scrubDeleted() -> Bool {
        guard let connection = try? checkout() else { return false }
        defer { checkin(connection) }
        return (try? connection.execute("VACUUM subjects, blind_index, consent_state, restrictions", [], cached: false)) != nil
    }

    public func close() throws {
        let connections = lock.withLock { () -> [PGConnection] in
            defer { idle.removeAll() }
            return idle
        }
        for connection in connections { connection.close() }
    }

    public func upgradeSchema() throws {
        let connection = try checkout()
        defer { checkin(connection) }
        try Self.wrap(settings) { try PostgresBackend.migrate(connection) }
    }

    /// Turns driver errors into PrivacyKit errors naming the store (URL without password).
    static func wrap<T>(_ settings: PostgresSettings, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PrivacyKitError {
            throw error
        } catch let error as PostgresStoreError {
            switch error.kind {
            case .invalidSettings:
                throw PrivacyKitError(.invalidInput, error.message)
            case .connection:
                throw PrivacyKitError(.io, error.message.hasPrefix("cannot connect") ? error.message : "the store \(settings.redacted): \(error.message)", cause: error)
            case .serialization:
                throw PrivacyKitError(.busy, "the store \(settings.redacted) is busy: \(error.message)", cause: error)
            case .diskFull:
                throw PrivacyKitError(.io, "the disk of the store \(settings.redacted) is full; the transaction was rolled back", cause: error)
            case .readOnly:
                throw PrivacyKitError(.io, "the store \(settings.redacted) cannot be written (a read-only server or standby)", cause: error)
            case .uniqueViolation, .undefinedTable, .other:
                throw PrivacyKitError(.io, "the store \(settings.redacted) failed: \(error.message)", cause: error)
            }
        }
    }
}

/// PostgreSQL as a ``StoreBackend``: `postgres://user@host:port/database?schema=NAME`,
/// the password from the URL or `PGPASSWORD`, TLS when the server offers it (`sslmode`).
public struct PostgresBackend: StoreBackend {
    public static let schemes = ["postgres", "postgresql"]

    public let settings: PostgresSettings
    /// Handed to every connection the backend and its stores open.
    public let logger: Logger

    /// The backend ``StoreBackends`` makes from a vault's `store.url`: it logs nothing.
    public init(url: String, environment: [String: String]) throws {
        try self.init(url: url, environment: environment, logger: PGConnection.silentLogger)
    }

    /// - Parameter logger: where postgres-nio's debug and trace messages go.
    public init(url: String, environment: [String: String], logger: Logger) throws {
        self.logger = logger
        do {
            settings = try PostgresSettings(url: url, environment: environment)
        } catch let error as PostgresStoreError {
            throw PrivacyKitError(.invalidInput, error.message)
        }
    }

    /// Lets `Vault.open` find vaults whose `store.url` says `postgres://`; the stores it
    /// opens so log to `logger` (swift-log's practice: the caller chooses, the library never
    /// builds a logger of its own that writes anywhere).
    public static func register(logger: Logger = PGConnection.silentLogger) {
        StoreBackends.register(schemes: schemes) { url, environment in
            try PostgresBackend(url: url, environment: environment, logger: logger)
        }
    }

    public var reference: String { settings.redacted }

    /// `body` on a connection of its own (not a store's pool), closed afterwards.
    private func withConnection<T>(_ body: (PGConnection) throws -> T) throws -> T {
        try PostgresStore.wrap(settings) {
            let connection = try PGConnection(settings: settings, logger: logger)
            defer { connection.close() }
            return try body(connection)
        }
    }

    public func create(vaultID: VaultID, createdAt: String) throws -> any Store {
        let store = PostgresStore(settings: settings, logger: logger)
        try withConnection(PostgresSchema.migrate)
        try store.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM vault_meta WHERE key = 'vault_id'") {
                throw PrivacyKitError(.alreadyExists, "the store \(reference) already holds vault \(existing): give each vault its own schema (?schema=NAME)")
            }
            for (key, value) in [("vault_id", vaultID.hex), ("format_version", String(PostgresStore.formatVersion)), ("created_at", createdAt)] {
                try db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?)", arguments: [key, value])
            }
        }
        return store
    }

    public func discard(vaultID: VaultID) throws {
        try withConnection { connection in
            let db = StoreDatabase(connection: connection)
            try connection.begin()
            do {
                _ = try connection.fetchAll("SELECT pg_advisory_xact_lock(?)", [.integer(PostgresSchema.migrationLockKey)])
                if try db.tableExists("vault_meta"),
                   let stored = try String.fetchOne(db, sql: "SELECT value FROM vault_meta WHERE key = 'vault_id'"), stored != vaultID.hex {
                    throw PrivacyKitError(.integrity, "the store \(reference) holds vault \(stored), not \(vaultID): left as it is")
                }
                try db.execute(sql: "DROP TABLE IF EXISTS \(PostgresSchema.tables.joined(separator: ", ")) CASCADE")
                try db.execute(sql: "DROP FUNCTION IF EXISTS \(PostgresSchema.functions.joined(separator: ", ")) CASCADE")
                try connection.commit()
            } catch {
                try? connection.rollback()
                throw error
            }
            // The schema goes too when nothing else is in it (RESTRICT), and never `public`.
            if settings.schema != PostgresSettings.defaultSchema {
                _ = try? connection.execute("DROP SCHEMA \"\(settings.schema)\" RESTRICT", [], cached: false)
            }
        }
    }

    public func open(expecting vaultID: VaultID) throws -> any Store {
        // One connection inspects, then migrates: a store of another vault, or of a newer
        // PrivacyKit, is not changed at all.
        try withConnection { connection in
            let db = StoreDatabase(connection: connection)
            guard try db.tableExists("vault_meta") else {
                throw PrivacyKitError(.notFound, "the store \(reference) holds no vault (no vault_meta table in schema \(settings.schema))")
            }
            let meta = try StoreMetadata.values(in: db)
            try StoreMetadata.checkBeforeOpening(meta, store: reference, expecting: vaultID, readsUpTo: PostgresStore.formatVersion)
            // An older format is left as it is, for `privacyctl upgrade` (upgradeSchema()).
            if StoreMetadata.formatVersion(of: meta) == PostgresStore.formatVersion {
                try Self.migrate(connection)
            }
        }
        return PostgresStore(settings: settings, logger: logger)
    }

    static func migrate(_ connection: PGConnection) throws {
        do {
            try PostgresSchema.migrate(connection)
        } catch let error as PostgresStoreError where error.message.contains("newer PrivacyKit") {
            throw PrivacyKitError(.unsupportedVersion, error.message)
        }
    }
}
