import Sodium
import Testing

/// One known answer: `message` repeated `repeats` times.
struct SHA256Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let message: String
    let repeats: Int
    let digest: String
    var testDescription: String { name }

    var bytes: [UInt8] { Array(String(repeating: message, count: repeats).utf8) }
}

@Suite("SHA-256")
struct SHA256Tests {
    // FIPS 180-2 Appendix B (B.1 one block, B.2 two blocks, B.3 one million "a"), the
    // 896-bit message of the NIST examples, and the empty message (NIST CAVS
    // SHA256ShortMsg, Len = 0).
    static let vectors = [
        SHA256Vector(name: "FIPS 180-2 B.1 abc", message: "abc", repeats: 1,
                     digest: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        SHA256Vector(name: "FIPS 180-2 B.2 448 bits", message: "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", repeats: 1,
                     digest: "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        SHA256Vector(name: "896 bits", message: "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
                     repeats: 1, digest: "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        SHA256Vector(name: "FIPS 180-2 B.3 one million a", message: "a", repeats: 1_000_000,
                     digest: "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
        SHA256Vector(name: "empty", message: "", repeats: 1,
                     digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ]

    @Test(arguments: vectors)
    func oneShot(_ vector: SHA256Vector) {
        #expect(Hex.encode(SHA256.hash(vector.bytes)) == vector.digest)
        #expect(SHA256.hash(vector.bytes).count == SHA256.byteCount)
    }

    /// The same digests fed in uneven pieces (and an empty one), across block boundaries.
    @Test(arguments: vectors)
    func streaming(_ vector: SHA256Vector) throws {
        let bytes = vector.bytes
        let hasher = SHA256.Hasher()
        try hasher.update([])
        var start = 0
        var step = 1
        while start < bytes.count {
            let end = min(bytes.count, start + step)
            try hasher.update(Array(bytes[start..<end]))
            start = end
            step = step * 3 % 1000 + 7
        }
        #expect(Hex.encode(try hasher.finalize()) == vector.digest)
    }

    @Test func aFinishedHasherRefusesMore() throws {
        let hasher = SHA256.Hasher()
        try hasher.update(Array("abc".utf8))
        _ = try hasher.finalize()
        #expect(throws: SodiumError.self) { try hasher.update([1]) }
        #expect(throws: SodiumError.self) { try hasher.finalize() }
    }
}
