import Foundation
package import Sodium

/// Field encryption for one thread of work: subject keys unwrapped into one reused locked
/// buffer, nonces from a bulk pool, associated data built in a reused scratch buffer.
///
/// Envelope, binary (format 2, a record field): `02 | field-key version (4 bytes BE) |
/// nonce (24) | ciphertext ‖ tag (16)`, under that version's field key (``FieldKey``).
/// Format 1 (notes, and fields written before format 2): `01 | subject-key version |
/// nonce | ciphertext ‖ tag` under the subject key itself. Text: `pk1.` + base64url of the
/// binary form. The associated data binds the format version, vault id, field name,
/// subject id and key version, so an envelope moved to another field, subject or vault
/// does not open.
///
/// - Warning: Not thread-safe; make one per thread. Call ``wipe()`` when done with a
///   subject (the vault does this after every record).
// @unchecked: mutable, but only ever used by one caller at a time (a vault lends each
// cipher from its pool to one operation and takes it back after).
package final class FieldCipher: @unchecked Sendable {
    static let formatVersion: UInt8 = 1
    static let fieldFormatVersion: UInt8 = 2
    static let headerByteCount = 1 + 4 + XChaCha20Poly1305.nonceByteCount
    static let wrappedKeyByteCount = XChaCha20Poly1305.nonceByteCount + 32 + XChaCha20Poly1305.tagByteCount
    static let textPrefix = "pk1."

    let vaultID: VaultID
    private let subjectKey: SecureBuffer
    /// The field key of the current call (derived, used, wiped).
    private let fieldKey: SecureBuffer
    private let nonces = NoncePool()
    private let keyRandom: SecureRandomPool
    /// The associated data of the current call, built in place. The constant prefixes
    /// (label, format, vault id) are encoded once here; each call appends only what varies.
    private let ad: ScratchBuffer
    private let fieldADPrefix: [UInt8]
    private let keyADPrefix: [UInt8]
    private let field2ADPrefix: [UInt8]
    private let fieldKeyPrefix: [UInt8]

    package init(vaultID: VaultID) throws {
        self.vaultID = vaultID
        subjectKey = try SecureBuffer(count: 32)
        fieldKey = try SecureBuffer(count: 32)
        keyRandom = try SecureRandomPool()
        ad = ScratchBuffer(capacity: 1024)
        fieldADPrefix = Self.prefix("privacykit.field.v1", format: Self.formatVersion, vaultID: vaultID)
        keyADPrefix = Self.prefix("privacykit.subject-key.v1", vaultID: vaultID)
        field2ADPrefix = Self.prefix("privacykit.field.v2", format: Self.fieldFormatVersion, vaultID: vaultID)
        fieldKeyPrefix = Self.prefix("privacykit.field-key.v1", vaultID: vaultID)
    }

    /// The constant start of a `Canonical` input: its label, the format version (8 bytes
    /// BE) where it has one, and the vault id.
    private static func prefix(_ label: String, format: UInt8? = nil, vaultID: VaultID) -> [UInt8] {
        var c = Canonical(label)
        if let format { c.append([0, 0, 0, 0, 0, 0, 0, format]) }
        c.append(vaultID.bytes)
        return c.bytes
    }

    deinit {
        subjectKey.wipe()
        fieldKey.wipe()
    }

    /// Zeroes the current subject key.
    package func wipe() {
        subjectKey.wipe()
        fieldKey.wipe()
    }

    // MARK: Subject keys

    /// A fresh random subject key in the buffer.
    package func newSubjectKey() { subjectKey.fillRandom(from: keyRandom) }

    /// The current subject key wrapped under `kek`: nonce ‖ ciphertext ‖ tag.
    package func wrapSubjectKey(subjectID: String, kek: SecureBytes, kekVersion: Int) throws -> [UInt8] {
        let adBytes = buildKeyAD(subjectID: subjectID, kekVersion: kekVersion)
        let n = XChaCha20Poly1305.nonceByteCount
        return try [UInt8](unsafeUninitializedCapacity: Self.wrappedKeyByteCount) { out, initialized in
            let buffer = UnsafeMutableRawBufferPointer(out)
            nonces.next(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<n]))
            try subjectKey.withUnsafeBytes { key in
                try XChaCha20Poly1305.seal(
                    plaintext: key, key: kek, nonce: UnsafeRawBufferPointer(rebasing: buffer[0..<n]),
                    associatedData: adBytes, into: UnsafeMutableRawBufferPointer(rebasing: buffer[n...]))
            }
            initialized = Self.wrappedKeyByteCount
        }
    }

    /// Unwraps a subject key into the buffer.
    ///
    /// - Throws: `.integrity` if the wrapped key does not open (wrong KEK, or moved from
    ///   another subject).
    package func unwrapSubjectKey(_ wrapped: [UInt8], subjectID: String, kek: SecureBytes, kekVersion: Int) throws {
        guard wrapped.count == Self.wrappedKeyByteCount else {
            throw PrivacyKitError(.integrity, "the wrapped key of subject \(subjectID) is \(wrapped.count) bytes, not \(Self.wrappedKeyByteCount)")
        }
        let adBytes = buildKeyAD(subjectID: subjectID, kekVersion: kekVersion)
        let n = XChaCha20Poly1305.nonceByteCount
        do {
            try wrapped.withUnsafeBytes { buffer in
                try subjectKey.withUnsafeMutableBytes { key in
                    try XChaCha20Poly1305.open(
                        ciphertext: UnsafeRawBufferPointer(rebasing: buffer[n...]), key: kek,
                        nonce: UnsafeRawBufferPointer(rebasing: buffer[0..<n]), associatedData: adBytes, into: key)
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
        var out: [UInt8] = []
        try seal(value, field: field, subjectID: subjectID, keyVersion: keyVersion, appendingTo: &out)
        return out
    }

    /// The byte count of the envelope of a `plaintextCount`-byte value.
    static func envelopeByteCount(plaintextCount: Int) -> Int {
        headerByteCount + plaintextCount + XChaCha20Poly1305.tagByteCount
    }

    /// Seals `value` as ``seal(_:field:subjectID:keyVersion:)`` does, appending the
    /// envelope to `out` (a bulk writer concatenates envelopes without a copy each).
    package func seal(_ value: String, field: String, subjectID: String, keyVersion: Int, appendingTo out: inout [UInt8]) throws {
        let adBytes = buildFieldAD(field: field, subjectID: subjectID, keyVersion: keyVersion)
        try seal(value, format: Self.formatVersion, version: keyVersion, key: subjectKey, associatedData: adBytes, appendingTo: &out)
    }

    /// One envelope, `format | version (4 bytes BE) | nonce | ciphertext ‖ tag`, appended.
    private func seal(
        _ value: String, format: UInt8, version: Int, key: SecureBuffer, associatedData adBytes: UnsafeRawBufferPointer, appendingTo out: inout [UInt8]
    ) throws {
        var value = value
        try value.withUTF8 { plain in
            let total = Self.envelopeByteCount(plaintextCount: plain.count)
            let start = out.count
            out.reserveCapacity(start + total)
            // Appended uninitialized in effect: every byte is written below before use.
            out.append(contentsOf: repeatElement(0, count: total))
            try out.withUnsafeMutableBytes { whole in
                let buffer = UnsafeMutableRawBufferPointer(rebasing: whole[start...])
                buffer[0] = format
                buffer[1] = UInt8(truncatingIfNeeded: version >> 24)
                buffer[2] = UInt8(truncatingIfNeeded: version >> 16)
                buffer[3] = UInt8(truncatingIfNeeded: version >> 8)
                buffer[4] = UInt8(truncatingIfNeeded: version)
                let nonce = UnsafeMutableRawBufferPointer(rebasing: buffer[5..<Self.headerByteCount])
                nonces.next(into: nonce)
                try XChaCha20Poly1305.seal(
                    plaintext: UnsafeRawBufferPointer(plain), key: key, nonce: UnsafeRawBufferPointer(nonce),
                    associatedData: adBytes, into: UnsafeMutableRawBufferPointer(rebasing: buffer[Self.headerByteCount...]))
            }
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
        let adBytes = buildFieldAD(field: field, subjectID: subjectID, keyVersion: keyVersion)
        return try open(envelope, key: subjectKey, associatedData: adBytes, field: field, subjectID: subjectID)
    }

    private func open(_ envelope: [UInt8], key: SecureBuffer, associatedData adBytes: UnsafeRawBufferPointer, field: String, subjectID: String) throws -> String {
        let count = envelope.count - Self.headerByteCount - XChaCha20Poly1305.tagByteCount
        var plain = [UInt8](repeating: 0, count: max(count, 1))
        defer { Memory.wipe(&plain) }
        do {
            try envelope.withUnsafeBytes { buffer in
                try plain.withUnsafeMutableBytes { out in
                    try XChaCha20Poly1305.open(
                        ciphertext: UnsafeRawBufferPointer(rebasing: buffer[Self.headerByteCount...]), key: key,
                        nonce: UnsafeRawBufferPointer(rebasing: buffer[5..<Self.headerByteCount]), associatedData: adBytes,
                        into: UnsafeMutableRawBufferPointer(rebasing: out[0..<count]))
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

    // MARK: Record fields (format 2): a key per field version

    /// A new version of a field's key: a fresh salt, from which (with the subject key) the
    /// key is derived. Deleting the salt destroys that version's key, so its envelopes,
    /// wherever a copy is kept, no longer open; the subject's other fields are untouched.
    package func newFieldKey(version: Int) -> FieldKey {
        var salt = [UInt8](repeating: 0, count: FieldKey.saltByteCount)
        salt.withUnsafeMutableBytes { keyRandom.next(into: $0) }
        return FieldKey(version: version, salt: salt)
    }

    /// Seals `value` of `field` under `key` (the current subject key must be loaded),
    /// appending the format-2 envelope to `out`.
    package func seal(_ value: String, field: String, subjectID: String, key: FieldKey, appendingTo out: inout [UInt8]) throws {
        guard let salt = key.salt else {
            throw PrivacyKitError(.internal, "field \(field) of subject \(subjectID): sealing under a destroyed key version")
        }
        try deriveFieldKey(field: field, subjectID: subjectID, version: key.version, salt: salt)
        defer { fieldKey.wipe() }
        let adBytes = buildField2AD(field: field, subjectID: subjectID, version: key.version)
        try seal(value, format: Self.fieldFormatVersion, version: key.version, key: fieldKey, associatedData: adBytes, appendingTo: &out)
    }

    package func seal(_ value: String, field: String, subjectID: String, key: FieldKey) throws -> [UInt8] {
        var out: [UInt8] = []
        try seal(value, field: field, subjectID: subjectID, key: key, appendingTo: &out)
        return out
    }

    /// Opens a record field's envelope: format 2 under `key` (the field's current key
    /// version), format 1 (written before field keys) under the subject key.
    ///
    /// - Throws: `.notFound` when the envelope is of a key version that was destroyed
    ///   (the field was rectified or removed since), `.integrity` when it does not open.
    package func open(_ envelope: [UInt8], field: String, subjectID: String, key: FieldKey?) throws -> String {
        guard envelope.first == Self.fieldFormatVersion else { return try open(envelope, field: field, subjectID: subjectID) }
        guard envelope.count >= Self.headerByteCount + XChaCha20Poly1305.tagByteCount else {
            throw PrivacyKitError(.integrity, "field \(field) of subject \(subjectID): a truncated envelope")
        }
        let version = Int(UInt32(envelope[1]) << 24 | UInt32(envelope[2]) << 16 | UInt32(envelope[3]) << 8 | UInt32(envelope[4]))
        guard let key, version <= key.version else {
            throw PrivacyKitError(.integrity, "field \(field) of subject \(subjectID) has no key v\(version): the envelope was altered, or moved from another field, subject or vault")
        }
        guard let salt = key.salt, key.version == version else {
            let now = key.salt == nil ? "the field was removed" : "v\(key.version) is current"
            throw PrivacyKitError(.notFound, "field \(field) of subject \(subjectID): the key of this envelope (v\(version)) was destroyed when the field was rectified or removed (\(now))")
        }
        try deriveFieldKey(field: field, subjectID: subjectID, version: version, salt: salt)
        defer { fieldKey.wipe() }
        let adBytes = buildField2AD(field: field, subjectID: subjectID, version: version)
        return try open(envelope, key: fieldKey, associatedData: adBytes, field: field, subjectID: subjectID)
    }

    private func deriveFieldKey(field: String, subjectID: String, version: Int, salt: [UInt8]) throws {
        ad.reset(to: fieldKeyPrefix)
        ad.appendField(subjectID)
        ad.appendField(field)
        ad.appendField(UInt64(version))
        ad.appendBytes(salt)
        let input = ad.bytes
        try fieldKey.withUnsafeMutableBytes { out in try BLAKE2b.hash(bytes: input, key: subjectKey, into: out) }
    }

    func buildField2AD(field: String, subjectID: String, version: Int) -> UnsafeRawBufferPointer {
        ad.reset(to: field2ADPrefix)
        ad.appendField(field)
        ad.appendField(subjectID)
        ad.appendField(UInt64(version))
        return ad.bytes
    }

    static func text(_ envelope: [UInt8]) -> String { textPrefix + Base64URL.encode(envelope) }

    static func binary(fromText text: String) throws -> [UInt8] {
        guard text.hasPrefix(textPrefix), let bytes = try? Base64URL.decode(String(text.dropFirst(textPrefix.count))) else {
            throw PrivacyKitError(.invalidInput, "not a PrivacyKit text envelope (pk1.…)")
        }
        return bytes
    }

    // MARK: Associated data

    // Both are the `Canonical` encoding of (label, [format,] vault id, [field,] subject id,
    // version); the tests check them against `Canonical` itself. They return a view of the
    // scratch buffer, valid until the next call.

    func buildKeyAD(subjectID: String, kekVersion: Int) -> UnsafeRawBufferPointer {
        ad.reset(to: keyADPrefix)
        ad.appendField(subjectID)
        ad.appendField(UInt64(kekVersion))
        return ad.bytes
    }

    func buildFieldAD(field: String, subjectID: String, keyVersion: Int) -> UnsafeRawBufferPointer {
        ad.reset(to: fieldADPrefix)
        ad.appendField(field)
        ad.appendField(subjectID)
        ad.appendField(UInt64(keyVersion))
        return ad.bytes
    }
}

/// A growable byte buffer that is never shrunk or freed while in use, for associated
/// data built per call (an `Array` here costs exclusivity checks and reallocation).
final class ScratchBuffer {
    private var pointer: UnsafeMutableRawPointer
    private var capacity: Int
    private var count = 0

    init(capacity: Int) {
        self.capacity = max(16, capacity)
        pointer = UnsafeMutableRawPointer.allocate(byteCount: self.capacity, alignment: 8)
    }

    deinit { pointer.deallocate() }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }

    func reset(to prefix: [UInt8]) {
        count = 0
        prefix.withUnsafeBytes { append($0) }
    }

    private func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        let newCapacity = max(capacity * 2, count + extra)
        let grown = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
        grown.copyMemory(from: pointer, byteCount: count)
        pointer.deallocate()
        pointer = grown
        capacity = newCapacity
    }

    private func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (pointer + count).copyMemory(from: base, byteCount: bytes.count)
        count += bytes.count
    }

    private func appendLength(_ n: Int) {
        reserve(4)
        let p = (pointer + count).assumingMemoryBound(to: UInt8.self)
        p[0] = UInt8(truncatingIfNeeded: n >> 24); p[1] = UInt8(truncatingIfNeeded: n >> 16)
        p[2] = UInt8(truncatingIfNeeded: n >> 8); p[3] = UInt8(truncatingIfNeeded: n)
        count += 4
    }

    /// One `Canonical` field: the 4-byte big-endian length, then the UTF-8 bytes.
    func appendField(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            appendLength(utf8.count)
            append(UnsafeRawBufferPointer(utf8))
        }
    }

    /// One `Canonical` field holding raw bytes.
    func appendBytes(_ bytes: [UInt8]) {
        appendLength(bytes.count)
        bytes.withUnsafeBytes { append($0) }
    }

    /// One `Canonical` field holding a 64-bit big-endian number.
    func appendField(_ number: UInt64) {
        appendLength(8)
        withUnsafeBytes(of: number.bigEndian) { append($0) }
    }
}
