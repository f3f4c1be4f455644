import ArgumentParser
import Foundation
import Logging
import PrivacyKit
import PrivacyKitPostgres
import PrivacyServer

/// `privacyd`: serves one vault to authenticated clients over HTTPS (`docs/server.md`).
@main
struct Privacyd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacyd",
        abstract: "Serve a PrivacyKit vault to authenticated clients over HTTPS.",
        discussion: """
            Opens the vault, holds its keys and serves the JSON API of docs/server.md (/v1, \
            described at /v1/openapi.json) to the clients registered with `privacyctl clients add`. \
            The vault and root secret come from the options, else PRIVACYKIT_VAULT, \
            PRIVACYKIT_KEY_FILE or PRIVACYKIT_PASSPHRASE, as for privacyctl. SIGTERM lets requests \
            in flight finish, signs a checkpoint and exits.

            Example:
              privacyd --vault /srv/crm-vault --key-file /etc/privacykit/root.key \\
                  --listen 127.0.0.1:8443 --tls-cert /etc/privacykit/tls/server.pem \\
                  --tls-key /etc/privacykit/tls/server.key [--client-ca /etc/privacykit/tls/clients-ca.pem]
            """,
        version: "0.1.0")

    @Option(name: .long, help: ArgumentHelp("The vault directory (default: $PRIVACYKIT_VAULT).", valueName: "dir"))
    var vault: String?
    @Option(name: .customLong("key-file"), help: ArgumentHelp("A file holding the 32-byte root key (mode 0600; default: $PRIVACYKIT_KEY_FILE).", valueName: "file"))
    var keyFile: String?
    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("A file holding the passphrase (mode 0600; default: $PRIVACYKIT_PASSPHRASE).", valueName: "file"))
    var passphraseFile: String?
    @Option(name: .long, help: ArgumentHelp("Where to listen: HOST:PORT ([::1]:PORT for IPv6; port 0 picks one).", valueName: "host:port"))
    var listen: String = "127.0.0.1:8443"
    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("The server's certificate chain (PEM).", valueName: "file"))
    var tlsCert: String?
    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The server's private key (PEM).", valueName: "file"))
    var tlsKey: String?
    @Option(name: .customLong("client-ca"), help: ArgumentHelp("Accept client certificates issued by this CA (PEM): mutual TLS, for clients registered with --certificate-subject.", valueName: "file"))
    var clientCA: String?
    @Option(name: .customLong("idle-timeout"), help: ArgumentHelp("Close a connection idle for this many seconds.", valueName: "seconds"))
    var idleTimeout: Double = 30
    @Option(name: .customLong("request-timeout"), help: ArgumentHelp("Answer 408 to a request whose body has not arrived this many seconds after its headers.", valueName: "seconds"))
    var requestTimeout: Double = 10
    @Flag(name: .customLong("insecure-http"), help: "Serve plain HTTP, on a loopback address only (tests and local development).")
    var insecureHTTP = false

    func validate() throws {
        if keyFile != nil && passphraseFile != nil { throw ValidationError("--key-file and --passphrase-file cannot be used together") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if clientCA != nil && tlsCert == nil { throw ValidationError("--client-ca needs --tls-cert and --tls-key") }
        _ = try address()
    }

    func address() throws -> (host: String, port: Int) {
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen: '\(listen)' is not HOST:PORT")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ValidationError("--listen: '\(listen)' has no host") }
        return (host, port)
    }

    func run() async throws {
        PostgresBackend.register()
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var logger = Logger(label: "privacyd")
        logger.logLevel = .info
        do {
            let (host, port) = try address()
            var configuration = ServerConfiguration(
                host: host, port: port, tls: tlsCert.map { ServerConfiguration.TLSFiles(certificateChain: $0, privateKey: tlsKey ?? "", clientCA: clientCA) },
                insecureHTTP: insecureHTTP)
            configuration.idleTimeout = .milliseconds(Int64(idleTimeout * 1000))
            configuration.requestTimeout = .milliseconds(Int64(requestTimeout * 1000))
            let vault = try Vault.open(at: try directory(), rootKey: try rootKey(), context: AccessContext(actor: "privacyd", role: "admin"))
            let scheme = configuration.tls == nil ? "http" : "https"
            try await PrivacyServer.run(vault: vault, configuration: configuration, logger: logger) { bound in
                // One line on standard output, for scripts and tests that started it on port 0.
                let line = "privacyd: listening on \(scheme)://\(host.contains(":") ? "[\(host)]" : host):\(bound)\n"
                FileHandle.standardOutput.write(Data(line.utf8))
            }
        } catch let error as PrivacyKitError {
            FileHandle.standardError.write(Data("privacyd: error: \(error.message)\n".utf8))
            throw ExitCode(error.code.exitCode)
        }
    }

    func directory() throws -> URL {
        guard let path = vault ?? Self.environment("PRIVACYKIT_VAULT") else {
            throw ValidationError("no vault given: pass --vault DIR or set PRIVACYKIT_VAULT")
        }
        return URL(fileURLWithPath: path)
    }

    func rootKey() throws -> RootKey {
        guard let key = try RootKey.given(keyFile: keyFile, passphraseFile: passphraseFile) else {
            throw ValidationError("no root secret given: pass --key-file or --passphrase-file, or set PRIVACYKIT_KEY_FILE or PRIVACYKIT_PASSPHRASE")
        }
        return key
    }

    /// A non-empty environment variable, read by name (not through ProcessInfo's copy of them all).
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }
}
