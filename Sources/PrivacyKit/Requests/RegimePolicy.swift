public import Foundation
import Yams

/// An amendment promulgated without a fixed commencement: it applies from a date the
/// government sets later, which the controller records in `regimes.yaml`.
public enum StatuteAmendment: String, Sendable, Codable, CaseIterable {
    /// Taiwan's PDPA as amended on 11 November 2025: art. 12 asks for breach notice to the
    /// persons without waiting for the facts to be established, and a report to the
    /// Personal Data Protection Commission of incidents that meet its criteria. In force
    /// from a date the Executive Yuan sets.
    case pdpaTW2025 = "pdpa-tw-2025"
}

/// `Policies/regimes.yaml`: what the controller sets where the laws leave it open — its own
/// deadline for regimes that set none (PIPL art. 50), and the commencement dates of
/// amendments the government fixes later. Optional: a vault made before it opens without
/// it, and then cannot open PIPL requests and applies no such amendment.
public struct RegimePolicy: Sendable, Equatable {
    public static let fileName = "regimes.yaml"

    /// The controller's own deadline per regime (only regimes without a statutory one).
    public let ownDeadlines: [PrivacyRegime: RequestDeadline.OwnDeadline]
    /// When each amendment took (or takes) effect: the start of that day in the regime's
    /// time zone. Absent: not in force.
    public let inForce: [StatuteAmendment: Date]

    public init(ownDeadlines: [PrivacyRegime: RequestDeadline.OwnDeadline], inForce: [StatuteAmendment: Date] = [:]) {
        self.ownDeadlines = ownDeadlines
        self.inForce = inForce
    }

    /// The policy of a vault without the file: no own deadlines, no amendment in force.
    public static let none = RegimePolicy(ownDeadlines: [:])

    /// Regimes whose statute sets no deadline, which alone may have an own one.
    static let regimesWithoutDeadline: [PrivacyRegime] = [.pipl]

    /// Loads `regimes.yaml` from a policy directory; `.none` when it is absent.
    public static func load(from directory: String) throws -> RegimePolicy {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { return .none }
        return try parse(data, name: path)
    }

    /// Parses the file; every error names the file, the line and the key.
    public static func parse(_ data: Data, name: String) throws -> RegimePolicy {
        try PolicySet.validate(data, name: name)
        let root = try PolicySet.compose(data, name: name)
        let reader = PolicyReader(file: name)
        let top = try reader.mapping(root, key: nil)
        try reader.onlyKeys(top, ["version", "own_deadlines", "in_force"], at: nil, node: root)
        var own: [PrivacyRegime: RequestDeadline.OwnDeadline] = [:]
        if let node = top["own_deadlines"] {
            let names = regimesWithoutDeadline.map(\.rawValue)
            for (keyNode, valueNode) in try reader.mapping(node, key: "own_deadlines") {
                guard let text = keyNode.string, let regime = PrivacyRegime(rawValue: text) else {
                    throw reader.error(keyNode, key: "own_deadlines", "names no regime (one of \(names.joined(separator: ", ")))")
                }
                guard regimesWithoutDeadline.contains(regime) else {
                    throw reader.error(keyNode, key: "own_deadlines.\(text)", "\(text) sets its own deadlines; only \(names.joined(separator: ", ")) leave them to the controller")
                }
                let path = "own_deadlines.\(text)"
                let spec = try reader.mapping(valueNode, key: path)
                try reader.onlyKeys(spec, ["days", "extension_days"], at: path, node: valueNode)
                func days(_ key: String) throws -> Int? {
                    guard let node = spec[key] else { return nil }
                    guard let value = node.int, value >= 1, value <= 366 else {
                        throw reader.error(node, key: "\(path).\(key)", "must be a whole number of days from 1 to 366")
                    }
                    return value
                }
                let period = try reader.required(try days("days"), key: "\(path).days", node: valueNode)
                own[regime] = RequestDeadline.OwnDeadline(days: period, extensionDays: try days("extension_days"))
            }
        }
        var inForce: [StatuteAmendment: Date] = [:]
        if let node = top["in_force"] {
            let names = StatuteAmendment.allCases.map(\.rawValue)
            for (keyNode, valueNode) in try reader.mapping(node, key: "in_force") {
                guard let text = keyNode.string, let amendment = StatuteAmendment(rawValue: text) else {
                    throw reader.error(keyNode, key: "in_force", "names no amendment (one of \(names.joined(separator: ", ")))")
                }
                guard let day = valueNode.string, day.count == 10, let date = Self.startOfDay(day, in: amendment.timeZone) else {
                    throw reader.error(valueNode, key: "in_force.\(text)", "must be a date such as 2026-07-01 (the day it takes effect)")
                }
                inForce[amendment] = date
            }
        }
        return RegimePolicy(ownDeadlines: own, inForce: inForce)
    }

    /// Midnight starting `day` (YYYY-MM-DD) in `zone`.
    static func startOfDay(_ day: String, in zone: TimeZone) -> Date? {
        let parts = day.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let components = DateComponents(year: parts[0], month: parts[1], day: parts[2])
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }

    /// Whether `amendment` applies to something that happened at `date`.
    public func applies(_ amendment: StatuteAmendment, at date: Date) -> Bool {
        inForce[amendment].map { date >= $0 } ?? false
    }
}

extension StatuteAmendment {
    /// Where its commencement day is counted.
    var timeZone: TimeZone {
        switch self {
        case .pdpaTW2025: TimeZone(identifier: "Asia/Taipei") ?? RequestDeadline.utc
        }
    }
}
