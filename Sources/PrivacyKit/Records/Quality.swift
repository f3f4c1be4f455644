import Foundation

/// Per-field data quality, computed without decrypting anything: which fields a record
/// has is visible from the store's layout, invalid values are flagged when written, and
/// duplicates are equal blind indexes.
public struct QualityReport: Sendable, Codable, Equatable {
    public struct FieldQuality: Sendable, Codable, Equatable {
        public let field: String
        public let present: Int
        public let missing: Int
        /// present / subjects, 0…1.
        public let completeness: Double
        public let invalid: Int
        /// Clusters of two or more subjects sharing the field's normalized value.
        public let duplicateClusters: Int?
        public let subjectsInDuplicateClusters: Int?

        enum CodingKeys: String, CodingKey {
            case field, present, missing, completeness, invalid
            case duplicateClusters = "duplicate_clusters"
            case subjectsInDuplicateClusters = "subjects_in_duplicate_clusters"
        }
    }

    public let subjects: Int
    public let fields: [FieldQuality]
}

/// Subjects that share one normalized value of an indexed field.
public struct DuplicateCluster: Sendable, Codable, Equatable {
    public let field: String
    public let subjects: [String]
}

extension VaultRecords {
    /// Completeness, invalid counts and duplicate clusters per field.
    public func qualityReport(context: AccessContext) throws -> QualityReport {
        // Counts reveal no value, but the clusters are built from every indexed field.
        try perform(context, AccessRequest(.read, event: .recordLookup, fields: schema.indexedFields.map(\.name))) { tx, _ in
            var present: [String: Int] = [:]
            var invalid: [String: Int] = [:]
            var subjects = 0
            try tx.db.decisions.subjects.forEachFieldSet { id, sealed, plainText, flagged in
                subjects += 1
                for name in try RecordStore.decodeSealed([UInt8](sealed), subjectID: id).keys { present[name, default: 0] += 1 }
                if let plain = PlainFields.decode(plainText) {
                    for name in plain.keys { present[name, default: 0] += 1 }
                }
                for name in flagged.split(separator: ",") { invalid[String(name), default: 0] += 1 }
            }
            let clusters = try duplicateClusters(db: tx.db, field: nil)
            let fields = schema.fields.map { spec -> QualityReport.FieldQuality in
                let count = present[spec.name] ?? 0
                let mine = clusters.filter { $0.field == spec.name }
                return .init(
                    field: spec.name, present: count, missing: subjects - count,
                    completeness: subjects == 0 ? 0 : Double(count) / Double(subjects), invalid: invalid[spec.name] ?? 0,
                    duplicateClusters: spec.blindIndexBits == nil ? nil : mine.count,
                    subjectsInDuplicateClusters: spec.blindIndexBits == nil ? nil : mine.reduce(0) { $0 + $1.subjects.count })
            }
            tx.record(AuditEntry(.recordLookup, reason: "quality report"))
            return QualityReport(subjects: subjects, fields: fields)
        }
    }

    /// Subjects that share a normalized value of an indexed field (all indexed fields when
    /// `field` is nil), found through the blind indexes.
    ///
    /// A cluster tells who shares a value, so it is a lookup by value: the role must read
    /// every field clustered on in full, and a cluster lists only the subjects a find for
    /// the caller's purpose would return (no restricted subject the policy does not allow,
    /// for a purpose that rests on consent only subjects whose consent is live). A cluster
    /// left with fewer than two such subjects is not listed.
    public func duplicates(field: String? = nil, context: AccessContext) throws -> [DuplicateCluster] {
        if let field {
            guard let spec = schema[field], spec.blindIndexBits != nil else {
                throw PrivacyKitError(.invalidInput, "field \(field) has no blind index; duplicates are found through blind indexes")
            }
        }
        let fields = field.map { [$0] } ?? schema.indexedFields.map(\.name)
        return try perform(context, AccessRequest(.read, event: .recordLookup, fields: fields, matchesValues: true)) { tx, _ in
            let found = try duplicateClusters(db: tx.db, field: field)
            let subjects = Array(Set(found.flatMap(\.subjects)))
            let withheld = try core.withheldSubjects(tx.db, among: subjects, context: context)
            // Clusters on a sensitive field also leave out the subjects that limited its use.
            let limited = found.contains { schema[$0.field]?.sensitive == true } ? try core.limitedSubjects(tx.db, among: subjects, context: context) : []
            let clusters = found.map { cluster in
                DuplicateCluster(field: cluster.field, subjects: cluster.subjects.filter {
                    !withheld.contains($0) && !(schema[cluster.field]?.sensitive == true && limited.contains($0))
                })
            }
                .filter { $0.subjects.count > 1 }
            tx.record(AuditEntry(.recordLookup, fields: field.map { [$0] } ?? [],
                                 reason: "duplicates: \(clusters.count) clusters" + (withheld.isEmpty ? "" : ", \(withheld.count) subjects without consent or restricted left out")))
            return try clusters.map { DuplicateCluster(field: $0.field, subjects: try visibleIDs($0.subjects, context: context)) }
        }
    }

    private func duplicateClusters(db: StoreDatabase, field: String?) throws -> [DuplicateCluster] {
        try db.blindIndex.clusters(version: indexer.currentVersion, field: field)
    }
}
