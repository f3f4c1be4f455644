/// An unambiguous byte encoding of a list of fields, for associated data and signed
/// content: each field is its length (4 bytes, big-endian) followed by its bytes, so no
/// two different lists encode alike.
struct Canonical {
    private(set) var bytes: [UInt8] = []

    init(_ label: String) { append(label) }

    mutating func append(_ field: [UInt8]) {
        let n = UInt32(field.count)
        bytes += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        bytes += field
    }

    mutating func append(_ field: String) { append(Array(field.utf8)) }

    mutating func append(_ number: UInt64) {
        append((0..<8).reversed().map { UInt8(number >> (UInt64($0) * 8) & 0xff) })
    }
}
