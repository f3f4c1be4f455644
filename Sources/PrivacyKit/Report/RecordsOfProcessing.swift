public import Foundation
import Sodium

/// The record of processing activities (GDPR art. 30(1)) as `privacyctl ropa` exports it:
/// `processing.yaml` joined with the lawful basis of each purpose (`purposes.yaml`), the
/// period of each retention rule (`retention.yaml`) and the fields of each data category
/// (`schema.yaml`). Policy text only: no field value, no subject.
public struct RecordsOfProcessing: Sendable, Codable, Equatable {
    public enum Format: String, Sendable, CaseIterable {
        case json, csv, html
    }

    public struct Purpose: Sendable, Codable, Equatable {
        public let id: String
        public let description: String
        public let lawfulBasis: String
        public let consent: String
        enum CodingKeys: String, CodingKey {
            case id, description, consent
            case lawfulBasis = "lawful_basis"
        }
    }

    public struct DataCategory: Sendable, Codable, Equatable {
        public let category: String
        /// The schema's fields of this category.
        public let fields: [String]
    }

    public struct Activity: Sendable, Codable, Equatable {
        public let id: String
        public let name: String
        public let description: String
        public let purposes: [Purpose]
        public let dataSubjects: [String]
        public let dataCategories: [DataCategory]
        public let recipients: [ProcessingPolicy.Recipient]
        public let transfers: [ProcessingPolicy.Transfer]
        /// The time limits for erasure (art. 30(1)(f)): the activity's retention rules.
        public let retention: [ComplianceReport.ErasureLimit]
        public let securityMeasures: [String]
        public let sources: [ProcessingPolicy.Source]
        public let automatedDecisions: ProcessingPolicy.AutomatedDecisions
        enum CodingKeys: String, CodingKey {
            case id, name, description, purposes, recipients, transfers, retention, sources
            case dataSubjects = "data_subjects", dataCategories = "data_categories", securityMeasures = "security_measures"
            case automatedDecisions = "automated_decisions"
        }
    }

    public let vaultID: String
    /// When the record was drawn up (UTC).
    public let generatedAt: String
    public let controller: ProcessingPolicy.Controller
    /// In the order of processing.yaml.
    public let activities: [Activity]

    enum CodingKeys: String, CodingKey {
        case controller, activities
        case vaultID = "vault_id", generatedAt = "generated_at"
    }

    /// The record from a vault's policies.
    init(_ processing: ProcessingPolicy, policies: VaultPolicies, vaultID: String, generatedAt: String) {
        let rules = Dictionary(uniqueKeysWithValues: policies.retention.rules.map { ($0.name, $0) })
        self.vaultID = vaultID
        self.generatedAt = generatedAt
        controller = processing.controller
        activities = processing.activities.map { activity in
            Activity(
                id: activity.id, name: activity.name, description: activity.description,
                purposes: activity.purposes.compactMap { id in
                    policies.purposes[id].map {
                        Purpose(id: id, description: $0.description, lawfulBasis: $0.lawfulBasis.rawValue, consent: $0.consent.rawValue)
                    }
                },
                dataSubjects: activity.dataSubjects,
                dataCategories: activity.dataCategories.map { category in
                    DataCategory(category: category, fields: policies.schema.fields.filter { $0.category == category }.map(\.name))
                },
                recipients: activity.recipients, transfers: activity.transfers,
                retention: activity.retention.compactMap { rules[$0].map(ComplianceReport.ErasureLimit.init) },
                securityMeasures: activity.securityMeasures, sources: activity.sources, automatedDecisions: activity.automatedDecisions)
        }
    }

    /// The record as a file of `format`: pretty JSON with sorted keys, RFC 4180 CSV (one row
    /// per activity), or a self-contained HTML page.
    public func rendered(as format: Format) -> [UInt8] {
        switch format {
        case .json: SubjectExport.json(self)
        case .csv: RecordsOfProcessingCSV.render(self)
        case .html: Array(RecordsOfProcessingHTML.render(self).utf8)
        }
    }
}

/// What an export of the record wrote.
public struct RecordsOfProcessingExport: Sendable, Codable, Equatable {
    public let file: String
    public let format: String
    public let activities: Int
    public let bytes: Int
    /// Hex SHA-256 of the file, as the audit event records it.
    public let sha256: String
}

extension VaultReports {
    /// Writes the record of processing activities (GDPR art. 30) to `path`, or by default to
    /// `<vault>/Reports/ropa-<time>.<format>`; mode 0600, atomic (whole or absent).
    ///
    /// The record is drawn up and one `ropa.export` event (format, activity count, the
    /// file's SHA-256) recorded in one transaction; the file is written once that
    /// transaction has committed, so no record leaves the vault without its event (a write
    /// that fails afterwards leaves the event of a file that is not there, and says so).
    ///
    /// - Throws: `.denied` (audited) unless the role has the `policy` action; `.notFound`
    ///   when the vault has no `processing.yaml`, `.invalidInput` when it does not load
    ///   (its first error, with file, line and key); `.alreadyExists` for a different file
    ///   at `path` unless `overwrite`; `.invalidInput` / `.notFound` for a `path` that is a
    ///   directory or has no directory to go in (checked before anything is recorded).
    public func exportRecordsOfProcessing(
        as format: RecordsOfProcessing.Format, to path: String? = nil, now: Date = Date(), overwrite: Bool = false, context: AccessContext
    ) throws -> RecordsOfProcessingExport {
        let what = "the records of processing file"
        if let path {
            try SecureFiles.checkWritableDestination(path, what: what)
            if !overwrite { try SecureFiles.checkNoOtherFile(at: path, holding: nil, what: what) }
        }
        let policies = core.policies
        let (bytes, summary) = try perform(context, AccessRequest(.policy, event: .ropaExport)) { tx, _ in
            guard let processing = policies.processing else {
                throw policies.processingProblem ?? PrivacyKitError(.notFound, "this vault has no \(ProcessingPolicy.fileName)")
            }
            let record = RecordsOfProcessing(processing, policies: policies, vaultID: id.hex, generatedAt: Timestamp.precise(now))
            let bytes = record.rendered(as: format)
            let target = try path ?? defaultReportPath(name: "ropa", fileExtension: format.rawValue, now: now)
            let summary = RecordsOfProcessingExport(file: target, format: format.rawValue, activities: record.activities.count,
                                                    bytes: bytes.count, sha256: Hex.encode(SHA256.hash(bytes)))
            tx.record(AuditEntry(.ropaExport, reason: "records of processing (\(format.rawValue), \(summary.activities) activities, sha256 \(summary.sha256))"))
            return (bytes, summary)
        }
        do {
            try SecureFiles.writeEvidence(bytes, to: summary.file, what: what, overwrite: overwrite)
        } catch let error as PrivacyKitError {
            throw PrivacyKitError(error.code, "\(error.message) (the ropa.export event of sha256 \(summary.sha256) is recorded; run the export again)")
        }
        return summary
    }
}
