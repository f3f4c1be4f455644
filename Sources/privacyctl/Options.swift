import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PrivacyKit
import Sodium

/// `--vault DIR`, falling back to `PRIVACYKIT_VAULT`.
struct VaultOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The vault directory (default: $PRIVACYKIT_VAULT).", valueName: "dir"))
    var vault: String?

    func directory() throws -> URL {
        guard let path = vault ?? Environment.value("PRIVACYKIT_VAULT") else {
            throw CLIError(.usage, "no vault given: pass --vault DIR or set PRIVACYKIT_VAULT")
        }
        return URL(fileURLWithPath: path)
    }

    /// The vault directory, which must exist: for commands that read files in it without
    /// opening it (so without Vault.open's own check).
    func existingDirectory() throws -> URL {
        let url = try directory()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw CLIError(.notFound, "no vault at \(url.path)")
        }
        guard isDirectory.boolValue else { throw CLIError(.notFound, "no vault at \(url.path): it is a file, and a vault is a directory") }
        return url
    }
}

/// Where the root secret comes from: `--key-file`, `--passphrase-file`,
/// `PRIVACYKIT_KEY_FILE`, `PRIVACYKIT_PASSPHRASE`, else the terminal, in that order.
struct RootKeyOptions: ParsableArguments {
    @Option(name: .customLong("key-file"), help: ArgumentHelp("A file holding the 32-byte root key (mode 0600).", valueName: "file"))
    var keyFile: String?

    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("A file holding the passphrase (mode 0600).", valueName: "file"))
    var passphraseFile: String?

    func validate() throws {
        if keyFile != nil && passphraseFile != nil {
            throw ValidationError("--key-file and --passphrase-file cannot be used together")
        }
    }

    /// The root key; `confirm` asks twice when prompting (a new secret).
    func resolve(confirm: Bool = false) throws -> RootKey {
        try RootKeyOptions.resolve(
            keyFile: keyFile, passphraseFile: passphraseFile,
            keyFileVariable: "PRIVACYKIT_KEY_FILE", passphraseVariable: "PRIVACYKIT_PASSPHRASE",
            prompt: "Vault passphrase: ", confirm: confirm,
            missing: "no root secret given: pass --key-file or --passphrase-file, or set PRIVACYKIT_KEY_FILE or PRIVACYKIT_PASSPHRASE (no terminal to ask on)")
    }

    static func resolve(
        keyFile: String?, passphraseFile: String?, keyFileVariable: String, passphraseVariable: String,
        prompt: String, confirm: Bool, missing: String
    ) throws -> RootKey {
        if let given = try RootKey.given(keyFile: keyFile, passphraseFile: passphraseFile, keyFileVariable: keyFileVariable,
                                         passphraseVariable: passphraseVariable) {
            return given
        }
        guard let first = try Terminal.readSecret(prompt: prompt) else {
            throw CLIError(.usage, missing)
        }
        if confirm {
            guard let second = try Terminal.readSecret(prompt: "Repeat it: "), second == first else {
                throw CLIError(.invalidInput, "the two passphrases differ")
            }
        }
        return try .passphrase(first)
    }
}

/// Argon2id cost for a new passphrase.
enum KDFProfile: String, ExpressibleByArgument, CaseIterable {
    case moderate, interactive, sensitive, minimum

    var limits: Argon2id.Limits {
        switch self {
        case .moderate: .moderate
        case .interactive: .interactive
        case .sensitive: .sensitive
        case .minimum: .minimum
        }
    }

    func warnIfWeak() {
        if self == .minimum {
            Output.standardError("privacyctl: warning: --kdf minimum offers no protection against passphrase guessing; use it for tests only")
        }
    }
}

/// Who runs the command: recorded in every audit event it writes.
struct ContextOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Who is acting, as recorded in the audit log (default: $PRIVACYKIT_ACTOR, else the OS user).", valueName: "name"))
    var actor: String?

    @Option(name: .long, help: ArgumentHelp("The role acted in, from the vault's access.yaml (default: the vault's privacyctl.yaml, else admin).", valueName: "role"),
            completion: VaultCompletions.roles)
    var role: String?

    @Option(name: .long, help: ArgumentHelp("The purpose acted for, from purposes.yaml (default: the vault's privacyctl.yaml); reading or writing customer data needs one.", valueName: "purpose"),
            completion: VaultCompletions.purposes)
    var purpose: String?

    /// The identity of this command: the options, else the vault's defaults file, else the
    /// OS user in role admin with no purpose.
    func resolved(_ vault: VaultOptions) throws -> AccessContext {
        try Self.resolve(actor: actor, role: role, purpose: purpose, vault: vault)
    }

    /// The given options, else the vault's defaults file, else the OS user in role admin.
    static func resolve(actor: String?, role: String?, purpose: String?, vault: VaultOptions) throws -> AccessContext {
        let defaults = try (try? vault.directory()).map { try OperatorDefaults.load(vaultDirectory: $0) } ?? OperatorDefaults()
        return AccessContext(actor: actor ?? defaults.actor ?? defaultActor, role: role ?? defaults.role ?? "admin",
                             purpose: purpose ?? defaults.purpose)
    }

    /// `PRIVACYKIT_ACTOR`, else the name of the effective OS user, else `uid:N`.
    static var defaultActor: String {
        if let actor = Environment.value("PRIVACYKIT_ACTOR") { return actor }
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name {
            let user = String(cString: name)
            if !user.isEmpty { return user }
        }
        return "uid:\(geteuid())"
    }
}

enum Environment {
    /// A non-empty environment variable. Read by name: `ProcessInfo`'s environment would
    /// copy every variable, a passphrase in PRIVACYKIT_PASSPHRASE too, into strings that
    /// cannot be wiped.
    static func value(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    /// Whether a variable is set and non-empty, without copying its value.
    static func isSet(_ name: String) -> Bool {
        guard let value = getenv(name) else { return false }
        return value.pointee != 0
    }
}

/// A small file named on the command line (values, notes, summaries, receipts), read
/// whole: missing 66, a directory 65, too large 65, unreadable 74, each naming the option
/// and the path. `-` is standard input.
enum InputFile {
    /// Far above any note, summary, receipt or values file; a bigger one is a wrong file.
    static let maxBytes = 1 << 20

    static func read(_ path: String, what: String) throws -> Data {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CLIError(.notFound, "\(what) \(path) does not exist")
            }
            guard !isDirectory.boolValue else { throw CLIError(.invalidInput, "\(what) \(path) is a directory, not a file") }
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            guard size <= maxBytes else { throw CLIError(.invalidInput, "\(what) \(path) is larger than 1 MiB (\(size) bytes)") }
            guard let read = FileManager.default.contents(atPath: path) else { throw CLIError(.io, "\(what) \(path) cannot be read") }
            data = read
        }
        guard data.count <= maxBytes else { throw CLIError(.invalidInput, "\(what) \(path) is larger than 1 MiB") }
        return data
    }

    /// Free text from `--NAME TEXT` or `--NAME-file FILE|-` (one of them).
    static func text(_ inline: String?, file: String?, option: String) throws -> String? {
        if inline != nil && file != nil { throw CLIError(.usage, "give --\(option) or --\(option)-file, not both") }
        guard let file else { return inline }
        return try text(file, what: "--\(option)-file")
    }

    static func text(_ path: String, what: String) throws -> String {
        guard let text = String(data: try read(path, what: what), encoding: .utf8) else {
            throw CLIError(.invalidInput, "\(what) \(path) is not UTF-8 text")
        }
        return text
    }
}

/// `--store URL`: the records on a database server several hosts share, instead of a
/// SQLite file inside the vault directory.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Keep the records on PostgreSQL: postgres://user@host:port/database?schema=NAME&sslmode=prefer (the password from PGPASSWORD, never recorded). Default: a SQLite file in the vault.",
        valueName: "url"))
    var store: String?

    func backend() throws -> (any StoreBackend)? {
        try store.map { try StoreBackends.backend(url: $0) }
    }
}

/// The root-secret options on a command that needs no secret: accepted, so that a wrapper
/// that always passes them works with every command, and ignored (`--verbose` says so).
struct IgnoredSecretOptions: ParsableArguments {
    @Option(name: .customLong("key-file"), help: ArgumentHelp("Accepted and ignored: this command needs no root secret.", valueName: "file", visibility: .hidden))
    var keyFile: String?
    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp("Accepted and ignored: this command needs no root secret.", valueName: "file", visibility: .hidden))
    var passphraseFile: String?
    @Flag(name: .long, help: "Say on standard error what this command ignores (a root secret it does not need).")
    var verbose = false

    init() {}

    /// For a command whose secret options serve only one of its modes.
    init(keyFile: String?, passphraseFile: String?, verbose: Bool) {
        self.keyFile = keyFile
        self.passphraseFile = passphraseFile
        self.verbose = verbose
    }

    /// With `--verbose`, names the secret given (option or variable) that `command` ignores.
    func noteIgnored(by command: String) {
        guard verbose else { return }
        let given = [keyFile.map { _ in "--key-file" }, passphraseFile.map { _ in "--passphrase-file" }].compactMap { $0 }
            + ["PRIVACYKIT_KEY_FILE", "PRIVACYKIT_PASSPHRASE"].filter(Environment.isSet)
        guard !given.isEmpty else { return }
        Output.standardError("privacyctl: \(command) needs no root secret: \(given.joined(separator: ", ")) ignored")
    }
}

/// An option renamed for one name per concept (`--out` for every output path, `--after-seq`
/// for sequence numbers; issue 22, point 2): the old name stays, hidden, for one release.
enum RenamedOption {
    /// The value of `new`, else of the old name (noted on standard error); both is a usage error.
    static func pick<T>(_ new: T?, _ old: T?, new newName: String, old oldName: String) throws -> T? {
        if new != nil && old != nil { throw ValidationError("\(oldName) is the old name of \(newName): give only \(newName)") }
        if old != nil { Output.standardError("privacyctl: \(oldName) is now \(newName); the old name goes in a later release") }
        return new ?? old
    }
}

/// One subject or many: `--subject` (repeat for more) and `--subjects-file` (one id per
/// line, `-` for standard input), for the read commands that answer for many subjects in
/// one call (one unlock, one transaction, one checkpoint; issue 22, point 6).
struct SubjectListOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("A subject id (repeat for more).", valueName: "id")) var subject: [String] = []
    @Option(name: .customLong("subjects-file"), help: ArgumentHelp("Subject ids, one per line, from this file or - for standard input.", valueName: "file"))
    var subjectsFile: String?

    func validate() throws {
        if subject.isEmpty && subjectsFile == nil { throw ValidationError("give --subject ID (repeat for more) or --subjects-file FILE") }
    }

    /// More than one subject may be asked for: the answer is a list.
    var isBatch: Bool { subject.count > 1 || subjectsFile != nil }

    func subjects() throws -> [String] {
        var ids = subject
        if let subjectsFile {
            ids += try InputFile.text(subjectsFile, what: "--subjects-file").split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        return ids
    }
}
