import Foundation

/// The access decision: every capability asks it, through ``VaultCore/perform(_:_:_:)``,
/// before it touches a subject. Denials are audited like grants.
extension VaultCore {
    /// The access decision for `request`: the grant, or a denial that is written to the
    /// audit log (outcome `denied`, with the rule that decided) before it is thrown.
    ///
    /// - Throws: `.denied` naming the rule; `.invalidInput` for a role or purpose the
    ///   policy does not define (also recorded as a denial).
    func authorize(_ request: AccessRequest, context: AccessContext) throws -> AccessGrant {
        var views: [String: FieldView] = [:]
        do {
            guard let action = request.action else {
                _ = try policies.access.decide(role: context.role, action: .audit, purpose: context.purpose)  // role and purpose exist
                return AccessGrant(views: [:])
            }
            let decision = try policies.access.decide(role: context.role, action: action, purpose: context.purpose)
            guard decision.isAllowed else { throw deny(request, context: context, fields: request.fields ?? [], rule: decision.rule) }
            // What a read of a subject rests on, from one snapshot: its decision rows, which
            // must be the ones the audit chain commits to (fail closed); whether it was erased
            // (it stays erased even if a store writer put its row back); its restriction and
            // consent, applied below once the fields are decided.
            var subjectState: (restricted: Bool, consent: ConsentAnswer?, limited: Bool)?
            if action == .read || action == .export, let subject = request.subject {
                let mayProcessRestricted = policies.access.mayProcessRestricted(role: context.role, purpose: context.purpose)
                let (erasedAt, restricted, consent, limited) = try store.read { db in
                    try checkDecisionState(db, .subject(subject))
                    return (try db.decisions.tombstones.erasedAt(subject: subject),
                            try !mayProcessRestricted && isRestricted(subject, db: db),
                            try consentCheck(subject: subject, purpose: context.purpose, db: db),
                            try !limitedSubjects(db, among: [subject], context: context).isEmpty)
                }
                if let erasedAt { throw PrivacyKitError(.notFound, "subject \(subject) was erased on \(erasedAt)") }
                subjectState = (restricted, consent, limited)
            }
            if action == .read || action == .export {
                let names = request.fields ?? (request.allReadableFields ? policies.schema.fields.map(\.name) : [])
                for name in names {
                    // A subject that limited its sensitive data: those fields are not used
                    // for this purpose (CPRA § 1798.121), whatever the role may see.
                    if subjectState?.limited == true, policies.schema[name]?.sensitive == true, let subject = request.subject {
                        if request.fields != nil { throw deny(request, context: context, fields: [name], rule: Self.limitedRule(subject, purpose: context.purpose)) }
                        continue
                    }
                    let decision = try policies.access.decide(role: context.role, action: action, field: name, purpose: context.purpose)
                    switch decision.outcome {
                    case .allowed: views[name] = .full
                    case .masked where request.matchesValues:
                        // A masked view is not a licence to test guesses of the rest.
                        throw deny(request, context: context, fields: [name],
                                   rule: "finding or matching by \(name) needs its full view; role \(context.role) sees it only masked")
                    case .masked: views[name] = .masked
                    case .denied:
                        // Asked for by name: refused. Part of "everything": left out.
                        if request.fields != nil { throw deny(request, context: context, fields: [name], rule: decision.rule) }
                    }
                }
                // A restricted subject (GDPR art. 18) is read only for what the policy's
                // `restricted:` allows.
                if let subject = request.subject, subjectState?.restricted == true {
                    throw deny(request, context: context, fields: request.fields ?? [], rule: Self.restrictedRule(subject))
                }
                // Reading a subject for a purpose that rests on consent needs that
                // subject's live consent (an opt-out purpose: no objection).
                if let answer = subjectState?.consent, !answer.allowed {
                    throw deny(request, context: context, fields: request.fields ?? [], rule: Self.consentRule(answer))
                }
            }
        } catch let error as PrivacyKitError where error.code == .invalidInput {
            _ = deny(request, context: context, fields: request.fields ?? [], rule: error.message)
            throw error
        }
        return AccessGrant(views: views)
    }

    /// The rule a read of a restricted subject is refused under (GDPR art. 18).
    static func restrictedRule(_ subject: String) -> String {
        "processing of subject \(subject) is restricted (GDPR art. 18); only restricted.roles acting for restricted.purposes may read it"
    }

    /// The rule a read of a sensitive field is refused under once the subject limited its use.
    static func limitedRule(_ subject: String, purpose: String?) -> String {
        "subject \(subject) limited the use of its sensitive personal information (CPRA § 1798.121); purpose \(purpose ?? "(none)") is not one the policy allows after a limit (sensitive_after_limit)"
    }

    /// The limit purpose whose objection withholds sensitive fields from `context`'s
    /// purpose; nil when the policy has none or the purpose is allowed after a limit.
    func sensitiveLimit(_ context: AccessContext) -> Purpose? {
        guard let limit = policies.purposes.limitPurpose else { return nil }
        if let purpose = context.purpose.flatMap({ policies.purposes[$0] }), purpose.sensitiveAfterLimit { return nil }
        return limit
    }

    /// The rule a read is refused under when the purpose's consent is not live.
    static func consentRule(_ answer: ConsentAnswer) -> String { "consent of the subject for \(answer.purpose): \(answer.reason)" }

    /// Why a subject may not be read, in a batch (``readDecisions(_:subjects:context:)``).
    enum SubjectRefusal {
        /// Erased: its key is gone, and it stays so whatever a store writer puts back.
        case erased(at: String)
        /// A decision rule said no (restriction, consent): the rule, as a denial states it.
        case denied(rule: String)
    }

    /// The per-subject half of a read's decision, for many subjects at once and inside the
    /// transaction that reads them: their leaf rows, record included, read in one statement
    /// and proven together (fail closed), then for each whether it was erased, is
    /// restricted for this role and purpose, or lacks the consent the purpose rests on —
    /// the same rules ``authorize(_:context:)`` applies to one subject. A subject that
    /// limited its sensitive data is refused when `fields` names a sensitive one, and
    /// listed in `limited` (its sensitive fields left out) when `fields` is nil (all).
    /// Returns each subject's record row (absent: no record) and the refusals.
    func readDecisions(_ db: StoreDatabase, subjects: [String], fields: [String]?, context: AccessContext) throws
        -> (records: [String: SubjectRow], refusals: [String: SubjectRefusal], limited: Set<String>)
    {
        let leaves = try provenLeafRows(db, subjects: subjects, allRecords: true)
        let mayProcessRestricted = policies.access.mayProcessRestricted(role: context.role, purpose: context.purpose)
        let purpose = context.purpose.flatMap { policies.purposes[$0] }.flatMap { $0.consent == .notRequired ? nil : $0 }
        let now = Timestamp.precise(Date())
        var records: [String: SubjectRow] = [:]
        var refusals: [String: SubjectRefusal] = [:]
        var limited: Set<String> = []
        let limit = sensitiveLimit(context)
        let namesSensitive = fields?.contains { policies.schema[$0]?.sensitive == true } ?? false
        for (subject, leaf) in leaves {
            if let erasedAt = leaf.erasedAt {
                refusals[subject] = .erased(at: erasedAt)
                continue
            }
            if !mayProcessRestricted, leaf.isRestricted {
                refusals[subject] = .denied(rule: Self.restrictedRule(subject))
                continue
            }
            if let purpose {
                let answer = ConsentRules.answer(subject: subject, purpose: purpose, last: leaf.consent(purpose: purpose.id), at: now)
                if !answer.allowed {
                    refusals[subject] = .denied(rule: Self.consentRule(answer))
                    continue
                }
            }
            if let limit, !ConsentRules.answer(subject: subject, purpose: limit, last: leaf.consent(purpose: limit.id), at: now).allowed {
                if namesSensitive {
                    refusals[subject] = .denied(rule: Self.limitedRule(subject, purpose: context.purpose))
                    continue
                }
                if fields == nil { limited.insert(subject) }
            }
            records[subject] = try leaf.record()
        }
        return (records, refusals, limited)
    }

    /// Subject ids as the caller's role may see them: the ids, or for a role with
    /// `subject_ids: pseudonymous` their keyed pseudonyms (as in the audit log).
    func visibleIDs(_ ids: [String], context: AccessContext) throws -> [String] {
        guard policies.access.roles[context.role]?.pseudonymousIDs == true else { return ids }
        return try ids.map(subjectPseudonym)
    }

    /// The subjects among `ids` the caller may not process for its purpose, which a find or
    /// a duplicate cluster leaves out: restricted ones (unless the policy's `restricted:`
    /// allows the role and purpose), and for a purpose that rests on consent, those without
    /// live consent (an opt-out purpose: those who objected).
    func withheldSubjects(_ db: StoreDatabase, among ids: [String], context: AccessContext) throws -> Set<String> {
        let restricted = policies.access.mayProcessRestricted(role: context.role, purpose: context.purpose)
            ? [] : try restrictedSubjects(db, among: ids)
        return try Set(ids.filter {
            try restricted.contains($0) || consentCheck(subject: $0, purpose: context.purpose, db: db)?.allowed == false
        })
    }

    /// The subjects among `ids` that limited their sensitive data, for a purpose not
    /// allowed after a limit: a find or duplicate cluster on a sensitive field leaves them
    /// out, as a read of that field would refuse them.
    func limitedSubjects(_ db: StoreDatabase, among ids: [String], context: AccessContext) throws -> Set<String> {
        guard let limit = sensitiveLimit(context) else { return [] }
        return try Set(ids.filter { try consentCheck(subject: $0, purpose: limit.id, db: db)?.allowed == false })
    }

    /// The consent answer when `purpose` needs consent; nil when it does not.
    func consentCheck(subject: String, purpose purposeID: String?, db: StoreDatabase? = nil) throws -> ConsentAnswer? {
        guard let purposeID, let purpose = policies.purposes[purposeID], purpose.consent != .notRequired else { return nil }
        let now = Timestamp.precise(Date())
        func answer(_ db: StoreDatabase) throws -> ConsentAnswer {
            ConsentRules.answer(subject: subject, purpose: purpose, last: try lastConsent(db, subject: subject, purpose: purposeID, at: nil), at: now)
        }
        if let db { return try answer(db) }
        return try store.read(answer)
    }

    private func deny(_ request: AccessRequest, context: AccessContext, fields: [String], rule: String) -> PrivacyKitError {
        let entry = AuditEntry(request.event, subjectID: request.subject, fields: fields.filter(AuditLog.isFieldName),
                               outcome: .denied, reason: rule)
        do {
            try performAudited(context) { $0.record(entry) }
        } catch let error as PrivacyKitError {
            // No denial without its event either: the caller learns the event failed.
            return PrivacyKitError(.denied, "denied (\(rule)), and the denial could not be recorded", cause: error)
        } catch {
            return PrivacyKitError(.denied, "denied (\(rule)), and the denial could not be recorded")
        }
        return PrivacyKitError(.denied, "role \(context.role)\(context.purpose.map { " for purpose \($0)" } ?? ""): \(request.action?.rawValue ?? "call") denied: \(rule)")
    }
}
