import ArgumentParser

@main
struct Privacyctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacyctl",
        abstract: "Administer a PrivacyKit vault: encrypted customer PII, its keys, consent, retention, audit and backups.",
        discussion: """
            Every command that works on a vault takes --vault DIR (or PRIVACYKIT_VAULT) and the
            root secret from --key-file F, --passphrase-file F, PRIVACYKIT_KEY_FILE or
            PRIVACYKIT_PASSPHRASE, else asks on the terminal. --json prints one JSON object on
            standard output for scripts; diagnostics go to standard error. Exit codes are listed
            in the README.
            """,
        version: "0.1.0",
        subcommands: [Init.self, Keys.self]
    )
}
