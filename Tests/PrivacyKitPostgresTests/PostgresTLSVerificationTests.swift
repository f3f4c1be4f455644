import Foundation
import PrivacyKit
@testable import PrivacyKitPostgres
import Testing

/// `sslmode=verify-ca` and `verify-full` against a server whose certificate a CA of the
/// test's own signed: `PRIVACYKIT_PG_TLS=1 scripts/postgres start DIR` makes the CA, a
/// certificate for `localhost` only, and a second CA that signed nothing.
@Suite("PostgreSQL TLS certificate verification")
struct PostgresTLSVerificationTests {
    static func variable(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    static let ca = variable("PRIVACYKIT_TEST_POSTGRES_CA")
    static let otherCA = variable("PRIVACYKIT_TEST_POSTGRES_OTHER_CA")
    /// The TLS server: its own variable when the main server has no TLS, else the main one.
    static let url = variable("PRIVACYKIT_TEST_POSTGRES_TLS") ?? variable("PRIVACYKIT_TEST_POSTGRES")
    static let available = ca != nil && otherCA != nil && url != nil
    static let skipReason: Comment = "PRIVACYKIT_TEST_POSTGRES_CA is not set (a server from PRIVACYKIT_PG_TLS=1 scripts/postgres start DIR)"

    static func settings(host: String, _ mode: PostgresSettings.SSLMode, root: String?) throws -> PostgresSettings {
        var settings = try PostgresSettings(url: try #require(url), environment: [:])
        settings.host = host
        settings.sslMode = mode
        settings.sslRootCert = root
        return settings
    }

    /// Connects, and answers whether the session runs over TLS.
    static func connectsWithTLS(_ settings: PostgresSettings) throws -> Bool {
        let c = try PGConnection(settings: settings)
        defer { c.close() }
        let rows = try c.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", [], cached: false)
        return try rows.next()?.values.first == .integer(1)
    }

    @Test(.enabled(if: available, skipReason))
    func verifyFullConnectsWithTheRightCAAndHostName() throws {
        #expect(try Self.connectsWithTLS(Self.settings(host: "localhost", .verifyFull, root: Self.ca)))
        // The same from a URL, as a vault's store.url would give it.
        let base = try Self.settings(host: "localhost", .prefer, root: nil)
        let url = "postgres://\(base.user)@localhost:\(base.port)/\(base.database)?sslmode=verify-full&sslrootcert=\(try #require(Self.ca))"
        var parsed = try PostgresSettings(url: url, environment: [:])
        parsed.password = base.password
        #expect(parsed.sslMode == .verifyFull && parsed.sslRootCert == Self.ca)
        #expect(try Self.connectsWithTLS(parsed))
    }

    @Test(.enabled(if: available, skipReason))
    func verifyFullRefusesACertificateForAnotherHost() throws {
        // The certificate names localhost; 127.0.0.1 is the same server under a name the
        // certificate does not carry.
        let settings = try Self.settings(host: "127.0.0.1", .verifyFull, root: Self.ca)
        let error = try #require(storeError { _ = try Self.connectsWithTLS(settings) })
        #expect(error.kind == .connection)
        #expect(error.message.hasPrefix("cannot connect to \(settings.redacted): "), "\(error.message)")
        #expect(error.message.contains("does not name the host 127.0.0.1"), "\(error.message)")
        expectNoLeak(String(reflecting: error), settings.password ?? "", "the error")
    }

    @Test(.enabled(if: available, skipReason))
    func verifyCAChecksTheCAButNotTheHostName() throws {
        #expect(try Self.connectsWithTLS(Self.settings(host: "127.0.0.1", .verifyCA, root: Self.ca)))
        #expect(try Self.connectsWithTLS(Self.settings(host: "localhost", .verifyCA, root: Self.ca)))
    }

    @Test(.enabled(if: available, skipReason), arguments: [PostgresSettings.SSLMode.verifyFull, .verifyCA, .require])
    func aCertificateFromAnotherCAIsRefused(_ mode: PostgresSettings.SSLMode) throws {
        // `require` with a CA file named checks the chain too (libpq's rule).
        let settings = try Self.settings(host: "localhost", mode, root: Self.otherCA)
        let error = try #require(storeError { _ = try Self.connectsWithTLS(settings) })
        #expect(error.kind == .connection)
        #expect(error.message.contains("not signed by a CA in \(try #require(Self.otherCA))"), "\(error.message)")
    }

    @Test(.enabled(if: available, skipReason))
    func requirePreferAndDisableKeepWorking() throws {
        for host in ["localhost", "127.0.0.1"] {
            #expect(try Self.connectsWithTLS(Self.settings(host: host, .require, root: nil)))
            #expect(try Self.connectsWithTLS(Self.settings(host: host, .prefer, root: nil)))
            #expect(try !Self.connectsWithTLS(Self.settings(host: host, .disable, root: nil)))
        }
    }

    @Test func aMissingCAFileIsNamedBeforeAnythingIsSent() throws {
        // No server needed: the CA file is read before connecting.
        let missing = "/nonexistent/privacykit-test-ca.pem"
        let settings = try PostgresSettings(host: "localhost", port: 1, user: "u", database: "d", sslMode: .verifyFull, sslRootCert: missing)
        let error = try #require(storeError { _ = try PGConnection(settings: settings) })
        #expect(error.kind == .connection)
        #expect(error.message.contains(missing) && error.message.contains("does not exist"), "\(error.message)")
        let notPEM = FileManager.default.temporaryDirectory.appendingPathComponent("privacykit-not-a-ca-\(UUID().uuidString).pem")
        try Data("not a certificate\n".utf8).write(to: notPEM)
        defer { try? FileManager.default.removeItem(at: notPEM) }
        var garbled = settings
        garbled.sslRootCert = notPEM.path
        let unreadable = try #require(storeError { _ = try PGConnection(settings: garbled) })
        #expect(unreadable.message.contains(notPEM.path) && unreadable.message.contains("PEM"), "\(unreadable.message)")
    }
}
