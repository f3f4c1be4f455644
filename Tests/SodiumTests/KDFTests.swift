import Sodium
import Testing

struct KDFVector: Sendable, CustomTestStringConvertible {
    let subkeyID: UInt64
    let byteCount: Int
    let subkey: String
    var testDescription: String { "subkey \(subkeyID), \(byteCount) bytes" }
}

@Suite("KDF")
struct KDFTests {
    // libsodium test/default/kdf.c + kdf.exp (github.com/jedisct1/libsodium): master key
    // 00 01 .. 1f, context "KDF test". The first loop prints subkeys 0..9 at
    // crypto_kdf_BYTES_MAX (64) bytes; the second prints subkey i at i bytes.
    static let vectors = [
        KDFVector(subkeyID: 0, byteCount: 64, subkey: "a0c724404728c8bb95e5433eb6a9716171144d61efb23e74b873fcbeda51d807"
            + "1b5d70aae12066dfc94ce943f145aa176c055040c3dd73b0a15e36254d450614"),
        KDFVector(subkeyID: 1, byteCount: 64, subkey: "02507f144fa9bf19010bf7c70b235b4c2663cc00e074f929602a5e2c10a78075"
            + "7d2a3993d06debc378a90efdac196dd841817b977d67b786804f6d3cd585bab5"),
        KDFVector(subkeyID: 16, byteCount: 16, subkey: "a529216624ef9161e4cf117272aafff2"),
        KDFVector(subkeyID: 32, byteCount: 32, subkey: "154b291f11196737f8b7f491e4ca11764e0227d34f94295408a869f007aa8618"),
    ]

    @Test(arguments: vectors)
    func libsodiumKnownAnswer(_ vector: KDFVector) throws {
        let master = try secureKey(Array(0..<32))
        let subkey = try KDF.deriveKey(from: master, subkeyID: vector.subkeyID, context: "KDF test", byteCount: vector.byteCount)
        #expect(subkey.count == vector.byteCount)
        #expect(holds(subkey, try Hex.decode(vector.subkey)), "subkey differs from libsodium kdf.exp")
    }

    @Test func sizes() {
        #expect(KDF.masterKeyByteCount == 32)
        #expect(KDF.contextByteCount == 8)
        #expect(KDF.minSubkeyByteCount == 16)
        #expect(KDF.maxSubkeyByteCount == 64)
    }

    @Test func derivationIsDeterministic() throws {
        let master = try SecureBytes.random(count: 32)
        let a = try KDF.deriveKey(from: master, subkeyID: 7, context: "blindidx")
        let b = try KDF.deriveKey(from: master, subkeyID: 7, context: "blindidx")
        #expect(a.count == 32)
        #expect(a == b)
    }

    @Test func differentSubkeyIDGivesDifferentKey() throws {
        let master = try SecureBytes.random(count: 32)
        let keys = try [0, 1, 2, UInt64.max].map { try KDF.deriveKey(from: master, subkeyID: $0, context: "blindidx") }
        for i in keys.indices {
            for j in keys.indices where j > i {
                #expect(keys[i] != keys[j])
            }
        }
    }

    @Test func differentContextGivesDifferentKey() throws {
        let master = try SecureBytes.random(count: 32)
        let a = try KDF.deriveKey(from: master, subkeyID: 1, context: "blindidx")
        let b = try KDF.deriveKey(from: master, subkeyID: 1, context: "blindid2")
        let c = try KDF.deriveKey(from: master, subkeyID: 1, context: "BLINDIDX")
        #expect(a != b)
        #expect(a != c)
    }

    @Test func differentMasterGivesDifferentKey() throws {
        let a = try KDF.deriveKey(from: SecureBytes.random(count: 32), subkeyID: 1, context: "blindidx")
        let b = try KDF.deriveKey(from: SecureBytes.random(count: 32), subkeyID: 1, context: "blindidx")
        #expect(a != b)
    }

    @Test func shorterSubkeyIsNotAPrefixOfLonger() throws {
        // The output length is part of BLAKE2b's parameter block.
        let master = try SecureBytes.random(count: 32)
        let short = try KDF.deriveKey(from: master, subkeyID: 3, context: "blindidx", byteCount: 16)
        let long = try KDF.deriveKey(from: master, subkeyID: 3, context: "blindidx", byteCount: 32)
        let prefix = long.withUnsafeBytes { Array($0.prefix(16)) }
        #expect(!holds(short, prefix))
    }

    @Test(arguments: ["", "short", "1234567", "123456789", "blind index"])
    func contextNotEightBytesIsInvalidParameter(context: String) throws {
        let master = try SecureBytes.random(count: 32)
        let error = #expect(throws: SodiumError.self) {
            try KDF.deriveKey(from: master, subkeyID: 0, context: context)
        }
        #expect(error?.code == .invalidParameter)
    }

    @Test func contextLengthIsCountedInUTF8Bytes() throws {
        let master = try SecureBytes.random(count: 32)
        // 8 characters but 9 UTF-8 bytes.
        let error = #expect(throws: SodiumError.self) {
            try KDF.deriveKey(from: master, subkeyID: 0, context: "blindidé")
        }
        #expect(error?.code == .invalidParameter)
    }

    @Test(arguments: [16, 31, 33, 64])
    func wrongMasterLengthIsInvalidLength(count: Int) throws {
        let master = try SecureBytes.random(count: count)
        let error = #expect(throws: SodiumError.self) {
            try KDF.deriveKey(from: master, subkeyID: 0, context: "blindidx")
        }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [0, 15, 65, 128])
    func subkeyLengthOutOfRangeIsInvalidLength(count: Int) throws {
        let master = try SecureBytes.random(count: 32)
        let error = #expect(throws: SodiumError.self) {
            try KDF.deriveKey(from: master, subkeyID: 0, context: "blindidx", byteCount: count)
        }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [16, 24, 32, 64])
    func subkeyLengthInRangeIsHonoured(count: Int) throws {
        let master = try SecureBytes.random(count: 32)
        #expect(try KDF.deriveKey(from: master, subkeyID: 0, context: "blindidx", byteCount: count).count == count)
    }
}
