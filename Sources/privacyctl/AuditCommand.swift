import ArgumentParser
import Foundation
import PrivacyKit
import Sodium

extension Privacyctl {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify, checkpoint, query and export the tamper-evident audit log.",
            subcommands: [Verify.self, Checkpoint.self, PublicKey.self, Query.self, Export.self]
        )
    }
}

extension Privacyctl.Audit {
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the audit chain and check every checkpoint's signature.",
            discussion: Examples.discussion("""
                Needs no root secret: only the audit public key, taken from --public-key or, by \
                default, from the vault's keyring file (pass --public-key from a trusted copy to \
                rule out a keyring swapped along with the log). --store verifies a copy of a \
                store. With --against FILE (a witness file written by `audit checkpoint \
                --export`), also checks that every checkpoint in it is still a prefix of the log, \
                which detects a cut tail and a log replaced wholesale. With --with-secret, opens \
                the vault with its root secret and also checks every event's MAC (format 2): the \
                whole log, including events no checkpoint covers yet and events whose checkpoints \
                were removed. On failure, prints the first bad sequence number and what is wrong, \
                and exits 69.
                """, "audit verify")
        )

        @OptionGroup var vaultOptions: VaultOptions
        @Option(name: .long, help: ArgumentHelp("A witness file of earlier checkpoints.", valueName: "file"))
        var against: String?
        @Option(name: .customLong("public-key"), help: ArgumentHelp("The audit public key (base64url), from `audit public-key`. Write --public-key=KEY: a key can start with '-'.", valueName: "key"))
        var publicKey: String?
        @Option(name: .long, help: ArgumentHelp("Verify this store file (a copy) instead of the vault's.", valueName: "file"))
        var store: String?
        @Flag(name: .customLong("with-secret"), help: "Open the vault with its root secret and check every event's MAC too.")
        var withSecret = false
        @OptionGroup var rootKey: RootKeyOptions
        @Flag(name: .long, help: "Say on standard error what this command ignores (a root secret given without --with-secret).")
        var verbose = false
        @OptionGroup var output: OutputOptions

        func run() throws {
            if !withSecret {
                IgnoredSecretOptions(keyFile: rootKey.keyFile, passphraseFile: rootKey.passphraseFile, verbose: verbose)
                    .noteIgnored(by: "audit verify")
            }
            try Output.run(json: output.json) {
                if withSecret, store != nil || publicKey != nil {
                    throw CLIError(.usage, "--with-secret verifies the vault with its own keys: it takes neither --store nor --public-key")
                }
                let witness = try against.map(AuditCheckpoint.readWitnessFile(at:)) ?? []
                if withSecret {
                    let context = try ContextOptions.resolve(actor: nil, role: nil, purpose: nil, vault: vaultOptions)
                    let vault = try Vault.open(at: vaultOptions.directory(), rootKey: rootKey.resolve(), context: context)
                    return try show(try vault.audit.verify(witness: witness))
                }
                let key: Ed25519.PublicKey
                let storePath: String?
                if let store {
                    guard let publicKey else {
                        throw CLIError(.usage, "--store needs --public-key: a copied store carries no trusted key")
                    }
                    key = try AuditKeys.parse(publicKey)
                    storePath = store
                } else {
                    let directory = try vaultOptions.directory()
                    key = try publicKey.map(AuditKeys.parse) ?? VaultFiles.recordedAuditPublicKey(at: directory)
                    storePath = nil
                }
                let report = try storePath.map { try AuditVerifier.verify(storePath: $0, publicKey: key, witness: witness) }
                    ?? VaultFiles.verifyAuditWithoutSecret(at: try vaultOptions.directory(), publicKey: key, witness: witness)
                try show(report)
            }
        }

        private func show(_ report: AuditReport) throws {
            if output.json {
                try Output.json(report)
            } else if let problem = report.problem {
                Output.standardOutput("audit log FAILED at seq \(problem.seq.map(String.init) ?? "?"): \(problem.message) [\(problem.kind)]")
            } else {
                Output.standardOutput("""
                    audit log OK: \(report.events) events, chain head \(report.headHash.prefix(16))…
                    \(report.checkpointsVerified) stored checkpoints and \(report.witnessCheckpointsVerified) witness checkpoints verified (key \(report.publicKeyFingerprint))
                    \(report.unsignedTail) events after the last verified checkpoint\(report.macsVerified.map { "\n\($0) event MACs verified with the vault's audit-chain key" } ?? "")
                    """)
            }
            if let problem = report.problem {
                Output.standardError("privacyctl: audit verify: integrity failure at seq \(problem.seq.map(String.init) ?? "?"): \(problem.message)")
                throw ExitCode(ExitStatus.integrity.rawValue)
            }
        }
    }

    struct Checkpoint: ParsableCommand, OpensVaultAsOperator {
        static let configuration = CommandConfiguration(
            abstract: "Sign a checkpoint of the audit log now; with --out, append it to a witness file.",
            discussion: Examples.discussion("Keep the witness file where the vault host cannot rewrite it (another host, write-once storage): `audit verify --against` uses it to detect a cut or replaced log.", "audit checkpoint")
        )

        @OptionGroup var access: VaultAccessOptions
        @Option(name: .long, help: ArgumentHelp("Append the checkpoint to this witness file.", valueName: "file"))
        var out: String?
        @Option(name: .customLong("export"), help: .hidden) var oldExport: String?
        @OptionGroup var output: OutputOptions

        func run() throws {
            let export = try RenamedOption.pick(out, oldExport, new: "--out", old: "--export")
            try run({ vault, _ in
                let checkpoint = try vault.audit.checkpoint()
                try export.map(checkpoint.appendToWitnessFile(at:))
                return checkpoint
            }, text: { checkpoint in
                Output.standardOutput("checkpoint at seq \(checkpoint.seq), chain hash \(checkpoint.chainHash), \(checkpoint.time)")
                if let export { Output.standardOutput("appended to \(export)") }
            })
        }
    }

    struct PublicKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "public-key",
            abstract: "Print the audit public key an auditor needs (no root secret needed).", discussion: Examples.section("audit public-key")
        )

        @OptionGroup var vaultOptions: VaultOptions
        @OptionGroup var ignoredSecret: IgnoredSecretOptions
        @OptionGroup var output: OutputOptions

        struct Result: Encodable {
            let ok = true
            let vaultID: String
            let publicKey: String
            let fingerprint: String
            enum CodingKeys: String, CodingKey {
                case ok, fingerprint
                case vaultID = "vault_id"
                case publicKey = "public_key"
            }
        }

        func run() throws {
            ignoredSecret.noteIgnored(by: "audit public-key")
            try Output.run(json: output.json) {
                let directory = try vaultOptions.directory()
                let key = try VaultFiles.recordedAuditPublicKey(at: directory)
                let result = Result(
                    vaultID: try VaultFiles.recordedVaultID(at: directory).hex, publicKey: Base64URL.encode(key.bytes),
                    fingerprint: try KeyFingerprint.of(key.bytes))
                if output.json { try Output.json(result) } else { Output.standardOutput(result.publicKey) }
            }
        }
    }

    struct Query: ParsableCommand, OpensVault {
        static let configuration = CommandConfiguration(
            abstract: "List audit events by subject, actor, action or time.",
            discussion: Examples.discussion("""
                --subject takes the real subject id; the log holds only its pseudonym, which this \
                computes with the vault's audit key. --since is inclusive and --until exclusive, \
                both UTC ISO 8601 (a date, or a date and time). Here --actor filters; the reader \
                is recorded as $PRIVACYKIT_ACTOR or the OS user, with --role.
                """, "audit query")
        )

        @OptionGroup var vault: VaultOptions
        @OptionGroup var rootKey: RootKeyOptions
        @Option(name: .long, help: ArgumentHelp("Events about this subject id.", valueName: "id")) var subject: String?
        @Option(name: .long, help: ArgumentHelp("Events by this actor.", valueName: "name")) var actor: String?
        @Option(name: .long, help: ArgumentHelp("Events with this action (e.g. vault.unlock).", valueName: "action")) var action: String?
        @Option(name: .long, help: ArgumentHelp("Events at or after this time.", valueName: "time")) var since: String?
        @Option(name: .long, help: ArgumentHelp("Events before this time.", valueName: "time")) var until: String?
        @Option(name: .long, help: ArgumentHelp("At most this many events.", valueName: "n")) var limit: Int?
        @Option(name: .long, help: ArgumentHelp("The role the reader acts in.", valueName: "role")) var role: String = "admin"
        @OptionGroup var output: OutputOptions

        func validate() throws {
            if let action, AuditAction(rawValue: action) == nil {
                throw ValidationError("unknown action '\(action)'; actions are: \(AuditAction.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
        }

        struct Result: Encodable {
            let ok = true
            let count: Int
            let events: [AuditEvent]
        }

        /// `--actor` filters here: the reader is `$PRIVACYKIT_ACTOR` or the OS user.
        func accessContext() throws -> AccessContext { AccessContext(actor: ContextOptions.defaultActor, role: role) }

        func run() throws {
            try run(prepare: {
                // A bad time is a bad argument value (65), as for every other command's times.
                for (name, value) in [("--since", since), ("--until", until)] {
                    if let value, !AuditKeys.isTimestamp(value) {
                        throw CLIError(.invalidInput, "\(name) must be a UTC ISO 8601 date or time (2026-11-23 or 2026-11-23T10:00:00Z), got '\(value)'")
                    }
                }
            }, { _, vault, context in
                let events = try vault.audit.events(
                    matching: AuditQuery(subjectID: subject, actor: actor, action: action, since: since, until: until, limit: limit),
                    context: context)
                return Result(count: events.count, events: events)
            }, text: { result in
                for e in result.events {
                    let fields = e.fields.isEmpty ? "" : " fields=\(e.fields.joined(separator: ","))"
                    let subject = e.subject.map { " subject=\($0)" } ?? ""
                    let reason = e.reason.map { " reason=\"\($0)\"" } ?? ""
                    Output.standardOutput("\(e.seq)  \(e.time)  \(e.actor)/\(e.role)  \(e.action)  \(e.outcome)\(subject)\(fields)\(reason)")
                }
                Output.standardError("\(result.count) events")
            })
        }
    }

    struct Export: ParsableCommand, OpensVaultAsOperator {
        static let configuration = CommandConfiguration(
            abstract: "Export audit events as JSON Lines for a SIEM.",
            discussion: Examples.discussion("One event per line, oldest first, on standard output or into --out (a new file, mode 0600), from --after-seq or --since on. The export itself is recorded as an audit.export event.", "audit export")
        )

        @OptionGroup var access: VaultAccessOptions
        @Option(name: .long, help: "Output format: jsonl.") var format: String = "jsonl"
        @Option(name: .customLong("after-seq"), help: ArgumentHelp("Only events after this sequence number.", valueName: "seq")) var afterSeq: Int64 = 0
        @Option(name: .long, help: ArgumentHelp("Only events at or after this time (ISO 8601 UTC).", valueName: "time")) var since: String?
        @Option(name: .long, help: ArgumentHelp("Write to this new file instead of standard output.", valueName: "file")) var out: String?
        @Option(name: .customLong("output"), help: .hidden) var oldOutput: String?
        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard format == "jsonl" else { throw ValidationError("--format supports only 'jsonl', got '\(format)'") }
            guard afterSeq >= 0 else { throw ValidationError("--after-seq must be 0 or more") }
        }

        /// `--since N` meant "from sequence number N" before `--after-seq`: read so for one
        /// release (noted), since no time is all digits.
        func range() throws -> (afterSeq: Int64, since: String?) {
            guard let since else { return (afterSeq, nil) }
            if let seq = Int64(since), seq >= 1 {
                Output.standardError("privacyctl: --since is a time now; --since \(seq) is read as --after-seq \(seq - 1) for one release")
                return (max(afterSeq, seq - 1), nil)
            }
            guard AuditKeys.isTimestamp(since) else {
                throw CLIError(.invalidInput, "--since must be a UTC ISO 8601 date or time (2026-11-23 or 2026-11-23T10:00:00Z), got '\(since)'")
            }
            return (afterSeq, since)
        }

        struct Summary: Encodable {
            let ok = true
            let events: Int64
            let output: String
        }

        func run() throws {
            let outputFile = try RenamedOption.pick(out, oldOutput, new: "--out", old: "--output")
            try Output.run(json: output.json) {
                let (afterSeq, since) = try range()
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                let count = try session { vault, context in
                    let sink = try outputFile.map { try JSONLinesFile(path: $0) }
                    var buffer = Data()
                    let count = try vault.audit.export(afterSeq: afterSeq, since: since, context: context) { event in
                        buffer.append(try encoder.encode(event))
                        buffer.append(0x0a)
                        if buffer.count >= 1 << 16 {
                            try sink?.write(buffer) ?? FileHandle.standardOutput.write(contentsOf: buffer)
                            buffer.removeAll(keepingCapacity: true)
                        }
                    }
                    try sink?.write(buffer) ?? FileHandle.standardOutput.write(contentsOf: buffer)
                    try sink?.close()
                    return count
                }
                if let output = outputFile {
                    if self.output.json {
                        try Output.json(Summary(events: count, output: output))
                    } else {
                        Output.standardOutput("exported \(count) events to \(output)")
                    }
                } else {
                    Output.standardError("exported \(count) events")
                }
            }
        }
    }
}

/// Small helpers of the audit commands.
enum AuditKeys {
    static func parse(_ text: String) throws -> Ed25519.PublicKey {
        guard let bytes = try? Base64URL.decode(text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? Ed25519.PublicKey(bytes: bytes)
        else {
            throw CLIError(.invalidInput, "--public-key must be a 32-byte Ed25519 key in base64url (as `audit public-key` prints)")
        }
        return key
    }

    static func isTimestamp(_ text: String) -> Bool {
        let pattern = #"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z?)?$"#
        return text.range(of: pattern, options: .regularExpression) != nil && ISOTime.hasValidCalendarFields(text)
    }
}

/// A new file (never overwriting one) for exports, mode 0600.
final class JSONLinesFile {
    private let handle: FileHandle
    let path: String

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let status: ExitStatus = errno == EEXIST ? .alreadyExists : .io
            throw CLIError(status, "cannot create \(path): \(String(cString: strerror(errno)))")
        }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func write(_ data: Data) throws { try handle.write(contentsOf: data) }

    func close() throws {
        try handle.synchronize()
        try handle.close()
    }
}
