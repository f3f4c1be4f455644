import Foundation

extension LegalHold {
    /// From a row selected with ``DecisionRows/Holds``'s column list.
    fileprivate init(row: StoreRow) {
        self.init(id: row[0], subject: row[1], category: row[2], reason: row[3], placedBy: row[4], placedAt: row[5],
                  until: row[6], releasedAt: row[7], releasedBy: row[8], releaseReason: row[9])
    }
}

extension DecisionRows {
    /// `legal_holds`: holds on a subject or a retention category; released ones stay, with
    /// who released them and why.
    struct Holds {
        fileprivate let db: StoreDatabase

        private static let columns = "id, subject_id, category, reason, placed_by, placed_at, until, released_at, released_by, release_reason"

        func insert(id: String, subject: String?, category: String?, reason: String, placedBy: String, placedAt: String, until: String?) throws {
            try db.decisionWillChange(subject.map(DecisionIntegrity.Leaf.subject) ?? .categoryHolds)
            try db.execute(sql: """
                INSERT INTO legal_holds (id, subject_id, category, reason, placed_by, placed_at, until) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [id, subject, category, reason, placedBy, placedAt, until])
        }

        /// Marks hold `id` released unless it already was; returns how many rows changed (0 or 1).
        func release(id: String, at time: String, by actor: String, reason: String) throws -> Int {
            if let held = try hold(id: id) { try db.decisionWillChange(held.subject.map(DecisionIntegrity.Leaf.subject) ?? .categoryHolds) }
            let changed = try db.cachedStatement(sql: "UPDATE legal_holds SET released_at = ?, released_by = ?, release_reason = ? WHERE id = ? AND released_at IS NULL")
            try changed.execute(arguments: [time, actor, reason, id])
            return db.changesCount
        }

        func hold(id: String) throws -> LegalHold? {
            try StoreRow.fetchOne(db, sql: "SELECT \(Self.columns) FROM legal_holds WHERE id = ?", arguments: [id]).map(LegalHold.init(row:))
        }

        /// Every hold, released ones too, newest first.
        func newestFirst() throws -> [LegalHold] {
            try StoreRow.fetchAll(db, sql: "SELECT \(Self.columns) FROM legal_holds ORDER BY placed_at DESC, id").map(LegalHold.init(row:))
        }

        /// Every hold, released ones too, in no particular order.
        func all() throws -> [LegalHold] {
            try StoreRow.fetchAll(db, sql: "SELECT \(Self.columns) FROM legal_holds").map(LegalHold.init(row:))
        }

        /// Holds that are active at `now` and cover the subject or its category.
        func active(subject: String, category: String?, at now: String) throws -> [LegalHold] {
            try StoreRow.fetchAll(
                db.cachedStatement(sql: """
                    SELECT \(Self.columns) FROM legal_holds
                    WHERE released_at IS NULL AND (until IS NULL OR until > ?) AND (subject_id = ? OR category = ?)
                    ORDER BY placed_at, id
                    """), arguments: [now, subject, category]
            ).map(LegalHold.init(row:))
        }
    }

    var holds: Holds { Holds(db: db) }
}
