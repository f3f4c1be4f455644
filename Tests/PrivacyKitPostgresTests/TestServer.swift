import Foundation
import PrivacyKit
@testable import PrivacyKitPostgres
import Testing

/// The server the integration suites run against: PRIVACYKIT_TEST_POSTGRES, as printed by
/// `scripts/postgres start`. Without it those suites are skipped, saying so.
enum TestServer {
    static let url: String? = {
        let value = ProcessInfo.processInfo.environment["PRIVACYKIT_TEST_POSTGRES"] ?? ""
        return value.isEmpty ? nil : value
    }()

    static let isAvailable = url != nil
    static let skipReason: Comment = "PRIVACYKIT_TEST_POSTGRES is not set: run eval \"$(scripts/postgres start)\" first"

    /// The server's settings with `schema` (and anything else) changed.
    static func settings(schema: String = "public", _ change: (inout PostgresSettings) -> Void = { _ in }) throws -> PostgresSettings {
        var settings = try PostgresSettings(url: try #require(url), environment: [:])
        settings.schema = schema
        change(&settings)
        return settings
    }

    /// The password the tests connect with, to check that no message repeats it.
    static var password: String { (try? settings().password) ?? "" }

    /// Runs `body` with a connection to a schema of its own (dropped afterwards), so suites
    /// running in parallel never see each other's tables.
    static func withSchema<T>(_ body: (PGConnection) throws -> T) throws -> T {
        let schema = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        let admin = try PGConnection(settings: settings())
        defer { admin.close() }
        _ = try admin.execute("CREATE SCHEMA \(schema)", [], cached: false)
        defer { _ = try? admin.execute("DROP SCHEMA \(schema) CASCADE", [], cached: false) }
        let connection = try PGConnection(settings: settings(schema: String(schema)))
        defer { connection.close() }
        return try body(connection)
    }

    /// A fresh schema name that does not exist yet (for migration tests), dropped afterwards.
    static func withFreshSchemaName<T>(_ body: (String) throws -> T) throws -> T {
        let schema = "m_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        defer {
            if let admin = try? PGConnection(settings: settings()) {
                _ = try? admin.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE", [], cached: false)
                admin.close()
            }
        }
        return try body(String(schema))
    }
}

/// Records an issue when `text` holds `secret`, without printing either (an `#expect` on
/// `text.contains(secret)` would show both when it fails).
func expectNoLeak(_ text: String, _ secret: String, _ what: String = "the text", sourceLocation: SourceLocation = #_sourceLocation) {
    if !secret.isEmpty && text.contains(secret) {
        Issue.record("a secret appeared in \(what)", sourceLocation: sourceLocation)
    }
}

/// The error `body` throws, as a PostgresStoreError (recording an issue when it throws none
/// or another kind of error).
func storeError(_ body: () throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) -> PostgresStoreError? {
    do {
        try body()
        Issue.record("no error was thrown", sourceLocation: sourceLocation)
    } catch let error as PostgresStoreError {
        return error
    } catch {
        Issue.record("not a PostgresStoreError: \(type(of: error))", sourceLocation: sourceLocation)
    }
    return nil
}
