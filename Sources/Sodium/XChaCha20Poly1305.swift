import CSodium

/// XChaCha20-Poly1305-IETF authenticated encryption with associated data
/// (`crypto_aead_xchacha20poly1305_ietf_*`).
///
/// Nonces are 24 random bytes, large enough that drawing them at random never repeats in
/// practice; ``seal(_:using:nonce:authenticating:)`` draws one unless a caller (a test, a
/// known-answer vector) passes its own.
///
/// ```swift
/// let key = try SecureBytes.random(count: XChaCha20Poly1305.keyByteCount)
/// let box = try XChaCha20Poly1305.seal(Array("hi".utf8), using: key, authenticating: ad)
/// let back = try XChaCha20Poly1305.open(box, using: key, authenticating: ad)
/// ```
public enum XChaCha20Poly1305 {
    public static let keyByteCount = Int(crypto_aead_xchacha20poly1305_ietf_keybytes())
    public static let nonceByteCount = Int(crypto_aead_xchacha20poly1305_ietf_npubbytes())
    public static let tagByteCount = Int(crypto_aead_xchacha20poly1305_ietf_abytes())

    /// A 24-byte nonce. Never use one twice with the same key.
    public struct Nonce: Sendable, Equatable {
        public let bytes: [UInt8]

        /// Wraps given nonce bytes; throws unless there are exactly 24.
        public init(bytes: [UInt8]) throws {
            try SodiumError.checkLength("XChaCha20-Poly1305 nonce", expected: XChaCha20Poly1305.nonceByteCount, got: bytes.count)
            self.bytes = bytes
        }

        /// A fresh random nonce.
        public static func random() -> Nonce {
            // Length is right by construction.
            Nonce(unchecked: Random.bytes(count: XChaCha20Poly1305.nonceByteCount))
        }

        private init(unchecked bytes: [UInt8]) { self.bytes = bytes }

        init(uncheckedBytes bytes: [UInt8]) { self.bytes = bytes }
    }

    /// A nonce and the ciphertext with its 16-byte tag appended.
    public struct SealedMessage: Sendable, Equatable {
        public let nonce: Nonce
        /// Ciphertext followed by the Poly1305 tag.
        public let ciphertext: [UInt8]

        public init(nonce: Nonce, ciphertext: [UInt8]) {
            self.nonce = nonce
            self.ciphertext = ciphertext
        }

        /// `nonce ‖ ciphertext ‖ tag`, one self-contained byte string.
        public var combined: [UInt8] { nonce.bytes + ciphertext }

        /// Splits `nonce ‖ ciphertext ‖ tag`; throws if it is too short to hold both.
        public init(combined: [UInt8]) throws {
            let n = XChaCha20Poly1305.nonceByteCount
            guard combined.count >= n + XChaCha20Poly1305.tagByteCount else {
                throw SodiumError(.invalidLength, "sealed message must be at least \(n + XChaCha20Poly1305.tagByteCount) bytes, got \(combined.count)")
            }
            self.nonce = try Nonce(bytes: Array(combined[..<n]))
            self.ciphertext = Array(combined[n...])
        }
    }

    /// Encrypts and authenticates `plaintext`, and authenticates `associatedData`.
    public static func seal(
        _ plaintext: [UInt8], using key: SecureBytes, nonce: Nonce = .random(),
        authenticating associatedData: [UInt8] = []
    ) throws -> SealedMessage {
        try plaintext.withUnsafeBytes {
            try seal(rawPlaintext: $0, key: key, nonce: nonce, associatedData: associatedData)
        }
    }

    /// Encrypts secret bytes (a key being wrapped) without copying them out of protected
    /// memory first.
    public static func seal(
        _ secret: SecureBytes, using key: SecureBytes, nonce: Nonce = .random(),
        authenticating associatedData: [UInt8] = []
    ) throws -> SealedMessage {
        try secret.withUnsafeBytes {
            try seal(rawPlaintext: $0, key: key, nonce: nonce, associatedData: associatedData)
        }
    }

    /// Authenticates and decrypts; any change to key, nonce, ciphertext, tag or
    /// associated data throws ``SodiumError/Code/authenticationFailed``.
    public static func open(
        _ message: SealedMessage, using key: SecureBytes, authenticating associatedData: [UInt8] = []
    ) throws -> [UInt8] {
        let count = try plaintextCount(message)
        var failure: SodiumError?
        let plain = try [UInt8](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
            do {
                try open(message, key: key, associatedData: associatedData,
                         into: UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: count))
                initialized = count
            } catch let error as SodiumError {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return plain
    }

    /// Decrypts straight into protected memory: for unwrapping keys.
    public static func openSecret(
        _ message: SealedMessage, using key: SecureBytes, authenticating associatedData: [UInt8] = []
    ) throws -> SecureBytes {
        let count = try plaintextCount(message)
        return try SecureBytes(count: count) { buffer in
            try open(message, key: key, associatedData: associatedData, into: buffer)
        }
    }

    // MARK: - Buffers, for hot paths

    /// Seals `plaintext` into `output` (`plaintext.count + tagByteCount` bytes) without any
    /// allocation: for per-field encryption in bulk. Every length is checked.
    public static func seal(
        plaintext: UnsafeRawBufferPointer, key: some SecretKeyStorage, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { k in
            try seal(plaintext: plaintext, rawKey: k, nonce: nonce, associatedData: associatedData, into: output)
        }
    }

    // The concrete overloads below exist for speed: a generic `some SecretKeyStorage`
    // call from another module goes through witness tables and metadata lookups, which
    // cost as much as a small seal's arithmetic.

    /// ``seal(plaintext:key:nonce:associatedData:into:)`` with a ``SecureBuffer`` key.
    public static func seal(
        plaintext: UnsafeRawBufferPointer, key: SecureBuffer, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { k in
            try seal(plaintext: plaintext, rawKey: k, nonce: nonce, associatedData: associatedData, into: output)
        }
    }

    /// ``seal(plaintext:key:nonce:associatedData:into:)`` with a ``SecureBytes`` key.
    public static func seal(
        plaintext: UnsafeRawBufferPointer, key: SecureBytes, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { k in
            try seal(plaintext: plaintext, rawKey: k, nonce: nonce, associatedData: associatedData, into: output)
        }
    }

    /// Opens `ciphertext` (with its tag) into `output` (`ciphertext.count - tagByteCount`
    /// bytes, which may be a ``SecureBuffer``'s): no allocation.
    public static func open(
        ciphertext: UnsafeRawBufferPointer, key: some SecretKeyStorage, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { k in
            try open(ciphertext: ciphertext, rawKey: k, nonce: nonce, associatedData: associatedData, into: output)
        }
    }

    /// ``open(ciphertext:key:nonce:associatedData:into:)`` with a ``SecureBuffer`` key.
    public static func open(
        ciphertext: UnsafeRawBufferPointer, key: SecureBuffer, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { k in
            try open(ciphertext: ciphertext, rawKey: k, nonce: nonce, associatedData: associatedData, into: output)
        }
    }

    /// ``open(ciphertext:key:nonce:associatedData:into:)`` with a ``SecureBytes`` key.
    public static func open(
        ciphertext: UnsafeRawBufferPointer, key: SecureBytes, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try key.withUnsafeBytes { k in
            try open(ciphertext: ciphertext, rawKey: k, nonce: nonce, associatedData: associatedData, into: output)
        }
    }

    private static func seal(
        plaintext: UnsafeRawBufferPointer, rawKey k: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try checkBuffers(key: k, nonce: nonce)
        try SodiumError.checkLength("XChaCha20-Poly1305 output", expected: plaintext.count + tagByteCount, got: output.count)
        var written: UInt64 = 0
        withNonNullBytes(plaintext) { p, pn in
            withNonNullBytes(associatedData) { ad, adn in
                _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                    output.baseAddress!.assumingMemoryBound(to: UInt8.self), &written, p, UInt64(pn), ad, UInt64(adn), nil,
                    nonce.baseAddress!.assumingMemoryBound(to: UInt8.self), k.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
        }
    }

    private static func open(
        ciphertext: UnsafeRawBufferPointer, rawKey k: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer,
        associatedData: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws {
        try checkBuffers(key: k, nonce: nonce)
        guard ciphertext.count >= tagByteCount, output.count == ciphertext.count - tagByteCount else {
            throw SodiumError(.invalidLength, "XChaCha20-Poly1305: a \(ciphertext.count)-byte ciphertext needs a \(max(0, ciphertext.count - tagByteCount))-byte output, got \(output.count)")
        }
        var scratch: UInt8 = 0
        var written: UInt64 = 0
        let status = withNonNullBytes(ciphertext) { c, cn in
            withNonNullBytes(associatedData) { ad, adn in
                withUnsafeMutablePointer(to: &scratch) { fallback in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        output.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? fallback, &written, nil, c, UInt64(cn),
                        ad, UInt64(adn), nonce.baseAddress!.assumingMemoryBound(to: UInt8.self),
                        k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard status == 0 else {
            throw SodiumError(.authenticationFailed, "XChaCha20-Poly1305: wrong key, or the ciphertext, nonce or associated data was altered")
        }
    }

    /// The length checks the buffer forms share.
    private static func checkBuffers(key: UnsafeRawBufferPointer, nonce: UnsafeRawBufferPointer) throws {
        Library.ensure()
        try SodiumError.checkLength("XChaCha20-Poly1305 key", expected: keyByteCount, got: key.count)
        try SodiumError.checkLength("XChaCha20-Poly1305 nonce", expected: nonceByteCount, got: nonce.count)
    }

    // MARK: - C calls

    private static func checkKey(_ key: some SecretKeyStorage) throws {
        try SodiumError.checkLength("XChaCha20-Poly1305 key", expected: keyByteCount, got: key.count)
    }

    private static func plaintextCount(_ message: SealedMessage) throws -> Int {
        guard message.ciphertext.count >= tagByteCount else {
            throw SodiumError(.invalidLength, "ciphertext must include the \(tagByteCount)-byte tag, got \(message.ciphertext.count) bytes")
        }
        return message.ciphertext.count - tagByteCount
    }

    private static func seal(
        rawPlaintext plaintext: UnsafeRawBufferPointer, key: SecureBytes, nonce: Nonce,
        associatedData: [UInt8]
    ) throws -> SealedMessage {
        Library.ensure()
        try checkKey(key)
        let outCount = plaintext.count + tagByteCount
        var written: UInt64 = 0
        let ciphertext = [UInt8](unsafeUninitializedCapacity: outCount) { out, initialized in
            key.withUnsafeBytes { k in
                withNonNullBytes(plaintext) { p, pn in
                    withNonNullBytes(associatedData) { ad, adn in
                        _ = crypto_aead_xchacha20poly1305_ietf_encrypt(
                            out.baseAddress!, &written, p, UInt64(pn), ad, UInt64(adn), nil,
                            nonce.bytes, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    }
                }
            }
            initialized = outCount
        }
        return SealedMessage(nonce: nonce, ciphertext: ciphertext)
    }

    private static func open(
        _ message: SealedMessage, key: SecureBytes, associatedData: [UInt8],
        into output: UnsafeMutableRawBufferPointer
    ) throws {
        Library.ensure()
        try checkKey(key)
        guard let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw SodiumError(.invalidLength, "no output buffer for the plaintext")
        }
        var written: UInt64 = 0
        let status = key.withUnsafeBytes { k in
            withNonNullBytes(message.ciphertext) { c, cn in
                withNonNullBytes(associatedData) { ad, adn in
                    crypto_aead_xchacha20poly1305_ietf_decrypt(
                        out,
                        &written, nil, c, UInt64(cn), ad, UInt64(adn),
                        message.nonce.bytes, k.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
        }
        guard status == 0 else {
            throw SodiumError(.authenticationFailed, "XChaCha20-Poly1305: wrong key, or the ciphertext, nonce or associated data was altered")
        }
    }
}
