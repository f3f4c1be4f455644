import Hummingbird
import PrivacyKit

/// `/v1/transit`: seal, open and index values that services keep in their own databases,
/// each a batch of items (issue 21, points 3 and 4).
struct TransitRoutes {
    let vault: Vault

    struct EncryptRequest: Decodable, Sendable {
        struct Item: Decodable, Sendable { let value: String; let field: String; let subject: String }
        let items: [Item]
    }

    struct DecryptRequest: Decodable, Sendable {
        struct Item: Decodable, Sendable { let envelope: String; let field: String; let subject: String }
        let items: [Item]
    }

    struct IndexRequest: Decodable, Sendable {
        struct Item: Decodable, Sendable { let value: String; let field: String }
        let items: [Item]
    }

    struct Envelope: Encodable, Sendable { let envelope: String }
    struct Value: Encodable, Sendable { let value: String }
    struct Index: Encodable, Sendable { let index: String }

    func add(to group: RouterGroup<APIContext>) {
        let vault = self.vault
        group.vaultCall("transit/encrypt", EncryptRequest.self) { body, access in
            let items = body.items.map { ValueItem(value: $0.value, field: $0.field, subject: $0.subject) }
            return BatchResponse(results: try vault.records.encrypt(items, context: access).map { ItemResult($0.map(Envelope.init)) })
        }
        group.vaultCall("transit/decrypt", DecryptRequest.self) { body, access in
            let items = body.items.map { EnvelopeItem(envelope: $0.envelope, field: $0.field, subject: $0.subject) }
            return BatchResponse(results: try vault.records.decrypt(items, context: access).map { ItemResult($0.map(Value.init)) })
        }
        group.vaultCall("transit/blind-index", IndexRequest.self) { body, access in
            let items = body.items.map { (value: $0.value, field: $0.field) }
            return BatchResponse(results: try vault.records.blindIndex(items, context: access).map { ItemResult($0.map(Index.init)) })
        }
    }
}
