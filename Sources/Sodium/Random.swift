import CSodium

/// Random bytes from libsodium's CSPRNG (`getrandom` on Linux).
public enum Random {
    /// `count` random bytes in an ordinary array: for nonces, salts and identifiers.
    /// For secret keys use ``SecureBytes/random(count:)``.
    public static func bytes(count: Int) -> [UInt8] {
        Library.ensure()
        guard count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            randombytes_buf(buffer.baseAddress!, count)
            initialized = count
        }
    }

    /// Overwrites `buffer` with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        Library.ensure()
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        randombytes_buf(base, buffer.count)
    }
}
