import CSodium

/// BLAKE2b (`crypto_generichash`), unkeyed or keyed, one-shot or streaming.
public enum BLAKE2b {
    public static let minOutputByteCount = Int(crypto_generichash_bytes_min())
    public static let maxOutputByteCount = Int(crypto_generichash_bytes_max())
    public static let defaultOutputByteCount = Int(crypto_generichash_bytes())
    public static let minKeyByteCount = Int(crypto_generichash_keybytes_min())
    public static let maxKeyByteCount = Int(crypto_generichash_keybytes_max())

    static func check(outputByteCount: Int, key: SecureBytes?) throws {
        guard (minOutputByteCount...maxOutputByteCount).contains(outputByteCount) else {
            throw SodiumError.length("BLAKE2b output", in: minOutputByteCount...maxOutputByteCount, got: outputByteCount)
        }
        if let key, !(minKeyByteCount...maxKeyByteCount).contains(key.count) {
            throw SodiumError.length("BLAKE2b key", in: minKeyByteCount...maxKeyByteCount, got: key.count)
        }
    }

    /// The hash of `message`, keyed (a MAC / PRF) when `key` is given.
    public static func hash(
        _ message: [UInt8], key: SecureBytes? = nil, outputByteCount: Int = defaultOutputByteCount
    ) throws -> [UInt8] {
        try message.withUnsafeBytes { try hash(bytes: $0, key: key, outputByteCount: outputByteCount) }
    }

    /// The hash of raw bytes, for callers that already hold a buffer.
    public static func hash(
        bytes message: UnsafeRawBufferPointer, key: SecureBytes? = nil,
        outputByteCount: Int = defaultOutputByteCount
    ) throws -> [UInt8] {
        Library.ensure()
        try check(outputByteCount: outputByteCount, key: key)
        var out = [UInt8](repeating: 0, count: outputByteCount)
        let status = withNonNullBytes(message) { m, mn in
            withKeyPointer(key) { k, kn in
                crypto_generichash(&out, outputByteCount, m, UInt64(mn), k, kn)
            }
        }
        guard status == 0 else {
            throw SodiumError(.operationFailed, "BLAKE2b failed")
        }
        return out
    }

    /// Keyed BLAKE2b of `message` into `output` (16…64 bytes) without allocating: for
    /// blind indexes in bulk.
    public static func hash(
        bytes message: UnsafeRawBufferPointer, key: some SecretKeyStorage, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { try hash(bytes: message, rawKey: $0, into: output) }
    }

    /// The same with a ``SecureBytes`` key: a concrete call, without the generic dispatch
    /// that costs as much as hashing a short value.
    public static func hash(
        bytes message: UnsafeRawBufferPointer, key: SecureBytes, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { try hash(bytes: message, rawKey: $0, into: output) }
    }

    private static func hash(
        bytes message: UnsafeRawBufferPointer, rawKey k: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        Library.ensure()
        guard (minOutputByteCount...maxOutputByteCount).contains(output.count) else {
            throw SodiumError.length("BLAKE2b output", in: minOutputByteCount...maxOutputByteCount, got: output.count)
        }
        guard (minKeyByteCount...maxKeyByteCount).contains(k.count) else {
            throw SodiumError.length("BLAKE2b key", in: minKeyByteCount...maxKeyByteCount, got: k.count)
        }
        let status = withNonNullBytes(message) { m, mn in
            crypto_generichash(output.baseAddress!.assumingMemoryBound(to: UInt8.self), output.count, m, UInt64(mn),
                               k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count)
        }
        guard status == 0 else { throw SodiumError(.operationFailed, "BLAKE2b failed") }
    }

    static func withKeyPointer<R>(
        _ key: SecureBytes?, _ body: (UnsafePointer<UInt8>?, Int) -> R
    ) -> R {
        guard let key else { return body(nil, 0) }
        return key.withUnsafeBytes { body($0.baseAddress!.assumingMemoryBound(to: UInt8.self), $0.count) }
    }

    /// Incremental hashing of input that arrives in pieces. Not thread-safe.
    public final class Hasher {
        // The state must be 64-byte aligned, and when keyed it holds key material, so it
        // is wiped on release.
        private let state: UnsafeMutableRawPointer
        private let stateSize = crypto_generichash_statebytes()
        private let outputByteCount: Int
        private var finalized = false

        public init(key: SecureBytes? = nil, outputByteCount: Int = BLAKE2b.defaultOutputByteCount) throws {
            Library.ensure()
            try BLAKE2b.check(outputByteCount: outputByteCount, key: key)
            state = UnsafeMutableRawPointer.allocate(byteCount: stateSize, alignment: 64)
            self.outputByteCount = outputByteCount
            let status = BLAKE2b.withKeyPointer(key) { [state] k, kn in
                pk_generichash_init(state, k, kn, outputByteCount)
            }
            guard status == 0 else {
                sodium_memzero(state, stateSize)
                state.deallocate()
                throw SodiumError(.operationFailed, "BLAKE2b init failed")
            }
        }

        deinit {
            sodium_memzero(state, stateSize)
            state.deallocate()
        }

        /// Feeds more input. Throws after ``finalize()``.
        public func update(_ bytes: [UInt8]) throws {
            try bytes.withUnsafeBytes { try update(bytes: $0) }
        }

        public func update(bytes: UnsafeRawBufferPointer) throws {
            guard !finalized else {
                throw SodiumError(.streamFinished, "BLAKE2b: update after finalize")
            }
            _ = withNonNullBytes(bytes) { p, n in pk_generichash_update(state, p, UInt64(n)) }
        }

        /// The hash of everything fed so far. Can be called once.
        public func finalize() throws -> [UInt8] {
            guard !finalized else {
                throw SodiumError(.streamFinished, "BLAKE2b: finalize called twice")
            }
            finalized = true
            var out = [UInt8](repeating: 0, count: outputByteCount)
            guard pk_generichash_final(state, &out, outputByteCount) == 0 else {
                throw SodiumError(.operationFailed, "BLAKE2b final failed")
            }
            return out
        }
    }
}
