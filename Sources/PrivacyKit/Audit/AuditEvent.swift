/// What an audit event records: a closed, documented set. Later capabilities add cases;
/// a name, once shipped, never changes meaning (it is part of every event's hash).
public enum AuditAction: String, Sendable, Codable, CaseIterable {
    // Vault and keys
    case vaultCreate = "vault.create"
    /// `privacyctl upgrade` carried the vault over to a newer format (the reason names it).
    case vaultUpgrade = "vault.upgrade"
    /// An attempt to open the vault with a wrong secret (outcome `failed`).
    case vaultUnlock = "vault.unlock"
    case keysRotateRoot = "keys.rotate-root"
    case keysRotateKEK = "keys.rotate-kek"
    case keysRotateIndex = "keys.rotate-index"
    /// An old vault given its identity key (the upgrade of `VaultKeys.installIdentity`).
    case keysInstallIdentity = "keys.install-identity"
    // Records
    case recordRead = "record.read"
    case recordWrite = "record.write"
    case recordImport = "record.import"
    case recordLookup = "record.lookup"
    /// A blind index computed for a caller (`vault.records.blindIndex`): the field, never
    /// the value.
    case recordBlindIndex = "record.blind-index"
    case recordExport = "record.export"
    case recordErase = "record.erase"
    /// Processing restricted (GDPR art. 18) / restriction lifted.
    case recordRestrict = "record.restrict"
    case recordUnrestrict = "record.unrestrict"
    // Consent
    case consentGrant = "consent.grant"
    case consentWithdraw = "consent.withdraw"
    case consentObject = "consent.object"
    // Policies, holds, retention
    case policyChange = "policy.change"
    case holdPlace = "hold.place"
    case holdRelease = "hold.release"
    case retentionSweep = "retention.sweep"
    case retentionAction = "retention.action"
    // Data-subject requests
    case requestOpen = "request.open"
    case requestClose = "request.close"
    /// Identity verified, deadline extended, or another change to an open request.
    case requestUpdate = "request.update"
    // Personal-data breaches (GDPR art. 33/34)
    case breachOpen = "breach.open"
    case breachClose = "breach.close"
    /// Listing the subjects a breach affected (reads the log, maps pseudonyms to ids).
    case breachAffected = "breach.affected"
    /// Breach notices drafted (`breach notify`): the breach id, regimes and counts; never
    /// the operator's text or a contact value (the reads are their own `record.read`s).
    case breachNotify = "breach.notify"
    /// The record of processing activities (GDPR art. 30) exported (`privacyctl ropa`):
    /// the format and the digest of what was written.
    case ropaExport = "ropa.export"
    // Backups
    case backupCreate = "backup.create"
    case backupVerify = "backup.verify"
    case backupRestore = "backup.restore"
    case backupPrune = "backup.prune"
    // privacyd's clients (`VaultClients`): the token never, its version only
    case clientAdd = "client.add"
    case clientRotate = "client.rotate"
    case clientRevoke = "client.revoke"
    /// A credential refused (outcome `denied`): unknown, wrong, expired or revoked.
    case clientAuthenticate = "client.authenticate"
    // The audit log itself (signing a checkpoint is not an event: it would leave a new
    // unsigned event behind every checkpoint)
    case auditQuery = "audit.query"
    case auditExport = "audit.export"
}

/// How an audited action ended.
public enum AuditOutcome: String, Sendable, Codable, CaseIterable {
    case allowed
    case denied
    case failed
}

/// Who acts, in which role, for which purpose: carried by every call and recorded in
/// every event. (Enforced by the access policy in a later version; recorded now.)
public struct AccessContext: Sendable, Equatable {
    public var actor: String
    public var role: String
    public var purpose: String?
    /// A request id (ticket, data-subject request) that ties events together.
    public var requestID: String?

    public init(actor: String, role: String, purpose: String? = nil, requestID: String? = nil) {
        self.actor = actor
        self.role = role
        self.purpose = purpose
        self.requestID = requestID
    }

    /// The context of in-process library calls that do not say who they act for.
    public static let library = AccessContext(actor: "library", role: "service")
}

/// An event to record. The subject is given as its real id and stored only as a
/// pseudonym (keyed BLAKE2b under the audit MAC key); field names, never values.
public struct AuditEntry: Sendable, Equatable {
    public var action: AuditAction
    public var subjectID: String?
    public var fields: [String]
    public var outcome: AuditOutcome
    /// A reason or detail: never a PII value.
    public var reason: String?
    /// Overrides the context's purpose for this event.
    public var purpose: String?

    public init(
        _ action: AuditAction, subjectID: String? = nil, fields: [String] = [],
        outcome: AuditOutcome = .allowed, reason: String? = nil, purpose: String? = nil
    ) {
        self.action = action
        self.subjectID = subjectID
        self.fields = fields
        self.outcome = outcome
        self.reason = reason
        self.purpose = purpose
    }
}

/// A stored event, as queries and exports return it.
public struct AuditEvent: Sendable, Equatable, Codable {
    public let seq: Int64
    /// UTC, ISO 8601 with milliseconds.
    public let time: String
    public let actor: String
    public let role: String
    /// The action name (an ``AuditAction`` raw value; kept as text so a log written by a
    /// newer version still reads).
    public let action: String
    /// The subject pseudonym (32 hex digits), or nil.
    public let subject: String?
    public let fields: [String]
    public let purpose: String?
    public let outcome: String
    public let reason: String?
    /// Requests tie events together; nil when none was given.
    public let requestID: String?
    /// Hex of the previous event's hash (or the genesis hash).
    public let prevHash: String
    /// Hex of this event's hash.
    public let hash: String

    enum CodingKeys: String, CodingKey {
        case seq, time, actor, role, action, subject, fields, purpose, outcome, reason, hash
        case requestID = "request_id"
        case prevHash = "prev_hash"
    }
}
