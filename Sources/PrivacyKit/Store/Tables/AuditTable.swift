import Foundation

/// The newest event, as the append reads it.
struct AuditHead {
    let seq: Int64
    let hash: Data
    let checkpointSeq: Int64?
    let mac: Data?
    let stateRoot: Data?

    /// What ``init(_:)`` reads, in order.
    static let columns = "seq, hash, checkpoint_seq, mac, state_root"

    init(_ row: StoreRow) {
        (seq, hash, checkpointSeq, mac, stateRoot) = (row[0], row[1], row[2], row[3], row[4])
    }
}

/// A row of `audit_checkpoints` (migration `v2-audit`), as stored.
struct AuditCheckpointRow {
    let seq: Int64
    let chainHash: Data
    let time: String
    let keyFingerprint: String
    let signature: Data

    init(_ row: StoreRow) {
        seq = row[0]
        chainHash = row[1]
        time = row[2]
        keyFingerprint = row[3]
        signature = row[4]
    }
}

/// Every statement on the audit tables (`audit_events`, `audit_checkpoints`), for the log,
/// its verifier and its readers.
///
/// Appending and verifying are the benchmarked hot paths: statements that recur are cached
/// (`cachedStatement`, prepared once per connection), the append loop runs the one insert
/// statement ``insertStatement()`` hands out, and events are handed over as `StoreRow`s in
/// the order of ``eventColumns``, read in place by the caller (no record per event).
struct AuditTable {
    let db: StoreDatabase

    /// The columns of an event, in the order every event read below returns them: those
    /// of format 1, then format 2's `checkpoint_seq, state_root, mac` (13, 14, 15) in a
    /// store that has them (see ``keyedColumns``).
    var eventColumns: String {
        !keyedColumns ? Self.eventColumnsV1 : macColumns ? Self.eventColumnsV2 : Self.eventColumnsV1 + ", checkpoint_seq"
    }
    static let eventColumnsV1 = "seq, time, actor, role, action, subject, fields, purpose, outcome, reason, request_id, prev_hash, hash"
    static let eventColumnsV2 = eventColumnsV1 + ", checkpoint_seq, state_root, mac"
    /// Whether the store has format 2's columns (`v8-integrity`); a format-1 store that
    /// has not been upgraded does not.
    let keyedColumns: Bool
    /// Whether event reads include `state_root` and `mac` (not for the public-key verifier).
    let macColumns: Bool

    init(db: StoreDatabase, keyedColumns: Bool = true, macColumns: Bool = true) {
        self.db = db
        self.keyedColumns = keyedColumns
        self.macColumns = macColumns
    }

    /// The table of a store whose format is not known: asks the schema.
    static func inspecting(_ db: StoreDatabase, macs: Bool = true) throws -> AuditTable {
        AuditTable(db: db, keyedColumns: try db.columnExists("mac", in: "audit_events"), macColumns: macs)
    }
    /// Events per segment of the subject index (`seq / 65536`): must match the migration.
    static let subjectSegment: Int64 = 65536

    /// The subject index's segments up to `seq`, as an SQL list: naming them lets the
    /// `(seq / 65536, subject)` index serve a query by subject.
    static func segments(upTo seq: Int64) -> String {
        (0...(seq / subjectSegment)).map(String.init).joined(separator: ",")
    }

    static let headSQL = "SELECT \(AuditHead.columns) FROM audit_events ORDER BY seq DESC LIMIT 1"
    /// Binds the columns of ``eventColumnsV2``, in that order.
    static let insertSQL = """
        INSERT INTO audit_events (seq, time, actor, role, action, subject, fields, purpose, outcome, reason, request_id, prev_hash, hash, checkpoint_seq, state_root, mac)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """

    // MARK: Writing

    /// The newest event's seq, hash, recorded checkpoint (nil for format 1) and MAC (nil
    /// for format 1 and for a failed unlock); nil for an empty log.
    func head() throws -> AuditHead? {
        try StoreRow.fetchOne(db.cachedStatement(sql: Self.headSQL)).map(AuditHead.init)
    }

    /// The newest event with a MAC (the head but for failed unlocks after it): the one whose
    /// state root is the committed decision-state root.
    func newestKeyed() throws -> AuditHead? {
        try StoreRow.fetchOne(db.cachedStatement(sql: "SELECT \(AuditHead.columns) FROM audit_events WHERE mac IS NOT NULL ORDER BY seq DESC LIMIT 1"))
            .map(AuditHead.init)
    }

    /// One event by seq (rows of ``eventColumns``).
    func event(seq: Int64) throws -> StoreRow? {
        try StoreRow.fetchOne(db.cachedStatement(sql: "SELECT \(eventColumns) FROM audit_events WHERE seq = ?"), arguments: [seq])
    }

    /// The statement that appends one event (``insertSQL``), prepared once.
    func insertStatement() throws -> StoreStatement {
        try db.cachedStatement(sql: Self.insertSQL)
    }

    func insertCheckpoint(seq: Int64, chainHash: Data, time: String, keyFingerprint: String, signature: Data) throws {
        try db.cachedStatement(sql: "INSERT INTO audit_checkpoints (seq, chain_hash, time, key_fingerprint, signature) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [seq, chainHash, time, keyFingerprint, signature])
    }

    // MARK: Checkpoints

    func checkpoint(seq: Int64) throws -> AuditCheckpointRow? {
        try StoreRow.fetchOne(
            db.cachedStatement(sql: "SELECT seq, chain_hash, time, key_fingerprint, signature FROM audit_checkpoints WHERE seq = ?"),
            arguments: [seq]
        ).map(AuditCheckpointRow.init)
    }

    /// Every stored checkpoint, by seq (one per command or per 10,000 events: few).
    func checkpoints() throws -> [AuditCheckpointRow] {
        try StoreRow.fetchAll(db, sql: "SELECT seq, chain_hash, time, key_fingerprint, signature FROM audit_checkpoints ORDER BY seq")
            .map(AuditCheckpointRow.init)
    }

    /// The seq and time of the newest checkpoint; nil when there is none.
    func newestCheckpoint() throws -> (seq: Int64?, time: String?)? {
        try StoreRow.fetchOne(db, sql: "SELECT seq, time FROM audit_checkpoints ORDER BY seq DESC LIMIT 1").map { ($0[0], $0[1]) }
    }

    /// The sequence number of the newest checkpoint, or nil when there is none.
    func lastCheckpointSeq() throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM audit_checkpoints"))
    }

    /// The sequence number of the newest event, 0 for an empty log.
    func lastSeq() throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT MAX(seq) FROM audit_events")) ?? 0
    }

    // MARK: Reading events (rows of eventColumns)

    /// Every event, oldest first, streamed (the verifier).
    func allEvents() throws -> StoreCursor<StoreRow> {
        try StoreRow.fetchCursor(db, sql: "SELECT \(eventColumns) FROM audit_events ORDER BY seq")
    }

    /// Every event after `afterSeq`, oldest first, streamed (an export).
    func events(after afterSeq: Int64, since: String? = nil) throws -> StoreCursor<StoreRow> {
        guard let since else {
            return try StoreRow.fetchCursor(db, sql: "SELECT \(eventColumns) FROM audit_events WHERE seq > ? ORDER BY seq", arguments: [afterSeq])
        }
        return try StoreRow.fetchCursor(db, sql: "SELECT \(eventColumns) FROM audit_events WHERE seq > ? AND time >= ? ORDER BY seq", arguments: [afterSeq, since])
    }

    /// The events matching every filter given, oldest first. `subject` is a pseudonym,
    /// looked up in every seq segment of the subject index up to `newestSeq` (see the
    /// v2-audit migration); times are inclusive `since`, exclusive `until`.
    func events(
        subject: String?, newestSeq: Int64, actor: String?, action: String?, since: String?, until: String?, afterSeq: Int64?, limit: Int?,
        outcome: String? = nil, newestFirst: Bool = false
    ) throws -> [StoreRow] {
        var conditions: [String] = []
        var arguments: [(any StoreValueConvertible)?] = []
        if let subject {
            conditions.append("seq / \(Self.subjectSegment) IN (\(Self.segments(upTo: newestSeq))) AND subject = ?")
            arguments.append(subject)
        }
        if let actor { conditions.append("actor = ?"); arguments.append(actor) }
        if let action { conditions.append("action = ?"); arguments.append(action) }
        if let since { conditions.append("time >= ?"); arguments.append(since) }
        if let until { conditions.append("time < ?"); arguments.append(until) }
        if let afterSeq { conditions.append("seq > ?"); arguments.append(afterSeq) }
        if let outcome { conditions.append("outcome = ?"); arguments.append(outcome) }
        var sql = "SELECT \(eventColumns) FROM audit_events"
        if !conditions.isEmpty { sql += " WHERE " + conditions.joined(separator: " AND ") }
        sql += newestFirst ? " ORDER BY seq DESC" : " ORDER BY seq"
        if let limit { sql += " LIMIT \(max(0, limit))" }
        return try StoreRow.fetchAll(db, sql: sql, arguments: StoreArguments(arguments))
    }

    /// One subject's events (by pseudonym) up to `newestSeq`, oldest first: a subject
    /// export's access log.
    func subjectEvents(_ pseudonym: String, newestSeq: Int64) throws -> [StoreRow] {
        try StoreRow.fetchAll(db, sql: """
            SELECT \(eventColumns) FROM audit_events
            WHERE seq / \(Self.subjectSegment) IN (\(Self.segments(upTo: newestSeq))) AND subject = ? ORDER BY seq
            """, arguments: [pseudonym])
    }

    /// The newest allowed event naming the subject `pseudonym` with one of `actions`, at or
    /// after `since` (what a completed data-subject request rests on).
    func newestAllowedSubjectEvent(
        _ pseudonym: String, actions: [String], since: String
    ) throws -> (seq: Int64, action: String, time: String)? {
        guard let newest = try head()?.seq else { return nil }
        let row = try StoreRow.fetchOne(db, sql: """
            SELECT seq, action, time FROM audit_events
            WHERE seq / \(Self.subjectSegment) IN (\(Self.segments(upTo: newest))) AND subject = ? AND outcome = 'allowed' AND time >= ?
              AND action IN (\(actions.map { _ in "?" }.joined(separator: ", ")))
            ORDER BY seq DESC LIMIT 1
            """, arguments: StoreArguments([pseudonym, since] + actions))
        return row.map { ($0[0], $0[1], $0[2]) }
    }

    /// The allowed events naming a subject with one of `actions` and `since <= time <
    /// until` (optionally by `actor`), streamed as (action, subject pseudonym, fields).
    func allowedSubjectEvents(
        since: String, until: String, actions: [String], actor: String?
    ) throws -> StoreCursor<(action: String, subject: String, fields: String)> {
        var sql = """
            SELECT action, subject, fields FROM audit_events
            WHERE time >= ? AND time < ? AND outcome = 'allowed' AND subject IS NOT NULL
              AND action IN (\(actions.map { _ in "?" }.joined(separator: ", ")))
            """
        var values: [(any StoreValueConvertible)?] = [since, until] + actions
        if let actor { sql += " AND actor = ?"; values.append(actor) }
        return StoreCursor(try db.rows(sql, StoreArguments(values), cached: false)) { row in (row[0], row[1], row[2]) }
    }

    // MARK: The verifier's cross-check of the consent ledger (the ledger rows come from
    // `DecisionRows.Consent`)

    /// A statement reading one event's action, subject and reason by seq (argument: the
    /// seq), prepared once for the whole ledger.
    func eventSummaryStatement() throws -> StoreStatement {
        try db.makeStatement(sql: "SELECT action, subject, reason FROM audit_events WHERE seq = ?")
    }
}
