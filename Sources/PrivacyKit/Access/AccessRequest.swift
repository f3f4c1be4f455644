/// What a capability is about to do, for the access decision (`VaultCore.authorize`).
struct AccessRequest {
    /// nil: no action is needed (the role and purpose must still exist).
    let action: AccessAction?
    /// The event a denial is recorded as.
    let event: AuditAction
    let subject: String?
    /// Fields to be read, by name (each must be readable); nil: none, or every field the
    /// role may read when `allReadableFields` is set.
    let fields: [String]?
    let allReadableFields: Bool
    /// The call matches values of `fields` (a find, duplicate clusters, a blind index): it
    /// needs each field's full view, since matching guesses against a field seen only
    /// masked would reveal the rest of it.
    let matchesValues: Bool

    init(_ action: AccessAction?, event: AuditAction, subject: String? = nil, fields: [String]? = nil, allReadableFields: Bool = false,
         matchesValues: Bool = false) {
        self.action = action
        self.event = event
        self.subject = subject
        self.fields = fields
        self.allReadableFields = allReadableFields
        self.matchesValues = matchesValues
    }
}

/// How the caller may see each field it asked for (absent: not at all).
struct AccessGrant {
    let views: [String: FieldView]

    func view(_ field: String) -> FieldView? { views[field] }

    /// `value` as this caller may see it.
    func present(_ value: String, field: FieldSpec) -> String? {
        switch views[field.name] {
        case .full: value
        case .masked: Masking.mask(value, rule: field.mask)
        case nil: nil
        }
    }
}
