/// Every word the record of processing shows a reader (HTML and CSV), in one place so that
/// a translation replaces this table and nothing else (issue 23, point 8). Policy names
/// (purpose ids, rule names, categories) stay as the policy files spell them.
enum RecordsOfProcessingText {
    static let title = "Record of processing activities"
    static let subtitle = "GDPR art. 30(1); drawn from the vault's processing.yaml, purposes.yaml, retention.yaml and schema.yaml"
    static let generatedAt = "Drawn up at"
    static let vault = "Vault"
    static let none = "None"
    static let yes = "Yes"
    static let no = "No"

    // The controller (art. 30(1)(a))
    static let controller = "Controller"
    static let name = "Name"
    static let address = "Address"
    static let contact = "Contact"
    static let representative = "Representative in the EU (art. 27)"
    static let dpo = "Data protection officer"

    // An activity
    static let activity = "Activity"
    static let description = "Description"
    static let purposes = "Purposes and lawful basis (art. 30(1)(b), 6(1))"
    static let purpose = "Purpose"
    static let lawfulBasis = "Lawful basis"
    static let consent = "Consent"
    static let dataSubjects = "Categories of data subjects (art. 30(1)(c))"
    static let dataCategories = "Categories of personal data (art. 30(1)(c))"
    static let category = "Category"
    static let fields = "Fields"
    static let recipients = "Recipients (art. 30(1)(d))"
    static let kind = "Kind"
    static let country = "Country"
    static let transfers = "Transfers to third countries and their safeguards (art. 30(1)(e), 46; PIPL art. 38)"
    static let recipient = "Recipient"
    static let safeguard = "Safeguard"
    static let reference = "Reference"
    static let retention = "Time limits for erasure (art. 30(1)(f))"
    static let timeLimit = "Time limit"
    static let legalReason = "Legal reason"
    static let rule = "Rule"
    static let securityMeasures = "Technical and organisational security measures (art. 30(1)(g), 32)"
    static let sources = "Sources of the data (art. 14(2)(f))"
    static let automatedDecisions = "Automated decision-making, including profiling (art. 22; PIPL art. 24)"

    /// The CSV's header: one row per activity, the controller repeated on each so a row
    /// stands on its own.
    static let csvHeader = [
        controller, dpo, representative, "Activity id", activity, description, "Purposes", lawfulBasis, "Data subjects",
        "Data categories", fields, "Recipients", "Transfers", "Retention", "Security measures", "Sources", "Automated decisions",
    ]

    static func recipientKind(_ kind: ProcessingPolicy.RecipientKind) -> String {
        switch kind {
        case .processor: "Processor"
        case .controller: "Controller"
        case .authority: "Public authority"
        case .internal: "Internal"
        }
    }

    static func safeguard(_ safeguard: ProcessingPolicy.Safeguard) -> String {
        switch safeguard {
        case .adequacy: "Adequacy decision (GDPR art. 45)"
        case .standardContractualClauses: "Standard contractual clauses (GDPR art. 46(2)(c))"
        case .bindingCorporateRules: "Binding corporate rules (GDPR art. 47)"
        case .derogation: "Derogation for a specific situation (GDPR art. 49)"
        case .piplStandardContract: "Standard contract (PIPL art. 38(1)(3))"
        case .piplCertification: "Certification (PIPL art. 38(1)(2))"
        case .piplSecurityAssessment: "Security assessment (PIPL art. 38(1)(1), 40)"
        }
    }

    static func source(_ kind: ProcessingPolicy.SourceKind) -> String {
        switch kind {
        case .fromSubject: "From the data subject"
        case .thirdParty: "From a third party"
        }
    }
}
