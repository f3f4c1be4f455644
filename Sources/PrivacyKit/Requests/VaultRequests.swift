public import Foundation
import Sodium

/// Data-subject requests (access, export, rectification, restriction, objection, erasure)
/// with their legal deadlines, and subject export packages.
public struct VaultRequests: VaultCapability {
    let core: VaultCore

    /// Opens a data-subject request (`request.open`, with the subject). The request id is
    /// new (`dsr-` and 16 hex digits) and ties the request's audit events together.
    ///
    /// - Parameters:
    ///   - type: access, export, rectification, restriction, objection or erasure.
    ///   - regime: GDPR, CCPA, Taiwan's PDPA or PIPL, which sets the deadline and its
    ///     extension (``RequestDeadline/rule(regime:type:own:)``); for PIPL, which sets none,
    ///     the controller's own from `regimes.yaml`, kept with the request.
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
    ///   reference or note, a note for a subject without a key, or a PIPL request while
    ///   `regimes.yaml` sets no deadline for it.
    @discardableResult
    public func open(
        _ type: DataSubjectRequestType, regime: PrivacyRegime, subject: String, receivedAt: Date = Date(),
        reference: String? = nil, note: String? = nil, unknownSubject: Bool = false, context: AccessContext
    ) throws -> DataSubjectRequest {
        try RecordStore.checkSubjectID(subject)
        let received = try Tracking.past(receivedAt, "the received time")
        let reference = try reference.map(Tracking.reference)
        let note = try note.flatMap { $0.isEmpty ? nil : try Tracking.text($0, "the note", limit: 4000, lines: true) }
        let own = core.policies.regimes.ownDeadlines[regime]
        let rule = try RequestDeadline.rule(regime: regime, type: type, own: own)
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
                note: sealed, openedAt: Timestamp.precise(now), openedBy: context.actor, own: rule.statutory ? nil : own)
            let request = try loadRequest(tx.db, id, asOf: now)
            tx.record(AuditEntry(.requestOpen, subjectID: subject,
                                 reason: "\(id): \(type.rawValue) under \(regime.rawValue), received \(received), deadline \(Timestamp.precise(request.deadline)) (\(rule.citation))"))
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

    /// Records that the requester's identity was verified at `verifiedAt` (default: now),
    /// how, and to what degree.
    @discardableResult
    public func identityVerified(
        _ id: String, verifiedAt: Date = Date(), method: IdentityMethod, degree: IdentityDegree, context: AccessContext
    ) throws -> DataSubjectRequest {
        try recordIdentity(id, requestedAt: nil, verifiedAt: verifiedAt, method: method, degree: degree, context: context)
    }

    /// Records when identity verification was asked for and/or when it arrived, in one
    /// `request.update`. Each is recorded once; neither may be in the future, before
    /// receipt, or (arrival) before the asking. The arrival comes with how the identity was
    /// verified and to what degree (GDPR art. 12(6); CCPA regulations §§ 7060–7062): a
    /// request is completed only once that degree reaches ``IdentityDegree/required(regime:type:)``.
    ///
    /// - Throws: `.invalidInput` for a closed request, a time already recorded, times in
    ///   the wrong order, an arrival without its method and degree (or those without an
    ///   arrival), or `not-required` with a degree other than `none`; `.notFound` for an
    ///   unknown id.
    @discardableResult
    public func recordIdentity(
        _ id: String, requestedAt: Date?, verifiedAt: Date?, method: IdentityMethod? = nil, degree: IdentityDegree? = nil,
        context: AccessContext
    ) throws -> DataSubjectRequest {
        guard requestedAt != nil || verifiedAt != nil else {
            throw PrivacyKitError(.invalidInput, "give when identity verification was asked for, when it arrived, or both")
        }
        if verifiedAt != nil && (method == nil || degree == nil) {
            throw PrivacyKitError(.invalidInput, "a verified identity needs its method and degree (how it was verified, and how sure that is)")
        }
        if verifiedAt == nil && (method != nil || degree != nil) {
            throw PrivacyKitError(.invalidInput, "a method and degree are recorded with the time the identity was verified")
        }
        if (method == .notRequired) != (degree == IdentityDegree.none) && method != nil {
            throw PrivacyKitError(.invalidInput, "method not-required goes with degree none, and degree none with method not-required")
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
                if degree == IdentityDegree.none && request.identityRequired != .none {
                    throw PrivacyKitError(.invalidInput, "request \(id): a \(request.regime.rawValue) \(request.type.rawValue) request needs identity verified to a \(request.identityRequired.rawValue) degree (\(IdentityDegree.required(regime: request.regime, type: request.type).citation))")
                }
                try RequestsTable(db: db).setIdentityVerified(id: id, at: verified, method: method?.rawValue ?? "", degree: degree?.rawValue ?? "")
            }
        } describe: { _, after in
            var parts: [String] = []
            if let requested { parts.append("identity asked for at \(requested)") }
            if let verified { parts.append("identity verified at \(verified) (\(method?.rawValue ?? "?"), \(degree?.rawValue ?? "?") degree)") }
            return parts.joined(separator: ", ") + String(format: ", waited %.2f days; deadline ", after.daysWaitingForIdentity) + Timestamp.precise(after.deadline)
        }
    }

    /// Extends the deadline once, for `reason` (required; stored, shown with the request,
    /// never in the audit log: it is operator text): GDPR by two months, CCPA by 45 days,
    /// Taiwan's PDPA by 15 or 30 days (the written notice of the reason art. 13 asks for),
    /// PIPL by the controller's own extension. The extension must be decided before the
    /// first deadline passes.
    ///
    /// - Throws: `.invalidInput` for a second extension, a request past its deadline, a
    ///   request whose rule allows none (CCPA opt-out or limit: 15 business days; PIPL
    ///   without `extension_days`), a closed request, or an empty reason; `.notFound` for an
    ///   unknown id.
    @discardableResult
    public func extend(_ id: String, reason: String, at time: Date = Date(), context: AccessContext) throws -> DataSubjectRequest {
        let reason = try Tracking.text(reason, "the extension reason")
        let at = try Tracking.past(time, "the extension time")
        return try changeRequest(id, .requestUpdate, at: time, context: context) { db, request in
            if let extended = request.extendedAt {
                throw PrivacyKitError(.invalidInput, "request \(id) was already extended on \(Timestamp.precise(extended)); \(request.regime.rawValue.uppercased()) allows one extension")
            }
            guard request.rule.canExtend else {
                throw PrivacyKitError(.invalidInput, "request \(id): a \(request.regime.rawValue) \(request.type.rawValue) request must be answered within \(request.rule.period) and cannot be extended (\(request.rule.citation))")
            }
            try Tracking.notBefore(at, "the extension time", request.receivedAt, "receipt")
            guard try Tracking.date(at) <= request.deadline else {
                throw PrivacyKitError(.invalidInput, "request \(id) passed its deadline \(Timestamp.precise(request.deadline)): an extension must be decided, and the requester told, before it")
            }
            try RequestsTable(db: db).setExtended(id: id, at: at, reason: reason)
        } describe: { before, after in
            "extended to \(RequestDeadline.period(after.rule, extended: true)) in all; deadline \(Timestamp.precise(before.deadline)) -> \(Timestamp.precise(after.deadline))"
        }
    }

    /// Closes a request (`request.close`) with its outcome. A refusal needs a reason (the
    /// requester must be told why); the reason is stored, not put in the audit log.
    ///
    /// Completing a request is bound to its execution: it needs the requester's identity
    /// recorded to the degree the regime asks for, and the vault's evidence that the thing
    /// asked for was done since receipt (``RequestProof``: the erasure receipt, the export's
    /// `record.export` event, the write, the restriction, the objection), which the request
    /// and its `request.close` event then name.
    ///
    /// - Throws: `.invalidInput` for a closed request, a refusal without a reason, a closing
    ///   time before receipt, or a completion without its identity verification or its
    ///   proof; `.notFound` for an unknown id.
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
            var proofText: String?
            if outcome == .completed {
                guard request.identitySufficient else {
                    let (degree, citation) = IdentityDegree.required(regime: request.regime, type: request.type)
                    throw PrivacyKitError(.invalidInput, "request \(id): the requester's identity must be verified to a \(degree.rawValue) degree before it is completed (\(citation)); record it with verify-identity --verified-at, --method and --degree")
                }
                let proof = try self.proof(of: request, db)
                if let done = proof.at, done > at {
                    throw PrivacyKitError(.invalidInput, "request \(id): the closing time \(at) is before the \(proof.kind.rawValue) it rests on (\(done))")
                }
                proofText = String(decoding: try JSONEncoder().encode(proof), as: UTF8.self)
            }
            try RequestsTable(db: db).close(id: id, at: at, by: context.actor, outcome: outcome.rawValue, reason: reason, proof: proofText)
        } describe: { _, after in
            "\(outcome.rawValue) at \(at)\(after.proof.map { " on \($0.summary)" } ?? ""); deadline \(Timestamp.precise(after.deadline)), \(after.answeredLate == true ? "late" : "on time")"
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
