import Foundation
import PrivacyKit
import Sodium

/// What `init` and `keys status` print: the vault, how its keyring is sealed, its keys.
struct KeyReport: Encodable {
    struct Root: Encodable {
        let kind: String
        let kdf: String?
        let opslimit: UInt64?
        let memlimit: UInt64?
    }

    let ok = true
    let vault: String
    let vaultID: String
    let createdAt: String
    let root: Root
    let keys: [KeyInfo]

    enum CodingKeys: String, CodingKey {
        case ok, vault, root, keys
        case vaultID = "vault_id"
        case createdAt = "created_at"
    }

    init(_ vault: Vault) {
        let keyring = vault.keys.keyring
        self.vault = vault.directory.path
        self.vaultID = vault.id.hex
        self.createdAt = keyring.createdAt
        self.root = Root(kind: keyring.root.kind.rawValue, kdf: keyring.root.kdf,
                         opslimit: keyring.root.limits?.opsLimit, memlimit: keyring.root.limits?.memLimit)
        self.keys = keyring.status
    }

    var text: String {
        var lines = ["vault     \(vault)", "vault id  \(vaultID)", "created   \(createdAt)"]
        if let kdf = root.kdf, let ops = root.opslimit, let mem = root.memlimit {
            let memory = mem >= 1 << 20 ? "\(mem >> 20) MiB" : "\(mem >> 10) KiB"
            lines.append("root      passphrase (\(kdf), opslimit \(ops), memlimit \(memory))")
        } else {
            lines.append("root      key file")
        }
        lines.append("")
        let header = ["ROLE", "VERSION", "CREATED", "FINGERPRINT"]
        let rows = keys.map { [$0.role.rawValue, String($0.version), $0.createdAt, $0.fingerprint] }
        let widths = (0..<header.count).map { i in ([header] + rows).map { $0[i].count }.max() ?? 0 }
        for row in [header] + rows {
            lines.append(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
        if let publicKey = keys.first(where: { $0.role == .auditSigning })?.publicKey {
            lines.append("")
            lines.append("audit public key  \(publicKey)")
        }
        return lines.joined(separator: "\n")
    }
}
