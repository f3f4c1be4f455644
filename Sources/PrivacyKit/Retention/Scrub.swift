import Foundation
import Sodium

/// Whether the store's files have been scrubbed of what an erasure deleted.
///
/// Deleting a subject's row overwrites it in the live database (`secure_delete`), but
/// SQLite's write-ahead log can still hold older copies of its pages (the wrapped key,
/// the ciphertexts) until a checkpoint copies the log back and truncates it, which a
/// reader in the middle of a transaction prevents. PostgreSQL's scrub is a `VACUUM` of the
/// tables erasures touch.
public enum ScrubState: String, Sendable, Codable, Equatable {
    /// The store's files no longer hold older copies of what was deleted.
    case done
    /// Not yet: a reader kept the log busy. The scrub is recorded in the store and finished
    /// by the vault's next open, erasure or sweep.
    case pending
}

extension VaultCore {
    /// `vault_meta` key of a scrub still owed. Its value changes with every erasure, so a
    /// scrub only clears the mark it saw before it started: an erasure committed meanwhile
    /// (by another process) keeps its own mark.
    static let scrubPendingKey = "scrub_pending"

    /// Records, in the deleting transaction, that the store owes a scrub: should the
    /// process die before scrubbing, the next open finishes it.
    func markScrubPending(_ db: StoreDatabase) throws {
        guard !db.scrubMarked else { return }
        try VaultMetaTable(db: db).set(Self.scrubPendingKey, Timestamp.precise(Date()) + " " + Hex.encode(Random.bytes(count: 8)))
        db.scrubMarked = true
    }

    /// Scrubs the store (``Store/scrubDeleted()``), and when it got through, clears the
    /// mark it found. Best effort: `.pending` when a reader kept the log busy (the mark
    /// stays, and a later open, erasure or sweep tries again).
    @discardableResult
    func scrubDeleted() -> ScrubState {
        let mark = try? store.read { db in try VaultMetaTable(db: db).value(Self.scrubPendingKey) }
        guard store.scrubDeleted() else { return .pending }
        if let mark {
            // Housekeeping, not a PII operation: no audit event. The write lands in a fresh
            // log that holds none of the deleted pages.
            _ = try? store.write { db in try VaultMetaTable(db: db).remove(Self.scrubPendingKey, ifValue: mark) }
        }
        return .done
    }

    /// Finishes a scrub an earlier erasure left pending (nil when none was owed).
    @discardableResult
    func finishPendingScrub() -> ScrubState? {
        guard (try? scrubIsPending()) == true else { return nil }
        return scrubDeleted()
    }

    /// Whether a scrub is owed.
    func scrubIsPending() throws -> Bool {
        try store.read { db in try VaultMetaTable(db: db).value(Self.scrubPendingKey) } != nil
    }
}
