import Foundation

extension DecisionRows {
    /// `tombstones`: one row per erased subject, with its signed erasure receipt (JSON text).
    struct Tombstones {
        fileprivate let db: StoreDatabase

        /// Whether `subject` was erased. `cached` prepares the statement once, for callers
        /// that ask on every read (the request trackers).
        func contains(_ subject: String, cached: Bool = false) throws -> Bool {
            if cached {
                return try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM tombstones WHERE subject_id = ?"), arguments: [subject]) == true
            }
            return try Bool.fetchOne(db, sql: "SELECT 1 FROM tombstones WHERE subject_id = ?", arguments: [subject]) ?? false
        }

        func count() throws -> Int {
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM tombstones") ?? 0
        }

        /// Every erased subject's id (with no KEK version: its key is gone), streamed, in
        /// the shape of ``Subjects/idsAndKEKVersions()`` (for a breach's impact assessment).
        func erasedIDs() throws -> StoreCursor<(id: String, kekVersion: Int?)> {
            StoreCursor(try db.rows("SELECT subject_id, NULL FROM tombstones", [], cached: false)) { row in (row[0], row[1]) }
        }

        /// When `subject` was erased, or nil if it was not.
        func erasedAt(subject: String) throws -> String? {
            try String.fetchOne(db.cachedStatement(sql: "SELECT erased_at FROM tombstones WHERE subject_id = ?"), arguments: [subject])
        }

        /// The receipt text of `subject`'s tombstone, or nil if it was not erased.
        func receipt(subject: String) throws -> String? {
            try String.fetchOne(db.cachedStatement(sql: "SELECT receipt FROM tombstones WHERE subject_id = ?"), arguments: [subject])
        }

        /// Every receipt text, oldest erasure first.
        func receipts() throws -> [String] {
            try String.fetchAll(db, sql: "SELECT receipt FROM tombstones ORDER BY erased_at, subject_id")
        }

        func insert(subject: String, erasedAt: String, reason: String, requestID: String?, rule: String?, actor: String, auditSeq: Int64,
                    receipt: String) throws {
            try db.decisionWillChange(.subject(subject))
            try db.cachedStatement(sql: """
                INSERT INTO tombstones (subject_id, erased_at, reason, request_id, rule, actor, audit_seq, receipt) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [subject, erasedAt, reason, requestID, rule, actor, auditSeq, receipt])
        }
    }

    var tombstones: Tombstones { Tombstones(db: db) }
}
