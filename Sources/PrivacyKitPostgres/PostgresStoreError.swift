public import Foundation
import PrivacyKit
import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error from the PostgreSQL store. ``message`` holds the server's message text but
/// never a bound argument value, a row value (PostgreSQL's DETAIL field, which repeats
/// key values, is left out) or the password.
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible, LocalizedError {
    public enum Kind: Sendable, Equatable {
        /// The URL or settings are malformed.
        case invalidSettings
        /// Cannot connect, authentication failed, TLS required but not offered, or the
        /// connection was lost.
        case connection
        /// SQLSTATE 23505.
        case uniqueViolation
        /// SQLSTATE 40001 (serialization failure) or 40P01 (deadlock): retrying the
        /// transaction may succeed.
        case serialization
        /// SQLSTATE 53100.
        case diskFull
        /// SQLSTATE 25006: a write in a read-only transaction (or on a standby).
        case readOnly
        /// SQLSTATE 42P01.
        case undefinedTable
        case other
    }

    public let kind: Kind
    /// The SQLSTATE, when the server sent one.
    public let code: String?
    public let message: String

    public init(_ kind: Kind, _ message: String, code: String? = nil) {
        self.kind = kind
        self.message = message
        self.code = code
    }

    public var description: String { message }
    public var errorDescription: String? { message }

    static func kind(sqlState: String) -> Kind {
        switch sqlState {
        case "23505": .uniqueViolation
        case "40001", "40P01": .serialization
        case "53100": .diskFull
        case "25006": .readOnly
        case "42P01": .undefinedTable
        // Connection exceptions, authentication, the server shutting down or not yet up.
        case "28000", "28P01", "3D000", "57P01", "57P02", "57P03": .connection
        case let state where state.hasPrefix("08"): .connection
        default: .other
        }
    }
}

// Driver and transport errors in the store's terms: what failed, for which store (URL
// without its password), and never a bound value.
extension PGConnection {
    static func statementError(_ error: any Error, _ settings: PostgresSettings) -> PostgresStoreError {
        if let error = error as? PostgresStoreError { return error }
        if error is ConnectionClosed {
            return PostgresStoreError(.connection, "lost the connection to \(settings.redacted): the connection was closed")
        }
        guard let psql = error as? PSQLError else {
            return PostgresStoreError(.other, "PostgreSQL at \(settings.redacted): \(describe(error))")
        }
        if psql.code == .server, let info = psql.serverInfo {
            let state = info[.sqlState]
            // Only the message: DETAIL repeats row values ("Key (email)=(…) already exists").
            let text = serverMessage(info[.message] ?? "error", sqlState: state)
            return PostgresStoreError(PostgresStoreError.kind(sqlState: state ?? ""), state.map { "\(text) (SQLSTATE \($0))" } ?? text, code: state)
        }
        switch psql.code {
        case .serverClosedConnection, .uncleanShutdown, .clientClosedConnection, .connectionError:
            return PostgresStoreError(.connection, "lost the connection to \(settings.redacted): \(describe(psql))")
        default:
            return PostgresStoreError(.other, "PostgreSQL at \(settings.redacted): \(describe(psql))")
        }
    }

    /// The server's message, with the quoted values of data exceptions (class 22: `invalid
    /// input syntax for type bigint: "…"`) hidden: there the quotes hold an argument's value,
    /// elsewhere they hold names.
    static func serverMessage(_ message: String, sqlState: String?) -> String {
        guard sqlState?.hasPrefix("22") == true, let first = message.firstIndex(of: "\""),
              let last = message.lastIndex(of: "\""), first < last
        else { return message }
        // First to last quote: a value may itself hold quotes.
        return message[..<first] + "\"…\"" + message[message.index(after: last)...]
    }

    static func connectError(_ error: any Error, _ settings: PostgresSettings) -> PostgresStoreError {
        let prefix = "cannot connect to \(settings.redacted): "
        if let psql = error as? PSQLError, psql.code == .server, let info = psql.serverInfo {
            let state = info[.sqlState]
            return PostgresStoreError(.connection, prefix + (info[.message] ?? "refused by the server"), code: state)
        }
        if let refusal = VerifiedTLS.refusal(error, settings) {
            return PostgresStoreError(.connection, prefix + refusal)
        }
        return PostgresStoreError(.connection, prefix + describe(error))
    }

    /// Why a connection or statement failed, in words, from errors whose own descriptions
    /// are type dumps. Nothing here can hold a bound value or the password: server messages
    /// are handled by the callers, and the rest are transport errors.
    static func describe(_ error: any Error) -> String {
        switch error {
        case let psql as PSQLError:
            switch psql.code {
            case .sslUnsupported: return "the server does not offer TLS (sslmode=require)"
            case .authMechanismRequiresPassword: return "the server asks for a password and none was given"
            case .unsupportedAuthMechanism: return "the server asks for an authentication method this client does not support"
            case .saslError: return "SCRAM authentication failed"
            case .serverClosedConnection, .uncleanShutdown: return "the server closed the connection"
            case .clientClosedConnection: return "the connection was closed"
            case .queryCancelled: return "the statement was cancelled"
            case .tooManyParameters: return "too many parameters"
            case .connectionError:
                return psql.underlying.map(describe) ?? "connection error"
            case .server:
                return psql.serverInfo?[.message] ?? "server error"
            default:
                return psql.code.description
            }
        case let nio as NIOConnectionError:
            let failures = nio.connectionErrors.map { describe($0.error) }
            if let first = failures.first, failures.allSatisfy({ $0 == first }) { return first }
            if failures.isEmpty, nio.dnsAAAAError != nil || nio.dnsAError != nil { return "cannot resolve \(nio.host)" }
            return failures.isEmpty ? "cannot connect to \(nio.host)" : failures.joined(separator: "; ")
        case let io as IOError:
            switch io.errnoCode {
            case ECONNREFUSED: return "connection refused"
            case ENOENT: return "no such socket"
            case ETIMEDOUT: return "timed out"
            case EHOSTUNREACH: return "host unreachable"
            case ENETUNREACH: return "network unreachable"
            case EACCES: return "permission denied"
            default: return String(cString: strerror(io.errnoCode)).lowercased()
            }
        case let channel as ChannelError:
            if case .connectTimeout = channel { return "timed out" }
            return "\(channel)"
        case is NIOSSLError, is BoringSSLError:
            return "TLS failed (\(error))"
        case is SocketAddressError:
            return "cannot resolve the host (\(error))"
        default:
            // The type, not a description: a decoding error's description carries the cell.
            return "\(type(of: error))"
        }
    }
}
