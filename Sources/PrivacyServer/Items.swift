import Hummingbird
import PrivacyKit

/// One answer of a batch: its value's keys (`{"envelope": …}`), or `{"error": {code,
/// message}}` (the batch as a whole succeeded).
struct ItemResult<Value: Encodable & Sendable>: Encodable, Sendable {
    let result: Result<Value, PrivacyKitError>

    init(_ result: Result<Value, PrivacyKitError>) {
        self.result = result
    }

    func encode(to encoder: any Encoder) throws {
        switch result {
        case .success(let value): try value.encode(to: encoder)
        case .failure(let failure):
            var container = encoder.container(keyedBy: OK<Value>.Key.self)
            try container.encode(ItemError(code: failure.code.name, message: failure.message), forKey: .init("error"))
        }
    }
}

struct ItemError: Encodable, Sendable {
    let code: String
    let message: String
}

/// A batch answer: `{"ok": true, "results": [...]}`, in the order asked.
struct BatchResponse<Value: Encodable & Sendable>: ResponseEncodable, Sendable {
    let ok = true
    let results: [ItemResult<Value>]
}

/// `{"ok": true}` and whatever the route adds.
struct OK<Body: Encodable & Sendable>: ResponseEncodable, Sendable {
    let ok = true
    let body: Body

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(true, forKey: Key("ok"))
        try body.encode(to: encoder)
    }

    struct Key: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension RouterGroup where Context == APIContext {
    /// `POST path`: the body decoded as `Body`, then `call` run on the blocking pool as the
    /// authenticated client. Every vault route is one of these.
    func vaultCall<Body: Decodable & Sendable, Output: ResponseGenerator & Sendable>(
        _ path: String, _ body: Body.Type, _ call: @escaping @Sendable (Body, AccessContext) throws -> Output
    ) {
        post(RouterPath(path)) { request, context -> Output in
            let decoded = try await APIBody.decode(Body.self, request, context)
            let access = try context.authenticated()
            return try await blocking { try call(decoded, access) }
        }
    }
}
