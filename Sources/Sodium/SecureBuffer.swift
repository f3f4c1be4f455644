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
