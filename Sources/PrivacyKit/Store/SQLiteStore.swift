import Foundation
import GRDB

/// The embedded store: one SQLite file through GRDB.
///
/// WAL mode (a `DatabasePool`, so readers never block the writer), foreign keys on,
/// `secure_delete` on every connection (deleted rows are overwritten, which crypto-shredding
/// relies on), a busy timeout instead of "database is locked", and named migrations that
/// are frozen once shipped.
public final class SQLiteStore: Store {
    /// The GRDB pool; capabilities run their transactions through it.
    let pool: DatabasePool
    public let path: String
    public var location: String { path }
    public var dialect: StoreDialect { .sqlite }
    /// Takes WAL checkpoints off the commit path (see ``WALCheckpointer``).
    let checkpointer: WALCheckpointer

    /// Store format version this build writes. A store stamped with a higher one, or
    /// holding migrations this build does not know, was written by a newer PrivacyKit.
    /// Format 2: the keyed audit chain (migration `v8-integrity`).
    public static let formatVersion = 2

    private init(pool: DatabasePool, path: String, checkpointer: WALCheckpointer) {
        self.pool = pool
        self.path = path
        self.checkpointer = checkpointer
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-vault-meta") { db in
            try db.create(table: "vault_meta") { t in
                t.primaryKey("key", .text)
                t.column("value", .text).notNull()
            }
        }
        migrator.registerMigration("v2-audit") { db in
            // seq is the rowid: appends are cheap and reading in order needs no index.
            try db.execute(sql: """
                CREATE TABLE audit_events (
                    seq INTEGER PRIMARY KEY,
                    time TEXT NOT NULL,
                    actor TEXT NOT NULL,
                    role TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT,
                    fields TEXT NOT NULL,
                    purpose TEXT,
                    outcome TEXT NOT NULL,
                    reason TEXT,
                    request_id TEXT,
                    prev_hash BLOB NOT NULL,
                    hash BLOB NOT NULL
                );
                -- Pseudonyms are random, so a plain index on subject takes every insert to a
                -- random page and bulk appends slow down as the log grows (measured: 108k/s
                -- fresh, 33k/s at 1M events). Leading with the seq segment keeps inserts in
                -- one small, cached subtree; a subject lookup probes each segment.
                CREATE INDEX audit_events_subject ON audit_events(seq / 65536, subject) WHERE subject IS NOT NULL;
                CREATE TABLE audit_checkpoints (
                    seq INTEGER PRIMARY KEY,
                    chain_hash BLOB NOT NULL,
                    time TEXT NOT NULL,
                    key_fingerprint TEXT NOT NULL,
                    signature BLOB NOT NULL
                );
                """)
            // History is append-only at the SQL level: no code path can rewrite it.
            try appendOnly(db, "audit_events")
            try appendOnly(db, "audit_checkpoints")
        }
        migrator.registerMigration("v3-records") { db in
            // One row per subject: the wrapped subject key, the encrypted fields as one blob
            // (see RecordStore.encodeSealed), the plain fields as JSON.
            try db.execute(sql: """
                CREATE TABLE subjects (
                    id TEXT PRIMARY KEY NOT NULL,
                    kek_version INTEGER NOT NULL,
                    key_version INTEGER NOT NULL,
                    wrapped_key BLOB NOT NULL,
                    sealed BLOB NOT NULL,
                    plain TEXT NOT NULL,
                    invalid TEXT NOT NULL,
                    created_at TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX subjects_kek ON subjects(kek_version);
                CREATE TABLE blind_index (
                    field TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    hash BLOB NOT NULL,
                    subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
                    PRIMARY KEY (field, version, hash, subject_id)
                ) WITHOUT ROWID;
                CREATE INDEX blind_index_subject ON blind_index(subject_id);
                """)
        }
        migrator.registerMigration("v4-consent") { db in
            // The ledger: append-only, keyed by the subject's pseudonym (as in the audit
            // log), so proof of consent can outlive an erased subject without naming them.
            // consent_state is derived from it (the last event per subject and purpose),
            // holds the real subject id for audiences, and goes with the subject.
            try db.execute(sql: """
                CREATE TABLE consent_ledger (
                    id INTEGER PRIMARY KEY,
                    subject TEXT NOT NULL,
                    purpose TEXT NOT NULL,
                    kind TEXT NOT NULL CHECK (kind IN ('grant', 'withdraw', 'object')),
                    time TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    notice_version TEXT,
                    evidence_hash TEXT,
                    note BLOB,
                    actor TEXT NOT NULL,
                    expires_at TEXT,
                    audit_seq INTEGER NOT NULL
                );
                CREATE INDEX consent_ledger_subject ON consent_ledger(subject, purpose, id);
                CREATE TABLE consent_state (
                    purpose TEXT NOT NULL,
                    subject_id TEXT NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
                    kind TEXT NOT NULL,
                    event_id INTEGER NOT NULL,
                    time TEXT NOT NULL,
                    notice_version TEXT,
                    expires_at TEXT,
                    PRIMARY KEY (purpose, subject_id)
                ) WITHOUT ROWID;
                CREATE INDEX consent_state_subject ON consent_state(subject_id);
                """)
            try appendOnly(db, "consent_ledger")
        }
        migrator.registerMigration("v5-retention") { db in
            // Tombstones outlive the subject on purpose: they are what keeps an erased
            // subject erased (a restore replays them, an import refuses the id). The signed
            // receipt is kept so erasing again returns the same proof.
            try db.execute(sql: """
                CREATE TABLE tombstones (
                    subject_id TEXT PRIMARY KEY NOT NULL,
                    erased_at TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    request_id TEXT,
                    rule TEXT,
                    actor TEXT NOT NULL,
                    audit_seq INTEGER NOT NULL,
                    receipt TEXT NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE legal_holds (
                    id TEXT PRIMARY KEY NOT NULL,
                    subject_id TEXT,
                    category TEXT,
                    reason TEXT NOT NULL,
                    placed_by TEXT NOT NULL,
                    placed_at TEXT NOT NULL,
                    until TEXT,
                    released_at TEXT,
                    released_by TEXT,
                    release_reason TEXT,
                    CHECK ((subject_id IS NULL) <> (category IS NULL))
                ) WITHOUT ROWID;
                CREATE INDEX legal_holds_subject ON legal_holds(subject_id) WHERE subject_id IS NOT NULL;
                CREATE TABLE restrictions (
                    subject_id TEXT PRIMARY KEY NOT NULL REFERENCES subjects(id) ON DELETE CASCADE,
                    reason TEXT NOT NULL,
                    placed_by TEXT NOT NULL,
                    placed_at TEXT NOT NULL,
                    request_id TEXT
                ) WITHOUT ROWID;
                -- What anonymization keeps: non-identifying fields, with no link to the subject.
                CREATE TABLE anonymized_records (
                    id INTEGER PRIMARY KEY,
                    rule TEXT NOT NULL,
                    category TEXT NOT NULL,
                    anonymized_at TEXT NOT NULL,
                    plain TEXT NOT NULL
                );
                -- One row per sweep run: an unfinished row is a sweep that died.
                CREATE TABLE sweep_runs (
                    id INTEGER PRIMARY KEY,
                    started_at TEXT NOT NULL,
                    clock TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    finished_at TEXT,
                    summary TEXT
                );
                """)
        }
        migrator.registerMigration("v6-requests") { db in
            // Data-subject requests, one row each (Store/Tables/RequestsTable.swift reads and
            // writes them; the PostgreSQL twin is in PostgresSchema.v1). They name the subject
            // by id with no foreign key to `subjects`: an erasure request outlives the subject
            // it erased. The optional note is sealed under the subject's key (field
            // `request_note`), so erasing the subject shreds it; the reasons are operator text
            // kept in clear and must not hold personal data.
            try db.execute(sql: """
                CREATE TABLE subject_requests (
                    id TEXT PRIMARY KEY NOT NULL,
                    type TEXT NOT NULL CHECK (type IN ('access', 'export', 'rectification', 'restriction', 'objection', 'erasure')),
                    regime TEXT NOT NULL CHECK (regime IN ('gdpr', 'ccpa')),
                    subject_id TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    reference TEXT,
                    note BLOB,
                    opened_at TEXT NOT NULL,
                    opened_by TEXT NOT NULL,
                    identity_requested_at TEXT,
                    identity_verified_at TEXT,
                    extended_at TEXT,
                    extension_reason TEXT,
                    closed_at TEXT,
                    closed_by TEXT,
                    outcome TEXT CHECK (outcome IN ('completed', 'refused', 'withdrawn')),
                    close_reason TEXT,
                    CHECK ((extended_at IS NULL) = (extension_reason IS NULL)),
                    CHECK ((closed_at IS NULL) = (outcome IS NULL) AND (closed_at IS NULL) = (closed_by IS NULL))
                ) WITHOUT ROWID;
                CREATE INDEX subject_requests_subject ON subject_requests(subject_id);
                """)
        }
        migrator.registerMigration("v7-breaches") { db in
            // Personal-data breaches (Store/Tables/BreachesTable.swift; the PostgreSQL twin is
            // in PostgresSchema.v1). The summary is operator text that may be sensitive: it is
            // kept here and never copied into an audit event (those name the breach id).
            try db.execute(sql: """
                CREATE TABLE breaches (
                    id TEXT PRIMARY KEY NOT NULL,
                    detected_at TEXT NOT NULL,
                    summary TEXT NOT NULL,
                    opened_at TEXT NOT NULL,
                    opened_by TEXT NOT NULL,
                    closed_at TEXT,
                    closed_by TEXT,
                    close_reason TEXT,
                    notified_authority_at TEXT,
                    CHECK ((closed_at IS NULL) = (closed_by IS NULL) AND (closed_at IS NULL) = (close_reason IS NULL)),
                    CHECK (notified_authority_at IS NULL OR closed_at IS NOT NULL)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v8-integrity") { db in
            // Audit format 2 (AuditChain): the newest checkpoint each event saw, the
            // decision-state root it commits to, and its MAC under the audit-chain key.
            // Columns added, nothing rewritten: format-1 events keep them NULL. Applied only
            // by `privacyctl upgrade` (or to a new store), never on open.
            try db.execute(sql: """
                ALTER TABLE audit_events ADD COLUMN checkpoint_seq INTEGER;
                ALTER TABLE audit_events ADD COLUMN state_root BLOB;
                ALTER TABLE audit_events ADD COLUMN mac BLOB;
                -- The sparse Merkle tree over the decision rows (Access/DecisionIntegrity.swift):
                -- a leaf per subject with decision state, by keyed position; nodes by
                -- level << 20 | index. Its root is what each event's MAC commits to.
                CREATE TABLE decision_leaves (
                    key BLOB PRIMARY KEY NOT NULL,
                    bucket INTEGER NOT NULL,
                    tag BLOB NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX decision_leaves_bucket ON decision_leaves(bucket);
                CREATE TABLE decision_nodes (
                    pos INTEGER PRIMARY KEY,
                    hash BLOB NOT NULL
                );
                """)
        }
        migrator.registerMigration("v9-clients") { db in
            // The services privacyd serves (Access/Clients.swift): a keyed hash of each
            // client's token, never the token; revoked clients stay, with who and when. One
            // decision-tree leaf covers every row, so a client added, widened or un-revoked
            // behind the vault fails closed.
            try db.execute(sql: """
                CREATE TABLE clients (
                    name TEXT PRIMARY KEY NOT NULL,
                    role TEXT NOT NULL,
                    purposes TEXT NOT NULL,
                    token_version INTEGER NOT NULL,
                    token_hash BLOB NOT NULL,
                    certificate_subject TEXT,
                    created_at TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    expires_at TEXT,
                    revoked_at TEXT,
                    revoked_by TEXT
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v10-request-regimes") { db in
            // Requests under Taiwan's PDPA and PIPL, the CPRA limit request, how identity was
            // verified, the controller's own deadline where a statute sets none, and what a
            // completed request rested on (Requests/VaultRequests.swift). SQLite cannot alter
            // a CHECK, so the table is rebuilt; the PostgreSQL twin is PostgresSchema's
            // v4-request-regimes. Applied on open: old rows keep NULL in the new columns.
            try db.execute(sql: """
                CREATE TABLE subject_requests_v10 (
                    id TEXT PRIMARY KEY NOT NULL,
                    type TEXT NOT NULL CHECK (type IN ('access', 'export', 'rectification', 'restriction', 'objection', 'erasure', 'limit')),
                    regime TEXT NOT NULL CHECK (regime IN ('gdpr', 'ccpa', 'pdpa-tw', 'pipl')),
                    subject_id TEXT NOT NULL,
                    received_at TEXT NOT NULL,
                    reference TEXT,
                    note BLOB,
                    opened_at TEXT NOT NULL,
                    opened_by TEXT NOT NULL,
                    identity_requested_at TEXT,
                    identity_verified_at TEXT,
                    extended_at TEXT,
                    extension_reason TEXT,
                    closed_at TEXT,
                    closed_by TEXT,
                    outcome TEXT CHECK (outcome IN ('completed', 'refused', 'withdrawn')),
                    close_reason TEXT,
                    identity_method TEXT,
                    identity_degree TEXT CHECK (identity_degree IN ('none', 'reasonable', 'high')),
                    own_days INTEGER CHECK (own_days > 0),
                    own_extension_days INTEGER CHECK (own_extension_days > 0),
                    proof TEXT,
                    CHECK ((extended_at IS NULL) = (extension_reason IS NULL)),
                    CHECK ((closed_at IS NULL) = (outcome IS NULL) AND (closed_at IS NULL) = (closed_by IS NULL)),
                    CHECK ((identity_method IS NULL) = (identity_degree IS NULL)),
                    CHECK (identity_method IS NULL OR identity_verified_at IS NOT NULL),
                    CHECK (regime <> 'pipl' OR own_days IS NOT NULL),
                    CHECK (proof IS NULL OR outcome = 'completed')
                ) WITHOUT ROWID;
                INSERT INTO subject_requests_v10 (id, type, regime, subject_id, received_at, reference, note, opened_at, opened_by,
                    identity_requested_at, identity_verified_at, extended_at, extension_reason, closed_at, closed_by, outcome, close_reason)
                SELECT id, type, regime, subject_id, received_at, reference, note, opened_at, opened_by,
                    identity_requested_at, identity_verified_at, extended_at, extension_reason, closed_at, closed_by, outcome, close_reason
                FROM subject_requests;
                DROP TABLE subject_requests;
                ALTER TABLE subject_requests_v10 RENAME TO subject_requests;
                CREATE INDEX subject_requests_subject ON subject_requests(subject_id);
                """)
        }
        return migrator
    }

    /// Triggers that refuse every UPDATE and DELETE of `table` (the names and messages are
    /// part of shipped migrations: they must not change).
    private static func appendOnly(_ db: Database, _ table: String) throws {
        for operation in ["UPDATE", "DELETE"] {
            try db.execute(sql: """
                CREATE TRIGGER \(table)_no_\(operation.lowercased()) BEFORE \(operation) ON \(table)
                BEGIN SELECT RAISE(ABORT, '\(table) is append-only'); END
                """)
        }
    }

    static func configuration(checkpointer: WALCheckpointer? = nil) -> Configuration {
        var config = Configuration()
        config.foreignKeysEnabled = true
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // Only the writer ever commits, so only its hook ever fires.
            checkpointer?.install(on: db)
        }
        return config
    }

    /// Creates a new store file for `vaultID`. The file must not exist.
    static func create(at path: String, vaultID: VaultID, createdAt: String) throws -> SQLiteStore {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw PrivacyKitError(.alreadyExists, "\(path) already exists")
        }
        let store = try wrap(path) {
            let checkpointer = WALCheckpointer(path: path)
            let pool = try DatabasePool(path: path, configuration: configuration(checkpointer: checkpointer))
            try migrator.migrate(pool)
            try pool.write { db in
                for (key, value) in [("vault_id", vaultID.hex), ("format_version", String(formatVersion)), ("created_at", createdAt)] {
                    try db.execute(sql: "INSERT INTO vault_meta (key, value) VALUES (?, ?)", arguments: [key, value])
                }
            }
            return SQLiteStore(pool: pool, path: path, checkpointer: checkpointer)
        }
        // The store holds ciphertexts and metadata; nobody but the owner reads it. SQLite
        // gives its -wal and -shm files the same mode.
        chmod(path, 0o600)
        return store
    }

    /// Opens an existing store, refusing one written by a newer PrivacyKit or belonging to
    /// another vault before it changes anything, then applies this build's pending
    /// migrations.
    static func open(at path: String, expecting vaultID: VaultID) throws -> SQLiteStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw PrivacyKitError(.notFound, "the store \(path) does not exist")
        }
        return try wrap(path) {
            // Inspect before migrating: a newer store must not be changed at all. (Not a
            // read-only connection: SQLite cannot open a WAL file read-only once its -shm
            // file is gone; this connection only reads.)
            let reader = try DatabaseQueue(path: path, configuration: configuration())
            let superseded = try reader.read { db in try migrator.hasBeenSuperseded(db) }
            let meta = try reader.read { db -> [String: String] in
                guard try db.tableExists("vault_meta") else { return [:] }
                let rows = try Row.fetchAll(db, sql: "SELECT key, value FROM vault_meta")
                return Dictionary(rows.map { ($0["key"], $0["value"]) }, uniquingKeysWith: { a, _ in a })
            }
            try reader.close()
            try StoreMetadata.checkBeforeOpening(meta, store: path, expecting: vaultID, readsUpTo: formatVersion, superseded: superseded)
            let checkpointer = WALCheckpointer(path: path)
            let pool = try DatabasePool(path: path, configuration: configuration(checkpointer: checkpointer))
            // An older format is left as it is: the vault refuses it until `privacyctl
            // upgrade` (upgradeSchema()) carries it over, audited.
            if StoreMetadata.formatVersion(of: meta) == formatVersion { try migrator.migrate(pool) }
            return SQLiteStore(pool: pool, path: path, checkpointer: checkpointer)
        }
    }


    public func upgradeSchema() throws {
        try Self.wrap(path) { try Self.migrator.migrate(pool) }
    }

    /// Folds the WAL into the database file and empties it, on the writer connection (so
    /// `body` can go on there), giving up quickly when a reader holds older frames. A
    /// TRUNCATE checkpoint holds SQLite's writer lock while it waits for readers, and every
    /// writer of every process queues behind it: with the 10 s busy timeout, a long reader (a
    /// backup in progress) turned that wait into "database is locked" for all of them (found
    /// by the concurrency suite). Says whether the WAL was emptied.
    func truncateWAL<T>(patienceMilliseconds: Int = 100, then body: (_ db: Database, _ emptied: Bool) throws -> T) throws -> T {
        try Self.wrap(path) {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA busy_timeout = \(patienceMilliseconds)")
                let result = try? db.checkpoint(.truncate)
                try db.execute(sql: "PRAGMA busy_timeout = 10000")
                let emptied = result.map { $0.walFrameCount == 0 || $0.walFrameCount == $0.checkpointedFrameCount } ?? false
                return try body(db, emptied)
            }
        }
    }

    /// ``truncateWAL(patienceMilliseconds:then:)`` on its own, best effort.
    @discardableResult
    func truncateWAL() -> Bool {
        (try? truncateWAL { _, emptied in emptied }) ?? false
    }

    public func read<T>(_ body: (StoreDatabase) throws -> T) throws -> T {
        try Self.wrap(path) {
            try pool.read { db in try body(StoreDatabase(connection: SQLiteConnection(db))) }
        }
    }

    public func write<T>(_ body: (StoreDatabase) throws -> T) throws -> T {
        try Self.wrap(path) {
            try pool.writeWithoutTransaction { db in
                var result: T?
                // IMMEDIATE: the writer lock is taken before the first read, so what the
                // transaction reads (the audit chain's head) is what it commits on.
                try db.inTransaction(.immediate) {
                    result = try body(StoreDatabase(connection: SQLiteConnection(db)))
                    return .commit
                }
                guard let result else { throw PrivacyKitError(.internal, "a store transaction produced no result") }
                return result
            }
        }
    }

    /// On SQLite every job lock is an `flock` in the vault directory, which its callers
    /// take themselves (see `SweepLock`): one store file, one directory, one host.
    public func tryJobLock(_ name: String) throws -> StoreJobLock? {
        StoreJobLock {}
    }

    /// A reader (a backup in progress, another process) makes TRUNCATE wait for it: give up
    /// quickly instead, and leave it to the next checkpoint.
    public func scrubDeleted() -> Bool { truncateWAL() }

    /// Closes every connection (needed before the store file is moved).
    public func close() throws {
        checkpointer.close()
        try Self.wrap(path) { try pool.close() }
    }

    /// Less than 64 KiB left for this user where `path` lives.
    static func diskIsNearlyFull(_ path: String) -> Bool {
        var info = statvfs()
        guard statvfs(SecureFiles.parent(of: path), &info) == 0 else { return false }
        return UInt64(info.f_bavail) * UInt64(info.f_frsize) < 64 * 1024
    }

    /// Turns GRDB errors into PrivacyKit errors that name the file. GRDB's descriptions
    /// hide statement arguments, so no value leaks through the cause.
    static func wrap<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PrivacyKitError {
            throw error
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                throw PrivacyKitError(.integrity, "the store \(path) is not a valid SQLite database", cause: error)
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                throw PrivacyKitError(.busy, "the store \(path) is busy", cause: error)
            case .SQLITE_READONLY:
                // Even reads need it: SQLite makes the WAL and shared-memory files beside the store.
                throw PrivacyKitError(.io, "the store \(path) cannot be written: this user may not write it or its directory (SQLite keeps its WAL and lock files there)", cause: error)
            case .SQLITE_FULL:
                throw PrivacyKitError(.io, "the disk holding the store \(path) is full; the transaction was rolled back", cause: error)
            case .SQLITE_IOERR where diskIsNearlyFull(path):
                // SQLite cannot even size its shared-memory file: it says "disk I/O error".
                throw PrivacyKitError(.io, "the disk holding the store \(path) is full", cause: error)
            default:
                throw PrivacyKitError(.io, "the store \(path) failed: \(error.resultCode)", cause: error)
            }
        }
    }
}
