import Sodium

/// Protected bytes from public test vectors (never from a real secret).
func secureKey(_ bytes: [UInt8]) throws -> SecureBytes {
    var copy = bytes
    return try SecureBytes(takingBytes: &copy)
}

/// Compares protected bytes with expected ones without putting either into a failure
/// message (`#expect(a == b)` on arrays would print them).
func holds(_ secret: SecureBytes, _ expected: [UInt8]) -> Bool {
    secret.withUnsafeBytes { Array($0) == expected }
}

/// `bytes` with the bits of `mask` flipped at `index`: a tampered ciphertext or signature.
func flippingBit(_ bytes: [UInt8], at index: Int, mask: UInt8 = 0x01) -> [UInt8] {
    var out = bytes
    out[index] ^= mask
    return out
}
