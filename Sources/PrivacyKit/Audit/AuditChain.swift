import Foundation
public import Sodium

/// The hash chain's canonical encoding (documented in `docs/formats.md`).
///
/// An event's hash is BLAKE2b-256 over: the label `privacykit.audit.event.v1` (or `.v2`),
/// then seq, time, actor, role, action, subject, fields, purpose, outcome, reason, request
/// id, for a version-2 event the seq of the newest checkpoint when it was appended, and
/// the previous hash, each length-prefixed (`Canonical`); optional values carry a presence
/// byte, so "absent" and "empty" differ. The first event links to a genesis hash bound to
/// the vault id, so no log can be moved to another vault.
///
/// The hash is unkeyed, so that anyone with the audit public key can check what a signed
/// checkpoint covers. Version 2 adds, per event, a MAC under the keyring's audit-chain key
/// over the hash and the decision-state root the event commits to: without that key, a
/// store writer cannot recompute the chain after an edit, whatever checkpoints they drop.
public enum AuditChain {
    public static let version = 1
    /// The event format this build appends.
    public static let eventVersion = 2
    static let eventLabel = "privacykit.audit.event.v1"
    static let eventLabelV2 = "privacykit.audit.event.v2"
    static let macLabel = "privacykit.audit.mac.v2"
    static let genesisLabel = "privacykit.audit.genesis.v1"
    static let checkpointLabel = "privacykit.audit.checkpoint.v1"
    static let subjectLabel = "privacykit.audit.subject.v1"

    /// The hash the first event links to.
    public static func genesis(vaultID: VaultID) -> [UInt8] {
        var c = Canonical(genesisLabel)
        c.append(vaultID.bytes)
        // BLAKE2b with a valid output length cannot fail.
        return (try? BLAKE2b.hash(c.bytes)) ?? []
    }

    /// The bytes an audit checkpoint signature covers.
    public static func checkpointMessage(vaultID: VaultID, seq: Int64, chainHash: [UInt8], time: String) -> [UInt8] {
        var c = Canonical(checkpointLabel)
        c.append(vaultID.bytes)
        c.append(UInt64(seq))
        c.append(chainHash)
        c.append(time)
        return c.bytes
    }

    /// The pseudonym that stands for a subject id in the log: keyed BLAKE2b-128 under the
    /// audit MAC key, as 32 hex digits.
    static func pseudonym(subjectID: String, key: SecureBytes) throws -> String {
        var c = Canonical(subjectLabel)
        c.append(subjectID)
        return Hex.encode(try BLAKE2b.hash(c.bytes, key: key, outputByteCount: 16))
    }
}

/// Computes event hashes with one reused buffer, so hashing a long log allocates almost
/// nothing per event. Appending and verifying go through the same primitives.
struct AuditHasher {
    private var buffer: [UInt8] = []

    init() { buffer.reserveCapacity(512) }

    mutating func hash(
        seq: Int64, time: String, actor: String, role: String, action: String,
        subject: String?, fields: String, purpose: String?, outcome: String,
        reason: String?, requestID: String?, checkpointSeq: Int64?, prevHash: UnsafeRawBufferPointer
    ) throws -> [UInt8] {
        begin(seq: seq, version: checkpointSeq == nil ? 1 : 2)
        field(time)
        field(actor)
        field(role)
        field(action)
        optional(subject)
        field(fields)
        optional(purpose)
        field(outcome)
        optional(reason)
        optional(requestID)
        if let checkpointSeq { self.checkpointSeq(checkpointSeq) }
        return try finish(prevHash: prevHash)
    }

    /// Starts an event: the version label and the sequence number.
    mutating func begin(seq: Int64, version: Int = 1) {
        buffer.removeAll(keepingCapacity: true)
        (version == 1 ? Self.label : Self.labelV2).withUnsafeBytes { field(bytes: $0) }
        integer(seq)
    }

    /// A version-2 event's last field before the link: the newest checkpoint's seq when
    /// it was appended, or -1 when there was none.
    mutating func checkpointSeq(_ seq: Int64) {
        integer(seq)
    }

    private mutating func integer(_ value: Int64) {
        var s = UInt64(bitPattern: value).bigEndian
        withUnsafeBytes(of: &s) { field(bytes: $0) }
    }

    private static let label: [UInt8] = Array(AuditChain.eventLabel.utf8)
    private static let labelV2: [UInt8] = Array(AuditChain.eventLabelV2.utf8)
    private static let macLabel: [UInt8] = Array(AuditChain.macLabel.utf8)

    /// The MAC of a version-2 event: keyed BLAKE2b-256 under the audit-chain key over the
    /// label, the event's hash and the decision-state root it commits to (absent for none).
    mutating func mac(hash: UnsafeRawBufferPointer, stateRoot: [UInt8]?, key: SecureBytes) throws -> [UInt8] {
        buffer.removeAll(keepingCapacity: true)
        Self.macLabel.withUnsafeBytes { field(bytes: $0) }
        field(bytes: hash)
        if let stateRoot { stateRoot.withUnsafeBytes { optional(bytes: $0) } } else { optional(bytes: nil) }
        return try buffer.withUnsafeBytes { try BLAKE2b.hash(bytes: $0, key: key) }
    }

    mutating func field(bytes: UnsafeRawBufferPointer) {
        appendLength(bytes.count)
        buffer.append(contentsOf: bytes)
    }

    mutating func field(_ string: String) {
        var string = string
        string.withUTF8 { field(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// An optional value: a one-byte presence field, then the value when present.
    mutating func optional(bytes: UnsafeRawBufferPointer?) {
        if let bytes {
            buffer.append(contentsOf: [0, 0, 0, 1, 1])
            field(bytes: bytes)
        } else {
            buffer.append(contentsOf: [0, 0, 0, 1, 0])
        }
    }

    mutating func optional(_ string: String?) {
        guard var string else { return optional(bytes: nil) }
        string.withUTF8 { optional(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Ends the event with the previous hash and returns BLAKE2b-256 of it all.
    mutating func finish(prevHash: UnsafeRawBufferPointer) throws -> [UInt8] {
        field(bytes: prevHash)
        return try buffer.withUnsafeBytes { try BLAKE2b.hash(bytes: $0) }
    }

    private mutating func appendLength(_ n: Int) { buffer.appendBigEndian32(n) }
}

/// A signed statement that the log had `seq` events with chain hash `chainHash` at `time`.
/// Exported to a witness file (one JSON object per line) that the vault host cannot
/// rewrite, it later proves the log was not cut or replaced.
public struct AuditCheckpoint: Sendable, Equatable, Codable {
    public var format = "privacykit-audit-checkpoint"
    public var version = AuditChain.version
    public let vaultID: String
    public let seq: Int64
    /// Hex.
    public let chainHash: String
    public let time: String
    /// Fingerprint of the audit signing key (see ``KeyInfo/fingerprint``).
    public let keyFingerprint: String
    /// Base64url.
    public let signature: String

    enum CodingKeys: String, CodingKey {
        case format, version, seq, time, signature
        case vaultID = "vault_id"
        case chainHash = "chain_hash"
        case keyFingerprint = "key_fingerprint"
    }

    public init(vaultID: String, seq: Int64, chainHash: String, time: String, keyFingerprint: String, signature: String) {
        self.vaultID = vaultID
        self.seq = seq
        self.chainHash = chainHash
        self.time = time
        self.keyFingerprint = keyFingerprint
        self.signature = signature
    }

    /// Checks the signature against `publicKey`.
    public func verifySignature(publicKey: Ed25519.PublicKey) -> Bool {
        guard let id = try? VaultID(hex: vaultID), let hash = try? Hex.decode(chainHash),
              let sig = try? Base64URL.decode(signature)
        else { return false }
        let message = AuditChain.checkpointMessage(vaultID: id, seq: seq, chainHash: hash, time: time)
        return publicKey.isValidSignature(sig, for: message)
    }
}
