import Foundation
import GRDB
import Sodium

struct BackupCounts {
    let subjects: Int, tombstones: Int, consentEvents: Int
    let auditEvents: Int64, auditHeadSeq: Int64
    let auditHeadHash: [UInt8]

    init(db: StoreDatabase) throws {
        let queries = BackupQueries(db: db)
        let head = try queries.auditHead()
        let rows = db.decisions
        subjects = try rows.subjects.count()
        tombstones = try rows.tombstones.count()
        consentEvents = try rows.consent.ledgerCount()
        auditEvents = try queries.auditEventCount()
        auditHeadSeq = head?.seq ?? 0
        auditHeadHash = [UInt8](head?.hash ?? Data())
    }
}

/// A read transaction that began on an empty WAL, so the database file stays as it is (no
/// checkpoint may write into it) until ``release()``.
final class FrozenStore {
    private let reader: DatabaseQueue
    let bytes: Int64
    let counts: BackupCounts

    private init(reader: DatabaseQueue, bytes: Int64, counts: BackupCounts) {
        self.reader = reader
        self.bytes = bytes
        self.counts = counts
    }

    /// Nil when the WAL could not be emptied (a reader elsewhere holds older frames).
    static func freeze(_ store: SQLiteStore) throws -> FrozenStore? {
        try SQLiteStore.wrap(store.path) {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(10)
            // The read transaction is held open across accesses, on purpose, until release().
            config.allowsUnsafeTransactions = true
            let reader = try DatabaseQueue(path: store.path, configuration: config)
            // Only a short wait: a reader elsewhere means the fallback, not a stall.
            let emptied = try store.truncateWAL(patienceMilliseconds: 200) { _, emptied -> Bool in
                guard emptied else { return false }
                // The checkpoint has released SQLite's writer lock already: another process
                // may append frames before the read starts. Only a snapshot taken while the
                // WAL file is still empty reads the database file alone; the file only grows
                // while this reader lives, so empty after the snapshot means empty at it.
                try reader.inDatabase(BackupQueries.beginSnapshot)
                var info = stat()
                return stat(store.path + "-wal", &info) == 0 && info.st_size == 0
            }
            guard emptied else {
                try? reader.inDatabase(BackupQueries.endSnapshot)
                try reader.close()
                return nil
            }
            let (pages, size, counts) = try reader.inDatabase { r in
                let pages = try BackupQueries.pages(r)
                return (pages.count, pages.size, try BackupCounts(db: StoreDatabase(connection: SQLiteConnection(r))))
            }
            return FrozenStore(reader: reader, bytes: pages * size, counts: counts)
        }
    }

    func release() {
        try? reader.inDatabase(BackupQueries.endSnapshot)
        try? reader.close()
    }
}
