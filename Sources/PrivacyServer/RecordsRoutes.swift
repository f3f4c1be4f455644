import Hummingbird
import PrivacyKit

/// `/v1/records`: the vault's own records. Subject ids and values travel only in bodies.
struct RecordsRoutes {
    let vault: Vault

    struct PutRequest: Decodable, Sendable { let subject: String; let values: [String: String] }
    struct GetRequest: Decodable, Sendable { let subjects: [String]; let fields: [String]? }
    struct DeleteFieldsRequest: Decodable, Sendable { let subject: String; let fields: [String] }
    struct FindRequest: Decodable, Sendable { let field: String; let value: String; let region: String? }

    struct Fields: Encodable, Sendable {
        let subject: String
        let fields: [String: String]
    }

    struct Put: Encodable, Sendable { let result: PutResult }
    struct Found: Encodable, Sendable { let subjects: [String] }

    func add(to group: RouterGroup<APIContext>) {
        let vault = self.vault
        group.vaultCall("records/put", PutRequest.self) { body, access in
            OK(body: Put(result: try vault.records.put(subject: body.subject, values: body.values, context: access)))
        }
        group.vaultCall("records/get", GetRequest.self) { body, access in
            let reads = try vault.records.get(subjects: body.subjects, fields: body.fields, context: access)
            return BatchResponse(results: reads.map { read in ItemResult(read.result.map { Fields(subject: read.subject, fields: $0) }) })
        }
        group.vaultCall("records/delete-fields", DeleteFieldsRequest.self) { body, access in
            OK(body: Put(result: try vault.records.deleteFields(subject: body.subject, fields: body.fields, context: access)))
        }
        group.vaultCall("records/find", FindRequest.self) { body, access in
            OK(body: Found(subjects: try vault.records.find(field: body.field, value: body.value, region: body.region, context: access)))
        }
    }
}
