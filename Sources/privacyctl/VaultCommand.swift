import ArgumentParser
import PrivacyKit

/// Where the vault is, its root secret, and who acts (`--actor`, `--role`, `--purpose`):
/// the same flags, with the same help, in every command that opens the vault as an operator.
struct VaultAccessOptions: ParsableArguments {
    @OptionGroup var vault: VaultOptions
    @OptionGroup var rootKey: RootKeyOptions
    @OptionGroup var context: ContextOptions
}

/// The options of most commands that open the vault: ``VaultAccessOptions`` and `--json`.
struct VaultCommandOptions: ParsableArguments, OpensVaultAsOperator {
    @OptionGroup var access: VaultAccessOptions
    @OptionGroup var output: OutputOptions
}

/// A command that opens the vault as an operator. Commands whose own options stand
/// between the access options and `--json` in their help declare the two groups
/// themselves and conform.
protocol OpensVaultAsOperator: OpensVault {
    var access: VaultAccessOptions { get }
}

extension OpensVaultAsOperator {
    var vault: VaultOptions { access.vault }
    var rootKey: RootKeyOptions { access.rootKey }

    func accessContext() throws -> AccessContext { try access.context.resolved(access.vault) }
}

/// A command that opens the vault. Those whose identity options differ (consent's
/// `--acting-for`; the audit and breach queries, where `--actor` filters) conform directly.
protocol OpensVault {
    var vault: VaultOptions { get }
    var rootKey: RootKeyOptions { get }
    var output: OutputOptions { get }

    /// Who acts: recorded in every audit event the command writes.
    func accessContext() throws -> AccessContext
}

extension OpensVault {
    /// Opens the vault as ``accessContext()``. A wrong secret is recorded in the audit log
    /// as a failed unlock before the error reaches the user. The caller signs a checkpoint
    /// when done: prefer ``session(request:_:)``, which does.
    func openVault(as context: AccessContext? = nil) throws -> Vault {
        try Vault.open(at: vault.directory(), rootKey: rootKey.resolve(), context: context ?? accessContext())
    }

    /// Opens the vault, runs `body` and signs a checkpoint over the events it wrote, so no
    /// command leaves an unsigned tail. `request` names the data-subject request the
    /// command answers, in its audit events.
    func session<T>(request: String? = nil, _ body: (Vault, AccessContext) throws -> T) throws -> T {
        var context = try accessContext()
        if let request { context.requestID = request }
        let opened = try openVault(as: context)
        let result = try body(opened, context)
        try opened.audit.checkpointIfNeeded()
        return result
    }

    /// A whole command: `prepare` checks and reads its input before the vault is opened (a
    /// bad argument costs no unlock and no audit event), then ``session(request:_:)`` runs
    /// `body`, and its result is printed as one JSON object with `--json`, else by `text`.
    /// Every failure becomes the documented exit code (see ``Output/run(json:_:)``).
    func run<Input, Result: Encodable>(
        request: String? = nil, prepare: () throws -> Input,
        _ body: (Input, Vault, AccessContext) throws -> Result, text: (Result) throws -> Void
    ) throws {
        try Output.run(json: output.json) {
            let input = try prepare()
            let result = try session(request: request) { vault, context in try body(input, vault, context) }
            if output.json { try Output.json(result) } else { try text(result) }
        }
    }

    /// ``run(request:prepare:_:text:)`` for a command with nothing to check first.
    func run<Result: Encodable>(
        request: String? = nil, _ body: (Vault, AccessContext) throws -> Result, text: (Result) throws -> Void
    ) throws {
        try run(request: request, prepare: {}, { _, vault, context in try body(vault, context) }, text: text)
    }
}
