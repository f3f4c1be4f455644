import Foundation
import Sodium

/// The last event of a subject for a purpose, as the state table (or a replay of the
/// ledger) gives it.
struct ConsentRow {
    let kind: ConsentKind
    let eventID: Int64
    let time: String
    let noticeVersion: String?
    let expiresAt: String?

    init(kind: ConsentKind, eventID: Int64, time: String, noticeVersion: String?, expiresAt: String?) {
        self.kind = kind
        self.eventID = eventID
        self.time = time
        self.noticeVersion = noticeVersion
        self.expiresAt = expiresAt
    }

    /// From the columns kind, event id, time, notice version, expiry (the order every
    /// consent query selects them in).
    init?(_ row: StoreRow) {
        guard let kind = (row[0] as String?).flatMap(ConsentKind.init(rawValue:)) else { return nil }
        self.init(kind: kind, eventID: row[1], time: row[2], noticeVersion: row[3], expiresAt: row[4])
    }
}

extension ConsentRow {
    /// From a `consent_state` row of a subject's leaf (`DecisionRows.Tree.subjectRows`:
    /// purpose, kind, event id as text, time, notice version, expiry), if it is of `purpose`.
    init?(leafValues values: ArraySlice<StoreValue>, purpose: String) {
        let v = Array(values)
        guard v.count >= 6, case .text(purpose) = v[0], case .text(let kindText) = v[1], let kind = ConsentKind(rawValue: kindText),
              case .text(let eventText) = v[2], let eventID = Int64(eventText), case .text(let time) = v[3] else { return nil }
        func text(_ value: StoreValue) -> String? { if case .text(let t) = value { t } else { nil } }
        self.init(kind: kind, eventID: eventID, time: time, noticeVersion: text(v[4]), expiresAt: text(v[5]))
    }
}

extension ConsentEvent {
    /// From a ledger row selected as ``DecisionRows/Consent/history(pseudonym:purpose:)``
    /// selects it.
    init(ledgerRow row: StoreRow) {
        self.init(id: row[0], subject: row[1], purpose: row[2], kind: ConsentKind(rawValue: row[3]) ?? .withdraw, time: row[4], channel: row[5],
                  noticeVersion: row[6], evidenceHash: row[7], hasNote: row[8], actor: row[9], expiresAt: row[10], auditSeq: row[11])
    }
}

extension DecisionRows {
    /// `consent_ledger` (append-only; it names subjects by pseudonym) and `consent_state`
    /// (the last event per purpose and subject id, derived from the ledger as it is written).
    struct Consent {
        fileprivate let db: StoreDatabase

        /// The state row of `subject` for `purpose`: its last event now.
        func state(purpose: String, subject: String) throws -> ConsentRow? {
            try StoreRow.fetchOne(
                db.cachedStatement(sql: "SELECT kind, event_id, time, notice_version, expires_at FROM consent_state WHERE purpose = ? AND subject_id = ?"),
                arguments: [purpose, subject]
            ).flatMap { ConsentRow($0) }
        }

        /// The last ledger event of the subject named `pseudonym` for `purpose` at or before `time`.
        func lastEvent(pseudonym: String, purpose: String, atOrBefore time: String) throws -> ConsentRow? {
            try StoreRow.fetchOne(
                db.cachedStatement(sql: "SELECT kind, id, time, notice_version, expires_at FROM consent_ledger WHERE subject = ? AND purpose = ? AND time <= ? ORDER BY id DESC LIMIT 1"),
                arguments: [pseudonym, purpose, time]
            ).flatMap { ConsentRow($0) }
        }

        /// Every state row of `purpose`, streamed (rows of an unknown kind are skipped).
        func forEachState(purpose: String, _ body: (ConsentRow) throws -> Void) throws {
            let cursor = try StoreRow.fetchCursor(db, sql: "SELECT kind, event_id, time, notice_version, expires_at FROM consent_state WHERE purpose = ?", arguments: [purpose])
            while let row = try cursor.next() {
                guard let last = ConsentRow(row) else { continue }
                try body(last)
            }
        }

        /// How many state rows `subject` has (for an erasure receipt).
        func stateCount(subject: String) throws -> Int {
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM consent_state WHERE subject_id = ?"), arguments: [subject]) ?? 0
        }

        /// Appends a ledger row; returns its id.
        func appendLedger(
            pseudonym: String, purpose: String, kind: String, time: String, channel: String, notice: String?, evidence: String?,
            note: Data?, actor: String, expires: String?, auditSeq: Int64
        ) throws -> Int64? {
            try Int64.fetchOne(db, sql: """
                INSERT INTO consent_ledger (subject, purpose, kind, time, channel, notice_version, evidence_hash, note, actor, expires_at, audit_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id
                """, arguments: [pseudonym, purpose, kind, time, channel, notice, evidence, note, actor, expires, auditSeq])
        }

        /// Makes ledger row `eventID` the state of `subject` for `purpose`.
        func upsertState(purpose: String, subject: String, kind: String, eventID: Int64, time: String, notice: String?, expires: String?) throws {
            try db.decisionWillChange(.subject(subject))
            try db.execute(sql: """
                INSERT INTO consent_state (purpose, subject_id, kind, event_id, time, notice_version, expires_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (purpose, subject_id) DO UPDATE SET kind = excluded.kind, event_id = excluded.event_id,
                    time = excluded.time, notice_version = excluded.notice_version, expires_at = excluded.expires_at
                """, arguments: [purpose, subject, kind, eventID, time, notice, expires])
        }

        /// The ledger events of the subject named `pseudonym` (of one purpose, or all), oldest first.
        func history(pseudonym: String, purpose: String?) throws -> [ConsentEvent] {
            var sql = "SELECT id, subject, purpose, kind, time, channel, notice_version, evidence_hash, note IS NOT NULL, actor, expires_at, audit_seq FROM consent_ledger WHERE subject = ?"
            var arguments: [(any StoreValueConvertible)?] = [pseudonym]
            if let purpose { sql += " AND purpose = ?"; arguments.append(purpose) }
            return try StoreRow.fetchAll(db, sql: sql + " ORDER BY id", arguments: StoreArguments(arguments)).map(ConsentEvent.init(ledgerRow:))
        }

        /// How many ledger rows there are (a backup manifest records it).
        func ledgerCount() throws -> Int {
            try Int.fetchOne(db, sql: "SELECT count(*) FROM consent_ledger") ?? 0
        }

        /// Every ledger row, by id, streamed, for the audit verifier's cross-check: id,
        /// subject, purpose, kind, time, channel, notice_version, evidence_hash, note, actor,
        /// expires_at, audit_seq.
        func ledger() throws -> StoreCursor<StoreRow> {
            try StoreRow.fetchCursor(db, sql: """
                SELECT id, subject, purpose, kind, time, channel, notice_version, evidence_hash, note, actor, expires_at, audit_seq
                FROM consent_ledger ORDER BY id
                """)
        }

        /// The first consent-change audit event no ledger row names, if any (a row was removed).
        func eventWithoutLedgerRow() throws -> Int64? {
            try Int64.fetchOne(db, sql: """
                SELECT seq FROM audit_events WHERE action IN ('consent.grant', 'consent.withdraw', 'consent.object')
                AND seq NOT IN (SELECT audit_seq FROM consent_ledger) ORDER BY seq LIMIT 1
                """)
        }

        /// The ledger events of `pseudonym` for `purpose`, oldest first, each with the hash
        /// of the audit event that recorded it (for a consent receipt).
        func receiptEvents(pseudonym: String, purpose: String) throws -> [ConsentReceipt.Ledger.Event] {
            let rows = try StoreRow.fetchAll(db, sql: """
                SELECT l.id, l.kind, l.time, l.channel, l.notice_version, l.evidence_hash, l.expires_at, l.audit_seq, a.hash
                FROM consent_ledger l JOIN audit_events a ON a.seq = l.audit_seq
                WHERE l.subject = ? AND l.purpose = ? ORDER BY l.id
                """, arguments: [pseudonym, purpose])
            return rows.map { row in
                ConsentReceipt.Ledger.Event(id: row[0], kind: row[1], time: row[2], channel: row[3], noticeVersion: row[4], evidenceHash: row[5],
                                            expiresAt: row[6], auditSeq: row[7], auditHash: Hex.encode([UInt8](row[8] as Data)))
            }
        }

        /// The subject ids `purpose`'s consent model lets be processed at `now` (restrictions
        /// aside), streamed in id order.
        func audience(of purpose: Purpose, at now: String, _ each: (String) throws -> Void) throws {
            let sql: String
            var arguments: [(any StoreValueConvertible)?] = []
            switch purpose.consent {
            case .notRequired:
                sql = "SELECT id FROM subjects ORDER BY id"
            case .optOut:
                sql = """
                    SELECT id FROM subjects WHERE NOT EXISTS (
                        SELECT 1 FROM consent_state c WHERE c.purpose = ? AND c.subject_id = subjects.id AND c.kind != 'grant')
                    ORDER BY id
                    """
                arguments = [purpose.id]
            case .optIn:
                var condition = "purpose = ? AND kind = 'grant' AND (expires_at IS NULL OR expires_at > ?)"
                arguments = [purpose.id, now]
                if purpose.reconsentOnNoticeChange, let notice = purpose.noticeVersion {
                    condition += " AND notice_version = ?"
                    arguments.append(notice)
                }
                sql = "SELECT subject_id FROM consent_state WHERE \(condition) ORDER BY subject_id"
            }
            let cursor = try String.fetchCursor(db, sql: sql, arguments: StoreArguments(arguments))
            while let next = try cursor.next() {
                guard let id = next else { continue }
                try each(id)
            }
        }
    }

    var consent: Consent { Consent(db: db) }
}
