import CSodium

/// Argon2id password hashing into a key (`crypto_pwhash` with `ALG_ARGON2ID13`).
///
/// The limits are always explicit: a keyring records the ones it was sealed with, so a
/// vault opens the same way after libsodium's defaults change.
public enum Argon2id {
    public static let saltByteCount = Int(crypto_pwhash_saltbytes())

    /// CPU (`opsLimit`) and memory (`memLimit`, bytes) cost.
    public struct Limits: Sendable, Equatable, Codable {
        public let opsLimit: UInt64
        public let memLimit: UInt64

        public static let minOpsLimit = UInt64(crypto_pwhash_argon2id_opslimit_min())
        public static let minMemLimit = UInt64(crypto_pwhash_argon2id_memlimit_min())
        /// The largest memory cost this toolkit will use or accept from a file (4 GiB):
        /// a keyring header cannot make `open` exhaust the machine.
        public static let maxMemLimit: UInt64 = 4 << 30
        /// The largest CPU cost accepted from a file.
        public static let maxOpsLimit: UInt64 = 32

        /// Validates the limits against what libsodium and this toolkit accept.
        public init(opsLimit: UInt64, memLimit: UInt64) throws {
            guard (Self.minOpsLimit...Self.maxOpsLimit).contains(opsLimit) else {
                throw SodiumError(.invalidParameter, "Argon2id opslimit must be \(Self.minOpsLimit)...\(Self.maxOpsLimit), got \(opsLimit)")
            }
            guard (Self.minMemLimit...Self.maxMemLimit).contains(memLimit) else {
                throw SodiumError(.invalidParameter, "Argon2id memlimit must be \(Self.minMemLimit)...\(Self.maxMemLimit) bytes, got \(memLimit)")
            }
            self.opsLimit = opsLimit
            self.memLimit = memLimit
        }

        private init(unchecked ops: Int, _ mem: Int) {
            opsLimit = UInt64(ops)
            memLimit = UInt64(mem)
        }

        /// libsodium's INTERACTIVE limits (~0.1 s here).
        public static let interactive = Limits(unchecked: Int(crypto_pwhash_opslimit_interactive()), Int(crypto_pwhash_memlimit_interactive()))
        /// libsodium's MODERATE limits (~0.6 s here): the default for a vault passphrase.
        public static let moderate = Limits(unchecked: Int(crypto_pwhash_opslimit_moderate()), Int(crypto_pwhash_memlimit_moderate()))
        /// libsodium's SENSITIVE limits (several seconds, 1 GiB).
        public static let sensitive = Limits(unchecked: Int(crypto_pwhash_opslimit_sensitive()), Int(crypto_pwhash_memlimit_sensitive()))
        /// The smallest limits libsodium allows. For tests only: offers no protection
        /// against guessing.
        public static let minimum = Limits(unchecked: Int(crypto_pwhash_argon2id_opslimit_min()), Int(crypto_pwhash_argon2id_memlimit_min()))

        enum CodingKeys: String, CodingKey {
            case opsLimit = "opslimit"
            case memLimit = "memlimit"
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            try self.init(opsLimit: c.decode(UInt64.self, forKey: .opsLimit),
                          memLimit: c.decode(UInt64.self, forKey: .memLimit))
        }
    }

    /// Derives a `byteCount`-byte key from `password` and a 16-byte `salt`.
    ///
    /// - Throws: ``SodiumError/Code/invalidLength`` for a wrong salt length,
    ///   ``SodiumError/Code/outOfMemory`` when the memory limit cannot be met.
    public static func deriveKey(
        from password: SecureBytes?, salt: [UInt8], limits: Limits, byteCount: Int = 32
    ) throws -> SecureBytes {
        Library.ensure()
        try SodiumError.checkLength("Argon2id salt", expected: saltByteCount, got: salt.count)
        let minOut = Int(crypto_pwhash_bytes_min())
        guard byteCount >= minOut, byteCount <= 1024 else {
            throw SodiumError.length("Argon2id output", in: minOut...1024, got: byteCount)
        }
        return try SecureBytes(count: byteCount) { out in
            // An empty passphrase has no storage; libsodium still wants a real pointer.
            var empty: CChar = 0
            let status: Int32
            if let password {
                status = password.withUnsafeBytes { p in
                    crypto_pwhash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(byteCount),
                                  p.baseAddress!.assumingMemoryBound(to: CChar.self), UInt64(p.count),
                                  salt, limits.opsLimit, Int(limits.memLimit), crypto_pwhash_alg_argon2id13())
                }
            } else {
                status = crypto_pwhash(out.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt64(byteCount),
                                       &empty, 0, salt, limits.opsLimit, Int(limits.memLimit),
                                       crypto_pwhash_alg_argon2id13())
            }
            // Argon2id hashes the password into state on the stack it leaves behind: wipe
            // the stack below this frame, so no copy of the passphrase outlives the call.
            sodium_stackzero(32 * 1024)
            guard status == 0 else {
                throw SodiumError(.outOfMemory, "Argon2id could not run with memlimit \(limits.memLimit) bytes")
            }
        }
    }
}
