import CSodium

/// Anything that holds secret key bytes: ``SecureBytes`` (immutable, shared) or
/// ``SecureBuffer`` (one reusable buffer for short-lived keys).
public protocol SecretKeyStorage {
    var count: Int { get }
    func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R
}

extension SecureBytes: SecretKeyStorage {}

/// One locked, guarded buffer that is filled, used and wiped again and again: the home of
/// short-lived key material such as an unwrapped subject key.
///
/// `sodium_malloc` costs tens of microseconds, far too much per record; a `SecureBuffer`
/// pays it once. Fill it (``fillRandom()``, ``withUnsafeMutableBytes(_:)``, or an
/// `open…(into:)` call), use it, then ``wipe()``.
///
/// - Warning: Not thread-safe: one owner at a time.
public final class SecureBuffer: SecretKeyStorage {
    private let pointer: UnsafeMutableRawPointer
    public let count: Int

    public init(count: Int) throws {
        Library.ensure()
        guard count > 0 else {
            throw SodiumError(.invalidLength, "a secure buffer needs at least 1 byte")
        }
        guard let pointer = sodium_malloc(count) else {
            throw SodiumError(.outOfMemory, "sodium_malloc could not allocate \(count) locked bytes")
        }
        sodium_memzero(pointer, count)
        self.pointer = pointer
        self.count = count
    }

    deinit { sodium_free(pointer) }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// Fills the buffer from the CSPRNG (a new key).
    public func fillRandom() {
        randombytes_buf(pointer, count)
    }

    /// Fills the buffer with fresh random bytes from `pool` (a new key, without a
    /// `getrandom` system call per key).
    public func fillRandom(from pool: SecureRandomPool) {
        pool.next(into: UnsafeMutableRawBufferPointer(start: pointer, count: count))
    }

    /// Zeroes the buffer; call as soon as the key is no longer needed.
    public func wipe() {
        sodium_memzero(pointer, count)
    }

    /// Copies the bytes into a new ``SecureBytes`` (for a key that must outlive this use).
    public func copy() throws -> SecureBytes {
        try SecureBytes(count: count) { $0.copyMemory(from: UnsafeRawBufferPointer(start: pointer, count: count)) }
    }
}

/// Nonces drawn from the CSPRNG in bulk.
///
/// A 24-byte random nonce per seal is what makes XChaCha20-Poly1305 safe without a
/// counter; drawing them one `getrandom` call at a time is about half the cost of sealing
/// a small field. The pool draws 4 KiB at once and hands out 24-byte slices, each used
/// once: just as random, about twice as fast.
///
/// - Warning: Not thread-safe: one owner at a time.
public final class NoncePool {
    private var buffer: [UInt8]
    private var offset: Int
    private let nonceCount: Int

    public init(noncesPerRefill: Int = 170) {
        Library.ensure()
        nonceCount = XChaCha20Poly1305.nonceByteCount
        buffer = [UInt8](repeating: 0, count: max(1, noncesPerRefill) * nonceCount)
        offset = buffer.count  // empty: the first use refills
    }

    /// Writes the next unused nonce into `target` (exactly 24 bytes).
    public func next(into target: UnsafeMutableRawBufferPointer) {
        if offset + nonceCount > buffer.count {
            buffer.withUnsafeMutableBytes { randombytes_buf($0.baseAddress!, $0.count) }
            offset = 0
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

/// Random bytes for keys, drawn from the CSPRNG in bulk into locked memory.
///
/// A subject key per new record made one `getrandom` call per record, about a tenth of
/// the cost of encrypting a customer. The pool draws 4 KiB at once into `sodium_malloc`'d
/// memory (locked, guarded: key material never sits in ordinary pages), hands out each
/// byte once, and zeroes what it handed out.
///
/// - Warning: Not thread-safe: one owner at a time.
public final class SecureRandomPool {
    private let pointer: UnsafeMutableRawPointer
    private let capacity: Int
    private var offset: Int

    public init(byteCount: Int = 4096) throws {
        Library.ensure()
        guard byteCount > 0 else {
            throw SodiumError(.invalidLength, "a random pool needs at least 1 byte")
        }
        guard let pointer = sodium_malloc(byteCount) else {
            throw SodiumError(.outOfMemory, "sodium_malloc could not allocate \(byteCount) locked bytes")
        }
        self.pointer = pointer
        capacity = byteCount
        offset = byteCount  // empty: the first use refills
    }

    deinit {
        sodium_memzero(pointer, capacity)
        sodium_free(pointer)
    }

    /// Writes `target.count` unused random bytes into `target`.
    public func next(into target: UnsafeMutableRawBufferPointer) {
        guard let base = target.baseAddress, target.count > 0 else { return }
        if target.count > capacity {
            randombytes_buf(base, target.count)
            return
        }
        if offset + target.count > capacity {
            randombytes_buf(pointer, capacity)
            offset = 0
        }
        base.copyMemory(from: pointer + offset, byteCount: target.count)
        // Never hand the same bytes out twice, and leave no copy of a key behind.
        sodium_memzero(pointer + offset, target.count)
        offset += target.count
    }
}
