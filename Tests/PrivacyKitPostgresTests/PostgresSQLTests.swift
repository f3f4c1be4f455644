import NIOCore
import PrivacyKit
@testable import PrivacyKitPostgres
import Testing

@Suite struct PostgresSQLTests {
    private func numbered(_ sql: String) -> String { PostgresSQL.numbered(sql) }

    @Test func numbersPlaceholdersInOrder() {
        #expect(numbered("SELECT ?") == "SELECT $1")
        #expect(numbered("INSERT INTO t (a, b, c) VALUES (?, ?,?)") == "INSERT INTO t (a, b, c) VALUES ($1, $2,$3)")
        #expect(PostgresSQL.statements("SELECT ?, ?").first?.parameterCount == 2)
        #expect(PostgresSQL.statements("SELECT 1").first?.parameterCount == 0)
    }

    @Test func skipsLiteralsIdentifiersAndComments() {
        #expect(numbered("SELECT '?', \"?\", ? -- why?\n, ?") == "SELECT '?', \"?\", $1 -- why?\n, $2")
        #expect(numbered("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', $1")
        #expect(numbered("SELECT \"a \"\"?\"\" b\", ?") == "SELECT \"a \"\"?\"\" b\", $1")
        #expect(numbered("SELECT /* ? /* nested ? */ still ? */ ?") == "SELECT /* ? /* nested ? */ still ? */ $1")
        #expect(numbered("SELECT ? -- last ?") == "SELECT $1 -- last ?")
        #expect(numbered("SELECT '' || ?") == "SELECT '' || $1")
        #expect(numbered("SELECT 'é?😀', ?") == "SELECT 'é?😀', $1")
    }

    @Test func backslashEscapesOnlyInEStrings() {
        // In a plain literal a backslash is a character; the quote after it closes the literal.
        #expect(numbered(#"SELECT '\', ?"#) == #"SELECT '\', $1"#)
        #expect(numbered(#"SELECT E'\'?', ?"#) == #"SELECT E'\'?', $1"#)
        #expect(numbered(#"SELECT e'\\', ?"#) == #"SELECT e'\\', $1"#)
        // "type'x'" is not an E-string: the e ends an identifier.
        #expect(numbered(#"SELECT type'\', ?"#) == #"SELECT type'\', $1"#)
    }

    @Test func dollarQuotes() {
        #expect(numbered("SELECT $$ ? $$, ?") == "SELECT $$ ? $$, $1")
        #expect(numbered("SELECT $fn$ it's ? $x$ $fn$, ?") == "SELECT $fn$ it's ? $x$ $fn$, $1")
        // Numbered parameters and identifiers with $ are not quotes.
        #expect(numbered("SELECT $1, ?") == "SELECT $1, $1")
        #expect(numbered("SELECT a$b, ?") == "SELECT a$b, $1")
    }

    @Test func unterminatedTextIsKept() {
        #expect(numbered("SELECT 'abc ?") == "SELECT 'abc ?")
        #expect(numbered("SELECT \"abc ?") == "SELECT \"abc ?")
        #expect(numbered("SELECT /* ?") == "SELECT /* ?")
        #expect(numbered("SELECT $q$ ?") == "SELECT $q$ ?")
    }

    @Test func splitsStatements() {
        let statements = PostgresSQL.statements("""
            INSERT INTO t VALUES (?, ';');
            -- a comment; with a semicolon
            UPDATE t SET a = ? WHERE b = ?;
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
            -- trailing comment only
            """)
        #expect(statements.map(\.parameterCount) == [1, 2, 0])
        #expect(statements[0].sql == "INSERT INTO t VALUES ($1, ';')")
        #expect(statements[1].sql == "-- a comment; with a semicolon\nUPDATE t SET a = $1 WHERE b = $2")
        #expect(statements[2].sql == "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$")
        #expect(PostgresSQL.statements("  ;; -- nothing\n /* at all */ ").isEmpty)
    }

    @Test func numericBinaryForm() {
        func decode(_ weight: Int16, _ sign: UInt16, _ scale: Int16, _ digits: [Int16]) -> StoreValue {
            var buffer = ByteBuffer()
            buffer.writeInteger(Int16(digits.count))
            buffer.writeInteger(weight)
            buffer.writeInteger(sign)
            buffer.writeInteger(scale)
            for digit in digits { buffer.writeInteger(digit) }
            return PostgresValueDecoder.numeric(&buffer)
        }
        #expect(decode(0, 0, 0, []) == .integer(0))
        #expect(decode(0, 0, 0, [12]) == .integer(12))
        #expect(decode(1, 0, 0, [1, 2345]) == .integer(12345))
        #expect(decode(2, 0, 0, [7]) == .integer(700_000_000))
        #expect(decode(0, 0x4000, 0, [5]) == .integer(-5))
        #expect(decode(0, 0, 1, [12, 5000]) == .real(12.5))
        #expect(decode(-1, 0, 3, [10]) == .real(0.001))
        #expect(decode(0, 0, 2, [3, 0]) == .integer(3))
        // 9223372036854775807 is Int64.max; one more goes to a Double.
        #expect(decode(4, 0, 0, [922, 3372, 368, 5477, 5807]) == .integer(Int64.max))
        #expect(decode(4, 0x4000, 0, [922, 3372, 368, 5477, 5808]) == .integer(Int64.min))
        #expect(decode(4, 0, 0, [922, 3372, 368, 5477, 5808]) == .real(9_223_372_036_854_775_808))
        #expect(decode(7, 0, 0, [1]) == .real(1e28))
        guard case .real(let nan) = decode(0, 0xC000, 0, []) else { Issue.record("NaN"); return }
        #expect(nan.isNaN)
        #expect(decode(0, 0xD000, 0, []) == .real(.infinity))
    }

    @Test func timestamps() {
        #expect(PostgresValueDecoder.timestamp(0, utc: true) == "2000-01-01T00:00:00Z")
        #expect(PostgresValueDecoder.timestamp(-1, utc: true) == "1999-12-31T23:59:59.999999Z")
        #expect(PostgresValueDecoder.timestamp(767_880_000_500_000, utc: true) == "2024-05-01T12:00:00.5Z")
        #expect(PostgresValueDecoder.timestamp(767_880_000_000_000, utc: false) == "2024-05-01T12:00:00")
        #expect(PostgresValueDecoder.timestamp(Int64.max, utc: true) == "infinity")
        #expect(PostgresValueDecoder.civil(0) == (1970, 1, 1))
        #expect(PostgresValueDecoder.civil(11016) == (2000, 2, 29))
        #expect(PostgresValueDecoder.civil(-1) == (1969, 12, 31))
    }

    @Test func sqlStateKinds() {
        #expect(PostgresStoreError.kind(sqlState: "23505") == .uniqueViolation)
        #expect(PostgresStoreError.kind(sqlState: "40001") == .serialization)
        #expect(PostgresStoreError.kind(sqlState: "40P01") == .serialization)
        #expect(PostgresStoreError.kind(sqlState: "53100") == .diskFull)
        #expect(PostgresStoreError.kind(sqlState: "25006") == .readOnly)
        #expect(PostgresStoreError.kind(sqlState: "42P01") == .undefinedTable)
        #expect(PostgresStoreError.kind(sqlState: "28P01") == .connection)
        #expect(PostgresStoreError.kind(sqlState: "08006") == .connection)
        #expect(PostgresStoreError.kind(sqlState: "23514") == .other)
        #expect(PostgresStoreError.kind(sqlState: "42601") == .other)
    }

    @Test func dataExceptionMessagesHideQuotedValues() {
        #expect(PGConnection.serverMessage("invalid input syntax for type bigint: \"secret\"", sqlState: "22P02")
            == "invalid input syntax for type bigint: \"…\"")
        #expect(PGConnection.serverMessage("value \"123456789012\" is out of range for type integer", sqlState: "22003")
            == "value \"…\" is out of range for type integer")
        // Other classes name identifiers in quotes, which stay.
        #expect(PGConnection.serverMessage("duplicate key value violates unique constraint \"t_pkey\"", sqlState: "23505")
            == "duplicate key value violates unique constraint \"t_pkey\"")
    }
}
