import Sodium

/// An unambiguous byte encoding of a list of fields, for associated data and signed
/// content: each field is its length (4 bytes, big-endian) followed by its bytes, so no
/// two different lists encode alike.
///
/// Written byte by byte into one growing buffer: record MACs and leaf tags encode a whole
/// record per call, and temporary arrays per field were a measured part of an import.
struct Canonical {
    private(set) var bytes: [UInt8] = []

    init(_ label: String) {
        bytes.reserveCapacity(256)
        append(label)
    }

    private mutating func appendLength(_ count: Int) { bytes.appendBigEndian32(count) }

    mutating func append(_ field: [UInt8]) {
        appendLength(field.count)
        bytes.append(contentsOf: field)
    }

    mutating func append(_ field: ArraySlice<UInt8>) {
        appendLength(field.count)
        bytes.append(contentsOf: field)
    }

    mutating func append(_ field: String) {
        appendLength(field.utf8.count)
        bytes.append(contentsOf: field.utf8)
    }

    /// Zeroes the encoding (when a field was a secret).
    mutating func wipe() { Memory.wipe(&bytes) }

    mutating func append(_ number: UInt64) {
        appendLength(8)
        for shift in stride(from: 56, through: 0, by: -8) { bytes.append(UInt8(truncatingIfNeeded: number >> UInt64(shift))) }
    }
}

extension [UInt8] {
    /// Appends the low 32 bits of `n`, big-endian (the length prefix of every binary
    /// encoding here).
    mutating func appendBigEndian32(_ n: Int) {
        append(UInt8(truncatingIfNeeded: n >> 24))
        append(UInt8(truncatingIfNeeded: n >> 16))
        append(UInt8(truncatingIfNeeded: n >> 8))
        append(UInt8(truncatingIfNeeded: n))
    }
}
