public import Foundation

/// The vault's compliance figures at one moment, for `privacyctl report`: aggregate only.
/// It holds counts, policy names and the ids of requests, breaches and backups, never a
/// field value, a subject id or a breach summary, so the rendered report can be mailed to
/// people who may not see customer data.
public struct ComplianceReport: Sendable, Codable {
    public struct CategoryCount: Sendable, Codable, Equatable {
        public let category: String
        public let subjects: Int
    }

    /// A schema data category (contact, identity, …): its fields and how many subjects
    /// hold at least one of them.
    public struct DataCategory: Sendable, Codable, Equatable {
        public let category: String
        public let fields: [String]
        public let subjects: Int
    }

    public struct ConsentFigures: Sendable, Codable, Equatable {
        public let purpose: String
        public let model: String
        /// Subjects per consent state (`granted`, `withdrawn`, …).
        public let states: [String: Int]
    }

    public struct OpenRequest: Sendable, Codable, Equatable {
        public let id: String
        public let type: String
        public let regime: String
        public let status: String
        public let receivedAt: String
        public let deadline: String
        public let overdue: Bool
        enum CodingKeys: String, CodingKey {
            case id, type, regime, status, deadline, overdue
            case receivedAt = "received_at"
        }
    }

    public struct OpenBreach: Sendable, Codable, Equatable {
        public let id: String
        public let detectedAt: String
        /// When the supervisory authority must be notified (72 hours after detection).
        public let deadline: String
        public let overdue: Bool
        enum CodingKeys: String, CodingKey {
            case id, deadline, overdue
            case detectedAt = "detected_at"
        }
    }

    public struct AuditStatus: Sendable, Codable, Equatable {
        public let ok: Bool
        public let events: Int64
        public let headHash: String
        public let checkpointsVerified: Int
        public let unsignedTail: Int64
        public let lastCheckpointSeq: Int64?
        public let lastCheckpointTime: String?
        public let problem: String?
        enum CodingKeys: String, CodingKey {
            case ok, events, problem
            case headHash = "head_hash", checkpointsVerified = "checkpoints_verified", unsignedTail = "unsigned_tail"
            case lastCheckpointSeq = "last_checkpoint_seq", lastCheckpointTime = "last_checkpoint_time"
        }
    }

    public struct LastBackup: Sendable, Codable, Equatable {
        public let id: String
        public let createdAt: String
        public let subjects: Int
        public let file: String
        enum CodingKeys: String, CodingKey {
            case id, subjects, file
            case createdAt = "created_at"
        }
    }

    /// One purpose's entry in the record of processing activities (GDPR art. 30(1)).
    public struct ProcessingActivity: Sendable, Codable, Equatable {
        public let purpose: String
        public let description: String
        public let lawfulBasis: String
        public let consent: String
        /// Schema categories of the fields some role holding the purpose may read.
        public let dataCategories: [String]
        /// The roles that may act for the purpose (the recipients inside the organisation).
        public let roles: [String]
        enum CodingKeys: String, CodingKey {
            case purpose, description, consent, roles
            case lawfulBasis = "lawful_basis", dataCategories = "data_categories"
        }
    }

    /// A retention rule as art. 30(1)(f) asks: the time limit for erasure.
    public struct ErasureLimit: Sendable, Codable, Equatable {
        public let rule: String
        public let category: String
        public let period: String
        public let from: String
        public let action: String
        public let legalReason: String
        enum CodingKeys: String, CodingKey {
            case rule, category, period, from, action
            case legalReason = "legal_reason"
        }

        init(_ rule: RetentionRule) {
            self.rule = rule.name
            category = rule.category ?? RetentionPolicy.anyCategory
            period = rule.period.description
            from = rule.from.description
            action = rule.action.rawValue
            legalReason = rule.legalReason
        }
    }

    public let vaultID: String
    public let clock: String
    public let horizonDays: Int
    public let subjects: Int
    public let erased: Int
    public let restricted: Int
    public let recordsByCategory: [CategoryCount]
    public let dataCategories: [DataCategory]
    public let consent: [ConsentFigures]
    public let retention: [RetentionReport.Rule]
    public let openRequests: [OpenRequest]
    public let openBreaches: [OpenBreach]
    public let audit: AuditStatus
    public let backups: Int
    public let lastBackup: LastBackup?
    public let processingActivities: [ProcessingActivity]
    public let erasureLimits: [ErasureLimit]

    enum CodingKeys: String, CodingKey {
        case clock, subjects, erased, restricted, consent, retention, audit, backups
        case vaultID = "vault_id", horizonDays = "horizon_days", recordsByCategory = "records_by_category"
        case dataCategories = "data_categories", openRequests = "open_requests", openBreaches = "open_breaches"
        case lastBackup = "last_backup", processingActivities = "processing_activities", erasureLimits = "erasure_limits"
    }
}

/// The compliance report (records of processing, consent, retention, requests, breaches).
public struct VaultReports: VaultCapability {
    let core: VaultCore

    /// Gathers the compliance report at `now`, with retention due over the next
    /// `horizonDays`. Reads only, and records one `record.lookup` ("compliance report") in
    /// the same transaction as the reads.
    ///
    /// - Throws: `.denied` unless the role has the `consent`, `retention`, `requests` and
    ///   `breach` actions (the registers the report draws from); `.invalidInput` for a
    ///   horizon outside 0…3650 days.
    public func complianceReport(now: Date = Date(), horizonDays: Int = 90, context: AccessContext) throws -> ComplianceReport {
        guard (0...3650).contains(horizonDays) else { throw PrivacyKitError(.invalidInput, "the horizon is 0 to 3650 days") }
        // The report shows what four registers hold: the role must be allowed each of them.
        for action in [AccessAction.retention, .requests, .breach] {
            _ = try authorize(AccessRequest(action, event: .recordLookup), context: context)
        }
        let clock = Timestamp.precise(now)
        let backups = try VaultBackups(core: core).list().compactMap { entry in entry.manifest.map { (entry.file, $0) } }.filter { $0.1.vaultID == id.hex }
        let last = backups.max { $0.1.createdAt < $1.1.createdAt }
        return try perform(context, AccessRequest(.consent, event: .recordLookup)) { tx, _ in
            let db = tx.db
            var byCategory: [String: Int] = [:]
            var byDataCategory: [String: Int] = [:]
            let categoryOf = Dictionary(uniqueKeysWithValues: schema.fields.map { ($0.name, $0.category) })
            var subjects = 0
            let rows = db.decisions
            let cursor = try rows.subjects.sealedAndPlainFields()
            while let (id, sealed, plainText) = try cursor.next() {
                subjects += 1
                let plain = PlainFields.decode(plainText) ?? [:]
                byCategory[retentionCategory(plain: plain) ?? "none", default: 0] += 1
                // Which fields a record has is visible without decrypting (Quality.swift).
                let names = Set(try RecordStore.decodeSealed([UInt8](sealed), subjectID: id).keys).union(plain.keys)
                for category in Set(names.compactMap { categoryOf[$0] }) { byDataCategory[category, default: 0] += 1 }
            }
            let erased = try rows.tombstones.count()
            let restricted = try rows.restrictions.count()

            let counts = try VaultConsent(core: core).counts(db, at: clock)
            let consent = counts.keys.sorted().map { purpose in
                ComplianceReport.ConsentFigures(
                    purpose: purpose, model: purposes[purpose]?.consent.rawValue ?? "",
                    states: Dictionary(uniqueKeysWithValues: counts[purpose]!.map { ($0.key.rawValue, $0.value) }))
            }

            var requests: [ComplianceReport.OpenRequest] = []
            let requestRows = try RequestsTable(db: db).requests(unclosedOnly: true, subject: nil)
            while let row = try requestRows.next() {
                // The report names no subject, so the subject's state is not looked up.
                let r = try DataSubjectRequest(row, subjectState: .unknown, note: nil, asOf: now)
                requests.append(.init(id: r.id, type: r.type.rawValue, regime: r.regime.rawValue, status: r.status.rawValue,
                                      receivedAt: Timestamp.precise(r.receivedAt), deadline: Timestamp.precise(r.deadline), overdue: r.overdue))
            }
            let breaches = try BreachesTable(db: db).breaches(unclosedOnly: true)
                .map { try BreachRecord($0, asOf: now) }
                .map { ComplianceReport.OpenBreach(id: $0.id, detectedAt: Timestamp.precise($0.detectedAt), deadline: Timestamp.precise($0.deadline), overdue: $0.overdue) }

            let verified = try AuditVerifier.verify(db: db, vaultID: id, publicKey: auditPublicKey, witness: [])
            let checkpoint = try AuditTable(db: db).newestCheckpoint()
            let audit = ComplianceReport.AuditStatus(
                ok: verified.ok, events: verified.events, headHash: verified.headHash, checkpointsVerified: verified.checkpointsVerified,
                unsignedTail: verified.unsignedTail, lastCheckpointSeq: checkpoint?.seq, lastCheckpointTime: checkpoint?.time,
                problem: verified.problem.map { "seq \($0.seq.map(String.init) ?? "?"): \($0.message)" })

            let report = ComplianceReport(
                vaultID: id.hex, clock: clock, horizonDays: horizonDays, subjects: subjects, erased: erased, restricted: restricted,
                recordsByCategory: byCategory.keys.sorted().map { .init(category: $0, subjects: byCategory[$0]!) },
                dataCategories: Schema.categories.compactMap { category in
                    let fields = schema.fields.filter { $0.category == category }.map(\.name)
                    return fields.isEmpty ? nil : .init(category: category, fields: fields, subjects: byDataCategory[category] ?? 0)
                },
                consent: consent, retention: try VaultRetention(core: core).retentionRules(db, now: now, horizonDays: horizonDays),
                openRequests: requests, openBreaches: breaches, audit: audit, backups: backups.count,
                lastBackup: last.map { .init(id: $0.1.backupID, createdAt: $0.1.createdAt, subjects: $0.1.subjects, file: $0.0) },
                processingActivities: processingActivities(), erasureLimits: retention.rules.map(ComplianceReport.ErasureLimit.init))
            tx.record(AuditEntry(.recordLookup, reason: "compliance report at \(clock): \(subjects) subjects, \(requests.count) open requests, \(breaches.count) open breaches"))
            return report
        }
    }

    /// Writes a rendered report to `path`, or by default to
    /// `<vault>/Reports/compliance-<time>.html`; mode 0600 and atomic (whole or absent), as
    /// for every file privacyctl writes. Returns the path written.
    ///
    /// - Parameters:
    ///   - html: the report, from ``ComplianceReportHTML``.
    ///   - path: where to write it (nil: the vault's `Reports/`, named by `now`).
    ///   - now: the time in the default file name.
    ///   - overwrite: replace a file already at `path` (else `.alreadyExists`: a report is
    ///     evidence).
    public func writeComplianceReport(_ html: String, to path: String? = nil, now: Date = Date(), overwrite: Bool = false) throws -> String {
        let target = try path ?? defaultReportPath(name: "compliance", fileExtension: "html", now: now)
        try SecureFiles.writeEvidence(Array(html.utf8), to: target, what: "the report file", overwrite: overwrite)
        return target
    }

    /// `<vault>/Reports/NAME-TIME.EXT` (the directory made, mode 0700, if need be): where a
    /// report goes when no path is given.
    func defaultReportPath(name: String, fileExtension: String, now: Date) throws -> String {
        let reports = directory.path + "/Reports"
        if !FileManager.default.fileExists(atPath: reports) {
            do { try SecureFiles.makeDirectory(reports, mode: 0o700) } catch let error as PrivacyKitError where error.code == .alreadyExists {}
        }
        let stamp = Timestamp.precise(now).replacingOccurrences(of: ":", with: "").replacingOccurrences(of: "-", with: "")
        return reports + "/\(name)-\(stamp).\(fileExtension)"
    }

    /// The record of processing activities drawn from the policies: each purpose with its
    /// lawful basis, and the data categories the roles acting for it may read.
    func processingActivities() -> [ComplianceReport.ProcessingActivity] {
        let categoryOf = Dictionary(uniqueKeysWithValues: schema.fields.map { ($0.name, $0.category) })
        return purposes.ids.map { purposeID in
            let purpose = purposes[purposeID]!
            let roles = access.roles.values.filter { $0.purposes.contains(purposeID) }
            let readers = roles.filter { $0.actions.contains(.read) || $0.actions.contains(.export) }
            let categories = Set(readers.flatMap { $0.fullFields.union($0.maskedFields) }.compactMap { categoryOf[$0] })
            return .init(purpose: purposeID, description: purpose.description, lawfulBasis: purpose.lawfulBasis.rawValue,
                         consent: purpose.consent.rawValue, dataCategories: Schema.categories.filter(categories.contains),
                         roles: roles.map(\.name).sorted())
        }
    }
}
