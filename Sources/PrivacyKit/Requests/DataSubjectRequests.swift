public import Foundation
import Sodium

// MARK: - Kinds

/// A closed set of names read from operators and scripts: parsing one names the bad value
/// and lists the good ones.
public protocol TrackerChoice: RawRepresentable<String>, CaseIterable, Sendable {
    /// What the value is, for messages ("request type").
    static var choiceName: String { get }
}

extension TrackerChoice {
    /// The case named `text`.
    ///
    /// - Throws: `.invalidInput` naming `text` and the accepted names.
    public init(parsing text: String) throws {
        guard let value = Self(rawValue: text) else {
            throw PrivacyKitError(.invalidInput, "unknown \(Self.choiceName) '\(text)' (one of \(Self.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        self = value
    }
}

/// What the data subject asks for (GDPR articles 15 to 21; CCPA know, delete, correct,
/// opt-out and limit).
public enum DataSubjectRequestType: String, Sendable, Codable, TrackerChoice {
    /// Access (GDPR art. 15; CCPA right to know).
    case access
    /// Export in a portable format (GDPR art. 20 portability).
    case export
    /// Rectification (GDPR art. 16; CCPA right to correct).
    case rectification
    /// Restriction of processing (GDPR art. 18; CCPA limit use of sensitive data).
    case restriction
    /// Objection (GDPR art. 21; CCPA opt-out of sale or sharing).
    case objection
    /// Erasure (GDPR art. 17; CCPA right to delete).
    case erasure

    public static let choiceName = "request type"
}

/// The law a request is answered under: it sets the deadline.
public enum PrivacyRegime: String, Sendable, Codable, TrackerChoice {
    case gdpr, ccpa

    public static let choiceName = "regime"
}

public enum DataSubjectRequestStatus: String, Sendable, Codable, CaseIterable {
    case open
    /// Identity verification was asked for and has not arrived.
    case awaitingIdentity = "awaiting-identity"
    /// The deadline was extended (once).
    case extended
    case closed
}

public enum DataSubjectRequestOutcome: String, Sendable, Codable, TrackerChoice {
    case completed, refused, withdrawn

    public static let choiceName = "outcome"
}

/// Whether the vault knows a request's subject now.
public enum RequestSubjectState: String, Sendable, Codable, CaseIterable {
    /// A stored subject.
    case live
    /// Erased: only its tombstone is left.
    case erased
    /// Neither stored nor erased (opened with `unknownSubject`).
    case unknown
}

// MARK: - Deadlines

/// The legal deadline of a data-subject request: pure functions of the times involved
/// (no clock), in the Gregorian calendar in UTC.
///
/// - GDPR (art. 12(3)): one calendar month from receipt (31 January → 28 or 29 February),
///   three months once extended. The clock is paused while identity verification is awaited
///   (EDPB Guidelines 01/2022), if it was asked for before the deadline: the months are
///   counted from receipt plus the time waited.
/// - CCPA (Cal. Civ. Code 1798.130): 45 days from receipt, 90 once extended, whatever the
///   identity verification takes. Opt-out of sale or sharing (`objection`) and limiting the
///   use of sensitive data (`restriction`) must be honoured within 15 business days
///   (CCPA regulations 7026(f), 7027(g)) and cannot be extended; business days are Monday to
///   Friday in UTC (public holidays are not known here, so that deadline can only come early).
public enum RequestDeadline {
    /// A length of time in calendar terms.
    public enum Period: Sendable, Equatable, CustomStringConvertible {
        case months(Int), days(Int), businessDays(Int)

        public var description: String {
            switch self {
            case .months(let n): "\(n) month\(n == 1 ? "" : "s")"
            case .days(let n): "\(n) days"
            case .businessDays(let n): "\(n) business days"
            }
        }
    }

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
        return calendar
    }()

    /// Whether a request may be extended at all.
    public static func canExtend(regime: PrivacyRegime, type: DataSubjectRequestType) -> Bool {
        !(regime == .ccpa && (type == .objection || type == .restriction))
    }

    /// The time allowed from (paused) receipt to the answer.
    public static func period(regime: PrivacyRegime, type: DataSubjectRequestType, extended: Bool) -> Period {
        switch regime {
        case .gdpr: return .months(extended ? 3 : 1)
        case .ccpa: return canExtend(regime: regime, type: type) ? .days(extended ? 90 : 45) : .businessDays(15)
        }
    }

    /// `date` moved forward by `period`.
    public static func add(_ period: Period, to date: Date) -> Date {
        switch period {
        case .months(let n): return calendar.date(byAdding: .month, value: n, to: date) ?? date.addingTimeInterval(Double(n) * 31 * 86_400)
        case .days(let n): return calendar.date(byAdding: .day, value: n, to: date) ?? date.addingTimeInterval(Double(n) * 86_400)
        case .businessDays(let n):
            var day = date
            var counted = 0
            while counted < n {
                day = calendar.date(byAdding: .day, value: 1, to: day) ?? day.addingTimeInterval(86_400)
                if !calendar.isDateInWeekend(day) { counted += 1 }
            }
            return day
        }
    }

    /// How long the deadline is paused for identity verification as of `asOf`: under GDPR,
    /// from when it was asked for until it arrived (or until `asOf` while it has not), if
    /// it was asked for before the deadline; under CCPA, never.
    public static func pause(
        regime: PrivacyRegime, type: DataSubjectRequestType, receivedAt: Date, extended: Bool,
        identityRequestedAt: Date?, identityVerifiedAt: Date?, asOf: Date
    ) -> TimeInterval {
        guard regime == .gdpr, let requested = identityRequestedAt else { return 0 }
        guard requested <= add(period(regime: regime, type: type, extended: extended), to: receivedAt) else { return 0 }
        return max(0, (identityVerifiedAt ?? asOf).timeIntervalSince(requested))
    }

    /// The time identity verification has been awaited as of `asOf` (reported under both
    /// regimes, whether or not it pauses the deadline).
    public static func identityWait(identityRequestedAt: Date?, identityVerifiedAt: Date?, asOf: Date) -> TimeInterval {
        guard let requested = identityRequestedAt else { return 0 }
        return max(0, (identityVerifiedAt ?? asOf).timeIntervalSince(requested))
    }

    /// The deadline as of `asOf` (which matters only while a GDPR request awaits identity:
    /// the deadline moves with the pause).
    public static func deadline(
        regime: PrivacyRegime, type: DataSubjectRequestType, receivedAt: Date, extended: Bool,
        identityRequestedAt: Date? = nil, identityVerifiedAt: Date? = nil, asOf: Date
    ) -> Date {
        let paused = pause(regime: regime, type: type, receivedAt: receivedAt, extended: extended,
                           identityRequestedAt: identityRequestedAt, identityVerifiedAt: identityVerifiedAt, asOf: asOf)
        return add(period(regime: regime, type: type, extended: extended), to: receivedAt.addingTimeInterval(paused))
    }
}

// MARK: - A request

/// A data-subject request, with its deadline and status evaluated at ``asOf``.
public struct DataSubjectRequest: Sendable, Equatable, Encodable {
    public let id: String
    public let type: DataSubjectRequestType
    public let regime: PrivacyRegime
    public let subject: String
    public let subjectState: RequestSubjectState
    public let receivedAt: Date
    /// A reference in another system (a ticket number); never personal data.
    public let reference: String?
    public let hasNote: Bool
    /// The note, decrypted: only from ``Vault/request(_:now:context:)`` while the subject's
    /// key exists.
    public let note: String?
    public let openedAt: Date
    public let openedBy: String
    public let identityRequestedAt: Date?
    public let identityVerifiedAt: Date?
    public let extendedAt: Date?
    public let extensionReason: String?
    public let closedAt: Date?
    public let closedBy: String?
    public let outcome: DataSubjectRequestOutcome?
    public let closeReason: String?
    /// The time the computed values below are for.
    public let asOf: Date

    /// A closed request is evaluated at its closing: the clock stopped then.
    var clock: Date { closedAt ?? asOf }

    public var deadline: Date {
        RequestDeadline.deadline(regime: regime, type: type, receivedAt: receivedAt, extended: extendedAt != nil,
                                 identityRequestedAt: identityRequestedAt, identityVerifiedAt: identityVerifiedAt, asOf: clock)
    }

    public var daysWaitingForIdentity: Double {
        RequestDeadline.identityWait(identityRequestedAt: identityRequestedAt, identityVerifiedAt: identityVerifiedAt, asOf: clock) / 86_400
    }

    public var status: DataSubjectRequestStatus {
        if closedAt != nil { return .closed }
        if identityRequestedAt != nil && identityVerifiedAt == nil { return .awaitingIdentity }
        return extendedAt != nil ? .extended : .open
    }

    /// Open and past its deadline at ``asOf`` (an answer at the deadline instant is on time).
    public var overdue: Bool { closedAt == nil && asOf > deadline }

    /// For a closed request: whether it was closed after its deadline.
    public var answeredLate: Bool? { closedAt.map { $0 > deadline } }

    enum CodingKeys: String, CodingKey {
        case id, type, regime, subject, reference, note, outcome, status, deadline, overdue
        case subjectState = "subject_state", receivedAt = "received_at", hasNote = "has_note", openedAt = "opened_at", openedBy = "opened_by"
        case identityRequestedAt = "identity_requested_at", identityVerifiedAt = "identity_verified_at"
        case daysWaitingForIdentity = "days_waiting_for_identity", extendedAt = "extended_at", extensionReason = "extension_reason"
        case closedAt = "closed_at", closedBy = "closed_by", closeReason = "close_reason", answeredLate = "answered_late", asOf = "as_of"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        let texts: [(CodingKeys, String?)] = [
            (.id, id), (.type, type.rawValue), (.regime, regime.rawValue), (.subject, subject), (.subjectState, subjectState.rawValue),
            (.reference, reference), (.note, note), (.openedBy, openedBy), (.extensionReason, extensionReason), (.closedBy, closedBy),
            (.outcome, outcome?.rawValue), (.closeReason, closeReason), (.status, status.rawValue),
        ]
        let times: [(CodingKeys, Date?)] = [
            (.receivedAt, receivedAt), (.openedAt, openedAt), (.identityRequestedAt, identityRequestedAt), (.identityVerifiedAt, identityVerifiedAt),
            (.extendedAt, extendedAt), (.closedAt, closedAt), (.deadline, deadline), (.asOf, asOf),
        ]
        for (key, text) in texts { try c.encodeIfPresent(text, forKey: key) }
        for (key, time) in times { try c.encodeIfPresent(time.map(Timestamp.precise), forKey: key) }
        try c.encode(hasNote, forKey: .hasNote)
        try c.encode(daysWaitingForIdentity, forKey: .daysWaitingForIdentity)
        try c.encode(overdue, forKey: .overdue)
        try c.encodeIfPresent(answeredLate, forKey: .answeredLate)
    }

    /// From a stored row (``RequestsTable``): kinds and times checked.
    init(_ row: SubjectRequestRow, subjectState: RequestSubjectState, note: String?, asOf: Date) throws {
        guard let type = DataSubjectRequestType(rawValue: row.type), let regime = PrivacyRegime(rawValue: row.regime) else {
            throw PrivacyKitError(.integrity, "data-subject request \(row.id) has an unknown type or regime")
        }
        id = row.id
        self.type = type
        self.regime = regime
        subject = row.subjectID
        self.subjectState = subjectState
        receivedAt = try Tracking.date(row.receivedAt)
        reference = row.reference
        hasNote = row.note != nil
        self.note = note
        openedAt = try Tracking.date(row.openedAt)
        openedBy = row.openedBy
        identityRequestedAt = try Tracking.date(row.identityRequestedAt)
        identityVerifiedAt = try Tracking.date(row.identityVerifiedAt)
        extendedAt = try Tracking.date(row.extendedAt)
        extensionReason = row.extensionReason
        closedAt = try Tracking.date(row.closedAt)
        closedBy = row.closedBy
        outcome = row.outcome.flatMap(DataSubjectRequestOutcome.init(rawValue:))
        closeReason = row.closeReason
        self.asOf = asOf
    }
}

// MARK: - Shared checks of the trackers (requests and breaches)

enum Tracking {
    /// Times later than the clock by more than this are refused as mistakes.
    static let clockSkew: TimeInterval = 300

    /// A new id: `prefix-` and 16 random hex digits.
    static func newID(_ prefix: String) -> String { prefix + "-" + Hex.encode(Random.bytes(count: 8)) }

    static func date(_ stamp: String) throws -> Date {
        guard let date = ISOTime.parsePrecise(stamp) else {
            throw PrivacyKitError(.integrity, "a stored time is not ISO 8601 with milliseconds")
        }
        return date
    }

    static func date(_ stamp: String?) throws -> Date? { try stamp.map { try date($0) } }

    /// `date` as stored (milliseconds, UTC), refused when in the future: a time the operator
    /// gives is when something happened.
    static func past(_ date: Date, _ what: String) throws -> String {
        guard date.timeIntervalSinceNow <= clockSkew else {
            throw PrivacyKitError(.invalidInput, "\(what) \(Timestamp.precise(date)) is in the future")
        }
        return Timestamp.precise(date)
    }

    /// `stamp` is not before `earlier` (both as stored).
    static func notBefore(_ stamp: String, _ what: String, _ earlier: Date?, _ earlierWhat: String) throws {
        if let earlier, try date(stamp) < earlier {
            throw PrivacyKitError(.invalidInput, "\(what) \(stamp) is before \(earlierWhat) \(Timestamp.precise(earlier))")
        }
    }

    /// Operator text (a reason, a summary), trimmed: 1 to `limit` characters, no control
    /// characters (line breaks only where `lines`). Messages never quote it.
    static func text(_ text: String, _ what: String, limit: Int = 500, lines: Bool = false) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw PrivacyKitError(.invalidInput, "\(what) is empty") }
        guard trimmed.count <= limit else { throw PrivacyKitError(.invalidInput, "\(what) is longer than \(limit) characters") }
        let allowed: Set<Unicode.Scalar> = lines ? ["\n", "\t"] : []
        if trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control && !allowed.contains($0) }) {
            throw PrivacyKitError(.invalidInput, "\(what) contains control characters\(lines ? "" : " (it is one line)")")
        }
        return trimmed
    }

    /// A reference in another system: 1 to 64 of `A-Z a-z 0-9 . _ : # / -`.
    static func reference(_ text: String) throws -> String {
        guard text.range(of: #"^[A-Za-z0-9._:#/-]{1,64}$"#, options: .regularExpression) != nil else {
            throw PrivacyKitError(.invalidInput, "a reference is 1 to 64 of A-Z a-z 0-9 . _ : # / - (a ticket number, not personal data)")
        }
        return text
    }

    static func subjectState(_ db: StoreDatabase, _ subject: String) throws -> RequestSubjectState {
        let table = RequestsTable(db: db)
        if try table.subjectIsStored(subject) { return .live }
        if try table.subjectIsErased(subject) { return .erased }
        return .unknown
    }
}

// MARK: - Vault

public struct VaultRequests: VaultCapability {
    let core: VaultCore

    /// Opens a data-subject request (`request.open`, with the subject). The request id is
    /// new (`dsr-` and 16 hex digits) and ties the request's audit events together.
    ///
    /// - Parameters:
    ///   - type: access, export, rectification, restriction, objection or erasure.
    ///   - regime: GDPR or CCPA, which sets the deadline and its extension.
    ///   - subject: the subject id the request is about.
    ///   - receivedAt: when the request reached the organisation (the clock starts then).
    ///   - reference: a reference in another system (a ticket number): 1 to 64 of
    ///     `A-Z a-z 0-9 . _ : # / -`, stored in clear; never personal data.
    ///   - note: free text, stored sealed under the subject's key (shredded with it); the
    ///     subject must be stored.
    ///   - unknownSubject: open it even though the vault holds no subject or tombstone with
    ///     this id (someone asking what is held about them; the answer may be "nothing").
    ///   - context: who opens it (a role with the `requests` action).
    /// - Throws: `.notFound` for a subject that is neither stored nor erased (unless
    ///   `unknownSubject`); `.invalidInput` for a received time in the future, a malformed
    ///   reference or note, or a note for a subject without a key.
    @discardableResult
    public func open(
        _ type: DataSubjectRequestType, regime: PrivacyRegime, subject: String, receivedAt: Date = Date(),
        reference: String? = nil, note: String? = nil, unknownSubject: Bool = false, context: AccessContext
    ) throws -> DataSubjectRequest {
        try RecordStore.checkSubjectID(subject)
        let received = try Tracking.past(receivedAt, "the received time")
        let reference = try reference.map(Tracking.reference)
        let note = try note.flatMap { $0.isEmpty ? nil : try Tracking.text($0, "the note", limit: 4000, lines: true) }
        let id = Tracking.newID("dsr")
        var acting = context
        acting.requestID = id
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(acting, AccessRequest(.requests, event: .requestOpen, subject: subject)) { tx, _ in
            let state = try Tracking.subjectState(tx.db, subject)
            if state == .unknown && !unknownSubject {
                throw PrivacyKitError(.notFound, "no subject \(subject), stored or erased (open it anyway with unknownSubject / --unknown-subject)")
            }
            var sealed: Data?
            if let note {
                let store = RecordStore(core: core)
                guard let stored = try store.load(tx.db, subjectID: subject) else {
                    throw PrivacyKitError(.invalidInput, "subject \(subject) is \(state.rawValue): it has no key to seal a note under; use a reference instead")
                }
                try store.unlock(stored, subjectID: subject, cipher: cipher)
                sealed = Data(try cipher.seal(note, field: Self.requestNoteField, subjectID: subject, keyVersion: stored.keyVersion))
            }
            let now = Date()
            try RequestsTable(db: tx.db).insert(
                id: id, type: type.rawValue, regime: regime.rawValue, subjectID: subject, receivedAt: received, reference: reference,
                note: sealed, openedAt: Timestamp.precise(now), openedBy: context.actor)
            let request = try loadRequest(tx.db, id, asOf: now)
            tx.record(AuditEntry(.requestOpen, subjectID: subject,
                                 reason: "\(id): \(type.rawValue) under \(regime.rawValue), received \(received), deadline \(Timestamp.precise(request.deadline))"))
            return request
        }
    }

    /// The field name a request note is sealed under (its associated data).
    static let requestNoteField = "request_note"

    /// Requests, oldest first, evaluated at `now`; recorded as one `record.lookup`.
    ///
    /// - Parameters:
    ///   - openOnly: only requests not closed.
    ///   - overdueOnly: only open requests past their deadline at `now`.
    ///   - subject: only this subject's requests.
    ///   - now: the time deadlines and overdue states are evaluated at.
    ///   - context: who reads the register (a role with the `requests` action).
    public func list(
        openOnly: Bool = false, overdueOnly: Bool = false, subject: String? = nil, now: Date = Date(), context: AccessContext
    ) throws -> [DataSubjectRequest] {
        try perform(context, AccessRequest(.requests, event: .recordLookup)) { tx, _ in
            var result: [DataSubjectRequest] = []
            let cursor = try RequestsTable(db: tx.db).requests(unclosedOnly: openOnly || overdueOnly, subject: subject)
            while let row = try cursor.next() {
                let request = try DataSubjectRequest(row, subjectState: try Tracking.subjectState(tx.db, row.subjectID), note: nil, asOf: now)
                if !overdueOnly || request.overdue { result.append(request) }
            }
            var filters = [openOnly ? "open" : nil, overdueOnly ? "overdue at \(Timestamp.precise(now))" : nil].compactMap { $0 }
            if subject != nil { filters.append("one subject") }
            tx.record(AuditEntry(.recordLookup, reason: "data-subject requests\(filters.isEmpty ? "" : " (\(filters.joined(separator: ", ")))"): \(result.count) listed"))
            return result
        }
    }

    /// One request, evaluated at `now`, with its note decrypted while the subject's key
    /// exists. Recorded as a `record.read` of the subject (field `request_note` when the
    /// note was decrypted).
    ///
    /// - Throws: `.notFound` for an unknown id.
    public func get(_ id: String, now: Date = Date(), context: AccessContext) throws -> DataSubjectRequest {
        var acting = context
        acting.requestID = id
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        return try perform(acting, AccessRequest(.requests, event: .recordRead)) { tx, _ in
            let request = try loadRequest(tx.db, id, asOf: now) { subject, sealed in
                let store = RecordStore(core: core)
                guard let stored = try store.load(tx.db, subjectID: subject) else { return nil }
                try store.unlock(stored, subjectID: subject, cipher: cipher)
                return try cipher.open([UInt8](sealed), field: Self.requestNoteField, subjectID: subject)
            }
            tx.record(AuditEntry(.recordRead, subjectID: request.subject, fields: request.note == nil ? [] : [Self.requestNoteField],
                                 reason: "data-subject request \(id)"))
            return request
        }
    }

    /// Records that identity verification was asked for at `requestedAt` (default: now).
    /// Under GDPR the deadline is paused until it arrives.
    @discardableResult
    public func markAwaitingIdentity(_ id: String, requestedAt: Date = Date(), context: AccessContext) throws -> DataSubjectRequest {
        try recordIdentity(id, requestedAt: requestedAt, verifiedAt: nil, context: context)
    }

    /// Records that the requester's identity was verified at `verifiedAt` (default: now).
    @discardableResult
    public func identityVerified(_ id: String, verifiedAt: Date = Date(), context: AccessContext) throws -> DataSubjectRequest {
        try recordIdentity(id, requestedAt: nil, verifiedAt: verifiedAt, context: context)
    }

    /// Records when identity verification was asked for and/or when it arrived, in one
    /// `request.update`. Each is recorded once; neither may be in the future, before
    /// receipt, or (arrival) before the asking.
    ///
    /// - Throws: `.invalidInput` for a closed request, a time already recorded, or times in
    ///   the wrong order; `.notFound` for an unknown id.
    @discardableResult
    public func recordIdentity(_ id: String, requestedAt: Date?, verifiedAt: Date?, context: AccessContext) throws -> DataSubjectRequest {
        guard requestedAt != nil || verifiedAt != nil else {
            throw PrivacyKitError(.invalidInput, "give when identity verification was asked for, when it arrived, or both")
        }
        let requested = try requestedAt.map { try Tracking.past($0, "the identity request time") }
        let verified = try verifiedAt.map { try Tracking.past($0, "the identity verification time") }
        let asOf = [requestedAt, verifiedAt].compactMap { $0 }.max() ?? Date()
        return try changeRequest(id, .requestUpdate, at: asOf, context: context) { db, request in
            if let requested {
                if let earlier = request.identityRequestedAt {
                    throw PrivacyKitError(.invalidInput, "request \(id): identity verification was already asked for at \(Timestamp.precise(earlier))")
                }
                try Tracking.notBefore(requested, "the identity request time", request.receivedAt, "receipt")
                if let verified = request.identityVerifiedAt {
                    throw PrivacyKitError(.invalidInput, "request \(id): identity was already verified at \(Timestamp.precise(verified))")
                }
                try RequestsTable(db: db).setIdentityRequested(id: id, at: requested)
            }
            if let verified {
                if let earlier = request.identityVerifiedAt {
                    throw PrivacyKitError(.invalidInput, "request \(id): identity was already verified at \(Timestamp.precise(earlier))")
                }
                let asked = try requested.map { try Tracking.date($0) } ?? request.identityRequestedAt
                try Tracking.notBefore(verified, "the identity verification time", asked ?? request.receivedAt, asked == nil ? "receipt" : "the identity request")
                try RequestsTable(db: db).setIdentityVerified(id: id, at: verified)
            }
        } describe: { _, after in
            var parts: [String] = []
            if let requested { parts.append("identity asked for at \(requested)") }
            if let verified { parts.append("identity verified at \(verified)") }
            return parts.joined(separator: ", ") + String(format: ", waited %.2f days; deadline ", after.daysWaitingForIdentity) + Timestamp.precise(after.deadline)
        }
    }

    /// Extends the deadline once, for `reason` (required; stored, shown with the request,
    /// never in the audit log: it is operator text): GDPR by two months, CCPA by 45 days.
    /// The extension must be decided before the first deadline passes.
    ///
    /// - Throws: `.invalidInput` for a second extension, a request past its deadline, a
    ///   CCPA opt-out or limit request (15 business days, no extension), a closed request, or
    ///   an empty reason; `.notFound` for an unknown id.
    @discardableResult
    public func extend(_ id: String, reason: String, at time: Date = Date(), context: AccessContext) throws -> DataSubjectRequest {
        let reason = try Tracking.text(reason, "the extension reason")
        let at = try Tracking.past(time, "the extension time")
        return try changeRequest(id, .requestUpdate, at: time, context: context) { db, request in
            if let extended = request.extendedAt {
                throw PrivacyKitError(.invalidInput, "request \(id) was already extended on \(Timestamp.precise(extended)); \(request.regime.rawValue.uppercased()) allows one extension")
            }
            guard RequestDeadline.canExtend(regime: request.regime, type: request.type) else {
                throw PrivacyKitError(.invalidInput, "request \(id): a CCPA \(request.type.rawValue) request must be honoured within 15 business days and cannot be extended")
            }
            try Tracking.notBefore(at, "the extension time", request.receivedAt, "receipt")
            guard try Tracking.date(at) <= request.deadline else {
                throw PrivacyKitError(.invalidInput, "request \(id) passed its deadline \(Timestamp.precise(request.deadline)): an extension must be decided, and the requester told, before it")
            }
            try RequestsTable(db: db).setExtended(id: id, at: at, reason: reason)
        } describe: { before, after in
            "extended by \(RequestDeadline.period(regime: after.regime, type: after.type, extended: true)) in all; deadline \(Timestamp.precise(before.deadline)) -> \(Timestamp.precise(after.deadline))"
        }
    }

    /// Closes a request (`request.close`) with its outcome. A refusal needs a reason (the
    /// requester must be told why); the reason is stored, not put in the audit log.
    ///
    /// - Throws: `.invalidInput` for a closed request, a refusal without a reason, or a
    ///   closing time before receipt; `.notFound` for an unknown id.
    @discardableResult
    public func close(
        _ id: String, outcome: DataSubjectRequestOutcome, reason: String? = nil, at time: Date = Date(), context: AccessContext
    ) throws -> DataSubjectRequest {
        let reason = try reason.flatMap { $0.isEmpty ? nil : try Tracking.text($0, "the reason") }
        if outcome == .refused && reason == nil {
            throw PrivacyKitError(.invalidInput, "a refusal needs a reason (the requester must be told why)")
        }
        let at = try Tracking.past(time, "the closing time")
        return try changeRequest(id, .requestClose, at: time, context: context) { db, request in
            try Tracking.notBefore(at, "the closing time", [request.receivedAt, request.identityRequestedAt, request.identityVerifiedAt, request.extendedAt].compactMap { $0 }.max(), "the request's last recorded time")
            try RequestsTable(db: db).close(id: id, at: at, by: context.actor, outcome: outcome.rawValue, reason: reason)
        } describe: { _, after in
            "\(outcome.rawValue) at \(at); deadline \(Timestamp.precise(after.deadline)), \(after.answeredLate == true ? "late" : "on time")"
        }
    }

    /// Loads a request in `change`'s transaction, refuses a closed one, applies `change`,
    /// and records `action` with the subject and `describe(before, after)` as the reason.
    private func changeRequest(
        _ id: String, _ action: AuditAction, at: Date, context: AccessContext,
        _ change: (StoreDatabase, DataSubjectRequest) throws -> Void,
        describe: (DataSubjectRequest, DataSubjectRequest) -> String
    ) throws -> DataSubjectRequest {
        var acting = context
        acting.requestID = id
        return try perform(acting, AccessRequest(.requests, event: action)) { tx, _ in
            let before = try loadRequest(tx.db, id, asOf: at)
            if let closed = before.closedAt {
                throw PrivacyKitError(.invalidInput, "request \(id) was closed at \(Timestamp.precise(closed)) (\(before.outcome?.rawValue ?? "?")); open a new request")
            }
            try change(tx.db, before)
            let after = try loadRequest(tx.db, id, asOf: at)
            tx.record(AuditEntry(action, subjectID: after.subject, reason: "\(id): " + describe(before, after)))
            return after
        }
    }

    /// The request `id`, evaluated at `asOf`; `openNote` decrypts a sealed note (nil: leave it).
    private func loadRequest(
        _ db: StoreDatabase, _ id: String, asOf: Date, openNote: ((String, Data) throws -> String?)? = nil
    ) throws -> DataSubjectRequest {
        guard let row = try RequestsTable(db: db).request(id: id) else {
            throw PrivacyKitError(.notFound, "no data-subject request \(id) (ids look like dsr- and 16 hex digits)")
        }
        let subject = row.subjectID
        let state = try Tracking.subjectState(db, subject)
        let note = try row.note.flatMap { sealed in state == .live ? try openNote?(subject, sealed) : nil }
        return try DataSubjectRequest(row, subjectState: state, note: note, asOf: asOf)
    }
}
