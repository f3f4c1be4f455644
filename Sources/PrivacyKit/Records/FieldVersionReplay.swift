import Foundation

/// A field whose versions below `below` the vault destroyed (rectified or removed): what a
/// restore replays, as it replays tombstones, so an old value a backup holds does not come
/// back in the restored vault.
public struct DestroyedFieldVersions: Codable, Sendable, Equatable {
    public let subject: String
    public let field: String
    /// Every version below this one is destroyed (a field written before field keys is
    /// version 0).
    public let below: Int

    public init(subject: String, field: String, below: Int) {
        self.subject = subject
        self.field = field
        self.below = below
    }
}

extension VaultRecords {
    /// Every field version this vault destroyed, read from records proven against the
    /// audit log (for a restore elsewhere: `backup export-ledger`). Names subjects and
    /// fields, never values; the same access as the tombstones.
    public func destroyedFieldVersions(context: AccessContext) throws -> [DestroyedFieldVersions] {
        try perform(context, AccessRequest(.erase, event: .recordErase)) { tx, _ in
            var result: [DestroyedFieldVersions] = []
            let store = RecordStore(core: core)
            var after = ""
            while true {
                let ids = try tx.db.decisions.subjects.ids(after: after, limit: 500)
                guard let last = ids.last else { break }
                try checkDecisionStates(tx.db, subjects: ids)
                for id in ids {
                    guard let stored = try store.load(tx.db, subjectID: id) else { continue }
                    for (field, key) in stored.fieldKeys.sorted(by: { $0.key < $1.key }) {
                        // A field re-sealed unchanged under its first key (version 1) destroyed nothing.
                        let below = key.salt == nil ? key.version + 1 : key.version
                        if below > 1 { result.append(DestroyedFieldVersions(subject: id, field: field, below: below)) }
                    }
                }
                after = last
            }
            return result
        }
    }
}

extension RecordStore {
    /// Removes, in the current transaction, every field whose stored version is one
    /// `versions` says was destroyed; returns how many (each audited as a `record.write`).
    func replay(_ versions: [DestroyedFieldVersions], tx: AuditedTransaction) throws -> Int {
        var replayed = 0
        for entry in versions {
            guard var stored = try load(tx.db, subjectID: entry.subject) else { continue }
            let version = stored.fieldKeys[entry.field]?.version ?? (stored.sealed[entry.field] != nil ? 0 : nil)
            guard let version, version < entry.below,
                  stored.sealed[entry.field] != nil || stored.fieldKeys[entry.field]?.salt != nil else { continue }
            stored.sealed[entry.field] = nil
            stored.fieldKeys[entry.field] = FieldKey(version: entry.below - 1, salt: nil)
            stored.invalid.remove(entry.field)
            try save(tx.db, subjectID: entry.subject, &stored)
            try tx.db.blindIndex.delete(subject: entry.subject, field: entry.field)
            tx.record(AuditEntry(.recordWrite, subjectID: entry.subject, fields: [entry.field],
                                 reason: "replayed after restore: versions below v\(entry.below) destroyed"))
            replayed += 1
        }
        return replayed
    }
}
