import ArgumentParser
import Foundation
import PrivacyKit

extension Privacyctl {
    struct Requests: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Track data-subject requests (access, export, rectification, restriction, objection, erasure) and their legal deadlines.",
            discussion: """
                GDPR (art. 12(3)): one calendar month from receipt (UTC), three once extended; paused while \
                identity verification is awaited. CCPA (§ 1798.130): 45 days, 90 once extended, not paused; \
                opt-out (objection) and limit (restriction) requests: 15 business days in California, no \
                extension. Taiwan's PDPA (art. 13): 15 days for access and copies, 30 for correction, deletion \
                and cessation, each extendable once by as many, counted in Taiwan's days. PIPL sets no \
                deadline (art. 50): the controller's own from Policies/regimes.yaml, labelled non-statutory. \
                A request is completed only with the identity verified to the degree its regime asks for \
                (verify-identity) and the vault's proof that it was carried out (an erasure receipt, an \
                export, a write, a restriction, an objection). Times are ISO 8601 (2026-01-31T09:00:00Z), \
                a date (midnight UTC) or `now`. See docs/regimes.md.
                """,
            subcommands: [Open.self, List.self, Show.self, VerifyIdentity.self, Extend.self, Close.self]
        )
    }
}

/// `--now T`: the time deadlines are evaluated at (default: now).
struct NowOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The time to evaluate deadlines at (default: now).", valueName: "time")) var now: String?

    func date() throws -> Date { try CLITime.parse(now, option: "--now") ?? Date() }
}

/// `--at T`: when a change happened (default: now).
struct AtOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("When it happened (default: now).", valueName: "time")) var at: String?

    func date() throws -> Date { try CLITime.parse(at, option: "--at") ?? Date() }
}

enum RequestsOutput {
    struct One: Encodable {
        let ok = true
        let request: DataSubjectRequest
    }

    struct Many: Encodable {
        let ok = true
        let count: Int
        let requests: [DataSubjectRequest]
    }

    static func summary(_ r: DataSubjectRequest) -> String {
        "\(r.id)  \(r.type.rawValue)  \(r.regime.rawValue)  subject \(r.subject)\(r.subjectState == .live ? "" : " (\(r.subjectState.rawValue))")  "
            + "\(r.status.rawValue)  deadline \(ISOTime.preciseString(r.deadline))\(r.rule.statutory ? "" : " (non-statutory)")\(r.overdue ? "  OVERDUE" : "")"
    }

    static func detail(_ one: One) -> [String] {
        let r = one.request
        var lines = [summary(r), "  received \(ISOTime.preciseString(r.receivedAt)), opened by \(r.openedBy) at \(ISOTime.preciseString(r.openedAt))",
                     "  deadline under \(r.rule.citation): \(r.rule.period)\(r.rule.extended.map { ", \($0) once extended" } ?? ", no extension")"]
        if let reference = r.reference { lines.append("  reference \(reference)") }
        if r.identityRequestedAt != nil || r.identityVerifiedAt != nil {
            lines.append("  identity asked for \(r.identityRequestedAt.map(ISOTime.preciseString) ?? "-"), verified \(r.identityVerifiedAt.map(ISOTime.preciseString) ?? "not yet")"
                         + String(format: " (%.2f days waited)", r.daysWaitingForIdentity))
        }
        if let method = r.identityMethod, let degree = r.identityDegree {
            lines.append("  identity: \(method.rawValue), \(degree.rawValue) degree (needed: \(r.identityRequired.rawValue))")
        } else if r.closedAt == nil {
            lines.append("  identity: not recorded (needed to complete: \(r.identityRequired.rawValue) degree)")
        }
        if let proof = r.proof { lines.append("  completed on \(proof.kind.rawValue)\(proof.auditSeq.map { ", audit event \($0)" } ?? "")\(proof.receiptID.map { ", receipt \($0)" } ?? "")") }
        if let extended = r.extendedAt { lines.append("  extended at \(ISOTime.preciseString(extended)): \(r.extensionReason ?? "")") }
        if let closed = r.closedAt {
            lines.append("  closed at \(ISOTime.preciseString(closed)) by \(r.closedBy ?? "?"): \(r.outcome?.rawValue ?? "?")\(r.closeReason.map { ", \($0)" } ?? "")"
                         + (r.answeredLate == true ? " (after the deadline)" : " (on time)"))
        }
        if let note = r.note {
            lines.append("  note: \(note)")
        } else if r.hasNote {
            lines.append(r.subjectState == .live ? "  note: sealed (`requests show` decrypts it)" : "  note: unreadable (the subject's key is gone)")
        }
        return lines
    }
}

extension Privacyctl.Requests {
    struct Open: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Open a data-subject request; prints its id and deadline.", discussion: Examples.section("requests open"))
        @OptionGroup var options: VaultCommandOptions
        @Option(name: .long, help: ArgumentHelp("access, export, rectification, restriction, objection or erasure.", valueName: "type")) var type: String
        @Option(name: .long, help: ArgumentHelp("The subject id.", valueName: "id")) var subject: String
        @Option(name: .long, help: ArgumentHelp("gdpr, ccpa, pdpa-tw or pipl.", valueName: "regime")) var regime: String
        @Option(name: .long, help: ArgumentHelp("When the request was received (default: now).", valueName: "time")) var received: String?
        @Option(name: .long, help: ArgumentHelp("A ticket number in another system (no personal data).", valueName: "ref")) var reference: String?
        @Option(name: .long, help: ArgumentHelp("A note, stored encrypted under the subject's key (visible in ps: prefer --note-file).", valueName: "text"))
        var note: String?
        @Option(name: .customLong("note-file"), help: ArgumentHelp("The note from a file, or - for standard input.", valueName: "file")) var noteFile: String?
        @Flag(name: .customLong("unknown-subject"), help: "Open it although the vault holds no subject or tombstone with this id.")
        var unknownSubject = false

        func run() throws {
            try options.run({ vault, context in
                let type = try DataSubjectRequestType(parsing: type)
                let regime = try PrivacyRegime(parsing: regime)
                let received = try CLITime.parse(received, option: "--received") ?? Date()
                let note = try InputFile.text(note, file: noteFile, option: "note")
                return RequestsOutput.One(request: try vault.requests.open(
                    type, regime: regime, subject: subject, receivedAt: received, reference: reference, note: note,
                    unknownSubject: unknownSubject, context: context))
            }, text: { Output.standardOutput(lines: [RequestsOutput.summary($0.request)]) })
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List requests with their status and deadline, oldest first.", discussion: Examples.section("requests list"))
        @OptionGroup var options: VaultCommandOptions
        @Flag(name: .customLong("open"), help: "Only requests not closed.") var openOnly = false
        @Flag(name: .long, help: "Only open requests past their deadline (at --now).") var overdue = false
        @Option(name: .long, help: ArgumentHelp("Only this subject's requests.", valueName: "id")) var subject: String?
        @OptionGroup var now: NowOption

        func run() throws {
            try options.run({ vault, context in
                let requests = try vault.requests.list(openOnly: openOnly, overdueOnly: overdue, subject: subject, now: try now.date(), context: context)
                return RequestsOutput.Many(count: requests.count, requests: requests)
            }, text: { Output.standardOutput(lines: $0.requests.map(RequestsOutput.summary) + ["\($0.count) requests"]) })
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one request, with its note (recorded as a read of the subject).", discussion: Examples.section("requests show"))
        @OptionGroup var options: VaultCommandOptions
        @Argument(help: ArgumentHelp("The request id (dsr-…).", valueName: "id")) var id: String
        @OptionGroup var now: NowOption

        func run() throws {
            try options.run({ vault, context in
                RequestsOutput.One(request: try vault.requests.get(id, now: try now.date(), context: context))
            }, text: { Output.standardOutput(lines: RequestsOutput.detail($0)) })
        }
    }

    struct VerifyIdentity: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-identity",
            abstract: "Record when identity verification was asked for (--requested-at) and when it arrived (--verified-at), how and how surely.",
            discussion: Examples.discussion("""
                Under GDPR the deadline is paused in between. Each time is recorded once. --verified-at needs \
                --method (\(IdentityMethod.allCases.map(\.rawValue).joined(separator: ", "))) and --degree (none, \
                reasonable, high); a request is completed only once the degree reaches what its regime asks for \
                (CCPA regulations §§ 7060-7062: high to hand over specific pieces; none for opt-outs).
                """, "requests verify-identity"))
        @OptionGroup var options: VaultCommandOptions
        @Argument(help: ArgumentHelp("The request id (dsr-…).", valueName: "id")) var id: String
        @Option(name: .customLong("requested-at"), help: ArgumentHelp("When verification was asked for.", valueName: "time")) var requestedAt: String?
        @Option(name: .customLong("verified-at"), help: ArgumentHelp("When the identity was verified.", valueName: "time")) var verifiedAt: String?
        @Option(name: .long, help: ArgumentHelp("How it was verified (with --verified-at).", valueName: "method")) var method: String?
        @Option(name: .long, help: ArgumentHelp("How sure: none, reasonable or high (with --verified-at).", valueName: "degree")) var degree: String?

        func validate() throws {
            if requestedAt == nil && verifiedAt == nil { throw ValidationError("give --requested-at, --verified-at or both (a time, or now)") }
            if verifiedAt != nil && (method == nil || degree == nil) { throw ValidationError("--verified-at needs --method and --degree") }
            if verifiedAt == nil && (method != nil || degree != nil) { throw ValidationError("--method and --degree go with --verified-at") }
        }

        func run() throws {
            try options.run({ vault, context in
                RequestsOutput.One(request: try vault.requests.recordIdentity(
                    id, requestedAt: try CLITime.parse(requestedAt, option: "--requested-at"),
                    verifiedAt: try CLITime.parse(verifiedAt, option: "--verified-at"),
                    method: try method.map(IdentityMethod.init(parsing:)), degree: try degree.map(IdentityDegree.init(parsing:)),
                    context: context))
            }, text: { Output.standardOutput(lines: RequestsOutput.detail($0)) })
        }
    }

    struct Extend: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Extend a request's deadline once (GDPR: by two months; CCPA: by 45 days; PDPA: by 15 or 30 days), before it passes.", discussion: Examples.section("requests extend"))
        @OptionGroup var options: VaultCommandOptions
        @Argument(help: ArgumentHelp("The request id (dsr-…).", valueName: "id")) var id: String
        @Option(name: .long, help: ArgumentHelp("Why (stored with the request; no personal data).", valueName: "text")) var reason: String
        @OptionGroup var at: AtOption

        func run() throws {
            try options.run({ vault, context in
                RequestsOutput.One(request: try vault.requests.extend(id, reason: reason, at: try at.date(), context: context))
            }, text: { Output.standardOutput(lines: RequestsOutput.detail($0)) })
        }
    }

    struct Close: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Close a request: completed (needs the identity verified and the proof it was done), refused (needs --reason) or withdrawn.",
            discussion: Examples.section("requests close"))
        @OptionGroup var options: VaultCommandOptions
        @Argument(help: ArgumentHelp("The request id (dsr-…).", valueName: "id")) var id: String
        @Option(name: .long, help: ArgumentHelp("completed, refused or withdrawn.", valueName: "outcome")) var outcome: String
        @Option(name: .long, help: ArgumentHelp("Why (stored with the request; no personal data).", valueName: "text")) var reason: String?
        @OptionGroup var at: AtOption

        func run() throws {
            try options.run({ vault, context in
                RequestsOutput.One(request: try vault.requests.close(
                    id, outcome: try DataSubjectRequestOutcome(parsing: outcome), reason: reason,
                    at: try at.date(), context: context))
            }, text: { Output.standardOutput(lines: RequestsOutput.detail($0)) })
        }
    }
}
