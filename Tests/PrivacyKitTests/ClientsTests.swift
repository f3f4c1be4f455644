import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// privacyd's clients in the library (issue 21, point 1): tokens kept only as keyed
/// hashes, authentication that derives the access context from the credential, every
/// refusal audited without the secret, and client rows a store writer cannot change.
@Suite("Clients")
struct ClientsTests {
    static let admin = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")

    let fixture: AuditFixture
    var vault: Vault { fixture.vault }

    init() throws {
        fixture = try AuditFixture()
    }

    func addOrders(expires: ISODuration? = nil, certificate: String? = nil) throws -> IssuedClient {
        try vault.clients.add(name: "orders", role: "service", purposes: ["order-fulfilment", "customer-support"], expiresAfter: expires,
                              certificateSubject: certificate, context: Self.admin)
    }

    func expectUnauthenticated(_ credential: VaultClients.Credential, purpose: String? = "order-fulfilment",
                               sourceLocation: SourceLocation = #_sourceLocation) throws -> PrivacyKitError? {
        let error = #expect(throws: PrivacyKitError.self, sourceLocation: sourceLocation) {
            try vault.clients.authenticate(credential, purpose: purpose)
        }
        #expect(error?.code == .unauthenticated, "\(error?.message ?? "")", sourceLocation: sourceLocation)
        let event = try fixture.newestEvent()
        #expect(event["action"] as String == "client.authenticate" && event["outcome"] as String == "denied", sourceLocation: sourceLocation)
        return error
    }

    @Test func aTokenAuthenticatesAsItsClientRoleAndAskedPurpose() throws {
        let issued = try addOrders()
        #expect(issued.token.hasPrefix("pkc1.orders."))
        let context = try vault.clients.authenticate(.token(issued.token), purpose: "order-fulfilment", endUser: "agent-17", requestID: "req-1")
        #expect(context == AccessContext(actor: "client:orders user:agent-17", role: "service", purpose: "order-fulfilment", requestID: "req-1"))
        // The context works as any other: the service role reads for that purpose.
        try vault.records.put(subject: "c1", values: ["email": "c1@example.com"], context: Self.admin)
        #expect(try vault.records.get(subject: "c1", fields: ["email"], context: context)["email"] == "c1@example.com")
    }

    @Test func theVaultKeepsOnlyAKeyedHashOfTheToken() throws {
        let issued = try addOrders()
        let secret = String(issued.token.split(separator: ".")[2])
        let stored: Data = try #require(try vault.store.read { db in try Data.fetchOne(db, sql: "SELECT token_hash FROM clients") })
        let raw = try Base64URL.decode(secret)
        let plainHash = try BLAKE2b.hash(raw)
        #expect(stored.count == 32 && [UInt8](stored) != raw && [UInt8](stored) != plainHash)
        if vault.store is SQLiteStore {  // PostgreSQL's files are the server's
            let file = try Data(contentsOf: URL(fileURLWithPath: vault.storePath))
            #expect(file.range(of: Data(secret.utf8)) == nil && file.range(of: Data(raw)) == nil)
        }
        let events = try vault.audit.events(matching: AuditQuery(), context: Self.admin)
        #expect(!events.contains { ($0.reason ?? "").contains(secret) })
    }

    @Test func wrongMalformedAndUnknownTokensAreRefusedAndAudited() throws {
        let issued = try addOrders()
        var forged = Array(issued.token)
        forged[forged.count - 2] = forged[forged.count - 2] == "A" ? "B" : "A"
        let wrong = try expectUnauthenticated(.token(String(forged)))
        #expect(wrong?.message.contains("not its current one") == true)
        #expect(try fixture.newestEvent()["reason"] as String? == wrong?.message)
        _ = try expectUnauthenticated(.token("Bearer nonsense"))
        _ = try expectUnauthenticated(.token(issued.token.replacingOccurrences(of: "pkc1.orders.", with: "pkc1.billing.")))
        let events = try vault.audit.events(matching: AuditQuery(action: "client.authenticate"), context: Self.admin)
        #expect(events.count == 3)
        #expect(events.map(\.actor) == ["client:orders", "unauthenticated", "client:billing"])
        #expect(!events.contains { ($0.reason ?? "").contains(String(issued.token.split(separator: ".")[2].prefix(12))) })
    }

    @Test func rotationReplacesTheTokenAndRevocationEndsIt() throws {
        let first = try addOrders()
        let second = try vault.clients.rotate(name: "orders", context: Self.admin)
        #expect(second.client.tokenVersion == 2 && second.token != first.token)
        _ = try expectUnauthenticated(.token(first.token))
        _ = try vault.clients.authenticate(.token(second.token), purpose: "order-fulfilment")
        let revoked = try vault.clients.revoke(name: "orders", context: Self.admin)
        #expect(revoked.revokedAt != nil && revoked.revokedBy == "ops")
        let error = try expectUnauthenticated(.token(second.token))
        #expect(error?.message.contains("revoked") == true)
        #expect(throws: PrivacyKitError.self) { try vault.clients.rotate(name: "orders", context: Self.admin) }
        let actions = try vault.audit.events(matching: AuditQuery(), context: Self.admin).map(\.action)
        #expect(actions.filter { $0.hasPrefix("client.") && $0 != "client.authenticate" } == ["client.add", "client.rotate", "client.revoke"])
    }

    @Test func anExpiredClientIsRefused() throws {
        let issued = try addOrders(expires: ISODuration("PT1S"))
        #expect(issued.client.expiresAt != nil)
        _ = try vault.clients.authenticate(.token(issued.token), purpose: "order-fulfilment")
        Thread.sleep(forTimeInterval: 1.2)
        let error = try expectUnauthenticated(.token(issued.token))
        #expect(error?.message.contains("expired") == true)
    }

    @Test func aPurposeTheClientDoesNotHoldIsDeniedAndAudited() throws {
        let issued = try addOrders()
        let error = #expect(throws: PrivacyKitError.self) { try vault.clients.authenticate(.token(issued.token), purpose: "marketing-email") }
        #expect(error?.code == .denied)
        let event = try fixture.newestEvent()
        #expect(event["action"] as String == "client.authenticate" && event["outcome"] as String == "denied")
    }

    @Test func aClientGetsOnlyItsRolesPurposesAndTheKeysActionManagesClients() throws {
        #expect(throws: PrivacyKitError.self) {
            try vault.clients.add(name: "crm", role: "service", purposes: ["marketing-email"], context: Self.admin)
        }
        #expect(throws: PrivacyKitError.self) {
            try vault.clients.add(name: "Not A Name", role: "service", purposes: ["order-fulfilment"], context: Self.admin)
        }
        let agent = AccessContext(actor: "a", role: "support-agent", purpose: "customer-support")
        let denied = #expect(throws: PrivacyKitError.self) {
            try vault.clients.add(name: "crm", role: "admin", purposes: ["privacy-compliance"], context: agent)
        }
        #expect(denied?.code == .denied)
        _ = try addOrders()
        #expect(throws: PrivacyKitError.self) { try addOrders() }
    }

    @Test func aCertificateSubjectAuthenticatesItsClient() throws {
        _ = try addOrders(certificate: "CN=orders,O=Example")
        let context = try vault.clients.authenticate(.certificate(subject: "CN=orders,O=Example"), purpose: "customer-support")
        #expect(context.actor == "client:orders" && context.role == "service")
        _ = try expectUnauthenticated(.certificate(subject: "CN=orders,O=Other"))
    }

    // MARK: - A store writer with raw SQL and no key

    @Test func aRevocationUndoneBehindTheVaultFailsClosed() throws {
        let issued = try addOrders()
        try vault.clients.revoke(name: "orders", context: Self.admin)
        try fixture.tamper { db in try db.execute(sql: "UPDATE clients SET revoked_at = NULL, revoked_by = NULL") }
        try fixture.expectFailsClosed { _ = try vault.clients.authenticate(.token(issued.token), purpose: "order-fulfilment") }
    }

    @Test func aClientWidenedToAdminBehindTheVaultFailsClosed() throws {
        let issued = try addOrders()
        try fixture.tamper { db in try db.execute(sql: "UPDATE clients SET role = 'admin', purposes = 'privacy-compliance'") }
        try fixture.expectFailsClosed { _ = try vault.clients.authenticate(.token(issued.token), purpose: "privacy-compliance") }
    }

    @Test func aClientRowCopiedUnderAnotherNameFailsClosed() throws {
        let issued = try addOrders()
        // The writer cannot make a hash without the key, so it copies one: the copy's token
        // would be the original's with another name. The leaf catches the new row first.
        try fixture.tamper { db in
            try db.execute(sql: """
                INSERT INTO clients (name, role, purposes, token_version, token_hash, created_at, created_by)
                SELECT 'intruder', 'admin', 'privacy-compliance', token_version, token_hash, created_at, created_by FROM clients
                """)
        }
        let copied = issued.token.replacingOccurrences(of: "pkc1.orders.", with: "pkc1.intruder.")
        try fixture.expectFailsClosed { _ = try vault.clients.authenticate(.token(copied), purpose: "privacy-compliance") }
        try fixture.expectFailsClosed { _ = try vault.clients.list(context: Self.admin) }
    }
}
