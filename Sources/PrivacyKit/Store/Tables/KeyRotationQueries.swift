import Foundation

/// What key rotation (`vault.keys`) reads and writes: subject keys re-wrapped under a new
/// KEK, blind indexes rebuilt under a new index key. The rebuild's position is kept in
/// ``VaultMetaTable``.
struct KeyRotationQueries {
    let db: StoreDatabase

    /// Subjects whose key is wrapped under a KEK older than `version`.
    func subjectsWrapped(below version: Int) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subjects WHERE kek_version < ?", arguments: [version]) ?? 0
    }

    /// Up to `limit` of those subjects, with their wrapped keys.
    func wrappedKeys(below version: Int, limit: Int) throws -> [(id: String, kekVersion: Int, wrappedKey: Data)] {
        try StoreRow.fetchAll(db, sql: "SELECT id, kek_version, wrapped_key FROM subjects WHERE kek_version < ? LIMIT ?", arguments: [version, limit])
            .map { ($0[0], $0[1], $0[2]) }
    }

    /// Stores `subject`'s key re-wrapped under KEK `version` (once per subject: cached).
    func rewrap(_ subject: String, kekVersion version: Int, wrappedKey: Data) throws {
        try db.cachedStatement(sql: "UPDATE subjects SET kek_version = ?, wrapped_key = ? WHERE id = ?")
            .execute(arguments: [version, wrappedKey, subject])
    }

    func subjectCount() throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subjects") ?? 0
    }

    /// Up to `limit` subject ids after `id`, in order.
    func subjectIDs(after id: String, limit: Int) throws -> [String] {
        try String.fetchAll(db, sql: "SELECT id FROM subjects WHERE id > ? ORDER BY id LIMIT ?", arguments: [id, limit])
    }

    /// Adds a blind-index entry unless it is there (once per indexed field: cached).
    func addBlindIndex(field: String, version: Int, hash: Data, subject: String) throws {
        try db.cachedStatement(sql: "INSERT INTO blind_index (field, version, hash, subject_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
            .execute(arguments: [field, version, hash, subject])
    }

    func dropBlindIndexes(below version: Int) throws {
        try db.execute(sql: "DELETE FROM blind_index WHERE version < ?", arguments: [version])
    }
}
