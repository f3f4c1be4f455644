import CSodium

/// Nonces drawn from the CSPRNG in bulk.
///
/// A 24-byte random nonce per seal is what makes XChaCha20-Poly1305 safe without a
/// counter; drawing them one `getrandom` call at a time is about half the cost of sealing
/// a small field. The pool draws 4 KiB at once and hands out 24-byte slices, each used
/// once: just as random, about twice as fast. A pool copied into a child by `fork()` is
/// refilled there before its next use, so parent and child never share a nonce.
///
/// - Warning: Not thread-safe: one owner at a time.
public final class NoncePool {
    private var buffer: [UInt8]
    private var offset: Int
    private let nonceCount: Int
    /// The fork count when the buffer was filled (see ``ForkGeneration``).
    private var generation: UInt64 = 0

    public init(noncesPerRefill: Int = 170) {
        Library.ensure()
        nonceCount = XChaCha20Poly1305.nonceByteCount
        buffer = [UInt8](repeating: 0, count: max(1, noncesPerRefill) * nonceCount)
        offset = buffer.count  // empty: the first use refills
    }

    /// Writes the next unused nonce into `target` (exactly 24 bytes).
    public func next(into target: UnsafeMutableRawBufferPointer) {
        let now = ForkGeneration.current
        if offset + nonceCount > buffer.count || generation != now {
            buffer.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
            offset = 0
            generation = now
        }
        buffer.withUnsafeBytes { source in
            target.baseAddress!.copyMemory(from: source.baseAddress! + offset, byteCount: nonceCount)
        }
        // Never hand the same bytes out twice.
        buffer.withUnsafeMutableBytes { sodium_memzero($0.baseAddress! + offset, nonceCount) }
        offset += nonceCount
    }

    /// The next nonce as a value.
    public func next() -> XChaCha20Poly1305.Nonce {
        var bytes = [UInt8](repeating: 0, count: nonceCount)
        bytes.withUnsafeMutableBytes { next(into: $0) }
        return XChaCha20Poly1305.Nonce(uncheckedBytes: bytes)
    }
}
