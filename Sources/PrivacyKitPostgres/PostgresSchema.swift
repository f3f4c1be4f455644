// The PostgreSQL form of the SQLite store's schema (SQLiteStore.migrator's v1–v7, in
// PrivacyKit's Store/Store.swift), as one migration: a PostgreSQL store starts at the shape
// the SQLite one reached, and later changes are added as further named migrations, frozen
// once shipped, exactly as on SQLite.
//
// Same tables, columns, keys, checks and cascades. Types: INTEGER → BIGINT, BLOB → BYTEA,
// TEXT → TEXT COLLATE "C" (byte order whatever the database's collation, so comparing and
// sorting ISO times and ids gives SQLite's answers). Ids SQLite assigns (INTEGER PRIMARY KEY
// rowid aliases the code leaves out of its INSERTs) are identity columns; audit seqs, which
// the code assigns, are plain keys.

import PrivacyKit

enum PostgresSchema {
    /// Held (for the transaction) by every migrator, so two hosts opening the same database
    /// at once apply each migration once. One key for all schemas: migrations are rare and short.
    static let migrationLockKey: Int64 = 0x5052_4956_4B49_544D  // "PRIVKITM"

    /// Everything the migrations create in a vault's schema, for discarding an unfinished one.
    static let tables = [
        "vault_meta", "audit_events", "audit_checkpoints", "subjects", "blind_index", "consent_ledger", "consent_state",
        "tombstones", "legal_holds", "restrictions", "anonymized_records", "sweep_runs", "subject_requests", "breaches",
        "decision_leaves", "decision_nodes", "clients", "schema_migrations",
    ]
    static let functions = ["privacykit_append_only()", "privacykit_julianday(text)"]

    static let migrations: [(name: String, sql: String)] = [
        ("v1-privacykit", v1),
        // Twin of SQLiteStore.migrator's v8-integrity (the keyed audit chain).
        ("v2-integrity", """
            ALTER TABLE audit_events ADD COLUMN checkpoint_seq BIGINT, ADD COLUMN state_root BYTEA, ADD COLUMN mac BYTEA;
            CREATE TABLE decision_leaves (
                key BYTEA PRIMARY KEY,
                bucket BIGINT NOT NULL,
                tag BYTEA NOT NULL
            );
            CREATE INDEX decision_leaves_bucket ON decision_leaves (bucket);
            CREATE TABLE decision_nodes (
                pos BIGINT PRIMARY KEY,
                hash BYTEA NOT NULL
            );
            """),
        // Twin of SQLiteStore.migrator's v9-clients (privacyd's clients).
        ("v3-clients", """
            CREATE TABLE clients (
                name TEXT COLLATE "C" PRIMARY KEY,
                role TEXT COLLATE "C" NOT NULL,
                purposes TEXT COLLATE "C" NOT NULL,
                token_version BIGINT NOT NULL,
                token_hash BYTEA NOT NULL,
                certificate_subject TEXT COLLATE "C",
                created_at TEXT COLLATE "C" NOT NULL,
                created_by TEXT COLLATE "C" NOT NULL,
                expires_at TEXT COLLATE "C",
                revoked_at TEXT COLLATE "C",
                revoked_by TEXT COLLATE "C"
            );
            """),
        // Twin of SQLiteStore.migrator's v10-request-regimes (PDPA-TW and PIPL requests,
        // identity verification, the controller's own deadline, the proof of completion).
        ("v4-request-regimes", """
            ALTER TABLE subject_requests
                DROP CONSTRAINT subject_requests_type_check,
                DROP CONSTRAINT subject_requests_regime_check,
                ADD CONSTRAINT subject_requests_type_check
                    CHECK (type IN ('access', 'export', 'rectification', 'restriction', 'objection', 'erasure', 'limit')),
                ADD CONSTRAINT subject_requests_regime_check CHECK (regime IN ('gdpr', 'ccpa', 'pdpa-tw', 'pipl')),
                ADD COLUMN identity_method TEXT COLLATE "C",
                ADD COLUMN identity_degree TEXT COLLATE "C" CHECK (identity_degree IN ('none', 'reasonable', 'high')),
                ADD COLUMN own_days BIGINT CHECK (own_days > 0),
                ADD COLUMN own_extension_days BIGINT CHECK (own_extension_days > 0),
                ADD COLUMN proof TEXT COLLATE "C",
                ADD CHECK ((identity_method IS NULL) = (identity_degree IS NULL)),
                ADD CHECK (identity_method IS NULL OR identity_verified_at IS NOT NULL),
                ADD CHECK (regime <> 'pipl' OR own_days IS NOT NULL),
                ADD CHECK (proof IS NULL OR outcome = 'completed');
            """),
    ]

    private static let v1 = """
        CREATE TABLE vault_meta (
            key TEXT COLLATE "C" PRIMARY KEY,
            value TEXT COLLATE "C" NOT NULL
        );

        -- History is append-only at the SQL level: no code path can rewrite it. Ordinary
        -- triggers, so a superuser session with session_replication_role = replica (a
        -- restore, a tamper test) is the only way around them.
        CREATE FUNCTION privacykit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
        END
        $$;

        -- SQLite's julianday() for the retention queries: the Julian day of an ISO 8601
        -- time held as text, in UTC, and NULL (not an error) for text that is no time, so
        -- one odd plain field never fails a sweep.
        CREATE FUNCTION privacykit_julianday(t text) RETURNS float8
            LANGUAGE plpgsql IMMUTABLE SET timezone TO 'UTC' AS $$
        BEGIN
            RETURN extract(epoch FROM t::timestamptz)::float8 / 86400.0 + 2440587.5;
        EXCEPTION WHEN others THEN
            RETURN NULL;
        END
        $$;

        CREATE TABLE audit_events (
            seq BIGINT PRIMARY KEY,
            time TEXT COLLATE "C" NOT NULL,
            actor TEXT COLLATE "C" NOT NULL,
            role TEXT COLLATE "C" NOT NULL,
            action TEXT COLLATE "C" NOT NULL,
            subject TEXT COLLATE "C",
            fields TEXT COLLATE "C" NOT NULL,
            purpose TEXT COLLATE "C",
            outcome TEXT COLLATE "C" NOT NULL,
            reason TEXT COLLATE "C",
            request_id TEXT COLLATE "C",
            prev_hash BYTEA NOT NULL,
            hash BYTEA NOT NULL
        );
        -- SQLite leads this index with seq / 65536 to keep random pseudonyms from scattering
        -- its inserts over the file; a B-tree in PostgreSQL absorbs them without that trick.
        CREATE INDEX audit_events_subject ON audit_events (subject) WHERE subject IS NOT NULL;
        CREATE TABLE audit_checkpoints (
            seq BIGINT PRIMARY KEY,
            chain_hash BYTEA NOT NULL,
            time TEXT COLLATE "C" NOT NULL,
            key_fingerprint TEXT COLLATE "C" NOT NULL,
            signature BYTEA NOT NULL
        );

        CREATE TABLE subjects (
            id TEXT COLLATE "C" PRIMARY KEY,
            kek_version BIGINT NOT NULL,
            key_version BIGINT NOT NULL,
            wrapped_key BYTEA NOT NULL,
            sealed BYTEA NOT NULL,
            plain TEXT COLLATE "C" NOT NULL,
            invalid TEXT COLLATE "C" NOT NULL,
            created_at TEXT COLLATE "C" NOT NULL,
            updated_at TEXT COLLATE "C" NOT NULL
        );
        CREATE INDEX subjects_kek ON subjects (kek_version);
        CREATE TABLE blind_index (
            field TEXT COLLATE "C" NOT NULL,
            version BIGINT NOT NULL,
            hash BYTEA NOT NULL,
            subject_id TEXT COLLATE "C" NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            PRIMARY KEY (field, version, hash, subject_id)
        );
        CREATE INDEX blind_index_subject ON blind_index (subject_id);

        CREATE TABLE consent_ledger (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            subject TEXT COLLATE "C" NOT NULL,
            purpose TEXT COLLATE "C" NOT NULL,
            kind TEXT COLLATE "C" NOT NULL CHECK (kind IN ('grant', 'withdraw', 'object')),
            time TEXT COLLATE "C" NOT NULL,
            channel TEXT COLLATE "C" NOT NULL,
            notice_version TEXT COLLATE "C",
            evidence_hash TEXT COLLATE "C",
            note BYTEA,
            actor TEXT COLLATE "C" NOT NULL,
            expires_at TEXT COLLATE "C",
            audit_seq BIGINT NOT NULL
        );
        CREATE INDEX consent_ledger_subject ON consent_ledger (subject, purpose, id);
        CREATE TABLE consent_state (
            purpose TEXT COLLATE "C" NOT NULL,
            subject_id TEXT COLLATE "C" NOT NULL REFERENCES subjects (id) ON DELETE CASCADE,
            kind TEXT COLLATE "C" NOT NULL,
            event_id BIGINT NOT NULL,
            time TEXT COLLATE "C" NOT NULL,
            notice_version TEXT COLLATE "C",
            expires_at TEXT COLLATE "C",
            PRIMARY KEY (purpose, subject_id)
        );
        CREATE INDEX consent_state_subject ON consent_state (subject_id);

        CREATE TABLE tombstones (
            subject_id TEXT COLLATE "C" PRIMARY KEY,
            erased_at TEXT COLLATE "C" NOT NULL,
            reason TEXT COLLATE "C" NOT NULL,
            request_id TEXT COLLATE "C",
            rule TEXT COLLATE "C",
            actor TEXT COLLATE "C" NOT NULL,
            audit_seq BIGINT NOT NULL,
            receipt TEXT COLLATE "C" NOT NULL
        );
        CREATE TABLE legal_holds (
            id TEXT COLLATE "C" PRIMARY KEY,
            subject_id TEXT COLLATE "C",
            category TEXT COLLATE "C",
            reason TEXT COLLATE "C" NOT NULL,
            placed_by TEXT COLLATE "C" NOT NULL,
            placed_at TEXT COLLATE "C" NOT NULL,
            until TEXT COLLATE "C",
            released_at TEXT COLLATE "C",
            released_by TEXT COLLATE "C",
            release_reason TEXT COLLATE "C",
            CHECK ((subject_id IS NULL) <> (category IS NULL))
        );
        CREATE INDEX legal_holds_subject ON legal_holds (subject_id) WHERE subject_id IS NOT NULL;
        CREATE TABLE restrictions (
            subject_id TEXT COLLATE "C" PRIMARY KEY REFERENCES subjects (id) ON DELETE CASCADE,
            reason TEXT COLLATE "C" NOT NULL,
            placed_by TEXT COLLATE "C" NOT NULL,
            placed_at TEXT COLLATE "C" NOT NULL,
            request_id TEXT COLLATE "C"
        );
        CREATE TABLE anonymized_records (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            rule TEXT COLLATE "C" NOT NULL,
            category TEXT COLLATE "C" NOT NULL,
            anonymized_at TEXT COLLATE "C" NOT NULL,
            plain TEXT COLLATE "C" NOT NULL
        );
        CREATE TABLE sweep_runs (
            id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
            started_at TEXT COLLATE "C" NOT NULL,
            clock TEXT COLLATE "C" NOT NULL,
            pid BIGINT NOT NULL,
            actor TEXT COLLATE "C" NOT NULL,
            finished_at TEXT COLLATE "C",
            summary TEXT COLLATE "C"
        );

        -- Twin of SQLiteStore.migrator's v6-requests (PrivacyKit Store/Store.swift): change both.
        CREATE TABLE subject_requests (
            id TEXT COLLATE "C" PRIMARY KEY,
            type TEXT COLLATE "C" NOT NULL CHECK (type IN ('access', 'export', 'rectification', 'restriction', 'objection', 'erasure')),
            regime TEXT COLLATE "C" NOT NULL CHECK (regime IN ('gdpr', 'ccpa')),
            subject_id TEXT COLLATE "C" NOT NULL,
            received_at TEXT COLLATE "C" NOT NULL,
            reference TEXT COLLATE "C",
            note BYTEA,
            opened_at TEXT COLLATE "C" NOT NULL,
            opened_by TEXT COLLATE "C" NOT NULL,
            identity_requested_at TEXT COLLATE "C",
            identity_verified_at TEXT COLLATE "C",
            extended_at TEXT COLLATE "C",
            extension_reason TEXT COLLATE "C",
            closed_at TEXT COLLATE "C",
            closed_by TEXT COLLATE "C",
            outcome TEXT COLLATE "C" CHECK (outcome IN ('completed', 'refused', 'withdrawn')),
            close_reason TEXT COLLATE "C",
            CHECK ((extended_at IS NULL) = (extension_reason IS NULL)),
            CHECK ((closed_at IS NULL) = (outcome IS NULL) AND (closed_at IS NULL) = (closed_by IS NULL))
        );
        CREATE INDEX subject_requests_subject ON subject_requests (subject_id);

        -- Twin of SQLiteStore.migrator's v7-breaches (PrivacyKit Store/Store.swift): change both.
        CREATE TABLE breaches (
            id TEXT COLLATE "C" PRIMARY KEY,
            detected_at TEXT COLLATE "C" NOT NULL,
            summary TEXT COLLATE "C" NOT NULL,
            opened_at TEXT COLLATE "C" NOT NULL,
            opened_by TEXT COLLATE "C" NOT NULL,
            closed_at TEXT COLLATE "C",
            closed_by TEXT COLLATE "C",
            close_reason TEXT COLLATE "C",
            notified_authority_at TEXT COLLATE "C",
            CHECK ((closed_at IS NULL) = (closed_by IS NULL) AND (closed_at IS NULL) = (close_reason IS NULL)),
            CHECK (notified_authority_at IS NULL OR closed_at IS NOT NULL)
        );

        \(appendOnly("audit_events"))
        \(appendOnly("audit_checkpoints"))
        \(appendOnly("consent_ledger"))
        """

    /// Row triggers refusing UPDATE and DELETE (as SQLite's), and a statement trigger
    /// refusing TRUNCATE, which skips row triggers.
    private static func appendOnly(_ table: String) -> String {
        """
        CREATE TRIGGER \(table)_append_only BEFORE UPDATE OR DELETE ON \(table)
            FOR EACH ROW EXECUTE FUNCTION privacykit_append_only();
        CREATE TRIGGER \(table)_no_truncate BEFORE TRUNCATE ON \(table)
            FOR EACH STATEMENT EXECUTE FUNCTION privacykit_append_only();
        """
    }

    /// Brings the connection's schema (``PostgresSettings/schema``) up to date: creates it if
    /// absent, then applies the migrations it lacks, all in one transaction under
    /// ``migrationLockKey``, so a failure leaves nothing half-applied and concurrent
    /// migrators wait for each other.
    ///
    /// - Throws: ``PostgresStoreError``; `.other` when the schema holds migrations this build
    ///   does not know (a newer PrivacyKit wrote it), before anything is changed.
    static func migrate(_ c: PGConnection) throws {
        let schema = c.settings.schema
        try c.begin()
        do {
            _ = try c.fetchAll("SELECT pg_advisory_xact_lock(?)", [.integer(migrationLockKey)])
            _ = try c.execute("CREATE SCHEMA IF NOT EXISTS \"\(schema)\"", [], cached: false)
            // The connection named the schema before it existed; name it again now it does.
            _ = try c.execute("SET LOCAL search_path TO \"\(schema)\"", [], cached: false)
            _ = try c.execute("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    name TEXT COLLATE "C" PRIMARY KEY,
                    applied_at TEXT COLLATE "C" NOT NULL
                )
                """, [], cached: false)
            let applied = Set(try c.fetchAll("SELECT name FROM schema_migrations").compactMap { row -> String? in
                if case .text(let name) = row.values[0] { return name }
                return nil
            })
            let known = Set(migrations.map(\.name))
            let unknown = applied.subtracting(known)
            guard unknown.isEmpty else {
                throw PostgresStoreError(.other, "the schema \(schema) at \(c.settings.redacted) holds migrations this build does not know (\(unknown.sorted().joined(separator: ", "))): it was written by a newer PrivacyKit")
            }
            for migration in migrations where !applied.contains(migration.name) {
                _ = try c.execute(migration.sql, [], cached: false)
                _ = try c.execute("""
                    INSERT INTO schema_migrations (name, applied_at)
                    VALUES (?, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
                    """, [.text(migration.name)], cached: false)
            }
            try c.commit()
        } catch {
            try? c.rollback()
            throw error
        }
    }
}
