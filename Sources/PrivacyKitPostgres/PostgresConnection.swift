public import Foundation
public import PrivacyKit
import Dispatch
import Logging
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

/// An error from the PostgreSQL store. ``message`` holds the server's message text but
/// never a bound argument value, a row value (PostgreSQL's DETAIL field, which repeats
/// key values, is left out) or the password.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible, LocalizedError {
    public enum Kind: Sendable, Equatable {
        /// The URL or settings are malformed.
        case invalidSettings
        /// Cannot connect, authentication failed, TLS required but not offered, or the
        /// connection was lost.
        case connection
        /// SQLSTATE 23505.
        case uniqueViolation
        /// SQLSTATE 40001 (serialization failure) or 40P01 (deadlock): retrying the
        /// transaction may succeed.
        case serialization
        /// SQLSTATE 53100.
        case diskFull
        /// SQLSTATE 25006: a write in a read-only transaction (or on a standby).
        case readOnly
        /// SQLSTATE 42P01.
        case undefinedTable
        case other
    }

    public let kind: Kind
    /// The SQLSTATE, when the server sent one.
    public let code: String?
    public let message: String

    public init(_ kind: Kind, _ message: String, code: String? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }
    public var errorDescription: String? { message }

    static func kind(sqlState: String) -> Kind {
        switch sqlState {
        case "23505": .uniqueViolation
        case "40001", "40P01": .serialization
        case "53100": .diskFull
        case "25006": .readOnly
        case "42P01": .undefinedTable
        // Connection exceptions, authentication, the server shutting down or not yet up.
        case "28000", "28P01", "3D000", "57P01", "57P02", "57P03": .connection
        case let state where state.hasPrefix("08"): .connection
        default: .other
        }
    }
}

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
    /// - Throws: ``PostgresStoreError`` of kind `.connection`, whose message names the URL
    ///   without its password and says why (`connection refused`, the server's
    ///   authentication message, …).
    public init(settings: PostgresSettings) throws {
        // The fields are mutable, so checked again here: the schema is spliced into SQL.
        guard PostgresSettings.isValidSchemaName(settings.schema) else {
            throw PostgresStoreError(.invalidSettings, "invalid PostgreSQL settings \(settings.redacted): schema '\(settings.schema)' must be a lower-case name: a letter or _, then letters, digits or _, at most 63 in all")
        }
        self.settings = settings
        // postgres-nio logs at debug and trace; nothing of it belongs on the user's terminal.
        let logger = Logger(label: "privacykit.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
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

    public convenience init(url: String) throws {
        try self.init(settings: PostgresSettings(url: url))
    }

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

    // MARK: - Errors

    static func statementError(_ error: any Error, _ settings: PostgresSettings) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        if error is ConnectionClosed {
            return PostgresStoreError(.connection, "lost the connection to \(settings.redacted): the connection was closed")
        }
        guard let psql = error as? PSQLError else {
            return PostgresStoreError(.other, "PostgreSQL at \(settings.redacted): \(describe(error))")
        }
        if psql.code == .server, let info = psql.serverInfo {
            let state = info[.sqlState]
            // Only the message: DETAIL repeats row values ("Key (email)=(…) already exists").
            let text = serverMessage(info[.message] ?? "error", sqlState: state)
            return PostgresStoreError(PostgresStoreError.kind(sqlState: state ?? ""), state.map { "\(text) (SQLSTATE \($0))" } ?? text, code: state)
        }
        switch psql.code {
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .connectionError:
            return PostgresStoreError(.connection, "lost the connection to \(settings.redacted): \(describe(psql))")
        default:
            return PostgresStoreError(.other, "PostgreSQL at \(settings.redacted): \(describe(psql))")
        }
    }

    /// The server's message, with the quoted values of data exceptions (class 22: `invalid
    /// input syntax for type bigint: "…"`) hidden: there the quotes hold an argument's value,
    /// elsewhere they hold names.
    static func serverMessage(_ message: String, sqlState: String?) -> String {
        guard sqlState?.hasPrefix("22") == true, let first = message.firstIndex(of: "\""),
              let last = message.lastIndex(of: "\""), first < last
        else { return message }
        // First to last quote: a value may itself hold quotes.
        return message[..<first] + "\"…\"" + message[message.index(after: last)...]
    }

    static func connectError(_ error: any Error, _ settings: PostgresSettings) -> PostgresStoreError {
        let prefix = "cannot connect to \(settings.redacted): "
        if let psql = error as? PSQLError, psql.code == .server, let info = psql.serverInfo {
            let state = info[.sqlState]
            return PostgresStoreError(.connection, prefix + (info[.message] ?? "refused by the server"), code: state)
        }
        return PostgresStoreError(.connection, prefix + describe(error))
    }

    /// Why a connection or statement failed, in words, from errors whose own descriptions
    /// are type dumps. Nothing here can hold a bound value or the password: server messages
    /// are handled by the callers, and the rest are transport errors.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let psql as PSQLError:
            switch psql.code {
            case .sslUnsupported: return "the server does not offer TLS (sslmode=require)"
            case .authMechanismRequiresPassword: return "the server asks for a password and none was given"
            case .unsupportedAuthMechanism: return "the server asks for an authentication method this client does not support"
            case .saslError: return "SCRAM authentication failed"
            case .serverClosedConnection, .uncleanShutdown: return "the server closed the connection"
            case .clientClosedConnection: return "the connection was closed"
            case .queryCancelled: return "the statement was cancelled"
            case .tooManyParameters: return "too many parameters"
            case .connectionError:
                return psql.underlying.map(describe) ?? "connection error"
            case .server:
                return psql.serverInfo?[.message] ?? "server error"
            default:
                return psql.code.description
            }
        case let nio as NIOConnectionError:
            let failures = nio.connectionErrors.map { describe($0.error) }
            if let first = failures.first, failures.allSatisfy({ $0 == first }) { return first }
            if failures.isEmpty, nio.dnsAAAAError != nil || nio.dnsAError != nil { return "cannot resolve \(nio.host)" }
            return failures.isEmpty ? "cannot connect to \(nio.host)" : failures.joined(separator: "; ")
        case let io as IOError:
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ENOENT: return "no such socket"
            case ETIMEDOUT: return "timed out"
            case EHOSTUNREACH: return "host unreachable"
            case ENETUNREACH: return "network unreachable"
            case EACCES: return "permission denied"
            default: return String(cString: strerror(io.errnoCode)).lowercased()
            }
        case let channel as ChannelError:
            if case .connectTimeout = channel { return "timed out" }
            return "\(channel)"
        case is NIOSSLError, is BoringSSLError:
            return "TLS failed (\(error))"
        case is SocketAddressError:
            return "cannot resolve the host (\(error))"
        default:
            // The type, not a description: a decoding error's description carries the cell.
            return "\(type(of: error))"
        }
    }
}

/// A result fetched whole.
final class PGBufferedRows: StoreRowSource {
    private var rows: IndexingIterator<[StoreRow]>

    init(_ rows: [StoreRow]) { self.rows = rows.makeIterator() }

    func next() throws -> StoreRow? { rows.next() }
}

/// A query's rows as they arrive: postgres-nio's async row sequence (which stops reading
/// the socket while its buffer is full), read a batch at a time by blocking calls.
final class PGRowStream: StoreRowSource {
    /// Rows per blocking call: large enough that the hop to the async side is cheap per row,
    /// small enough to keep memory flat.
    static let batchSize = 256

    private final class Cursor: @unchecked Sendable {
        // Used by one async task at a time: each blocking call waits for its task to end.
        var iterator: PostgresRowSequence.AsyncIterator?
    }

    private let cursor = Cursor()
    private let settings: PostgresSettings
    private let watch: CloseWatch
    private var rows: [PostgresRow] = []
    private var index = 0
    private var columns: [String]?
    private(set) var isFinished = false
    /// An error met while reading ahead for another statement, thrown once the rows read
    /// before it are handed out.
    private var pendingError: PostgresStoreError?

    init(connection: PostgresConnection, query: PostgresQuery, logger: Logger, settings: PostgresSettings, watch: CloseWatch) throws {
        self.settings = settings
        self.watch = watch
        let cursor = self.cursor
        // One hop starts the query and reads the first batch: a small result costs one wait.
        let batch: (rows: [PostgresRow], finished: Bool)
        do {
            batch = try watch.blockingWait {
                let sequence: PostgresRowSequence = try await connection.query(query, logger: logger)
                cursor.iterator = sequence.makeAsyncIterator()
                return try await Self.pull(cursor, Self.batchSize)
            }
        } catch {
            throw PGConnection.statementError(error, settings)
        }
        rows = batch.rows
        isFinished = batch.finished
    }

    deinit {
        // Dropping an unfinished iterator cancels the stream: postgres-nio then discards the
        // remaining rows as they arrive and the connection carries on.
        cursor.iterator = nil
    }

    private static func pull(_ cursor: Cursor, _ limit: Int) async throws -> (rows: [PostgresRow], finished: Bool) {
        var rows: [PostgresRow] = []
        while rows.count < limit {
            guard let row = try await cursor.iterator?.next() else {
                cursor.iterator = nil
                return (rows, true)
            }
            rows.append(row)
        }
        return (rows, false)
    }

    func next() throws -> StoreRow? {
        if index == rows.count {
            rows = []
            index = 0
            if let error = pendingError {
                pendingError = nil
                throw error
            }
            if isFinished { return nil }
            try fetch(Self.batchSize)
            if rows.isEmpty { return nil }
        }
        let row = rows[index]
        index += 1
        let names = columns ?? row.map(\.columnName)
        columns = names
        return StoreRow(columns: names, values: row.map(PostgresValueDecoder.decode))
    }

    private func fetch(_ limit: Int) throws {
        let cursor = self.cursor
        do {
            let batch = try watch.blockingWait { try await Self.pull(cursor, limit) }
            rows.append(contentsOf: batch.rows)
            isFinished = batch.finished
        } catch {
            isFinished = true
            cursor.iterator = nil
            throw PGConnection.statementError(error, settings)
        }
    }

    /// Reads every remaining row into memory, keeping an error for ``next()``.
    func readToEnd() {
        guard !isFinished else { return }
        do {
            try fetch(Int.max)
        } catch {
            pendingError = error as? PostgresStoreError ?? PGConnection.statementError(error, settings)
        }
    }
}

// MARK: - Blocking

/// One blocking call's result, completed once by whichever comes first: the work or the
/// connection closing.
final class Waiter<T: Sendable>: Sendable {
    private let result = Mutex<Result<T, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func complete(_ value: Result<T, any Error>) {
        let first = result.withLock { result in
            guard result == nil else { return false }
            result = value
            return true
        }
        if first { done.signal() }
    }

    func wait() throws -> T {
        done.wait()
        return try result.withLock { $0! }.get()
    }
}

/// The connection closed while a statement waited (or before it started).
struct ConnectionClosed: Error {}

/// Ends the blocking call in progress when the connection closes.
///
/// postgres-nio writes a statement to its channel without a promise for the write: when
/// the channel has closed already (the server ended the session), the statement is dropped
/// and its result never completes. So every wait also ends when the channel's close future
/// fires; one callback per connection serves every statement.
final class CloseWatch: Sendable {
    private struct State {
        var closed = false
        var current: (@Sendable () -> Void)?
    }

    private let state = Mutex(State())

    func connectionClosed() {
        let fail = state.withLock { state in
            state.closed = true
            defer { state.current = nil }
            return state.current
        }
        fail?()
    }

    /// Starts the work with `start` and blocks until it completes `waiter`, or fails when the
    /// connection is or becomes closed.
    func wait<T: Sendable>(_ start: (Waiter<T>) -> Void) throws -> T {
        let waiter = Waiter<T>()
        let alreadyClosed = state.withLock { state in
            state.current = { waiter.complete(.failure(ConnectionClosed())) }
            return state.closed
        }
        defer { state.withLock { $0.current = nil } }
        if alreadyClosed { throw ConnectionClosed() }
        start(waiter)
        return try waiter.wait()
    }

    /// Runs `operation` and blocks the calling thread until it finishes.
    ///
    /// The task runs on Dispatch threads, never on Swift's cooperative pool: the caller may be
    /// one of that pool's few threads (Swift Testing runs synchronous tests there), and with
    /// every pool thread blocked here, a task queued behind them would never run.
    func blockingWait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        try wait { (waiter: Waiter<T>) in
            Task(executorPreference: DispatchTaskExecutor.shared) {
                do {
                    waiter.complete(.success(try await operation()))
                } catch {
                    waiter.complete(.failure(error))
                }
            }
        }
    }
}

final class DispatchTaskExecutor: TaskExecutor {
    static let shared = DispatchTaskExecutor()
    private let queue = DispatchQueue(label: "privacykit.postgres.async", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

// MARK: - SQL text

/// The store writes SQL once with `?` placeholders; PostgreSQL numbers them (`$1`, `$2`, …)
/// and takes one statement per Parse message.
enum PostgresSQL {
    struct Statement: Equatable {
        var sql: String
        var parameterCount: Int
    }

    /// `sql` with each `?` placeholder numbered, per statement, with each statement's count.
    ///
    /// Left alone: string literals (`'…'` with `''`, and `E'…'` with backslash escapes),
    /// quoted identifiers, dollar-quoted bodies (`$$…$$`, `$tag$…$tag$`), `--` and `/* */`
    /// comments. Statements end at `;`; those holding only blanks and comments are dropped.
    /// (PostgreSQL's jsonb `?` operators cannot be written here: use `jsonb_exists`.)
    static func statements(_ sql: String) -> [Statement] {
        let bytes = Array(sql.utf8)
        var result: [Statement] = []
        var current: [UInt8] = []
        var parameters = 0
        var hasContent = false
        var i = 0
        let n = bytes.count

        func isIdentifierByte(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x24 || b >= 0x80
        }
        func finishStatement() {
            if hasContent, let text = String(bytes: current, encoding: .utf8) {
                result.append(Statement(sql: text.trimmingCharacters(in: .whitespacesAndNewlines), parameterCount: parameters))
            }
            current = []
            parameters = 0
            hasContent = false
        }
        /// Copies bytes[i..<end] and moves past them.
        func copy(to end: Int) {
            current.append(contentsOf: bytes[i..<min(end, n)])
            i = min(end, n)
        }

        while i < n {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "'"):
                hasContent = true
                let escapes = i > 0 && (bytes[i - 1] == UInt8(ascii: "E") || bytes[i - 1] == UInt8(ascii: "e"))
                    && (i < 2 || !isIdentifierByte(bytes[i - 2]))
                var j = i + 1
                while j < n {
                    if escapes && bytes[j] == UInt8(ascii: "\\") { j += 2; continue }
                    if bytes[j] == UInt8(ascii: "'") {
                        if j + 1 < n && bytes[j + 1] == UInt8(ascii: "'") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                copy(to: j + 1)
            case UInt8(ascii: "\""):
                hasContent = true
                var j = i + 1
                while j < n && bytes[j] != UInt8(ascii: "\"") { j += 1 }
                copy(to: j + 1)
            case UInt8(ascii: "-") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "-"):
                var j = i + 2
                while j < n && bytes[j] != UInt8(ascii: "\n") { j += 1 }
                copy(to: j)
            case UInt8(ascii: "/") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "*"):
                // PostgreSQL's block comments nest.
                var depth = 1
                var j = i + 2
                while j < n && depth > 0 {
                    if bytes[j] == UInt8(ascii: "/") && j + 1 < n && bytes[j + 1] == UInt8(ascii: "*") {
                        depth += 1; j += 2
                    } else if bytes[j] == UInt8(ascii: "*") && j + 1 < n && bytes[j + 1] == UInt8(ascii: "/") {
                        depth -= 1; j += 2
                    } else {
                        j += 1
                    }
                }
                copy(to: j)
            case UInt8(ascii: "$") where !(i > 0 && isIdentifierByte(bytes[i - 1])):
                hasContent = true
                // A dollar quote's tag is empty or an identifier not starting with a digit
                // ($1 is a parameter).
                var j = i + 1
                if j < n && !(bytes[j] >= 0x30 && bytes[j] <= 0x39) {
                    while j < n && bytes[j] != UInt8(ascii: "$") && isIdentifierByte(bytes[j]) { j += 1 }
                }
                if j < n && bytes[j] == UInt8(ascii: "$") {
                    let tag = Array(bytes[i...j])
                    var k = j + 1
                    var end = n
                    while k + tag.count <= n {
                        if bytes[k] == UInt8(ascii: "$") && Array(bytes[k..<k + tag.count]) == tag {
                            end = k + tag.count
                            break
                        }
                        k += 1
                    }
                    copy(to: end)
                } else {
                    copy(to: i + 1)
                }
            case UInt8(ascii: "?"):
                hasContent = true
                parameters += 1
                current.append(contentsOf: Array("$\(parameters)".utf8))
                i += 1
            case UInt8(ascii: ";"):
                i += 1
                finishStatement()
            default:
                if !(b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D) { hasContent = true }
                current.append(b)
                i += 1
            }
        }
        finishStatement()
        return result
    }

    /// The single-statement form: `sql` with its placeholders numbered.
    static func numbered(_ sql: String) -> String {
        statements(sql).map(\.sql).joined(separator: ";\n")
    }
}

// MARK: - Values

/// Turns a cell (postgres-nio asks for every result in binary format) into a store value.
enum PostgresValueDecoder {
    static func decode(_ cell: PostgresCell) -> StoreValue {
        guard var buffer = cell.bytes else { return .null }
        if cell.format == .text {
            return decodeText(buffer.readString(length: buffer.readableBytes) ?? "", cell.dataType)
        }
        switch cell.dataType {
        case .bool:
            return buffer.readInteger(as: UInt8.self).map { .integer($0 == 0 ? 0 : 1) } ?? .null
        case .int2:
            return buffer.readInteger(as: Int16.self).map { .integer(Int64($0)) } ?? .null
        case .int4:
            return buffer.readInteger(as: Int32.self).map { .integer(Int64($0)) } ?? .null
        case .int8:
            return buffer.readInteger(as: Int64.self).map { .integer($0) } ?? .null
        case .oid, .regproc:
            return buffer.readInteger(as: UInt32.self).map { .integer(Int64($0)) } ?? .null
        case .float4:
            return buffer.readInteger(as: UInt32.self).map { .real(Double(Float(bitPattern: $0))) } ?? .null
        case .float8:
            return buffer.readInteger(as: UInt64.self).map { .real(Double(bitPattern: $0)) } ?? .null
        case .numeric:
            return numeric(&buffer)
        case .bytea:
            return .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        case .jsonb:
            // A version byte (1), then the JSON text.
            _ = buffer.readInteger(as: UInt8.self)
            return .text(buffer.readString(length: buffer.readableBytes) ?? "")
        case .timestamptz, .timestamp:
            guard let micros = buffer.readInteger(as: Int64.self) else { return .null }
            return .text(timestamp(micros, utc: cell.dataType == .timestamptz))
        case .date:
            guard let days = buffer.readInteger(as: Int32.self) else { return .null }
            if days == Int32.max { return .text("infinity") }
            if days == Int32.min { return .text("-infinity") }
            let (y, m, d) = civil(Int64(days) + 10957)
            return .text(dateText(y, m, d))
        case .time:
            guard let micros = buffer.readInteger(as: Int64.self) else { return .null }
            return .text(timeOfDay(micros))
        case .uuid:
            guard let bytes = buffer.readBytes(length: 16) else { return .null }
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
            return .text(parts.joined(separator: "-"))
        case .inet, .cidr:
            return inet(&buffer, cidr: cell.dataType == .cidr).map(StoreValue.text) ?? .null
        case .interval:
            guard let micros = buffer.readInteger(as: Int64.self), let days = buffer.readInteger(as: Int32.self),
                  let months = buffer.readInteger(as: Int32.self)
            else { return .null }
            return .text(interval(micros: micros, days: days, months: months))
        default:
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            // Built-in types not handled above (arrays, geometry, money…) have binary forms
            // that only look like text: hand over the bytes (cast to text in SQL for text).
            // Text-like built-ins and user-defined types (enums, citext, domains over text)
            // send their text.
            let textLike: Set<UInt32> = [18, 19, 25, 114, 142, 705, 1042, 1043]
            let userDefined = cell.dataType.rawValue >= 16384
            if textLike.contains(cell.dataType.rawValue) || userDefined, let text = String(validating: bytes, as: UTF8.self) {
                return .text(text)
            }
            return .blob(bytes)
        }
    }

    /// inet/cidr's binary form: family (2 IPv4, 3 IPv6), mask bits, is-cidr, length, address.
    private static func inet(_ buffer: inout ByteBuffer, cidr: Bool) -> String? {
        guard let family = buffer.readInteger(as: UInt8.self), let bits = buffer.readInteger(as: UInt8.self),
              buffer.readInteger(as: UInt8.self) != nil, let length = buffer.readInteger(as: UInt8.self),
              let address = buffer.readBytes(length: Int(length))
        else { return nil }
        let text: String
        let full: Int
        if family == 2 && address.count == 4 {
            text = address.map(String.init).joined(separator: ".")
            full = 32
        } else if address.count == 16 {
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: address) }
            var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &storage, &out, socklen_t(out.count)) != nil else { return nil }
            text = String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            full = 128
        } else {
            return nil
        }
        return cidr || Int(bits) != full ? "\(text)/\(bits)" : text
    }

    /// An interval as PostgreSQL prints it by default (`1 year 2 mons 3 days 04:05:06.5`).
    static func interval(micros: Int64, days: Int32, months: Int32) -> String {
        var parts: [String] = []
        func unit(_ value: Int64, _ one: String, _ many: String) {
            if value != 0 { parts.append("\(value) \(abs(value) == 1 ? one : many)") }
        }
        unit(Int64(months / 12), "year", "years")
        unit(Int64(months % 12), "mon", "mons")
        unit(Int64(days), "day", "days")
        if micros != 0 || parts.isEmpty {
            let sign = micros < 0 ? "-" : (parts.isEmpty ? "" : "+")
            let magnitude = micros.magnitude
            let seconds = magnitude / 1_000_000
            var time = String(format: "%02llu:%02llu:%02llu", seconds / 3600, (seconds / 60) % 60, seconds % 60)
            if magnitude % 1_000_000 != 0 {
                var digits = String(format: "%06llu", magnitude % 1_000_000)
                while digits.hasSuffix("0") { digits.removeLast() }
                time += "." + digits
            }
            parts.append((sign == "+" ? "" : sign) + time)
        }
        return parts.joined(separator: " ")
    }

    private static func decodeText(_ text: String, _ type: PostgresDataType) -> StoreValue {
        switch type {
        case .int2, .int4, .int8, .oid: return Int64(text).map(StoreValue.integer) ?? .text(text)
        case .float4, .float8: return Double(text).map(StoreValue.real) ?? .text(text)
        case .numeric: return Int64(text).map(StoreValue.integer) ?? Double(text).map(StoreValue.real) ?? .text(text)
        case .bool: return .integer(text == "t" ? 1 : 0)
        default: return .text(text)
        }
    }

    /// NUMERIC's binary form: digit count, weight (the power of 10000 of the first digit),
    /// sign, display scale, then base-10000 digits. Integral values become integers (what
    /// SQLite gives for SUM of integers, which PostgreSQL returns as numeric).
    static func numeric(_ buffer: inout ByteBuffer) -> StoreValue {
        guard let count = buffer.readInteger(as: Int16.self), let weight = buffer.readInteger(as: Int16.self),
              let sign = buffer.readInteger(as: UInt16.self), buffer.readInteger(as: Int16.self) != nil
        else { return .null }
        switch sign {
        case 0xC000: return .real(.nan)
        case 0xD000: return .real(.infinity)
        case 0xF000: return .real(-.infinity)
        default: break
        }
        var digits: [Int16] = []
        for _ in 0..<max(0, Int(count)) {
            guard let digit = buffer.readInteger(as: Int16.self) else { return .null }
            digits.append(digit)
        }
        let negative = sign == 0x4000
        let integral = digits.enumerated().allSatisfy { index, digit in digit == 0 || Int(weight) - index >= 0 }
        if integral {
            var value: Int64 = 0
            var fits = true
            // Digits at positions weight, weight-1, …, 0; missing trailing ones are zero.
            for position in 0...max(0, Int(weight)) where fits {
                let digit = position < digits.count ? Int64(digits[position]) : 0
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10000)
                let (sum, overflow2) = times.addingReportingOverflow(negative ? -digit : digit)
                fits = !overflow1 && !overflow2
                value = sum
            }
            if weight < 0 { value = 0 }
            if fits { return .integer(value) }
        }
        let mantissa = digits.map { String(format: "%04d", $0) }.joined()
        let exponent = (Int(weight) - digits.count + 1) * 4
        return .real(Double("\(negative ? "-" : "")\(mantissa.isEmpty ? "0" : mantissa)e\(exponent)") ?? .nan)
    }

    /// Microseconds since 2000-01-01 as ISO 8601 (`2024-05-01T12:00:00.5Z`): UTC for
    /// timestamptz (the session's time zone does not matter in binary), no zone for timestamp.
    static func timestamp(_ micros: Int64, utc: Bool) -> String {
        if micros == Int64.max { return "infinity" }
        if micros == Int64.min { return "-infinity" }
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var rest = micros % perDay
        if rest < 0 { rest += perDay; days -= 1 }
        let (y, m, d) = civil(days + 10957)
        return dateText(y, m, d) + "T" + timeOfDay(rest) + (utc ? "Z" : "")
    }

    private static func timeOfDay(_ micros: Int64) -> String {
        let seconds = micros / 1_000_000
        let fraction = micros % 1_000_000
        var text = String(format: "%02d:%02d:%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60)
        if fraction != 0 {
            var digits = String(format: "%06d", fraction)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }

    private static func dateText(_ y: Int64, _ m: Int64, _ d: Int64) -> String {
        y < 1 ? String(format: "%04lld-%02lld-%02lld BC", 1 - y, m, d) : String(format: "%04lld-%02lld-%02lld", y, m, d)
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
    /// civil_from_days).
    static func civil(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
