/// One subject's decision rows as its leaf covers them (``DecisionRows/Tree/subjectRows(_:allRecords:)``),
/// read for what decisions ask of them: whether it was erased or is restricted, its
/// consent for a purpose, its record. The union's table names and column layout stay here.
struct SubjectLeaf {
    let subjectID: String
    let rows: [DecisionRows.Tree.Row]

    private func first(_ table: String) -> DecisionRows.Tree.Row? { rows.first { $0.table == table } }

    /// When the subject was erased, if it was (its tombstone's time; "?" if unreadable).
    var erasedAt: String? {
        first("tombstones").map { row in
            if row.values.count > 1, case .text(let at) = row.values[row.values.startIndex + 1] { at } else { "?" }
        }
    }

    var isRestricted: Bool { first("restrictions") != nil }

    var hasRecord: Bool { first("subjects") != nil }

    /// The subject's consent state for `purpose`, if it has one.
    func consent(purpose: String) -> ConsentRow? {
        rows.lazy.filter { $0.table == "consent_state" }.compactMap { ConsentRow(leafValues: $0.values, purpose: purpose) }.first
    }

    /// The record, if the rows hold it (read with every record, or a revised one).
    func record() throws -> SubjectRow? {
        try first("subjects").map { try SubjectRow(leafValues: $0.values, subjectID: subjectID) }
    }
}
