import Foundation
public import Hummingbird
import Logging
import NIOCore
public import PrivacyKit

/// Every error privacyd answers with: one JSON shape, `{"ok": false, "error": {"code",
/// "status", "exit_code", "message"}}`, with a stable code (the CLI's, and `exit_code` its
/// exit status) and a message that names fields and subject ids, never a value or a token.
public struct APIError: Error, HTTPResponseError, Sendable {
    public let code: String
    public let status: HTTPResponse.Status
    public let message: String

    public init(code: String, status: HTTPResponse.Status, exitCode: Int32 = 65, message: String) {
        self.code = code
        self.status = status
        self.exitCode = exitCode
        self.message = message
    }

    init(_ code: PrivacyKitError.Code, _ message: String) {
        self.init(PrivacyKitError(code, message))
    }

    /// A library error as its HTTP twin.
    public init(_ error: PrivacyKitError) {
        self.init(code: error.code.name, status: Self.status(error.code), exitCode: error.code.exitCode, message: error.message)
    }

    /// Any error as an API error; what is not ours says no more than its kind.
    public static func from(_ error: any Error) -> APIError {
        switch error {
        case let error as APIError: return error
        case let error as PrivacyKitError: return APIError(error)
        case let error as DecodingError: return APIError(code: "invalid-input", status: .badRequest, message: describe(error))
        case is NIOTooManyBytesError: return tooLarge
        case let error as HTTPError:
            switch error.status {
            case .contentTooLarge: return tooLarge
            case .notFound: return APIError(code: "no-route", status: .notFound, exitCode: 66, message: "no such route (see /v1/openapi.json)")
            case .methodNotAllowed: return APIError(code: "no-route", status: .methodNotAllowed, exitCode: 66, message: "this route does not take that method")
            default: return APIError(code: "bad-request", status: error.status, message: "the request was refused (\(error.status.code))")
            }
        default: return APIError(code: "internal", status: .internalServerError, exitCode: 1, message: "an internal error (see the server's log)")
        }
    }

    static let tooLarge = APIError(code: "too-large", status: .contentTooLarge, message: "the request body is over \(APILimits.maxBodyBytes) bytes")

    /// The HTTP status of each library code; `exitCode` below is the CLI's for the same code.
    static func status(_ code: PrivacyKitError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidInput: .badRequest
        case .unauthenticated, .wrongKey: .unauthorized
        case .denied: .forbidden
        case .notFound: .notFound
        case .alreadyExists: .conflict
        case .held: HTTPResponse.Status(code: 423, reasonPhrase: "Locked")
        case .busy, .io, .upgradeRequired, .unsupportedVersion: .serviceUnavailable
        // State that failed its integrity check: the server cannot answer (and says why).
        default: .internalServerError
        }
    }

    /// `privacyctl`'s exit status for the same failure (65 for a body that does not decode).
    let exitCode: Int32

    /// Where a body failed to decode: the key path and what was expected, never the value.
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "the body" : keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context.codingPath + [key])) is missing"
        case .typeMismatch(let type, let context): return "\(path(context.codingPath)) must be \(typeName(type))"
        case .valueNotFound(let type, let context): return "\(path(context.codingPath)) must be \(typeName(type)), not null"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "the body is not JSON" : "\(path(context.codingPath)) is not valid"
        @unknown default: return "the body does not decode"
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type, is Int64.Type: "an integer"
        case is Bool.Type: "true or false"
        default: String(describing: type).hasPrefix("Array") ? "a list" : "an object"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = ErrorBody(error: .init(code: code, status: Int(status.code), exitCode: exitCode, message: message))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(body)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"privacyd\"" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    struct ErrorBody: Encodable {
        let ok = false
        let error: Detail

        struct Detail: Encodable {
            let code: String
            let status: Int
            let exitCode: Int32
            let message: String

            enum CodingKeys: String, CodingKey {
                case code, status, message
                case exitCode = "exit_code"
            }
        }
    }
}

/// Turns every error a route or Hummingbird throws into an ``APIError``, so no response
/// leaves in another shape (Hummingbird's own 404 and 413 included).
struct ErrorMiddleware: RouterMiddleware {
    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = APIError.from(error)
            if apiError.code == "internal" {
                // The type only: an error's text may quote what it failed on.
                context.logger.error("internal error", metadata: ["type": "\(type(of: error))"])
            }
            throw apiError
        }
    }
}
