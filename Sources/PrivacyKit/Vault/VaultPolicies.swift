/// The parsed policy files of a vault (`Policies/`): what every decision is checked
/// against. Loaded at open; a vault whose policies do not load is not opened at all.
public struct VaultPolicies: Sendable {
    /// The record schema, from `schema.yaml`.
    public let schema: Schema
    /// The purposes, from `purposes.yaml`.
    public let purposes: PurposeSet
    /// Roles, from `access.yaml`: every capability is checked against it.
    public let access: AccessPolicy
    /// Categories and rules, from `retention.yaml`: what sweeps apply.
    public let retention: RetentionPolicy
    /// What the controller sets where the laws leave it open, from `regimes.yaml` (optional).
    public let regimes: RegimePolicy

    /// The record of processing activities, from `processing.yaml`: nil when the vault has
    /// none or it does not load (`processingProblem` says which). Nothing the vault
    /// decides depends on it, so it never stops a vault from opening; `ropa` needs it.
    public let processing: ProcessingPolicy?
    /// Why ``processing`` is nil: `.notFound` for a vault without the file, else the file's
    /// first error.
    let processingProblem: PrivacyKitError?

    init(vaultDirectory: String) throws {
        let directory = vaultDirectory + "/" + VaultLayout.policiesDirectoryName
        schema = try Schema.load(from: directory)
        purposes = try PurposeSet.load(from: directory)
        access = try AccessPolicy.load(from: directory, schema: schema, purposes: purposes)
        retention = try RetentionPolicy.load(from: directory, schema: schema, purposes: purposes)
        (processing, processingProblem) = ProcessingPolicy.loadForVault(from: directory, schema: schema, purposes: purposes, retention: retention)
        regimes = try RegimePolicy.load(from: directory)
    }
}
