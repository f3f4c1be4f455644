#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
public import Foundation
public import Sodium

/// One file of a subject export package, as the requester reads it: for a sealed package,
/// the opened (plaintext) file.
public struct SubjectExportFile: Sendable, Codable, Equatable {
    public let name: String
    public let bytes: Int
    /// Hex SHA-256 of the file's bytes.
    public let sha256: String
}

/// `manifest.json` of a subject export package (see docs/formats.md, "Subject export
/// package").
public struct SubjectExportManifest: Sendable, Codable, Equatable {
    public let format: String
    public let formatVersion: Int
    public let vaultID: String
    public let subject: String
    public let createdAt: String
    /// The `record.export` audit event of this export.
    public let auditSeq: Int64
    /// Fingerprint of the public key a sealed package is sealed to; nil for a plain one.
    public let sealedTo: String?
    /// Fields in `record.*`, in schema order; those of them that are masked; fields the
    /// subject has that the exporting role may not read (left out).
    public let fields: [String]
    public let masked: [String]
    public let withheld: [String]
    /// The data files (every file of the package except the manifest and SHA256SUMS).
    public let files: [SubjectExportFile]

    enum CodingKeys: String, CodingKey {
        case format, subject, fields, masked, withheld, files
        case formatVersion = "format_version"
        case vaultID = "vault_id"
        case createdAt = "created_at"
        case auditSeq = "audit_seq"
        case sealedTo = "sealed_to"
    }
}

/// What ``VaultRequests/exportSubject(_:to:sealedTo:context:)`` did.
public struct SubjectExportSummary: Sendable, Encodable, Equatable {
    /// The package directory.
    public let directory: String
    public let sealed: Bool
    public let manifest: SubjectExportManifest
    /// The files in the directory, in the order written (`NAME.sealed` and `README.txt`
    /// for a sealed package).
    public let written: [String]
    /// Bytes written to the directory.
    public let bytes: Int
    public let consentEvents: Int
    public let accessEvents: Int
    /// Whether `about.json` draws on the vault's record of processing activities
    /// (`processing.yaml`); false when the vault has none or it does not load, and the file
    /// then says that the controller has not described its processing.
    public let processingDescribed: Bool
    /// Why the processing is not described (the policy problem, naming the file, never a
    /// subject); nil when it is.
    public let processingProblem: String?

    public var subject: String { manifest.subject }

    enum CodingKeys: String, CodingKey {
        case directory, sealed, manifest, written, bytes
        case consentEvents = "consent_events", accessEvents = "access_events"
        case processingDescribed = "processing_described", processingProblem = "processing_problem"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(directory, forKey: .directory)
        try c.encode(sealed, forKey: .sealed)
        try c.encode(manifest, forKey: .manifest)
        try c.encode(written, forKey: .written)
        try c.encode(bytes, forKey: .bytes)
        try c.encode(consentEvents, forKey: .consentEvents)
        try c.encode(accessEvents, forKey: .accessEvents)
        try c.encode(processingDescribed, forKey: .processingDescribed)
        // Always present (null when described), so a script need not test for the key.
        try c.encode(processingProblem, forKey: .processingProblem)
    }
}

/// The key files ``SubjectExport/generateKeyPair(prefix:)`` wrote.
public struct SubjectExportKeyFiles: Sendable, Encodable, Equatable {
    public let publicKeyPath: String
    public let secretKeyPath: String
    public let fingerprint: String

    enum CodingKeys: String, CodingKey {
        case fingerprint
        case publicKeyPath = "public_key"
        case secretKeyPath = "secret_key"
    }
}

extension VaultRequests {
    /// Writes the access / portability package of `subject` into `directory`: its
    /// decrypted fields, consent history and every audit event about it (who, when, for
    /// what purpose — this export's own event included), as JSON and CSV, what GDPR art.
    /// 15(1)–(2) says the person is told about the processing of their data (`about.json`,
    /// `about.txt`: purposes and lawful basis, categories, recipients, transfers, retention
    /// and until when, rights, complaint, sources, automated decisions), with a SHA-256
    /// manifest and `SHA256SUMS`.
    ///
    /// `about.json` is drawn up from the vault's policies and this subject's fields,
    /// retention dates and consent state, read in the export's transaction. A vault without
    /// a valid `processing.yaml` still exports: the file then says that the controller has
    /// not described its processing, and ``SubjectExportSummary/processingDescribed`` is false.
    ///
    /// The role must hold `export` for the context's purpose. Fields it may read only
    /// masked come out masked; fields it may not read are left out and listed as withheld.
    /// One `record.export` event (field names, never values) is written in the transaction
    /// that reads the data. With `recipient`, every file is sealed in memory
    /// (`crypto_box_seal`) and only `NAME.sealed` files and a `README.txt` reach the disk.
    ///
    /// `directory` must not exist or be an empty directory; the package is assembled in a
    /// hidden sibling and renamed into place, so a failure leaves nothing at `directory`.
    ///
    /// - Throws: `.notFound` for an unknown or erased subject or a missing parent
    ///   directory, `.alreadyExists` if `directory` is a file or a non-empty directory,
    ///   `.denied` (audited) for a role that may not export.
    public func exportSubject(
        _ subject: String, to directory: URL, sealedTo recipient: SealedBox.PublicKey? = nil, context: AccessContext
    ) throws -> SubjectExportSummary {
        try RecordStore.checkSubjectID(subject)
        let staging = try SubjectExport.Staging(target: directory, verb: "exporting")
        defer { staging.discard() }
        let pseudonym = try subjectPseudonym(subject)
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        let request = AccessRequest(.export, event: .recordExport, subject: subject, allReadableFields: true)
        let summary = try perform(context, request) { tx, grant -> SubjectExportSummary in
            let rows = tx.db.decisions
            if let erasedAt = try rows.tombstones.erasedAt(subject: subject) {
                throw PrivacyKitError(.notFound, "subject \(subject) was erased on \(erasedAt); there is nothing to export")
            }
            let store = RecordStore(core: core)
            guard let stored = try store.load(tx.db, subjectID: subject) else {
                throw PrivacyKitError(.notFound, "no subject \(subject)")
            }
            let record = try exportedRecord(stored, subject: subject, grant: grant, cipher: cipher, store: store)
            let consent = try rows.consent.history(pseudonym: pseudonym, purpose: nil)
            let now = Date()
            let about = try SubjectExportAbout(
                subject: subject, at: now, policies: core.policies, held: schema.fields.filter { stored.sealed[$0.name] != nil || stored.plain[$0.name] != nil },
                plain: stored.plain, createdAt: stored.row.createdAt, retentionCategory: retentionCategory(plain: stored.plain),
                restricted: try restrictedSubjects(tx.db, among: [subject]).contains(subject),
                lastConsent: { try lastConsent(tx.db, subject: subject, purpose: $0, at: nil) })

            // The export's own event goes in first, so the access log it writes lists it.
            let fileCount = SubjectExport.dataFileNames.count + 2 + (recipient == nil ? 0 : 1)
            var reason = "subject export (\(fileCount) files, \(recipient == nil ? "plain" : "sealed"))"
            if !record.masked.isEmpty { reason += "; masked: \(record.masked.joined(separator: ","))" }
            if !record.withheld.isEmpty { reason += "; withheld: \(record.withheld.joined(separator: ","))" }
            // The log shows that this answer lacked the art. 15 sections, and that it was not the vault's fault.
            if !about.described { reason += "; about.json: processing not described" }
            let entry = AuditEntry(.recordExport, subjectID: subject, fields: record.fields.map(\.field), reason: reason)
            guard let seq = try audit.append([entry], context: context, db: tx.db)?.lowerBound else {
                throw PrivacyKitError(.internal, "no audit event for a subject export")
            }
            let events = try AuditTable(db: tx.db).subjectEvents(pseudonym, newestSeq: seq).map(AuditLog.event(from:))

            let package = SubjectExport.Package(
                subject: subject, record: record, consent: consent, accessLog: events, about: about)
            let manifest = SubjectExportManifest(
                format: SubjectExport.format, formatVersion: SubjectExport.formatVersion, vaultID: id.hex, subject: subject,
                createdAt: Timestamp.string(now), auditSeq: seq, sealedTo: recipient.map(SubjectExport.fingerprint),
                fields: record.fields.map(\.field), masked: record.masked, withheld: record.withheld,
                files: package.files.map { SubjectExportFile(name: $0.name, bytes: $0.bytes.count, sha256: Hex.encode(SHA256.hash($0.bytes))) })
            let written = try staging.write(try SubjectExport.diskFiles(package.files, manifest: manifest, sealedTo: recipient))
            return SubjectExportSummary(
                directory: staging.target, sealed: recipient != nil, manifest: manifest, written: written.map(\.name),
                bytes: written.reduce(0) { $0 + $1.bytes }, consentEvents: consent.count, accessEvents: events.count,
                processingDescribed: about.described, processingProblem: about.described ? nil : core.policies.processingProblem?.message)
        }
        try staging.finish()
        return summary
    }

    /// The subject's fields as `grant` lets the caller see them, in schema order.
    private func exportedRecord(
        _ stored: RecordStore.Stored, subject: String, grant: AccessGrant, cipher: FieldCipher, store: RecordStore
    ) throws -> SubjectExport.Record {
        let present = schema.fields.filter { stored.sealed[$0.name] != nil || stored.plain[$0.name] != nil }
        if present.contains(where: { stored.sealed[$0.name] != nil && grant.view($0.name) != nil }) {
            try store.unlock(stored, subjectID: subject, cipher: cipher)
        }
        defer { cipher.wipe() }
        var record = SubjectExport.Record()
        for spec in present {
            guard let view = grant.view(spec.name) else { record.withheld.append(spec.name); continue }
            let value = try stored.open(spec.name, subjectID: subject, cipher: cipher) ?? stored.plain[spec.name]
            guard let value, let shown = grant.present(value, field: spec) else { continue }
            record.fields.append(.init(field: spec.name, value: shown, category: spec.category, masked: view == .masked))
            if view == .masked { record.masked.append(spec.name) }
        }
        return record
    }
}

/// The subject export package: its files, sealing, opening, and the requester's keys.
