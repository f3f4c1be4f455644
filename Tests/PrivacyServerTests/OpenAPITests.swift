import Foundation
import PrivacyKit
@testable import PrivacyServer
import Testing

/// The OpenAPI document and the routes agree, and no route takes anything personal in its
/// path or query string (issue 21, points 4 and 6).
@Suite("privacyd's OpenAPI document")
struct OpenAPITests {
    static let documentPath = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/openapi.json")

    static func document() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: documentPath)) as? [String: Any])
    }

    @Test func theServedDocumentIsTheCommittedOne() throws {
        #expect(OpenAPIDocument.json == (try String(contentsOf: Self.documentPath, encoding: .utf8)))
        let h = try Harness()
        try h.start()
        let served = try h.call("/v1/openapi.json", token: nil)
        #expect(served.status == 200 && served.text == OpenAPIDocument.json)
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() throws {
        let h = try Harness()
        let vault = try Vault.open(at: URL(fileURLWithPath: h.vault), rootKey: .keyFile(at: h.keyFile))
        let routes = Set(PrivacyServer.routeList(vault: vault))
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
        #expect(routes == documented, "routes only in the server: \(routes.subtracting(documented).sorted()); only in the document: \(documented.subtracting(routes).sorted())")
    }

    /// The document is valid OpenAPI 3.1, by openapi-spec-validator (the machine's Python has
    /// it, and `.ci/run` installs it where missing; outside CI, a machine without it is told
    /// so and checks nothing).
    @Test func theDocumentIsValidOpenAPI() throws {
        let check = "import json, sys\nfrom openapi_spec_validator import validate\nvalidate(json.load(open(sys.argv[1])))\nprint('valid')"
        let environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"]
        let probe = try Harness.run("/usr/bin/env", ["python3", "-c", "import openapi_spec_validator"], environment: environment)
        guard probe.status == 0 else {
            let missing = "python3 has no openapi_spec_validator (pip install openapi-spec-validator)"
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("\(missing): CI must check the document")
            } else {
                print("theDocumentIsValidOpenAPI: \(missing); not checked")
            }
            return
        }
        let result = try Harness.run("/usr/bin/env", ["python3", "-c", check, Self.documentPath.path], environment: environment)
        #expect(result.status == 0 && result.stdout.contains("valid"), "\(result.stderr)")
    }

    /// The request types and regimes a service may open a request under are the library's.
    @Test func theRequestEnumsAreTheLibrarys() throws {
        let paths = try #require(try Self.document()["paths"] as? [String: [String: Any]])
        let open = try #require(paths["/v1/requests/open"]?["post"] as? [String: Any])
        let body = try #require((((open["requestBody"] as? [String: Any])?["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any])
        let properties = try #require(body["properties"] as? [String: [String: Any]])
        #expect(properties["type"]?["enum"] as? [String] == DataSubjectRequestType.allCases.map(\.rawValue))
        #expect(properties["regime"]?["enum"] as? [String] == PrivacyRegime.allCases.map(\.rawValue))
    }

    @Test func noRouteTakesAnythingInItsPathOrQuery() throws {
        let document = try Self.document()
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        for (path, operations) in paths {
            #expect(!path.contains("{") && !path.contains("?"), "\(path) takes a path parameter")
            for (method, operation) in operations {
                let parameters = ((operation as? [String: Any])?["parameters"] as? [[String: Any]]) ?? []
                for parameter in parameters {
                    if let ref = parameter["$ref"] as? String {
                        let name = String(ref.split(separator: "/").last ?? "")
                        let resolved = ((document["components"] as? [String: Any])?["parameters"] as? [String: Any])?[name] as? [String: Any]
                        #expect(resolved?["in"] as? String == "header", "\(method) \(path): \(name) is not a header")
                    } else {
                        #expect(parameter["in"] as? String == "header", "\(method) \(path): \(parameter["name"] ?? "?") is in the \(parameter["in"] ?? "?")")
                    }
                }
                if method != "get" {
                    #expect((operation as? [String: Any])?["requestBody"] != nil, "\(method) \(path) has no body")
                }
            }
        }
        #expect(document["openapi"] as? String == "3.1.0")
    }
}
