import Sodium
import Testing

/// One entry of the BLAKE2 reference keyed KAT: key 00..3f, message = the first
/// `messageLength` bytes of 00 01 02 ..., 64-byte output.
struct KeyedKAT: Sendable, CustomTestStringConvertible {
    let messageLength: Int
    let digest: String
    var testDescription: String { "keyed KAT, message length \(messageLength)" }
}

@Suite("BLAKE2b")
struct BLAKE2bTests {
    // RFC 7693, Appendix A: BLAKE2b-512("abc"), unkeyed, 64-byte output.
    static let rfc7693Abc = "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
        + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"

    // BLAKE2 reference test vectors, github.com/BLAKE2/BLAKE2 testvectors/blake2-kat.h,
    // array blake2b_keyed_kat[0...3] (same data as blake2b-kat.txt).
    static let keyedKATs = [
        KeyedKAT(messageLength: 0, digest: "10ebb67700b1868efb4417987acf4690ae9d972fb7a590c2f02871799aaa4786"
            + "b5e996e8f0f4eb981fc214b005f42d2ff4233499391653df7aefcbc13fc51568"),
        KeyedKAT(messageLength: 1, digest: "961f6dd1e4dd30f63901690c512e78e4b45e4742ed197c3c5e45c549fd25f2e4"
            + "187b0bc9fe30492b16b0d0bc4ef9b0f34c7003fac09a5ef1532e69430234cebd"),
        KeyedKAT(messageLength: 2, digest: "da2cfbe2d8409a0f38026113884f84b50156371ae304c4430173d08a99d9fb1b"
            + "983164a3770706d537f49e0c916d9f32b95cc37a95b99d857436f0232c88a965"),
        KeyedKAT(messageLength: 3, digest: "33d0825dddf7ada99b0e7e307104ad07ca9cfd9692214f1561356315e784f3e5"
            + "a17e364ae9dbb14cb2036df932b77f4b292761365fb328de7afdc6d8998f5fc1"),
    ]

    static let katKey: [UInt8] = Array(0...0x3f)

    @Test func rfc7693AppendixA() throws {
        let digest = try BLAKE2b.hash(Array("abc".utf8), outputByteCount: 64)
        #expect(Hex.encode(digest) == Self.rfc7693Abc)
    }

    @Test func rfc7693AppendixAStreaming() throws {
        let hasher = try BLAKE2b.Hasher(outputByteCount: 64)
        try hasher.update(Array("a".utf8))
        try hasher.update([])
        try hasher.update(Array("bc".utf8))
        #expect(Hex.encode(try hasher.finalize()) == Self.rfc7693Abc)
    }

    @Test(arguments: keyedKATs)
    func referenceKeyedKAT(_ kat: KeyedKAT) throws {
        let key = try secureKey(Self.katKey)
        let message = Array(UInt8(0)..<UInt8(kat.messageLength))
        #expect(Hex.encode(try BLAKE2b.hash(message, key: key, outputByteCount: 64)) == kat.digest)

        let hasher = try BLAKE2b.Hasher(key: key, outputByteCount: 64)
        for byte in message { try hasher.update([byte]) }
        #expect(Hex.encode(try hasher.finalize()) == kat.digest)
    }

    @Test func sizes() {
        #expect(BLAKE2b.defaultOutputByteCount == 32)
        #expect(BLAKE2b.minOutputByteCount == 16)
        #expect(BLAKE2b.maxOutputByteCount == 64)
        #expect(BLAKE2b.minKeyByteCount == 16)
        #expect(BLAKE2b.maxKeyByteCount == 64)
    }

    @Test func defaultOutputIs32BytesAndDiffersFromTruncated512() throws {
        let digest = try BLAKE2b.hash(Array("abc".utf8))
        #expect(digest.count == 32)
        // BLAKE2b-256 is its own function (output length is in the parameter block),
        // not a prefix of BLAKE2b-512.
        #expect(Hex.encode(digest) != String(Self.rfc7693Abc.prefix(64)))
    }

    @Test(arguments: [16, 20, 32, 48, 64])
    func outputLengthIsHonoured(count: Int) throws {
        #expect(try BLAKE2b.hash(Array("x".utf8), outputByteCount: count).count == count)
    }

    @Test func rawBufferOverloadMatchesArray() throws {
        let message = Random.bytes(count: 300)
        let key = try SecureBytes.random(count: 32)
        let viaArray = try BLAKE2b.hash(message, key: key)
        let viaBuffer = try message.withUnsafeBytes { try BLAKE2b.hash(bytes: $0, key: key) }
        #expect(viaArray == viaBuffer)
        let empty = try [UInt8]().withUnsafeBytes { try BLAKE2b.hash(bytes: $0) }
        #expect(empty == (try BLAKE2b.hash([])))
    }

    @Test func keyChangesTheDigest() throws {
        let message = Array("message".utf8)
        let unkeyed = try BLAKE2b.hash(message)
        let k1 = try BLAKE2b.hash(message, key: SecureBytes.random(count: 32))
        let k2 = try BLAKE2b.hash(message, key: SecureBytes.random(count: 32))
        #expect(unkeyed != k1)
        #expect(k1 != k2)
    }

    @Test func messageChangesTheDigest() throws {
        #expect(try BLAKE2b.hash(Array("abc".utf8)) != BLAKE2b.hash(Array("abd".utf8)))
        #expect(try BLAKE2b.hash([]) != BLAKE2b.hash([0]))
    }

    // MARK: Streaming

    @Test(arguments: [0, 1, 63, 64, 127, 128, 129, 255, 256, 300, 511])
    func streamingEqualsOneShotAtEverySplit(split: Int) throws {
        let message = Array((0..<511).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
        let key = try SecureBytes.random(count: 64)
        for (k, length) in [(nil, 32), (key, 64), (key, 16)] as [(SecureBytes?, Int)] {
            let expected = try BLAKE2b.hash(message, key: k, outputByteCount: length)
            let hasher = try BLAKE2b.Hasher(key: k, outputByteCount: length)
            try hasher.update(Array(message[..<split]))
            try hasher.update(Array(message[split...]))
            #expect(try hasher.finalize() == expected)
        }
    }

    @Test func streamingInManySmallPiecesEqualsOneShot() throws {
        let message = Random.bytes(count: 1000)
        let hasher = try BLAKE2b.Hasher()
        var index = 0
        var step = 1
        while index < message.count {
            let end = min(index + step, message.count)
            try message[index..<end].withUnsafeBytes { try hasher.update(bytes: $0) }
            index = end
            step = step % 37 + 3
        }
        #expect(try hasher.finalize() == BLAKE2b.hash(message))
    }

    @Test func streamingWithNoInputEqualsEmptyHash() throws {
        let hasher = try BLAKE2b.Hasher(outputByteCount: 64)
        #expect(try hasher.finalize() == BLAKE2b.hash([], outputByteCount: 64))
    }

    @Test func finalizeTwiceIsStreamFinished() throws {
        let hasher = try BLAKE2b.Hasher()
        try hasher.update(Array("abc".utf8))
        _ = try hasher.finalize()
        let error = #expect(throws: SodiumError.self) { try hasher.finalize() }
        #expect(error?.code == .streamFinished)
    }

    @Test func updateAfterFinalizeIsStreamFinished() throws {
        let hasher = try BLAKE2b.Hasher()
        _ = try hasher.finalize()
        let error = #expect(throws: SodiumError.self) { try hasher.update(Array("late".utf8)) }
        #expect(error?.code == .streamFinished)
        let rawError = #expect(throws: SodiumError.self) {
            try [UInt8](repeating: 1, count: 4).withUnsafeBytes { try hasher.update(bytes: $0) }
        }
        #expect(rawError?.code == .streamFinished)
    }

    // MARK: Parameter checks

    @Test(arguments: [0, 1, 15, 65, 128])
    func outputLengthOutOfRangeIsInvalidLength(count: Int) {
        let error = #expect(throws: SodiumError.self) { try BLAKE2b.hash(Array("x".utf8), outputByteCount: count) }
        #expect(error?.code == .invalidLength)
        let hasherError = #expect(throws: SodiumError.self) { try BLAKE2b.Hasher(outputByteCount: count) }
        #expect(hasherError?.code == .invalidLength)
    }

    @Test(arguments: [1, 15, 65, 100])
    func keyLengthOutOfRangeIsInvalidLength(count: Int) throws {
        let key = try SecureBytes.random(count: count)
        let error = #expect(throws: SodiumError.self) { try BLAKE2b.hash(Array("x".utf8), key: key) }
        #expect(error?.code == .invalidLength)
        let hasherError = #expect(throws: SodiumError.self) { try BLAKE2b.Hasher(key: key) }
        #expect(hasherError?.code == .invalidLength)
    }

    @Test(arguments: [16, 32, 64])
    func keyLengthsInRangeAreAccepted(count: Int) throws {
        let key = try SecureBytes.random(count: count)
        #expect(try BLAKE2b.hash(Array("x".utf8), key: key).count == 32)
    }
}
