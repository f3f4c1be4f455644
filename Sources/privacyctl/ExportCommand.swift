import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a subject's access / portability package, optionally sealed to the requester's public key.",
            discussion: """
                `privacyctl export SUBJECT --out DIR` writes the subject's fields, consent history and \
                every access to its data (JSON and CSV), what is done with its data under GDPR art. 15(1)-(2) \
                (about.json and about.txt: purposes and lawful basis, recipients, transfers, retention and \
                until when, rights, sources, automated decisions, from processing.yaml), a SHA-256 manifest \
                and SHA256SUMS into a new directory. With --seal-to KEY.pub every file is sealed to the requester's key: they \
                make it with `export keypair` and open the package with `export open`. Exports are \
                audited and need a role that holds `export`.
                """,
            subcommands: [Subject.self, Open.self, Keypair.self],
            defaultSubcommand: Subject.self
        )
    }
}

extension Privacyctl.Export {
    struct Subject: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a subject's package into a new directory (the default: `export SUBJECT --out DIR`).",
            discussion: Examples.discussion("The directory must not exist or be empty; it is made 0700, its files 0600, and appears only when complete.", "export subject"))
        @OptionGroup var options: VaultCommandOptions
        @Argument(help: ArgumentHelp("The subject id.", valueName: "subject")) var subject: String
        @Option(name: .long, help: ArgumentHelp("The package directory to create.", valueName: "dir")) var out: String
        @Option(name: .customLong("seal-to"), help: ArgumentHelp(
            "Seal every file to this X25519 public key (a file: base64url or hex text, as `export keypair` writes); no plaintext is written.",
            valueName: "file"))
        var sealTo: String?
        @Option(name: .long, help: ArgumentHelp("The data-subject request id it answers (access or portability).", valueName: "id")) var request: String?

        func run() throws {
            // The key first: a bad key file is reported before the vault is opened.
            try options.run(request: request, prepare: { try sealTo.map(SubjectExport.readPublicKey(at:)) }, { recipient, vault, context in
                ExportOutput(try vault.requests.exportSubject(subject, to: URL(fileURLWithPath: out), sealedTo: recipient, context: context))
            }, text: { result in
                let summary = result.body
                let manifest = summary.manifest
                Output.standardOutput("exported \(subject) to \(summary.directory): \(summary.written.count) files, \(summary.bytes) bytes, "
                    + (manifest.sealedTo.map { "sealed to key \($0)" } ?? "not sealed (plaintext: keep it safe)"))
                var fields = "fields: \(manifest.fields.isEmpty ? "none" : manifest.fields.joined(separator: ", "))"
                if !manifest.masked.isEmpty { fields += "; masked: \(manifest.masked.joined(separator: ", "))" }
                if !manifest.withheld.isEmpty { fields += "; withheld (not readable by role \(try options.accessContext().role)): \(manifest.withheld.joined(separator: ", "))" }
                Output.standardOutput(fields)
                Output.standardOutput("\(summary.consentEvents) consent events, \(summary.accessEvents) access events (audit event #\(manifest.auditSeq))")
                // The package is still an answer, but not a complete one under GDPR art. 15(1): the operator must know before sending it.
                if !summary.processingDescribed {
                    Output.standardError("privacyctl: warning: about.json says the controller has not described its processing "
                        + "(no purposes, recipients, transfers, sources or automated decisions): \(summary.processingProblem ?? "no valid processing.yaml")")
                }
            })
        }
    }

    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open a sealed package with the requester's secret key into a new directory, checking every file against its manifest.",
            discussion: Examples.discussion("Nothing is written unless every file opens and matches the SHA-256 hashes in the manifest.", "export open"))
        @Argument(help: ArgumentHelp("The sealed package directory.", valueName: "dir")) var directory: String
        @Option(name: .customLong("secret-key"), help: ArgumentHelp("The secret key file (`export keypair` wrote it; mode 0600).", valueName: "file"))
        var secretKey: String
        @Option(name: .long, help: ArgumentHelp("The directory to create for the opened files.", valueName: "dir")) var out: String
        @OptionGroup var output: OutputOptions

        struct Opened: Encodable {
            let directory: String
            let manifest: SubjectExportManifest
        }

        func run() throws {
            try Output.run(json: output.json) {
                let keyPair = try SubjectExport.readSecretKey(at: secretKey)
                let target = URL(fileURLWithPath: out)
                let manifest = try SubjectExport.openSealed(URL(fileURLWithPath: directory), keyPair: keyPair, to: target)
                let opened = Opened(directory: target.standardizedFileURL.path, manifest: manifest)
                if output.json { try Output.json(ExportOutput(opened)); return }
                Output.standardOutput("opened the export of \(manifest.subject) (vault \(manifest.vaultID), \(manifest.createdAt)) into \(opened.directory): "
                    + "\(manifest.files.count + 2) files, every one matching the manifest")
            }
        }
    }

    struct Keypair: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an X25519 key pair for receiving sealed packages: PREFIX.pub (give it to the exporter) and PREFIX.key (mode 0600, keep it).", discussion: Examples.section("export keypair"))
        @Option(name: .long, help: ArgumentHelp("Where to write PREFIX.pub and PREFIX.key (neither may exist).", valueName: "prefix")) var out: String
        @OptionGroup var output: OutputOptions

        func run() throws {
            try Output.run(json: output.json) {
                let keys = try SubjectExport.generateKeyPair(prefix: out)
                if output.json { try Output.json(ExportOutput(keys)); return }
                Output.standardOutput("public key \(keys.publicKeyPath) (fingerprint \(keys.fingerprint)); secret key \(keys.secretKeyPath) (mode 0600)")
            }
        }
    }
}

/// `{"ok": true, …}` followed by the members of `body`: one flat JSON object.
struct ExportOutput<Body: Encodable>: Encodable {
    let body: Body

    init(_ body: Body) { self.body = body }

    enum CodingKeys: String, CodingKey { case ok }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(true, forKey: .ok)
        try body.encode(to: encoder)
    }
}
