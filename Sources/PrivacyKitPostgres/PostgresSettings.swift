public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a PostgreSQL store is and how to reach it, read from a libpq-style URL:
///
///     postgres://user:password@host:port/database?sslmode=prefer&schema=vault1&application_name=app
///     postgres://user@db.internal/crm?sslmode=verify-full&sslrootcert=/etc/privacykit/db-ca.pem
///
/// Anything the URL leaves out comes from libpq's environment variables (PGHOST, PGPORT,
/// PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGAPPNAME, PGCONNECT_TIMEOUT),
/// then libpq's defaults. A host starting with `/` (percent-encoded in the URL: `%2Ftmp`) is the
/// directory of the server's Unix socket.
///
/// The password never leaves this value except to authenticate: ``redacted`` (which is also
/// ``description``) names everything else, and every message about the store uses it.
public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// How the connection is encrypted. The names and meanings are libpq's.
    public enum SSLMode: String, Sendable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, plain otherwise. Like libpq's `prefer`, the
        /// certificate is not verified: this guards against eavesdropping, not impersonation.
        case prefer
        /// TLS or no connection. Like libpq's `require`, the certificate is not verified.
        case require
        /// TLS with a certificate signed by a CA in ``PostgresSettings/sslRootCert``; the
        /// host name is not checked.
        case verifyCA = "verify-ca"
        /// TLS with a certificate signed by a CA in ``PostgresSettings/sslRootCert`` that
        /// names the host connected to: the only mode that stops an impostor on the network.
        case verifyFull = "verify-full"

        /// Whether the server's certificate is checked against a CA.
        public var verifiesCertificate: Bool { self == .verifyCA || self == .verifyFull }
    }

    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    public var sslMode: SSLMode
    /// The PEM file of the CA certificates a server's certificate must chain to under
    /// `verify-ca` and `verify-full` (libpq's `sslrootcert`), or `system` for the operating
    /// system's trust store. Nil: libpq's default, `~/.postgresql/root.crt`.
    public var sslRootCert: String?
    /// The schema holding the store's tables, so several vaults can share one database.
    public var schema: String
    public var applicationName: String
    /// Seconds to wait for the server to accept the connection and authenticate.
    public var connectTimeout: Int

    public static let defaultApplicationName = "privacyctl"
    public static let defaultSchema = "public"

    /// Whether ``host`` names a Unix socket directory rather than a TCP host.
    public var usesUnixSocket: Bool { host.hasPrefix("/") }

    /// The socket file libpq would use for ``host`` and ``port``.
    public var unixSocketPath: String { "\(host)/.s.PGSQL.\(port)" }

    public init(
        host: String = "localhost", port: Int = 5432, user: String, password: String? = nil, database: String,
        sslMode: SSLMode = .prefer, sslRootCert: String? = nil, schema: String = PostgresSettings.defaultSchema,
        applicationName: String = PostgresSettings.defaultApplicationName, connectTimeout: Int = 10
    ) throws {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.sslMode = sslMode
        self.sslRootCert = sslRootCert
        self.schema = schema
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        try validate { self.redacted }
    }

    /// Parses `url` (`postgres://` or `postgresql://`), taking what it lacks from
    /// `environment` (libpq's variables).
    ///
    /// - Throws: ``PostgresStoreError`` of kind `.invalidSettings`, naming the problem and the
    ///   URL without its password.
    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func fail(_ problem: String) -> PostgresStoreError {
            PostgresStoreError(.invalidSettings, "invalid PostgreSQL URL \(Self.redact(url)): \(problem)")
        }
        var rest: Substring
        if let range = url.range(of: "://"), ["postgres", "postgresql"].contains(url[..<range.lowerBound].lowercased()) {
            rest = url[range.upperBound...]
        } else {
            throw fail("it must start with postgres:// or postgresql://")
        }
        if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }

        var urlUser: String?
        var urlPassword: String?
        // The last @ ends the user information: a password may hold a raw @ (or / or ?),
        // and splitting there can only hide too much, never show part of the password.
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let colon = userInfo.firstIndex(of: ":")
            let userPart = colon.map { userInfo[..<$0] } ?? userInfo
            guard let user = userPart.removingPercentEncoding else { throw fail("the user name is not valid percent-encoding") }
            urlUser = user.isEmpty ? nil : user
            if let colon {
                // Not echoed: even a bad encoding of the password must not appear in a message.
                guard let password = userInfo[userInfo.index(after: colon)...].removingPercentEncoding else {
                    throw fail("the password is not valid percent-encoding")
                }
                urlPassword = password.isEmpty ? nil : password
            }
        }

        var queryText: Substring = ""
        if let question = rest.firstIndex(of: "?") {
            queryText = rest[rest.index(after: question)...]
            rest = rest[..<question]
        }
        var pathText: Substring?
        if let slash = rest.firstIndex(of: "/") {
            pathText = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }

        var urlHost: String?
        var urlPort: String?
        let hostPort = rest
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("unclosed [ in the host") }
            urlHost = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") {
                urlPort = String(after.dropFirst())
            } else if !after.isEmpty {
                throw fail("unexpected text after the IPv6 address")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            urlHost = String(hostPort[..<colon])
            urlPort = String(hostPort[hostPort.index(after: colon)...])
        } else if !hostPort.isEmpty {
            urlHost = String(hostPort)
        }
        if let host = urlHost {
            guard let decoded = host.removingPercentEncoding else { throw fail("the host is not valid percent-encoding") }
            urlHost = decoded.isEmpty ? nil : decoded
        }
        if urlPort?.isEmpty == true { urlPort = nil }

        var urlDatabase: String?
        if let pathText, !pathText.isEmpty {
            guard let decoded = pathText.removingPercentEncoding else { throw fail("the database name is not valid percent-encoding") }
            urlDatabase = decoded
        }

        var parameters: [String: String] = [:]
        for pair in queryText.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0])
            guard Self.queryParameters.contains(name) else {
                throw fail("unknown parameter '\(name)' (known: \(Self.queryParameters.sorted().joined(separator: ", ")))")
            }
            let raw = parts.count > 1 ? parts[1] : ""
            guard let value = raw.removingPercentEncoding else {
                throw fail(name == "password" ? "the password is not valid percent-encoding" : "the value of \(name) is not valid percent-encoding")
            }
            parameters[name] = value
        }

        func pick(_ parameter: String, _ fromURL: String?, _ variable: String) -> String? {
            for candidate in [parameters[parameter], fromURL, environment[variable]] {
                if let candidate, !candidate.isEmpty { return candidate }
            }
            return nil
        }

        let user = pick("user", urlUser, "PGUSER") ?? Self.systemUserName()
        let portText = pick("port", urlPort, "PGPORT") ?? "5432"
        let sslText = pick("sslmode", nil, "PGSSLMODE") ?? SSLMode.prefer.rawValue
        let timeoutText = pick("connect_timeout", nil, "PGCONNECT_TIMEOUT") ?? "10"

        self.user = user
        self.host = pick("host", urlHost, "PGHOST") ?? "localhost"
        self.password = pick("password", urlPassword, "PGPASSWORD")
        self.database = pick("dbname", urlDatabase, "PGDATABASE") ?? user
        self.schema = parameters["schema"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultSchema
        self.applicationName = pick("application_name", nil, "PGAPPNAME") ?? Self.defaultApplicationName
        self.sslRootCert = pick("sslrootcert", nil, "PGSSLROOTCERT")
        // Placeholders until checked below: `validate` reports them with the redacted URL.
        self.port = 0
        self.sslMode = .prefer
        self.connectTimeout = 10

        guard let port = Int(portText), (1...65535).contains(port) else {
            // Echoed only when it is digits: `user:password/db` (no host) puts the password here.
            let shown = portText.allSatisfy(\.isASCII) && portText.allSatisfy(\.isNumber) ? " \(portText)" : ""
            throw fail("the port\(shown) is not a number from 1 to 65535")
        }
        self.port = port
        // libpq's `allow` (plain first, TLS if refused) ends up where `prefer` does.
        switch sslText {
        case "allow": self.sslMode = .prefer
        case let text:
            guard let mode = SSLMode(rawValue: text) else {
                throw fail("sslmode '\(sslText)' is not supported (disable, allow, prefer, require, verify-ca or verify-full)")
            }
            self.sslMode = mode
        }
        guard let timeout = Int(timeoutText), timeout > 0 else {
            throw fail("connect_timeout '\(timeoutText)' is not a positive number of seconds")
        }
        self.connectTimeout = timeout
        try validate { Self.redact(url) }
    }

    /// Parses `url` when given, else builds the settings from the environment alone.
    public init(urlOrEnvironment url: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        try self.init(url: url ?? "postgres://", environment: environment)
    }

    private func validate(_ location: () -> String) throws {
        func fail(_ problem: String) -> PostgresStoreError {
            PostgresStoreError(.invalidSettings, "invalid PostgreSQL settings \(location()): \(problem)")
        }
        guard Self.isValidSchemaName(schema) else {
            throw fail("schema '\(schema)' must be a lower-case name: a letter or _, then letters, digits or _, at most 63 in all")
        }
        guard !host.isEmpty else { throw fail("no host") }
        guard !user.isEmpty else { throw fail("no user") }
        guard !database.isEmpty else { throw fail("no database") }
        guard (1...65535).contains(port) else { throw fail("the port \(port) is not from 1 to 65535") }
        guard connectTimeout > 0 else { throw fail("connect_timeout must be positive") }
        // A NUL would cut the startup message short; PostgreSQL itself rejects it in names.
        for (name, value) in [("user", user), ("database", database), ("application_name", applicationName)] where value.contains("\0") {
            throw fail("\(name) contains a NUL character")
        }
    }

    /// `[a-z_][a-z0-9_]{0,62}`: a name PostgreSQL keeps as written, with no quoting rules to
    /// get wrong, within its 63-byte limit.
    public static func isValidSchemaName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 63 else { return false }
        func lowerOrUnderscore(_ b: UInt8) -> Bool { (b >= 0x61 && b <= 0x7A) || b == 0x5F }
        return lowerOrUnderscore(first) && bytes.dropFirst().allSatisfy { lowerOrUnderscore($0) || ($0 >= 0x30 && $0 <= 0x39) }
    }

    static let queryParameters: Set<String> = [
        "host", "port", "user", "password", "dbname", "sslmode", "sslrootcert", "schema", "application_name", "connect_timeout",
    ]

    private static func systemUserName() -> String {
        // libpq's default user: whoever runs the process.
        if let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { return String(cString: name) }
        return "postgres"
    }

    // MARK: - Redaction

    /// The URL of these settings without the password: what every message names.
    public var redacted: String {
        var text = "postgres://" + Self.encode(user, Self.userInfoAllowed) + "@"
        if usesUnixSocket {
            text += Self.encode(host, Self.userInfoAllowed) + ":\(port)"
        } else if host.contains(":") {
            text += "[\(host)]:\(port)"
        } else {
            text += "\(host):\(port)"
        }
        text += "/" + Self.encode(database, Self.userInfoAllowed)
        var query: [String] = []
        if sslMode != .prefer { query.append("sslmode=\(sslMode.rawValue)") }
        if let sslRootCert { query.append("sslrootcert=" + Self.encode(sslRootCert, Self.pathAllowed)) }
        if schema != Self.defaultSchema { query.append("schema=\(schema)") }
        if applicationName != Self.defaultApplicationName {
            query.append("application_name=" + Self.encode(applicationName, Self.userInfoAllowed))
        }
        if connectTimeout != 10 { query.append("connect_timeout=\(connectTimeout)") }
        return query.isEmpty ? text : text + "?" + query.joined(separator: "&")
    }

    public var description: String { redacted }
    public var debugDescription: String { "PostgresSettings(\(redacted))" }
    // `dump` and debuggers walk the stored properties through a mirror: give them one
    // without the password.
    public var customMirror: Mirror { Mirror(self, children: ["redacted": redacted]) }

    /// `url` with its password (after the user's `:`, and any `password=` parameter) cut
    /// out, for messages about a URL that could not be parsed. Works on any text: it does
    /// not need `url` to be valid.
    public static func redact(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else {
            // Not a URL at all: it may be a bare password pasted in the wrong place.
            return "(not a postgres:// URL)"
        }
        let scheme = url[..<schemeEnd.upperBound]
        var rest = url[schemeEnd.upperBound...]
        var userPart = ""
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            userPart = String(userInfo.prefix { $0 != ":" }) + "@"
            rest = rest[rest.index(after: at)...]
        } else if let colon = rest.firstIndex(of: ":"), !rest.hasPrefix("[") {
            // No @: `user:password/db` mistyped without a host reads as host:port; anything
            // after the colon that is not a port is hidden.
            let end = rest[colon...].firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            let port = rest[rest.index(after: colon)..<end]
            if !port.allSatisfy({ $0.isASCII && $0.isNumber }) {
                return String(scheme) + rest[..<colon] + ":(hidden)" + redactQuery(rest[end...])
            }
        }
        let result = String(scheme) + userPart
        return result + redactQuery(rest)
    }

    private static func redactQuery(_ text: Substring) -> String {
        guard let question = text.firstIndex(of: "?") else { return String(text) }
        let pairs = text[text.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            pair.prefix { $0 != "=" } == "password" ? "password=(hidden)" : String(pair)
        }
        return text[..<question] + "?" + pairs.joined(separator: "&")
    }

    private static let pathAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/")
    private static let userInfoAllowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")

    private static func encode(_ text: String, _ allowed: CharacterSet) -> String {
        text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}
