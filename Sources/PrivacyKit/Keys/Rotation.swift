import Foundation
public import Sodium

/// What a KEK or blind-index rotation did.
public struct RotationSummary: Sendable, Codable, Equatable {
    public let role: KeyRole
    /// The version everything is now under.
    public let version: Int
    /// True when this run finished an interrupted rotation instead of starting one.
    public let resumed: Bool
    /// Subjects re-wrapped (KEK) or re-indexed (blind index).
    public let processed: Int
    /// Versions removed from the keyring because nothing uses them any more.
    public let retired: [Int]
}

/// The vault's keys: status (never key bytes) and rotation of the root secret, the KEK and
/// the blind-index keys.
public struct VaultKeys: VaultCapability {
    let core: VaultCore

    /// The unsealed keyring.
    public var keyring: Keyring { core.keyring }

    /// Blind indexes under the keyring's current index keys (for the benchmarks' bare loops).
    package var indexer: BlindIndexer { core.indexer }

    /// Role, version, creation time and fingerprint of every key; never key bytes.
    public func status() -> [KeyInfo] { core.keyring.status }

    /// Adds a KEK version and re-wraps every subject key under it (no field is
    /// re-encrypted), in batches, each batch one audited transaction; then retires the old
    /// versions. Run again after a crash, it resumes: while any subject is still wrapped
    /// under an older version, no new version is added.
    ///
    /// - Parameters:
    ///   - context: who rotates (a role with the `keys` action).
    ///   - batchSize: subjects re-wrapped per transaction.
    ///   - progress: (done, total) after every batch.
    public func rotateKEK(
        context: AccessContext, batchSize: Int = 1000, progress: ((Int, Int) -> Void)? = nil
    ) throws -> RotationSummary {
        try rotateKEK(context: context, batchSize: batchSize, progress: progress, stopAfterBatches: nil)
    }

    func rotateKEK(
        context: AccessContext, batchSize: Int, progress: ((Int, Int) -> Void)?, stopAfterBatches: Int?
    ) throws -> RotationSummary {
        _ = try authorize(AccessRequest(.keys, event: .keysRotateKEK), context: context)
        let behind = { (version: Int) in
            try self.store.read { db in
                try db.decisions.subjects.countWrapped(below: version)
            }
        }
        var target = keyring.versions(.kek).last ?? 1
        let resumed = try behind(target) > 0
        if !resumed {
            try rewriteKeyring(context: context, entry: AuditEntry(.keysRotateKEK, reason: "added KEK v\(target + 1)"), hooks: .none) { keyring in
                let updated = try keyring.addingKey(.kek, createdAt: Timestamp.now())
                return (try KeyringFile.reseal(updated), updated)
            }
            target += 1
        }
        guard let newKEK = keyring.key(.kek, version: target) else {
            throw PrivacyKitError(.internal, "KEK v\(target) is missing after being added")
        }
        let total = try behind(target)
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        var done = 0
        var batches = 0
        while true {
            let moved = try perform(context, AccessRequest(.keys, event: .keysRotateKEK)) { tx, _ -> Int in
                let subjects = tx.db.decisions.subjects
                let rows = try subjects.ids(wrappedBelow: target, limit: max(1, batchSize))
                // The rows proven together, records included; each is decoded with its MAC checked.
                let leaves = try provenLeafRows(tx.db, subjects: rows, allRecords: true)
                let store = RecordStore(core: core)
                for subject in rows {
                    guard let row = try leaves[subject]?.record() else { continue }
                    let stored = try store.decode(row, subjectID: subject)
                    guard let old = keyring.key(.kek, version: stored.kekVersion) else {
                        throw PrivacyKitError(.integrity, "subject \(subject) is wrapped under KEK v\(stored.kekVersion), which the keyring does not have")
                    }
                    try cipher.unwrapSubjectKey(stored.wrappedKey, subjectID: subject, kek: old.secret, kekVersion: stored.kekVersion)
                    let wrapped = try cipher.wrapSubjectKey(subjectID: subject, kek: newKEK.secret, kekVersion: target)
                    cipher.wipe()
                    try store.rewrap(tx.db, subjectID: subject, stored, kekVersion: target, wrappedKey: wrapped)
                }
                if !rows.isEmpty {
                    tx.record(AuditEntry(.keysRotateKEK, reason: "re-wrapped \(rows.count) subject keys under KEK v\(target)"))
                }
                return rows.count
            }
            if moved == 0 { break }
            done += moved
            batches += 1
            progress?(done, total)
            if let stopAfterBatches, batches >= stopAfterBatches {
                throw PrivacyKitError(.internal, "KEK rotation stopped after \(batches) batches (test hook)")
            }
        }
        let retired = Set(keyring.versions(.kek).filter { $0 < target })
        if !retired.isEmpty {
            try rewriteKeyring(
                context: context, entry: AuditEntry(.keysRotateKEK, reason: "retired KEK v\(retired.sorted().map(String.init).joined(separator: ", v"))"), hooks: .none,
                check: { db in
                    // A KEK is dropped only if, under the write lock, no subject key uses it.
                    let still = try db.decisions.subjects.countWrapped(below: target)
                    guard still == 0 else {
                        throw PrivacyKitError(.busy, "\(still) subject keys were written under an older KEK during the rotation; run the rotation again")
                    }
                }
            ) { keyring in
                let updated = keyring.removingKeys(.kek, versions: retired)
                return (try KeyringFile.reseal(updated), updated)
            }
        }
        return RotationSummary(role: .kek, version: target, resumed: resumed, processed: done, retired: retired.sorted())
    }

    /// Adds a blind-index key version and rebuilds every blind index under it, in batches
    /// (resumable: the position is kept in the store), while lookups keep asking every
    /// live version; then drops the old indexes and retires the old key.
    public func rotateIndex(
        context: AccessContext, batchSize: Int = 500, progress: ((Int, Int) -> Void)? = nil
    ) throws -> RotationSummary {
        try rotateIndex(context: context, batchSize: batchSize, progress: progress, stopAfterBatches: nil)
    }

    static let rebuildCursorKey = "blind_index_rebuild_after"

    func rotateIndex(
        context: AccessContext, batchSize: Int, progress: ((Int, Int) -> Void)?, stopAfterBatches: Int?
    ) throws -> RotationSummary {
        _ = try authorize(AccessRequest(.keys, event: .keysRotateIndex), context: context)
        let resumed = keyring.versions(.blindIndexRoot).count > 1
        if !resumed {
            let next = (keyring.versions(.blindIndexRoot).last ?? 0) + 1
            try rewriteKeyring(context: context, entry: AuditEntry(.keysRotateIndex, reason: "added blind-index key v\(next)"), hooks: .none) { keyring in
                let updated = try keyring.addingKey(.blindIndexRoot, createdAt: Timestamp.now())
                return (try KeyringFile.reseal(updated), updated)
            }
        }
        let target = keyring.versions(.blindIndexRoot).last ?? 1
        let indexer = self.indexer
        let indexed = schema.indexedFields
        let total = try store.read { db in try db.decisions.subjects.count() }
        let cipher = try borrowCipher()
        defer { returnCipher(cipher) }
        var done = 0
        var batches = 0
        while true {
            let count = try perform(context, AccessRequest(.keys, event: .keysRotateIndex)) { tx, _ -> Int in
                let blindIndex = tx.db.blindIndex
                let after = try VaultMetaTable(db: tx.db).value(Self.rebuildCursorKey) ?? ""
                let ids = try tx.db.decisions.subjects.ids(after: after, limit: max(1, batchSize))
                let store = RecordStore(core: core)
                // Proven together; each load below then reads without a proof of its own.
                try checkDecisionStates(tx.db, subjects: ids)
                for subject in ids {
                    guard let stored = try store.load(tx.db, subjectID: subject) else { continue }
                    let fields = indexed.filter { stored.sealed[$0.name] != nil && !stored.invalid.contains($0.name) }
                    guard !fields.isEmpty else { continue }
                    try store.unlock(stored, subjectID: subject, cipher: cipher)
                    defer { cipher.wipe() }
                    let region = schema.regionField.flatMap { stored.plain[$0] }
                    for spec in fields {
                        guard let value = try stored.open(spec.name, subjectID: subject, cipher: cipher) else { continue }
                        guard case .success(let normalized) = Normalizer.normalize(value, as: spec.kind, region: region, defaultRegion: schema.defaultRegion) else { continue }
                        try blindIndex.insert(field: spec.name, version: target, hash: try indexer.index(normalized.key, field: spec, version: target), subject: subject)
                    }
                }
                if let last = ids.last {
                    try VaultMetaTable(db: tx.db).set(Self.rebuildCursorKey, last)
                    tx.record(AuditEntry(.keysRotateIndex, reason: "re-indexed \(ids.count) subjects under blind-index key v\(target)"))
                }
                return ids.count
            }
            if count == 0 { break }
            done += count
            batches += 1
            progress?(done, total)
            if let stopAfterBatches, batches >= stopAfterBatches {
                throw PrivacyKitError(.internal, "index rebuild stopped after \(batches) batches (test hook)")
            }
        }
        let retired = Set(keyring.versions(.blindIndexRoot).filter { $0 < target })
        try perform(context, AccessRequest(.keys, event: .keysRotateIndex)) { tx, _ in
            try tx.db.blindIndex.deleteVersions(below: target)
            try VaultMetaTable(db: tx.db).remove(Self.rebuildCursorKey)
            tx.record(AuditEntry(.keysRotateIndex, reason: "dropped blind indexes older than v\(target)"))
        }
        if !retired.isEmpty {
            try rewriteKeyring(context: context, entry: AuditEntry(.keysRotateIndex, reason: "retired blind-index key v\(retired.sorted().map(String.init).joined(separator: ", v"))"), hooks: .none) { keyring in
                let updated = keyring.removingKeys(.blindIndexRoot, versions: retired)
                return (try KeyringFile.reseal(updated), updated)
            }
        }
        return RotationSummary(role: .blindIndexRoot, version: target, resumed: resumed, processed: done, retired: retired.sorted())
    }
}

extension VaultKeys {
    /// Re-seals the keyring under a new root secret. The keys themselves do not change,
    /// so no data is re-encrypted.
    ///
    /// The new keyring is written beside the old one, synced, and renamed over it: a crash
    /// at any point leaves either the old keyring (old secret opens it) or the new one.
    ///
    /// - Throws: `.busy` if another process is changing the keyring, `.integrity` if the
    ///   keyring file changed since this vault was opened.
    public func rotateRoot(
        to newRootKey: RootKey, kdfLimits: Argon2id.Limits = .moderate, context: AccessContext
    ) throws {
        try rotateRoot(to: newRootKey, kdfLimits: kdfLimits, context: context, hooks: .none)
    }

    func rotateRoot(
        to newRootKey: RootKey, kdfLimits: Argon2id.Limits, context: AccessContext,
        hooks: SecureFiles.WriteHooks
    ) throws {
        _ = try authorize(AccessRequest(.keys, event: .keysRotateRoot), context: context)
        let entry = AuditEntry(.keysRotateRoot, reason: "new root secret: \(newRootKey.kind.rawValue)")
        try rewriteKeyring(context: context, entry: entry, hooks: hooks) { keyring in
            try KeyringFile.seal(keyring, rootKey: newRootKey, limits: kdfLimits)
        }
    }
}
