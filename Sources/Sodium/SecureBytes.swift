import CSodium

/// Secret bytes (a key, a seed, a passphrase) kept in memory that libsodium guards.
///
/// The storage comes from `sodium_malloc`: locked so it is never swapped out, surrounded
/// by guard pages, and made read-only once written. It is zeroed and released when the
/// last copy of the value goes away. Two values compare in constant time, and nothing
/// prints the bytes: `description` is `<redacted>`.
///
/// - Warning: `sodium_malloc` costs tens of microseconds and locked memory is a small
///   budget (`RLIMIT_MEMLOCK`). Use it for long-lived keys, not for one value per record.
public struct SecureBytes: Sendable, Equatable, CustomStringConvertible,
    CustomDebugStringConvertible
{
    // @unchecked: the bytes are written only inside `init`, then the pages are made
    // read-only until `deinit` zeroes and frees them, so sharing across threads is safe.
    private final class Storage: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let count: Int

        init(count: Int, initializer: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
            Library.ensure()
            guard count > 0 else {
                throw SodiumError(.invalidLength, "secure storage needs at least 1 byte")
            }
            guard let pointer = sodium_malloc(count) else {
                throw SodiumError(.outOfMemory, "sodium_malloc could not allocate \(count) locked bytes")
            }
            // Fill before the properties are set: once they are, a throw would run deinit
            // and free the pointer a second time.
            do {
                try initializer(UnsafeMutableRawBufferPointer(start: pointer, count: count))
            } catch {
                sodium_free(pointer)  // zeroes before releasing
                throw error
            }
            sodium_mprotect_readonly(pointer)
            self.pointer = pointer
            self.count = count
        }

        deinit {
            // sodium_free lifts the protection, zeroes the bytes and unlocks the pages.
            sodium_free(pointer)
        }
    }

    private let storage: Storage

    /// The number of bytes held.
    public var count: Int { storage.count }

    /// Creates storage of `count` bytes and lets `initializer` write them.
    ///
    /// This is how a decrypted key lands in protected memory without passing through an
    /// ordinary array. If `initializer` throws, the storage is zeroed and freed.
    public init(
        count: Int, initializingWith initializer: (UnsafeMutableRawBufferPointer) throws -> Void
    ) throws {
        storage = try Storage(count: count, initializer: initializer)
    }

    /// Copies `bytes` into protected storage and zeroes `bytes`.
    ///
    /// Taking the array `inout` lets the caller's copy be wiped; copies the caller made
    /// earlier are its own to wipe.
    public init(takingBytes bytes: inout [UInt8]) throws {
        // No local copy of the array: a second reference would make the wipe below
        // copy-on-write onto fresh storage and leave the original bytes behind.
        defer { Memory.wipe(&bytes) }
        storage = try bytes.withUnsafeBytes { source in
            try Storage(count: source.count) { target in target.copyMemory(from: source) }
        }
    }

    /// `count` bytes from the CSPRNG, written straight into protected storage.
    public static func random(count: Int) throws -> SecureBytes {
        try SecureBytes(count: count) { buffer in
            randombytes_buf(buffer.baseAddress!, buffer.count)
        }
    }

    /// Reads the secret bytes. Do not let the buffer escape `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.pointer, count: storage.count))
    }

    /// Constant-time comparison (`sodium_memcmp`); values of different lengths differ.
    public static func == (lhs: SecureBytes, rhs: SecureBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return sodium_memcmp(lhs.storage.pointer, rhs.storage.pointer, lhs.count) == 0
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "SecureBytes(<redacted \(count) bytes>)" }
}
