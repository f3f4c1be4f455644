import Foundation

/// A `subjects` row as stored: the wrapped subject key and the fields, still encoded
/// (``RecordStore`` decodes them).
struct SubjectRow {
    let kekVersion: Int
    let keyVersion: Int
    let wrappedKey: [UInt8]
    /// The record's MAC and revision, then its encrypted fields (`Records/RecordSeal.swift`).
    let sealed: Data
    /// The plain fields as a JSON object.
    let plain: String
    /// The names of the fields stored invalid, comma-separated.
    let invalid: String
    let createdAt: String
    let updatedAt: String

    /// Whether a `sealed` column is of a record changed since it was created (revision 1
    /// on): only such a record is part of its subject's leaf (see `RecordSeal`).
    static func isRevised(sealed: [UInt8]) -> Bool {
        sealed.count >= 5 && sealed[0] == 0 && (sealed[1] | sealed[2] | sealed[3] | sealed[4]) != 0
    }
}

extension SubjectRow {
    /// The row from the columns of a subject's leaf (`DecisionRows.Tree.subjectRows`): key,
    /// KEK version, key version, plain, invalid, created, updated, two empty, wrapped key,
    /// sealed.
    init(leafValues values: ArraySlice<StoreValue>, subjectID: String) throws {
        let v = Array(values)
        guard v.count == 11, case .text(let kek) = v[1], let kekVersion = Int(kek), case .text(let key) = v[2], let keyVersion = Int(key),
              case .text(let plain) = v[3], case .text(let invalid) = v[4], case .text(let createdAt) = v[5], case .text(let updatedAt) = v[6],
              case .blob(let wrapped) = v[9], case .blob(let sealed) = v[10]
        else {
            throw PrivacyKitError(.integrity, "the record of subject \(subjectID) is damaged")
        }
        self.init(kekVersion: kekVersion, keyVersion: keyVersion, wrappedKey: wrapped, sealed: Data(sealed), plain: plain, invalid: invalid,
                  createdAt: createdAt, updatedAt: updatedAt)
    }
}

extension DecisionRows {
    /// `subjects`: one row per live subject, holding its wrapped key (the key an erasure
    /// destroys), its encrypted and plain fields and their validity.
    struct Subjects {
        fileprivate let db: StoreDatabase

        /// Whether subject `id` exists. `cached` prepares the statement once, for callers
        /// that ask on every read (the request trackers).
        func exists(_ id: String, cached: Bool = false) throws -> Bool {
            if cached {
                return try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM subjects WHERE id = ?"), arguments: [id]) == true
            }
            return try Bool.fetchOne(db, sql: "SELECT 1 FROM subjects WHERE id = ?", arguments: [id]) == true
        }

        /// The ids among `ids` that have a row.
        func existing(among ids: [String]) throws -> Set<String> {
            try DecisionRows(db).present(among: ids, query: "SELECT id FROM subjects WHERE id IN")
        }

        func count() throws -> Int {
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subjects") ?? 0
        }

        /// Up to `limit` ids after `after`, in order.
        func ids(after: String, limit: Int) throws -> [String] {
            try String.fetchAll(db, sql: "SELECT id FROM subjects WHERE id > ? ORDER BY id LIMIT ?", arguments: [after, limit])
        }

        /// The id and plain fields (JSON) of every subject that has plain field `field`.
        func plainFields(having field: String) throws -> [(id: String, plain: String)] {
            try StoreRow.fetchAll(db, sql: "SELECT id, plain FROM subjects WHERE \(db.dialect.jsonTextBound("plain")) IS NOT NULL", arguments: [field])
                .map { ($0["id"], $0["plain"]) }
        }

        /// Every subject's id, encrypted fields and plain fields (JSON), streamed (for the
        /// compliance report: which fields a record has is visible without decrypting).
        func sealedAndPlainFields() throws -> StoreCursor<(id: String, sealed: Data, plain: String)> {
            StoreCursor(try db.rows("SELECT id, sealed, plain FROM subjects", [], cached: false)) { row in (row[0], row[1], row[2]) }
        }

        /// Every subject's id with the KEK version its key is wrapped under, streamed (for a
        /// breach's impact assessment; ``Tombstones/erasedIDs()`` gives the erased ones).
        func idsAndKEKVersions() throws -> StoreCursor<(id: String, kekVersion: Int?)> {
            StoreCursor(try db.rows("SELECT id, kek_version FROM subjects", [], cached: false)) { row in (row[0], row[1]) }
        }

        // MARK: KEK rotation

        /// How many subjects have their key wrapped under a KEK older than `version`.
        func countWrapped(below version: Int) throws -> Int {
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM subjects WHERE kek_version < ?", arguments: [version]) ?? 0
        }

        /// Up to `limit` of those subjects (their rows are read checked, with their MACs).
        func ids(wrappedBelow version: Int, limit: Int) throws -> [String] {
            try String.fetchAll(db, sql: "SELECT id FROM subjects WHERE kek_version < ? LIMIT ?", arguments: [version, limit])
        }

        /// Stores subject `id`'s key re-wrapped under KEK `version` (once per subject: cached).
        func rewrap(id: String, kekVersion version: Int, wrappedKey: Data, sealed: Data) throws {
            if SubjectRow.isRevised(sealed: [UInt8](sealed)) { try db.decisionWillChange(.subject(id)) }
            try db.cachedStatement(sql: "UPDATE subjects SET kek_version = ?, wrapped_key = ?, sealed = ? WHERE id = ?")
                .execute(arguments: [version, wrappedKey, sealed, id])
        }

        /// Gives a row its MAC (the upgrade; outside any audited transaction, the record
        /// staying out of its leaf at revision 0).
        func setSealedForUpgrade(id: String, sealed: Data) throws {
            try db.cachedStatement(sql: "UPDATE subjects SET sealed = ? WHERE id = ?").execute(arguments: [sealed, id])
        }

        /// Up to `limit` rows after id `after`, in id order (the upgrade gives each its MAC).
        func rows(after: String, limit: Int) throws -> [(id: String, row: SubjectRow)] {
            try StoreRow.fetchAll(db, sql: """
                SELECT id, kek_version, key_version, wrapped_key, sealed, plain, invalid, created_at, updated_at FROM subjects
                WHERE id > ? ORDER BY id LIMIT ?
                """, arguments: [after, limit]).map { r in
                (r[0], SubjectRow(kekVersion: r[1], keyVersion: r[2], wrappedKey: [UInt8](r[3] as Data), sealed: r[4], plain: r[5], invalid: r[6],
                                  createdAt: r[7], updatedAt: r[8]))
            }
        }

        /// Every subject's id, encrypted fields, plain fields and invalid list, streamed
        /// (the key is not read).
        func forEachFieldSet(_ body: (_ id: String, _ sealed: Data, _ plain: String, _ invalid: String) throws -> Void) throws {
            let cursor = try StoreRow.fetchCursor(db, sql: "SELECT id, sealed, plain, invalid FROM subjects")
            while let row = try cursor.next() {
                try body(row[0], row[1], row[2], row[3])
            }
        }

        func insert(id: String, kekVersion: Int, keyVersion: Int, wrappedKey: Data, sealed: Data, plain: String, invalid: String,
                    createdAt: String, updatedAt: String) throws {
            // A record as created (revision 0) is not part of its leaf: nothing to prove.
            try db.cachedStatement(sql: """
                INSERT INTO subjects (id, kek_version, key_version, wrapped_key, sealed, plain, invalid, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [id, kekVersion, keyVersion, wrappedKey, sealed, plain, invalid, createdAt, updatedAt])
        }

        /// Rewrites the fields of subject `id` (its key stays) as a revised record, which its
        /// leaf covers.
        func updateFields(id: String, sealed: Data, plain: String, invalid: String, updatedAt: String) throws {
            try db.decisionWillChange(.subject(id))
            try db.cachedStatement(sql: "UPDATE subjects SET sealed = ?, plain = ?, invalid = ?, updated_at = ? WHERE id = ?")
                .execute(arguments: [sealed, plain, invalid, updatedAt, id])
        }

        /// Deletes subject `id`'s row, its key with it (blind-index entries, consent state and
        /// restriction go by foreign key); returns how many rows went (0 or 1).
        func delete(id: String) throws -> Int {
            // Its consent state and restriction go with it (ON DELETE CASCADE).
            try db.decisionWillChange(.subject(id))
            try db.cachedStatement(sql: "DELETE FROM subjects WHERE id = ?").execute(arguments: [id])
            return db.changesCount
        }
    }

    var subjects: Subjects { Subjects(db: db) }
}
