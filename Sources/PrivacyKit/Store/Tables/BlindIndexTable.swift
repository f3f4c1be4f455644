import Foundation

/// `blind_index`: keyed hashes of indexed field values (field, index version, hash,
/// subject), for finding a subject by an encrypted field and for duplicate clusters. Not a
/// decision table: `find` opens every candidate it gives before answering.
struct BlindIndexRows {
    let db: StoreDatabase

    /// The subjects with `hash` for `field` under index `version`.
    func subjects(field: String, version: Int, hash: Data) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(sql: "SELECT subject_id FROM blind_index WHERE field = ? AND version = ? AND hash = ?"),
            arguments: [field, version, hash])
    }

    func insert(field: String, version: Int, hash: Data, subject: String) throws {
        try db.cachedStatement(sql: "INSERT INTO blind_index (field, version, hash, subject_id) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING")
            .execute(arguments: [field, version, hash, subject])
    }

    /// Deletes `subject`'s entries of `field` (every version).
    func delete(subject: String, field: String) throws {
        try db.cachedStatement(sql: "DELETE FROM blind_index WHERE subject_id = ? AND field = ?").execute(arguments: [subject, field])
    }

    /// Deletes every entry under an index version older than `version` (after a rebuild).
    func deleteVersions(below version: Int) throws {
        try db.execute(sql: "DELETE FROM blind_index WHERE version < ?", arguments: [version])
    }

    /// How many entries `subject` has (for an erasure receipt).
    func count(subject: String) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM blind_index WHERE subject_id = ?"), arguments: [subject]) ?? 0
    }

    /// The groups of two or more subjects sharing a hash under index `version` (of one
    /// field, or every field), by field, each group's ids sorted.
    func clusters(version: Int, field: String?) throws -> [DuplicateCluster] {
        var sql = "SELECT field, \(db.dialect.joinedLines("subject_id")) FROM blind_index WHERE version = ?"
        var arguments: [(any StoreValueConvertible)?] = [version]
        if let field { sql += " AND field = ?"; arguments.append(field) }
        sql += " GROUP BY field, hash HAVING COUNT(*) > 1 ORDER BY field, MIN(subject_id)"
        return try StoreRow.fetchAll(db, sql: sql, arguments: StoreArguments(arguments)).map { row in
            let ids: String = row[1]
            return DuplicateCluster(field: row[0], subjects: ids.split(separator: "\n").map(String.init).sorted())
        }
    }
}

extension StoreDatabase {
    var blindIndex: BlindIndexRows { BlindIndexRows(db: self) }
}
