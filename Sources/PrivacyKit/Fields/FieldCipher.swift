import Foundation
package import Sodium

/// Field encryption for one thread of work: subject keys unwrapped into one reused locked
/// buffer, nonces from a bulk pool, associated data built in a reused scratch buffer.
///
/// Envelope, binary (format 1): `01 | subject-key version (4 bytes BE) | nonce (24) |
/// ciphertext ‖ tag (16)`. Text: `pk1.` + base64url of the binary form. The associated
/// data binds the format version, vault id, field name, subject id and key version, so an
/// envelope moved to another field, subject or vault does not open.
///
/// - Warning: Not thread-safe; make one per thread. Call ``wipe()`` when done with a
///   subject (the vault does this after every record).
// @unchecked: mutable, but only ever used by one caller at a time (a vault lends each
// cipher from its pool to one operation and takes it back after).
package final class FieldCipher: @unchecked Sendable {
    static let formatVersion: UInt8 = 1
    static let headerByteCount = 1 + 4 + XChaCha20Poly1305.nonceByteCount
    static let wrappedKeyByteCount = XChaCha20Poly1305.nonceByteCount + 32 + XChaCha20Poly1305.tagByteCount
    static let textPrefix = "pk1."

    let vaultID: VaultID
    private let subjectKey: SecureBuffer
    private let nonces = NoncePool()
    private var ad: [UInt8] = []

    package init(vaultID: VaultID) throws {
        self.vaultID = vaultID
        subjectKey = try SecureBuffer(count: 32)
        ad.reserveCapacity(256)
    }

    deinit { subjectKey.wipe() }

    /// Zeroes the current subject key.
    package func wipe() { subjectKey.wipe() }

    // MARK: Subject keys

    /// A fresh random subject key in the buffer.
    package func newSubjectKey() { subjectKey.fillRandom() }

    /// The current subject key wrapped under `kek`: nonce ‖ ciphertext ‖ tag.
    package func wrapSubjectKey(subjectID: String, kek: SecureBytes, kekVersion: Int) throws -> [UInt8] {
        buildKeyAD(subjectID: subjectID, kekVersion: kekVersion)
        var out = [UInt8](repeating: 0, count: Self.wrappedKeyByteCount)
        let n = XChaCha20Poly1305.nonceByteCount
        try out.withUnsafeMutableBytes { buffer in
            nonces.next(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
            try subjectKey.withUnsafeBytes { key in
                try ad.withUnsafeBytes { adBytes in
                    try XChaCha20Poly1305.seal(
                        plaintext: key, key: kek, nonce: UnsafeRawBufferPointer(rebasing: buffer[0..<n]),
                        associatedData: adBytes, into: UnsafeMutableRawBufferPointer(rebasing: buffer[n...]))
                }
            }
        }
        return out
    }

    /// Unwraps a subject key into the buffer.
    ///
    /// - Throws: `.integrity` if the wrapped key does not open (wrong KEK, or moved from
    ///   another subject).
    package func unwrapSubjectKey(_ wrapped: [UInt8], subjectID: String, kek: SecureBytes, kekVersion: Int) throws {
        guard wrapped.count == Self.wrappedKeyByteCount else {
            throw PrivacyKitError(.integrity, "the wrapped key of subject \(subjectID) is \(wrapped.count) bytes, not \(Self.wrappedKeyByteCount)")
        }
        buildKeyAD(subjectID: subjectID, kekVersion: kekVersion)
        let n = XChaCha20Poly1305.nonceByteCount
        do {
            try wrapped.withUnsafeBytes { buffer in
                try subjectKey.withUnsafeMutableBytes { key in
                    try ad.withUnsafeBytes { adBytes in
                        try XChaCha20Poly1305.open(
                            ciphertext: UnsafeRawBufferPointer(rebasing: buffer[n...]), key: kek,
                            nonce: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), associatedData: adBytes, into: key)
                    }
                }
            }
        } catch let error as SodiumError {
            subjectKey.wipe()
            throw PrivacyKitError(.integrity, "the key of subject \(subjectID) does not unwrap under KEK v\(kekVersion) (wrong key, or altered or moved)", cause: error)
        }
    }

    // MARK: Fields

    /// Encrypts `value` of `field` for `subjectID` under the current subject key.
    package func seal(_ value: String, field: String, subjectID: String, keyVersion: Int) throws -> [UInt8] {
        buildFieldAD(field: field, subjectID: subjectID, keyVersion: keyVersion)
        var value = value
        return try value.withUTF8 { plain in
            var out = [UInt8](repeating: 0, count: Self.headerByteCount + plain.count + XChaCha20Poly1305.tagByteCount)
            try out.withUnsafeMutableBytes { buffer in
                buffer[0] = Self.formatVersion
                let v = UInt32(keyVersion).bigEndian
                withUnsafeBytes(of: v) { buffer.baseAddress!.advanced(by: 1).copyMemory(from: $0.baseAddress!, byteCount: 4) }
                let nonce = UnsafeMutableRawBufferPointer(rebasing: buffer[5..<Self.headerByteCount])
                nonces.next(into: nonce)
                try ad.withUnsafeBytes { adBytes in
                    try XChaCha20Poly1305.seal(
                        plaintext: UnsafeRawBufferPointer(plain), key: subjectKey, nonce: UnsafeRawBufferPointer(nonce),
                        associatedData: adBytes, into: UnsafeMutableRawBufferPointer(rebasing: buffer[Self.headerByteCount...]))
                }
            }
            return out
        }
    }

    /// The subject-key version an envelope was sealed under.
    static func keyVersion(of envelope: [UInt8]) -> Int? {
        guard envelope.count >= headerByteCount + XChaCha20Poly1305.tagByteCount, envelope[0] == formatVersion else { return nil }
        return Int(UInt32(envelope[1]) << 24 | UInt32(envelope[2]) << 16 | UInt32(envelope[3]) << 8 | UInt32(envelope[4]))
    }

    /// Decrypts an envelope of `field` for `subjectID` with the current subject key.
    ///
    /// - Throws: `.integrity` naming the field and subject (never the value) when the
    ///   envelope is malformed, from another format, or does not authenticate here.
    package func open(_ envelope: [UInt8], field: String, subjectID: String) throws -> String {
        guard let keyVersion = Self.keyVersion(of: envelope) else {
            throw PrivacyKitError(.integrity, "field \(field) of subject \(subjectID): not a format-\(Self.formatVersion) envelope")
        }
        buildFieldAD(field: field, subjectID: subjectID, keyVersion: keyVersion)
        let count = envelope.count - Self.headerByteCount - XChaCha20Poly1305.tagByteCount
        var plain = [UInt8](repeating: 0, count: max(count, 1))
        defer { Memory.wipe(&plain) }
        do {
            try envelope.withUnsafeBytes { buffer in
                try plain.withUnsafeMutableBytes { out in
                    try ad.withUnsafeBytes { adBytes in
                        try XChaCha20Poly1305.open(
                            ciphertext: UnsafeRawBufferPointer(rebasing: buffer[Self.headerByteCount...]), key: subjectKey,
                            nonce: UnsafeRawBufferPointer(rebasing: buffer[5..<Self.headerByteCount]), associatedData: adBytes,
                            into: UnsafeMutableRawBufferPointer(rebasing: out[0..<count]))
                    }
                }
            }
        } catch let error as SodiumError {
            throw PrivacyKitError(.integrity, "field \(field) of subject \(subjectID) does not decrypt (wrong key, or the envelope was altered or moved from another field, subject or vault)", cause: error)
        }
        guard let text = String(validating: plain[0..<count], as: UTF8.self) else {
            throw PrivacyKitError(.integrity, "field \(field) of subject \(subjectID) decrypts to invalid UTF-8")
        }
        return text
    }

    static func text(_ envelope: [UInt8]) -> String { textPrefix + Base64URL.encode(envelope) }

    static func binary(fromText text: String) throws -> [UInt8] {
        guard text.hasPrefix(textPrefix), let bytes = try? Base64URL.decode(String(text.dropFirst(textPrefix.count))) else {
            throw PrivacyKitError(.invalidInput, "not a PrivacyKit text envelope (pk1.…)")
        }
        return bytes
    }

    // MARK: Associated data


    private func buildKeyAD(subjectID: String, kekVersion: Int) {
        var c = Canonical("privacykit.subject-key.v1")
        c.append(vaultID.bytes)
        c.append(subjectID)
        c.append(UInt64(kekVersion))
        ad = c.bytes
    }

    private func buildFieldAD(field: String, subjectID: String, keyVersion: Int) {
        ad.removeAll(keepingCapacity: true)
        appendField(Array("privacykit.field.v1".utf8))
        appendField([0, 0, 0, 0, 0, 0, 0, Self.formatVersion])
        appendField(vaultID.bytes)
        appendField(field)
        appendField(subjectID)
        let v = UInt64(keyVersion)
        appendField((0..<8).reversed().map { UInt8(v >> (UInt64($0) * 8) & 0xff) })
    }

    /// One Canonical field (4-byte big-endian length, then the bytes), appended in place.
    private func appendField(_ bytes: some Collection<UInt8>) {
        let n = UInt32(bytes.count)
        ad.append(UInt8(n >> 24)); ad.append(UInt8(n >> 16 & 0xff)); ad.append(UInt8(n >> 8 & 0xff)); ad.append(UInt8(n & 0xff))
        ad.append(contentsOf: bytes)
    }

    private func appendField(_ string: String) {
        var string = string
        string.withUTF8 { appendField($0) }
    }
}
