import Foundation
import PrivacyKit
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
