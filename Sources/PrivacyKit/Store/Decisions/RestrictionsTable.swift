import Foundation

extension DecisionRows {
    /// `restrictions`: the subjects whose processing is restricted (GDPR art. 18), one row each.
    struct Restrictions {
        fileprivate let db: StoreDatabase

        /// Whether `subject` is restricted.
        func contains(_ subject: String) throws -> Bool {
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM restrictions WHERE subject_id = ?"), arguments: [subject]) ?? false
        }

        /// The restricted subjects among `ids` (none without a query when nobody is restricted).
        func subjects(among ids: [String]) throws -> Set<String> {
            guard !ids.isEmpty, try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (SELECT 1 FROM restrictions)")) == true else { return [] }
            return try DecisionRows(db).present(among: ids, query: "SELECT subject_id FROM restrictions WHERE subject_id IN")
        }

        func count() throws -> Int {
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM restrictions") ?? 0
        }

        /// Every restricted subject id.
        func allSubjects() throws -> Set<String> {
            try Set(String.fetchAll(db, sql: "SELECT subject_id FROM restrictions"))
        }

        /// The restriction of `subject`, if it is restricted.
        func restriction(subject: String) throws -> Restriction? {
            try StoreRow.fetchOne(db, sql: "SELECT subject_id, reason, placed_by, placed_at, request_id FROM restrictions WHERE subject_id = ?", arguments: [subject])
                .map(Self.restriction)
        }

        /// Every restriction, by subject id.
        func all() throws -> [Restriction] {
            try StoreRow.fetchAll(db, sql: "SELECT subject_id, reason, placed_by, placed_at, request_id FROM restrictions ORDER BY subject_id").map(Self.restriction)
        }

        func insert(subject: String, reason: String, placedBy: String, placedAt: String, requestID: String?) throws {
            try db.decisionWillChange(.subject(subject))
            try db.execute(sql: "INSERT INTO restrictions (subject_id, reason, placed_by, placed_at, request_id) VALUES (?, ?, ?, ?, ?)",
                           arguments: [subject, reason, placedBy, placedAt, requestID])
        }

        /// Deletes the restriction of `subject`; returns how many rows went (0 or 1).
        func delete(subject: String) throws -> Int {
            try db.decisionWillChange(.subject(subject))
            try db.execute(sql: "DELETE FROM restrictions WHERE subject_id = ?", arguments: [subject])
            return db.changesCount
        }

        private static func restriction(_ row: StoreRow) -> Restriction {
            Restriction(subject: row[0], reason: row[1], placedBy: row[2], placedAt: row[3], requestID: row[4])
        }
    }

    var restrictions: Restrictions { Restrictions(db: db) }
}
