import Foundation
import Hummingbird
import PrivacyKit
import Sodium

/// Erasure with its receipt, the audit log's status, and the health probes.
struct OperationsRoutes {
    let vault: Vault

    struct EraseRequest: Decodable, Sendable { let subject: String; let reason: String }
    struct Erased: Encodable, Sendable {
        let receipt: ErasureReceipt
        let alreadyErased: Bool
        enum CodingKeys: String, CodingKey {
            case receipt
            case alreadyErased = "already_erased"
        }
    }

    struct AuditStatus: Encodable, Sendable {
        let vaultID: String
        let lastCheckpoint: AuditCheckpoint
        /// The Ed25519 key checkpoints verify under (base64url), for `privacyctl audit verify --public-key`.
        let publicKey: String
        enum CodingKeys: String, CodingKey {
            case vaultID = "vault_id", lastCheckpoint = "last_checkpoint", publicKey = "public_key"
        }
    }

    struct Health: ResponseEncodable, Sendable {
        let ok: Bool
        let status: String
    }

    func add(to group: RouterGroup<APIContext>) {
        let vault = self.vault
        group.vaultCall("erasure", EraseRequest.self) { body, access in
            let result = try vault.retention.erase(subject: body.subject, reason: body.reason, context: access)
            return OK(body: Erased(receipt: result.receipt, alreadyErased: result.alreadyErased))
        }
        group.get("audit/status") { _, context -> OK<AuditStatus> in
            _ = try context.authenticated()
            let checkpoint = try await blocking { try vault.audit.checkpoint() }
            return OK(body: AuditStatus(vaultID: vault.id.hex, lastCheckpoint: checkpoint, publicKey: Base64URL.encode(vault.auditPublicKey.bytes)))
        }
    }

    /// `/health/live`: the process answers. `/health/ready`: the store answers and the
    /// audit log takes an event (one inserted and rolled back); unsigned events get their
    /// checkpoint on the way.
    static func addHealth(to router: Router<APIContext>, vault: Vault) {
        router.get("health/live") { _, _ in Health(ok: true, status: "live") }
        router.get("health/ready") { _, _ -> Health in
            do {
                try await blocking {
                    try vault.audit.probeWritable()
                    _ = try vault.audit.checkpointIfNeeded()
                }
            } catch {
                throw APIError(code: "busy", status: .serviceUnavailable, exitCode: 75, message: "the store or the audit log does not answer")
            }
            return Health(ok: true, status: "ready")
        }
    }
}
