import Foundation

/// What the vault records about itself when it is opened: a changed policy set, a failed
/// unlock. Both are audit events written by the core, outside any capability.
extension VaultCore {
    static let policyDigestKey = "policy_digest"

    /// Records a `policy.change` event (old and new digest of `Policies/`) when the policy
    /// files differ from those the vault last loaded. Runs at every open, after the files
    /// were parsed: a policy that does not load never gets this far.
    func recordPolicyChange(context: AccessContext) throws {
        let current = try PolicySet.digest(of: policiesPath)
        let stored = try store.read { db in try VaultMetaTable(db: db).value(Self.policyDigestKey) }
        guard stored != current else { return }  // the usual case: no write transaction at open
        try performAudited(context) { tx in
            let meta = VaultMetaTable(db: tx.db)
            let previous = try meta.value(Self.policyDigestKey)
            guard previous != current else { return }
            try meta.set(Self.policyDigestKey, current)
            tx.record(AuditEntry(.policyChange, reason: "policy set \(previous ?? "unknown") -> \(current)"))
        }
    }

    /// Appends a `vault.unlock` / `failed` event to the store's chain. Needs no key (the
    /// event names no subject and is not signed); never touches the keyring. Best effort:
    /// if the store cannot take it (missing, from another vault, newer), the wrong-key
    /// error still stands.
    static func recordFailedUnlock(directory: String, keyringBytes: [UInt8], context: AccessContext) {
        guard let claimed = KeyringFile.peekVaultID(keyringBytes), let vaultID = try? VaultID(hex: claimed),
              let store = try? StoreBackends.openStore(ofVault: directory, expecting: vaultID)
        else { return }
        let log = AuditLog(vaultID: vaultID, keyring: nil)
        _ = try? store.write { db in
            try log.append([AuditEntry(.vaultUnlock, outcome: .failed, reason: "wrong root secret")], context: context, db: db)
        }
        try? store.close()
    }
}
