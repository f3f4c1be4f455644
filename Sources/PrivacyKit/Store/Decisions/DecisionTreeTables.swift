import Foundation

extension DecisionRows {
    /// `decision_leaves` and `decision_nodes` (migration `v8-integrity`): the stored sparse
    /// Merkle tree over the decision rows (see `Access/DecisionIntegrity.swift`), and the
    /// reads that give each leaf its rows. A leaf covers one subject's consent state,
    /// restriction, legal holds and tombstone, or every category hold. Nothing here is
    /// trusted: what the tree says is checked against the root the keyed audit chain
    /// commits to.
    struct Tree {
        fileprivate let db: StoreDatabase

        // MARK: The tree

        /// The leaves of one bucket, by key.
        func leaves(bucket: Int) throws -> [(key: [UInt8], tag: [UInt8])] {
            try StoreRow.fetchAll(db.cachedStatement(sql: "SELECT key, tag FROM decision_leaves WHERE bucket = ? ORDER BY key"), arguments: [bucket])
                .map { ([UInt8]($0[0] as Data), [UInt8]($0[1] as Data)) }
        }

        func setLeaf(key: [UInt8], bucket: Int, tag: [UInt8]?) throws {
            if let tag {
                try db.cachedStatement(sql: """
                    INSERT INTO decision_leaves (key, bucket, tag) VALUES (?, ?, ?)
                    ON CONFLICT (key) DO UPDATE SET bucket = excluded.bucket, tag = excluded.tag
                    """).execute(arguments: [Data(key), bucket, Data(tag)])
            } else {
                try db.cachedStatement(sql: "DELETE FROM decision_leaves WHERE key = ?").execute(arguments: [Data(key)])
            }
        }

        /// The stored hashes of the nodes at `positions` (level << 20 | index, the key of
        /// `decision_nodes`); absent ones are empty.
        func nodes(_ positions: [Int]) throws -> [Int: [UInt8]] {
            guard !positions.isEmpty else { return [:] }
            let marks = Array(repeating: "?", count: positions.count).joined(separator: ",")
            let rows = try StoreRow.fetchAll(
                db.cachedStatement(sql: "SELECT pos, hash FROM decision_nodes WHERE pos IN (\(marks))"), arguments: StoreArguments(positions))
            return Dictionary(rows.map { (Int($0[0] as Int64), [UInt8]($0[1] as Data)) }, uniquingKeysWith: { a, _ in a })
        }

        func setNode(_ position: Int, hash: [UInt8]?) throws {
            if let hash {
                try db.cachedStatement(sql: """
                    INSERT INTO decision_nodes (pos, hash) VALUES (?, ?) ON CONFLICT (pos) DO UPDATE SET hash = excluded.hash
                    """).execute(arguments: [position, Data(hash)])
            } else {
                try db.cachedStatement(sql: "DELETE FROM decision_nodes WHERE pos = ?").execute(arguments: [position])
            }
        }

        /// Empties the tree (before it is built again from the rows: the upgrade).
        func clear() throws {
            try db.execute(sql: "DELETE FROM decision_leaves")
            try db.execute(sql: "DELETE FROM decision_nodes")
        }

        /// Every leaf, by bucket (the verifier rebuilds the whole tree).
        func allLeaves() throws -> [(key: [UInt8], bucket: Int, tag: [UInt8])] {
            try StoreRow.fetchAll(db, sql: "SELECT key, bucket, tag FROM decision_leaves ORDER BY bucket, key")
                .map { ([UInt8]($0[0] as Data), $0[1], [UInt8]($0[2] as Data)) }
        }

        // MARK: The rows a leaf covers, in a fixed order and form

        /// A row a leaf covers: its table, and its columns in a fixed order.
        typealias Row = (table: String, values: ArraySlice<StoreValue>)

        /// One subject's decision rows: consent state by purpose, restriction, holds by id,
        /// tombstone — one statement (a decision reads them on every check).
        func subjectRows(_ subject: String) throws -> [Row] {
            let rows = try StoreRow.fetchAll(db.cachedStatement(sql: Self.subjectRowsSQL(where: "subject_id = ?", idColumn: false)),
                                             arguments: StoreArguments([subject, subject, subject, subject]))
            return rows.map { Self.row($0.values[...]) }
        }

        /// ``subjectRows(_:)`` of many subjects at once (a batch of consent answers): one
        /// statement per chunk of ids.
        func subjectRows(among ids: [String]) throws -> [String: [Row]] {
            var rows: [String: [Row]] = [:]
            var start = ids.startIndex
            while start < ids.endIndex {
                let chunk = Array(ids[start..<min(start + 200, ids.endIndex)])
                let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
                let sql = Self.subjectRowsSQL(where: "subject_id IN (\(marks))", idColumn: true)
                for row in try StoreRow.fetchAll(db.cachedStatement(sql: sql), arguments: StoreArguments(chunk + chunk + chunk + chunk)) {
                    rows[row[0], default: []].append(Self.row(row.values.dropFirst()))
                }
                start += chunk.count
            }
            return rows
        }

        /// The four tables a subject's leaf covers as one union, every row in one shape:
        /// (table number, key, eight columns as text or NULL), in leaf order. Integers are
        /// cast to text so both engines give one type per column.
        private static func subjectRowsSQL(where condition: String, idColumn: Bool) -> String {
            let id = idColumn ? "subject_id, " : ""
            return """
                SELECT \(id)1, purpose, kind, CAST(event_id AS TEXT), time, notice_version, expires_at, NULL, NULL, NULL FROM consent_state WHERE \(condition)
                UNION ALL SELECT \(id)2, NULL, reason, placed_by, placed_at, request_id, NULL, NULL, NULL, NULL FROM restrictions WHERE \(condition)
                UNION ALL SELECT \(id)3, id, category, reason, placed_by, placed_at, until, released_at, released_by, release_reason FROM legal_holds WHERE \(condition)
                UNION ALL SELECT \(id)4, NULL, erased_at, reason, request_id, rule, actor, CAST(audit_seq AS TEXT), receipt, NULL FROM tombstones WHERE \(condition)
                ORDER BY \(idColumn ? "1, 2, 3" : "1, 2")
                """
        }

        private static let tables = ["consent_state", "restrictions", "legal_holds", "tombstones"]

        /// A union row (from its table number on) as the leaf takes it.
        private static func row(_ values: ArraySlice<StoreValue>) -> Row {
            guard case .integer(let number) = values.first, (1...tables.count).contains(Int(number)) else { return ("?", values) }
            return (tables[Int(number) - 1], values.dropFirst())
        }

        private static let holdColumns = "id, category, reason, placed_by, placed_at, until, released_at, released_by, release_reason"

        /// Every hold on a category (one leaf for all of them: there are few).
        func categoryHoldRows() throws -> [StoreRow] {
            try StoreRow.fetchAll(db.cachedStatement(sql: "SELECT \(Self.holdColumns) FROM legal_holds WHERE category IS NOT NULL ORDER BY id"))
        }

        /// Every subject id that has a decision row (the upgrade builds the tree from them).
        func subjectsWithState() throws -> [String] {
            try String.fetchAll(db, sql: """
                SELECT subject_id FROM consent_state UNION SELECT subject_id FROM restrictions
                UNION SELECT subject_id FROM legal_holds WHERE subject_id IS NOT NULL UNION SELECT subject_id FROM tombstones
                ORDER BY 1
                """)
        }
    }

    var tree: Tree { Tree(db: db) }
}
