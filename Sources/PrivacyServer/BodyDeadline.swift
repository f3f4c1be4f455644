import Hummingbird
import NIOCore

/// Reads each request's whole body before its route runs, within `timeout`: a client that
/// drips its body (each byte resets the connection's idle timer) gets 408 instead of
/// holding a connection and a request open. Vault work is never cut short: it starts only
/// once the body is in, and its waits are bounded by the store's own lock timeout.
struct BodyDeadlineMiddleware: RouterMiddleware {
    let timeout: Duration

    func handle(_ request: Request, context: APIContext, next: (Request, APIContext) async throws -> Response) async throws -> Response {
        let body = request.body, limit = context.maxUploadSize, timeout = self.timeout
        let buffer = try await withThrowingTaskGroup(of: ByteBuffer?.self) { group in
            group.addTask { try await body.collect(upTo: limit) }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let buffer = first else {
                throw APIError(code: "request-timeout", status: .requestTimeout, exitCode: 75,
                               message: "the request body did not arrive within \(Self.seconds(timeout)) s (--request-timeout)")
            }
            return buffer
        }
        var request = request
        request.body = RequestBody(buffer: buffer)
        return try await next(request, context)
    }

    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let value = Double(seconds) + Double(attoseconds) / 1e18
        return value == value.rounded() ? String(Int(value)) : String(value)
    }
}
