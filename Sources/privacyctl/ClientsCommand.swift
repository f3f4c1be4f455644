import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Clients: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register, list, rotate and revoke the services privacyd serves.",
            discussion: """
                A client is a service that calls privacyd: it acts in one role of access.yaml, for the \
                purposes it was given, and authenticates with a bearer token (printed once by `add` and \
                `rotate`; the vault keeps only a keyed hash) or a TLS client certificate. Managing \
                clients needs the `keys` action. `--role` and `--purpose` describe the client, so the \
                operator's own role and purpose are `--acting-as` and `--acting-for`.
                """,
            subcommands: [Add.self, List.self, Rotate.self, Revoke.self]
        )
    }
}

/// The options every clients command shares: `--role` and `--purpose` describe the client
/// in `add`, so the operator's own are `--acting-as` and `--acting-for` (as consent's
/// `--acting-for`).
struct ClientsOptions: ParsableArguments, OpensVault {
    @OptionGroup var vault: VaultOptions
    @OptionGroup var rootKey: RootKeyOptions
    @Option(name: .long, help: ArgumentHelp("Who is acting (default: $PRIVACYKIT_ACTOR, else the OS user).", valueName: "name"))
    var actor: String?
    @Option(name: .customLong("acting-as"), help: ArgumentHelp("The operator's role (default: the vault's privacyctl.yaml, else admin).", valueName: "role"))
    var actingAs: String?
    @Option(name: .customLong("acting-for"), help: ArgumentHelp("The purpose the operator acts for (default: the vault's privacyctl.yaml).", valueName: "purpose"))
    var actingFor: String?
    @OptionGroup var output: OutputOptions

    func accessContext() throws -> AccessContext {
        try ContextOptions.resolve(actor: actor, role: actingAs, purpose: actingFor, vault: vault)
    }
}

enum ClientsOutput {
    struct Issued: Encodable {
        let ok = true
        let client: Client
        /// Shown once: the vault cannot show it again.
        let token: String
    }

    struct One: Encodable {
        let ok = true
        let client: Client
    }

    struct Many: Encodable {
        let ok = true
        let count: Int
        let clients: [Client]
    }

    static func summary(_ c: Client) -> String {
        let state = c.revokedAt.map { "revoked \($0)" } ?? c.expiresAt.map { "expires \($0)" } ?? "no expiry"
        return "\(c.name)  role \(c.role)  purposes \(c.purposes.joined(separator: ","))  token v\(c.tokenVersion)  \(state)"
            + (c.certificateSubject.map { "  certificate \($0)" } ?? "")
    }

    static func issued(_ result: Issued) {
        Output.standardOutput(lines: [summary(result.client), "token (shown once; give it to the service, e.g. as PRIVACYKIT_TOKEN):", result.token])
    }
}

extension Privacyctl.Clients {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client and print its token once.",
            discussion: Examples.section("clients add"))
        @OptionGroup var options: ClientsOptions
        @Argument(help: ArgumentHelp("The client's name: lower-case letters, digits and '-'.", valueName: "name")) var name: String
        @Option(name: .long, help: ArgumentHelp("The role it acts in, from access.yaml.", valueName: "role")) var role: String
        @Option(name: .long, parsing: .upToNextOption, help: ArgumentHelp("Purposes it may act for (its role's, one or more).", valueName: "purpose"))
        var purpose: [String]
        @Option(name: .long, help: ArgumentHelp("How long its token works (ISO 8601: P90D, P1Y); default: until revoked.", valueName: "duration"))
        var expires: String?
        @Option(name: .customLong("certificate-subject"), help: ArgumentHelp("Also accept a TLS client certificate with this subject (RFC 4514: CN=orders,O=Example).", valueName: "subject"))
        var certificateSubject: String?

        func run() throws {
            try options.run(prepare: {
                try expires.map { text in
                    guard let duration = ISODuration(text), !duration.isZero else {
                        throw CLIError(.invalidInput, "--expires: '\(text)' is not an ISO 8601 duration longer than zero (P90D, P1Y, PT12H)")
                    }
                    return duration
                }
            }, { duration, vault, context in
                let issued = try vault.clients.add(name: name, role: role, purposes: purpose, expiresAfter: duration,
                                                   certificateSubject: certificateSubject, context: context)
                return ClientsOutput.Issued(client: issued.client, token: issued.token)
            }, text: ClientsOutput.issued)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List clients, revoked ones too.", discussion: Examples.section("clients list"))
        @OptionGroup var options: ClientsOptions

        func run() throws {
            try options.run({ vault, context in
                let clients = try vault.clients.list(context: context)
                return ClientsOutput.Many(count: clients.count, clients: clients)
            }, text: { Output.standardOutput(lines: $0.clients.map(ClientsOutput.summary) + ["\($0.count) clients"]) })
        }
    }

    struct Rotate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a client a new token (printed once); the old one stops working at once.", discussion: Examples.section("clients rotate"))
        @OptionGroup var options: ClientsOptions
        @Argument(help: ArgumentHelp("The client's name.", valueName: "name")) var name: String

        func run() throws {
            try options.run({ vault, context in
                let issued = try vault.clients.rotate(name: name, context: context)
                return ClientsOutput.Issued(client: issued.client, token: issued.token)
            }, text: ClientsOutput.issued)
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a client: its token and certificate stop working at once.", discussion: Examples.section("clients revoke"))
        @OptionGroup var options: ClientsOptions
        @Argument(help: ArgumentHelp("The client's name.", valueName: "name")) var name: String

        func run() throws {
            try options.run({ vault, context in
                ClientsOutput.One(client: try vault.clients.revoke(name: name, context: context))
            }, text: { Output.standardOutput(lines: [ClientsOutput.summary($0.client)]) })
        }
    }
}
