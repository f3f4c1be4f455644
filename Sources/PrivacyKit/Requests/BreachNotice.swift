public import Foundation
public import Sodium

/// How the notices to the persons are written (``VaultBreaches/notify(_:_:to:now:context:)``).
public enum BreachPersonNotices: Sendable, Equatable {
    /// One file per person that can be reached, sealed (`crypto_box_seal`) to a mail tool's
    /// public key: the notice text and the person's contact addresses, read from the vault
    /// under the access decision. No address is written in plaintext.
    case sealed(to: SealedBox.PublicKey)
    /// `persons.csv`: subject ids, the channels each can be reached on and the regimes;
    /// with `includeAddresses`, the contact values too (plaintext: read under the access
    /// decision and audited as a read of those fields for every person).
    case csv(includeAddresses: Bool)

    var readsAddresses: Bool {
        switch self {
        case .sealed: true
        case .csv(let include): include
        }
    }
}

/// What the operator gives for a breach's notices: the regimes, the audit-log window whose
/// subjects are the persons concerned (as ``VaultBreaches/affected(since:until:actor:kekVersion:breach:context:)``),
/// and the texts that only the operator can write. The texts go into the notices, never
/// into the audit log.
public struct BreachNoticeRequest: Sendable {
    public var regimes: [PrivacyRegime]
    public var since: Date
    public var until: Date
    public var actor: String?
    public var kekVersion: Int?
    /// The likely consequences of the breach (GDPR art. 33(3)(c), 34(2); PIPL art. 57(1)(1)).
    public var consequences: String
    /// The measures taken or proposed (GDPR art. 33(3)(d); PIPL art. 57(1)(2)).
    public var measures: String
    /// What a person can do to reduce the harm (PIPL art. 57(1)(2)); nil: a general sentence.
    public var advice: String?
    /// What happened, as the persons may read it; nil: a sentence from the detection time
    /// (the breach's own summary is internal and never goes to the persons).
    public var publicSummary: String?
    public var persons: BreachPersonNotices

    public init(
        regimes: [PrivacyRegime], since: Date, until: Date, actor: String? = nil, kekVersion: Int? = nil, consequences: String, measures: String,
        advice: String? = nil, publicSummary: String? = nil, persons: BreachPersonNotices
    ) {
        self.regimes = regimes
        self.since = since
        self.until = until
        self.actor = actor
        self.kekVersion = kekVersion
        self.consequences = consequences
        self.measures = measures
        self.advice = advice
        self.publicSummary = publicSummary
        self.persons = persons
    }
}

/// How many persons the notices cover, and why some have none.
public struct BreachNoticeCounts: Sendable, Codable, Equatable {
    /// Persons in the impact (erased ones included).
    public let subjects: Int
    /// Persons with at least one channel: a sealed file each, or a CSV row with status `ok`.
    public let notices: Int
    public let erased: Int
    /// Refused by the access decision for this role and purpose (restricted, no consent);
    /// each refusal is audited.
    public let refused: Int
    /// Held, but with no e-mail, phone or postal field.
    public let noChannel: Int
    /// Pseudonyms in the window that match no person the vault holds or erased.
    public let unresolved: Int
    /// Field values read, exported or changed in the window (the draft's "records").
    public let values: Int
    public let events: Int

    enum CodingKeys: String, CodingKey {
        case subjects, notices, erased, refused, unresolved, values, events
        case noChannel = "no_channel"
    }
}

/// `manifest.json` of a breach notice directory (see docs/formats.md, "Breach notices").
public struct BreachNoticeManifest: Sendable, Codable, Equatable {
    public let format: String
    public let formatVersion: Int
    public let vaultID: String
    public let breach: String
    public let regimes: [PrivacyRegime]
    public let createdAt: String
    /// `sealed` or `csv`.
    public let persons: String
    /// Whether plaintext contact values are in the directory (`csv` with addresses).
    public let addresses: Bool
    /// Fingerprint of the public key the notices are sealed to.
    public let sealedTo: String?
    public let counts: BreachNoticeCounts
    /// Every other file of the directory.
    public let files: [SubjectExportFile]

    enum CodingKeys: String, CodingKey {
        case format, breach, regimes, persons, addresses, counts, files
        case formatVersion = "format_version", vaultID = "vault_id", createdAt = "created_at", sealedTo = "sealed_to"
    }
}

/// What ``VaultBreaches/notify(_:_:to:now:context:)`` wrote.
public struct BreachNoticeSummary: Sendable, Encodable, Equatable {
    public let directory: String
    public let manifest: BreachNoticeManifest
    /// The files in the directory, in the order written.
    public let written: [String]
    public let bytes: Int
}

/// One sealed notice, as the mail tool reads it after opening the file.
public struct BreachPersonNotice: Sendable, Codable, Equatable {
    public let format: String
    public let breach: String
    public let subject: String
    public let regimes: [PrivacyRegime]
    /// `email`, `phone`, `postal`: those the person can be reached on.
    public let channels: [String]
    /// The contact values by schema field name.
    public let contact: [String: String]
    public let title: String
    public let text: String
}

enum BreachNotice {
    static let format = "privacykit-breach-notices"
    static let noticeFormat = "privacykit-breach-notice"
    static let formatVersion = 1
    static let manifestName = "manifest.json"
    static let authorityJSON = "authority.json"
    static let authorityText = "authority.txt"
    static let personsCSV = "persons.csv"
    static let personText = "person-notice.txt"

    /// The channels a notice can go by, with the schema fields that carry each: e-mail and
    /// phone by their normalizer, postal by the `location` category.
    static func channels(_ schema: Schema) -> [(name: String, fields: [FieldSpec])] {
        [
            ("email", schema.fields.filter { $0.kind == .email }),
            ("phone", schema.fields.filter { $0.kind == .phone }),
            ("postal", schema.fields.filter { $0.category == "location" }),
        ].filter { !$0.1.isEmpty }
    }

    /// The channels a person has: a field of it with a value (a country alone is no
    /// postal address).
    static func available(_ present: Set<String>, channels: [(name: String, fields: [FieldSpec])]) -> [String] {
        channels.filter { channel in
            channel.fields.contains { present.contains($0.name) && !(channel.name == "postal" && $0.kind == .country) }
        }.map(\.name)
    }

    /// The draft's facts, as the reader sees them.
    struct Facts {
        let breach: BreachRecord
        let impact: BreachImpact
        let processing: ProcessingPolicy?
        let request: BreachNoticeRequest
        let draftedAt: Date

        var values: Int { impact.totals.values.reduce(0) { $0 + $1.values } }

        var contact: String {
            guard let controller = processing?.controller else { return BreachNoticeText.noProcessing }
            return BreachNoticeText.contact(dpoName: controller.dpo?.name, dpoContact: controller.dpo?.contact,
                                            controller: controller.name, controllerContact: controller.contact)
        }

        var numbers: String {
            var lines = [BreachNoticeText.numbers(persons: impact.subjects.count, erased: impact.subjects.filter(\.erased).count, values: values,
                                                  events: impact.events, unresolved: impact.unresolved.count)]
            if impact.totals.isEmpty {
                lines.append(BreachNoticeText.noCategories)
            } else {
                lines.append(BreachNoticeText.categoriesHeading + ":")
                lines += impact.totals.sorted { $0.key < $1.key }.map { "  " + BreachNoticeText.category($0.key, subjects: $0.value.subjects, values: $0.value.values) }
            }
            return lines.joined(separator: "\n")
        }

        func text(_ fact: BreachNoticeFact) -> String {
            switch fact {
            case .nature: breach.summary
            case .numbers: numbers
            case .contact: contact
            case .consequences: request.consequences
            case .measures: request.measures
            case .advice: request.advice ?? BreachNoticeText.personDefaultAdvice
            }
        }
    }

    // MARK: The authority's draft

    struct AuthorityItem: Encodable {
        let reference: String
        let heading: String
        let text: String
    }

    struct AuthorityRegime: Encodable {
        let regime: PrivacyRegime
        /// The duty to notify an authority; null (not absent) where the regime has none.
        @ExplicitNull var authority: BreachObligation?
        @ExplicitNull var recipient: String?
        let persons: [BreachObligation]
        let items: [AuthorityItem]
        let notes: [String]
    }

    struct Authority: Encodable {
        let breach: String
        let detectedAt: String
        let draftedAt: String
        let window: String
        let nature: String
        let persons: Int
        let erased: Int
        let values: Int
        let events: Int
        let unresolved: Int
        let categories: [String: BreachImpact.CategoryTotal]
        let contact: String
        let contactMissing: Bool
        let consequences: String
        let measures: String
        let regimes: [AuthorityRegime]

        enum CodingKeys: String, CodingKey {
            case breach, window, nature, persons, erased, values, events, unresolved, categories, contact, consequences, measures, regimes
            case detectedAt = "detected_at", draftedAt = "drafted_at", contactMissing = "contact_missing"
        }
    }

    static func authority(_ facts: Facts, policy: RegimePolicy) -> Authority {
        let drafted = Timestamp.precise(facts.draftedAt)
        let regimes = facts.request.regimes.map { regime -> AuthorityRegime in
            let obligations = BreachRules.obligations(regime: regime, detectedAt: facts.breach.detectedAt, policy: policy)
            let authority = obligations.first { $0.recipient == .authority }
            let persons = obligations.filter { $0.recipient == .persons }
            var notes: [String] = []
            guard let authority else {
                notes.append(BreachNoticeText.noAuthorityDuty(obligations.map(\.citation)))
                return AuthorityRegime(regime: regime, authority: nil, recipient: nil, persons: persons, items: [], notes: notes)
            }
            if let deadline = authority.deadline, facts.draftedAt > deadline {
                notes.append(BreachNoticeText.pastDeadline(Timestamp.precise(deadline)))
            }
            if regime == .ccpa { notes.append(BreachNoticeText.ccpaSample) }
            if regime == .pipl { notes.append(BreachNoticeText.piplPersonsException) }
            let items = BreachNoticeText.authorityItems(regime).map { item in
                AuthorityItem(reference: item.ref, heading: item.heading, text: item.facts.map(facts.text).joined(separator: "\n\n"))
            }
            return AuthorityRegime(regime: regime, authority: authority, recipient: BreachNoticeText.recipientName(regime), persons: persons,
                                   items: items, notes: notes)
        }
        let impact = facts.impact
        return Authority(
            breach: facts.breach.id, detectedAt: Timestamp.precise(facts.breach.detectedAt), draftedAt: drafted,
            window: BreachNoticeText.windowText(since: Timestamp.precise(impact.since), until: Timestamp.precise(impact.until), actor: impact.actor,
                                            kekVersion: impact.kekVersion),
            nature: facts.breach.summary, persons: impact.subjects.count, erased: impact.subjects.filter(\.erased).count, values: facts.values,
            events: impact.events, unresolved: impact.unresolved.count, categories: impact.totals, contact: facts.contact,
            contactMissing: facts.processing == nil, consequences: facts.request.consequences, measures: facts.request.measures, regimes: regimes)
    }

    static func authorityText(_ a: Authority) -> String {
        typealias T = BreachNoticeText
        var lines = [T.authorityTitle, String(repeating: "=", count: T.authorityTitle.count), "", T.draftNote, "",
                     "\(T.breachID): \(a.breach)", "\(T.detectedAt): \(a.detectedAt)", "\(T.draftedAt): \(a.draftedAt)", "\(T.window): \(a.window)"]
        for regime in a.regimes {
            let heading = "\(T.regime): \(regime.regime.rawValue)"
            lines += ["", heading, String(repeating: "-", count: heading.count)]
            if let duty = regime.authority {
                lines.append("\(T.recipient): \(regime.recipient ?? "") (\(duty.citation))")
                lines.append("\(T.deadline): \(duty.deadline.map { "\(Timestamp.precise($0)) (\(duty.when))" } ?? T.noClock(duty.when))")
                lines.append("\(T.condition): \(duty.condition ?? T.always)")
            }
            for duty in regime.persons {
                lines.append("\(T.personsDuty): \(duty.deadline.map(Timestamp.precise) ?? T.noClock(duty.when)) (\(duty.citation))\(duty.condition.map { "; \($0)" } ?? "")")
            }
            lines += regime.notes
            for item in regime.items {
                lines += ["", item.reference.isEmpty ? item.heading : "\(item.reference): \(item.heading)"]
                lines += item.text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : "    " + $0 }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: The persons' notices

    static func personNotice(_ facts: Facts, categories: [String]) -> (title: String, text: String) {
        typealias T = BreachNoticeText
        let controller = facts.processing?.controller.name
        let summary = facts.request.publicSummary ?? T.personDefaultSummary(controller: controller, detected: ISOTime.string(facts.breach.detectedAt))
        let sections: [(String, String)] = [
            (T.personWhatHappened, summary), (T.personData, T.personCategories(categories)),
            (T.personConsequences, facts.request.consequences), (T.personMeasures, facts.request.measures),
            (T.personAdvice, facts.text(.advice)), (T.personContact, facts.contact),
        ]
        return (T.personTitle, sections.map { "\($0.0)\n\($0.1)" }.joined(separator: "\n\n") + "\n")
    }
}

extension VaultBreaches {
    /// Drafts the notices of breach `id` into the new directory `directory`: the
    /// authority's notification per regime (`authority.json`, `authority.txt`: the items of
    /// GDPR art. 33(3), PIPL art. 57(1) and the others' equivalents, with the deadline and
    /// article from ``BreachRules``), the text sent to the persons (`person-notice.txt`),
    /// the persons (`persons.csv`, and with ``BreachPersonNotices/sealed(to:)`` one sealed
    /// `notice-NNNN.sealed` each) and a SHA-256 `manifest.json`.
    ///
    /// The persons are the subjects of the audit-log window (as ``affected(since:until:actor:kekVersion:breach:context:)``
    /// finds them). Reading their contact values (sealed notices, or a CSV with addresses)
    /// needs `read` on every e-mail, phone and location field in full, decided once; each
    /// person is then decided on their own rows (restriction, consent), and each read is
    /// one `record.read` (field names), each refusal one denial. One `breach.notify` event
    /// (the regimes and counts; never the texts or a value) commits with them; the directory
    /// is assembled in a hidden sibling and appears only after that commit.
    ///
    /// - Throws: `.invalidInput` (no regime, an empty window or text), `.notFound` (an
    ///   unknown breach, a missing parent directory), `.alreadyExists` (a non-empty
    ///   `directory`), `.denied` (audited) for a role without `breach`, or without `read`
    ///   on the contact fields in full when values are read.
    public func notify(_ id: String, _ request: BreachNoticeRequest, to directory: URL, now: Date = Date(), context: AccessContext) throws
        -> BreachNoticeSummary
    {
        let request = try Self.checked(request, breach: id)
        let channels = BreachNotice.channels(schema)
        let contactFields = channels.flatMap { $0.fields.map(\.name) }
        if request.persons.readsAddresses && contactFields.isEmpty {
            throw PrivacyKitError(.invalidInput, "breach \(id): the schema has no e-mail, phone or location field to reach the persons by")
        }
        var acting = context
        acting.requestID = id
        _ = try authorize(AccessRequest(.breach, event: .breachNotify), context: acting)
        var plan: [(spec: FieldSpec, view: FieldView)] = []
        if request.persons.readsAddresses {
            let grant = try authorize(AccessRequest(.read, event: .breachNotify, fields: contactFields), context: acting)
            let masked = contactFields.filter { grant.view($0) != .full }
            if !masked.isEmpty {
                // A masked address reaches no one: refused, and the refusal is evidence too.
                let rule = "notices need the contact fields in full; role \(context.role) sees \(masked.joined(separator: ", ")) only masked"
                try performAudited(acting) { $0.record(AuditEntry(.breachNotify, fields: masked, outcome: .denied, reason: rule)) }
                throw PrivacyKitError(.denied, "breach \(id): role \(context.role): read denied: \(rule)")
            }
            plan = contactFields.compactMap { name in schema[name].map { (spec: $0, view: FieldView.full) } }
        }
        let staging = try SubjectExport.Staging(target: directory, verb: "drafting")
        defer { staging.discard() }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        let summary = try perform(acting, AccessRequest(.breach, event: .breachNotify)) { tx, _ -> BreachNoticeSummary in
            let breach = try loadBreach(tx.db, id, asOf: now)
            let impact = try self.impact(tx.db, since: request.since, until: request.until, actor: request.actor, kekVersion: request.kekVersion, breach: id)
            let facts = BreachNotice.Facts(breach: breach, impact: impact, processing: core.policies.processing, request: request, draftedAt: now)
            let persons = try contacts(tx, impact: impact, plan: plan, channels: channels, context: acting, cipher: cipher)
            let sealing: SealedBox.PublicKey? = if case .sealed(let key) = request.persons { key } else { nil }
            let addressColumns = sealing == nil && request.persons.readsAddresses ? contactFields : []
            var files = BreachNotice.files(facts, persons: persons, addressColumns: addressColumns, policy: core.policies.regimes)
            let counts = BreachNotice.counts(impact, persons: persons)
            if let sealing { try BreachNotice.seal(facts, persons: persons, to: sealing, into: &files) }
            let fingerprint = sealing.map(SubjectExport.fingerprint)
            let manifest = BreachNoticeManifest(
                format: BreachNotice.format, formatVersion: BreachNotice.formatVersion, vaultID: self.id.hex, breach: id, regimes: request.regimes,
                createdAt: Timestamp.precise(now), persons: fingerprint == nil ? "csv" : "sealed", addresses: fingerprint == nil && request.persons.readsAddresses,
                sealedTo: fingerprint, counts: counts,
                files: files.map { SubjectExportFile(name: $0.name, bytes: $0.bytes.count, sha256: Hex.encode(SHA256.hash($0.bytes))) })
            files.append((BreachNotice.manifestName, SubjectExport.json(manifest)))
            let what = fingerprint.map { "\(counts.notices) notices sealed to key \($0)" }
                ?? "persons.csv \(request.persons.readsAddresses ? "with the contact fields" : "without addresses")"
            tx.record(AuditEntry(.breachNotify, fields: request.persons.readsAddresses ? contactFields : [], reason:
                "\(id): notices drafted for \(request.regimes.map(\.rawValue).joined(separator: ",")): \(counts.subjects) persons (\(counts.erased) erased, "
                + "\(counts.refused) refused, \(counts.noChannel) without a channel), \(counts.unresolved) unresolved; \(what)"))
            let written = try staging.write(files)
            for index in files.indices { Memory.wipe(&files[index].bytes) }
            return BreachNoticeSummary(directory: staging.target, manifest: manifest, written: written.map(\.name), bytes: written.reduce(0) { $0 + $1.bytes })
        }
        try staging.finish()
        return summary
    }

    /// The request with its texts trimmed and checked and its regimes without repeats.
    static func checked(_ request: BreachNoticeRequest, breach id: String) throws -> BreachNoticeRequest {
        var request = request
        guard !request.regimes.isEmpty else { throw PrivacyKitError(.invalidInput, "breach \(id): name at least one regime (gdpr, ccpa, pdpa-tw, pipl)") }
        var seen: Set<PrivacyRegime> = []
        request.regimes = request.regimes.filter { seen.insert($0).inserted }
        try checkWindow(since: request.since, until: request.until, actor: request.actor, kekVersion: request.kekVersion)
        func text(_ value: String, _ what: String) throws -> String {
            do { return try Tracking.text(value, what, limit: 4000, lines: true) } catch let error as PrivacyKitError {
                throw PrivacyKitError(error.code, "breach \(id): \(error.message)")
            }
        }
        request.consequences = try text(request.consequences, "the likely consequences")
        request.measures = try text(request.measures, "the measures")
        request.advice = try request.advice.map { try text($0, "the advice to the persons") }
        request.publicSummary = try request.publicSummary.map { try text($0, "the public summary") }
        return request
    }

    /// Each person of the impact with the channels they can be reached on and, when `plan`
    /// reads them, their contact values (audited per person, as a batch read is).
    private func contacts(
        _ tx: AuditedTransaction, impact: BreachImpact, plan: [(spec: FieldSpec, view: FieldView)], channels: [(name: String, fields: [FieldSpec])],
        context: AccessContext, cipher: FieldCipher
    ) throws -> [BreachNotice.Person] {
        let ids = impact.subjects.filter { !$0.erased }.map(\.subject)
        let store = RecordStore(core: core)
        var rows: [String: SubjectRow] = [:]
        var refused: [String: String] = [:]
        if plan.isEmpty {
            for (subject, leaf) in try provenLeafRows(tx.db, subjects: ids, allRecords: true) where leaf.erasedAt == nil {
                rows[subject] = try leaf.record()
            }
        } else {
            let decided = try core.readDecisions(tx.db, subjects: ids, fields: plan.map(\.spec.name), context: context)
            rows = decided.records
            for (subject, refusal) in decided.refusals {
                if case .denied(let rule) = refusal { refused[subject] = rule }
            }
        }
        let readable = Set(plan.map(\.spec.name))
        return try impact.subjects.map { subject -> BreachNotice.Person in
            let categories = subject.categories.keys.sorted()
            if let rule = refused[subject.subject] {
                tx.record(AuditEntry(.recordRead, subjectID: subject.subject, fields: plan.map(\.spec.name), outcome: .denied, reason: rule))
                return .init(subject: subject.subject, status: .refused, channels: [], contact: [:], categories: categories)
            }
            guard !subject.erased, let row = rows[subject.subject] else {
                return .init(subject: subject.subject, status: subject.erased ? .erased : .noChannel, channels: [], contact: [:], categories: categories)
            }
            let stored = try store.decode(row, subjectID: subject.subject)
            let present = Set(stored.sealed.keys).union(stored.plain.keys)
            let available = BreachNotice.available(present, channels: channels)
            var contact: [String: String] = [:]
            if !available.isEmpty && !plan.isEmpty {
                let held = plan.filter { present.contains($0.spec.name) && readable.contains($0.spec.name) }
                contact = try VaultRecords(core: core).read(stored, subject: subject.subject, plan: held, cipher: cipher, tx: tx)
            }
            return .init(subject: subject.subject, status: available.isEmpty ? .noChannel : .ok, channels: available, contact: contact, categories: categories)
        }
    }
}

extension BreachNotice {
    struct Person {
        enum Status: String { case ok, erased, refused, noChannel = "no-channel" }
        let subject: String
        let status: Status
        let channels: [String]
        /// Read only for sealed notices or a CSV with addresses.
        let contact: [String: String]
        let categories: [String]
    }

    static func counts(_ impact: BreachImpact, persons: [Person]) -> BreachNoticeCounts {
        func count(_ status: Person.Status) -> Int { persons.filter { $0.status == status }.count }
        return BreachNoticeCounts(
            subjects: persons.count, notices: count(.ok), erased: count(.erased), refused: count(.refused), noChannel: count(.noChannel),
            unresolved: impact.unresolved.count, values: impact.totals.values.reduce(0) { $0 + $1.values }, events: impact.events)
    }

    static func noticeName(_ index: Int) -> String { "notice-" + String(format: "%04d", index + 1) + SubjectExport.sealedSuffix }

    /// The authority draft, the persons' text and `persons.csv` (addresses only when read
    /// for a CSV: sealed notices keep theirs inside the sealed files).
    static func files(_ facts: Facts, persons: [Person], addressColumns: [String], policy: RegimePolicy) -> [(name: String, bytes: [UInt8])] {
        let authority = authority(facts, policy: policy)
        let sample = personNotice(facts, categories: facts.impact.totals.keys.sorted())
        let sealed = if case .sealed = facts.request.persons { true } else { false }
        var header = ["subject", "status", "channels", "regimes"]
        if sealed { header.append("file") }
        header += addressColumns
        var index = 0
        let rows = persons.map { person -> [String] in
            var row = [person.subject, person.status.rawValue, person.channels.joined(separator: " "), facts.request.regimes.map(\.rawValue).joined(separator: " ")]
            if sealed {
                row.append(person.status == .ok ? noticeName(index) : "")
                if person.status == .ok { index += 1 }
            }
            return row + addressColumns.map { person.contact[$0] ?? "" }
        }
        return [
            (authorityJSON, SubjectExport.json(authority)),
            (authorityText, Array(authorityText(authority).utf8)),
            (personText, Array((sample.title + "\n\n" + sample.text).utf8)),
            (personsCSV, SubjectExport.CSV.document(header: header, rows: rows)),
        ]
    }

    /// One sealed notice per person with a channel, in `persons.csv` order.
    static func seal(_ facts: Facts, persons: [Person], to key: SealedBox.PublicKey, into files: inout [(name: String, bytes: [UInt8])]) throws {
        for (index, person) in persons.filter({ $0.status == .ok }).enumerated() {
            let text = personNotice(facts, categories: person.categories)
            let notice = BreachPersonNotice(format: noticeFormat, breach: facts.breach.id, subject: person.subject, regimes: facts.request.regimes,
                                            channels: person.channels, contact: person.contact, title: text.title, text: text.text)
            var plain = SubjectExport.json(notice)
            defer { Memory.wipe(&plain) }
            files.append((noticeName(index), try SealedBox.seal(plain, to: key)))
        }
    }
}
