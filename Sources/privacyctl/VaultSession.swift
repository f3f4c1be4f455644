import PrivacyKit

/// Opening the vault the way every command does.
enum VaultSession {
    /// Opens the vault with the command's root secret and identity. A wrong secret is
    /// recorded in the audit log as a failed unlock before the error reaches the user.
    static func open(_ vault: VaultOptions, _ rootKey: RootKeyOptions, _ context: ContextOptions) throws -> Vault {
        try Vault.open(at: vault.directory(), rootKey: rootKey.resolve(), context: context.resolved(vault))
    }
}
