import CSodium

/// Subkey derivation from a master key (`crypto_kdf_derive_from_key`, BLAKE2b-based).
///
/// A subkey is named by an 8-byte context (what it is for) and a 64-bit id (which one);
/// different names give independent keys, and no subkey reveals the master key.
public enum KDF {
    public static let masterKeyByteCount = Int(crypto_kdf_keybytes())
    public static let contextByteCount = Int(crypto_kdf_contextbytes())
    public static let minSubkeyByteCount = Int(crypto_kdf_bytes_min())
    public static let maxSubkeyByteCount = Int(crypto_kdf_bytes_max())

    /// Derives subkey `subkeyID` for `context` (exactly 8 bytes of UTF-8, e.g. `"blindidx"`)
    /// into protected memory.
    public static func deriveKey(
        from masterKey: SecureBytes, subkeyID: UInt64, context: String,
        byteCount: Int = 32
    ) throws -> SecureBytes {
        Library.ensure()
        try SodiumError.checkLength("KDF master key", expected: masterKeyByteCount, got: masterKey.count)
        let ctx = Array(context.utf8)
        guard ctx.count == contextByteCount else {
            throw SodiumError(.invalidParameter, "KDF context must be exactly \(contextByteCount) bytes, got \(ctx.count)")
        }
        guard (minSubkeyByteCount...maxSubkeyByteCount).contains(byteCount) else {
            throw SodiumError.length("KDF subkey", in: minSubkeyByteCount...maxSubkeyByteCount, got: byteCount)
        }
        return try SecureBytes(count: byteCount) { out in
            let cctx = ctx.map { CChar(bitPattern: $0) }
            let status = masterKey.withUnsafeBytes { mk in
                crypto_kdf_derive_from_key(
                    out.baseAddress!.assumingMemoryBound(to: UInt8.self), byteCount, subkeyID,
                    cctx, mk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard status == 0 else {
                throw SodiumError(.operationFailed, "KDF derivation failed")
            }
        }
    }
}
