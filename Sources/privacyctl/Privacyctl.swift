import ArgumentParser
import PrivacyKitPostgres

@main
struct Privacyctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacyctl",
        abstract: "Administer a PrivacyKit vault: encrypted customer records, their keys, and the audit log.",
        discussion: """
            Every command that works on a vault takes --vault DIR (or PRIVACYKIT_VAULT) and the \
            root secret from --key-file F, --passphrase-file F, PRIVACYKIT_KEY_FILE or \
            PRIVACYKIT_PASSPHRASE, else asks on the terminal; --actor, --role and --purpose are \
            recorded in the audit log. --json prints one JSON object on standard output for \
            scripts; diagnostics go to standard error. Exit codes are listed in the README.
            """ + "\n\n" + Examples.section(""),
        version: "0.1.0",
        subcommands: [
            Init.self, Keys.self, Import.self, Records.self, Quality.self, Consent.self, Audit.self, Access.self, Policy.self,
            Holds.self, Erase.self, Restrict.self, Sweep.self, Retention.self, Requests.self, Export.self, Breach.self, Backup.self,
            Report.self, Ropa.self, Upgrade.self, Clients.self, Status.self,
        ]
    )

    /// argument-parser's `main`, plus a JSON error object for parse and validation errors
    /// when `--json` was asked for, so scripts get JSON whatever went wrong.
    static func main() {
        // Vaults whose store.url names postgres:// open through it.
        PostgresBackend.register()
        do {
            let arguments = Array(CommandLine.arguments.dropFirst())
            if let repeated = CommandLineChecks.repeatedOption(arguments) { throw ValidationError(repeated) }
            var command: any ParsableCommand
            do {
                command = try parseAsRoot()
            } catch {
                // A mistyped subcommand otherwise reads "Unexpected argument 'X'", or "Unknown
                // option" for the first option after it.
                if let unknown = CommandLineChecks.unknownCommand(arguments, in: message(for: error)) { throw ValidationError(unknown) }
                throw error
            }
            try command.run()
        } catch {
            let code = exitCode(for: error)
            // ExitCode errors come from Output.run, which has reported them already.
            if !(error is ExitCode), code != .success, CommandLine.arguments.contains("--json") {
                let status = ExitStatus(rawValue: code.rawValue) ?? .failure
                Output.jsonError(status: status, code: status.name, message: message(for: error))
            }
            exit(withError: error)
        }
    }
}
