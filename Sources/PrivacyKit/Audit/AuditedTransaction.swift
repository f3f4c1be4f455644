
/// The handle an audited operation works through: the store transaction, and the events
/// it records, which are appended in that same transaction before it commits.
final class AuditedTransaction {
    let db: StoreDatabase
    private(set) var entries: [AuditEntry] = []

    init(db: StoreDatabase) { self.db = db }

    func record(_ entry: AuditEntry) {
        entries.append(entry)
        // Its append, at the end, commits the decision state: appends before it need not.
        db.decisionGuard?.laterAppendCertain = true
    }
}
