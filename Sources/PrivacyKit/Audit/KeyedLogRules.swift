/// The rules a format-2 log follows beyond its hashes, taken event by event in order: by
/// `audit verify` and by the vault before it signs or extends the log (``AuditTail``).
///
/// - The keyed part starts at the vault's first event or at its upgrade, and that event
///   has a MAC (a store writer cannot make one elsewhere).
/// - Once keyed, never format 1 again (the log was converted back).
/// - Every format-2 event but a failed unlock is vouched for by a MAC at or after it
///   (only the last event of each append has one): ``unvouched`` is the first that is not yet.
struct KeyedLogRules {
    private(set) var keyed: Bool
    private(set) var unvouched: Int64?
    /// With the audit-chain key: MACs were checked, so their presence counts.
    let checksMACs: Bool

    init(keyed: Bool, checksMACs: Bool) {
        self.keyed = keyed
        self.checksMACs = checksMACs
    }

    /// Takes the next event; returns the problem it shows (`mac` or `format`, and why).
    mutating func take(seq: Int64, action: String, checked: AuditHasher.RowCheck) -> (kind: String, why: String)? {
        guard checked.version == 2 else {
            return keyed ? ("format", "it is in format 1 after format-2 events (the log was converted back)") : nil
        }
        if !keyed {
            keyed = true
            if checksMACs, (seq != 1 && action != AuditAction.vaultUpgrade.rawValue) || !checked.macked {
                return ("mac", "it starts the keyed log but is neither the first event nor the upgrade with its MAC (events before it were rewritten)")
            }
        }
        if checked.macked {
            unvouched = nil
        } else if checksMACs, !checked.keyless {
            unvouched = unvouched ?? seq
        }
        return nil
    }
}
