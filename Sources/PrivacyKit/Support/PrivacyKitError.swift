/// An error from PrivacyKit: what failed, where, and how to fix it.
///
/// The ``code`` says what kind of failure it is (the CLI maps it to an exit code); codes
/// can be added without breaking callers because ``Code`` wraps a private enum. The
/// ``message`` names files, fields, key roles and subject ids, never a PII value, a
/// passphrase or key bytes.
public struct PrivacyKitError: Error, Sendable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidInput = "invalid-input"
            case notFound = "not-found"
            case wrongKey = "wrong-key"
            case unauthenticated = "unauthenticated"
            case denied = "denied"
            case integrity = "integrity"
            case unsupportedVersion = "unsupported-version"
            case upgradeRequired = "upgrade-required"
            case insecurePermissions = "insecure-permissions"
            case alreadyExists = "already-exists"
            case busy = "busy"
            case held = "held"
            case io = "io"
            case `internal` = "internal"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A malformed file, policy, argument value or record.
        public static let invalidInput = Code(.invalidInput)
        /// The vault, keyring, key file or other named thing does not exist.
        public static let notFound = Code(.notFound)
        /// The passphrase or key file does not open the keyring.
        public static let wrongKey = Code(.wrongKey)
        /// A client's credential (privacyd's bearer token or certificate) is unknown, wrong,
        /// expired or revoked.
        public static let unauthenticated = Code(.unauthenticated)
        /// The access policy refuses the operation.
        public static let denied = Code(.denied)
        /// Something was altered or corrupted: a keyring entry, a ciphertext, the audit chain.
        public static let integrity = Code(.integrity)
        /// Written by a newer PrivacyKit (a newer vault or keyring format).
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// Written by an older PrivacyKit: `privacyctl upgrade` carries it over (never done
        /// silently on open).
        public static let upgradeRequired = Code(.upgradeRequired)
        /// A secret file is readable by group or others.
        public static let insecurePermissions = Code(.insecurePermissions)
        /// Something that must be new exists already.
        public static let alreadyExists = Code(.alreadyExists)
        /// Another process holds what this operation needs.
        public static let busy = Code(.busy)
        /// A legal hold blocks the erasure or retention action (the message names the hold).
        public static let held = Code(.held)
        /// The file system or database failed.
        public static let io = Code(.io)
        /// A bug: an invariant of PrivacyKit itself did not hold.
        public static let `internal` = Code(.internal)

        /// The exit status privacyctl and privacyd end with for this code
        /// (`docs/exit-codes.md`); privacyd's HTTP errors carry it as `exit_code` too.
        public var exitCode: Int32 {
            switch base {
            case .invalidInput: 65
            case .notFound: 66
            case .wrongKey, .unauthenticated: 67
            case .denied: 68
            case .integrity: 69
            case .unsupportedVersion: 70
            case .insecurePermissions: 71
            case .alreadyExists: 72
            case .held: 73
            case .io: 74
            case .busy: 75
            case .upgradeRequired: 76
            case .internal: 1
            }
        }

        /// A stable name for scripts (`wrong-key`, `integrity`, …).
        public var name: String { base.rawValue }
        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String
    /// The lower-level error, when there is one (a `SodiumError`, a `DatabaseError`, …).
    public let cause: (any Error & Sendable)?

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil) {
        self.code = code
        self.message = message
        self.cause = cause
    }

    public var description: String {
        guard let cause else { return message }
        return "\(message) (\(cause))"
    }
}
