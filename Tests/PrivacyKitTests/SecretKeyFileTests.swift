#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import PrivacyKit
import Sodium
import Testing

/// The secret key of a subject export or recovery key pair, read from its file: every form
/// accepted, anything else refused by the file's name alone.
@Suite("Secret key files")
struct SecretKeyFileTests {
    /// The forms of one key a secret key file may hold.
    static func forms(of key: [UInt8]) -> [(String, [UInt8])] {
        let base64 = Array(Base64URL.encode(key).utf8)
        let hex = Array(Hex.encode(key).utf8)
        let upperHex = Array(Hex.encode(key).uppercased().utf8)
        let newline = Array("\n".utf8)
        return [
            ("raw", key), ("base64url", base64), ("base64url, newline", base64 + newline), ("base64url, CRLF", base64 + Array("\r\n".utf8)),
            ("hex", hex), ("hex, newline", hex + newline), ("upper-case hex, newlines", upperHex + newline + newline),
        ]
    }

    @Test func everyFormGivesTheSameKeyPair() throws {
        let dir = try TempDirectory()
        let pair = try SealedBox.KeyPair.generate()
        let key = pair.secretKey.withUnsafeBytes { Array($0) }
        let sealed = try SealedBox.seal(Array("to the owner".utf8), to: pair.publicKey)
        for (name, bytes) in Self.forms(of: key) {
            let path = dir.file("\(name).key")
            try writeFile(path, bytes)
            let read = try SubjectExport.readSecretKey(at: path)
            #expect(read.publicKey == pair.publicKey && read.secretKey == pair.secretKey, "\(name)")
            #expect(try SealedBox.open(sealed, with: read) == Array("to the owner".utf8), "\(name)")
        }
    }

    @Test func aMalformedFileIsRefusedByItsNameNotItsContent() throws {
        let dir = try TempDirectory()
        let key = try SealedBox.KeyPair.generate().secretKey.withUnsafeBytes { Array($0) }
        let base64 = Base64URL.encode(key)
        let hex = Hex.encode(key)
        let malformed: [(String, String)] = [
            ("base64 with a bad character", String(base64.dropLast()) + "*"),
            ("base64 with padding", base64 + "="),
            ("hex with a bad digit", String(hex.dropLast()) + "g"),
            ("hex one digit short", String(hex.dropLast()) + "\n"),
            ("33 raw bytes", String(repeating: "k", count: 33)),
            ("text with spaces", " " + base64 + " "),
        ]
        for (name, content) in malformed {
            let path = dir.file("bad.key")
            try? FileManager.default.removeItem(atPath: path)
            try writeFile(path, Array(content.utf8))
            let error = expectError(.invalidInput) { try SubjectExport.readSecretKey(at: path) }
            #expect(error?.message.contains(path) == true, "\(name): \(error?.message ?? "")")
            let trimmed = content.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(error.map { !$0.message.contains(trimmed) && !$0.message.contains(String(trimmed.prefix(16))) } ?? true, "\(name): the message quotes the file")
        }
    }
}

extension RootKeyHygieneTests {
    /// Reading a secret key file (base64url or hex) leaves neither the key nor its text in
    /// writable memory; before, the text went through a `String` and an array left unwiped.
    @Test func base64SecretKeyFileLeavesNoCopyInWritableMemory() throws {
        guard try Self.isolated("base64SecretKeyFileLeavesNoCopyInWritableMemory") else { return }
        try expectNoCopiesReadingSecretKeyFile(hex: false)
    }

    @Test func hexSecretKeyFileLeavesNoCopyInWritableMemory() throws {
        guard try Self.isolated("hexSecretKeyFileLeavesNoCopyInWritableMemory") else { return }
        try expectNoCopiesReadingSecretKeyFile(hex: true)
    }

    func expectNoCopiesReadingSecretKeyFile(hex: Bool) throws {
        let dir = try TempDirectory()
        let key = try SecureBytes.random(count: SealedBox.secretKeyByteCount)
        // The text, with a final newline, is made in locked memory (read-only once written)
        // and written to the file from there: the test leaves no copy of its own.
        let text = try key.withUnsafeBytes { raw in
            let length = hex ? raw.count * 2 : (raw.count * 4 + 2) / 3
            return try SecureBytes(count: length + 1) { out in
                if hex {
                    let digits = Array("0123456789abcdef".utf8)
                    for (i, b) in raw.enumerated() { (out[2 * i], out[2 * i + 1]) = (digits[Int(b >> 4)], digits[Int(b & 0x0f)]) }
                } else {
                    // The Base64URL encoder's own array is wiped here, as the root-key test does.
                    var encoded = Base64URL.encode(bytes: raw)
                    defer { Memory.wipe(&encoded) }
                    encoded.withUnsafeBytes { out.copyMemory(from: $0) }
                }
                out[length] = UInt8(ascii: "\n")
            }
        }
        let path = dir.file("export.key")
        try text.withUnsafeBytes { try Self.writeSecretFile(path, $0) }
        try key.withUnsafeBytes { raw in
            try text.withUnsafeBytes { text in
                let needles = Self.halves(raw) + Self.halves(UnsafeRawBufferPointer(rebasing: text.dropLast()))
                let scanner = try WritableMemory(needles)
                let pair = try SubjectExport.readSecretKey(at: path)
                let found = scanner.scan()
                #expect(found.isEmpty, "reading the \(hex ? "hex" : "base64url") secret key file left the key or its text in writable memory: \(found)")
                #expect(pair.secretKey == key)
            }
        }
    }
}
