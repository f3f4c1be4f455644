import CSodium

/// Anonymous public-key encryption (`crypto_box_seal`, X25519 + XSalsa20-Poly1305): anyone
/// with the recipient's public key can seal; only the holder of the private key can open.
/// Used to seal backup keys to an offline recovery key.
public enum SealedBox {
    public static let publicKeyByteCount = Int(crypto_box_publickeybytes())
    public static let secretKeyByteCount = Int(crypto_box_secretkeybytes())
    public static let overheadByteCount = Int(crypto_box_sealbytes())

    public struct PublicKey: Sendable, Hashable {
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws {
            try SodiumError.checkLength("X25519 public key", expected: SealedBox.publicKeyByteCount, got: bytes.count)
            self.bytes = bytes
        }
    }

    public struct KeyPair: Sendable {
        public let publicKey: PublicKey
        public let secretKey: SecureBytes

        public static func generate() throws -> KeyPair {
            Library.ensure()
            var pk = [UInt8](repeating: 0, count: SealedBox.publicKeyByteCount)
            let sk = try SecureBytes(count: SealedBox.secretKeyByteCount) { sk in
                guard crypto_box_keypair(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self)) == 0 else {
                    throw SodiumError(.operationFailed, "X25519 key generation failed")
                }
            }
            return KeyPair(publicKey: try PublicKey(bytes: pk), secretKey: sk)
        }

        /// Rebuilds the pair from a stored 32-byte private key.
        public init(secretKey: SecureBytes) throws {
            Library.ensure()
            try SodiumError.checkLength("X25519 private key", expected: SealedBox.secretKeyByteCount, got: secretKey.count)
            var pk = [UInt8](repeating: 0, count: SealedBox.publicKeyByteCount)
            let status = secretKey.withUnsafeBytes { sk in
                crypto_scalarmult_base(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
            }
            guard status == 0 else { throw SodiumError(.operationFailed, "X25519 public key derivation failed") }
            self.publicKey = try PublicKey(bytes: pk)
            self.secretKey = secretKey
        }

        private init(publicKey: PublicKey, secretKey: SecureBytes) {
            self.publicKey = publicKey
            self.secretKey = secretKey
        }
    }

    /// Seals `message` to `recipient`.
    public static func seal(_ message: [UInt8], to recipient: PublicKey) throws -> [UInt8] {
        try message.withUnsafeBytes { try seal(raw: $0, to: recipient) }
    }

    /// Seals secret bytes (a key) without copying them out of protected memory.
    public static func seal(_ secret: SecureBytes, to recipient: PublicKey) throws -> [UInt8] {
        try secret.withUnsafeBytes { try seal(raw: $0, to: recipient) }
    }

    private static func seal(raw message: UnsafeRawBufferPointer, to recipient: PublicKey) throws -> [UInt8] {
        Library.ensure()
        var out = [UInt8](repeating: 0, count: message.count + overheadByteCount)
        let status = withNonNullBytes(message) { m, mn in
            crypto_box_seal(&out, m, UInt64(mn), recipient.bytes)
        }
        guard status == 0 else { throw SodiumError(.operationFailed, "crypto_box_seal failed") }
        return out
    }

    /// Opens a sealed box; throws ``SodiumError/Code/authenticationFailed`` for a wrong
    /// key pair or an altered box.
    public static func open(_ sealed: [UInt8], with keyPair: KeyPair) throws -> [UInt8] {
        let count = try plaintextCount(sealed)
        var failure: SodiumError?
        let out = [UInt8](unsafeUninitializedCapacity: max(count, 1)) { buffer, initialized in
            do {
                try open(sealed, keyPair: keyPair, into: UnsafeMutableRawBufferPointer(start: buffer.baseAddress, count: count))
                initialized = count
            } catch {
                failure = error as? SodiumError
                initialized = 0
            }
        }
        if let failure { throw failure }
        return out
    }

    /// Opens a sealed box straight into protected memory (for sealed keys).
    public static func openSecret(_ sealed: [UInt8], with keyPair: KeyPair) throws -> SecureBytes {
        let count = try plaintextCount(sealed)
        return try SecureBytes(count: count) { try open(sealed, keyPair: keyPair, into: $0) }
    }

    private static func plaintextCount(_ sealed: [UInt8]) throws -> Int {
        guard sealed.count >= overheadByteCount else {
            throw SodiumError(.invalidLength, "sealed box must be at least \(overheadByteCount) bytes, got \(sealed.count)")
        }
        return sealed.count - overheadByteCount
    }

    private static func open(
        _ sealed: [UInt8], keyPair: KeyPair, into output: UnsafeMutableRawBufferPointer
    ) throws {
        Library.ensure()
        guard let out = output.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw SodiumError(.invalidLength, "no output buffer for the sealed box contents")
        }
        let status = keyPair.secretKey.withUnsafeBytes { sk in
            crypto_box_seal_open(out, sealed, UInt64(sealed.count), keyPair.publicKey.bytes,
                                 sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard status == 0 else {
            throw SodiumError(.authenticationFailed, "sealed box does not open with this key pair (wrong key, or altered)")
        }
    }
}
