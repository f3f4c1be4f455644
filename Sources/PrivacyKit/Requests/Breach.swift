public import Foundation
import Sodium

/// The supervisory authority must be notified within 72 hours of becoming aware of a
/// breach (GDPR art. 33(1)).
public enum BreachDeadline {
    public static let notificationWindow: TimeInterval = 72 * 3600

    /// Exactly 72 hours after detection.
    public static func notification(detectedAt: Date) -> Date { detectedAt.addingTimeInterval(notificationWindow) }
}

public enum BreachStatus: String, Sendable, Codable, CaseIterable {
    case open, closed
}

/// A recorded breach, with its deadline and status evaluated at ``asOf``.
public struct BreachRecord: Sendable, Equatable, Encodable {
    public let id: String
    public let detectedAt: Date
    /// Operator text; may be sensitive (never in the audit log).
    public let summary: String
    public let openedAt: Date
    public let openedBy: String
    public let closedAt: Date?
    public let closedBy: String?
    public let closeReason: String?
    public let notifiedAuthorityAt: Date?
    public let asOf: Date

    public var deadline: Date { BreachDeadline.notification(detectedAt: detectedAt) }
    public var status: BreachStatus { closedAt == nil ? .open : .closed }
    /// Open and past its notification deadline at ``asOf`` (notifying at the deadline
    /// instant is on time). The notification is recorded when the breach is closed.
    public var overdue: Bool { closedAt == nil && asOf > deadline }
    /// Whether the authority was notified after the deadline (nil: not notified).
    public var notifiedLate: Bool? { notifiedAuthorityAt.map { $0 > deadline } }

    enum CodingKeys: String, CodingKey {
        case id, summary, deadline, status, overdue
        case detectedAt = "detected_at", openedAt = "opened_at", openedBy = "opened_by", closedAt = "closed_at", closedBy = "closed_by"
        case closeReason = "close_reason", notifiedAuthorityAt = "notified_authority_at", notifiedLate = "notified_late", asOf = "as_of"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let texts: [(CodingKeys, String?)] = [
            (.id, id), (.summary, summary), (.openedBy, openedBy), (.status, status.rawValue), (.closedBy, closedBy), (.closeReason, closeReason),
        ]
        let times: [(CodingKeys, Date?)] = [
            (.detectedAt, detectedAt), (.openedAt, openedAt), (.deadline, deadline), (.closedAt, closedAt),
            (.notifiedAuthorityAt, notifiedAuthorityAt), (.asOf, asOf),
        ]
        for (key, text) in texts { try c.encodeIfPresent(text, forKey: key) }
        for (key, time) in times { try c.encodeIfPresent(time.map(Timestamp.precise), forKey: key) }
        try c.encode(overdue, forKey: .overdue)
        try c.encodeIfPresent(notifiedLate, forKey: .notifiedLate)
    }

    /// From a stored row (``BreachesTable``): times checked.
    init(_ row: BreachRow, asOf: Date) throws {
        id = row.id
        detectedAt = try Tracking.date(row.detectedAt)
        summary = row.summary
        openedAt = try Tracking.date(row.openedAt)
        openedBy = row.openedBy
        closedAt = try Tracking.date(row.closedAt)
        closedBy = row.closedBy
        closeReason = row.closeReason
        notifiedAuthorityAt = try Tracking.date(row.notifiedAuthorityAt)
        self.asOf = asOf
    }
}

/// The subjects whose data was read, exported or changed in a window, from the audit log.
public struct BreachImpact: Sendable, Equatable, Encodable {
    public struct Subject: Sendable, Equatable, Encodable {
        public let subject: String
        /// Erased since (only its tombstone is left).
        public let erased: Bool
        public let events: Int
        /// Events per action (`record.read`, …).
        public let actions: [String: Int]
        /// Field values touched per schema category (`other` for names the schema lacks).
        public let categories: [String: Int]
    }

    public struct CategoryTotal: Sendable, Equatable, Encodable {
        /// Subjects with at least one field of the category touched.
        public let subjects: Int
        /// Field values touched.
        public let values: Int
    }

    public let since: Date
    public let until: Date
    public let actor: String?
    public let kekVersion: Int?
    public let breach: String?
    /// By subject id.
    public let subjects: [Subject]
    public let totals: [String: CategoryTotal]
    /// Events counted (of the subjects listed).
    public let events: Int
    /// Pseudonyms in the window that no stored or erased subject has (left out with a KEK
    /// version filter).
    public let unresolved: [String]

    /// The actions that count: personal data read, exported or changed, by an allowed event
    /// naming a subject.
    public static let actions: [AuditAction] = [.recordRead, .recordExport, .recordWrite, .recordImport]

    enum CodingKeys: String, CodingKey {
        case since, until, actor, breach, subjects, totals, events, unresolved
        case kekVersion = "key_version", subjectCount = "subject_count"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(Timestamp.precise(since), forKey: .since)
        try c.encode(Timestamp.precise(until), forKey: .until)
        try c.encodeIfPresent(actor, forKey: .actor)
        try c.encodeIfPresent(kekVersion, forKey: .kekVersion)
        try c.encodeIfPresent(breach, forKey: .breach)
        try c.encode(subjects.count, forKey: .subjectCount)
        try c.encode(events, forKey: .events)
        try c.encode(subjects, forKey: .subjects)
        try c.encode(totals, forKey: .totals)
        try c.encode(unresolved, forKey: .unresolved)
    }
}

/// Personal-data breach records with their 72-hour notification deadline and impact.
public struct VaultBreaches: VaultCapability {
    let core: VaultCore

    /// Records a breach (`breach.open`) and its 72-hour notification deadline. The summary
    /// is stored, not put in the audit event.
    ///
    /// - Throws: `.invalidInput` for a detection time in the future or an empty summary.
    @discardableResult
    public func open(detectedAt: Date, summary: String, context: AccessContext) throws -> BreachRecord {
        let detected = try Tracking.past(detectedAt, "the detection time")
        let summary = try Tracking.text(summary, "the summary", limit: 4000, lines: true)
        let id = Tracking.newID("breach")
        var acting = context
        acting.requestID = id
        return try perform(acting, AccessRequest(.breach, event: .breachOpen)) { tx, _ in
            let now = Date()
            try BreachesTable(db: tx.db).insert(id: id, detectedAt: detected, summary: summary, openedAt: Timestamp.precise(now), openedBy: context.actor)
            let breach = try loadBreach(tx.db, id, asOf: now)
            tx.record(AuditEntry(.breachOpen, reason: "\(id): detected at \(detected), notify the authority by \(Timestamp.precise(breach.deadline))"))
            return breach
        }
    }

    /// Recorded breaches, oldest detection first, evaluated at `now`. Reads no personal
    /// data and writes no event (a refusal is audited).
    public func list(openOnly: Bool = false, now: Date = Date(), context: AccessContext) throws -> [BreachRecord] {
        _ = try authorize(AccessRequest(.breach, event: .breachAffected), context: context)
        return try store.read { db in
                try BreachesTable(db: db).breaches(unclosedOnly: openOnly).map { try BreachRecord($0, asOf: now) }
            }
    }

    /// One breach, evaluated at `now`.
    ///
    /// - Throws: `.notFound` for an unknown id.
    public func get(_ id: String, now: Date = Date(), context: AccessContext) throws -> BreachRecord {
        _ = try authorize(AccessRequest(.breach, event: .breachAffected), context: context)
        return try store.read { db in try loadBreach(db, id, asOf: now) }
    }

    /// Closes a breach (`breach.close`): once the authority was notified (at
    /// `notifiedAuthorityAt`), or the decision not to notify was taken. The reason is
    /// required and stored, not put in the audit event.
    ///
    /// - Throws: `.invalidInput` for a closed breach, an empty reason, or times in the
    ///   future or before detection; `.notFound` for an unknown id.
    @discardableResult
    public func close(
        _ id: String, reason: String, notifiedAuthorityAt: Date? = nil, at time: Date = Date(), context: AccessContext
    ) throws -> BreachRecord {
        let reason = try Tracking.text(reason, "the reason")
        let at = try Tracking.past(time, "the closing time")
        let notified = try notifiedAuthorityAt.map { try Tracking.past($0, "the notification time") }
        var acting = context
        acting.requestID = id
        return try perform(acting, AccessRequest(.breach, event: .breachClose)) { tx, _ in
            let before = try loadBreach(tx.db, id, asOf: time)
            if let closed = before.closedAt {
                throw PrivacyKitError(.invalidInput, "breach \(id) was closed at \(Timestamp.precise(closed))")
            }
            try Tracking.notBefore(at, "the closing time", before.detectedAt, "detection")
            if let notified { try Tracking.notBefore(notified, "the notification time", before.detectedAt, "detection") }
            try BreachesTable(db: tx.db).close(id: id, at: at, by: context.actor, reason: reason, notifiedAuthorityAt: notified)
            let after = try loadBreach(tx.db, id, asOf: time)
            let notice = notified.map { "authority notified at \($0) (\(after.notifiedLate == true ? "after" : "within") 72 hours)" } ?? "authority not notified"
            tx.record(AuditEntry(.breachClose, reason: "\(id): closed at \(at); \(notice)"))
            return after
        }
    }

    /// The subjects whose data was read, exported, written or imported (allowed events)
    /// with `since <= time < until`, optionally by one `actor` and only subjects whose key is
    /// wrapped under KEK version `kekVersion` now. Pseudonyms are mapped back to subject ids
    /// by computing the pseudonym of every stored and erased subject (streamed). Recorded
    /// as one `breach.affected` event with the counts.
    ///
    /// - Throws: `.invalidInput` for an empty window, an empty actor or a version below 1;
    ///   `.notFound` for an unknown `breach`.
    public func affected(
        since: Date, until: Date, actor: String? = nil, kekVersion: Int? = nil, breach: String? = nil, context: AccessContext
    ) throws -> BreachImpact {
        try Self.checkWindow(since: since, until: until, actor: actor, kekVersion: kekVersion)
        var acting = context
        acting.requestID = breach ?? context.requestID
        return try perform(acting, AccessRequest(.breach, event: .breachAffected)) { tx, _ in
            if let breach { _ = try loadBreach(tx.db, breach, asOf: Date()) }
            let impact = try self.impact(tx.db, since: since, until: until, actor: actor, kekVersion: kekVersion, breach: breach)
            var window = "\(Timestamp.precise(since)) to \(Timestamp.precise(until))"
            if let actor { window += ", actor \(actor)" }
            if let kekVersion { window += ", KEK v\(kekVersion)" }
            tx.record(AuditEntry(.breachAffected, reason: "\(breach.map { "\($0): " } ?? "")affected subjects \(window): "
                                 + "\(impact.subjects.count) subjects (\(impact.subjects.filter(\.erased).count) erased), \(impact.events) events, \(impact.unresolved.count) unresolved"))
            return impact
        }
    }

    static func checkWindow(since: Date, until: Date, actor: String?, kekVersion: Int?) throws {
        guard since < until else {
            throw PrivacyKitError(.invalidInput, "the window is empty: since \(Timestamp.precise(since)) is not before until \(Timestamp.precise(until))")
        }
        if actor?.isEmpty == true { throw PrivacyKitError(.invalidInput, "the actor is empty") }
        if let kekVersion, kekVersion < 1 { throw PrivacyKitError(.invalidInput, "a KEK version is 1 or more") }
    }

    /// The impact of a window, computed inside the caller's transaction (which records it).
    func impact(_ db: StoreDatabase, since: Date, until: Date, actor: String?, kekVersion: Int?, breach: String?) throws -> BreachImpact {
        let macKeys = keyring.versions(.auditMAC).compactMap { keyring.key(.auditMAC, version: $0)?.secret }
        var tallies = try tallyEvents(db, since: since, until: until, actor: actor)
        // Pseudonym -> (id, erased, KEK version), streaming every subject and tombstone;
        // memory holds only the subjects found in the window.
        var found: [String: (id: String, erased: Bool, kek: Int?)] = [:]
        for erased in [false, true] {
            let cursor = erased ? try db.decisions.tombstones.erasedIDs() : try db.decisions.subjects.idsAndKEKVersions()
            while found.count < tallies.count, let (id, kek) = try cursor.next() {
                for key in macKeys {
                    let pseudonym = try AuditChain.pseudonym(subjectID: id, key: key)
                    if tallies[pseudonym] != nil && found[pseudonym] == nil { found[pseudonym] = (id, erased, kek) }
                }
            }
        }
        var subjects: [BreachImpact.Subject] = []
        var unresolved: [String] = []
        for (pseudonym, tally) in tallies {
            guard let match = found[pseudonym] else {
                if kekVersion == nil { unresolved.append(pseudonym) }
                continue
            }
            if let kekVersion, match.kek != kekVersion { continue }
            subjects.append(.init(subject: match.id, erased: match.erased, events: tally.events, actions: tally.actions, categories: tally.categories))
        }
        tallies.removeAll()
        subjects.sort { $0.subject < $1.subject }
        var totals: [String: (subjects: Int, values: Int)] = [:]
        for subject in subjects {
            for (category, values) in subject.categories {
                totals[category, default: (0, 0)].subjects += 1
                totals[category, default: (0, 0)].values += values
            }
        }
        return BreachImpact(
            since: since, until: until, actor: actor, kekVersion: kekVersion, breach: breach, subjects: subjects,
            totals: totals.mapValues { .init(subjects: $0.subjects, values: $0.values) },
            events: subjects.reduce(0) { $0 + $1.events }, unresolved: unresolved.sorted())
    }

    private struct Tally {
        var events = 0
        var actions: [String: Int] = [:]
        var categories: [String: Int] = [:]
    }

    /// The counted events of the window, per subject pseudonym (one pass over the log).
    private func tallyEvents(_ db: StoreDatabase, since: Date, until: Date, actor: String?) throws -> [String: Tally] {
        var tallies: [String: Tally] = [:]
        let cursor = try AuditTable(db: db).allowedSubjectEvents(
            since: Timestamp.precise(since), until: Timestamp.precise(until), actions: BreachImpact.actions.map(\.rawValue), actor: actor)
        while let (action, pseudonym, fields) = try cursor.next() {
            var tally = tallies[pseudonym, default: Tally()]
            tally.events += 1
            tally.actions[action, default: 0] += 1
            for field in fields.split(separator: ",") {
                tally.categories[schema[String(field)]?.category ?? "other", default: 0] += 1
            }
            tallies[pseudonym] = tally
        }
        return tallies
    }

    func loadBreach(_ db: StoreDatabase, _ id: String, asOf: Date) throws -> BreachRecord {
        guard let row = try BreachesTable(db: db).breach(id: id) else {
            throw PrivacyKitError(.notFound, "no breach \(id) (ids look like breach- and 16 hex digits)")
        }
        return try BreachRecord(row, asOf: asOf)
    }
}
