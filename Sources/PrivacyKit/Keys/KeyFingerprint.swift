import Sodium

/// The short name of a public key (or of any bytes that stand for one): hex BLAKE2b-128.
///
/// The same everywhere it is shown or recorded (keyring entries, receipts, backups,
/// exports, audit reports), so an operator can match one key across all of them.
public enum KeyFingerprint {
    /// 32 hex digits.
    public static func of(_ bytes: [UInt8]) throws -> String {
        Hex.encode(try BLAKE2b.hash(bytes, outputByteCount: 16))
    }
}
