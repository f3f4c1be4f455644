import Foundation

/// The store query that finds a rule's due subjects: category and event date evaluated in
/// SQL over the plain fields (a sweep never decrypts), in subject-id order, a page at a time.
struct RetentionQuery {
    struct Candidate {
        let id: String
        /// The event's Julian day number.
        let eventDay: Double
    }

    fileprivate let sql: String
    fileprivate let arguments: [(any StoreValueConvertible)?]
    let cutoffDay: Double

    init(rule: RetentionRule, policy: RetentionPolicy, cutoff: Date, dialect: StoreDialect) {
        func field(_ name: String) -> String { dialect.jsonText("s.plain", key: name) }
        var arguments: [(any StoreValueConvertible)?] = []
        var join = ""
        var idColumn = "s.id"
        let created = policy.createdField.map { "COALESCE(\(field($0)), s.created_at)" } ?? "s.created_at"
        let event: String
        switch rule.from {
        case .created: event = created
        case .lastInteraction: event = policy.lastInteractionField.map { "COALESCE(\(field($0)), \(created))" } ?? created
        case .accountClosed: event = policy.accountClosedField.map(field) ?? "NULL"
        case .field(let name): event = field(name)
        case .consentWithdrawn(let purpose):
            // Driven from the consent state (one purpose's rows, in subject order).
            join = "JOIN consent_state c ON c.subject_id = s.id AND c.purpose = ? AND c.kind IN ('withdraw', 'object')"
            arguments.append(purpose)
            idColumn = "c.subject_id"
            event = "c.time"
        }
        var conditions = ["\(idColumn) > ?"]
        if let category = rule.category, let categoryField = policy.categoryField {
            let value = field(categoryField)
            let listed = policy.category(named: category)?.values ?? []
            var predicate = listed.isEmpty ? "1 = 0" : "\(value) IN (\(listed.map { _ in "?" }.joined(separator: ",")))"
            var categoryArguments: [(any StoreValueConvertible)?] = listed
            if policy.defaultCategory == category {
                let all = policy.categories.flatMap(\.values)
                predicate = "(\(predicate) OR \(value) IS NULL" + (all.isEmpty ? ")" : " OR \(value) NOT IN (\(all.map { _ in "?" }.joined(separator: ","))))")
                categoryArguments += all
            }
            conditions.append(predicate)
            self.categoryArguments = categoryArguments
        } else {
            self.categoryArguments = []
        }
        conditions.append("\(dialect.julianDay(event)) <= ?")
        cutoffDay = Self.julianDay(cutoff)
        sql = "SELECT s.id, \(dialect.julianDay(event)) FROM subjects s \(join) WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(idColumn) LIMIT ?"
        self.arguments = arguments
    }

    fileprivate let categoryArguments: [(any StoreValueConvertible)?]

    /// The Julian day of a time, as SQLite's `julianday()` computes it.
    static func julianDay(_ date: Date) -> Double { date.timeIntervalSince1970 / 86_400 + 2_440_587.5 }
}

extension DecisionRows {
    /// The next `limit` due candidates of `query` after subject id `after`, in id order.
    func candidates(_ query: RetentionQuery, after: String, limit: Int) throws -> [RetentionQuery.Candidate] {
        var all = query.arguments
        all.append(after)
        all.append(contentsOf: query.categoryArguments)
        all.append(query.cutoffDay)
        all.append(limit)
        return try StoreRow.fetchAll(db.cachedStatement(sql: query.sql), arguments: StoreArguments(all)).map { RetentionQuery.Candidate(id: $0[0], eventDay: $0[1]) }
    }
}
