import Dispatch
import Foundation
import PrivacyKit
@testable import PrivacyKitPostgres
import Synchronization
import Testing

@Suite(.enabled(if: TestServer.isAvailable, TestServer.skipReason))
struct PostgresSchemaTests {
    static let tables = [
        "anonymized_records", "audit_checkpoints", "audit_events", "blind_index", "breaches", "clients", "consent_ledger",
        "consent_state", "decision_leaves", "decision_nodes", "legal_holds", "restrictions", "schema_migrations", "subject_requests", "subjects",
        "sweep_runs", "tombstones", "vault_meta",
    ]

    private func values(_ c: PGConnection, _ sql: String, _ arguments: [StoreValue] = []) throws -> [StoreValue] {
        try c.fetchAll(sql, arguments).map { $0.values[0] }
    }

    /// A connection to a migrated schema of its own.
    private func withMigrated(_ body: (PGConnection) throws -> Void) throws {
        try TestServer.withFreshSchemaName { schema in
            let c = try PGConnection(settings: TestServer.settings(schema: schema))
            defer { c.close() }
            try PostgresSchema.migrate(c)
            try body(c)
        }
    }

    @Test func appliesToAFreshSchemaOnce() throws {
        try TestServer.withFreshSchemaName { schema in
            let c = try PGConnection(settings: TestServer.settings(schema: schema))
            defer { c.close() }
            try PostgresSchema.migrate(c)
            #expect(!c.isInsideTransaction)
            let tables = try values(c, "SELECT table_name::text FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [.text(schema)])
            #expect(tables == Self.tables.map { .text($0) })
            try PostgresSchema.migrate(c)
            #expect(try values(c, "SELECT name FROM schema_migrations ORDER BY 1") == [.text("v1-privacykit"), .text("v2-integrity"), .text("v3-clients"), .text("v4-request-regimes")])
            let appliedAt = try values(c, "SELECT applied_at FROM schema_migrations")
            guard case .text(let time)? = appliedAt.first else { Issue.record("no applied_at"); return }
            #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil, "\(time)")
        }
    }

    @Test func columnTypes() throws {
        try withMigrated { c in
            let schema = c.settings.schema
            // Every text column compares bytes, as SQLite does.
            let notC = try values(c, """
                SELECT table_name || '.' || column_name FROM information_schema.columns
                WHERE table_schema = ? AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'
                """, [.text(schema)])
            #expect(notC.isEmpty, "\(notC)")
            let types = Set(try values(c, "SELECT DISTINCT data_type::text FROM information_schema.columns WHERE table_schema = ?", [.text(schema)]))
            #expect(types == [.text("text"), .text("bigint"), .text("bytea")])
            let identities = try values(c, """
                SELECT table_name || '.' || column_name FROM information_schema.columns
                WHERE table_schema = ? AND is_identity = 'YES' ORDER BY 1
                """, [.text(schema)])
            #expect(identities == [.text("anonymized_records.id"), .text("consent_ledger.id"), .text("sweep_runs.id")])
            let indexes = try values(c, "SELECT indexname::text FROM pg_indexes WHERE schemaname = ? AND indexname NOT LIKE '%pkey' ORDER BY 1", [.text(schema)])
            #expect(indexes == [
                "audit_events_subject", "blind_index_subject", "consent_ledger_subject", "consent_state_subject",
                "decision_leaves_bucket", "legal_holds_subject", "subject_requests_subject", "subjects_kek",
            ].map { .text($0) })
        }
    }

    @Test func historyIsAppendOnly() throws {
        try withMigrated { c in
            _ = try c.execute("""
                INSERT INTO audit_events (seq, time, actor, role, action, fields, outcome, prev_hash, hash)
                VALUES (1, 't', 'a', 'r', 'x', '[]', 'ok', ?, ?)
                """, [.blob([0]), .blob([1])], cached: false)
            _ = try c.execute("INSERT INTO audit_checkpoints VALUES (1, ?, 't', 'k', ?)", [.blob([2]), .blob([3])], cached: false)
            _ = try c.execute("""
                INSERT INTO consent_ledger (subject, purpose, kind, time, channel, actor, audit_seq)
                VALUES ('p', 'mail', 'grant', 't', 'web', 'a', 1)
                """, [], cached: false)
            for (table, column) in [("audit_events", "actor"), ("audit_checkpoints", "time"), ("consent_ledger", "channel")] {
                for sql in ["UPDATE \(table) SET \(column) = 'eve'", "DELETE FROM \(table)", "TRUNCATE \(table)"] {
                    let error = storeError { _ = try c.execute(sql, [], cached: false) }
                    #expect(error?.message.hasPrefix("\(table) is append-only") == true, "\(sql): \(String(describing: error))")
                }
                #expect(try values(c, "SELECT count(*) FROM \(table)") == [.integer(1)])
            }
            // The way around, for restores and tamper tests: a superuser's replica session.
            try c.begin()
            _ = try c.execute("SET LOCAL session_replication_role = replica", [], cached: false)
            #expect(try c.execute("UPDATE audit_events SET actor = 'eve'", [], cached: false) == 1)
            try c.rollback()
        }
    }

    @Test func keysChecksAndCascades() throws {
        try withMigrated { c in
            _ = try c.execute("""
                INSERT INTO subjects (id, kek_version, key_version, wrapped_key, sealed, plain, invalid, created_at, updated_at)
                VALUES ('s1', 1, 1, ?, ?, '{}', '[]', 't', 't')
                """, [.blob([1]), .blob([2])], cached: false)
            _ = try c.execute("INSERT INTO blind_index VALUES ('email', 1, ?, 's1')", [.blob([9])], cached: false)
            _ = try c.execute("INSERT INTO consent_state VALUES ('mail', 's1', 'grant', 1, 't', NULL, NULL)", [], cached: false)
            _ = try c.execute("INSERT INTO restrictions VALUES ('s1', 'r', 'a', 't', NULL)", [], cached: false)
            #expect(try c.execute("DELETE FROM subjects WHERE id = 's1'", [], cached: false) == 1)
            for table in ["blind_index", "consent_state", "restrictions"] {
                #expect(try values(c, "SELECT count(*) FROM \(table)") == [.integer(0)], "\(table)")
            }

            let consentKind = storeError {
                _ = try c.execute("INSERT INTO consent_ledger (subject, purpose, kind, time, channel, actor, audit_seq) VALUES ('p', 'x', 'maybe', 't', 'c', 'a', 1)", [], cached: false)
            }
            #expect(consentKind?.code == "23514")
            let hold = storeError {
                _ = try c.execute("INSERT INTO legal_holds (id, reason, placed_by, placed_at) VALUES ('h', 'r', 'a', 't')", [], cached: false)
            }
            #expect(hold?.code == "23514")
            let request = storeError {
                _ = try c.execute("""
                    INSERT INTO subject_requests (id, type, regime, subject_id, received_at, opened_at, opened_by, closed_at)
                    VALUES ('r', 'access', 'gdpr', 's', 't', 't', 'a', 't')
                    """, [], cached: false)
            }
            #expect(request?.code == "23514")
            let breach = storeError {
                _ = try c.execute("INSERT INTO breaches (id, detected_at, summary, opened_at, opened_by, notified_authority_at) VALUES ('b', 't', 's', 't', 'a', 't')", [], cached: false)
            }
            #expect(breach?.code == "23514")
            let orphan = storeError { _ = try c.execute("INSERT INTO blind_index VALUES ('email', 1, ?, 'nobody')", [.blob([9])], cached: false) }
            #expect(orphan?.code == "23503")

            // Ids SQLite would assign are assigned here too.
            for _ in 0..<2 {
                _ = try c.execute("INSERT INTO sweep_runs (started_at, clock, pid, actor) VALUES ('t', 'c', 1, 'a')", [], cached: false)
            }
            #expect(try values(c, "SELECT id FROM sweep_runs ORDER BY id") == [.integer(1), .integer(2)])
            let returned = try c.fetchAll("INSERT INTO anonymized_records (rule, category, anonymized_at, plain) VALUES ('r', 'c', 't', '{}') RETURNING id")
            #expect(returned.first?.values == [.integer(1)])
        }
    }

    @Test func textComparesBytes() throws {
        try withMigrated { c in
            for id in ["b", "B", "a", "_", "é", "2024-05-01T10:00:00Z", "2024-05-01T09:00:00.5Z"] {
                _ = try c.execute("INSERT INTO vault_meta VALUES (?, 'v')", [.text(id)], cached: false)
            }
            let sorted = try values(c, "SELECT key FROM vault_meta ORDER BY key")
            #expect(sorted == ["2024-05-01T09:00:00.5Z", "2024-05-01T10:00:00Z", "B", "_", "a", "b", "é"].map { .text($0) })
        }
    }

    @Test func concurrentMigratorsApplyOnce() throws {
        try TestServer.withFreshSchemaName { schema in
            let settings = try TestServer.settings(schema: schema)
            let failures = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { _ in
                do {
                    let c = try PGConnection(settings: settings)
                    defer { c.close() }
                    try PostgresSchema.migrate(c)
                } catch {
                    failures.withLock { $0.append("\(error)") }
                }
            }
            #expect(failures.withLock { $0 } == [])
            let c = try PGConnection(settings: settings)
            defer { c.close() }
            #expect(try values(c, "SELECT count(*) FROM schema_migrations") == [.integer(Int64(PostgresSchema.migrations.count))])
        }
    }

    @Test func refusesASchemaFromANewerBuild() throws {
        try withMigrated { c in
            _ = try c.execute("INSERT INTO schema_migrations VALUES ('v99-future', 't')", [], cached: false)
            let error = storeError { try PostgresSchema.migrate(c) }
            #expect(error?.message == "the schema \(c.settings.schema) at \(c.settings.redacted) holds migrations this build does not know (v99-future): it was written by a newer PrivacyKit")
            #expect(!c.isInsideTransaction)
        }
    }

    @Test func schemasKeepVaultsApart() throws {
        try withMigrated { a in
            try withMigrated { b in
                _ = try a.execute("INSERT INTO vault_meta VALUES ('vault_id', 'A')", [], cached: false)
                _ = try b.execute("INSERT INTO vault_meta VALUES ('vault_id', 'B')", [], cached: false)
                #expect(try values(a, "SELECT value FROM vault_meta") == [.text("A")])
                #expect(try values(b, "SELECT value FROM vault_meta") == [.text("B")])
            }
        }
    }
}
