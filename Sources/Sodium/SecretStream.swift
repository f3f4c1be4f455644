import CSodium

/// `crypto_secretstream_xchacha20poly1305`: a sequence of authenticated chunks under one
/// key, in which truncation, reordering, duplication and tampering are all detected.
///
/// The writer (``Push``) emits a header, then one ciphertext chunk per ``Push/push(_:tag:additionalData:)``,
/// and must end with ``Tag/final``. The reader (``Pull``) authenticates each chunk in order
/// and reports a stream that ends without the final tag as
/// ``SodiumError/Code/streamTruncated`` from ``Pull/finish()`` — never as success.
public enum SecretStream {
    public static let keyByteCount = Int(crypto_secretstream_xchacha20poly1305_keybytes())
    public static let headerByteCount = Int(crypto_secretstream_xchacha20poly1305_headerbytes())
    /// Bytes each chunk grows by when encrypted (tag byte + MAC).
    public static let additionalByteCount = Int(crypto_secretstream_xchacha20poly1305_abytes())

    /// The tag carried, authenticated, by each chunk.
    public enum Tag: Sendable, Equatable {
        case message, push, rekey, final

        var raw: UInt8 {
            switch self {
            case .message: crypto_secretstream_xchacha20poly1305_tag_message()
            case .push: crypto_secretstream_xchacha20poly1305_tag_push()
            case .rekey: crypto_secretstream_xchacha20poly1305_tag_rekey()
            case .final: crypto_secretstream_xchacha20poly1305_tag_final()
            }
        }

        init?(raw: UInt8) {
            switch raw {
            case crypto_secretstream_xchacha20poly1305_tag_message(): self = .message
            case crypto_secretstream_xchacha20poly1305_tag_push(): self = .push
            case crypto_secretstream_xchacha20poly1305_tag_rekey(): self = .rekey
            case crypto_secretstream_xchacha20poly1305_tag_final(): self = .final
            default: return nil
            }
        }
    }

    /// The stream state holds key material, so it lives in `sodium_malloc`'d memory and
    /// is wiped when the stream object goes away.
    private final class State {
        let pointer: UnsafeMutablePointer<crypto_secretstream_xchacha20poly1305_state>

        init() throws {
            Library.ensure()
            let size = MemoryLayout<crypto_secretstream_xchacha20poly1305_state>.size
            guard let raw = sodium_malloc(size) else {
                throw SodiumError(.outOfMemory, "sodium_malloc could not allocate the secretstream state")
            }
            pointer = raw.bindMemory(to: crypto_secretstream_xchacha20poly1305_state.self, capacity: 1)
        }

        deinit { sodium_free(pointer) }
    }

    private static func checkKey(_ key: SecureBytes) throws {
        try SodiumError.checkLength("secretstream key", expected: keyByteCount, got: key.count)
    }

    /// Encrypts a stream. Not thread-safe: one writer owns it.
    public final class Push {
        private let state: State
        /// Send this before the first chunk; the reader needs it to start.
        public let header: [UInt8]
        public private(set) var isFinished = false

        public init(key: SecureBytes) throws {
            try SecretStream.checkKey(key)
            let state = try State()
            var header = [UInt8](repeating: 0, count: SecretStream.headerByteCount)
            _ = key.withUnsafeBytes { k in
                crypto_secretstream_xchacha20poly1305_init_push(
                    state.pointer, &header, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            self.state = state
            self.header = header
        }

        /// Encrypts one chunk. After a chunk tagged ``Tag/final`` the stream is closed and
        /// further pushes throw ``SodiumError/Code/streamFinished``.
        public func push(
            _ message: [UInt8], tag: Tag = .message, additionalData: [UInt8] = []
        ) throws -> [UInt8] {
            guard !isFinished else {
                throw SodiumError(.streamFinished, "secretstream: push after the final chunk")
            }
            let outCount = message.count + SecretStream.additionalByteCount
            var status: Int32 = 0
            let out = [UInt8](unsafeUninitializedCapacity: outCount) { buffer, initialized in
                var written: UInt64 = 0
                status = withNonNullBytes(message) { m, mn in
                    withNonNullBytes(additionalData) { ad, adn in
                        crypto_secretstream_xchacha20poly1305_push(
                            state.pointer, buffer.baseAddress!, &written, m, UInt64(mn), ad,
                            UInt64(adn), tag.raw)
                    }
                }
                initialized = status == 0 ? outCount : 0
            }
            guard status == 0 else {
                throw SodiumError(.operationFailed, "secretstream: push failed (chunk of \(message.count) bytes)")
            }
            if tag == .final { isFinished = true }
            return out
        }
        /// Encrypts `message` into `output` (at least `message.count + additionalByteCount`
        /// bytes) without allocating: for streaming large files. Returns the bytes written.
        public func push(
            _ message: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, tag: Tag = .message,
            additionalData: UnsafeRawBufferPointer
        ) throws -> Int {
            guard !isFinished else {
                throw SodiumError(.streamFinished, "secretstream: push after the final chunk")
            }
            let outCount = message.count + SecretStream.additionalByteCount
            guard output.count >= outCount, let out = output.baseAddress else {
                throw SodiumError.length("secretstream output", expected: outCount, got: output.count)
            }
            var written: UInt64 = 0
            let status = withNonNullBytes(message) { m, mn in
                withNonNullBytes(additionalData) { ad, adn in
                    crypto_secretstream_xchacha20poly1305_push(
                        state.pointer, out.assumingMemoryBound(to: UInt8.self), &written, m, UInt64(mn), ad, UInt64(adn), tag.raw)
                }
            }
            guard status == 0 else {
                throw SodiumError(.operationFailed, "secretstream: push failed (chunk of \(message.count) bytes)")
            }
            if tag == .final { isFinished = true }
            return outCount
        }
    }

    /// Decrypts a stream. Not thread-safe: one reader owns it.
    public final class Pull {
        private let state: State
        /// True once the chunk tagged ``Tag/final`` was read and authenticated.
        public private(set) var isFinished = false
        /// Chunks read so far, counting from 0, so an error can say which one failed.
        public private(set) var chunkIndex = 0

        public init(key: SecureBytes, header: [UInt8]) throws {
            try SecretStream.checkKey(key)
            try SodiumError.checkLength("secretstream header", expected: SecretStream.headerByteCount, got: header.count)
            let state = try State()
            let status = key.withUnsafeBytes { k in
                crypto_secretstream_xchacha20poly1305_init_pull(
                    state.pointer, header, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard status == 0 else {
                throw SodiumError(.invalidParameter, "secretstream: header rejected")
            }
            self.state = state
        }

        /// Authenticates and decrypts the next chunk.
        ///
        /// - Throws: ``SodiumError/Code/authenticationFailed`` for an altered, reordered or
        ///   foreign chunk or a wrong key; ``SodiumError/Code/streamFinished`` for data after
        ///   the final chunk.
        public func pull(
            _ chunk: [UInt8], additionalData: [UInt8] = []
        ) throws -> (message: [UInt8], tag: Tag) {
            guard !isFinished else {
                throw SodiumError(.streamFinished, "secretstream: data after the final chunk (chunk \(chunkIndex))")
            }
            guard chunk.count >= SecretStream.additionalByteCount else {
                throw SodiumError(.invalidLength, "secretstream: chunk \(chunkIndex) is \(chunk.count) bytes, shorter than its \(SecretStream.additionalByteCount)-byte overhead")
            }
            let outCount = chunk.count - SecretStream.additionalByteCount
            var rawTag: UInt8 = 0
            var status: Int32 = 0
            let message = [UInt8](unsafeUninitializedCapacity: max(outCount, 1)) { buffer, initialized in
                var written: UInt64 = 0
                status = withNonNullBytes(chunk) { c, cn in
                    withNonNullBytes(additionalData) { ad, adn in
                        crypto_secretstream_xchacha20poly1305_pull(
                            state.pointer, buffer.baseAddress!, &written, &rawTag, c, UInt64(cn),
                            ad, UInt64(adn))
                    }
                }
                initialized = status == 0 ? outCount : 0
            }
            guard status == 0, let tag = Tag(raw: rawTag) else {
                throw SodiumError(.authenticationFailed, "secretstream: chunk \(chunkIndex) does not authenticate (altered, out of order, or wrong key)")
            }
            chunkIndex += 1
            if tag == .final { isFinished = true }
            return (message, tag)
        }

        /// Authenticates and decrypts `chunk` into `output` (at least `chunk.count −
        /// additionalByteCount` bytes) without allocating. Returns the plaintext length and tag.
        public func pull(
            _ chunk: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, additionalData: UnsafeRawBufferPointer
        ) throws -> (count: Int, tag: Tag) {
            guard !isFinished else {
                throw SodiumError(.streamFinished, "secretstream: data after the final chunk (chunk \(chunkIndex))")
            }
            guard chunk.count >= SecretStream.additionalByteCount else {
                throw SodiumError(.invalidLength, "secretstream: chunk \(chunkIndex) is \(chunk.count) bytes, shorter than its \(SecretStream.additionalByteCount)-byte overhead")
            }
            let outCount = chunk.count - SecretStream.additionalByteCount
            guard output.count >= max(outCount, 1), let out = output.baseAddress else {
                throw SodiumError.length("secretstream output", expected: outCount, got: output.count)
            }
            var rawTag: UInt8 = 0
            var written: UInt64 = 0
            let status = withNonNullBytes(chunk) { c, cn in
                withNonNullBytes(additionalData) { ad, adn in
                    crypto_secretstream_xchacha20poly1305_pull(
                        state.pointer, out.assumingMemoryBound(to: UInt8.self), &written, &rawTag, c, UInt64(cn), ad, UInt64(adn))
                }
            }
            guard status == 0, let tag = Tag(raw: rawTag) else {
                throw SodiumError(.authenticationFailed, "secretstream: chunk \(chunkIndex) does not authenticate (altered, out of order, or wrong key)")
            }
            chunkIndex += 1
            if tag == .final { isFinished = true }
            return (outCount, tag)
        }

        /// Call when the input ends: throws ``SodiumError/Code/streamTruncated`` unless the
        /// final chunk was read.
        public func finish() throws {
            guard isFinished else {
                throw SodiumError(.streamTruncated, "secretstream: input ended after \(chunkIndex) chunks without the final tag")
            }
        }
    }
}
