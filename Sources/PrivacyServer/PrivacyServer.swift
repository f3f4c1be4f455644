public import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
public import Logging
import NIOCore
public import NIOSSL
public import PrivacyKit

/// Where and how privacyd listens.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// The certificate chain and key (PEM) to serve HTTPS with; nil only with
    /// `insecureHTTP` on a loopback host.
    public var tls: TLSFiles?
    public var insecureHTTP: Bool
    /// A connection that sends nothing for this long is closed (slow or abandoned clients
    /// do not hold connections open).
    public var idleTimeout: Duration = .seconds(30)
    /// A request whose body has not all arrived this long after its headers is answered 408
    /// (the idle timeout alone lets a client drip one byte at a time).
    public var requestTimeout: Duration = .seconds(10)

    public struct TLSFiles: Sendable {
        public var certificateChain: String
        public var privateKey: String
        /// The CA (PEM) that client certificates must chain to (mutual TLS). A client that
        /// presents none still authenticates with its token; one from another CA fails the
        /// handshake.
        public var clientCA: String?

        public init(certificateChain: String, privateKey: String, clientCA: String? = nil) {
            self.certificateChain = certificateChain
            self.privateKey = privateKey
            self.clientCA = clientCA
        }
    }

    public init(host: String, port: Int, tls: TLSFiles?, insecureHTTP: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
        self.insecureHTTP = insecureHTTP
    }

    /// Refuses plain HTTP except on loopback and when asked for by name: encryption in
    /// transit is the default, not an option to remember.
    func checked() throws -> ServerConfiguration {
        if tls == nil {
            guard insecureHTTP else {
                throw PrivacyKitError(.invalidInput, "privacyd serves HTTPS: give --tls-cert and --tls-key (or --insecure-http, on loopback only)")
            }
            guard Self.isLoopback(host) else {
                throw PrivacyKitError(.invalidInput, "--insecure-http listens on loopback only (127.0.0.1, ::1, localhost), not \(host)")
            }
        } else if insecureHTTP {
            throw PrivacyKitError(.invalidInput, "--insecure-http and --tls-cert exclude each other")
        }
        guard (0...65535).contains(port) else { throw PrivacyKitError(.invalidInput, "--listen: port \(port) is not 0–65535") }
        guard idleTimeout > .zero else { throw PrivacyKitError(.invalidInput, "--idle-timeout must be longer than zero") }
        guard requestTimeout > .zero else { throw PrivacyKitError(.invalidInput, "--request-timeout must be longer than zero") }
        return self
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

/// privacyd: one open vault behind an authenticated JSON API (`docs/server.md`).
public enum PrivacyServer {
    /// The router of the whole API (without a listener: tests drive it in-process too).
    static func router(vault: Vault, certificates: Bool = false, requestTimeout: Duration = .seconds(10)) -> Router<APIContext> {
        let router = Router(context: APIContext.self)
        router.add(middleware: ErrorMiddleware())
        OperationsRoutes.addHealth(to: router, vault: vault)
        router.get("v1/openapi.json") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/json"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        let v1 = router.group("v1").add(middleware: AuthenticationMiddleware(vault: vault, certificates: certificates))
            .add(middleware: BodyDeadlineMiddleware(timeout: requestTimeout))
        TransitRoutes(vault: vault).add(to: v1)
        RecordsRoutes(vault: vault).add(to: v1)
        ConsentRoutes(vault: vault).add(to: v1)
        RequestsRoutes(vault: vault).add(to: v1)
        OperationsRoutes(vault: vault).add(to: v1)
        return router
    }

    /// Every route as `METHOD /path`, for the test that holds them against the OpenAPI document.
    static func routeList(vault: Vault) -> [String] {
        router(vault: vault).routes.map { "\($0.method.rawValue) \($0.path.description)" }
    }

    /// Serves `vault` until SIGTERM or SIGINT, then lets requests in flight finish and signs
    /// a checkpoint over what they wrote. `onListening` gets the bound port (for port 0).
    public static func run(vault: Vault, configuration: ServerConfiguration, logger: Logger,
                           onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        let configuration = try configuration.checked()
        let server: HTTPServerBuilder
        let idle = configuration.idleTimeout.components
        let http = HTTPServerBuilder.http1(configuration: .init(idleTimeout: .nanoseconds(idle.seconds * 1_000_000_000 + idle.attoseconds / 1_000_000_000)))
        if let tls = configuration.tls {
            server = try .tls(http, tlsConfiguration: try tlsConfiguration(tls))
        } else {
            logger.warning("serving plain HTTP (--insecure-http): anyone on this host can read what passes; never use it beyond tests")
            server = http
        }
        let app = Application(
            router: router(vault: vault, certificates: configuration.tls?.clientCA != nil, requestTimeout: configuration.requestTimeout), server: server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "privacyd"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
        // The CLI signs a checkpoint at the end of each command; a server signs every few
        // seconds, so its tail is never long unsigned.
        let signer = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(5))
                _ = try? await blocking { try vault.audit.checkpointIfNeeded() }
            }
        }
        defer { signer.cancel() }
        try await app.runService()
        _ = try? vault.audit.checkpointIfNeeded()
    }

    /// The server side of TLS from `files` (public for the HTTP benchmark's minimal endpoint).
    public static func tlsConfiguration(_ files: ServerConfiguration.TLSFiles) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(files.certificateChain)
        } catch {
            throw PrivacyKitError(.invalidInput, "--tls-cert \(files.certificateChain): not a readable PEM certificate chain")
        }
        do {
            key = try NIOSSLPrivateKey(file: files.privateKey, format: .pem)
        } catch {
            throw PrivacyKitError(.invalidInput, "--tls-key \(files.privateKey): not a readable PEM private key")
        }
        guard !chain.isEmpty else { throw PrivacyKitError(.invalidInput, "--tls-cert \(files.certificateChain) holds no certificate") }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        if let clientCA = files.clientCA {
            guard (try? NIOSSLCertificate.fromPEMFile(clientCA))?.isEmpty == false else {
                throw PrivacyKitError(.invalidInput, "--client-ca \(clientCA): not a readable PEM certificate")
            }
            tls.trustRoots = .file(clientCA)
            // Asked for, verified when given, not required: token clients need none.
            tls.certificateVerification = .optionalVerification
        }
        return tls
    }
}
