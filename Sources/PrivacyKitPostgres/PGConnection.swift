import Foundation
public import PrivacyKit
import Dispatch
public import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// The store's capability code is synchronous and runs on ordinary threads, so this is a
// blocking face over postgres-nio: every call waits on the driver's future. Never call it
// on a SwiftNIO event loop (NIO traps waiting there).

/// One blocking connection to PostgreSQL, speaking the store's SQL (`?` placeholders).
///
/// Not thread-safe: one thread uses it at a time, as with a GRDB `Database`.
public final class PGConnection: StoreConnection {
    public let settings: PostgresSettings
    private let connection: PostgresConnection
    private let logger: Logger
    private let watch: CloseWatch
    public private(set) var isInsideTransaction = false
    private var savepointDepth = 0
    private var closed = false

    public var dialect: StoreDialect { .postgres }

    /// Connects, authenticates, and points `search_path` at the settings' schema.
    ///
    /// - Parameter logger: where postgres-nio's debug and trace messages go; by default
    ///   nowhere, since nothing of it belongs on the user's terminal.
    /// - Throws: ``PostgresStoreError`` of kind `.connection`, whose message names the URL
    ///   without its password and says why (`connection refused`, the server's
    ///   authentication message, …).
    public init(settings: PostgresSettings, logger: Logger = PGConnection.silentLogger) throws {
        // The fields are mutable, so checked again here: the schema is spliced into SQL.
        guard PostgresSettings.isValidSchemaName(settings.schema) else {
            throw PostgresStoreError(.invalidSettings, "invalid PostgreSQL settings \(settings.redacted): schema '\(settings.schema)' must be a lower-case name: a letter or _, then letters, digits or _, at most 63 in all")
        }
        self.settings = settings
        self.logger = logger
        var configuration: PostgresConnection.Configuration
        if settings.usesUnixSocket {
            configuration = .init(
                unixSocketPath: settings.unixSocketPath, username: settings.user, password: settings.password,
                database: settings.database)
        } else {
            configuration = .init(
                host: settings.host, port: settings.port, username: settings.user, password: settings.password,
                database: settings.database, tls: try Self.tls(settings))
        }
        configuration.options.connectTimeout = .seconds(Int64(settings.connectTimeout))
        configuration.options.additionalStartupParameters = [("application_name", settings.applicationName)]
        do {
            connection = try PostgresConnection.connect(
                on: MultiThreadedEventLoopGroup.singleton.any(), configuration: configuration,
                id: Self.nextID.add(1, ordering: .relaxed).newValue, logger: logger
            ).wait()
        } catch {
            throw Self.connectError(error, settings)
        }
        let watch = CloseWatch()
        self.watch = watch
        connection.closeFuture.whenComplete { _ in watch.connectionClosed() }
        do {
            // Validated as [a-z_][a-z0-9_]*: quoting is only for reserved words.
            _ = try run("SET search_path TO \"\(settings.schema)\"", [])
        } catch {
            try? connection.close().wait()
            throw error
        }
    }

    public convenience init(url: String, logger: Logger = PGConnection.silentLogger) throws {
        try self.init(settings: PostgresSettings(url: url), logger: logger)
    }

    /// The logger a caller that passes none gets: it drops everything. A library takes its
    /// caller's logger (swift-log's AcceptingLoggers practice) and builds none that writes.
    public static let silentLogger = Logger(label: "privacykit.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    deinit {
        // postgres-nio asserts (in debug builds) that a connection is closed before it goes:
        // close it here, and wait, for a PGConnection dropped without close().
        if !closed { try? connection.close().wait() }
    }

    private static let nextID = Atomic<Int>(0)

    // Built once: making a context is costly, and `prefer`/`require` verify nothing (as
    // libpq's modes of those names), so one context serves every host.
    private static let unverifiedTLS: Result<NIOSSLContext, any Error> = Result {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        return try NIOSSLContext(configuration: tls)
    }

    private static func tls(_ settings: PostgresSettings) throws -> PostgresConnection.Configuration.TLS {
        switch settings.sslMode {
        case .disable: return .disable
        // libpq's rule: `require` with a CA file named checks the chain, as verify-ca does.
        case .require where settings.sslRootCert != nil, .verifyCA, .verifyFull:
            return .require(try VerifiedTLS.context(settings))
        case .prefer, .require:
            let context: NIOSSLContext
            do { context = try unverifiedTLS.get() } catch {
                throw PostgresStoreError(.connection, "cannot connect to \(settings.redacted): cannot set up TLS (\(describe(error)))")
            }
            return settings.sslMode == .require ? .require(context) : .prefer(context)
        }
    }

    public func close() {
        guard !closed else { return }
        closed = true
        isInsideTransaction = false
        try? connection.close().wait()
    }

    public var isClosed: Bool { closed || connection.isClosed }

    // MARK: - Statements

    public func execute(_ sql: String, _ arguments: [StoreValue], cached: Bool = false) throws -> Int {
        // `cached` is not used: postgres-nio prepares statements only through a static type per
        // statement, and an unnamed statement's Parse/Bind/Execute travel in one round trip.
        let statements = PostgresSQL.statements(sql)
        try Self.checkArgumentCount(statements, arguments)
        var changes = 0
        var offset = 0
        // Several statements in one text (as GRDB runs them) go one by one: the extended
        // protocol takes one statement per Parse.
        for statement in statements {
            let slice = Array(arguments[offset..<offset + statement.parameterCount])
            offset += statement.parameterCount
            changes = Self.changes(try run(statement.sql, slice).metadata)
        }
        return changes
    }

    /// Rows written, as SQLite's changes() counts them: a SELECT run as a statement changes
    /// nothing, whatever its tag says.
    static func changes(_ metadata: PostgresQueryMetadata) -> Int {
        let words = metadata.command.split(separator: " ")
        switch words.first {
        case "INSERT", "UPDATE", "DELETE": return metadata.rows ?? 0
        // postgres-nio reads no count from tags it does not know, MERGE's among them.
        case "MERGE": return words.count == 2 ? Int(words[1]) ?? 0 : 0
        default: return 0
        }
    }

    /// Runs a query and streams its rows, a batch at a time, so a scan of a large table
    /// holds one batch in memory, not the table.
    public func query(_ sql: String, _ arguments: [StoreValue], cached: Bool = false, streaming: Bool = true) throws -> any StoreRowSource {
        guard streaming else {
            // One wait on the driver's future, not the async stream's several thread hops:
            // the small results of fetchOne and fetchAll (measured on loopback: a find, seven
            // statements, went from 4.1 ms to 2.6 ms).
            return PGBufferedRows(try fetchAll(sql, arguments))
        }
        let statement = try Self.single(sql, arguments)
        try prepareForStatement()
        let stream = try PGRowStream(
            connection: connection, query: PostgresQuery(unsafeSQL: statement.sql, binds: Self.bindings(arguments)),
            logger: logger, settings: settings, watch: watch)
        if !stream.isFinished { openStream = stream }
        return stream
    }

    /// Every row of a query, decoded.
    public func fetchAll(_ sql: String, _ arguments: [StoreValue] = []) throws -> [StoreRow] {
        let statement = try Self.single(sql, arguments)
        let result = try run(statement.sql, arguments)
        var names: [String]?
        return result.rows.map { row in
            let columns = names ?? row.map(\.columnName)
            names = columns
            return StoreRow(columns: columns, values: row.map(PostgresValueDecoder.decode))
        }
    }

    private static func single(_ sql: String, _ arguments: [StoreValue]) throws -> PostgresSQL.Statement {
        let statements = PostgresSQL.statements(sql)
        guard statements.count == 1, let statement = statements.first else {
            throw PostgresStoreError(.other, "a query must be one statement (found \(statements.count))")
        }
        try checkArgumentCount(statements, arguments)
        return statement
    }

    private static func checkArgumentCount(_ statements: [PostgresSQL.Statement], _ arguments: [StoreValue]) throws {
        let expected = statements.reduce(0) { $0 + $1.parameterCount }
        guard expected == arguments.count else {
            throw PostgresStoreError(.other, "the statement has \(expected) placeholders but \(arguments.count) arguments were given")
        }
    }

    /// Runs one statement already in PostgreSQL's `$n` form.
    private func run(_ sql: String, _ arguments: [StoreValue]) throws -> PostgresQueryResult {
        try prepareForStatement()
        let query = PostgresQuery(unsafeSQL: sql, binds: Self.bindings(arguments))
        let connection = connection
        let logger = logger
        do {
            return try watch.wait { (waiter: Waiter<PostgresQueryResult>) in
                let future: EventLoopFuture<PostgresQueryResult> = connection.query(query, logger: logger)
                future.whenComplete { waiter.complete($0) }
            }
        } catch {
            throw Self.statementError(error, settings)
        }
    }

    /// The query whose rows are still arriving, if any.
    private weak var openStream: PGRowStream?

    private func prepareForStatement() throws {
        guard !closed else { throw PostgresStoreError(.connection, "the connection to \(settings.redacted) is closed") }
        // The server answers one statement at a time, and a stream waiting for its reader
        // stops reading the socket: a statement run while a cursor is open (as GRDB allows)
        // would wait forever. So the open stream's remaining rows are read into memory first.
        if let stream = openStream {
            openStream = nil
            stream.readToEnd()
        }
    }

    private static func bindings(_ arguments: [StoreValue]) -> PostgresBindings {
        var bindings = PostgresBindings(capacity: arguments.count)
        for argument in arguments {
            switch argument {
            // Untyped: the server infers the type from where the NULL goes, so one NULL fits
            // a text, bytea or bigint column alike.
            case .null: bindings.appendNull()
            case .integer(let value): bindings.append(value)
            case .real(let value): bindings.append(value)
            case .text(let value): bindings.append(value)
            case .blob(let value): bindings.append(ByteBuffer(bytes: value))
            }
        }
        return bindings
    }

    // MARK: - Transactions

    /// Opens a transaction. Read committed unless `repeatableRead` (one snapshot for the
    /// whole transaction, what a consistent read of several tables needs).
    public func begin(readOnly: Bool = false, repeatableRead: Bool = false) throws {
        guard !isInsideTransaction else { throw PostgresStoreError(.other, "a transaction is already open on this connection") }
        var sql = "BEGIN ISOLATION LEVEL " + (repeatableRead ? "REPEATABLE READ" : "READ COMMITTED")
        if readOnly { sql += " READ ONLY" }
        _ = try run(sql, [])
        isInsideTransaction = true
        savepointDepth = 0
    }

    public func commit() throws {
        guard isInsideTransaction else { throw PostgresStoreError(.other, "no transaction is open on this connection") }
        defer { isInsideTransaction = false }
        // COMMIT of a transaction that an error aborted succeeds with the tag ROLLBACK:
        // reporting that as success would lose the transaction's writes silently.
        let result = try run("COMMIT", [])
        if result.metadata.command == "ROLLBACK" {
            throw PostgresStoreError(.other, "the transaction was rolled back: a statement in it had failed")
        }
    }

    public func rollback() throws {
        guard isInsideTransaction else { return }
        defer { isInsideTransaction = false }
        _ = try run("ROLLBACK", [])
    }

    /// Runs `body` in a savepoint, rolled back to if `body` throws. Outside a transaction
    /// it is a transaction of its own (as GRDB's `inSavepoint`).
    public func inSavepoint<T>(_ body: () throws -> T) throws -> T {
        guard isInsideTransaction else {
            try begin()
            do {
                let value = try body()
                try commit()
                return value
            } catch {
                try? rollback()
                throw error
            }
        }
        savepointDepth += 1
        defer { savepointDepth -= 1 }
        let name = "s\(savepointDepth)"
        _ = try run("SAVEPOINT \(name)", [])
        let value: T
        do {
            value = try body()
        } catch {
            // The body's error is the one to report; if the connection is gone as well, the
            // transaction fails at its end anyway.
            _ = try? run("ROLLBACK TO SAVEPOINT \(name)", [])
            _ = try? run("RELEASE SAVEPOINT \(name)", [])
            throw error
        }
        _ = try run("RELEASE SAVEPOINT \(name)", [])
        return value
    }
}
