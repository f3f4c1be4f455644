import Foundation
import Sodium

/// A service that privacyd serves: its role (from `access.yaml`), the purposes it may act
/// for (a subset of the role's), and how it authenticates: a bearer token, of which the
/// vault keeps only a keyed hash, or a TLS client certificate's subject.
public struct Client: Sendable, Codable, Equatable {
    public let name: String
    public let role: String
    public let purposes: [String]
    /// 1 when added, one more at every rotation; a token names the version it was issued as.
    public let tokenVersion: Int64
    public let certificateSubject: String?
    public let createdAt: String
    public let createdBy: String
    public let expiresAt: String?
    public let revokedAt: String?
    public let revokedBy: String?

    enum CodingKeys: String, CodingKey {
        case name, role, purposes
        case tokenVersion = "token_version", certificateSubject = "certificate_subject", createdAt = "created_at", createdBy = "created_by"
        case expiresAt = "expires_at", revokedAt = "revoked_at", revokedBy = "revoked_by"
    }

    init(row: ClientRow) {
        name = row.name
        role = row.role
        purposes = row.purposes.split(separator: ",").map(String.init)
        tokenVersion = row.tokenVersion
        certificateSubject = row.certificateSubject
        createdAt = row.createdAt
        createdBy = row.createdBy
        expiresAt = row.expiresAt
        revokedAt = row.revokedAt
        revokedBy = row.revokedBy
    }
}

/// A client with its new token: shown once, never stored.
public struct IssuedClient: Sendable {
    public let client: Client
    public let token: String
}

/// privacyd's clients: registered, rotated and revoked by an operator holding the `keys`
/// action, and authenticated by the server for each request. The rows are one leaf of the
/// decision tree (docs/formats.md, "Clients"): a client added, widened, given a
/// token hash of the writer's choosing or un-revoked behind the vault fails every
/// authentication closed (`.integrity`) instead of letting anyone in.
public struct VaultClients: VaultCapability {
    let core: VaultCore

    /// Tokens read `pkc1.NAME.SECRET`: the name finds the row, the 32-byte secret
    /// (base64url) is what the keyed hash is of.
    static let tokenPrefix = "pkc1"
    static let secretBytes = 32

    /// Registers `name` and returns its first token. `purposes` must be ones `role` holds.
    public func add(name: String, role: String, purposes: [String], expiresAfter: ISODuration? = nil, certificateSubject: String? = nil,
                    context: AccessContext) throws -> IssuedClient {
        try Self.checkName(name)
        guard let spec = access.roles[role] else {
            throw PrivacyKitError(.invalidInput, "role '\(role)' is not defined in access.yaml (roles: \(access.roleNames.joined(separator: ", ")))")
        }
        let purposes = Array(Set(purposes)).sorted()
        guard !purposes.isEmpty else { throw PrivacyKitError(.invalidInput, "client \(name) needs at least one purpose (--purpose)") }
        for purpose in purposes {
            _ = try self.purposes.require(purpose)
            guard spec.purposes.contains(purpose) else {
                throw PrivacyKitError(.invalidInput, "client \(name): role \(role) does not hold purpose \(purpose) (roles.\(role).purposes: \(spec.purposes.sorted().joined(separator: ", ")))")
            }
        }
        if let certificateSubject { try Self.checkCertificateSubject(certificateSubject) }
        let now = Date()
        let expiresAt = try expiresAfter.map { duration in
            guard !duration.isZero else { throw PrivacyKitError(.invalidInput, "client \(name): --expires must be longer than zero") }
            return Timestamp.precise(duration.after(now))
        }
        return try perform(context, AccessRequest(.keys, event: .clientAdd)) { tx, _ in
            let rows = tx.db.decisions.clients
            guard try !core.provenClientRows(tx.db).contains(where: { $0.name == name }) else { throw PrivacyKitError(.alreadyExists, "client \(name) already exists (rotate its token, or revoke it and choose another name)") }
            let (token, hash) = try issue(name: name, version: 1)
            try rows.insert(name: name, role: role, purposes: purposes.joined(separator: ","), tokenHash: hash, certificateSubject: certificateSubject,
                            createdAt: Timestamp.precise(now), createdBy: context.actor, expiresAt: expiresAt)
            tx.record(AuditEntry(.clientAdd, reason: "client \(name), role \(role), purposes \(purposes.joined(separator: ","))"
                                 + (expiresAt.map { ", expires \($0)" } ?? "") + (certificateSubject == nil ? "" : ", with a certificate subject")))
            return IssuedClient(client: try stored(tx.db, name), token: token)
        }
    }

    /// A new token for `name`; the old one stops working at once.
    public func rotate(name: String, context: AccessContext) throws -> IssuedClient {
        try Self.checkName(name)
        return try perform(context, AccessRequest(.keys, event: .clientRotate)) { tx, _ in
            let current = try stored(tx.db, name)
            guard current.revokedAt == nil else { throw PrivacyKitError(.invalidInput, "client \(name) was revoked on \(current.revokedAt!): add a new client instead") }
            let (token, hash) = try issue(name: name, version: current.tokenVersion + 1)
            guard try tx.db.decisions.clients.replaceToken(name: name, version: current.tokenVersion + 1, tokenHash: hash) == 1 else {
                throw PrivacyKitError(.internal, "client \(name) changed inside its own transaction")
            }
            tx.record(AuditEntry(.clientRotate, reason: "client \(name), token version \(current.tokenVersion + 1)"))
            return IssuedClient(client: try stored(tx.db, name), token: token)
        }
    }

    /// Revokes `name`: its token and certificate stop working at once. The row stays.
    @discardableResult
    public func revoke(name: String, context: AccessContext) throws -> Client {
        try Self.checkName(name)
        return try perform(context, AccessRequest(.keys, event: .clientRevoke)) { tx, _ in
            let current = try stored(tx.db, name)
            guard current.revokedAt == nil else { return current }
            _ = try tx.db.decisions.clients.revoke(name: name, at: Timestamp.precise(Date()), by: context.actor)
            tx.record(AuditEntry(.clientRevoke, reason: "client \(name)"))
            return try stored(tx.db, name)
        }
    }

    /// Every client, revoked ones too, by name.
    public func list(context: AccessContext) throws -> [Client] {
        try perform(context, AccessRequest(.keys, event: .clientAdd)) { tx, _ in
            try core.provenClientRows(tx.db).map(Client.init(row:))
        }
    }

    // MARK: - Authentication

    /// How a request presents itself.
    public enum Credential: Sendable {
        /// `Authorization: Bearer TOKEN`.
        case token(String)
        /// The subject of a TLS client certificate the server verified against its client CA.
        case certificate(subject: String)
    }

    /// The access context a request acts in: actor the client (and the end user it names,
    /// recorded, never decided on), role the client's, purpose the one asked for, which the
    /// client must hold. A refused credential is audited (`client.authenticate`, denied;
    /// never the token) and throws `.unauthenticated`; a purpose the client does not hold
    /// throws `.denied` (audited too).
    public func authenticate(_ credential: Credential, purpose: String?, endUser: String? = nil, requestID: String? = nil) throws -> AccessContext {
        if let endUser { try Self.checkEndUser(endUser) }
        let outcome: Result<ClientRow, PrivacyKitError> = try store.read { db in
            try Self.match(credential, rows: try core.provenClientRows(db), now: Timestamp.precise(Date()), hash: { name, version, secret in
                try tokenHash(name: name, version: version, secret: secret)
            })
        }
        switch outcome {
        case .success(let row):
            let actor = "client:\(row.name)" + (endUser.map { " user:\($0)" } ?? "")
            let context = AccessContext(actor: actor, role: row.role, purpose: purpose, requestID: requestID)
            if let purpose, !row.purposes.split(separator: ",").contains(Substring(purpose)) {
                let error = PrivacyKitError(.denied, "client \(row.name) does not hold purpose \(purpose) (its purposes: \(row.purposes.replacingOccurrences(of: ",", with: ", ")))")
                try recordRefusal(error, context: AccessContext(actor: actor, role: row.role, requestID: requestID))
                throw error
            }
            return context
        case .failure(let error):
            // Who it claimed to be, when the token names a client in a valid form; the token never.
            try recordRefusal(error, context: AccessContext(actor: Self.claimedActor(credential), role: "unauthenticated", requestID: requestID))
            throw error
        }
    }

    /// Records a refused credential or purpose. Not through the access decision: the role
    /// may be none, and a refusal is evidence whoever caused it.
    private func recordRefusal(_ error: PrivacyKitError, context: AccessContext) throws {
        try performAudited(context) { tx in tx.record(AuditEntry(.clientAuthenticate, outcome: .denied, reason: error.message)) }
    }

    /// The row `credential` authenticates as at `now`, or why not (no secret in the error).
    private static func match(_ credential: Credential, rows: [ClientRow], now: String,
                              hash: (String, Int64, [UInt8]) throws -> [UInt8]) throws -> Result<ClientRow, PrivacyKitError> {
        let refused = { (why: String) in Result<ClientRow, PrivacyKitError>.failure(PrivacyKitError(.unauthenticated, why)) }
        let row: ClientRow
        switch credential {
        case .token(let token):
            guard let parsed = parse(token) else { return refused("the bearer token is not a PrivacyKit client token (pkc1.NAME.SECRET)") }
            var secret = parsed.secret
            defer { Memory.wipe(&secret) }
            guard let found = rows.first(where: { $0.name == parsed.name }) else { return refused("no client \(parsed.name)") }
            guard ConstantTime.equals(try hash(found.name, found.tokenVersion, secret), [UInt8](found.tokenHash)) else {
                return refused("client \(parsed.name): the token is not its current one (wrong, or replaced by a rotation)")
            }
            row = found
        case .certificate(let subject):
            let found = rows.filter { $0.certificateSubject == subject }
            guard found.count == 1, let only = found.first else {
                return refused(found.isEmpty ? "no client has this certificate subject" : "more than one client has this certificate subject")
            }
            row = only
        }
        if let revoked = row.revokedAt { return refused("client \(row.name) was revoked on \(revoked)") }
        // Both are written by Timestamp.precise (one width), so text order is time order.
        if let expires = row.expiresAt, expires <= now { return refused("client \(row.name) expired on \(expires)") }
        return .success(row)
    }

    private static func claimedActor(_ credential: Credential) -> String {
        if case .token(let token) = credential, let parsed = parse(token) { return "client:\(parsed.name)" }
        return "unauthenticated"
    }

    /// `pkc1.NAME.SECRET` split, or nil when it is not that shape.
    static func parse(_ token: String) -> (name: String, secret: [UInt8])? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == tokenPrefix, (try? checkName(String(parts[1]))) != nil,
              let secret = try? Base64URL.decode(String(parts[2])), secret.count == secretBytes else { return nil }
        return (String(parts[1]), secret)
    }

    private func issue(name: String, version: Int64) throws -> (token: String, hash: Data) {
        var secret = Random.bytes(count: Self.secretBytes)
        defer { Memory.wipe(&secret) }
        let hash = try tokenHash(name: name, version: version, secret: secret)
        return ("\(Self.tokenPrefix).\(name).\(Base64URL.encode(secret))", Data(hash))
    }

    /// The keyed hash the vault keeps: BLAKE2b under the audit-chain key (a label of its
    /// own), of the name, the version and the secret, so a row copied to another client
    /// or version does not match.
    private func tokenHash(name: String, version: Int64, secret: [UInt8]) throws -> [UInt8] {
        var c = Canonical("privacykit.client.token.v1")
        c.append(name)
        c.append(UInt64(version))
        c.append(secret)
        defer { c.wipe() }
        return try BLAKE2b.hash(c.bytes, key: core.integrity.key)
    }

    private func stored(_ db: StoreDatabase, _ name: String) throws -> Client {
        guard let row = try core.provenClientRows(db).first(where: { $0.name == name }) else { throw PrivacyKitError(.notFound, "no client \(name)") }
        return Client(row: row)
    }

    /// Client names: the form of role names (lower-case letters, digits, '-'; 64 at most),
    /// so a name is safe in a token, a log line and an audit reason.
    static func checkName(_ name: String) throws {
        guard AccessPolicy.isValidName(name) else {
            throw PrivacyKitError(.invalidInput, "a client name is 1–64 lower-case letters, digits and '-', starting with a letter (got \(name.count) characters that are not)")
        }
    }

    private static func checkCertificateSubject(_ subject: String) throws {
        guard !subject.isEmpty, subject.utf8.count <= 512, !subject.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw PrivacyKitError(.invalidInput, "a certificate subject is 1–512 bytes without control characters (as RFC 4514 prints it: CN=orders,O=Example)")
        }
    }

    /// An end user the client acts for: a login or staff id, recorded in the actor.
    static func checkEndUser(_ user: String) throws {
        guard !user.isEmpty, user.utf8.count <= 64, user.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f }) else {
            throw PrivacyKitError(.invalidInput, "an end user is 1–64 printable ASCII characters without spaces (a login or staff id)")
        }
    }
}
