import Hummingbird
import PrivacyKit

/// `/v1/consent`: may these subjects be processed for a purpose; grants, withdrawals,
/// objections (GPC) and a subject's history.
struct ConsentRoutes {
    let vault: Vault

    struct MayRequest: Decodable, Sendable { let subjects: [String]; let purpose: String }
    struct ChangeRequest: Decodable, Sendable {
        let subject: String
        let purpose: String
        let channel: ConsentChannel?
        let noticeVersion: String?
        let evidenceHash: String?

        enum CodingKeys: String, CodingKey {
            case subject, purpose, channel
            case noticeVersion = "notice_version", evidenceHash = "evidence_hash"
        }
    }
    struct GPCRequest: Decodable, Sendable { let subject: String }
    struct HistoryRequest: Decodable, Sendable { let subject: String; let purpose: String? }

    struct Answers: Encodable, Sendable { let answers: [ConsentAnswer] }
    struct Event: Encodable, Sendable { let event: ConsentEvent }
    struct Events: Encodable, Sendable { let events: [ConsentEvent] }

    func add(to group: RouterGroup<APIContext>) {
        let vault = self.vault
        group.vaultCall("consent/may", MayRequest.self) { body, access in
            try VaultRecords.checkBatchSize(body.subjects.count, of: "subjects")
            return OK(body: Answers(answers: try vault.consent.answer(subjects: body.subjects, purpose: body.purpose, context: access)))
        }
        for (path, kind) in [("consent/grant", ConsentKind.grant), ("consent/withdraw", .withdraw), ("consent/object", .object)] {
            group.vaultCall(path, ChangeRequest.self) { body, access in
                let change = ConsentChange(kind, purpose: body.purpose, channel: body.channel ?? .api, noticeVersion: body.noticeVersion,
                                           evidenceHash: body.evidenceHash)
                return OK(body: Event(event: try vault.consent.record(change, subject: body.subject, context: access)))
            }
        }
        group.vaultCall("consent/gpc", GPCRequest.self) { body, access in
            OK(body: Events(events: try vault.consent.recordGPC(subject: body.subject, context: access)))
        }
        group.vaultCall("consent/history", HistoryRequest.self) { body, access in
            OK(body: Events(events: try vault.consent.history(subject: body.subject, purpose: body.purpose, context: access)))
        }
    }
}
