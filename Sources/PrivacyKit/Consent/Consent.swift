public import Foundation
import Sodium

/// What a ledger event says.
public enum ConsentKind: String, Sendable, Codable, CaseIterable {
    case grant, withdraw, object

    var auditAction: AuditAction {
        switch self {
        case .grant: .consentGrant
        case .withdraw: .consentWithdraw
        case .object: .consentObject
        }
    }
}

/// Where a consent event came from.
public enum ConsentChannel: String, Sendable, Codable, CaseIterable {
    case webForm = "web-form", store, callCentre = "call-centre", app, `import`, api
    /// A Global Privacy Control signal (an objection to every opt-out purpose).
    case gpc
}

/// One event of the consent ledger. `subject` is the subject's pseudonym, as in the audit
/// log: the ledger never names anyone.
public struct ConsentEvent: Sendable, Codable, Equatable {
    public let id: Int64
    public let subject: String
    public let purpose: String
    public let kind: ConsentKind
    public let time: String
    public let channel: String
    public let noticeVersion: String?
    public let evidenceHash: String?
    public let hasNote: Bool
    public let actor: String
    public let expiresAt: String?
    /// The audit event that recorded this change (its place in the hash chain).
    public let auditSeq: Int64

    enum CodingKeys: String, CodingKey {
        case id, subject, purpose, kind, time, channel, actor
        case noticeVersion = "notice_version"
        case evidenceHash = "evidence_hash"
        case hasNote = "has_note"
        case expiresAt = "expires_at"
        case auditSeq = "audit_seq"
    }
}

/// The state of a subject's consent for a purpose.
public enum ConsentState: String, Sendable, Codable, CaseIterable {
    /// A live grant.
    case granted
    /// The purpose needs no consent.
    case notRequired = "not-required"
    /// An opt-out purpose the subject has not objected to.
    case notObjected = "not-objected"
    case neverAsked = "never-asked"
    case withdrawn, expired
    /// Granted under a notice version that no longer counts.
    case noticeChanged = "notice-changed"
    case objected
    /// The subject's processing is restricted (GDPR art. 18): stored, not used.
    case restricted

    public var allows: Bool { self == .granted || self == .notRequired || self == .notObjected }
}

/// The answer to "may this subject be processed for this purpose at this time", and why.
public struct ConsentAnswer: Sendable, Encodable, Equatable {
    public let subject: String
    public let purpose: String
    public let state: ConsentState
    public var allowed: Bool { state.allows }
    /// The ledger event the answer rests on.
    public let eventID: Int64?
    // What the reason is made of, kept as values: building the sentence for every check
    // would cost more than the check (services ask hundreds of thousands at a time).
    let lawfulBasis: LawfulBasis
    let lastKind: ConsentKind?
    let lastTime: String?
    let lastNotice: String?
    let expiresAt: String?
    let currentNotice: String?

    /// In words: "granted on …, under notice …, expires …", "withdrawn on …", …
    public var reason: String {
        switch state {
        case .notRequired: return "lawful basis \(lawfulBasis.rawValue): no consent needed"
        case .notObjected: return lastTime.map { "opted back in on \($0)" } ?? "opt-out purpose: no objection recorded"
        case .neverAsked: return "never asked: no consent recorded"
        case .withdrawn: return "withdrawn on \(lastTime ?? "?")"
        case .objected: return "\(lastKind == .withdraw ? "withdrawn" : "objected") on \(lastTime ?? "?")"
        case .restricted: return "processing of the subject is restricted (GDPR art. 18)"
        case .expired: return "granted on \(lastTime ?? "?"), expired on \(expiresAt ?? "?")"
        case .noticeChanged:
            return "granted on \(lastTime ?? "?") under notice \(lastNotice ?? "none"); notice \(currentNotice ?? "?") requires fresh consent"
        case .granted:
            var reason = "granted on \(lastTime ?? "?")"
            if let notice = lastNotice { reason += " under notice \(notice)" }
            if let expires = expiresAt { reason += ", expires \(expires)" }
            return reason
        }
    }

    enum CodingKeys: String, CodingKey {
        case subject, purpose, state, allowed, reason
        case eventID = "event_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(subject, forKey: .subject)
        try c.encode(purpose, forKey: .purpose)
        try c.encode(state, forKey: .state)
        try c.encode(allowed, forKey: .allowed)
        try c.encode(reason, forKey: .reason)
        try c.encodeIfPresent(eventID, forKey: .eventID)
    }
}

/// What to record.
public struct ConsentChange: Sendable {
    public var kind: ConsentKind
    public var purpose: String
    public var channel: ConsentChannel
    /// Default: the purpose's notice version in force.
    public var noticeVersion: String?
    /// A hash of the signed form or recording (hex), kept as evidence.
    public var evidenceHash: String?
    /// A free-text note, stored encrypted under the subject's key.
    public var note: String?
    /// An expiry of this grant, if earlier than the purpose's validity.
    public var expiresAt: Date?

    public init(_ kind: ConsentKind, purpose: String, channel: ConsentChannel, noticeVersion: String? = nil,
                evidenceHash: String? = nil, note: String? = nil, expiresAt: Date? = nil) {
        self.kind = kind
        self.purpose = purpose
        self.channel = channel
        self.noticeVersion = noticeVersion
        self.evidenceHash = evidenceHash
        self.note = note
        self.expiresAt = expiresAt
    }
}

enum ConsentRules {
    /// The digest of a ledger row's content, written into its audit event's reason: the
    /// hash chain then covers the row, and `audit verify` catches a row edited, added or
    /// removed behind the library's back.
    static func digest(subject: String, purpose: String, kind: String, time: String, channel: String, notice: String?,
                       evidence: String?, note: [UInt8]?, actor: String, expires: String?) throws -> String {
        var c = Canonical("privacykit.consent-ledger.v1")
        for text in [subject, purpose, kind, time, channel, notice ?? "", evidence ?? ""] { c.append(text) }
        c.append(note ?? [])
        c.append(actor)
        c.append(expires ?? "")
        return Hex.encode(try BLAKE2b.hash(c.bytes, outputByteCount: 16))
    }

    /// Decides from the last event before `at` (nil: none). Times are compared as
    /// ISO 8601 UTC strings of one fixed format, which sort like the instants they name.
    static func answer(subject: String, purpose: Purpose, last: ConsentRow?, at: String) -> ConsentAnswer {
        ConsentAnswer(subject: subject, purpose: purpose.id, state: state(purpose: purpose, last: last, at: at), eventID: last?.eventID,
                      lawfulBasis: purpose.lawfulBasis, lastKind: last?.kind, lastTime: last?.time, lastNotice: last?.noticeVersion,
                      expiresAt: last?.expiresAt, currentNotice: purpose.noticeVersion)
    }

    static func state(purpose: Purpose, last: ConsentRow?, at: String) -> ConsentState {
        switch purpose.consent {
        case .notRequired:
            return .notRequired
        case .optOut:
            guard let last, last.kind != .grant else { return .notObjected }
            return .objected
        case .optIn:
            guard let last else { return .neverAsked }
            switch last.kind {
            case .withdraw: return .withdrawn
            case .object: return .objected
            case .grant:
                if let expires = last.expiresAt, at >= expires { return .expired }
                if purpose.reconsentOnNoticeChange, let current = purpose.noticeVersion, last.noticeVersion != current { return .noticeChanged }
                return .granted
            }
        }
    }
}

/// The consent ledger: recording grants, withdrawals and objections, answering "may this
/// subject be processed for this purpose?", audiences, counts and signed receipts.
public struct VaultConsent: VaultCapability {
    let core: VaultCore

    // MARK: Recording

    /// Appends one event to the consent ledger (with its audit event, in one transaction)
    /// and updates the derived state. The subject must exist.
    ///
    /// - Throws: `.invalidInput` for an unknown purpose, a grant for a purpose that needs no
    ///   consent, or a malformed evidence hash; `.notFound` for an unknown subject.
    @discardableResult
    public func record(_ change: ConsentChange, subject: String, at time: Date = Date(), context: AccessContext) throws -> ConsentEvent {
        try record([change], subject: subject, at: time, context: context)[0]
    }

    /// A Global Privacy Control signal: an objection to every opt-out purpose but the
    /// sensitive-data limit (the signal opts out of sale and sharing, CCPA regulations
    /// § 7025; a limit is its own request, § 7027).
    @discardableResult
    public func recordGPC(subject: String, at time: Date = Date(), context: AccessContext) throws -> [ConsentEvent] {
        let changes = purposes.purposes.values.filter { $0.consent == .optOut && !$0.limitsSensitive }.sorted { $0.id < $1.id }
            .map { ConsentChange(.object, purpose: $0.id, channel: .gpc) }
        return try record(changes, subject: subject, at: time, context: context)
    }

    func record(_ changes: [ConsentChange], subject: String, at time: Date, context: AccessContext) throws -> [ConsentEvent] {
        try RecordStore.checkSubjectID(subject)
        for change in changes {
            let purpose = try purposes.require(change.purpose)
            if change.kind == .grant && purpose.consent == .notRequired {
                throw PrivacyKitError(.invalidInput, "purpose \(purpose.id) needs no consent (lawful basis \(purpose.lawfulBasis.rawValue)): nothing to grant")
            }
            if let hash = change.evidenceHash, !(16...128).contains(hash.count) || !hash.allSatisfy(\.isHexDigit) {
                throw PrivacyKitError(.invalidInput, "the evidence hash must be 16 to 128 hex digits")
            }
            // A separate consent is given for its purpose alone: bundled with others it is
            // not one, so the ledger never holds a bundled grant for such a purpose.
            if change.kind == .grant, let first = purpose.separateConsent.first, changes.count > 1 {
                throw PrivacyKitError(.invalidInput, "purpose \(purpose.id) needs a separate consent (\(first.article)): grant it on its own, not together with other purposes")
            }
        }
        guard let first = changes.first else { return [] }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(context, AccessRequest(.consent, event: first.kind.auditAction, subject: subject)) { tx, _ in
            let store = RecordStore(core: core)
            guard let stored = try store.load(tx.db, subjectID: subject) else {
                throw PrivacyKitError(.notFound, "no subject \(subject)")
            }
            let pseudonym = try subjectPseudonym(subject)
            var events: [ConsentEvent] = []
            for change in changes {
                events.append(try appendConsent(tx.db, change, subject: subject, pseudonym: pseudonym, stored: stored, time: time, context: context, cipher: cipher))
            }
            return events
        }
    }

    /// Appends one consent event (its audit event, the ledger row, the derived state) in
    /// the caller's transaction.
    func appendConsent(
        _ db: StoreDatabase, _ change: ConsentChange, subject: String, pseudonym: String, stored: RecordStore.Stored?,
        time: Date, context: AccessContext, cipher: FieldCipher
    ) throws -> ConsentEvent {
        let store = RecordStore(core: core)
        let purpose = try purposes.require(change.purpose)
        let stamp = Timestamp.precise(time)
        let notice = change.noticeVersion ?? purpose.noticeVersion
        var expires: String?
        if change.kind == .grant {
            let byPolicy = purpose.validForDays.map { time.addingTimeInterval(Double($0) * 86_400) }
            let earliest = [byPolicy, change.expiresAt].compactMap { $0 }.min()
            expires = earliest.map(Timestamp.precise)
        }
        var note: Data?
        if let text = change.note, !text.isEmpty {
            guard let stored = try stored ?? store.load(db, subjectID: subject) else {
                throw PrivacyKitError(.notFound, "no subject \(subject)")
            }
            try store.unlock(stored, subjectID: subject, cipher: cipher)
            note = Data(try cipher.seal(text, field: "consent_note", subjectID: subject, keyVersion: stored.keyVersion))
            cipher.wipe()
        }
        // The ledger row records the event's place in the chain (the next seq: this is the
        // one writer), the event the row's digest; the state changes before the event,
        // which commits to it (DecisionGuard).
        let seq = try AuditLog.lastSeq(db: db) + 1
        let evidence = change.evidenceHash?.lowercased()
        let digest = try ConsentRules.digest(
            subject: pseudonym, purpose: purpose.id, kind: change.kind.rawValue, time: stamp, channel: change.channel.rawValue,
            notice: notice, evidence: evidence, note: note.map { [UInt8]($0) }, actor: context.actor, expires: expires)
        let reason = "\(purpose.id) via \(change.channel.rawValue)" + (notice.map { ", notice \($0)" } ?? "") + ", ledger \(digest)"
        let rows = db.decisions.consent
        guard let id = try rows.appendLedger(
            pseudonym: pseudonym, purpose: purpose.id, kind: change.kind.rawValue, time: stamp, channel: change.channel.rawValue, notice: notice,
            evidence: evidence, note: note, actor: context.actor, expires: expires, auditSeq: seq)
        else { throw PrivacyKitError(.internal, "no id for a consent ledger entry") }
        try rows.upsertState(purpose: purpose.id, subject: subject, kind: change.kind.rawValue, eventID: id, time: stamp, notice: notice, expires: expires)
        guard try audit.append(
            [AuditEntry(change.kind.auditAction, subjectID: subject, reason: reason, purpose: context.purpose)], context: context, db: db)?.lowerBound == seq
        else { throw PrivacyKitError(.internal, "the audit event of a consent change is not at seq \(seq)") }
        return ConsentEvent(id: id, subject: pseudonym, purpose: purpose.id, kind: change.kind, time: stamp,
                                   channel: change.channel.rawValue, noticeVersion: notice, evidenceHash: change.evidenceHash?.lowercased(),
                                   hasNote: note != nil, actor: context.actor, expiresAt: expires, auditSeq: seq)
    }

    // MARK: Answers

    /// May `subject` be processed for `purpose` at `time` (default: now)? With the reason.
    /// Not itself an audit event (it reveals no field value, and services ask it often);
    /// the reads it allows are.
    public func answer(subject: String, purpose: String, at time: Date? = nil, context: AccessContext) throws -> ConsentAnswer {
        try answer(subjects: [subject], purpose: purpose, at: time, context: context)[0]
    }

    /// ``answer(subject:purpose:at:context:)`` for many subjects in one read.
    public func answer(subjects: [String], purpose purposeID: String, at time: Date? = nil, context: AccessContext) throws -> [ConsentAnswer] {
        let purpose = try purposes.require(purposeID)
        _ = try authorize(AccessRequest(.read, event: .recordLookup), context: context)
        let stamp = Timestamp.precise(time ?? Date())
        return try store.read { db in
                guard time == nil else {
                    // At another time: the ledger's answer (restrictions have no history),
                    // the subjects' leaves proven together first.
                    try core.checkDecisionStates(db, subjects: subjects)
                    return try subjects.map { subject in
                        ConsentRules.answer(subject: subject, purpose: purpose, last: try lastConsent(db, subject: subject, purpose: purpose.id, at: stamp), at: stamp)
                    }
                }
                // Now: from the subjects' decision rows, as proven against the audit chain.
                let leaves = try core.provenLeafRows(db, subjects: subjects, allRecords: false)
                let applyRestrictions = !access.mayProcessRestricted(role: context.role, purpose: purpose.id)
                return subjects.map { subject in
                    let answer = ConsentRules.answer(subject: subject, purpose: purpose, last: leaves[subject]?.consent(purpose: purpose.id), at: stamp)
                    return applyRestrictions && leaves[subject]?.isRestricted == true ? answer.restricted() : answer
                }
            }
    }

    /// Every ledger event of a subject, oldest first (recorded as a read of the subject).
    public func history(subject: String, purpose: String? = nil, context: AccessContext) throws -> [ConsentEvent] {
        try RecordStore.checkSubjectID(subject)
        let pseudonym = try subjectPseudonym(subject)
        return try perform(context, AccessRequest(.consent, event: .recordRead, subject: subject)) { tx, _ in
            // The ledger outlives an erased subject as pseudonymous proof; it is not read
            // back by the subject's id.
            try RecordStore.refuseErased(tx.db, subjectID: subject, code: .notFound)
            let events = try tx.db.decisions.consent.history(pseudonym: pseudonym, purpose: purpose)
            tx.record(AuditEntry(.recordRead, subjectID: subject, reason: "consent history: \(events.count) events"))
            return events
        }
    }

    /// The audience of a purpose: every subject that may be processed for it now, streamed
    /// in id order (memory stays flat however many there are). The caller's role must hold
    /// the purpose. Returns the count.
    ///
    /// The lookup's audit event commits before the first id reaches `each`: the audience is
    /// counted, the count recorded and committed, then the ids streamed from a fresh read. Should
    /// consent change in between, so that the stream differs from the count recorded, a
    /// second event records the count streamed.
    ///
    /// Each read first rebuilds the decision state's root from every subject's rows and
    /// compares it with the one the audit log commits to: a consent, restriction, hold or
    /// tombstone row changed behind the vault fails the audience closed (`integrity`,
    /// recorded as a failed `record.lookup`) before any id is handed out.
    @discardableResult
    public func audience(purpose purposeID: String, context: AccessContext, _ each: (String) throws -> Void) throws -> Int {
        let purpose = try purposes.require(purposeID)
        // Reading the audience is acting for its purpose: the role must hold that purpose.
        var acting = context
        acting.purpose = purposeID
        let now = Timestamp.precise(Date())
        let pseudonymous = access.roles[context.role]?.pseudonymousIDs == true
        // A restricted subject is in no audience the policy does not allow.
        let excludeRestricted = !access.mayProcessRestricted(role: context.role, purpose: purpose.id)
        func members(_ db: StoreDatabase, _ each: (String) throws -> Void) throws -> Int {
            // Checked in each read, before the first id: a row forged between the two reads
            // must not reach `each`.
            try checkAllDecisionState(db)
            var count = 0
            let rows = db.decisions
            let restricted = excludeRestricted ? try rows.restrictions.allSubjects() : []
            try rows.consent.audience(of: purpose, at: now) { id in
                if restricted.contains(id) { return }
                try each(id)
                count += 1
            }
            return count
        }
        let request = AccessRequest(.read, event: .recordLookup)
        return try auditingDecisionFailures(acting, request) {
            _ = try authorize(request, context: acting)
            // Counted in a read, so no writer waits behind a scan of every subject; the event
            // then commits in a short transaction of its own.
            let recorded = try store.read { db in try members(db) { _ in } }
            try record([AuditEntry(.recordLookup, reason: "audience of \(purpose.id): \(recorded) subjects")], context: acting)
            let count = try store.read { db in
                try members(db) { id in try each(pseudonymous ? try subjectPseudonym(id) : id) }
            }
            if count != recorded {
                try record([AuditEntry(.recordLookup, reason: "audience of \(purpose.id): \(count) subjects streamed (\(recorded) when recorded)")], context: acting)
            }
            return count
        }
    }

    /// How many subjects are in each state, per purpose that needs consent. Recorded as one
    /// `record.lookup` (counts, no subject). Fails closed like ``audience(purpose:context:_:)``
    /// when the decision rows are not the ones the audit log commits to.
    public func counts(context: AccessContext) throws -> [String: [ConsentState: Int]] {
        let now = Timestamp.precise(Date())
        return try perform(context, AccessRequest(.consent, event: .recordLookup)) { tx, _ in
            let result = try counts(tx.db, at: now)
            tx.record(AuditEntry(.recordLookup, reason: "consent counts: \(result.count) purposes"))
            return result
        }
    }

    /// ``consentCounts(context:)`` evaluated at `now`, inside the caller's transaction.
    func counts(_ db: StoreDatabase, at now: String) throws -> [String: [ConsentState: Int]] {
        try checkAllDecisionState(db)
        let rows = db.decisions
        let subjects = try rows.subjects.count()
        var result: [String: [ConsentState: Int]] = [:]
        for purpose in purposes.purposes.values where purpose.consent != .notRequired {
            var counts: [ConsentState: Int] = [:]
            var seen = 0
            try rows.consent.forEachState(purpose: purpose.id) { last in
                counts[ConsentRules.state(purpose: purpose, last: last, at: now), default: 0] += 1
                seen += 1
            }
            let untouched = ConsentRules.state(purpose: purpose, last: nil, at: now)
            counts[untouched, default: 0] += subjects - seen
            result[purpose.id] = counts
        }
        return result
    }
}
