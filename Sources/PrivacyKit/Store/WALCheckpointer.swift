import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

/// Runs the store's WAL checkpoints on a background queue instead of inside commits.
///
/// By default SQLite checkpoints in the connection that commits past 1,000 WAL pages: the
/// unlucky operation (a find writing its audit event, say) copies the pages back into the
/// database and `fdatasync`s, a stall of milliseconds. The writer connection instead gets a
/// WAL hook that asks this queue for a `PASSIVE` checkpoint on a connection of its own
/// (which waits for no lock and blocks neither readers nor the writer). Should the WAL
/// still reach ``hardLimitPages`` (the background falling behind a bulk import), the
/// committing connection checkpoints itself, as SQLite would.
final class WALCheckpointer: Sendable {
    static let thresholdPages: Int32 = 1000
    static let hardLimitPages: Int32 = 4000

    private let path: String
    private let queue = DispatchQueue(label: "privacykit.wal-checkpoint", qos: .utility)
    private let scheduled = Atomic<Bool>(false)
    private let state = Mutex<State>(State())
    /// Checkpoints run in the background so far (for tests and diagnostics).
    var completed: Int { state.withLock { $0.completed } }

    private struct State: @unchecked Sendable {  // the connection is only used on `queue`
        var connection: OpaquePointer?
        var closed = false
        var completed = 0
    }

    init(path: String) { self.path = path }

    deinit {
        state.withLock { state in
            if let connection = state.connection { sqlite3_close_v2(connection) }
        }
    }

    /// Installs the hook on a connection (it replaces SQLite's automatic checkpoint there).
    func install(on db: Database) {
        guard let connection = db.sqliteConnection else { return }
        sqlite3_wal_hook(connection, { context, connection, schema, pages in
            guard let context else { return SQLITE_OK }
            let checkpointer = Unmanaged<WALCheckpointer>.fromOpaque(context).takeUnretainedValue()
            if pages >= WALCheckpointer.hardLimitPages {
                _ = sqlite3_wal_checkpoint_v2(connection, schema, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            } else if pages >= WALCheckpointer.thresholdPages {
                checkpointer.schedule()
            }
            return SQLITE_OK
        }, Unmanaged.passUnretained(self).toOpaque())
    }

    private func schedule() {
        guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { [self] in
            defer { scheduled.store(false, ordering: .releasing) }
            checkpoint()
        }
    }

    private func checkpoint() {
        state.withLock { state in
            guard !state.closed else { return }
            if state.connection == nil {
                var connection: OpaquePointer?
                guard sqlite3_open_v2(path, &connection, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK else {
                    sqlite3_close_v2(connection)
                    return  // the next commit past the threshold tries again
                }
                state.connection = connection
            }
            if sqlite3_wal_checkpoint_v2(state.connection, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil) == SQLITE_OK {
                state.completed += 1
            }
        }
    }

    /// Waits for a running checkpoint and closes the connection; the hook does nothing
    /// afterwards. Call before the store's own connections close.
    func close() {
        queue.sync {
            state.withLock { state in
                state.closed = true
                if let connection = state.connection { sqlite3_close_v2(connection) }
                state.connection = nil
            }
        }
    }
}
