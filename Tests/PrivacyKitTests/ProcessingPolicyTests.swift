import Foundation
@testable import PrivacyKit
import Testing

/// `processing.yaml`: the default file loads and covers the default set; every way it can
/// disagree with the other policy files is an error naming the file, the line and the key.
@Suite("Processing policy")
struct ProcessingPolicyTests {
    /// The default policy set in a fresh directory, with `processing.yaml` replaced when given.
    static func policies(processing: String? = nil) throws -> TempDirectory {
        let dir = try TempDirectory()
        for file in PolicySet.defaultFiles { try file.contents.write(to: URL(fileURLWithPath: dir.file(file.name))) }
        if let processing { try Data(processing.utf8).write(to: URL(fileURLWithPath: dir.file(ProcessingPolicy.fileName))) }
        return dir
    }

    static var defaultText: String {
        String(decoding: PolicySet.defaultFiles.first { $0.name == ProcessingPolicy.fileName }?.contents ?? Data(), as: UTF8.self)
    }

    /// The 1-based line of the first line of `text` that contains `needle`.
    static func line(of needle: String, in text: String) -> Int {
        (text.components(separatedBy: "\n").firstIndex { $0.contains(needle) } ?? -1) + 1
    }

    static func load(_ dir: TempDirectory) throws -> ProcessingPolicy? {
        let schema = try Schema.load(from: dir.path)
        let purposes = try PurposeSet.load(from: dir.path)
        let retention = try RetentionPolicy.load(from: dir.path, schema: schema, purposes: purposes)
        return try ProcessingPolicy.loadIfPresent(from: dir.path, schema: schema, purposes: purposes, retention: retention)
    }

    @Test func theDefaultFileLoadsAndCoversTheDefaultSet() throws {
        #expect(PolicySet.defaultFiles.contains { $0.name == ProcessingPolicy.fileName }, "processing.yaml is not embedded")
        let dir = try Self.policies()
        #expect(PolicySet.check(directory: dir.path).map(\.message) == [])
        #expect(PolicySet.notes(directory: dir.path).isEmpty)
        let policy = try #require(try Self.load(dir))
        #expect(policy.controller.name == "Example Retail Ltd" && policy.controller.dpo?.contact == "dpo@example.com")
        #expect(policy.controller.representative != nil)
        let support = try #require(policy.activities.first { $0.id == "customer-support" })
        #expect(support.transfers.contains { $0.country == "CN" && $0.safeguard == .piplStandardContract })
        let orders = try #require(policy.activities.first { $0.id == "customer-orders" })
        #expect(orders.recipients.contains { $0.country == "TW" && $0.kind == .processor })
        #expect(policy.activities.contains { $0.automatedDecisions.used && $0.automatedDecisions.description != nil })
        // Every purpose, schema category and retention rule of the defaults is covered.
        let purposes = try PurposeSet.load(from: dir.path)
        #expect(Set(policy.activities.flatMap(\.purposes)) == Set(purposes.ids))
        let schema = try Schema.load(from: dir.path)
        #expect(Set(policy.activities.flatMap(\.dataCategories)).isSuperset(of: Set(schema.fields.map(\.category))))
    }

    @Test func aDirectoryWithoutTheFileIsNotedNotFailed() throws {
        let dir = try Self.policies()
        try FileManager.default.removeItem(atPath: dir.file(ProcessingPolicy.fileName))
        #expect(PolicySet.check(directory: dir.path).isEmpty)
        let notes = PolicySet.notes(directory: dir.path)
        #expect(notes.count == 1 && notes[0].contains("processing.yaml is missing") && notes[0].contains("policy default processing.yaml"))
        #expect(try Self.load(dir) == nil)
    }

    /// (what to change in the default file, the text whose line the error names, the key, the problem)
    static let crossErrors: [(from: String, to: String, at: String, key: String, problem: String)] = [
        ("purposes: [profiling]", "purposes: [profiling, profilng]", "purposes: [profiling, profilng]",
         "activities.analytics.purposes", "'profilng' is not a purpose of purposes.yaml (did you mean 'profiling'?)"),
        ("purposes: [profiling]", "purposes: [sale-or-sharing]", "activities:",
         "activities", "no activity lists purpose 'profiling' of purposes.yaml"),
        ("data_categories: [demographic, location, account, behavioural]", "data_categories: [demographic, location, acount]",
         "data_categories: [demographic, location, acount]", "activities.analytics.data_categories", "unknown category 'acount'"),
        ("demographic, ", "", "activities:",
         "activities", "no activity lists data category 'demographic', which schema.yaml fields birth_date have"),
        ("retention: [customer-tax-records]", "retention: [customer-tax-records, customer-tax-record]", "retention: [customer-tax-records, customer-tax-record]",
         "activities.legal-and-accounting.retention", "'customer-tax-record' is not a rule of retention.yaml"),
        ("retention: [customer-tax-records]", "retention: []", "activities:",
         "activities", "no activity lists rule 'customer-tax-records' of retention.yaml"),
        ("        recipient: Example Logistics Taiwan Co., Ltd.", "        recipient: Example Logistics Taiwan", "recipient: Example Logistics Taiwan",
         "activities.customer-orders.transfers[0].recipient", "'Example Logistics Taiwan' is not a recipient of this activity"),
        ("        safeguard: pipl-standard-contract", "        safeguard: pipl-contract", "safeguard: pipl-contract",
         "activities.customer-support.transfers[0].safeguard", "must be one of adequacy, standard-contractual-clauses"),
        ("        country: TW\n    transfers:", "        country: Taiwan\n    transfers:", "country: Taiwan",
         "activities.customer-orders.recipients[1].country", "ISO 3166-1 alpha-2"),
        ("      used: true\n", "      used: true\n      descriptio: x\n", "descriptio: x",
         "activities.analytics.automated_decisions.descriptio", "is not a known key"),
    ]

    @Test(arguments: crossErrors)
    func eachErrorNamesFileLineAndKey(_ change: (from: String, to: String, at: String, key: String, problem: String)) throws {
        let text = Self.defaultText
        #expect(text.contains(change.from), "the default file no longer has \(change.from)")
        let changed = text.replacingOccurrences(of: change.from, with: change.to)
        let dir = try Self.policies(processing: changed)
        let errors = PolicySet.check(directory: dir.path).map(\.message)
        let expected = "\(dir.path)/processing.yaml: line \(Self.line(of: change.at, in: changed)): key '\(change.key)' "
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.hasPrefix(expected) == true, "\(errors.first ?? "") does not start with \(expected)")
        #expect(errors.first?.contains(change.problem) == true, "\(errors.first ?? "")")
        // Loading stops at the same error; a vault still opens (see RecordsOfProcessingTests).
        let error = expectError(.invalidInput) { try Self.load(dir) }
        #expect(error?.message == errors.first)
    }

    @Test func everyCrossCheckErrorIsReportedAtOnce() throws {
        let changed = Self.defaultText
            .replacingOccurrences(of: "purposes: [profiling]", with: "purposes: [fun]")
            .replacingOccurrences(of: "retention: [customer-tax-records]", with: "retention: [nope]")
        let dir = try Self.policies(processing: changed)
        let errors = PolicySet.check(directory: dir.path).map(\.message)
        // fun and nope unknown; profiling and customer-tax-records uncovered.
        #expect(errors.count == 4, "\(errors)")
        #expect(errors.allSatisfy { $0.hasPrefix(dir.path + "/processing.yaml: line ") })
    }

    @Test func brokenOtherFilesLeaveItUnchecked() throws {
        let dir = try Self.policies()
        try Data("version: 1\npurposes: {}\n".utf8).write(to: URL(fileURLWithPath: dir.file("purposes.yaml")))
        let errors = PolicySet.check(directory: dir.path).map(\.message)
        #expect(errors.contains { $0.hasPrefix(dir.path + "/processing.yaml: not checked") }, "\(errors)")
    }
}
