/// A failure of a cryptographic operation, with what failed and why.
///
/// The ``code`` lets callers branch on the kind of failure; codes can be added without
/// breaking them because ``Code`` wraps a private enum. The ``message`` never holds key
/// bytes or plaintext: only names, lengths and limits.
public struct SodiumError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case invalidLength = "invalid length"
            case invalidParameter = "invalid parameter"
            case authenticationFailed = "authentication failed"
            case streamTruncated = "stream truncated"
            case streamFinished = "stream already finished"
            case invalidSignature = "invalid signature"
            case invalidEncoding = "invalid encoding"
            case outOfMemory = "out of memory"
            case operationFailed = "operation failed"
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        /// A key, nonce, salt, header, signature or output length is not the one required.
        public static let invalidLength = Code(.invalidLength)
        /// A parameter is outside the range libsodium accepts (KDF context, hash limits, …).
        public static let invalidParameter = Code(.invalidParameter)
        /// Decryption failed: wrong key, or the ciphertext, tag, nonce or associated data
        /// was altered.
        public static let authenticationFailed = Code(.authenticationFailed)
        /// A secretstream ended before its final tag.
        public static let streamTruncated = Code(.streamTruncated)
        /// A secretstream was used after its final tag.
        public static let streamFinished = Code(.streamFinished)
        /// An Ed25519 signature does not verify.
        public static let invalidSignature = Code(.invalidSignature)
        /// Text that should be base64url or hex is not.
        public static let invalidEncoding = Code(.invalidEncoding)
        /// `sodium_malloc` or Argon2id could not get the memory it needs.
        public static let outOfMemory = Code(.outOfMemory)
        /// libsodium reported a failure that has no more specific code.
        public static let operationFailed = Code(.operationFailed)

        public var description: String { base.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func length(_ what: String, expected: Int, got: Int) -> SodiumError {
        SodiumError(.invalidLength, "\(what) must be \(expected) bytes, got \(got)")
    }

    /// Throws ``length(_:expected:got:)`` unless `got == expected`: the check every
    /// fixed-size key, nonce, seed and header makes before its bytes reach C.
    static func checkLength(_ what: String, expected: Int, got: Int) throws {
        guard got == expected else { throw length(what, expected: expected, got: got) }
    }

    static func length(_ what: String, in range: ClosedRange<Int>, got: Int) -> SodiumError {
        SodiumError(.invalidLength, "\(what) must be \(range.lowerBound)...\(range.upperBound) bytes, got \(got)")
    }
}
