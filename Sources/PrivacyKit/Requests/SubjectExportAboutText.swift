/// Every word `about.json` and `about.txt` show the person a subject export is about, in one
/// place so that a translation replaces this table and nothing else (issue 23, point 8).
/// Labels the record of processing already has (controller, representative, DPO, recipient
/// kinds, safeguards, sources) come from ``RecordsOfProcessingText``; retention rules are
/// put in words by ``ReportWords``. Policy names (purpose ids, categories, rule names) stay as
/// the policy files spell them.
enum SubjectExportAboutText {
    static let title = "About your personal data"
    static func subtitle(subject: String, at time: String) -> String {
        "Data subject \(subject), as of \(time): what the controller does with your personal data (GDPR art. 15(1) and (2); CCPA § 1798.110)."
    }

    static let notDescribedHeading = "Not described by the controller"
    static let notDescribed = """
        The controller has not described its processing: the vault holds no valid record of processing activities \
        (processing.yaml). The purposes and their lawful basis, the recipients, transfers abroad, sources and automated \
        decisions are therefore not stated here; ask the controller for them. The categories of data held, the retention \
        rules and your rights below come from the vault's other policies.
        """

    static let none = "None"
    static let purposes = "Purposes of the processing and their lawful basis (art. 15(1)(a), 13(1)(c))"
    static let categories = "Categories of personal data held about you (art. 15(1)(b))"
    static let recipients = "Recipients and categories of recipients (art. 15(1)(c))"
    static let transfers = "Transfers to third countries and their safeguards (art. 15(2))"
    static let noTransfers = "None: your data is not transferred outside the controller's own jurisdiction."
    static let retention = "How long your data is kept (art. 15(1)(d))"
    static let noRetention = "No retention rule applies to your record: it is kept until you or the controller have it erased."
    static let rights = "Your rights (art. 15(1)(e))"
    static let complaintHeading = "Complaint to a supervisory authority (art. 15(1)(f))"
    static let sources = "Where your data comes from (art. 15(1)(g))"
    static let automated = "Automated decision-making, including profiling (art. 15(1)(h), 22)"
    static let noAutomated = "None: no decision about you is made by automated means."
    static let restrictedHeading = "Restriction of processing"
    static let restricted = "Processing of your data is restricted (GDPR art. 18): it is stored, and used only as the law still allows."

    static let lawfulBasisLabel = "Lawful basis"
    static let consentLabel = "Your consent"
    static let activitiesLabel = "Processing activities"
    static let categoriesLabel = "Your data used"
    static let untilLabel = "Until at the latest"
    static let whyLabel = "Why"
    static let purposesLabel = "Purposes"

    static func party(_ name: String, _ address: String, _ contact: String) -> String { "\(name), \(address), \(contact)" }

    static func lawfulBasis(_ basis: LawfulBasis) -> String {
        switch basis {
        case .consent: "Your consent (GDPR art. 6(1)(a))"
        case .contract: "A contract with you, or steps you asked for before one (GDPR art. 6(1)(b))"
        case .legalObligation: "A legal obligation of the controller (GDPR art. 6(1)(c))"
        case .vitalInterests: "Vital interests (GDPR art. 6(1)(d))"
        case .publicTask: "A task in the public interest (GDPR art. 6(1)(e))"
        case .legitimateInterests: "The controller's legitimate interests, which you may object to (GDPR art. 6(1)(f), 21)"
        }
    }

    static func consentState(_ state: ConsentState, since: String?, expires: String?) -> String {
        let at = since ?? "?"
        switch state {
        case .granted: return "given on \(at)" + (expires.map { ", valid until \($0)" } ?? ", until you withdraw it")
        case .notRequired: return "not needed"
        case .notObjected: return since.map { "you withdrew your objection on \($0)" } ?? "you have not objected"
        case .neverAsked: return "never given: your data is not used for this purpose"
        case .withdrawn: return "withdrawn on \(at): your data is no longer used for this purpose"
        case .expired: return "given on \(at), expired: your data is no longer used for this purpose"
        case .noticeChanged: return "given on \(at) under an earlier privacy notice: not used until you consent again"
        case .objected: return "you objected on \(at): your data is no longer used for this purpose"
        case .restricted: return "processing of your data is restricted"
        }
    }

    static func retentionCategory(_ name: String) -> String { "Your record is in retention category \(name)." }
    static func dueOn(_ time: String) -> String { "Falls due for your record on \(time)." }
    static let notYetDue = "No date yet for your record: what the period counts from has not happened."

    static func right(_ right: SubjectExportAbout.RightKind) -> String {
        switch right {
        case .rectification:
            "Rectification: to have inaccurate personal data about you corrected, and incomplete data completed (GDPR art. 16; CCPA § 1798.106)."
        case .erasure:
            "Erasure: to have your personal data erased, for instance when it is no longer needed, you withdraw your consent or object, or it was processed unlawfully (GDPR art. 17; CCPA § 1798.105)."
        case .restriction:
            "Restriction: to have your data stored but not otherwise used while its accuracy or the lawfulness of its use is settled, or while you need it for a legal claim (GDPR art. 18)."
        case .objection:
            "Objection: to object to processing based on legitimate interests or a public task, and at any time to direct marketing; to opt out of the sale or sharing of your personal information (GDPR art. 21; CCPA § 1798.120)."
        case .portability:
            "Portability: to receive the data you provided in a structured, machine-readable form (the JSON and CSV files of this package) and to have it sent to another controller (GDPR art. 20)."
        case .withdrawConsent:
            "Withdrawal of consent: to withdraw your consent at any time, as easily as you gave it; processing before the withdrawal stays lawful (GDPR art. 7(3))."
        }
    }

    static func exercise(contact: String, dpo: String?) -> String {
        "To exercise these rights, contact the controller at \(contact)" + (dpo.map { " or its data protection officer at \($0)" } ?? "") + "."
    }

    static let complaint = """
        You have the right to lodge a complaint with a supervisory authority (a data protection authority), in particular \
        in the EU member state of your habitual residence, your place of work or the place of the alleged infringement \
        (GDPR art. 77).
        """
}
