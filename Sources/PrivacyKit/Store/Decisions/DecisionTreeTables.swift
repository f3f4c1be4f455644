import Foundation

extension DecisionRows {
    /// `decision_leaves` and `decision_nodes` (migration `v8-integrity`): the stored sparse
    /// Merkle tree over the decision rows (see `Access/DecisionIntegrity.swift`), and the
    /// reads that give each leaf its rows. A leaf covers one subject's consent state,
    /// restriction, legal holds, tombstone and record, or every category hold. Nothing here is
    /// trusted: what the tree says is checked against the root the keyed audit chain
    /// commits to.
    struct Tree {
        fileprivate let db: StoreDatabase

        // MARK: The tree

        /// The stored leaves of `buckets`, by bucket (a bucket with none is absent).
        func leaves(buckets: [Int]) throws -> [Int: [(key: [UInt8], tag: [UInt8])]] {
            var result: [Int: [(key: [UInt8], tag: [UInt8])]] = [:]
            try forChunks(of: buckets, sql: "SELECT key, bucket, tag FROM decision_leaves WHERE bucket IN") { row in
                result[row[1], default: []].append(([UInt8](row[0] as Data), [UInt8](row[2] as Data)))
            }
            return result
        }

        /// One bucket's leaves and the four pages on its path, in one statement (a single
        /// leaf's proof, which every record read makes).
        func path(bucket: Int, pages positions: [Int]) throws -> (leaves: [(key: [UInt8], tag: [UInt8])], pages: [Int: [UInt8]]) {
            guard positions.count == 4 else { throw PrivacyKitError(.internal, "a leaf's path has four pages") }
            var leaves: [(key: [UInt8], tag: [UInt8])] = []
            var pages: [Int: [UInt8]] = [:]
            let rows = try StoreRow.fetchAll(db.cachedStatement(sql: """
                SELECT 0, key, tag FROM decision_leaves WHERE bucket = ?
                UNION ALL SELECT pos + 1, NULL, hash FROM decision_nodes WHERE pos IN (?, ?, ?, ?)
                """), arguments: StoreArguments([bucket] + positions))
            for row in rows {
                let marker = Int(row[0] as Int64)
                if marker == 0 {
                    leaves.append(([UInt8](row[1] as Data), [UInt8](row[2] as Data)))
                } else if let page = (row[2] as Data?).map([UInt8].init), page.count == DecisionIntegrity.pageByteCount {
                    pages[marker - 1] = page
                }
            }
            return (leaves, pages)
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

        /// The stored pages at `positions` (level << 20 | index, the key of
        /// `decision_nodes`); absent ones are empty.
        func pages(_ positions: [Int]) throws -> [Int: [UInt8]] {
            var result: [Int: [UInt8]] = [:]
            try forChunks(of: positions, sql: "SELECT pos, hash FROM decision_nodes WHERE pos IN") { row in
                let page = [UInt8](row[1] as Data)
                // A page of another size is damage: read as empty, its root will not match.
                if page.count == DecisionIntegrity.pageByteCount { result[Int(row[0] as Int64)] = page }
            }
            return result
        }

        func setPage(_ position: Int, page: [UInt8]?) throws {
            if let page {
                try db.cachedStatement(sql: """
                    INSERT INTO decision_nodes (pos, hash) VALUES (?, ?) ON CONFLICT (pos) DO UPDATE SET hash = excluded.hash
                    """).execute(arguments: [position, Data(page)])
            } else {
                try db.cachedStatement(sql: "DELETE FROM decision_nodes WHERE pos = ?").execute(arguments: [position])
            }
        }

        /// Runs `sql` (ending in `IN`) over `values` in chunks of one fixed size, padded
        /// with -1 (no position or bucket), so one prepared statement serves every call.
        private func forChunks(of values: [Int], sql: String, _ body: (StoreRow) throws -> Void) throws {
            let size = values.count <= 8 ? 8 : 64
            let statement = try db.cachedStatement(sql: "\(sql) (\(Array(repeating: "?", count: size).joined(separator: ",")))")
            var start = 0
            while start < values.count {
                var chunk = Array(values[start..<min(start + size, values.count)])
                start += chunk.count
                chunk += Array(repeating: -1, count: size - chunk.count)
                for row in try StoreRow.fetchAll(statement, arguments: StoreArguments(chunk)) { try body(row) }
            }
        }

        /// Empties the tree (before it is built again from the rows: the upgrade).
        func clear() throws {
            try db.execute(sql: "DELETE FROM decision_leaves")
            try db.execute(sql: "DELETE FROM decision_nodes")
        }

        // MARK: The rows a leaf covers, in a fixed order and form

        /// A row a leaf covers: its table, and its columns in a fixed order.
        typealias Row = (table: String, values: ArraySlice<StoreValue>)

        /// One subject's decision rows: consent state by purpose, restriction, holds by id,
        /// tombstone, and its record — one statement (a decision reads them on every check,
        /// and a record read takes its row from them).
        func subjectRows(_ subject: String, allRecords: Bool = true) throws -> [Row] {
            let sql = Self.subjectRowsSQL(idColumn: false, allRecords: allRecords) { "\($0) = ?" }
            let rows = try StoreRow.fetchAll(db.cachedStatement(sql: sql), arguments: StoreArguments(Self.arguments([subject], allRecords: allRecords)))
            return rows.map { Self.row($0.values[...]) }
        }

        /// ``subjectRows(_:allRecords:)`` of many subjects at once (a batch of consent
        /// answers, an import's new subjects): one statement, the ids bound as one JSON array.
        func subjectRows(among ids: [String], allRecords: Bool = true) throws -> [String: [Row]] {
            var rows: [String: [Row]] = [:]
            guard !ids.isEmpty else { return rows }
            let sql = "WITH \(db.dialect.jsonArrayTable("ids")) "
                + Self.subjectRowsSQL(idColumn: true, allRecords: allRecords) { "\($0) IN (SELECT id FROM ids)" }
            let arguments: [any StoreValueConvertible] = [StoreDialect.jsonArray(ids)] + (allRecords ? [] : Self.revisedRange)
            for row in try StoreRow.fetchAll(db.cachedStatement(sql: sql), arguments: StoreArguments(arguments)) {
                rows[row[0], default: []].append(Self.row(row.values.dropFirst()))
            }
            return rows
        }

        /// A record is part of its leaf from revision 1 on: its `sealed` column then lies in
        /// [00 00 00 00 01, 01) (RecordSeal). A proof reads only those (`allRecords` false);
        /// a record read, or an import asking which subjects exist, reads every record.
        private static var revisedRange: [any StoreValueConvertible] { [Data([0, 0, 0, 0, 1]), Data([1])] }

        private static func arguments(_ ids: [String], allRecords: Bool) -> [any StoreValueConvertible] {
            ids as [any StoreValueConvertible] + (allRecords ? [] : revisedRange) + Array(repeating: ids, count: tables.count - 1).flatMap { $0 }
        }

        /// The five tables a subject's leaf covers as one union, every row in one shape:
        /// (table number, key, eight columns as text or NULL, two as blobs or NULL), in leaf
        /// order. Integers are cast to text so both engines give one type per column; the
        /// subjects come first because PostgreSQL types a union's NULL columns pair by pair
        /// from the left (NULL with NULL is text, and text does not match a blob).
        private static func subjectRowsSQL(idColumn: Bool, allRecords: Bool, condition: (String) -> String) -> String {
            let id = idColumn ? "subject_id, " : ""
            let subjectID = idColumn ? "id AS subject_id, " : ""
            return """
                SELECT \(subjectID)5, NULL, CAST(kek_version AS TEXT), CAST(key_version AS TEXT), plain, invalid, created_at, updated_at, NULL, NULL, wrapped_key, sealed FROM subjects WHERE \(condition("id"))\(allRecords ? "" : " AND sealed >= ? AND sealed < ?")
                UNION ALL SELECT \(id)1, purpose, kind, CAST(event_id AS TEXT), time, notice_version, expires_at, NULL, NULL, NULL, NULL, NULL FROM consent_state WHERE \(condition("subject_id"))
                UNION ALL SELECT \(id)2, NULL, reason, placed_by, placed_at, request_id, NULL, NULL, NULL, NULL, NULL, NULL FROM restrictions WHERE \(condition("subject_id"))
                UNION ALL SELECT \(id)3, id, category, reason, placed_by, placed_at, until, released_at, released_by, release_reason, NULL, NULL FROM legal_holds WHERE \(condition("subject_id"))
                UNION ALL SELECT \(id)4, NULL, erased_at, reason, request_id, rule, actor, CAST(audit_seq AS TEXT), receipt, NULL, NULL, NULL FROM tombstones WHERE \(condition("subject_id"))
                ORDER BY \(idColumn ? "1, 2, 3" : "1, 2")
                """
        }

        static let tables = ["consent_state", "restrictions", "legal_holds", "tombstones", "subjects"]
        /// The union's columns after the table number that each table fills (the first
        /// four leave the two blob columns empty, and their tags are as before the record
        /// joined the leaf).
        private static let columnCounts = [9, 9, 9, 9, 11]

        /// A union row (from its table number on) as the leaf takes it.
        static func row(_ values: ArraySlice<StoreValue>) -> Row {
            guard case .integer(let number) = values.first, (1...tables.count).contains(Int(number)) else { return ("?", values) }
            let columns = values.dropFirst()
            return (tables[Int(number) - 1], columns.prefix(columnCounts[Int(number) - 1]))
        }

        private static let holdColumns = "id, category, reason, placed_by, placed_at, until, released_at, released_by, release_reason"

        /// Every hold on a category (one leaf for all of them: there are few).
        func categoryHoldRows() throws -> [StoreRow] {
            try StoreRow.fetchAll(db.cachedStatement(sql: "SELECT \(Self.holdColumns) FROM legal_holds WHERE category IS NOT NULL ORDER BY id"))
        }

        /// Every client row (one leaf for all of them: there are few), integers as text so
        /// both engines give one form.
        func clientRows() throws -> [Row] {
            try StoreRow.fetchAll(db.cachedStatement(sql: """
                SELECT name, role, purposes, CAST(token_version AS TEXT), token_hash, certificate_subject, created_at, created_by, expires_at,
                       revoked_at, revoked_by
                FROM clients ORDER BY name
                """)).map { ("clients", $0.values[...]) }
        }

        /// Every subject id that has a decision row or a revised record (the tree is built from them).
        func subjectsWithState() throws -> [String] {
            // A record is in its leaf from revision 1 on: its `sealed` column then starts
            // 00 and a non-zero revision, i.e. lies in [00 00 00 00 01, 01) (RecordSeal).
            try String.fetchAll(db, sql: """
                SELECT subject_id FROM consent_state UNION SELECT subject_id FROM restrictions
                UNION SELECT subject_id FROM legal_holds WHERE subject_id IS NOT NULL UNION SELECT subject_id FROM tombstones
                UNION SELECT id FROM subjects WHERE sealed >= ? AND sealed < ? ORDER BY 1
                """, arguments: StoreArguments(Self.revisedRange))
        }
    }

    var tree: Tree { Tree(db: db) }
}
