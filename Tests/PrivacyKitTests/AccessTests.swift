import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Testing

/// The default policy, restated independently of the YAML: what each role may do, read in
/// full, read masked, and act for. The tests compare the loaded policy and the library's
/// behaviour with this table.
enum DefaultPolicy {
    static let fields = ["full_name", "email", "phone", "birth_date", "national_id", "address", "city", "country",
                         "created_at", "last_interaction", "closed_at", "segment"]
    static let purposes = ["customer-support", "order-fulfilment", "marketing-email", "marketing-sms", "profiling",
                           "sale-or-sharing", "legal-obligation", "privacy-compliance", "legal-claims", "sensitive-data-use"]
    struct RoleRow {
        let actions: Set<AccessAction>
        let full: Set<String>
        let masked: Set<String>
        let purposes: Set<String>
    }
    static let roles: [String: RoleRow] = [
        "admin": RoleRow(actions: Set(AccessAction.allCases), full: Set(fields), masked: [], purposes: Set(purposes)),
        "privacy-officer": RoleRow(actions: [.read, .export, .erase, .consent, .retention, .hold, .audit, .policy, .requests, .breach, .restrict],
                                   full: Set(fields), masked: [], purposes: ["privacy-compliance", "legal-obligation", "legal-claims", "customer-support"]),
        "support-agent": RoleRow(actions: [.read, .write, .consent],
                                 full: ["email", "phone", "address", "city", "country", "segment", "created_at", "last_interaction"],
                                 masked: ["full_name", "national_id", "birth_date"], purposes: ["customer-support"]),
        "marketer": RoleRow(actions: [.read], full: ["email"], masked: [], purposes: ["marketing-email"]),
        "analyst": RoleRow(actions: [.read], full: ["country", "segment", "created_at", "last_interaction"], masked: [], purposes: ["profiling"]),
        "auditor": RoleRow(actions: [.audit], full: [], masked: [], purposes: ["privacy-compliance"]),
        "service": RoleRow(actions: [.read, .write, .export, .consent], full: Set(fields), masked: [], purposes: ["customer-support", "order-fulfilment"]),
    ]

    static func expected(role: String, action: AccessAction, field: String?, purpose: String?) -> AccessDecision.Outcome {
        let row = roles[role]!
        guard row.actions.contains(action) else { return .denied }
        if let purpose { guard row.purposes.contains(purpose) else { return .denied } } else if action.needsPurpose { return .denied }
        guard let field, action == .read || action == .export else { return .allowed }
        if row.full.contains(field) { return .allowed }
        return row.masked.contains(field) ? .masked : .denied
    }
}

@Suite("Access control")
struct AccessTests {
    struct Setup {
        let dir: TempDirectory
        let vault: Vault
        static let admin = AccessContext(actor: "setup", role: "admin", purpose: "privacy-compliance")
        static let record: [String: String] = [
            "full_name": "Jane Doe", "email": "jane.doe@example.com", "phone": "+1 415 555 0123", "birth_date": "1990-04-01",
            "national_id": "123-45-6789", "address": "1 Main St, Springfield", "city": "Springfield", "country": "US",
            "created_at": "2024-01-02", "last_interaction": "2025-06-07", "closed_at": "2025-09-30", "segment": "vip",
        ]

        init() throws {
            let made = try KeyFileTestVault()
            dir = made.dir
            vault = made.vault
            try vault.records.put(subject: "c1", values: Self.record, context: Self.admin)
            // Consent for every purpose that needs it: these tests are about roles (the
            // consent suite is about consent).
            for purpose in ["marketing-email", "marketing-sms", "profiling"] {
                try vault.consent.record(ConsentChange(.grant, purpose: purpose, channel: .webForm), subject: "c1", context: Self.admin)
            }
        }

        func deniedEvents() throws -> Int {
            try vault.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events WHERE outcome = 'denied'") ?? 0 }
        }
    }

    /// Every role × action × field × purpose (and no purpose) of the default policy.
    @Test func theDefaultPolicyDecidesAsTheTableSays() throws {
        let s = try Setup()
        #expect(Set(s.vault.policies.access.roleNames) == Set(DefaultPolicy.roles.keys))
        #expect(Set(s.vault.policies.purposes.ids) == Set(DefaultPolicy.purposes))
        var checked = 0
        for role in DefaultPolicy.roles.keys {
            for action in AccessAction.allCases {
                for field in [nil] + DefaultPolicy.fields {
                    for purpose in [nil] + DefaultPolicy.purposes {
                        let decision = try s.vault.policies.access.decide(role: role, action: action, field: field, purpose: purpose)
                        #expect(decision.outcome == DefaultPolicy.expected(role: role, action: action, field: field, purpose: purpose),
                                "\(role) \(action) \(field ?? "-") \(purpose ?? "-"): \(decision.rule)")
                        #expect(!decision.rule.isEmpty)
                        checked += 1
                    }
                }
            }
        }
        #expect(checked == DefaultPolicy.roles.count * AccessAction.allCases.count * (DefaultPolicy.fields.count + 1) * (DefaultPolicy.purposes.count + 1))
        #expect(checked == 7 * 15 * 13 * 11)
    }

    /// Through the library: every role reading every field for every purpose gets the full
    /// value, its mask, or a denial, and each denial leaves exactly one `denied` event.
    @Test func readsThroughTheLibraryAreAllowedMaskedOrDeniedAndAudited() throws {
        let s = try Setup()
        let stored = try s.vault.records.get(subject: "c1", context: Setup.admin)
        for role in DefaultPolicy.roles.keys.sorted() {
            for purpose in [nil] + DefaultPolicy.purposes {
                let context = AccessContext(actor: "t", role: role, purpose: purpose)
                for field in DefaultPolicy.fields {
                    let before = try s.deniedEvents()
                    switch DefaultPolicy.expected(role: role, action: .read, field: field, purpose: purpose) {
                    case .allowed:
                        #expect(try s.vault.records.get(subject: "c1", fields: [field], context: context) == [field: stored[field]!], "\(role) \(field)")
                        #expect(try s.deniedEvents() == before)
                    case .masked:
                        let got = try s.vault.records.get(subject: "c1", fields: [field], context: context)[field]
                        #expect(got == Masking.mask(stored[field]!, rule: s.vault.policies.schema[field]!.mask), "\(role) \(field)")
                        #expect(got != stored[field] && !(got ?? "").contains(stored[field]!))
                        #expect(try s.deniedEvents() == before)
                    case .denied:
                        let error = expectError(.denied) { try s.vault.records.get(subject: "c1", fields: [field], context: context) }
                        #expect(error?.message.contains(stored[field]!) == false)
                        #expect(try s.deniedEvents() == before + 1, "\(role) \(field) \(purpose ?? "-")")
                    }
                }
            }
        }
        let last = try #require(try s.vault.store.read { db in
            try StoreRow.fetchOne(db, sql: "SELECT action, subject, reason FROM audit_events WHERE outcome = 'denied' ORDER BY seq DESC LIMIT 1")
        })
        #expect(last["action"] as String == "record.read" && (last["subject"] as String?) != nil)
        #expect((last["reason"] as String?)?.contains("roles.") == true)
        #expect(try s.vault.audit.verify().ok)
    }

    /// `get` without a field list gives what the role may see, masked where it must be.
    @Test func getEverythingGivesOnlyWhatTheRoleMaySee() throws {
        let s = try Setup()
        let agent = try s.vault.records.get(subject: "c1", context: AccessContext(actor: "a", role: "support-agent", purpose: "customer-support"))
        #expect(Set(agent.keys) == DefaultPolicy.roles["support-agent"]!.full.union(DefaultPolicy.roles["support-agent"]!.masked))
        #expect(agent["full_name"] == "J. D." && agent["national_id"] == "****6789" && agent["birth_date"] == "***")
        #expect(agent["email"] == "jane.doe@example.com")
        let analyst = try s.vault.records.get(subject: "c1", context: AccessContext(actor: "a", role: "analyst", purpose: "profiling"))
        #expect(analyst == ["country": "US", "segment": "vip", "created_at": "2024-01-02", "last_interaction": "2025-06-07"])
    }

    @Test func otherCapabilitiesAreCheckedToo() throws {
        let s = try Setup()
        let marketer = AccessContext(actor: "m", role: "marketer", purpose: "marketing-email")
        #expect(try s.vault.records.find(field: "email", value: "JANE.DOE@example.com", context: marketer) == ["c1"])
        expectError(.denied) { try s.vault.records.find(field: "phone", value: "+1 415 555 0123", context: marketer) }
        expectError(.denied) { try s.vault.records.put(subject: "c2", values: ["email": "x@example.com"], context: marketer) }
        expectError(.denied) { try s.vault.records.duplicates(context: marketer) }
        let auditor = AccessContext(actor: "a", role: "auditor", purpose: "privacy-compliance")
        expectError(.denied) { try s.vault.records.listSubjects(context: auditor) }
        #expect(try !s.vault.audit.events(matching: AuditQuery(limit: 5), context: auditor).isEmpty)
        expectError(.denied) { try s.vault.audit.events(matching: AuditQuery(limit: 5), context: marketer) }
        expectError(.denied) { try s.vault.keys.rotateKEK(context: AccessContext(actor: "s", role: "service", purpose: "customer-support")) }
        let agent = AccessContext(actor: "a", role: "support-agent", purpose: "customer-support")
        let envelope = try s.vault.records.encrypt("A123456789", field: "national_id", subject: "c1", context: agent)
        #expect(try s.vault.records.decrypt(envelope, field: "national_id", subject: "c1", context: agent) == "****6789")
        #expect(try s.vault.records.decrypt(envelope, field: "national_id", subject: "c1", context: Setup.admin) == "A123456789")
        // No purpose: reading customer data is refused, whatever the role.
        expectError(.denied) { try s.vault.records.get(subject: "c1", fields: ["email"], context: AccessContext(actor: "x", role: "admin")) }
        #expect(try s.vault.records.get(subject: "c1", fields: ["email"], context: Setup.admin)["email"] == "jane.doe@example.com")
    }

    /// The analyst sees subjects only by pseudonym: lists, finds, clusters and audiences
    /// give it the audit log's keyed pseudonym, never the subject id.
    @Test func theAnalystSeesPseudonymsOnly() throws {
        let s = try Setup()
        let analyst = AccessContext(actor: "a", role: "analyst", purpose: "profiling")
        let pseudonym = try s.vault.core.subjectPseudonym("c1")
        #expect(pseudonym.count == 32 && pseudonym != "c1")
        #expect(try s.vault.records.listSubjects(context: analyst) == [pseudonym])
        #expect(try s.vault.records.find(field: "country", value: "us", context: analyst) == [pseudonym])
        var audience: [String] = []
        try s.vault.consent.audience(purpose: "profiling", context: analyst) { audience.append($0) }
        #expect(audience == [pseudonym])
        expectError(.invalidInput) { try s.vault.records.listSubjects(after: "c0", context: analyst) }
        // Other roles still see ids.
        #expect(try s.vault.records.listSubjects(context: Setup.admin) == ["c1"])
        #expect(s.vault.policies.access.roles["analyst"]?.pseudonymousIDs == true && s.vault.policies.access.roles["admin"]?.pseudonymousIDs == false)
    }

    /// A role or purpose the policy does not define is an error (recorded as a denial),
    /// never a silent allow or deny.
    @Test func unknownRolesAndPurposesAreErrors() throws {
        let s = try Setup()
        let before = try s.deniedEvents()
        let role = expectError(.invalidInput) { try s.vault.records.get(subject: "c1", context: AccessContext(actor: "x", role: "superuser", purpose: "customer-support")) }
        #expect(role?.message.contains("role 'superuser' is not defined in access.yaml") == true)
        let purpose = expectError(.invalidInput) { try s.vault.records.get(subject: "c1", context: AccessContext(actor: "x", role: "admin", purpose: "fun")) }
        #expect(purpose?.message.contains("purpose 'fun' is not defined") == true)
        #expect(try s.deniedEvents() == before + 2)
    }

    // MARK: Policy files

    func policyError(_ yaml: String) throws -> PrivacyKitError? {
        let dir = try TempDirectory()
        let policies = dir.path
        for (name, contents) in PolicySet.defaultFiles { try contents.write(to: URL(fileURLWithPath: policies + "/" + name)) }
        let schema = try Schema.load(from: policies)
        let purposes = try PurposeSet.load(from: policies)
        return expectError(.invalidInput) { try AccessPolicy.parse(Data(yaml.utf8), name: "access.yaml", schema: schema, purposes: purposes) }
    }

    @Test(arguments: [
        ("version: 1\nroles:\n  x:\n    actions: [read]\n    read: [shoe_size]\n    purposes: [profiling]\n", "line 5", "roles.x.read", "unknown field 'shoe_size'"),
        ("version: 1\nroles:\n  x:\n    actions: [read]\n    purposes: [fun]\n", "line 5", "roles.x.purposes", "unknown purpose 'fun'"),
        ("version: 1\nroles:\n  x:\n    actions: [fly]\n", "line 4", "roles.x.actions", "unknown action 'fly'"),
        ("version: 1\nroles:\n  x:\n    actions: [read]\n    read: [\"category:secret\"]\n    purposes: [profiling]\n", "line 5", "roles.x.read", "unknown category"),
        ("version: 1\nroles:\n  x:\n    actions: [read]\n", "line 4", "roles.x.purposes", "need a purpose"),
        ("version: 1\nroles:\n  x:\n    colour: red\n", "line 4", "roles.x.colour", "not a known key"),
        ("version: 1\nroles: [\n", "line 3", "column 1", "did not find expected node content"),
        ("version: 1\n", "line 1", "roles", "is missing"),
        ("version: 1\nroles:\n  x:\n    actions: [audit]\n    subject_ids: masked\n", "line 5", "roles.x.subject_ids", "must be real or pseudonymous"),
    ])
    func policyErrorsNameFileLineAndKey(_ yaml: String, _ line: String, _ key: String, _ problem: String) throws {
        let error = try #require(try policyError(yaml))
        #expect(error.message.hasPrefix("access.yaml: "), "\(error.message)")
        #expect(error.message.contains(line), "\(error.message)")
        #expect(error.message.contains(key), "\(error.message)")
        #expect(error.message.contains(problem), "\(error.message)")
    }

    @Test func allErrorsOfAnAccessFileAreReported() throws {
        let dir = try TempDirectory()
        for (name, contents) in PolicySet.defaultFiles { try contents.write(to: URL(fileURLWithPath: dir.path + "/" + name)) }
        let schema = try Schema.load(from: dir.path)
        let purposes = try PurposeSet.load(from: dir.path)
        let yaml = "version: 1\nroles:\n  a:\n    actions: [fly]\n  b:\n    actions: [read]\n    read: [nope]\n    purposes: [profiling]\n  c:\n    actions: [audit]\n"
        let (policy, errors) = AccessPolicy.check(Data(yaml.utf8), name: "access.yaml", schema: schema, purposes: purposes)
        #expect(policy == nil)
        #expect(errors.count == 2)
        #expect(errors.contains { $0.message.contains("line 4") && $0.message.contains("fly") })
        #expect(errors.contains { $0.message.contains("line 7") && $0.message.contains("nope") })
    }

    /// A broken policy stops the vault from opening, and changes nothing in it.
    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func aVaultWithABrokenPolicyDoesNotOpenAndIsUnchanged() throws {
        let s = try Setup()
        let path = s.vault.policiesPath + "/access.yaml"
        try s.vault.store.close()
        try Data("version: 1\nroles:\n  x:\n    actions: [read]\n    purposes: [fun]\n".utf8).write(to: URL(fileURLWithPath: path))
        let before = try Data(contentsOf: URL(fileURLWithPath: s.vault.storePath))
        let error = expectError(.invalidInput) { try Vault.open(at: s.vault.directory, rootKey: .keyFile(at: s.dir.file("root.key"))) }
        #expect(error?.message.contains("access.yaml: line 5: key 'roles.x.purposes' unknown purpose 'fun'") == true)
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.vault.storePath)) == before)
    }

    /// A change to the policy files is audited at the next open, once.
    @Test func aPolicyChangeIsRecordedAtTheNextOpen() throws {
        let s = try Setup()
        let path = s.vault.policiesPath + "/access.yaml"
        let count = { (v: Vault) in
            try v.audit.events(matching: AuditQuery(action: AuditAction.policyChange.rawValue), context: Setup.admin)
        }
        let reopen = { try Vault.open(at: s.vault.directory, rootKey: .keyFile(at: s.dir.file("root.key"))) }
        #expect(try count(try reopen()).isEmpty)
        var text = try String(contentsOfFile: path, encoding: .utf8)
        text += "# reviewed by the DPO\n"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let changed = try count(try reopen())
        #expect(changed.count == 1)
        let reason = try #require(changed.first?.reason)
        #expect(reason.range(of: "^policy set [0-9a-f]{64} -> [0-9a-f]{64}$", options: .regularExpression) != nil)
        #expect(try count(try reopen()).count == 1)
    }
}

@Suite("Masking")
struct MaskingTests {
    @Test(arguments: [
        (MaskRule.email, "jane.doe@example.com", "j***@example.com"),
        (.email, "a@example.com", "***@example.com"),
        (.email, "ab@example.com", "***@example.com"),
        (.email, "陳大文@例子.公司", "陳***@例子.公司"),
        (.phone, "+14155550123", "***0123"),
        (.phone, "+4930123456", "***3456"),
        (.phone, "+886912345", "***345"),
        (.phone, "+12345", "***"),
        (.name, "Jane Doe", "J. D."),
        (.name, "Jürgen Groß", "J. G."),
        (.name, "陳雅婷", "陳**"),
        (.name, "王娜", "王**"),
        (.name, "王", "***"),
        (.name, "Madonna", "M."),
        (.name, "X", "***"),
        (.last4, "A123456789", "****6789"),
        (.last4, "NP520725C", "****725C"),
        (.last4, "AB123", "****23"),
        (.last4, "1234", "****"),
        (.hidden, "1990-04-01", "***"),
        (.none, "US", "US"),
    ])
    func rules(_ rule: MaskRule, _ value: String, _ expected: String) {
        #expect(Masking.mask(value, rule: rule) == expected)
    }

    /// Property: for random values of every kind, a mask (other than `none`) never contains
    /// the value, and never more than the characters its rule keeps.
    @Test func aMaskNeverContainsTheValue() {
        var rng = SystemRandomNumberGenerator()
        let alphabets: [[Character]] = [Array("abcdefghijklmnopqrstuvwxyz"), Array("ABCDEFGHIJ0123456789"), Array("陳王李張劉黃林雅婷娜"), Array("0123456789")]
        for _ in 0..<5000 {
            let alphabet = alphabets.randomElement(using: &rng)!
            let length = Int.random(in: 1...24, using: &rng)
            var value = String((0..<length).map { _ in alphabet.randomElement(using: &rng)! })
            for rule in MaskRule.allCases where rule != .none {
                if rule == .email { value = value + "@ex.com" }
                let masked = Masking.mask(value, rule: rule)
                #expect(!masked.contains(value), "\(rule): a \(value.count)-character value shows through")
                let visible = masked.filter { $0 != "*" && $0 != "." && $0 != " " }
                let domain = rule == .email ? "@ex.com".count : 0
                #expect(visible.count <= 4 + domain, "\(rule) keeps \(visible.count) characters")
            }
        }
    }
}
