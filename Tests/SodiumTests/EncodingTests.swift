import Sodium
import Testing

struct Base64Vector: Sendable, CustomTestStringConvertible {
    let input: String
    let encoded: String
    var testDescription: String { "BASE64URL(\"\(input)\") = \"\(encoded)\"" }
}

// MARK: - ConstantTime

@Suite("ConstantTime")
struct ConstantTimeTests {
    @Test func equalBytesAreEqual() {
        #expect(ConstantTime.equals([1, 2, 3], [1, 2, 3]))
        let big = Random.bytes(count: 4096)
        #expect(ConstantTime.equals(big, big))
    }

    @Test func emptyArraysAreEqual() {
        #expect(ConstantTime.equals([], []))
    }

    @Test(arguments: [0, 1, 31])
    func oneDifferentBitIsUnequal(index: Int) {
        let a = Array(UInt8(0)..<32)
        var b = a
        b[index] ^= 0x80
        #expect(!ConstantTime.equals(a, b))
        #expect(!ConstantTime.equals(b, a))
    }

    @Test func differentLengthsAreUnequal() {
        #expect(!ConstantTime.equals([1, 2, 3], [1, 2]))
        #expect(!ConstantTime.equals([1, 2], [1, 2, 3]))
        #expect(!ConstantTime.equals([], [0]))
        #expect(!ConstantTime.equals([0], []))
        // A prefix is not equal to the whole.
        #expect(!ConstantTime.equals([0, 0, 0], [0, 0, 0, 0]))
    }
}

// MARK: - Base64URL

@Suite("Base64URL")
struct Base64URLTests {
    // RFC 4648 section 10 test vectors (BASE64("f") = "Zg==", ...), in the URL-safe
    // alphabet of section 5 with the padding removed (these inputs use no '+' or '/').
    static let rfc4648 = [
        Base64Vector(input: "", encoded: ""),
        Base64Vector(input: "f", encoded: "Zg"),
        Base64Vector(input: "fo", encoded: "Zm8"),
        Base64Vector(input: "foo", encoded: "Zm9v"),
        Base64Vector(input: "foob", encoded: "Zm9vYg"),
        Base64Vector(input: "fooba", encoded: "Zm9vYmE"),
        Base64Vector(input: "foobar", encoded: "Zm9vYmFy"),
    ]

    @Test(arguments: rfc4648)
    func rfc4648Encode(_ v: Base64Vector) {
        #expect(Base64URL.encode(Array(v.input.utf8)) == v.encoded)
    }

    @Test(arguments: rfc4648)
    func rfc4648Decode(_ v: Base64Vector) throws {
        #expect(try Base64URL.decode(v.encoded) == Array(v.input.utf8))
    }

    @Test func urlSafeAlphabet() throws {
        // Standard base64 would give "+/8" and "+++/" for these.
        #expect(Base64URL.encode([0xfb, 0xff]) == "-_8")
        #expect(try Base64URL.decode("-_8") == [0xfb, 0xff])
        #expect(Base64URL.encode([0xfb, 0xef, 0xbe]) == "----")
        #expect(Base64URL.encode([0xff, 0xff, 0xff]) == "____")
        #expect(try Base64URL.decode("____") == [0xff, 0xff, 0xff])
        #expect(Base64URL.encode([0x00, 0x00, 0x00]) == "AAAA")
    }

    @Test func encodingUsesOnlyTheUrlSafeAlphabetWithoutPadding() {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for length in 0..<70 {
            let text = Base64URL.encode(Random.bytes(count: length))
            #expect(text.allSatisfy { allowed.contains($0) })
            #expect(text.count == (length * 4 + 2) / 3)
        }
    }

    @Test(arguments: 0..<40)
    func randomRoundTrip(length: Int) throws {
        for _ in 0..<8 {
            let bytes = Random.bytes(count: length)
            #expect(try Base64URL.decode(Base64URL.encode(bytes)) == bytes)
        }
    }

    @Test func allByteValuesRoundTrip() throws {
        let bytes = (0...255).map { UInt8($0) }
        #expect(try Base64URL.decode(Base64URL.encode(bytes)) == bytes)
    }

    @Test(arguments: rfc4648)
    func rawEncodeGivesTheSameAsciiBytesWithoutNul(_ v: Base64Vector) {
        let ascii = Array(v.input.utf8).withUnsafeBytes { Base64URL.encode(bytes: $0) }
        #expect(ascii == Array(v.encoded.utf8))
        #expect(!ascii.contains(0))
    }

    /// Input that libsodium's decoder already refuses as a whole.
    @Test(arguments: [
        "Z",  // a single character cannot encode a byte
        "Zm9vY",  // 5 characters: dangling 6 bits
        "Zh",  // non-zero padding bits ("Zg" is canonical for "f")
        "Zm9vYh",  // same, after a full group
        "Zm 9v",  // space inside a group
    ])
    func malformedTextIsInvalidEncoding(text: String) {
        let error = #expect(throws: SodiumError.self) { try Base64URL.decode(text) }
        #expect(error?.code == .invalidEncoding)
    }

    /// Padding, the standard alphabet, white space and trailing garbage are rejected, not
    /// decoded up to the first bad character.
    @Test(arguments: [
        "Zg==",  // padded
        "Zg=",  // partly padded
        "Zm8=",  // padded
        "Zm9vYg==",  // padded
        "Zm9v+",  // standard alphabet
        "Zm9v/",  // standard alphabet
        "/",  // standard alphabet only
        "+/8",  // standard alphabet only
        " Zm9v",  // leading space
        "Zm9v ",  // trailing space
        "Zm9v\n",  // trailing newline
        "Zm9v!!",  // trailing garbage
        "Zm9v.",  // trailing garbage
        "Zm9v*Zm9v",  // a foreign character between groups
        "Zm9vYg\u{0}",  // trailing NUL
    ])
    func paddingForeignAlphabetWhitespaceAndTrailingGarbageAreInvalidEncoding(text: String) {
        let error = #expect(throws: SodiumError.self) { try Base64URL.decode(text) }
        #expect(error?.code == .invalidEncoding)
    }
}

// MARK: - Hex

@Suite("Hex")
struct HexTests {
    @Test func encodeKnownValues() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00]) == "00")
        #expect(Hex.encode([0x00, 0x01, 0x7f, 0x80, 0xab, 0xff]) == "00017f80abff")
        #expect(Hex.encode(Array("abc".utf8)) == "616263")
    }

    @Test func decodeKnownValues() throws {
        #expect(try Hex.decode("") == [])
        #expect(try Hex.decode("00017f80abff") == [0x00, 0x01, 0x7f, 0x80, 0xab, 0xff])
        #expect(try Hex.decode("00017F80ABFF") == [0x00, 0x01, 0x7f, 0x80, 0xab, 0xff])
        #expect(try Hex.decode("aBcD") == [0xab, 0xcd])
    }

    @Test func allByteValuesRoundTrip() throws {
        let bytes = (0...255).map { UInt8($0) }
        let text = Hex.encode(bytes)
        #expect(text.count == 512)
        #expect(text == text.lowercased())
        #expect(try Hex.decode(text) == bytes)
        #expect(try Hex.decode(text.uppercased()) == bytes)
    }

    @Test(arguments: 0..<20)
    func randomRoundTrip(length: Int) throws {
        let bytes = Random.bytes(count: length)
        #expect(try Hex.decode(Hex.encode(bytes)) == bytes)
    }

    @Test(arguments: ["0", "abc", "00f", "12345"])
    func oddLengthIsInvalidEncoding(text: String) {
        let error = #expect(throws: SodiumError.self) { try Hex.decode(text) }
        #expect(error?.code == .invalidEncoding)
    }

    @Test(arguments: ["0g", "g0", "zz", " 0", "0 ", "0x00", "-1", "+1", "12:3", "é0", "0é", "éé"])
    func badDigitIsInvalidEncoding(text: String) {
        let error = #expect(throws: SodiumError.self) { try Hex.decode(text) }
        #expect(error?.code == .invalidEncoding)
    }
}

// MARK: - Memory

@Suite("Memory")
struct MemoryTests {
    @Test func wipeZeroesEveryByteAndKeepsTheLength() {
        var bytes: [UInt8] = Array(1...100)
        Memory.wipe(&bytes)
        #expect(bytes.count == 100)
        #expect(bytes.allSatisfy { $0 == 0 })
    }

    @Test func wipeOfEmptyArrayIsANoOp() {
        var empty: [UInt8] = []
        Memory.wipe(&empty)
        #expect(empty.isEmpty)
    }
}
