import Foundation

/// The one entry point to the rows that access, consent, restriction, hold and erasure
/// decisions rest on: the consent ledger and state (``Consent``), restrictions
/// (``Restrictions``), legal holds (``Holds``), tombstones (``Tombstones``), and subjects
/// with their wrapped keys and fields (``Subjects``), plus the retention candidates read
/// from subjects and consent state.
///
/// Every read and every write of those tables goes through a `DecisionRows` value and
/// nowhere else names them in SQL (`rows.consent.state(purpose:subject:)`,
/// `rows.holds.insert(…)`): the feature code, and the other typed queries of `Store/Tables/`
/// alike (key rotation re-wraps subject keys through ``Subjects/rewrap(id:kekVersion:wrappedKey:sealed:)``,
/// a restore replays erasures through ``Subjects`` and ``Tombstones``, the request trackers,
/// the breach impact assessment, the compliance report, the subject export, the audit
/// verifier's ledger check and the backup manifest's counts read through the accessors).
/// Only the schema (the migrations in `SQLiteStore.swift` and PrivacyKitPostgres's
/// `PostgresSchema.swift`) names the tables besides; `DataLayerTests` fails on any other SQL
/// literal that does. That is the point of the type: a check on every such row (the
/// integrity issue that follows issue 19 authenticates them) is added here, table by
/// table, once. The table accessors can only be made from a `DecisionRows` (their
/// initializers are file-private to their own file).
///
/// The statements are the ones the feature code used to hold, moved without a change of
/// text, in the subset of SQL both engines take (see `StoreDatabase.swift`); statements that
/// recur in hot paths (record get and put, consent answers, find, the sweep) stay prepared
/// once through `cachedStatement(sql:)`, as before.
struct DecisionRows {
    let db: StoreDatabase

    init(_ db: StoreDatabase) {
        self.db = db
    }

    /// The values among `ids` that `query` (a `SELECT column FROM table WHERE column IN`
    /// without its list) finds, a chunk of ids per statement.
    func present(among ids: [String], query: String) throws -> Set<String> {
        var found: Set<String> = []
        var start = ids.startIndex
        while start < ids.endIndex {
            // Bounded so a large batch stays well under SQLite's bound-parameter limit.
            let chunk = ids[start..<min(start + 500, ids.endIndex)]
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ",")
            let statement = try db.cachedStatement(sql: "\(query) (\(marks))")
            found.formUnion(try String.fetchAll(statement, arguments: StoreArguments(Array(chunk))))
            start = chunk.endIndex
        }
        return found
    }
}

extension StoreDatabase {
    /// The decision tables of this transaction (see ``DecisionRows``).
    var decisions: DecisionRows { DecisionRows(self) }
}
