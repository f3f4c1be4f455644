import Foundation
@_spi(Testing) @testable import PrivacyKit
import Testing

/// Lookups that answer "does anyone have this value?" are oracles: they must not reveal
/// more than the caller may read, and each must leave its trace in the audit log.
@Suite("Lookup oracles")
struct OracleTests {
    static let admin = AccessContext(actor: "setup", role: "admin", purpose: "privacy-compliance")
    static let agent = AccessContext(actor: "agent-7", role: "support-agent", purpose: "customer-support")
    static let marketer = AccessContext(actor: "m", role: "marketer", purpose: "marketing-email")
    static let service = AccessContext(actor: "svc", role: "service", purpose: "customer-support")

    struct Setup {
        let made: KeyFileTestVault
        var vault: Vault { made.vault }

        init() throws {
            made = try KeyFileTestVault()
            // Three subjects share an e-mail address and a national id.
            for id in ["a", "b", "c"] {
                try made.vault.records.put(subject: id, values: ["email": "shared@example.com", "national_id": "123-45-6789", "full_name": "Person \(id)"],
                                           context: OracleTests.admin)
            }
        }

        /// The last audit event, as stored.
        func lastEvent() throws -> (action: String, fields: String, outcome: String, reason: String?) {
            let row = try #require(try vault.store.read { db in
                try StoreRow.fetchOne(db, sql: "SELECT action, fields, outcome, reason FROM audit_events ORDER BY seq DESC LIMIT 1")
            })
            return (row["action"], row["fields"], row["outcome"], row["reason"])
        }

        func eventCount() throws -> Int {
            try vault.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events") ?? 0 }
        }

        /// Every stored audit event as text, to prove a value never reached the log.
        func auditText() throws -> String {
            try vault.store.read { db in
                try StoreRow.fetchAll(db, sql: "SELECT actor, action, subject, fields, reason FROM audit_events").map { row in
                    ["actor", "action", "subject", "fields", "reason"].map { (row[$0] as String?) ?? "" }.joined(separator: " ")
                }.joined(separator: "\n")
            }
        }
    }

    /// A support agent sees `national_id` as `****6789`: guessing the rest through a find,
    /// a duplicate cluster or a blind index is refused, and each refusal is audited with
    /// the rule (and no value).
    @Test func aMaskedFieldCannotBeSearchedMatchedOrIndexed() throws {
        let s = try Setup()
        #expect(try s.vault.records.get(subject: "a", fields: ["national_id"], context: Self.agent)["national_id"] == "****6789")
        let calls: [(String, () throws -> Void)] = [
            ("record.lookup", { _ = try s.vault.records.find(field: "national_id", value: "123-45-6789", context: Self.agent) }),
            ("record.lookup", { _ = try s.vault.records.duplicates(field: "national_id", context: Self.agent) }),
            // Without a field, duplicates cluster on every indexed field, national_id too.
            ("record.lookup", { _ = try s.vault.records.duplicates(context: Self.agent) }),
            ("record.blind-index", { _ = try s.vault.records.blindIndex("123-45-6789", field: "national_id", context: Self.agent) }),
        ]
        for (action, call) in calls {
            let before = try s.eventCount()
            let error = expectError(.denied) { try call() }
            #expect(error?.message.contains("full view") == true, "\(error?.message ?? "")")
            #expect(try s.eventCount() == before + 1)
            let event = try s.lastEvent()
            #expect(event.action == action && event.outcome == "denied" && event.fields.contains("national_id"))
            #expect(event.reason?.contains("needs its full view") == true)
        }
        #expect(!(try s.auditText()).contains("6789"))
        // What the agent sees in full it may search; a role that reads the field in full may
        // search it too.
        #expect(try s.vault.records.find(field: "email", value: "shared@example.com", context: Self.agent) == ["a", "b", "c"])
        #expect(try s.vault.records.find(field: "national_id", value: "123456789", context: Self.admin) == ["a", "b", "c"])
        #expect(try s.vault.audit.verify().ok)
    }

    /// Duplicate clusters leave out whom a find would: subjects without live consent for a
    /// purpose that rests on it, and restricted subjects.
    @Test func duplicateClustersRespectConsentAndRestrictionLikeFind() throws {
        let s = try Setup()
        for id in ["a", "b"] {
            try s.vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm), subject: id, context: Self.admin)
        }
        let email = { (context: AccessContext) in try s.vault.records.duplicates(field: "email", context: context) }
        // c never consented: not in the marketer's cluster, nor in its find.
        #expect(try email(Self.marketer) == [DuplicateCluster(field: "email", subjects: ["a", "b"])])
        #expect(try s.vault.records.find(field: "email", value: "shared@example.com", context: Self.marketer) == ["a", "b"])
        #expect(try s.lastEvent().reason?.contains("1 without consent or restricted left out") == true)
        // Restricted: out of every cluster the policy does not allow it in; a cluster left
        // with one subject is no cluster.
        try s.vault.retention.restrict(subject: "b", reason: "accuracy contested", context: Self.admin)
        #expect(try email(Self.marketer).isEmpty)
        #expect(try s.vault.records.find(field: "email", value: "shared@example.com", context: Self.marketer) == ["a"])
        #expect(try email(Self.agent) == [DuplicateCluster(field: "email", subjects: ["a", "c"])])
        #expect(try s.lastEvent().reason?.contains("1 subjects without consent or restricted left out") == true)
        // The privacy officer acting for compliance may process restricted subjects.
        #expect(try email(Self.admin) == [DuplicateCluster(field: "email", subjects: ["a", "b", "c"])])
    }

    /// A blind index is computed only for a context, and each computation is an event that
    /// names the field, never the value.
    @Test func aBlindIndexIsAuthorisedAndAudited() throws {
        let s = try Setup()
        let before = try s.eventCount()
        let index = try s.vault.records.blindIndex("Shared@Example.com ", field: "email", context: Self.service)
        #expect(index.count == 16)
        #expect(try s.eventCount() == before + 1)
        let event = try s.lastEvent()
        #expect(event.action == "record.blind-index" && event.outcome == "allowed" && event.fields.contains("email"))
        #expect(!(try s.auditText()).lowercased().contains("shared@"))
        // The stored index of the same value: the one the service got.
        #expect(index == (try s.vault.records.blindIndex("shared@example.com", field: "email", context: Self.agent)))
        // A role that may not read the field gets nothing, and the refusal is recorded.
        expectError(.denied) { try s.vault.records.blindIndex("+1 415 555 0100", field: "phone", context: Self.marketer) }
        #expect(try s.lastEvent().action == "record.blind-index" && s.lastEvent().outcome == "denied")
    }

    @Test func consentCountsAreAudited() throws {
        let s = try Setup()
        let before = try s.eventCount()
        let counts = try s.vault.consent.counts(context: Self.admin)
        #expect(counts["marketing-email"]?[.neverAsked] == 3)
        #expect(try s.eventCount() == before + 1)
        let event = try s.lastEvent()
        #expect(event.action == "record.lookup" && event.reason?.hasPrefix("consent counts") == true)
        expectError(.denied) { try s.vault.consent.counts(context: Self.marketer) }
        #expect(try s.lastEvent().outcome == "denied")
    }

    /// No id of an audience reaches the caller before the lookup's event has committed: a
    /// second connection already sees the event when the first id arrives.
    @Test func anAudiencesEventCommitsBeforeItsFirstID() throws {
        let s = try Setup()
        for id in ["a", "c"] {
            try s.vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm), subject: id, context: Self.admin)
        }
        let other = try Vault.open(at: s.vault.directory, rootKey: .keyFile(at: s.made.keyFile))
        func committed() throws -> Int {
            try other.store.read { db in
                try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events WHERE action = 'record.lookup' AND reason LIKE 'audience of marketing-email%'") ?? 0
            }
        }
        var seen: [String] = []
        var committedAtFirst: Int?
        let count = try s.vault.consent.audience(purpose: "marketing-email", context: Self.marketer) { id in
            if seen.isEmpty { committedAtFirst = try committed() }
            seen.append(id)
        }
        #expect(count == 2 && seen == ["a", "c"])
        #expect(committedAtFirst == 1, "the audience's event must be committed before the first id is handed out")
        #expect(try s.lastEvent().reason == "audience of marketing-email: 2 subjects")
        // A role that does not hold the purpose gets no id, and the refusal is recorded.
        expectError(.denied) { try s.vault.consent.audience(purpose: "marketing-email", context: Self.agent) { _ in Issue.record("an id leaked") } }
        #expect(try s.lastEvent().outcome == "denied")
        #expect(try s.vault.audit.verify().ok)
    }
}
