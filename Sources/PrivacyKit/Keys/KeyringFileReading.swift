extension KeyringFile {
    /// Far above a real keyring (a few hundred bytes per key version): a bigger file is a
    /// wrong file, and reading it whole would be the mistake.
    static let maxBytes = 4 << 20

    /// The keyring file's bytes, with the checks of a secret file (owner-only mode, a
    /// regular file, at most ``maxBytes``).
    static func read(at path: String) throws -> [UInt8] {
        try SecureFiles.readSecret(at: path, what: "keyring", maxBytes: maxBytes)
    }
}
