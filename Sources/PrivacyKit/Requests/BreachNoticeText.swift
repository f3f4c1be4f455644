import Foundation

/// Every word a breach notice shows its reader — the authority's draft and each person's
/// notice — in one place, so that a translation replaces this table and nothing else
/// (issue 23, point 8). Citations, field and category names, ids and times stay as they are.
enum BreachNoticeText {
    // The authority draft (authority.txt)
    static let authorityTitle = "Personal data breach: draft notification to the supervisory authority"
    static let draftNote = "A draft: check every item before it is sent. Nothing here was sent to anyone."
    static let breachID = "Breach"
    static let detectedAt = "Became aware of it at"
    static let draftedAt = "Draft made at"
    static let window = "Window examined in the audit log"
    static let regime = "Regime"
    static let recipient = "Recipient"
    static let deadline = "Deadline"
    static let condition = "Applies"
    static let personsDuty = "Telling the persons"
    static let always = "always"

    static func noClock(_ when: String) -> String { "no statutory clock: \(when)" }

    static func noAuthorityDuty(_ citations: [String]) -> String {
        "No duty to notify an authority under \(citations.joined(separator: "; ")). Nothing to send to an authority under this regime."
    }

    static func pastDeadline(_ deadline: String) -> String {
        "The deadline passed at \(deadline): give the reasons for the delay with the notification (GDPR art. 33(1))."
    }

    static let ccpaSample = "Attach a sample copy of the notice sent to the persons (persons' notice text in this directory)."
    static let piplPersonsException = "The persons need not be told where the measures taken avoid the harm, unless the authority asks for it (PIPL art. 57(2))."

    static func recipientName(_ regime: PrivacyRegime) -> String {
        switch regime {
        case .gdpr: "the lead supervisory authority"
        case .ccpa: "the California Attorney General"
        case .pdpaTW: "the Personal Data Protection Commission (個人資料保護委員會)"
        case .pipl: "the departments performing personal information protection duties (履行个人信息保护职责的部门)"
        }
    }

    /// The items the regime's authority notification holds, in its own order: (reference,
    /// heading, which facts).
    static func authorityItems(_ regime: PrivacyRegime) -> [(ref: String, heading: String, facts: [BreachNoticeFact])] {
        switch regime {
        case .gdpr:
            [
                ("GDPR art. 33(3)(a)", "The nature of the breach, the categories and approximate number of persons and of records concerned", [.nature, .numbers]),
                ("GDPR art. 33(3)(b)", "The data protection officer or other contact point", [.contact]),
                ("GDPR art. 33(3)(c)", "The likely consequences", [.consequences]),
                ("GDPR art. 33(3)(d)", "The measures taken or proposed, including to mitigate its possible adverse effects", [.measures]),
            ]
        case .pipl:
            [
                ("PIPL art. 57(1)(1)", "The categories of personal information concerned, the cause and the possible harm", [.nature, .numbers, .consequences]),
                ("PIPL art. 57(1)(2)", "The remedial measures taken and what individuals can do to reduce the harm", [.measures, .advice]),
                ("PIPL art. 57(1)(3)", "The contact of the personal information processor", [.contact]),
            ]
        case .ccpa, .pdpaTW:
            [
                ("", "What happened, the categories and number of persons and of records concerned", [.nature, .numbers]),
                ("", "Contact point", [.contact]),
                ("", "Likely consequences", [.consequences]),
                ("", "Measures taken or proposed", [.measures]),
            ]
        }
    }

    static func windowText(since: String, until: String, actor: String?, kekVersion: Int?) -> String {
        var text = "\(since) to \(until)"
        if let actor { text += ", actor \(actor)" }
        if let kekVersion { text += ", subjects under KEK v\(kekVersion)" }
        return text
    }

    static func numbers(persons: Int, erased: Int, values: Int, events: Int, unresolved: Int) -> String {
        var text = "About \(persons) persons (\(erased) of them erased since) and \(values) field values (records) in \(events) events."
        if unresolved > 0 { text += " \(unresolved) further ids in the log match no person the vault holds or erased." }
        return text
    }

    static func category(_ name: String, subjects: Int, values: Int) -> String { "\(name): \(subjects) persons, \(values) values" }

    static let categoriesHeading = "By category of personal data"
    static let noCategories = "No personal data was read, exported or changed in the window."

    static func contact(dpoName: String?, dpoContact: String?, controller: String?, controllerContact: String?) -> String {
        var lines: [String] = []
        if let dpoContact { lines.append("Data protection officer: \([dpoName, dpoContact].compactMap { $0 }.joined(separator: ", "))") }
        if let controller, let controllerContact { lines.append("Controller: \(controller), \(controllerContact)") }
        if dpoContact == nil { lines.append(noDPO) }
        return lines.joined(separator: "\n")
    }

    static let noDPO = "No data protection officer is named in processing.yaml (controller.dpo)."
    static let noProcessing = "MISSING: the vault has no valid processing.yaml, so no controller or contact point is known. Fill this in before sending."

    // Each person's notice
    static let personTitle = "Notice of a personal data breach"
    static let personWhatHappened = "What happened"
    static let personData = "Your information concerned"
    static let personConsequences = "What this may mean for you"
    static let personMeasures = "What we have done"
    static let personAdvice = "What you can do"
    static let personContact = "Who to contact"

    static func personDefaultSummary(controller: String?, detected: String) -> String {
        "On \(detected), \(controller ?? "we") became aware of a security incident in which personal information held about you was accessed or used without authorisation."
    }

    static let personDefaultAdvice = "Be careful with messages that ask for your personal details or passwords, and contact us with any questions."

    static func personCategories(_ categories: [String]) -> String {
        categories.isEmpty ? "Not known." : categories.joined(separator: ", ")
    }
}

/// A fact the draft states: the operator's texts or what the vault counted.
enum BreachNoticeFact: String {
    case nature, numbers, contact, consequences, measures, advice
}
