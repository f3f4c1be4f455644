/// An optional encoded as `null` when absent (synthesized `Encodable` would leave the key
/// out): in a document people and scripts read, "not described" or "no duty" must not
/// look like a key someone forgot.
@propertyWrapper
struct ExplicitNull<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        if let wrappedValue { try c.encode(wrappedValue) } else { try c.encodeNil() }
    }
}
