public import Foundation
public import Hummingbird
import NIOCore
public import PrivacyKit

/// The request context of every privacyd route: the access context the authentication
/// middleware derived from the credential (nil before it ran, and on the open routes).
public struct APIContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Who the request acts as: the client, its role, the purpose it named.
    public var access: AccessContext?
    /// The connection, for the client certificate TLS verified (mutual TLS).
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// Bodies above this are refused (413) before they are decoded.
    public var maxUploadSize: Int { APILimits.maxBodyBytes }

    public var responseEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// The access context, which every authenticated route has.
    func authenticated() throws -> AccessContext {
        guard let access else { throw APIError(.unauthenticated, "this route needs a client credential (Authorization: Bearer TOKEN)") }
        return access
    }
}

/// The server's limits (a batch's is the library's, `VaultRecords.maxBatch`).
public enum APILimits {
    public static let maxBodyBytes = 1 << 20
}

/// Request bodies: JSON up to ``APILimits/maxBodyBytes``, decoded with errors that name the
/// key path and never quote the body (Hummingbird's own decode gives a plain 400).
enum APIBody {
    static func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: APIContext) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch let error as DecodingError {
            throw APIError(code: "invalid-input", status: .badRequest, message: APIError.describe(error))
        }
    }
}
