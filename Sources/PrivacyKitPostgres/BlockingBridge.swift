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

// The bridge from the store's blocking calls to postgres-nio's futures and async
// sequences: a wait that also ends when the connection closes, and async work run off
// Swift's cooperative pool so that blocking a pool thread cannot starve it.

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
