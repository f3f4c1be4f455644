import Foundation
import Logging
import PrivacyKit
@testable import PrivacyKitPostgres
import Testing

@Suite struct PostgresSettingsTests {
    let secret = "s3cr3t-Pa55"

    @Test func parsesEveryPart() throws {
        let s = try PostgresSettings(
            url: "postgres://alice:\(secret)@db.example.com:6543/vaults?sslmode=require&schema=vault_1&application_name=batch%20job",
            environment: [:])
        #expect(s.user == "alice")
        #expect(s.password == secret)
        #expect(s.host == "db.example.com")
        #expect(s.port == 6543)
        #expect(s.database == "vaults")
        #expect(s.sslMode == .require)
        #expect(s.schema == "vault_1")
        #expect(s.applicationName == "batch job")
        #expect(s.redacted == "postgres://alice@db.example.com:6543/vaults?sslmode=require&schema=vault_1&application_name=batch%20job")
    }

    @Test func defaults() throws {
        let s = try PostgresSettings(url: "postgresql://bob@localhost/db", environment: [:])
        #expect(s.port == 5432)
        #expect(s.password == nil)
        #expect(s.sslMode == .prefer)
        #expect(s.schema == "public")
        #expect(s.applicationName == "privacyctl")
        #expect(s.connectTimeout == 10)
        #expect(s.redacted == "postgres://bob@localhost:5432/db")
    }

    @Test func schemeIsCaseInsensitive() throws {
        #expect(try PostgresSettings(url: "PostgreSQL://u@h/d", environment: [:]).host == "h")
    }

    @Test func percentDecodesUserPasswordAndDatabase() throws {
        let s = try PostgresSettings(url: "postgres://us%40er:p%40ss%2Fw%3Ard%25@h:1/my%20db", environment: [:])
        #expect(s.user == "us@er")
        #expect(s.password == "p@ss/w:rd%")
        #expect(s.database == "my db")
        #expect(s.redacted == "postgres://us%40er@h:1/my%20db")
    }

    @Test func rawSpecialCharactersInThePasswordStayInThePassword() throws {
        // Not valid URL syntax, but people paste such URLs: the last @ ends the user part.
        let s = try PostgresSettings(url: "postgres://u:a@b/c?d@host:5433/db", environment: [:])
        #expect(s.password == "a@b/c?d")
        #expect(s.host == "host")
        #expect(s.port == 5433)
        #expect(s.database == "db")
        expectNoLeak(s.redacted, "a@b/c?d")
    }

    @Test func ipv6AndUnixSocketHosts() throws {
        let v6 = try PostgresSettings(url: "postgres://u@[::1]:5433/d", environment: [:])
        #expect(v6.host == "::1")
        #expect(v6.port == 5433)
        #expect(v6.redacted == "postgres://u@[::1]:5433/d")
        let socket = try PostgresSettings(url: "postgres://u@%2Ftmp%2Fpg:5433/d", environment: [:])
        #expect(socket.usesUnixSocket)
        #expect(socket.unixSocketPath == "/tmp/pg/.s.PGSQL.5433")
        #expect(socket.redacted == "postgres://u@%2Ftmp%2Fpg:5433/d")
    }

    @Test func environmentFillsWhatTheURLLacks() throws {
        let env = [
            "PGHOST": "envhost", "PGPORT": "7000", "PGUSER": "envuser", "PGPASSWORD": secret,
            "PGDATABASE": "envdb", "PGSSLMODE": "disable", "PGAPPNAME": "envapp", "PGCONNECT_TIMEOUT": "3",
        ]
        let fromEnv = try PostgresSettings(url: "postgres://", environment: env)
        #expect(fromEnv.host == "envhost")
        #expect(fromEnv.port == 7000)
        #expect(fromEnv.user == "envuser")
        #expect(fromEnv.password == secret)
        #expect(fromEnv.database == "envdb")
        #expect(fromEnv.sslMode == .disable)
        #expect(fromEnv.applicationName == "envapp")
        #expect(fromEnv.connectTimeout == 3)
        expectNoLeak(fromEnv.redacted, secret)

        let mixed = try PostgresSettings(url: "postgres://urluser:urlpass@urlhost/urldb?sslmode=require", environment: env)
        #expect(mixed.host == "urlhost")
        #expect(mixed.port == 7000)
        #expect(mixed.user == "urluser")
        #expect(mixed.password == "urlpass")
        #expect(mixed.database == "urldb")
        #expect(mixed.sslMode == .require)

        let none = try PostgresSettings(urlOrEnvironment: nil, environment: env)
        #expect(none == fromEnv)
    }

    @Test func databaseDefaultsToTheUser() throws {
        #expect(try PostgresSettings(url: "postgres://carol@h", environment: [:]).database == "carol")
    }

    @Test func queryParametersOfLibpq() throws {
        let s = try PostgresSettings(url: "postgres://h/x?user=u&password=\(secret)&dbname=d&port=7&host=other&connect_timeout=4", environment: [:])
        #expect(s.user == "u")
        #expect(s.password == secret)
        #expect(s.database == "d")
        #expect(s.port == 7)
        #expect(s.host == "other")
        #expect(s.connectTimeout == 4)
        expectNoLeak(s.description, secret)
        #expect(try PostgresSettings(url: "postgres://u@h/d?sslmode=allow", environment: [:]).sslMode == .prefer)
    }

    @Test func verifyModesAndTheirCAFile() throws {
        let full = try PostgresSettings(url: "postgres://u:\(secret)@db.internal/d?sslmode=verify-full&sslrootcert=/etc/pk/db%20ca.pem", environment: [:])
        #expect(full.sslMode == .verifyFull && full.sslMode.verifiesCertificate)
        #expect(full.sslRootCert == "/etc/pk/db ca.pem")
        #expect(full.redacted == "postgres://u@db.internal:5432/d?sslmode=verify-full&sslrootcert=/etc/pk/db%20ca.pem")
        expectNoLeak(full.description, secret)
        // libpq's variables, when the URL says nothing.
        let env = try PostgresSettings(url: "postgres://u@h/d", environment: ["PGSSLMODE": "verify-ca", "PGSSLROOTCERT": "system"])
        #expect(env.sslMode == .verifyCA && env.sslRootCert == "system")
        // No CA file named: libpq's default (~/.postgresql/root.crt) is used at connect time.
        let bare = try PostgresSettings(url: "postgres://u@h/d?sslmode=verify-full", environment: [:])
        #expect(bare.sslRootCert == nil)
        #expect(!PostgresSettings.SSLMode.require.verifiesCertificate && !PostgresSettings.SSLMode.prefer.verifiesCertificate)
    }

    @Test func schemaNames() {
        for good in ["public", "vault_1", "_x", "a", String(repeating: "a", count: 63)] {
            #expect(PostgresSettings.isValidSchemaName(good), "\(good)")
        }
        for bad in ["", "1abc", "Vault", "a-b", "a b", "é", "a\"b", String(repeating: "a", count: 64), "x;drop"] {
            #expect(!PostgresSettings.isValidSchemaName(bad), "\(bad)")
        }
    }

    @Test(arguments: [
        ("mysql://u:PW@h/d", "postgres://"),
        ("postgres://u:PW@h:notaport/d", "port"),
        ("postgres://u:PW@h:70000/d", "port"),
        ("postgres://u:PW@h/d?sslmode=verify-everything", "sslmode 'verify-everything'"),
        ("postgres://u:PW@h/d?schema=Bad-Name", "schema"),
        ("postgres://u:PW@h/d?color=blue", "unknown parameter 'color'"),
        ("postgres://u:PW@h/d?connect_timeout=0", "connect_timeout"),
        ("postgres://u:PW%zz@h/d", "password is not valid percent-encoding"),
        ("postgres://u:PW@h/d?password=%zz", "password is not valid percent-encoding"),
        ("postgres://u:PW@[::1/d", "unclosed"),
        // No @: the password would be read as the port.
        ("postgres://u:PW/d", "port"),
        ("postgres://u:PW/d?sslmode=verify-full", "sslmode"),
    ])
    func errorsNameTheProblemAndTheURLButNeverThePassword(url: String, problem: String) throws {
        let password = "Hunter2-\(secret)"
        let text = url.replacingOccurrences(of: "PW", with: password)
        let error = storeError { _ = try PostgresSettings(url: text, environment: [:]) }
        #expect(error?.kind == .invalidSettings)
        let message = error?.message ?? ""
        #expect(message.contains(problem), "\(message)")
        #expect(message.hasPrefix("invalid PostgreSQL"), "\(message)")
        expectNoLeak(message, password, "the password appeared in the message")
        expectNoLeak(message, "Hunter2", "part of the password appeared in the message")
        expectNoLeak(String(describing: error), "Hunter2", "the password appeared in the description")
    }

    @Test func errorsNameTheRedactedURL() {
        let error = storeError { _ = try PostgresSettings(url: "postgres://u:\(secret)@h:5/d?schema=Nope&password=\(secret)", environment: [:]) }
        #expect(error?.message == "invalid PostgreSQL settings postgres://u@h:5/d?schema=Nope&password=(hidden): schema 'Nope' must be a lower-case name: a letter or _, then letters, digits or _, at most 63 in all")
    }

    @Test func redactWorksOnAnyText() {
        #expect(PostgresSettings.redact("postgres://u:\(secret)@h/d") == "postgres://u@h/d")
        #expect(PostgresSettings.redact("postgres://u@h/d?password=\(secret)&schema=x") == "postgres://u@h/d?password=(hidden)&schema=x")
        #expect(PostgresSettings.redact("postgres://u:\(secret)/d") == "postgres://u:(hidden)/d")
        #expect(PostgresSettings.redact(secret) == "(not a postgres:// URL)")
        #expect(PostgresSettings.redact("postgres://h:5432/d") == "postgres://h:5432/d")
    }

    @Test func descriptionIsRedacted() throws {
        let s = try PostgresSettings(url: "postgres://u:\(secret)@h/d", environment: [:])
        #expect(s.description == s.redacted)
        expectNoLeak("\(s)", secret)
        expectNoLeak(String(describing: s), secret)
        expectNoLeak(String(describing: [s]), secret)
        expectNoLeak(s.redacted, secret)
        expectNoLeak(String(reflecting: s), secret)
        var dumped = ""
        dump(s, to: &dumped)
        expectNoLeak(dumped, secret, "dump")
        expectNoLeak("\(Mirror(reflecting: s).children.map { "\($0.value)" })", secret, "the mirror")
    }

    @Test func memberwiseInitValidates() throws {
        let s = try PostgresSettings(host: "h", user: "u", password: secret, database: "d")
        #expect(s.redacted == "postgres://u@h:5432/d")
        let error = storeError { _ = try PostgresSettings(host: "h", user: "u", password: secret, database: "d", schema: "No") }
        #expect(error?.kind == .invalidSettings)
        expectNoLeak(error?.message ?? "", secret)
    }

    /// A vault opened from its `store.url` gets its backend from the registry: that backend
    /// must carry the logger the program registered, not a silent one of the library's.
    @Test func registeredLoggerReachesBackendsMadeFromStoreURLs() throws {
        PostgresBackend.register(logger: Logger(label: "privacykit.test.registered", factory: { _ in SwiftLogNoOpLogHandler() }))
        defer { PostgresBackend.register() }
        let backend = try StoreBackends.backend(url: "postgres://alice@db.example.com/vaults", environment: [:])
        #expect((backend as? PostgresBackend)?.logger.label == "privacykit.test.registered")
    }
}
