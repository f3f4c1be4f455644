import CSodium

/// Ed25519 signatures (`crypto_sign_*`, detached).
public enum Ed25519 {
    public static let publicKeyByteCount = Int(crypto_sign_publickeybytes())
    public static let secretKeyByteCount = Int(crypto_sign_secretkeybytes())
    public static let seedByteCount = Int(crypto_sign_seedbytes())
    public static let signatureByteCount = Int(crypto_sign_bytes())

    /// A public key: safe to print, store and hand to an auditor.
    public struct PublicKey: Sendable, Hashable {
        public let bytes: [UInt8]

        public init(bytes: [UInt8]) throws {
            try SodiumError.checkLength("Ed25519 public key", expected: Ed25519.publicKeyByteCount, got: bytes.count)
            self.bytes = bytes
        }

        /// Verifies a detached signature over `message`.
        ///
        /// - Throws: ``SodiumError/Code/invalidSignature`` when it does not verify,
        ///   ``SodiumError/Code/invalidLength`` when it is not 64 bytes.
        public func verify(_ signature: [UInt8], for message: [UInt8]) throws {
            Library.ensure()
            try SodiumError.checkLength("Ed25519 signature", expected: Ed25519.signatureByteCount, got: signature.count)
            let status = withNonNullBytes(message) { m, mn in
                crypto_sign_verify_detached(signature, m, UInt64(mn), bytes)
            }
            guard status == 0 else {
                throw SodiumError(.invalidSignature, "Ed25519 signature does not verify for this message and key")
            }
        }

        /// Like ``verify(_:for:)`` but answers with a Bool.
        public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
            (try? verify(signature, for: message)) != nil
        }
    }

    /// A signing key pair; the secret half stays in protected memory.
    public struct KeyPair: Sendable {
        public let publicKey: PublicKey
        private let secretKey: SecureBytes  // 64 bytes: seed ‖ public key

        /// A fresh random key pair.
        public static func generate() throws -> KeyPair {
            try KeyPair(seed: SecureBytes.random(count: Ed25519.seedByteCount))
        }

        /// The key pair determined by a 32-byte seed (how a stored key is restored).
        public init(seed: SecureBytes) throws {
            Library.ensure()
            try SodiumError.checkLength("Ed25519 seed", expected: Ed25519.seedByteCount, got: seed.count)
            var pk = [UInt8](repeating: 0, count: Ed25519.publicKeyByteCount)
            secretKey = try SecureBytes(count: Ed25519.secretKeyByteCount) { sk in
                let status = seed.withUnsafeBytes { s in
                    crypto_sign_seed_keypair(&pk, sk.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                             s.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
                guard status == 0 else { throw SodiumError(.operationFailed, "Ed25519 key derivation from seed failed") }
            }
            publicKey = try PublicKey(bytes: pk)
        }

        /// The 32-byte seed, in protected memory: what a keyring stores.
        public func seed() throws -> SecureBytes {
            try secretKey.withUnsafeBytes { sk in
                try SecureBytes(count: Ed25519.seedByteCount) { out in
                    out.copyMemory(from: UnsafeRawBufferPointer(rebasing: sk[0..<Ed25519.seedByteCount]))
                }
            }
        }

        /// A detached 64-byte signature over `message`.
        public func sign(_ message: [UInt8]) throws -> [UInt8] {
            var signature = [UInt8](repeating: 0, count: Ed25519.signatureByteCount)
            let status = secretKey.withUnsafeBytes { sk in
                withNonNullBytes(message) { m, mn in
                    crypto_sign_detached(&signature, nil, m, UInt64(mn),
                                         sk.baseAddress!.assumingMemoryBound(to: UInt8.self))
                }
            }
            guard status == 0 else { throw SodiumError(.operationFailed, "Ed25519 signing failed") }
            return signature
        }
    }
}
