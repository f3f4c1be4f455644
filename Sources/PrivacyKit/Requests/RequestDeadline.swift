public import Foundation

/// The deadline of a data-subject request: pure functions of the rule and the times
/// involved (no clock, no policy file). Each rule cites the article it comes from.
///
/// - GDPR (art. 12(3)): one calendar month from receipt (31 January → 28 or 29 February),
///   three months once extended, counted in UTC. The clock is paused while identity
///   verification is awaited (EDPB Guidelines 01/2022), if it was asked for before the
///   deadline: the months are counted from receipt plus the time waited.
/// - CCPA (Cal. Civ. Code § 1798.130(a)(2)): 45 days from receipt, 90 once extended,
///   whatever the identity verification takes. Opt-out of sale or sharing (`objection`) and
///   limiting the use of sensitive data (`restriction`) must be honoured within 15 business
///   days (CCPA regulations §§ 7026(f)(1), 7027(g)(1)) and cannot be extended; business
///   days are Monday to Friday in California (America/Los_Angeles), the day of receipt not
///   counted, the last one ending at local midnight.
/// - Taiwan's PDPA (art. 13): a decision on access or copies (art. 10) within 15 days,
///   extendable once by 15; on correction, deletion or cessation (art. 11) within 30,
///   extendable once by 30; both with written notice of the reason. Days are calendar days
///   in Taiwan (Asia/Taipei): the day of receipt is not counted and the last day ends at
///   local midnight (Civil Code arts. 120(2), 121(1)). A refusal of marketing (art. 20(2)–(3))
///   means the marketing use stops at once; its answer is bounded by art. 13(2)'s 30 days.
/// - PIPL (art. 50) sets no deadline: the controller's own, from `Policies/regimes.yaml`,
///   counted like Taiwan's in China's time (Asia/Shanghai), and labelled non-statutory.
///
/// Public holidays are not known here, so a business-day or day deadline can only come
/// early, never late (Civil Code art. 122 would move a Taiwanese deadline that ends on a
/// rest day to the next working day).
public enum RequestDeadline {
    /// A length of time in calendar terms.
    public enum Period: Sendable, Equatable, CustomStringConvertible {
        /// Calendar months from the instant of receipt (in the rule's time zone).
        case months(Int)
        /// Whole days of 24 hours from the instant of receipt.
        case days(Int)
        /// To the end of the nth weekday after the day of receipt (in the rule's time zone).
        case businessDays(Int)
        /// To the end of the nth calendar day after the day of receipt (in the rule's time zone).
        case calendarDays(Int)

        public var description: String {
            switch self {
            case .months(let n): "\(n) month\(n == 1 ? "" : "s")"
            case .days(let n), .calendarDays(let n): "\(n) days"
            case .businessDays(let n): "\(n) business days"
            }
        }
    }

    /// The time a controller commits to where no statute sets one (PIPL).
    public struct OwnDeadline: Sendable, Equatable {
        /// Calendar days from the day after receipt.
        public let days: Int
        /// Days one extension adds; nil: no extension.
        public let extensionDays: Int?

        public init(days: Int, extensionDays: Int?) {
            self.days = days
            self.extensionDays = extensionDays
        }
    }

    /// What a regime allows for one request type.
    public struct Rule: Sendable, Equatable {
        public let period: Period
        /// The whole time allowed once extended (from receipt); nil: no extension.
        public let extended: Period?
        /// The article (or, for a controller's own deadline, the policy file) it comes from.
        public let citation: String
        /// False for a deadline the controller set itself because the statute sets none.
        public let statutory: Bool
        /// Whether waiting for identity verification pauses the clock.
        public let pausesForIdentity: Bool
        /// Where days are counted.
        public let timeZone: TimeZone

        public var canExtend: Bool { extended != nil }
    }

    /// The rule for `type` under `regime`; `own` is the controller's deadline for regimes
    /// that set none.
    ///
    /// - Throws: `.invalidInput` for PIPL without `own` (a deadline is never invented), and
    ///   for a limit request outside the CCPA (the right exists only there).
    public static func rule(regime: PrivacyRegime, type: DataSubjectRequestType, own: OwnDeadline? = nil) throws -> Rule {
        if type == .limit && regime != .ccpa {
            throw PrivacyKitError(.invalidInput, "a limit request is a CPRA right (§ 1798.121): open it under ccpa; under \(regime.rawValue) use restriction or objection")
        }
        switch regime {
        case .gdpr:
            return Rule(period: .months(1), extended: .months(3), citation: "GDPR art. 12(3)", statutory: true, pausesForIdentity: true, timeZone: utc)
        case .ccpa:
            switch type {
            case .objection:
                return Rule(period: .businessDays(15), extended: nil, citation: "CCPA regulations § 7026(f)(1)", statutory: true,
                            pausesForIdentity: false, timeZone: zone("America/Los_Angeles"))
            case .restriction, .limit:
                return Rule(period: .businessDays(15), extended: nil, citation: "CCPA regulations § 7027(g)(1)", statutory: true,
                            pausesForIdentity: false, timeZone: zone("America/Los_Angeles"))
            default:
                return Rule(period: .days(45), extended: .days(90), citation: "Cal. Civ. Code § 1798.130(a)(2)", statutory: true,
                            pausesForIdentity: false, timeZone: utc)
            }
        case .pdpaTW:
            let taipei = zone("Asia/Taipei")
            switch type {
            case .access, .export:
                return Rule(period: .calendarDays(15), extended: .calendarDays(30), citation: "PDPA (Taiwan) art. 13(1)", statutory: true,
                            pausesForIdentity: false, timeZone: taipei)
            case .objection:
                return Rule(period: .calendarDays(30), extended: .calendarDays(60), citation: "PDPA (Taiwan) art. 20(2)-(3), art. 13(2)",
                            statutory: true, pausesForIdentity: false, timeZone: taipei)
            case .rectification, .erasure, .restriction, .limit:  // .limit: refused above
                return Rule(period: .calendarDays(30), extended: .calendarDays(60), citation: "PDPA (Taiwan) art. 13(2)", statutory: true,
                            pausesForIdentity: false, timeZone: taipei)
            }
        case .pipl:
            guard let own else {
                throw PrivacyKitError(.invalidInput, "PIPL sets no deadline for requests (art. 50): set the controller's own under pipl: in Policies/regimes.yaml")
            }
            return Rule(period: .calendarDays(own.days), extended: own.extensionDays.map { .calendarDays(own.days + $0) },
                        citation: "controller's own deadline (Policies/regimes.yaml); PIPL art. 50 sets none", statutory: false,
                        pausesForIdentity: false, timeZone: zone("Asia/Shanghai"))
        }
    }

    /// The time allowed from (paused) receipt to the answer.
    public static func period(_ rule: Rule, extended: Bool) -> Period {
        extended ? rule.extended ?? rule.period : rule.period
    }

    public static let utc = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!

    private static func zone(_ identifier: String) -> TimeZone {
        // The zones are fixed names of the tz database every platform ships.
        TimeZone(identifier: identifier) ?? utc
    }

    private static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    /// `date` moved forward by `period`, counted in `zone`. The day-counting periods end
    /// at the last millisecond of their last day (a stored time has millisecond precision,
    /// and an answer at the deadline instant is on time).
    public static func add(_ period: Period, to date: Date, in zone: TimeZone = utc) -> Date {
        let calendar = calendar(zone)
        func endOfDay(_ day: Date) -> Date {
            let next = calendar.date(byAdding: .day, value: 1, to: calendar.startOfDay(for: day)) ?? day.addingTimeInterval(86_400)
            return next.addingTimeInterval(-0.001)
        }
        switch period {
        case .months(let n): return calendar.date(byAdding: .month, value: n, to: date) ?? date.addingTimeInterval(Double(n) * 31 * 86_400)
        case .days(let n): return date.addingTimeInterval(Double(n) * 86_400)
        case .calendarDays(let n):
            return endOfDay(calendar.date(byAdding: .day, value: n, to: date) ?? date.addingTimeInterval(Double(n) * 86_400))
        case .businessDays(let n):
            var day = date
            var counted = 0
            while counted < n {
                day = calendar.date(byAdding: .day, value: 1, to: day) ?? day.addingTimeInterval(86_400)
                if !calendar.isDateInWeekend(day) { counted += 1 }
            }
            return endOfDay(day)
        }
    }

    /// How long the deadline is paused for identity verification as of `asOf`: from when it
    /// was asked for until it arrived (or until `asOf` while it has not), if it was asked
    /// for before the deadline and the rule pauses at all (GDPR's).
    public static func pause(
        _ rule: Rule, receivedAt: Date, extended: Bool, identityRequestedAt: Date?, identityVerifiedAt: Date?, asOf: Date
    ) -> TimeInterval {
        guard rule.pausesForIdentity, let requested = identityRequestedAt else { return 0 }
        guard requested <= add(period(rule, extended: extended), to: receivedAt, in: rule.timeZone) else { return 0 }
        return max(0, (identityVerifiedAt ?? asOf).timeIntervalSince(requested))
    }

    /// The time identity verification has been awaited as of `asOf` (reported under every
    /// regime, whether or not it pauses the deadline).
    public static func identityWait(identityRequestedAt: Date?, identityVerifiedAt: Date?, asOf: Date) -> TimeInterval {
        guard let requested = identityRequestedAt else { return 0 }
        return max(0, (identityVerifiedAt ?? asOf).timeIntervalSince(requested))
    }

    /// The deadline as of `asOf` (which matters only while a GDPR request awaits identity:
    /// the deadline moves with the pause).
    public static func deadline(
        _ rule: Rule, receivedAt: Date, extended: Bool, identityRequestedAt: Date? = nil, identityVerifiedAt: Date? = nil, asOf: Date
    ) -> Date {
        let paused = pause(rule, receivedAt: receivedAt, extended: extended,
                           identityRequestedAt: identityRequestedAt, identityVerifiedAt: identityVerifiedAt, asOf: asOf)
        return add(period(rule, extended: extended), to: receivedAt.addingTimeInterval(paused), in: rule.timeZone)
    }
}
