import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import NIOSSL
import PrivacyKit
import SwiftASN1
import X509

/// The headers a request names its purpose, end user and request id in (never a subject
/// id or a value: those go in bodies).
enum APIHeaders {
    static let purpose = HTTPField.Name("PrivacyKit-Purpose")!
    static let endUser = HTTPField.Name("PrivacyKit-End-User")!
    static let requestID = HTTPField.Name("PrivacyKit-Request-Id")!
}

/// Derives the access context from the credential, once per request, before any route
/// runs: actor the client, role the client's, purpose the `PrivacyKit-Purpose` header's
/// (one the client holds). A missing, unknown, wrong, expired or revoked credential is 401,
/// a purpose outside the client's 403; the library audits both, without the token.
struct AuthenticationMiddleware: RouterMiddleware {
    let vault: Vault
    /// Whether clients may present a certificate (`--client-ca`): TLS then asked for one and
    /// verified any it got against the client CA before the request reached here.
    let certificates: Bool

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let purpose = request.headers[APIHeaders.purpose]
        let endUser = request.headers[APIHeaders.endUser]
        let requestID = request.headers[APIHeaders.requestID]
        let credential: VaultClients.Credential
        if let token = Self.bearerToken(request.headers[.authorization]) {
            credential = .token(token)
        } else if certificates, let subject = try await Self.certificateSubject(context.channel) {
            credential = .certificate(subject: subject)
        } else {
            credential = .token("")
        }
        let vault = self.vault
        let access = try await blocking {
            try vault.clients.authenticate(credential, purpose: purpose, endUser: endUser, requestID: requestID)
        }
        var context = context
        context.access = access
        return try await next(request, context)
    }

    /// The subject (RFC 4514: `CN=orders,O=Example`) of the certificate the client presented
    /// and TLS verified against the client CA; nil without one.
    static func certificateSubject(_ channel: any Channel) async throws -> String? {
        guard let certificate = try await channel.nioSSL_peerCertificate().get() else { return nil }
        return try Certificate(derEncoded: try certificate.toDERBytes()).subject.description
    }

    /// The token of `Authorization: Bearer TOKEN` (scheme case-insensitive), else nil.
    static func bearerToken(_ header: String?) -> String? {
        guard let header, header.count > 7, header.prefix(7).lowercased() == "bearer " else { return nil }
        return header.dropFirst(7).trimmingCharacters(in: .whitespaces)
    }
}

/// Runs a blocking vault call off the event loops and the cooperative pool, on NIO's
/// blocking thread pool (the vault's calls wait on SQLite or PostgreSQL).
func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await NIOThreadPool.singleton.runIfActive(body)
}
