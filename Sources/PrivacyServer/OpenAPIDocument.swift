import Foundation

/// The OpenAPI 3.1 document of privacyd's API: `docs/openapi.json`, embedded at build time
/// (the EmbedOpenAPI plugin) and served at `/v1/openapi.json`. A test fails when a route
/// and the document disagree.
enum OpenAPIDocument {
    static let json: String = {
        guard let file = EmbeddedOpenAPI.files.first, let data = Data(base64Encoded: file.base64) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }()
}
