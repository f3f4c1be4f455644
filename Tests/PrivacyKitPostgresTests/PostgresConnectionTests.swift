import Foundation
import PrivacyKit
@testable import PrivacyKitPostgres
import Testing

@Suite(.enabled(if: TestServer.isAvailable, TestServer.skipReason))
struct PostgresConnectionTests {
    private func rows(_ c: PGConnection, _ sql: String, _ arguments: [StoreValue] = []) throws -> [StoreRow] {
        let source = try c.query(sql, arguments, cached: false)
        var result: [StoreRow] = []
        while let row = try source.next() { result.append(row) }
        return result
    }

    private func one(_ c: PGConnection, _ sql: String, _ arguments: [StoreValue] = []) throws -> StoreValue {
        try #require(try rows(c, sql, arguments).first).values[0]
    }

    @Test func dialectSchemaAndApplicationName() throws {
        try TestServer.withSchema { c throws in
            #expect(c.dialect == .postgres)
            #expect(try one(c, "SELECT current_schema()") == .text(c.settings.schema))
            #expect(try one(c, "SELECT current_setting('application_name')") == .text("privacyctl"))
        }
        let named = try PGConnection(settings: TestServer.settings { $0.applicationName = "tests here" })
        defer { named.close() }
        #expect(try one(named, "SELECT current_setting('application_name')") == .text("tests here"))
    }

    @Test func roundTripsEveryValueKind() throws {
        try TestServer.withSchema { c in
            _ = try c.execute("CREATE TABLE v (id BIGINT PRIMARY KEY, i BIGINT, r DOUBLE PRECISION, s TEXT, b BYTEA)", [], cached: false)
            var random = SystemRandomNumberGenerator()
            let large = (0..<(1 << 20)).map { _ in UInt8.random(in: 0...255, using: &random) }
            let cases: [[StoreValue]] = [
                [.integer(1), .integer(42), .real(1.5), .text("plain"), .blob([0, 1, 2, 255])],
                [.integer(2), .null, .null, .null, .null],
                [.integer(3), .integer(Int64.min), .real(-0.0), .text(""), .blob([])],
                [.integer(4), .integer(Int64.max), .real(.greatestFiniteMagnitude), .text("héllo wörld 😀 中文 \u{301}e\u{0301} \t\n'\"?;"), .blob(large)],
                [.integer(5), .integer(0), .real(.infinity), .text(String(repeating: "x", count: 100_000)), .blob(Array("?".utf8))],
            ]
            for values in cases {
                #expect(try c.execute("INSERT INTO v (id, i, r, s, b) VALUES (?, ?, ?, ?, ?)", values, cached: true) == 1)
            }
            let read = try rows(c, "SELECT id, i, r, s, b FROM v ORDER BY id")
            #expect(read.count == cases.count)
            for (row, values) in zip(read, cases) {
                #expect(row.columns == ["id", "i", "r", "s", "b"])
                // Compared as a Bool: printing a 1 MiB blob on failure helps nobody.
                let same = row.values == values
                #expect(same, "row \(values[0])")
            }
            #expect(try one(c, "SELECT count(*) FROM v WHERE i IS NULL AND r IS NULL AND s IS NULL AND b IS NULL") == .integer(1))
        }
    }

    @Test func untypedNullsFitAnyColumn() throws {
        try TestServer.withSchema { c in
            _ = try c.execute("CREATE TABLE n (i BIGINT, s TEXT, b BYTEA, f DOUBLE PRECISION)", [], cached: false)
            #expect(try c.execute("INSERT INTO n VALUES (?, ?, ?, ?)", [.null, .null, .null, .null], cached: false) == 1)
            #expect(try c.execute("UPDATE n SET s = coalesce(?, 'd') WHERE i IS NULL AND b IS NOT DISTINCT FROM ?", [.null, .null], cached: false) == 1)
            #expect(try one(c, "SELECT s FROM n") == .text("d"))
            #expect(try one(c, "SELECT ?", [.null]) == .null)
            #expect(try one(c, "SELECT coalesce(?, 7)", [.null]) == .integer(7))
        }
    }

    @Test func decodesServerTypes() throws {
        try TestServer.withSchema { c in
            let row = try #require(try rows(c, """
                SELECT 1::int2 AS a, 2::int4 AS b, 3::int8 AS c, 42::oid AS d, 1.5::float4 AS e, 2.25::float8 AS f,
                       12::numeric AS g, 12.5::numeric AS h, 1e30::numeric AS i, true AS j, false AS k,
                       'v'::varchar AS l, 'nm'::name AS m, 'c'::char(3) AS n, '{"a": 1}'::json AS o, '{"a": 1}'::jsonb AS p,
                       '2024-05-01 12:00:00.25+00'::timestamptz AS q, '2024-05-01'::date AS r,
                       'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid AS s, NULL::text AS t, '\\x00ff'::bytea AS u,
                       '2024-05-01 12:00:00'::timestamp AS v, '13:14:15'::time AS w, 'x'::text AS "MixedCase",
                       sum(x) AS total, avg(x) AS mean
                FROM (VALUES (1::bigint), (2::bigint)) AS t(x)
                """).first)
            let expected: [String: StoreValue] = [
                "a": .integer(1), "b": .integer(2), "c": .integer(3), "d": .integer(42), "e": .real(1.5), "f": .real(2.25),
                "g": .integer(12), "h": .real(12.5), "i": .real(1e30), "j": .integer(1), "k": .integer(0),
                "l": .text("v"), "m": .text("nm"), "n": .text("c  "), "o": .text("{\"a\": 1}"), "p": .text("{\"a\": 1}"),
                "q": .text("2024-05-01T12:00:00.25Z"), "r": .text("2024-05-01"),
                "s": .text("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), "t": .null, "u": .blob([0, 255]),
                "v": .text("2024-05-01T12:00:00"), "w": .text("13:14:15"), "MixedCase": .text("x"),
                "total": .integer(3), "mean": .real(1.5),
            ]
            for (name, value) in expected {
                let index = try #require(row.columns.firstIndex(of: name), "column \(name)")
                #expect(row.values[index] == value, "column \(name)")
            }
            #expect(try one(c, "SELECT '10.0.0.1'::inet") == .text("10.0.0.1"))
            #expect(try one(c, "SELECT '10.0.0.0/8'::cidr") == .text("10.0.0.0/8"))
            #expect(try one(c, "SELECT '2001:db8::1/64'::inet") == .text("2001:db8::1/64"))
            #expect(try one(c, "SELECT '1 year 2 mons 3 days 04:05:06.5'::interval") == .text("1 year 2 mons 3 days 04:05:06.5"))
            #expect(try one(c, "SELECT '-25 hours'::interval") == .text("-25:00:00"))
            #expect(try one(c, "SELECT '0'::interval") == .text("00:00:00"))
            // Other built-in binary forms are not text; their text is a cast away.
            #expect(try one(c, "SELECT ARRAY[1, 2]::text") == .text("{1,2}"))
            guard case .blob = try one(c, "SELECT ARRAY[1, 2]") else { Issue.record("an array is not a blob"); return }
            // User-defined types come back as their text.
            _ = try c.execute("CREATE TYPE mood AS ENUM ('happy', 'sad')", [], cached: false)
            #expect(try one(c, "SELECT 'sad'::mood") == .text("sad"))
            // Typed reads through StoreRow, as capability code does them.
            let typed = try #require(try rows(c, "SELECT 5::int8 AS n, 'x' AS s, NULL::text AS z").first)
            #expect(typed["n"] as Int == 5)
            #expect(typed["s"] as String == "x")
            #expect(typed["z"] as String? == nil)
        }
    }

    @Test func changesCount() throws {
        try TestServer.withSchema { c in
            #expect(try c.execute("CREATE TABLE t (a BIGINT, b TEXT)", [], cached: false) == 0)
            #expect(try c.execute("INSERT INTO t VALUES (1, 'x'), (2, 'y'), (3, 'z')", [], cached: false) == 3)
            #expect(try c.execute("UPDATE t SET b = ? WHERE a >= ?", [.text("w"), .integer(2)], cached: false) == 2)
            #expect(try c.execute("UPDATE t SET b = 'q' WHERE a > 100", [], cached: false) == 0)
            #expect(try c.execute("DELETE FROM t WHERE a = ?", [.integer(1)], cached: false) == 1)
            #expect(try c.execute("SELECT * FROM t", [], cached: false) == 0)
            #expect(try c.execute("INSERT INTO t VALUES (9, 'r') RETURNING a", [], cached: false) == 1)
            #expect(try c.execute("""
                MERGE INTO t USING (VALUES (9), (10)) AS s(a) ON t.a = s.a
                WHEN MATCHED THEN UPDATE SET b = 'm' WHEN NOT MATCHED THEN INSERT VALUES (s.a, 'n')
                """, [], cached: false) == 2)
            #expect(try c.execute("INSERT INTO t VALUES (?, ?) ON CONFLICT DO NOTHING", [.integer(20), .text("a")], cached: false) == 1)
            let returned = try rows(c, "INSERT INTO t VALUES (?, ?) RETURNING a, b", [.integer(21), .text("b")])
            #expect(returned.map(\.values) == [[.integer(21), .text("b")]])
        }
    }

    @Test func severalStatementsInOneExecuteShareTheArguments() throws {
        try TestServer.withSchema { c in
            let changed = try c.execute("""
                CREATE TABLE t (a BIGINT, b TEXT);
                INSERT INTO t VALUES (?, ?), (?, 'literal ?');
                UPDATE t SET b = ? WHERE a = ?;
                """, [.integer(1), .text("one"), .integer(2), .text("uno"), .integer(1)], cached: false)
            #expect(changed == 1)
            #expect(try rows(c, "SELECT a, b FROM t ORDER BY a").map(\.values) == [[.integer(1), .text("uno")], [.integer(2), .text("literal ?")]])
            let error = storeError { _ = try c.execute("SELECT ?, ?", [.integer(1)], cached: false) }
            #expect(error?.message == "the statement has 2 placeholders but 1 arguments were given")
            let two = storeError { _ = try c.query("SELECT 1; SELECT 2", [], cached: false) }
            #expect(two?.message == "a query must be one statement (found 2)")
        }
    }

    @Test func transactions() throws {
        try TestServer.withSchema { c in
            _ = try c.execute("CREATE TABLE t (a BIGINT)", [], cached: false)
            let other = try PGConnection(settings: c.settings)
            defer { other.close() }
            #expect(!c.isInsideTransaction)

            try c.begin()
            #expect(c.isInsideTransaction)
            _ = try c.execute("INSERT INTO t VALUES (1)", [], cached: false)
            #expect(try one(other, "SELECT count(*) FROM t") == .integer(0))
            try c.rollback()
            #expect(!c.isInsideTransaction)
            #expect(try one(c, "SELECT count(*) FROM t") == .integer(0))

            try c.begin()
            _ = try c.execute("INSERT INTO t VALUES (2)", [], cached: false)
            try c.commit()
            #expect(!c.isInsideTransaction)
            #expect(try one(other, "SELECT a FROM t") == .integer(2))

            try c.begin(readOnly: true, repeatableRead: true)
            #expect(try one(c, "SELECT current_setting('transaction_isolation')") == .text("repeatable read"))
            #expect(try one(c, "SELECT current_setting('transaction_read_only')") == .text("on"))
            try c.commit()
            #expect(storeError { try c.commit() }?.message == "no transaction is open on this connection")
        }
    }

    @Test func commitAfterAFailedStatementReportsTheRollback() throws {
        try TestServer.withSchema { c in
            _ = try c.execute("CREATE TABLE t (a BIGINT PRIMARY KEY)", [], cached: false)
            try c.begin()
            _ = try c.execute("INSERT INTO t VALUES (1)", [], cached: false)
            _ = storeError { _ = try c.execute("INSERT INTO t VALUES (1)", [], cached: false) }
            let error = storeError { try c.commit() }
            #expect(error?.message == "the transaction was rolled back: a statement in it had failed")
            #expect(!c.isInsideTransaction)
            #expect(try one(c, "SELECT count(*) FROM t") == .integer(0))
        }
    }

    struct Planned: Error {}

    @Test func savepoints() throws {
        try TestServer.withSchema { c in
            _ = try c.execute("CREATE TABLE t (a BIGINT PRIMARY KEY)", [], cached: false)
            try c.begin()
            _ = try c.execute("INSERT INTO t VALUES (1)", [], cached: false)
            #expect(throws: Planned.self) {
                try c.inSavepoint {
                    _ = try c.execute("INSERT INTO t VALUES (2)", [], cached: false)
                    throw Planned()
                }
            }
            // A server error inside the savepoint leaves the transaction usable.
            let duplicate = storeError {
                try c.inSavepoint { _ = try c.execute("INSERT INTO t VALUES (1)", [], cached: false) }
            }
            #expect(duplicate?.kind == .uniqueViolation)
            // Nested: the inner one rolls back alone.
            let kept: Int = try c.inSavepoint {
                _ = try c.execute("INSERT INTO t VALUES (3)", [], cached: false)
                try? c.inSavepoint {
                    _ = try c.execute("INSERT INTO t VALUES (4)", [], cached: false)
                    throw Planned()
                }
                try c.inSavepoint { _ = try c.execute("INSERT INTO t VALUES (5)", [], cached: false) }
                return 3
            }
            #expect(kept == 3)
            try c.commit()
            #expect(try rows(c, "SELECT a FROM t ORDER BY a").map(\.values) == [[.integer(1)], [.integer(3)], [.integer(5)]])

            // Outside a transaction a savepoint is a transaction of its own.
            #expect(throws: Planned.self) {
                try c.inSavepoint {
                    #expect(c.isInsideTransaction)
                    _ = try c.execute("INSERT INTO t VALUES (6)", [], cached: false)
                    throw Planned()
                }
            }
            #expect(!c.isInsideTransaction)
            try c.inSavepoint { _ = try c.execute("INSERT INTO t VALUES (7)", [], cached: false) }
            #expect(!c.isInsideTransaction)
            #expect(try rows(c, "SELECT a FROM t ORDER BY a").map(\.values) == [[.integer(1)], [.integer(3)], [.integer(5)], [.integer(7)]])
        }
    }

    @Test func uniqueViolationKeepsTheValueOut() throws {
        let canary = "secret-canary-value"
        try TestServer.withSchema { c in
            _ = try c.execute("CREATE TABLE people (email TEXT CONSTRAINT people_email UNIQUE)", [], cached: false)
            _ = try c.execute("INSERT INTO people VALUES (?)", [.text(canary)], cached: false)
            let error = try #require(storeError { _ = try c.execute("INSERT INTO people VALUES (?)", [.text(canary)], cached: false) })
            #expect(error.kind == .uniqueViolation)
            #expect(error.code == "23505")
            #expect(error.message == "duplicate key value violates unique constraint \"people_email\" (SQLSTATE 23505)")
            expectNoLeak(error.message, canary, "the message")
            expectNoLeak("\(error)", canary, "the description")
            expectNoLeak(String(reflecting: error), canary, "the debug description")
            expectNoLeak(error.localizedDescription, canary, "the localized description")
        }
    }

    @Test func dataExceptionsKeepTheValueOut() throws {
        let canary = "secret-canary-value"
        try TestServer.withSchema { c in
            let error = try #require(storeError { _ = try c.query("SELECT (?)::bigint", [.text(canary)], cached: false) })
            #expect(error.code == "22P02")
            #expect(error.message == "invalid input syntax for type bigint: \"…\" (SQLSTATE 22P02)")
            expectNoLeak(String(reflecting: error), canary, "the error")
        }
    }

    @Test func errorKinds() throws {
        try TestServer.withSchema { c in
            let missing = storeError { _ = try c.query("SELECT * FROM no_such_table", [], cached: false) }
            #expect(missing?.kind == .undefinedTable)
            #expect(missing?.code == "42P01")
            #expect(missing?.message == "relation \"no_such_table\" does not exist (SQLSTATE 42P01)")

            let syntax = storeError { _ = try c.execute("SELEKT 1", [], cached: false) }
            #expect(syntax?.kind == .other)
            #expect(syntax?.code == "42601")

            _ = try c.execute("CREATE TABLE t (a BIGINT PRIMARY KEY, b TEXT)", [], cached: false)
            _ = try c.execute("INSERT INTO t VALUES (1, 'x')", [], cached: false)
            try c.begin(readOnly: true)
            let readOnly = storeError { _ = try c.execute("INSERT INTO t VALUES (2, 'y')", [], cached: false) }
            #expect(readOnly?.kind == .readOnly)
            #expect(readOnly?.code == "25006")
            try c.rollback()

            // Two repeatable-read writers of one row: the later one must retry.
            let other = try PGConnection(settings: c.settings)
            defer { other.close() }
            try c.begin(repeatableRead: true)
            _ = try one(c, "SELECT b FROM t WHERE a = 1")
            _ = try other.execute("UPDATE t SET b = 'other' WHERE a = 1", [], cached: false)
            let conflict = storeError { _ = try c.execute("UPDATE t SET b = 'mine' WHERE a = 1", [], cached: false) }
            #expect(conflict?.kind == .serialization)
            #expect(conflict?.code == "40001")
            try c.rollback()
        }
    }

    @Test func schemaIsCheckedAgainOnConnect() throws {
        let settings = try TestServer.settings { $0.schema = "x\"; DROP SCHEMA public; --" }
        let error = storeError { _ = try PGConnection(settings: settings) }
        #expect(error?.kind == .invalidSettings)
    }

    @Test func droppedWithoutClose() throws {
        for _ in 0..<3 { _ = try PGConnection(settings: TestServer.settings()) }
    }

    @Test func closedConnection() throws {
        let c = try PGConnection(settings: TestServer.settings())
        c.close()
        #expect(c.isClosed)
        let error = storeError { _ = try c.execute("SELECT 1", [], cached: false) }
        #expect(error?.kind == .connection)
        #expect(error?.message.hasSuffix("is closed") == true)
        c.close()
    }

    @Test func serverSideTerminationIsAConnectionError() throws {
        let c = try PGConnection(settings: TestServer.settings())
        defer { c.close() }
        let admin = try PGConnection(settings: TestServer.settings())
        defer { admin.close() }
        let pid = try one(c, "SELECT pg_backend_pid()")
        _ = try admin.query("SELECT pg_terminate_backend(?::int)", [pid], cached: false)
        // The server closes the socket after telling the client why (57P01).
        let error = storeError {
            for _ in 0..<50 {
                _ = try c.execute("SELECT 1", [], cached: false)
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
        #expect(error?.kind == .connection, "\(String(describing: error))")
    }

    @Test func wrongPassword() throws {
        let wrong = "wrong-password-canary"
        let settings = try TestServer.settings { $0.password = wrong }
        let error = try #require(storeError { _ = try PGConnection(settings: settings) })
        #expect(error.kind == .connection)
        #expect(error.code == "28P01")
        #expect(error.message == "cannot connect to \(settings.redacted): password authentication failed for user \"\(settings.user)\"")
        expectNoLeak(String(reflecting: error), wrong, "the error")
        expectNoLeak(String(reflecting: error), TestServer.password, "the error")
    }

    @Test func noPassword() throws {
        let settings = try TestServer.settings { $0.password = nil }
        let error = try #require(storeError { _ = try PGConnection(settings: settings) })
        #expect(error.kind == .connection)
        #expect(error.message == "cannot connect to \(settings.redacted): the server asks for a password and none was given")
    }

    @Test func serverDown() throws {
        // Port 1: nothing listens there, and nobody unprivileged can start anything there.
        let settings = try TestServer.settings { $0.port = 1 }
        let error = try #require(storeError { _ = try PGConnection(settings: settings) })
        #expect(error.kind == .connection)
        #expect(error.message == "cannot connect to \(settings.redacted): connection refused")
        expectNoLeak(String(reflecting: error), TestServer.password, "the error")
    }

    @Test func unknownDatabase() throws {
        let settings = try TestServer.settings { $0.database = "no_such_database" }
        let error = try #require(storeError { _ = try PGConnection(settings: settings) })
        #expect(error.kind == .connection)
        #expect(error.message == "cannot connect to \(settings.redacted): database \"no_such_database\" does not exist")
    }

    @Test func tlsPreferFallsBackToPlainAndRequireRefuses() throws {
        let probe = try PGConnection(settings: TestServer.settings { $0.sslMode = .disable })
        defer { probe.close() }
        // A server started with PRIVACYKIT_PG_TLS=1: tlsWhenTheServerOffersIt covers it.
        guard try one(probe, "SHOW ssl") == .text("off") else { return }
        let prefer = try PGConnection(settings: TestServer.settings { $0.sslMode = .prefer })
        defer { prefer.close() }
        #expect(try one(prefer, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == .integer(0))
        let disable = try PGConnection(settings: TestServer.settings { $0.sslMode = .disable })
        disable.close()
        let settings = try TestServer.settings { $0.sslMode = .require }
        let error = try #require(storeError { _ = try PGConnection(settings: settings) })
        #expect(error.kind == .connection)
        #expect(error.message == "cannot connect to \(settings.redacted): the server does not offer TLS (sslmode=require)")
    }

    static let tlsURL: String? = {
        let value = ProcessInfo.processInfo.environment["PRIVACYKIT_TEST_POSTGRES_TLS"] ?? ""
        return value.isEmpty ? nil : value
    }()

    @Test(.enabled(if: tlsURL != nil, "PRIVACYKIT_TEST_POSTGRES_TLS is not set (a server from PRIVACYKIT_PG_TLS=1 scripts/postgres start DIR)"))
    func tlsWhenTheServerOffersIt() throws {
        for mode in [PostgresSettings.SSLMode.prefer, .require] {
            var settings = try PostgresSettings(url: try #require(Self.tlsURL), environment: [:])
            settings.sslMode = mode
            let c = try PGConnection(settings: settings)
            defer { c.close() }
            #expect(try one(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == .integer(1), "\(mode)")
        }
        var plain = try PostgresSettings(url: try #require(Self.tlsURL), environment: [:])
        plain.sslMode = .disable
        let c = try PGConnection(settings: plain)
        defer { c.close() }
        #expect(try one(c, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == .integer(0))
    }

    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/tmp/privacykit-pg/password"), "no scripts/postgres server in /tmp/privacykit-pg"))
    func unixSocket() throws {
        let tcp = try TestServer.settings()
        let settings = try TestServer.settings { $0.host = "/tmp/privacykit-pg" }
        guard FileManager.default.fileExists(atPath: settings.unixSocketPath) else { return }
        let c = try PGConnection(settings: settings)
        defer { c.close() }
        #expect(try one(c, "SELECT inet_server_addr() IS NULL") == .integer(1))
        #expect(settings.redacted == "postgres://\(tcp.user)@%2Ftmp%2Fprivacykit-pg:\(tcp.port)/\(tcp.database)")
    }

    @Test func streamsLargeResultsWithStatementsInBetween() throws {
        try TestServer.withSchema { c in
            // More rows than postgres-nio buffers before it stops reading the socket.
            let source = try c.query("SELECT g, repeat('x', 100) FROM generate_series(1, ?) AS g", [.integer(40_000)], cached: false)
            var count: Int64 = 0
            var inOrder = true
            while let row = try source.next() {
                count += 1
                inOrder = inOrder && row.values[0] == .integer(count)
                if count % 10_000 == 1 {
                    #expect(try one(c, "SELECT ?::int8 * 2", [.integer(count)]) == .integer(count * 2))
                }
            }
            #expect(inOrder)
            #expect(count == 40_000)
            #expect(try source.next() == nil)
        }
    }

    @Test func abandonedStreamsLeaveTheConnectionUsable() throws {
        // postgres-nio reads and drops the rest of an abandoned result: keep them modest.
        try TestServer.withSchema { c in
            for _ in 0..<3 {
                let source = try c.query("SELECT g FROM generate_series(1, 30000) AS g", [], cached: false)
                #expect(try source.next()?.values == [.integer(1)])
            }
            #expect(try one(c, "SELECT 'after'") == .text("after"))
            try c.begin()
            _ = try c.query("SELECT g FROM generate_series(1, 30000) AS g", [], cached: false).next()
            try c.commit()
            #expect(try one(c, "SELECT 2") == .integer(2))
        }
    }

    @Test func errorsInTheMiddleOfAStream() throws {
        try TestServer.withSchema { c in
            // The error comes after 4999 rows; when they all arrive in one read, postgres-nio
            // fails the query itself instead of the stream. Either way it surfaces, once.
            let sql = "SELECT 10000 / (5000 - g) FROM generate_series(1, 6000) AS g"
            var read = 0
            let error = storeError {
                let source = try c.query(sql, [], cached: false)
                while try source.next() != nil { read += 1 }
            }
            #expect(error?.code == "22012")
            #expect(read < 5000)
            #expect(try one(c, "SELECT 3") == .integer(3))

            // Met while reading ahead for another statement: the rows come first, then the error.
            let bigger = "SELECT 100000 / (50000 - g) FROM generate_series(1, 60000) AS g"
            do {
                let second = try c.query(bigger, [], cached: false)
                #expect(try second.next() != nil)
                #expect(try one(c, "SELECT 4") == .integer(4))
                var more = 0
                let later = storeError { while try second.next() != nil { more += 1 } }
                #expect(later?.code == "22012")
                #expect(more < 50000)
            } catch let error as PostgresStoreError {
                #expect(error.code == "22012")
            }
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func blockingCallsFromEveryCooperativeThread() async throws {
        // Each child task blocks a cooperative thread in a synchronous query; the query's own
        // async work must not need one of those threads.
        let settings = try TestServer.settings()
        try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<(ProcessInfo.processInfo.activeProcessorCount * 3) {
                group.addTask {
                    let c = try PGConnection(settings: settings)
                    defer { c.close() }
                    let source = try c.query("SELECT g FROM generate_series(1, 2000) AS g", [], cached: false)
                    var count = 0
                    while try source.next() != nil { count += 1 }
                    return count
                }
            }
            for try await count in group { #expect(count == 2000) }
        }
    }

    @Test func manyRows() throws {
        try TestServer.withSchema { c in
            let all = try rows(c, "SELECT g, 'row ' || g FROM generate_series(1, 50000) AS g")
            #expect(all.count == 50000)
            #expect(all.last?.values == [.integer(50000), .text("row 50000")])
            // A query run while another's rows are still being read.
            let source = try c.query("SELECT g FROM generate_series(1, 3) AS g", [], cached: false)
            var seen: [StoreValue] = []
            while let row = try source.next() {
                seen.append(row.values[0])
                _ = try one(c, "SELECT 1")
            }
            #expect(seen == [.integer(1), .integer(2), .integer(3)])
        }
    }
}
