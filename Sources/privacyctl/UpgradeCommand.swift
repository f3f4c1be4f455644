import ArgumentParser
import Foundation
import PrivacyKit

/// `privacyctl upgrade`: carries a vault made by an older PrivacyKit over to this build's
/// format, explicitly and audited (a format change is never applied on open).
struct Upgrade: ParsableCommand, OpensVaultAsOperator {
    static let configuration = CommandConfiguration(
        abstract: "Carry a vault made by an older PrivacyKit over to this build's format (audited).",
        discussion: Examples.discussion("""
            Verifies the old audit log first and refuses a log that does not verify. With \
            --dry-run, says what it would change and changes nothing. Running it on a current \
            vault changes nothing; running it again after an interruption finishes the job. \
            Back the vault up first (`backup create`): backups made before the upgrade restore \
            into a format-1 vault, which needs this command again.
            """, "upgrade"))

    @OptionGroup var access: VaultAccessOptions
    @Flag(name: .customLong("dry-run"), help: "Say what would change; change nothing.") var dryRun = false
    @OptionGroup var output: OutputOptions

    func run() throws {
        try Output.run(json: output.json) {
            let report = try VaultUpgrade.upgrade(at: vault.directory(), rootKey: rootKey.resolve(), dryRun: dryRun, context: accessContext())
            if output.json { return try Output.json(report) }
            if report.steps.isEmpty {
                Output.standardOutput("Vault \(report.vaultID) is already format \(report.toFormat): nothing to do.")
                return
            }
            Output.standardOutput("\(report.dryRun ? "Would upgrade" : "Upgraded") vault \(report.vaultID) from format \(report.fromFormat) to \(report.toFormat) (\(report.auditEventsVerified) audit events verified first):")
            for step in report.steps { Output.standardOutput("  - \(step)") }
        }
    }
}
