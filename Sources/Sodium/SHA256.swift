import CSodium

/// SHA-256 (`crypto_hash_sha256`, FIPS 180-4), one-shot or streaming.
///
/// For interoperability only — checksums that other tools verify (`sha256sum -c`, a
/// manifest a requester checks). Everything keyed or internal uses ``BLAKE2b``, which has
/// no length-extension weakness.
public enum SHA256 {
    public static let byteCount = Int(crypto_hash_sha256_bytes())

    /// The digest of `message`.
    public static func hash(_ message: [UInt8]) -> [UInt8] {
        message.withUnsafeBytes { hash(bytes: $0) }
    }

    /// The digest of raw bytes, for callers that already hold a buffer.
    public static func hash(bytes message: UnsafeRawBufferPointer) -> [UInt8] {
        Library.ensure()
        var out = [UInt8](repeating: 0, count: byteCount)
        // crypto_hash_sha256 cannot fail (it always returns 0).
        _ = withNonNullBytes(message) { m, mn in crypto_hash_sha256(&out, m, UInt64(mn)) }
        return out
    }

    /// Incremental hashing of input that arrives in pieces. Not thread-safe.
    public final class Hasher {
        private let state: UnsafeMutablePointer<crypto_hash_sha256_state>
        private var finalized = false

        public init() {
            Library.ensure()
            state = .allocate(capacity: 1)
            _ = crypto_hash_sha256_init(state)
        }

        deinit {
            sodium_memzero(state, MemoryLayout<crypto_hash_sha256_state>.size)
            state.deallocate()
        }

        /// Feeds more input. Throws after ``finalize()``.
        public func update(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try update(bytes: $0) }
        }

        public func update(bytes: UnsafeRawBufferPointer) throws {
            guard !finalized else {
                throw SodiumError(.streamFinished, "SHA-256: update after finalize")
            }
            _ = withNonNullBytes(bytes) { p, n in crypto_hash_sha256_update(state, p, UInt64(n)) }
        }

        /// The digest of everything fed so far. Can be called once.
        public func finalize() throws -> [UInt8] {
            guard !finalized else {
                throw SodiumError(.streamFinished, "SHA-256: finalize called twice")
            }
            finalized = true
            var out = [UInt8](repeating: 0, count: SHA256.byteCount)
            _ = crypto_hash_sha256_final(state, &out)
            return out
        }
    }
}
