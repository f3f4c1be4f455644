public import Foundation
public import Sodium

/// A signed consent receipt: what a subject agreed to, when, under which notice, as the
/// vault's ledger held it when the receipt was issued. The fields follow the Kantara
/// Initiative Consent Receipt specification (v1.1) where they apply; `privacykit` adds the
/// ledger events with their place in the audit chain. Signed with the vault's Ed25519
/// audit key over the receipt's canonical JSON (sorted keys, `signature` left out).
public struct ConsentReceipt: Codable, Sendable, Equatable {
    public struct Service: Codable, Sendable, Equatable {
        public let service: String
        public let purposes: [PurposeEntry]
    }

    /// One purpose, in Kantara's terms.
    public struct PurposeEntry: Codable, Sendable, Equatable {
        public let purpose: String
        public let purposeCategory: [String]
        public let consentType: String
        public let primaryPurpose: Bool
        public let termination: String
        public let thirdPartyDisclosure: Bool
    }

    /// PrivacyKit's own part: the ledger behind each purpose.
    public struct Ledger: Codable, Sendable, Equatable {
        public struct Event: Codable, Sendable, Equatable {
            public let id: Int64
            public let kind: String
            public let time: String
            public let channel: String
            public let noticeVersion: String?
            public let evidenceHash: String?
            public let expiresAt: String?
            /// The audit event that recorded it, and that event's hash (hex).
            public let auditSeq: Int64
            public let auditHash: String
        }

        public struct PurposeState: Codable, Sendable, Equatable {
            public let purpose: String
            /// The purpose's lawful basis (GDPR arts. 6(1), 13(1)(c)); absent in receipts
            /// issued before it was recorded, which still verify.
            public let lawfulBasis: String?
            /// The PIPL cases that make the purpose need a separate consent, with their
            /// articles (absent: none).
            public let separateConsent: [String]?
            public let state: String
            public let allowed: Bool
            public let reason: String
            public let events: [Event]
        }

        public let vaultID: String
        public let subjectPseudonym: String
        public let issuedAt: String
        public let purposes: [PurposeState]
    }

    public typealias Signature = ReceiptSignature

    public let version: String
    public let consentReceiptID: String
    public let consentTimestamp: Int64
    public let collectionMethod: String
    public let piiPrincipalId: String
    public let publicKey: String
    public let services: [Service]
    public let sensitive: Bool
    public let spiCat: [String]
    public let privacykit: Ledger
    public var signature: Signature?

}

extension ConsentReceipt: SignedReceipt {
    /// The receipt as a JSON document (pretty-printed, sorted keys).
    public func json() throws -> Data { try receiptJSON() }
}

/// The Ed25519 signature of a receipt.
public struct ReceiptSignature: Codable, Sendable, Equatable {
    public let algorithm: String
    /// base64url
    public let value: String
    /// BLAKE2b-128 of the public key (hex), as `audit public-key` shows it.
    public let keyFingerprint: String
}

/// A receipt signed with the vault's audit key over its canonical JSON (sorted keys,
/// `signature` left out), carrying the public key it was signed with.
protocol SignedReceipt: Codable {
    var signature: ReceiptSignature? { get set }
    /// The signing public key, base64url.
    var publicKey: String { get }
}

extension SignedReceipt {
    /// The bytes the signature covers.
    func signedBytes() throws -> [UInt8] {
        var unsigned = self
        unsigned.signature = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return [UInt8](try encoder.encode(unsigned))
    }

    /// The receipt as a JSON document (pretty-printed, sorted keys).
    func receiptJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Parses `data` as this kind of receipt for verification, strictly: `data` must be
    /// exactly the document `form` writes for what it parses to (by default ``receiptJSON()``,
    /// the form issued: pretty-printed, sorted keys), with or without its final newline. The
    /// signature covers a re-encoding of the parsed receipt, so anything that encoding does
    /// not reproduce (a member given twice, an unknown member, members reordered, other
    /// spacing or escapes) would be unsigned content that other JSON readers may read
    /// differently: it is refused, not ignored.
    static func parseExactly(
        _ data: Data, kind: String, issuedAs form: (Self) throws -> Data = { try $0.receiptJSON() }
    ) -> (receipt: Self?, problem: String?) {
        guard let receipt = try? JSONDecoder().decode(Self.self, from: data) else {
            return (nil, "not a PrivacyKit \(kind) (the JSON does not parse as one)")
        }
        guard let issued = try? form(receipt) else { return (nil, "the \(kind) cannot be re-encoded") }
        guard data == issued || (issued.last == UInt8(ascii: "\n") && data == issued.dropLast()) else {
            return (nil, "the \(kind) is not in the exact form the vault issued (a member twice, an unknown member, members reordered or reformatted): "
                + "its bytes are not all covered by the signature, so it is not verified")
        }
        return (receipt, nil)
    }

    /// Signs the receipt (whose `publicKey` must be `signer`'s).
    mutating func sign(with signer: Ed25519.KeyPair) throws {
        let fingerprint = try KeyFingerprint.of(signer.publicKey.bytes)
        signature = nil
        signature = ReceiptSignature(algorithm: "Ed25519", value: Base64URL.encode(try signer.sign(try signedBytes())), keyFingerprint: fingerprint)
    }

    /// Checks the signature against the receipt's own key and, when given, the vault key:
    /// the problem (nil: it verifies) and the key's fingerprint.
    func signatureProblem(publicKey: Ed25519.PublicKey?) -> (problem: String?, fingerprint: String?) {
        guard let signature, signature.algorithm == "Ed25519", let signatureBytes = try? Base64URL.decode(signature.value) else {
            return ("the receipt has no Ed25519 signature", nil)
        }
        guard let embeddedBytes = try? Base64URL.decode(self.publicKey), let embedded = try? Ed25519.PublicKey(bytes: embeddedBytes) else {
            return ("the receipt's publicKey is not an Ed25519 public key", nil)
        }
        let fingerprint = try? KeyFingerprint.of(embedded.bytes)
        // The signature block is not itself signed: its fingerprint must match the key.
        guard signature.keyFingerprint == fingerprint else {
            return ("the signature names key \(signature.keyFingerprint), but the receipt's public key is \(fingerprint ?? "?")", fingerprint)
        }
        if let publicKey, publicKey != embedded {
            return ("the receipt is signed by another key (\(fingerprint ?? "?")), not the vault key given", fingerprint)
        }
        guard let message = try? signedBytes() else { return ("the receipt cannot be re-encoded", fingerprint) }
        do {
            try embedded.verify(signatureBytes, for: message)
        } catch {
            return ("the signature does not verify: the receipt was altered after signing, or signed with another key", fingerprint)
        }
        return (nil, fingerprint)
    }
}

/// What verifying a receipt established.
public struct ReceiptVerification: Sendable, Encodable, Equatable {
    public let valid: Bool
    /// Why it is not valid (nil when valid).
    public let problem: String?
    /// What a valid receipt proves, and what it does not, in words.
    public let proves: [String]
    public let keyFingerprint: String?
}

extension ConsentReceipt {
    /// Checks a receipt offline, as issued (see docs/formats.md: the exact bytes written by
    /// ``json()``, final newline optional; anything else is refused).
    ///
    /// With `publicKey` (the vault's audit public key, from
    /// `privacyctl audit public-key` or a witness), the signature must be that key's; without
    /// it, only the receipt's own key is checked, which proves integrity but not origin.
    /// With `subject`, the receipt must be about that subject.
    public static func verify(_ data: Data, publicKey: Ed25519.PublicKey? = nil, subject: String? = nil) -> ReceiptVerification {
        func invalid(_ problem: String, _ fingerprint: String? = nil) -> ReceiptVerification {
            ReceiptVerification(valid: false, problem: problem, proves: [], keyFingerprint: fingerprint)
        }
        let (parsed, parseProblem) = parseExactly(data, kind: "consent receipt")
        guard let receipt = parsed else { return invalid(parseProblem ?? "not a PrivacyKit consent receipt") }
        let (problem, fingerprint) = receipt.signatureProblem(publicKey: publicKey)
        if let problem { return invalid(problem, fingerprint) }
        if let subject, subject != receipt.piiPrincipalId {
            return invalid("the receipt is about another subject, not \(subject)", fingerprint)
        }
        var proves = [
            "The holder of the Ed25519 key \(fingerprint ?? "?") (the audit key of vault \(receipt.privacykit.vaultID)) signed this receipt for subject \(receipt.piiPrincipalId) at \(receipt.privacykit.issuedAt); it has not been altered since.",
        ]
        for p in receipt.privacykit.purposes {
            let events = p.events.map { "#\($0.id) \($0.kind) \($0.time) via \($0.channel)\($0.noticeVersion.map { " under notice \($0)" } ?? "") (audit seq \($0.auditSeq))" }
            proves.append("For \(p.purpose), the vault's consent ledger then held: \(events.isEmpty ? "no event" : events.joined(separator: "; ")); state \(p.state): \(p.reason).")
        }
        if publicKey == nil {
            proves.append("Without --public-key, that the key is this vault's is not checked: compare \(fingerprint ?? "?") with the vault's published audit key.")
        }
        proves.append("It does not prove that the ledger still holds these events, or anything after \(receipt.privacykit.issuedAt): the audit log (audit verify, and the audit hashes listed) does.")
        return ReceiptVerification(valid: true, problem: nil, proves: proves, keyFingerprint: fingerprint)
    }
}

extension VaultConsent {
    /// Issues a signed consent receipt for a subject: every purpose that needs consent, or
    /// the one given, with its ledger events and current state. Audited as a consent read.
    public func receipt(subject: String, purpose purposeID: String? = nil, context: AccessContext) throws -> ConsentReceipt {
        try RecordStore.checkSubjectID(subject)
        let chosen: [Purpose]
        if let purposeID {
            chosen = [try purposes.require(purposeID)]
        } else {
            chosen = purposes.purposes.values.filter { $0.consent != .notRequired }.sorted { $0.id < $1.id }
        }
        guard let signer = audit.signer else { throw PrivacyKitError(.internal, "the keyring has no audit signing key") }
        let pseudonym = try subjectPseudonym(subject)
        let now = Date()
        let issued = Timestamp.precise(now)
        return try perform(context, AccessRequest(.consent, event: .recordRead, subject: subject)) { tx, _ in
            let rows = tx.db.decisions
            guard try rows.subjects.exists(subject) else {
                throw PrivacyKitError(.notFound, "no subject \(subject)")
            }
            var states: [ConsentReceipt.Ledger.PurposeState] = []
            var entries: [ConsentReceipt.PurposeEntry] = []
            var firstGrant: ConsentReceipt.Ledger.Event?
            var channel = "none"
            for purpose in chosen {
                let events = try rows.consent.receiptEvents(pseudonym: pseudonym, purpose: purpose.id)
                let last = try lastConsent(tx.db, subject: subject, purpose: purpose.id, at: nil)
                let answer = ConsentRules.answer(subject: subject, purpose: purpose, last: last, at: issued)
                let separate = purpose.separateConsent.map { "\($0.rawValue) (\($0.article))" }
                states.append(.init(purpose: purpose.id, lawfulBasis: purpose.lawfulBasis.rawValue, separateConsent: separate.isEmpty ? nil : separate,
                                    state: answer.state.rawValue, allowed: answer.allowed,
                                    reason: answer.reason, events: events))
                if let grant = events.last(where: { $0.kind == "grant" }) {
                    if firstGrant == nil || grant.time < firstGrant!.time { firstGrant = grant; channel = grant.channel }
                }
                entries.append(.init(purpose: purpose.description, purposeCategory: [purpose.id],
                                     consentType: purpose.consent == .optOut ? "OPT-OUT" : "EXPLICIT", primaryPurpose: purposeID != nil,
                                     termination: last?.expiresAt.map { "expires \($0)" } ?? "until withdrawn",
                                     thirdPartyDisclosure: purpose.id == "sale-or-sharing"))
            }
            // The schema's sensitive fields (Kantara's sensitive PII categories).
            let sensitiveFields = schema.fields.filter(\.sensitive).map(\.name)
            let timestamp = firstGrant.flatMap { ISOTime.parsePrecise($0.time) } ?? now
            var receipt = ConsentReceipt(
                version: "KI-CR-v1.1.0", consentReceiptID: UUID().uuidString.lowercased(), consentTimestamp: Int64(timestamp.timeIntervalSince1970),
                collectionMethod: channel, piiPrincipalId: subject, publicKey: Base64URL.encode(signer.publicKey.bytes),
                services: [.init(service: "PrivacyKit vault \(id.hex)", purposes: entries)],
                sensitive: !sensitiveFields.isEmpty, spiCat: sensitiveFields,
                privacykit: .init(vaultID: id.hex, subjectPseudonym: pseudonym, issuedAt: issued, purposes: states), signature: nil)
            try receipt.sign(with: signer)
            tx.record(AuditEntry(.recordRead, subjectID: subject, reason: "consent receipt \(receipt.consentReceiptID)"))
            return receipt
        }
    }
}
