#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization

/// The TLS contexts of `verify-ca` and `verify-full`: the server's certificate must chain
/// to the CA certificates of `sslrootcert` (or the system's trust store for `system`), and
/// under `verify-full` must name the host.
///
/// The host check is NIOSSL's: a DNS name in the certificate's subjectAltName that matches
/// the host name connected to, or an IP address there that matches the address connected
/// to (libpq matches an IP address only when the host is written as one).
enum VerifiedTLS {
    /// libpq's `sslrootcert` when none is given.
    static var defaultRootCert: String {
        (getenv("HOME").map { String(cString: $0) } ?? NSHomeDirectory()) + "/.postgresql/root.crt"
    }

    /// Contexts by mode, CA file and the file's identity (size and modification time): a
    /// context is costly to make, and a replaced CA file must not be served from the cache.
    private static let cache = Mutex<[String: NIOSSLContext]>([:])

    static func context(_ settings: PostgresSettings) throws -> NIOSSLContext {
        let fullVerification = settings.sslMode == .verifyFull
        let root = settings.sslRootCert ?? defaultRootCert
        func fail(_ problem: String) -> PostgresStoreError {
            PostgresStoreError(.connection, "cannot connect to \(settings.redacted): \(problem)")
        }
        let trustRoots: NIOSSLTrustRoots
        var key = "\(fullVerification)|\(root)"
        if root == "system" {
            trustRoots = .default
        } else {
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: root) else {
                let hint = settings.sslRootCert == nil
                    ? "give the CA certificate that signed the server's with sslrootcert=/path/ca.pem in the URL (or PGSSLROOTCERT), or sslrootcert=system"
                    : "give the PEM file of the CA that signed the server's certificate"
                throw fail("sslmode=\(settings.sslMode.rawValue) checks the server's certificate, and the CA file \(root) does not exist: \(hint)")
            }
            key += "|\((attributes[.size] as? Int) ?? -1)|\((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
            if let cached = cache.withLock({ $0[key] }) { return cached }
            let certificates: [NIOSSLCertificate]
            do {
                certificates = try NIOSSLCertificate.fromPEMFile(root)
            } catch {
                throw fail("cannot read the CA certificates in \(root) (sslrootcert): it must be PEM (-----BEGIN CERTIFICATE-----)")
            }
            guard !certificates.isEmpty else {
                throw fail("the CA file \(root) (sslrootcert) holds no certificate")
            }
            trustRoots = .certificates(certificates)
        }
        if let cached = cache.withLock({ $0[key] }) { return cached }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = fullVerification ? .fullVerification : .noHostnameVerification
        tls.trustRoots = trustRoots
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: tls)
        } catch {
            throw fail("cannot set up TLS with the CA file \(root) (\(PGConnection.describe(error)))")
        }
        cache.withLock { $0[key] = context }
        return context
    }

    /// Why the server's certificate was refused, in words, when that is what `error` (as
    /// the driver reports a failed connect) says; nil for any other failure.
    static func refusal(_ error: any Error, _ settings: PostgresSettings) -> String? {
        switch error {
        case let psql as PSQLError:
            return psql.underlying.flatMap { refusal($0, settings) }
        case let nio as NIOConnectionError:
            return nio.connectionErrors.lazy.compactMap { refusal($0.error, settings) }.first
        case let extra as NIOSSLExtraError where extra == .failedToValidateHostname:
            return "the server's certificate does not name the host \(settings.host) (sslmode=verify-full): "
                + "connect by a name the certificate carries, or use sslmode=verify-ca to check only who signed it"
        case NIOSSLError.handshakeFailed(let cause) where "\(cause)".contains("CERTIFICATE_VERIFY_FAILED"):
            let root = settings.sslRootCert ?? defaultRootCert
            return "the server's certificate is not signed by a CA in \(root) (sslrootcert), or has expired: "
                + "give the CA that signed it (sslmode=\(settings.sslMode.rawValue))"
        default:
            return nil
        }
    }
}
