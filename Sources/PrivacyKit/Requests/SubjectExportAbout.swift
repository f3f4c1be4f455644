import Foundation

/// `about.json` (and `about.txt`, the same for a person to read) of a subject export
/// package: what GDPR art. 15(1)(a)–(h) and 15(2), art. 13(1)(c) for the lawful basis, and
/// the CCPA's right to know (§ 1798.110) entitle the person to be told, for this subject.
///
/// Drawn up from the policy files and the subject's own state, never from a field value:
/// the purposes of the processing activities (`processing.yaml`) whose data categories
/// include a category of a field the subject has, each with its lawful basis and, for an
/// opt-in or opt-out purpose, the subject's consent state; the categories held; recipients
/// and transfers of those activities; every retention rule that applies to the subject's
/// retention category, with the date it falls due where the subject's dates give one; the
/// rights, the complaint, the sources and automated decisions. Without a valid
/// `processing.yaml` the sections that only it can give are null and `note` says that the
/// controller has not described its processing.
struct SubjectExportAbout: Encodable {
    struct Activity: Encodable {
        let id: String
        let name: String
        let description: String
    }

    struct Purpose: Encodable {
        let id: String
        let description: String
        let lawfulBasis: LawfulBasis
        let consent: ConsentModel
        /// Opt-in and opt-out purposes only: the subject's state now, the time of the
        /// ledger event it rests on, and a live grant's expiry.
        @ExplicitNull var consentState: ConsentState?
        @ExplicitNull var consentSince: String?
        @ExplicitNull var consentExpiresAt: String?
        /// The applicable activities that list the purpose, and the subject's categories
        /// they use.
        let activities: [String]
        let categories: [String]
        /// The applicable rules (``SubjectExportAbout/retention``) of those activities.
        let retention: [String]
        /// The earliest date known to end this processing: a live grant's expiry, or the due
        /// date of one of `retention`.
        @ExplicitNull var until: String?

        enum CodingKeys: String, CodingKey {
            case id, description, consent, activities, categories, retention, until
            case lawfulBasis = "lawful_basis", consentState = "consent_state", consentSince = "consent_since"
            case consentExpiresAt = "consent_expires_at"
        }
    }

    struct DataCategory: Encodable {
        let category: String
        /// The subject's fields of the category, in schema order (withheld ones included:
        /// the person has them even when the exporting role may not read them).
        let fields: [String]
    }

    struct Recipient: Encodable {
        let name: String
        let kind: ProcessingPolicy.RecipientKind
        let country: String
        let activities: [String]
    }

    struct Transfer: Encodable {
        let country: String
        let recipient: String
        let safeguard: ProcessingPolicy.Safeguard
        @ExplicitNull var reference: String?
        let activities: [String]
    }

    struct Retention: Encodable {
        let rule: String
        let category: String
        let period: String
        let from: String
        let action: RetentionAction
        let legalReason: String
        /// `erase_fields`: the subject's fields it erases; `anonymize`: those it keeps,
        /// detached from the subject; `erase`: none.
        let fields: [String]
        /// The subject's date the period counts from, as stored; nil while the event has
        /// not happened (an open account, no withdrawal, an empty date field).
        @ExplicitNull var countsFrom: String?
        /// `counts_from` plus the period: when the rule falls due for the subject.
        @ExplicitNull var dueAt: String?
        let due: Date?

        // `due` is `due_at` as an instant, for `until`; not encoded.
        enum CodingKeys: String, CodingKey {
            case rule, category, period, from, action, fields
            case legalReason = "legal_reason", countsFrom = "counts_from", dueAt = "due_at"
        }
    }

    struct Source: Encodable {
        let kind: ProcessingPolicy.SourceKind
        let label: String
        let activities: [String]
    }

    struct AutomatedDecision: Encodable {
        let activity: String
        let description: String
    }

    enum RightKind: String, Encodable, CaseIterable {
        case rectification, erasure, restriction, objection, portability
        case withdrawConsent = "withdraw-consent"
    }

    struct Right: Encodable {
        let right: RightKind
        let text: String
        /// For `objection` and `withdraw-consent`: the purposes it concerns (opt-out and
        /// opt-in ones); empty for the others, which concern all the data.
        let purposes: [String]
    }

    let subject: String
    let generatedAt: String
    let described: Bool
    @ExplicitNull var note: String?
    @ExplicitNull var controller: ProcessingPolicy.Controller?
    @ExplicitNull var activities: [Activity]?
    @ExplicitNull var purposes: [Purpose]?
    let dataCategories: [DataCategory]
    @ExplicitNull var recipients: [Recipient]?
    @ExplicitNull var transfers: [Transfer]?
    @ExplicitNull var retentionCategory: String?
    let retention: [Retention]
    let restricted: Bool
    let rights: [Right]
    let complaint: String
    @ExplicitNull var sources: [Source]?
    @ExplicitNull var automatedDecisions: [AutomatedDecision]?

    enum CodingKeys: String, CodingKey {
        case subject, described, note, controller, activities, purposes, recipients, transfers, retention, restricted, rights, complaint, sources
        case generatedAt = "generated_at", dataCategories = "data_categories", retentionCategory = "retention_category"
        case automatedDecisions = "automated_decisions"
    }

    /// - Parameters:
    ///   - held: the schema fields the subject has a value for, in schema order.
    ///   - createdAt: when the vault first stored the subject (the `created` event without
    ///     a created field).
    ///   - lastConsent: the subject's current consent row for a purpose (read in the
    ///     export's transaction).
    init(
        subject: String, at now: Date, policies: VaultPolicies, held: [FieldSpec], plain: [String: String], createdAt: String,
        retentionCategory: String?, restricted: Bool, lastConsent: (String) throws -> ConsentRow?
    ) throws {
        self.subject = subject
        generatedAt = Timestamp.string(now)
        self.restricted = restricted
        self.retentionCategory = retentionCategory
        let heldCategories = Set(held.map(\.category))
        dataCategories = Schema.categories.filter(heldCategories.contains).map { category in
            DataCategory(category: category, fields: held.filter { $0.category == category }.map(\.name))
        }
        retention = try Self.retention(policies.retention, held: held, plain: plain, createdAt: createdAt, category: retentionCategory, lastConsent: lastConsent)
        complaint = SubjectExportAboutText.complaint

        guard let processing = policies.processing else {
            described = false
            note = SubjectExportAboutText.notDescribed
            controller = nil
            activities = nil
            purposes = nil
            recipients = nil
            transfers = nil
            sources = nil
            automatedDecisions = nil
            // Whether they apply to this person is unknown: every purpose they could concern.
            let all = policies.purposes.ids.compactMap { policies.purposes[$0] }
            rights = Self.rights(optIn: all.filter { $0.consent == .optIn }.map(\.id), optOut: all.filter { $0.consent == .optOut }.map(\.id))
            return
        }
        described = true
        note = nil
        controller = processing.controller
        let applicable = processing.activities.filter { !heldCategories.isDisjoint(with: $0.dataCategories) }
        activities = applicable.map { Activity(id: $0.id, name: $0.name, description: $0.description) }

        let rulesByName = Dictionary(retention.map { ($0.rule, $0) }, uniquingKeysWith: { first, _ in first })
        let stamp = Timestamp.precise(now)
        var seen = Set<String>()
        var purposes: [Purpose] = []
        for id in applicable.flatMap(\.purposes) where seen.insert(id).inserted {
            guard let purpose = policies.purposes[id] else { continue }
            let using = applicable.filter { $0.purposes.contains(id) }
            let categories = Schema.categories.filter { category in heldCategories.contains(category) && using.contains { $0.dataCategories.contains(category) } }
            var rules: [String] = []
            for name in using.flatMap(\.retention) where rulesByName[name] != nil && !rules.contains(name) { rules.append(name) }
            var state: ConsentState?, since: String?, expires: String?
            if purpose.consent != .notRequired {
                let last = try lastConsent(id)
                state = ConsentRules.state(purpose: purpose, last: last, at: stamp)
                since = last?.time
                expires = state == .granted ? last?.expiresAt : nil
            }
            // Compared as instants, written as stored: a reparsed expiry would lose its milliseconds.
            var ends = rules.compactMap { name in rulesByName[name].flatMap { r in r.due.map { ($0, r.dueAt ?? "") } } }
            if let expires, let date = ISOTime.parse(expires) { ends.append((date, expires)) }
            purposes.append(Purpose(
                id: id, description: purpose.description, lawfulBasis: purpose.lawfulBasis, consent: purpose.consent, consentState: state,
                consentSince: since, consentExpiresAt: expires, activities: using.map(\.id), categories: categories, retention: rules,
                until: ends.min { $0.0 < $1.0 }?.1))
        }
        self.purposes = purposes

        var recipients: [Recipient] = []
        var transfers: [Transfer] = []
        var sources: [Source] = []
        for activity in applicable {
            for r in activity.recipients {
                if let i = recipients.firstIndex(where: { $0.name == r.name && $0.kind == r.kind && $0.country == r.country }) {
                    recipients[i] = Recipient(name: r.name, kind: r.kind, country: r.country, activities: recipients[i].activities + [activity.id])
                } else {
                    recipients.append(Recipient(name: r.name, kind: r.kind, country: r.country, activities: [activity.id]))
                }
            }
            for t in activity.transfers {
                if let i = transfers.firstIndex(where: { $0.country == t.country && $0.recipient == t.recipient && $0.safeguard == t.safeguard && $0.reference == t.reference }) {
                    transfers[i] = Transfer(country: t.country, recipient: t.recipient, safeguard: t.safeguard, reference: t.reference,
                                            activities: transfers[i].activities + [activity.id])
                } else {
                    transfers.append(Transfer(country: t.country, recipient: t.recipient, safeguard: t.safeguard, reference: t.reference, activities: [activity.id]))
                }
            }
            for s in activity.sources {
                if let i = sources.firstIndex(where: { $0.kind == s.kind && $0.label == s.label }) {
                    sources[i] = Source(kind: s.kind, label: s.label, activities: sources[i].activities + [activity.id])
                } else {
                    sources.append(Source(kind: s.kind, label: s.label, activities: [activity.id]))
                }
            }
        }
        self.recipients = recipients
        self.transfers = transfers
        self.sources = sources
        automatedDecisions = applicable.filter(\.automatedDecisions.used).map {
            AutomatedDecision(activity: $0.id, description: $0.automatedDecisions.description ?? "")
        }
        rights = Self.rights(optIn: purposes.filter { $0.consent == .optIn }.map(\.id), optOut: purposes.filter { $0.consent == .optOut }.map(\.id))
    }

    private static func rights(optIn: [String], optOut: [String]) -> [Right] {
        RightKind.allCases.map { kind in
            let purposes: [String] = switch kind {
            case .objection: optOut
            case .withdrawConsent: optIn
            default: []
            }
            return Right(right: kind, text: SubjectExportAboutText.right(kind), purposes: purposes)
        }
    }

    /// The rules of `policy` that apply to a subject of `category`, in file order, each with
    /// the date it falls due. The event dates are those a sweep's query reads
    /// (`RetentionQuery`): the same fields, the same fallbacks to the created date.
    private static func retention(
        _ policy: RetentionPolicy, held: [FieldSpec], plain: [String: String], createdAt: String, category: String?,
        lastConsent: (String) throws -> ConsentRow?
    ) throws -> [Retention] {
        let has = Set(held.map(\.name))
        let created = policy.createdField.flatMap { plain[$0] } ?? createdAt
        var result: [Retention] = []
        for rule in policy.rules where rule.category == nil || rule.category == category {
            let fields: [String]
            switch rule.action {
            case .erase: fields = []
            case .eraseFields:
                fields = rule.fields.filter(has.contains)
                // Nothing of the subject's to erase: the rule never acts on it.
                if fields.isEmpty { continue }
            case .anonymize: fields = rule.keep.filter(has.contains)
            }
            let event: String?
            switch rule.from {
            case .created: event = created
            case .lastInteraction: event = policy.lastInteractionField.flatMap { plain[$0] } ?? created
            case .accountClosed: event = policy.accountClosedField.flatMap { plain[$0] }
            case .field(let name): event = plain[name]
            case .consentWithdrawn(let purpose):
                let last = try lastConsent(purpose)
                event = last.flatMap { $0.kind == .grant ? nil : $0.time }
            }
            // Rounded to the millisecond: parsed back from text, `.369` can come out as `.3689…`,
            // which the formatter would write as `.368`.
            let due = event.flatMap(ISOTime.parse).map(rule.period.after).map { Date(timeIntervalSince1970: ($0.timeIntervalSince1970 * 1000).rounded() / 1000) }
            result.append(Retention(
                rule: rule.name, category: rule.category ?? RetentionPolicy.anyCategory, period: rule.period.description, from: rule.from.description,
                action: rule.action, legalReason: rule.legalReason, fields: fields, countsFrom: event, dueAt: due.map(Timestamp.precise), due: due))
        }
        return result
    }
}

extension SubjectExportAbout {
    /// The same content as `about.json`, as plain text for the person it is about; every
    /// word from ``SubjectExportAboutText``.
    var plainText: String {
        typealias T = SubjectExportAboutText
        var lines = [T.title, T.subtitle(subject: subject, at: generatedAt), ""]
        func section(_ heading: String, _ body: [String]) {
            lines += [heading, String(repeating: "=", count: heading.count)] + body + [""]
        }
        if let note { section(T.notDescribedHeading, [note]) }
        if let controller {
            var body = [T.party(controller.name, controller.address, controller.contact)]
            if let rep = controller.representative { body.append("\(RecordsOfProcessingText.representative): \(T.party(rep.name, rep.address, rep.contact))") }
            if let dpo = controller.dpo { body.append("\(RecordsOfProcessingText.dpo): \([dpo.name, dpo.contact].compactMap { $0 }.joined(separator: ", "))") }
            section(RecordsOfProcessingText.controller, body)
        }
        if restricted { section(T.restrictedHeading, [T.restricted]) }
        if let purposes {
            let names = Dictionary((activities ?? []).map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
            section(T.purposes, purposes.isEmpty ? [T.none] : purposes.flatMap { p in
                var item = ["- \(p.id): \(p.description)", "  \(T.lawfulBasisLabel): \(T.lawfulBasis(p.lawfulBasis))"]
                if let state = p.consentState { item.append("  \(T.consentLabel): \(T.consentState(state, since: p.consentSince, expires: p.consentExpiresAt))") }
                item.append("  \(T.activitiesLabel): \(p.activities.map { names[$0] ?? $0 }.joined(separator: "; "))")
                item.append("  \(T.categoriesLabel): \(p.categories.joined(separator: ", "))")
                if let until = p.until { item.append("  \(T.untilLabel): \(until)") }
                return item
            })
        }
        section(T.categories, dataCategories.isEmpty ? [T.none] : dataCategories.map { "- \($0.category): \($0.fields.joined(separator: ", "))" })
        if let recipients {
            section(T.recipients, recipients.isEmpty ? [T.none] : recipients.map {
                "- \($0.name) (\(RecordsOfProcessingText.recipientKind($0.kind)), \($0.country))"
            })
        }
        if let transfers {
            section(T.transfers, transfers.isEmpty ? [T.noTransfers] : transfers.map {
                "- \($0.country): \($0.recipient); \(RecordsOfProcessingText.safeguard($0.safeguard))" + ($0.reference.map { ": \($0)" } ?? "")
            })
        }
        var kept = retentionCategory.map { [T.retentionCategory($0)] } ?? []
        kept += retention.isEmpty ? [T.noRetention] : retention.flatMap { r in
            ["- \(r.rule): \(ReportWords.rule(action: r.action.rawValue, period: r.period, from: r.from))"
                + (r.fields.isEmpty ? "" : " (\(r.fields.joined(separator: ", ")))"),
             "  " + (r.dueAt.map(T.dueOn) ?? T.notYetDue),
             "  \(T.whyLabel): \(r.legalReason)"]
        }
        section(T.retention, kept)
        var rightLines = rights.map { right in
            "- \(right.text)" + (right.purposes.isEmpty ? "" : " \(T.purposesLabel): \(right.purposes.joined(separator: ", ")).")
        }
        if let controller { rightLines.append(T.exercise(contact: controller.contact, dpo: controller.dpo?.contact)) }
        section(T.rights, rightLines)
        section(T.complaintHeading, [complaint])
        if let sources {
            section(T.sources, sources.isEmpty ? [T.none] : sources.map { "- \(RecordsOfProcessingText.source($0.kind)): \($0.label)" })
        }
        if let automatedDecisions {
            section(T.automated, automatedDecisions.isEmpty ? [T.noAutomated] : automatedDecisions.map { "- \($0.description)" })
        }
        return lines.joined(separator: "\n")
    }
}
