import ArgumentParser
import Foundation
import PrivacyKit
import Sodium

extension Privacyctl {
    struct Backup: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Encrypted backups: create, list, verify, restore (keeping erased subjects erased), prune, and the erasure ledger.",
            subcommands: [Create.self, List.self, Verify.self, Restore.self, Prune.self, ExportLedger.self, RecoveryKeypair.self])

        /// `--recovery-key-file`: the offline recovery private key (for verify and restore), and
        /// whose backup it must be.
        struct RecoveryOptions: ParsableArguments {
            @Option(name: .customLong("recovery-key-file"), help: ArgumentHelp("The offline recovery private key (from `backup recovery-keypair`) instead of the root secret.", valueName: "file"))
            var recoveryKeyFile: String?
            @Option(name: .customLong("expect-identity"), help: ArgumentHelp("Accept only a backup made by this vault identity: its fingerprint (32 hex digits, the vault-identity line of `keys status`) or public key, or a file holding either. Needed with a recovery key file that is not pinned.", valueName: "fingerprint|file"))
            var expectIdentity: String?
            @Flag(name: .customLong("allow-unbound-backup"), help: "Accept a backup that carries no vault identity (made before identities) where one is expected (always, with a recovery key): who made it cannot be proven.")
            var allowUnbound = false

            /// The identity asked for with --expect-identity (a file holding it, or the text itself).
            func expected() throws -> ExpectedIdentity? {
                guard let expectIdentity else { return nil }
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: expectIdentity, isDirectory: &isDirectory), !isDirectory.boolValue {
                    let text = try InputFile.text(expectIdentity, what: "the --expect-identity file")
                    return try ExpectedIdentity(text: text)
                }
                do { return try ExpectedIdentity(text: expectIdentity) } catch let error as PrivacyKitError {
                    throw CLIError(.invalidInput, "--expect-identity \(expectIdentity): \(error.message)")
                }
            }
        }

        struct Create: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Back up the vault's store: a consistent snapshot, encrypted with a key of its own, with a signed manifest.",
                discussion: Examples.discussion("The vault stays usable meanwhile. With --recovery-key (a public key from `backup recovery-keypair`), the backup key and the keyring's keys are also sealed to it, so its private half alone can restore the backup.", "backup create"))
            @Option(name: .long, help: ArgumentHelp("The directory to write it in (default: <vault>/Backups).", valueName: "dir")) var out: String?
            @Option(name: .customLong("to"), help: .hidden) var oldTo: String?
            @Option(name: .customLong("recovery-key"), help: ArgumentHelp("A recovery public key file to seal the backup's keys to.", valueName: "file")) var recoveryKey: String?
            @Flag(name: .long, help: "Compress the snapshot (zstd) before encrypting it: about half the size, more CPU time.") var compress = false
            @Option(name: .customLong("compression-level"), help: ArgumentHelp("zstd level with --compress: 1 (fastest) to 19 (smallest).", valueName: "n"))
            var compressionLevel: Int32?
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let backup: BackupSummary }

            func validate() throws {
                if compressionLevel != nil && !compress { throw ValidationError("--compression-level needs --compress") }
            }

            func run() throws {
                let progress = Progress(label: "backup")
                let to = try RenamedOption.pick(out, oldTo, new: "--out", old: "--to")
                try options.run(prepare: {
                    let recipient = try recoveryKey.map { try SubjectExport.readPublicKey(at: $0) }
                    let compression = compress ? try BackupCompression(level: compressionLevel ?? 1) : nil
                    var isDirectory: ObjCBool = false
                    if let to, FileManager.default.fileExists(atPath: to, isDirectory: &isDirectory), !isDirectory.boolValue {
                        throw CLIError(.invalidInput, "--out \(to) is a file, not a directory")
                    }
                    return (recipient, compression)
                }, { input, vault, context in
                    let summary = try vault.backups.create(to: to.map { URL(fileURLWithPath: $0) }, recoveryKey: input.0, compression: input.1,
                                                         context: context) { done, total in
                        progress.update("\(done * 100 / max(total, 1))% of \(total / 1_000_000) MB")
                    }
                    progress.finish()
                    return Result(ok: true, backup: summary)
                }, text: { result in
                        let summary = result.backup
                    Output.standardOutput("backup \(summary.id): \(summary.file)")
                    Output.standardOutput("  \(summary.plaintextBytes) bytes of store in \(summary.chunks) chunks (\(summary.manifest.subjects) subjects, \(summary.manifest.auditEvents) audit events, \(summary.manifest.tombstones) tombstones); snapshot \(String(format: "%.2f", summary.snapshotSeconds)) s, encryption \(String(format: "%.2f", summary.encryptSeconds)) s\(summary.recoverySealed ? "; sealed to the recovery key too" : "")")
                    if let packed = summary.manifest.compressedBytes {
                        Output.standardOutput("  compressed to \(packed) bytes (\(packed * 100 / max(summary.plaintextBytes, 1))% of the store)")
                    }
                })
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "List backups (manifests are read without any secret).", discussion: Examples.section("backup list"))
            @Option(name: .long, help: ArgumentHelp("The backup directory (default: <vault>/Backups).", valueName: "dir")) var dir: String?
            @OptionGroup var vault: VaultOptions
            @OptionGroup var ignoredSecret: IgnoredSecretOptions
            @OptionGroup var output: OutputOptions

            /// A backup's id is `id` here as in `backup create`; the manifest in snake_case.
            struct Entry: Encodable {
                let file: String
                let manifest: BackupManifest?
                enum CodingKeys: String, CodingKey { case file, id, manifest }
                func encode(to encoder: any Encoder) throws {
                    var c = encoder.container(keyedBy: CodingKeys.self)
                    try c.encode(file, forKey: .file)
                    try c.encodeIfPresent(manifest?.backupID, forKey: .id)
                    try c.encodeIfPresent(manifest.map(SnakeCaseKeys.init), forKey: .manifest)
                }
            }
            struct Result: Encodable { let ok: Bool; let backups: [Entry] }

            func run() throws {
                ignoredSecret.noteIgnored(by: "backup list")
                try Output.run(json: output.json) {
                    let directory = try dir ?? (vault.existingDirectory().path + "/" + VaultBackups.backupsDirectoryName)
                    let entries = BackupFiles.list(in: directory).map { path in
                        Entry(file: path, manifest: try? VaultBackups.manifest(at: URL(fileURLWithPath: path)))
                    }
                    if output.json { try Output.json(Result(ok: true, backups: entries)) } else {
                        for e in entries {
                            if let m = e.manifest {
                                Output.standardOutput("\(m.backupID)  \(m.createdAt)  \(m.plaintextBytes) bytes  \(m.subjects) subjects  \(e.file)")
                            } else {
                                Output.standardOutput("?  (manifest unreadable: damaged or cut)  \(e.file)")
                            }
                        }
                        if entries.isEmpty { Output.standardOutput("no backups in \(directory)") }
                    }
                }
            }
        }

        struct Verify: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Read and authenticate every chunk and the manifest of a backup; restore nothing.",
                discussion: Examples.discussion("Exit status 0 when the backup is whole, 69 (integrity) or 67 (wrong key) with what is wrong and where. `latest` is the newest backup in --dir (default <vault>/Backups): what a nightly check verifies.", "backup verify"))
            @Argument(help: ArgumentHelp("The backup file, its id (in --dir), or latest (the newest there).", valueName: "id|file|latest")) var backup: String
            @Option(name: .long, help: ArgumentHelp("Where to look for an id or latest (default: <vault>/Backups).", valueName: "dir")) var dir: String?
            @OptionGroup var recovery: RecoveryOptions
            @OptionGroup var options: VaultCommandOptions

            func run() throws {
                try Output.run(json: options.output.json) {
                    let result: BackupVerification
                    let progress = Progress(label: "verify")
                    let report: (Int64, Int64) -> Void = { done, total in progress.update("\(done * 100 / max(total, 1))% of \(total / 1_000_000) MB") }
                    if let keyFile = recovery.recoveryKeyFile {
                        let key = try RecoveryKey.read(at: keyFile)
                        result = VaultBackups.verify(at: try BackupInfo.resolve(backup, vault: options.vault, dir: dir), recoveryKey: key,
                                                     expectedIdentity: try recovery.expected(), allowUnbound: recovery.allowUnbound, progress: report)
                    } else {
                        guard recovery.expectIdentity == nil, !recovery.allowUnbound else {
                            throw CLIError(.usage, "--expect-identity and --allow-unbound-backup go with --recovery-key-file: with the root secret, a vault checks its backups against its own identity")
                        }
                        result = try options.session { vault, context in
                            try vault.backups.verify(at: try BackupInfo.resolve(backup, vault: options.vault, dir: dir), context: context, progress: report)
                        }
                    }
                    progress.finish()
                    if options.output.json { try Output.json(result) } else if result.ok, let m = result.manifest {
                        Output.standardOutput("backup \(m.backupID) of vault \(m.vaultID) (\(m.createdAt)) is whole: \(result.chunksRead) chunks, \(result.plaintextBytes) bytes, manifest signature valid")
                    }
                    if !result.ok {
                        if !options.output.json { Output.standardError("privacyctl: backup verify: \(result.problem ?? "?")") }
                        throw ExitCode((ExitStatus.allCases.first { $0.name == result.code } ?? .integrity).rawValue)
                    }
                }
            }
        }

        struct Restore: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Restore a backup into a new vault directory, replay erasures made since, and verify its audit log.",
                discussion: Examples.discussion("""
                    Never writes over a vault: --out must not exist or be empty. Erasures recorded after the backup come from \
                    --vault (the live vault, the default when given) or --ledger FILE (from `backup export-ledger`); --no-ledger \
                    only when neither exists. Any backup restores into either store: a SQLite file in --out (the default), or \
                    with --store postgres://… an empty PostgreSQL schema. With --recovery-key-file the restored vault gets a new root secret \
                    (--new-key-file / --new-passphrase-file).
                    """, "backup restore"))
            @Argument(help: ArgumentHelp("The backup file, or its id (in <vault>/Backups).", valueName: "id|file")) var backup: String
            @Option(name: .long, help: ArgumentHelp("The new vault directory.", valueName: "dir")) var out: String?
            @Option(name: .customLong("to"), help: .hidden) var oldTo: String?
            @Option(name: .long, help: ArgumentHelp("A signed erasure ledger to replay instead of the live vault's.", valueName: "file")) var ledger: String?
            @Flag(name: .customLong("no-ledger"), help: "Replay no erasures (only when the live vault and every ledger are lost).") var noLedger = false
            @Option(name: .customLong("new-key-file"), help: ArgumentHelp("The restored vault's root key file.", valueName: "file")) var newKeyFile: String?
            @Option(name: .customLong("new-passphrase-file"), help: ArgumentHelp("The restored vault's passphrase file.", valueName: "file")) var newPassphraseFile: String?
            @OptionGroup var recovery: RecoveryOptions
            @OptionGroup var storeOptions: StoreOptions
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let restore: RestoreSummary }

            func run() throws {
                try Output.run(json: options.output.json) {
                    guard let to = try RenamedOption.pick(out, oldTo, new: "--out", old: "--to") else {
                        throw CLIError(.usage, "say where to restore: --out DIR (a new vault directory)")
                    }
                    let newRoot: RootKey? = try newKeyFile.map { try .keyFile(at: $0) } ?? newPassphraseFile.map { try .passphraseFile(at: $0) }
                    let file = try BackupInfo.resolve(backup, vault: options.vault)
                    let context = try options.accessContext()
                    let access: BackupAccess
                    var live: Vault?
                    let expected = try recovery.expected()
                    if let keyFile = recovery.recoveryKeyFile {
                        access = .recoveryKey(try RecoveryKey.read(at: keyFile))
                    } else {
                        access = .rootKey(try options.rootKey.resolve())
                    }
                    let source: TombstoneSource
                    if let ledger {
                        source = .ledger(URL(fileURLWithPath: ledger))
                    } else if noLedger {
                        source = .none
                    } else {
                        guard (try? options.vault.directory()) != nil else {
                            throw CLIError(.usage, "say where erasures since the backup come from: --vault (the live vault), --ledger FILE, or --no-ledger")
                        }
                        let vault = try options.openVault()
                        live = vault
                        source = .vault(vault)
                    }
                    let progress = Progress(label: "restore")
                    let summary = try VaultBackups.restore(from: file, to: URL(fileURLWithPath: to), access: access, newRootKey: newRoot,
                                                          tombstones: source, expectedIdentity: expected, allowUnbound: recovery.allowUnbound, context: context, store: try storeOptions.backend()) { done, total in
                        progress.update("\(done * 100 / max(total, 1))%")
                    }
                    progress.finish()
                    try live?.audit.checkpointIfNeeded()
                    if options.output.json { try Output.json(Result(ok: true, restore: summary)) } else {
                        Output.standardOutput("restored backup \(summary.backupID) into \(summary.directory): \(summary.subjects) subjects; \(summary.replayedErasures) erasures since the backup replayed, \(summary.tombstonesAdded) tombstones added, \(summary.replayedFieldVersions) destroyed field versions replayed; audit log verified")
                    }
                }
            }
        }

        struct Prune: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Delete this vault's backups older than --keep-days (each deletion audited).", discussion: Examples.section("backup prune"))
            @Option(name: .customLong("keep-days"), help: ArgumentHelp("Keep backups this many days old or newer.", valueName: "n")) var keepDays: Int
            @Option(name: .long, help: ArgumentHelp("The backup directory (default: <vault>/Backups).", valueName: "dir")) var dir: String?
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let removed: [String] }

            func run() throws {
                try options.run({ vault, context in
                    Result(ok: true, removed: try vault.backups.prune(in: dir.map { URL(fileURLWithPath: $0) }, keepDays: keepDays, context: context))
                }, text: { result in
                    Output.standardOutput(lines: result.removed.map { "removed \($0)" })
                    Output.standardOutput("\(result.removed.count) backups older than \(keepDays) days removed")
                })
            }
        }

        struct ExportLedger: ParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "export-ledger",
                abstract: "Write the vault's tombstones and destroyed field versions as a signed erasure ledger, for restoring a backup on another host.", discussion: Examples.section("backup export-ledger"))
            @Argument(help: ArgumentHelp("The file to write.", valueName: "file")) var file: String
            @OptionGroup var options: VaultCommandOptions

            struct Result: Encodable { let ok: Bool; let file: String; let tombstones: Int }

            func run() throws {
                try options.run(prepare: { try SecureFiles.checkWritableDestination(file, what: "the ledger file") }, { _, vault, context in
                    let ledger = try vault.backups.exportErasureLedger(context: context)
                    try SecureFiles.writePrivate(Array(try ledger.json()), to: file, what: "the ledger file")
                    return Result(ok: true, file: file, tombstones: ledger.tombstones.count)
                }, text: { Output.standardOutput("wrote \($0.tombstones) tombstones to \(file) (signed)") })
            }
        }

        struct RecoveryKeypair: ParsableCommand, OpensVaultAsOperator {
            static let configuration = CommandConfiguration(
                commandName: "recovery-keypair",
                abstract: "Make an offline recovery key pair: PREFIX.pub for `backup create --recovery-key`, PREFIX.key (0600) to keep offline.",
                discussion: Examples.discussion("""
                    With a vault (--vault or PRIVACYKIT_VAULT, and its root secret), PREFIX.key is pinned to the vault's identity: \
                    restores and verifications with it accept only backups that vault made. Without one the key is not pinned, and \
                    each use must name the vault with --expect-identity.
                    """, "backup recovery-keypair"))
            @Option(name: .long, help: ArgumentHelp("Path prefix of the two files.", valueName: "prefix")) var out: String
            @OptionGroup var access: VaultAccessOptions
            @OptionGroup var output: OutputOptions

            /// The key files, and the vault they are pinned to (absent when not pinned).
            struct Result: Encodable {
                let publicKey: String
                let secretKey: String
                let fingerprint: String
                let vaultID: String?
                let identity: String?

                enum CodingKeys: String, CodingKey {
                    case fingerprint
                    case publicKey = "public_key", secretKey = "secret_key", vaultID = "vault_id", identity = "pinned_identity"
                }
            }

            func run() throws {
                try Output.run(json: output.json) {
                    var pin: VaultIdentity?
                    if (try? vault.directory()) != nil {
                        pin = try session { vault, _ in
                            guard let identity = vault.keys.identity else {
                                throw CLIError(.invalidInput, "vault \(vault.id) has no identity key yet (made before identities): run `privacyctl upgrade` on it first, then make the recovery key pair")
                            }
                            return identity
                        }
                    }
                    let files = try RecoveryKey.generate(prefix: out, pinnedTo: pin)
                    if output.json { try Output.json(Result(publicKey: files.publicKeyPath, secretKey: files.secretKeyPath, fingerprint: files.fingerprint,
                                                                  vaultID: pin?.vaultID.hex, identity: pin?.fingerprint)) } else {
                        Output.standardOutput("public key \(files.publicKeyPath), private key \(files.secretKeyPath) (fingerprint \(files.fingerprint)): keep the private key offline")
                        if let pin {
                            Output.standardOutput("  pinned to vault \(pin.vaultID), identity \(pin.fingerprint)")
                        } else {
                            Output.standardError("privacyctl: note: not pinned to a vault (no --vault given): restores with it need --expect-identity")
                        }
                    }
                }
            }
        }
    }
}

/// Backup ids and files on the command line.
enum BackupInfo {
    /// A file path, or a backup id found in `<vault>/Backups`.
    static func resolve(_ text: String, vault: VaultOptions, dir: String? = nil) throws -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isDirectory) {
            // A directory is a wrong argument, not a damaged backup (69).
            guard !isDirectory.boolValue else { throw CLIError(.invalidInput, "\(text) is a directory, not a backup file") }
            return URL(fileURLWithPath: text)
        }
        let directory = dir ?? (try? vault.directory().path + "/" + VaultBackups.backupsDirectoryName)
        if text == "latest" {
            guard let directory, let newest = BackupFiles.list(in: directory).first else {
                throw CLIError(.notFound, "no backup in \(directory ?? "the vault's Backups/") to verify as latest")
            }
            return URL(fileURLWithPath: newest)
        }
        let isID = text.hasPrefix(BackupFiles.idPrefix)
        if isID, let directory, let path = BackupFiles.find(id: text, in: directory) {
            return URL(fileURLWithPath: path)
        }
        if isID { _ = try vault.existingDirectory() }
        throw CLIError(.notFound, "no backup \(text) (a file, or an id in the vault's Backups/)")
    }
}
