import Foundation
import Hummingbird
import PrivacyKit

/// `/v1/requests`: data-subject requests opened by a service (a web form, a help desk) and
/// their status. Needs a role with the `requests` action.
struct RequestsRoutes {
    let vault: Vault

    struct OpenRequest: Decodable, Sendable {
        let type: DataSubjectRequestType
        let regime: PrivacyRegime
        let subject: String
        let reference: String?
        let unknownSubject: Bool?

        enum CodingKeys: String, CodingKey {
            case type, regime, subject, reference
            case unknownSubject = "unknown_subject"
        }
    }
    struct StatusRequest: Decodable, Sendable { let id: String }
    struct One: Encodable, Sendable { let request: DataSubjectRequest }

    func add(to group: RouterGroup<APIContext>) {
        let vault = self.vault
        group.vaultCall("requests/open", OpenRequest.self) { body, access in
            OK(body: One(request: try vault.requests.open(body.type, regime: body.regime, subject: body.subject, reference: body.reference,
                                                          unknownSubject: body.unknownSubject ?? false, context: access)))
        }
        group.vaultCall("requests/status", StatusRequest.self) { body, access in
            OK(body: One(request: try vault.requests.get(body.id, context: access)))
        }
    }
}
