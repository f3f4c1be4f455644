import ArgumentParser
import PrivacyKit

/// The exit codes of `privacyctl`, documented in the README. Every command uses these;
/// scripts and monitors branch on them.
enum ExitStatus: Int32, CaseIterable {
    case success = 0
    /// Unexpected failure (a bug, or something with no more specific code).
    case failure = 1
    /// Bad command line: unknown flag, missing or conflicting options (argument-parser's own).
    case usage = 64
    /// Malformed input: a file, policy, CSV row or argument value.
    case invalidInput = 65
    /// The vault, keyring, key file or named item does not exist.
    case notFound = 66
    /// The passphrase or key file does not open the keyring.
    case wrongKey = 67
    /// The access policy refused the operation.
    case denied = 68
    /// Tampering or corruption detected: keyring, ciphertext, audit chain, backup.
    case integrity = 69
    /// Written by a newer PrivacyKit.
    case unsupportedVersion = 70
    /// A secret file is readable or writable by group or others.
    case insecurePermissions = 71
    /// Something that must be new already exists.
    case alreadyExists = 72
    /// A legal hold blocks the erasure (or a retention action failed: see the summary).
    case held = 73
    /// File system or database I/O failed.
    case io = 74
    /// Another process holds a lock this operation needs; retry later.
    case busy = 75
    /// Written by an older PrivacyKit: run `privacyctl upgrade` (a format change is never
    /// applied silently).
    case upgradeRequired = 76

    init(_ code: PrivacyKitError.Code) {
        self = ExitStatus(rawValue: code.exitCode) ?? .failure
    }

    var name: String {
        switch self {
        case .success: "success"
        case .failure: "failure"
        case .usage: "usage"
        case .invalidInput: "invalid-input"
        case .notFound: "not-found"
        case .wrongKey: "wrong-key"
        case .denied: "denied"
        case .integrity: "integrity"
        case .unsupportedVersion: "unsupported-version"
        case .insecurePermissions: "insecure-permissions"
        case .alreadyExists: "already-exists"
        case .io: "io"
        case .busy: "busy"
        case .held: "held"
        case .upgradeRequired: "upgrade-required"
        }
    }
}

/// An error the CLI itself raises (no vault given, no secret, …).
struct CLIError: Error {
    let status: ExitStatus
    let message: String

    init(_ status: ExitStatus, _ message: String) {
        self.status = status
        self.message = message
    }
}
