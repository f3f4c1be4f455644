import Foundation

/// The examples at the end of each command's help (and so of the man page). One table, so a
/// test can parse every example against the real commands: an example that names a flag
/// which no longer exists fails the build's tests instead of misleading an operator.
///
/// Most examples assume the vault and its root secret come from the environment, as in a
/// service account's profile:
///
///     export PRIVACYKIT_VAULT=/srv/crm-vault PRIVACYKIT_KEY_FILE=/etc/privacykit/root.key
enum Examples {
    static let table: KeyValuePairs<String, [String]> = [
        "": [
            "export PRIVACYKIT_VAULT=/srv/crm-vault",
            "export PRIVACYKIT_KEY_FILE=/etc/privacykit/root.key",
            "privacyctl init",
            "privacyctl import crm-export.csv",
            "privacyctl records find --field email --value ana@example.com",
            "privacyctl audit verify",
            "privacyctl help records put",
        ],
        "init": [
            "privacyctl init --vault /srv/crm-vault --key-file /etc/privacykit/root.key",
            "privacyctl init --vault /srv/crm-vault --passphrase-file /root/vault.pass --kdf sensitive",
            "privacyctl init --vault /etc/privacykit/crm --key-file /etc/privacykit/root.key --store 'postgres://privacykit@db.internal:5432/crm?schema=vault_crm&sslmode=require'",
        ],
        "keys status": ["privacyctl keys status", "privacyctl keys status --json"],
        "keys rotate-root": [
            "privacyctl keys rotate-root --new-key-file /etc/privacykit/root-2027.key",
            "privacyctl keys rotate-root --key-file old.key --new-passphrase-file /root/new.pass",
        ],
        "keys rotate-kek": ["privacyctl keys rotate-kek", "privacyctl keys rotate-kek --batch-size 500 --json"],
        "keys rotate-index": ["privacyctl keys rotate-index"],
        "keys generate-key-file": ["privacyctl keys generate-key-file /etc/privacykit/root.key"],
        "import": [
            "privacyctl import crm-export.csv",
            "privacyctl import crm.csv --map E-Mail=email --map Name=full_name --id-column customer_no",
            "privacyctl import signups.csv --consent-column newsletter=marketing-email --json",
        ],
        "records put": [
            "privacyctl records put --subject c-1042 --values-file changes.txt",
            "privacyctl records put --subject c-1042 --set country=DE --set city=",
        ],
        "records get": [
            "privacyctl records get --subject c-1042",
            "privacyctl records get --subject c-1042 --field email --role support-agent --purpose customer-support",
            "privacyctl records get --subject c-1042 --subject c-1043 --field email --json",
            "privacyctl records get --subjects-file page.txt --field email --field phone",
        ],
        "records find": [
            "privacyctl records find --field email --value ana@example.com",
            "privacyctl records find --field phone --value '030 1234567' --region DE",
            "privacyctl records find --field national_id --value-file lookup.txt --json",
            "privacyctl records find --field email --value-file - < lookup.txt",
        ],
        "records list": ["privacyctl records list --limit 50", "privacyctl records list --after c-1042 --json"],
        "records delete": ["privacyctl records delete --subject c-1042 --field phone --field city"],
        "quality report": ["privacyctl quality report", "privacyctl quality report --json"],
        "quality duplicates": ["privacyctl quality duplicates", "privacyctl quality duplicates --field phone --json"],
        "consent grant": [
            "privacyctl consent grant --subject c-1042 --purpose marketing-email --channel web-form",
            "privacyctl consent grant --subject c-1042 --purpose marketing-sms --channel app --expires 2027-12-31",
        ],
        "consent withdraw": ["privacyctl consent withdraw --subject c-1042 --purpose marketing-email --channel call-centre"],
        "consent object": [
            "privacyctl consent object --subject c-1042 --purpose profiling --channel web-form",
            "privacyctl consent object --subject c-1042 --gpc",
        ],
        "consent status": [
            "privacyctl consent status --subject c-1042",
            "privacyctl consent status --subject c-1042 --purpose marketing-email --at 2026-01-15",
        ],
        "consent history": ["privacyctl consent history --subject c-1042 --purpose marketing-email"],
        "consent audience": ["privacyctl consent audience --purpose marketing-email --role marketer --acting-for marketing-email --json"],
        "consent counts": ["privacyctl consent counts"],
        "consent receipt": ["privacyctl consent receipt --subject c-1042 --purpose marketing-email --json > receipt.json"],
        "consent verify-receipt": [
            "privacyctl consent verify-receipt receipt.json",
            "privacyctl consent verify-receipt receipt.json --subject c-1042 --public-key=KEY",
        ],
        "audit verify": [
            "privacyctl audit verify",
            "privacyctl audit verify --against checkpoint-2026-11.json --json",
            "privacyctl audit verify --with-secret --key-file /etc/privacykit/root.key",
        ],
        "upgrade": [
            "privacyctl upgrade --dry-run",
            "privacyctl upgrade --key-file /etc/privacykit/root.key --json",
        ],
        "audit checkpoint": ["privacyctl audit checkpoint --out /var/backups/privacykit/checkpoint.json"],
        "audit public-key": ["privacyctl audit public-key"],
        "audit query": [
            "privacyctl audit query --subject c-1042",
            "privacyctl audit query --action record.read --since 2026-11-01 --limit 100 --json",
        ],
        "audit export": ["privacyctl audit export --after-seq 999 --out audit.jsonl"],
        "access check": [
            "privacyctl access check --role support-agent --action read --field email --purpose customer-support",
            "privacyctl access check --role marketer --action export --json",
        ],
        "policy validate": ["privacyctl policy validate", "privacyctl policy validate --directory ./Policies"],
        "policy default": ["privacyctl policy default access.yaml > access.yaml.new"],
        "holds place": [
            "privacyctl holds place --subject c-1042 --reason 'litigation 2026-17'",
            "privacyctl holds place --category customer --reason 'tax audit' --until 2027-06-30",
        ],
        "holds release": ["privacyctl holds release hold-3f2a9c --reason 'case settled'"],
        "holds list": ["privacyctl holds list", "privacyctl holds list --all --json"],
        "erase subject": [
            "privacyctl erase c-1042 --reason 'GDPR art. 17 request' --request dsr-88 --out c-1042-erasure.json",
            "privacyctl erase subject list --reason 'a subject id that is also a subcommand name'",
        ],
        "erase verify-receipt": ["privacyctl erase verify-receipt c-1042-erasure.json --subject c-1042"],
        "erase list": ["privacyctl erase list --json"],
        "restrict place": ["privacyctl restrict c-1042 --reason 'accuracy contested' --request dsr-90"],
        "restrict lift": ["privacyctl restrict lift c-1042 --reason 'address confirmed'"],
        "restrict list": ["privacyctl restrict list"],
        "sweep": [
            "privacyctl sweep --dry-run",
            "privacyctl sweep --json",
            "privacyctl sweep --now 2026-06-01 --limit 1000",
        ],
        "retention report": ["privacyctl retention report", "privacyctl retention report --days 90 --json"],
        "status": [
            "privacyctl status",
            "privacyctl status --witness /mnt/witness/crm.jsonl --max-backup-age PT26H --json",
        ],
        "report": [
            "privacyctl report",
            "privacyctl report --out /srv/reports/vault-2026-12.html --days 30",
            "privacyctl report --now 2026-12-31T23:59:59Z --json",
        ],
        "ropa": [
            "privacyctl ropa",
            "privacyctl ropa --format csv --out /srv/reports/ropa-2026.csv",
            "privacyctl ropa --format json --out ropa.json --force --json",
        ],
        "requests open": [
            "privacyctl requests open --type access --subject c-1042 --regime gdpr",
            "privacyctl requests open --type erasure --subject c-1042 --regime ccpa --received 2026-11-30 --reference ticket-5521",
            "privacyctl requests open --type access --subject c-2077 --regime pdpa-tw",
        ],
        "requests list": ["privacyctl requests list --open", "privacyctl requests list --overdue --json"],
        "requests show": ["privacyctl requests show req-7c1e20"],
        "requests verify-identity": [
            "privacyctl requests verify-identity req-7c1e20 --verified-at 2026-12-01 --method account-login --degree reasonable",
        ],
        "requests extend": ["privacyctl requests extend req-7c1e20 --reason 'complex request: several systems'"],
        "requests close": [
            "privacyctl requests close req-7c1e20 --outcome completed",
            "privacyctl requests close req-7c1e20 --outcome refused --reason 'invoices kept for tax law'",
        ],
        "export subject": [
            "privacyctl export c-1042 --out ./c-1042-export",
            "privacyctl export c-1042 --out ./c-1042-export --seal-to subject.pub",
        ],
        "export open": ["privacyctl export open ./c-1042-export --secret-key subject.key --out ./opened"],
        "export keypair": ["privacyctl export keypair --out subject"],
        "breach open": ["privacyctl breach open --detected-at 2026-11-30T14:05:00Z --summary-file breach-summary.txt"],
        "breach list": ["privacyctl breach list --open"],
        "clients add": [
            "privacyctl clients add orders --role service --purpose order-fulfilment customer-support --expires P1Y",
            "privacyctl clients add helpdesk --role support-agent --purpose customer-support --certificate-subject 'CN=helpdesk,O=Example'",
        ],
        "clients list": ["privacyctl clients list --json"],
        "clients rotate": ["privacyctl clients rotate orders --json"],
        "clients revoke": ["privacyctl clients revoke orders"],
        "breach show": ["privacyctl breach show br-19ab44"],
        "breach close": ["privacyctl breach close br-19ab44 --reason 'contained; keys rotated' --notified-authority-at 2026-12-02T09:00:00Z"],
        "breach affected": [
            "privacyctl breach affected --since 2026-11-29 --until 2026-11-30 --breach br-19ab44",
            "privacyctl breach affected --since 2026-11-29 --until 2026-11-30 --actor svc-orders --json",
        ],
        "breach notify": [
            "privacyctl breach notify br-19ab44 --regime gdpr --regime pipl --since 2026-11-29 --until 2026-11-30 --consequences-file consequences.txt --measures-file measures.txt --persons sealed --seal-to mailer.pub --out /secure/br-19ab44-notices",
            "privacyctl breach notify br-19ab44 --regime pdpa-tw --since 2026-11-29 --until 2026-11-30 --actor svc-orders --consequences-file c.txt --measures-file m.txt --persons csv --out notices --json",
        ],
        "backup create": [
            "privacyctl backup create",
            "privacyctl backup create --out /var/backups/privacykit --recovery-key recovery.pub --compress",
        ],
        "backup list": ["privacyctl backup list", "privacyctl backup list --dir /var/backups/privacykit --json"],
        "backup verify": [
            "privacyctl backup verify bk-5e2c0d9a41b7f3c6",
            "privacyctl backup verify /var/backups/privacykit/2026-12-01T020000Z-bk-5e2c0d9a41b7f3c6.pkb --recovery-key-file recovery.key",
            "privacyctl backup verify backup.pkb --recovery-key-file old-recovery.key --expect-identity 3f9a0c1e5b7d2f4a6c8e0b1d3f5a7c9e",
        ],
        "backup restore": [
            "privacyctl backup restore bk-5e2c0d9a41b7f3c6 --out /srv/crm-vault-restored",
            "privacyctl backup restore backup.pkb --out /srv/crm-vault --recovery-key-file recovery.key --new-key-file new-root.key --ledger ledger.json",
            "privacyctl backup restore bk-5e2c0d9a41b7f3c6 --out /etc/privacykit/crm-restored --store 'postgres://privacykit@db.internal/crm?schema=crm_restored'",
        ],
        "backup prune": ["privacyctl backup prune --keep-days 35"],
        "backup export-ledger": ["privacyctl backup export-ledger /var/backups/privacykit/ledger.json"],
        "backup recovery-keypair": ["privacyctl backup recovery-keypair --out /root/privacykit-recovery --vault /srv/crm-vault"],
    ]

    /// The examples of a command (by its path below `privacyctl`), as help text.
    static func section(_ path: String) -> String {
        guard let examples = table.first(where: { $0.key == path })?.value else { return "" }
        return "Examples:\n" + examples.map(wrapped).joined(separator: "\n")
    }

    /// An example as shell lines of at most 80 columns, continued with a backslash before a
    /// flag: help text is wrapped at 80 columns, and a wrapped command cannot be pasted.
    static func wrapped(_ example: String) -> String {
        let width = 76
        var lines: [String] = []
        var line = "  "
        for (index, group) in example.components(separatedBy: " --").enumerated() {
            let piece = index == 0 ? group : "--" + group
            if line.count > 2, line.count + 1 + piece.count > width {
                lines.append(line + " \\")
                line = "      " + piece
            } else {
                line += (line.count > 2 ? " " : "") + piece
            }
        }
        lines.append(line)
        return lines.joined(separator: "\n")
    }

    /// A command's discussion followed by its examples.
    static func discussion(_ text: String, _ path: String) -> String {
        text + "\n\n" + section(path)
    }
}
