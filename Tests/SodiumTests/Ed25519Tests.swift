import Sodium
import Testing

struct Ed25519Vector: Sendable, CustomTestStringConvertible {
    let name: String
    let secretKey: String  // the 32-byte seed
    let publicKey: String
    let message: String
    let signature: String
    var testDescription: String { name }
}

@Suite("Ed25519")
struct Ed25519Tests {
    // RFC 8032, section 7.1 "Test Vectors for Ed25519". SECRET KEY is the 32-byte seed.
    static let rfc8032 = [
        Ed25519Vector(
            name: "RFC 8032 7.1 TEST 1",
            secretKey: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            message: "",
            signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
                + "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
        Ed25519Vector(
            name: "RFC 8032 7.1 TEST 2",
            secretKey: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            message: "72",
            signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
                + "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
        Ed25519Vector(
            name: "RFC 8032 7.1 TEST 3",
            secretKey: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            message: "af82",
            signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
                + "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
    ]

    @Test(arguments: rfc8032)
    func rfc8032KeyDerivationAndSignature(_ v: Ed25519Vector) throws {
        let pair = try Ed25519.KeyPair(seed: secureKey(Hex.decode(v.secretKey)))
        #expect(Hex.encode(pair.publicKey.bytes) == v.publicKey)

        let message = try Hex.decode(v.message)
        let signature = try pair.sign(message)
        #expect(Hex.encode(signature) == v.signature)
    }

    @Test(arguments: rfc8032)
    func rfc8032SignatureVerifies(_ v: Ed25519Vector) throws {
        let publicKey = try Ed25519.PublicKey(bytes: Hex.decode(v.publicKey))
        let message = try Hex.decode(v.message)
        let signature = try Hex.decode(v.signature)
        try publicKey.verify(signature, for: message)
        #expect(publicKey.isValidSignature(signature, for: message))
    }

    @Test(arguments: rfc8032)
    func rfc8032TamperingIsInvalidSignature(_ v: Ed25519Vector) throws {
        let publicKey = try Ed25519.PublicKey(bytes: Hex.decode(v.publicKey))
        let message = try Hex.decode(v.message)
        let signature = try Hex.decode(v.signature)

        // A bit flipped in R, in S, and in S's top byte.
        for index in [0, 31, 32, 63] {
            let bad = flippingBit(signature, at: index, mask: index == 63 ? 0x80 : 0x01)
            let error = #expect(throws: SodiumError.self) { try publicKey.verify(bad, for: message) }
            #expect(error?.code == .invalidSignature)
            #expect(!publicKey.isValidSignature(bad, for: message))
        }

        // The message changed: a flipped bit, or (for the empty message) one byte more.
        let altered = message.isEmpty ? [0x00] : flippingBit(message, at: message.count - 1)
        let messageError = #expect(throws: SodiumError.self) { try publicKey.verify(signature, for: altered) }
        #expect(messageError?.code == .invalidSignature)
        let extended = #expect(throws: SodiumError.self) { try publicKey.verify(signature, for: message + [0]) }
        #expect(extended?.code == .invalidSignature)

        // The public key changed.
        for index in [0, 17, 31] {
            let otherKey = try Ed25519.PublicKey(bytes: flippingBit(publicKey.bytes, at: index))
            let keyError = #expect(throws: SodiumError.self) { try otherKey.verify(signature, for: message) }
            #expect(keyError?.code == .invalidSignature)
        }
    }

    @Test func verifyingWithAnotherVectorsKeyFails() throws {
        let v1 = Self.rfc8032[1]
        let v2 = Self.rfc8032[2]
        let key2 = try Ed25519.PublicKey(bytes: Hex.decode(v2.publicKey))
        let error = #expect(throws: SodiumError.self) {
            try key2.verify(Hex.decode(v1.signature), for: Hex.decode(v1.message))
        }
        #expect(error?.code == .invalidSignature)
    }

    @Test(arguments: [0, 1, 32, 63, 65, 128])
    func signatureOfWrongLengthIsInvalidLength(count: Int) throws {
        let v = Self.rfc8032[1]
        let publicKey = try Ed25519.PublicKey(bytes: Hex.decode(v.publicKey))
        let signature = try Hex.decode(v.signature)
        let wrong = count <= 64 ? Array(signature.prefix(count)) : signature + [UInt8](repeating: 0, count: count - 64)
        let error = #expect(throws: SodiumError.self) { try publicKey.verify(wrong, for: Hex.decode(v.message)) }
        #expect(error?.code == .invalidLength)
        #expect(!publicKey.isValidSignature(wrong, for: try Hex.decode(v.message)))
    }

    @Test(arguments: [0, 31, 33, 64])
    func publicKeyOfWrongLengthIsInvalidLength(count: Int) {
        let error = #expect(throws: SodiumError.self) { try Ed25519.PublicKey(bytes: [UInt8](repeating: 1, count: count)) }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [16, 31, 33, 64])
    func seedOfWrongLengthIsInvalidLength(count: Int) throws {
        let seed = try SecureBytes.random(count: count)
        let error = #expect(throws: SodiumError.self) { try Ed25519.KeyPair(seed: seed) }
        #expect(error?.code == .invalidLength)
    }

    @Test func sizes() {
        #expect(Ed25519.publicKeyByteCount == 32)
        #expect(Ed25519.secretKeyByteCount == 64)
        #expect(Ed25519.seedByteCount == 32)
        #expect(Ed25519.signatureByteCount == 64)
    }

    @Test func seedRoundTripsAndRestoresTheSameKeyPair() throws {
        let v = Self.rfc8032[2]
        let seed = try secureKey(Hex.decode(v.secretKey))
        let pair = try Ed25519.KeyPair(seed: seed)
        let exported = try pair.seed()
        #expect(exported.count == 32)
        #expect(exported == seed)
        let restored = try Ed25519.KeyPair(seed: exported)
        #expect(restored.publicKey == pair.publicKey)
    }

    @Test func generatedPairsSignAndVerify() throws {
        let a = try Ed25519.KeyPair.generate()
        let b = try Ed25519.KeyPair.generate()
        #expect(a.publicKey != b.publicKey)
        #expect(try a.seed() != b.seed())

        let message = Array("audit record 1".utf8)
        let signature = try a.sign(message)
        #expect(signature.count == 64)
        try a.publicKey.verify(signature, for: message)
        // Ed25519 is deterministic.
        #expect(try a.sign(message) == signature)

        let error = #expect(throws: SodiumError.self) { try b.publicKey.verify(signature, for: message) }
        #expect(error?.code == .invalidSignature)

        let restored = try Ed25519.KeyPair(seed: a.seed())
        #expect(restored.publicKey == a.publicKey)
        #expect(try restored.sign(message) == signature)
    }

    @Test func largeMessageSignsAndVerifies() throws {
        let pair = try Ed25519.KeyPair.generate()
        let message = Random.bytes(count: 100_000)
        let signature = try pair.sign(message)
        try pair.publicKey.verify(signature, for: message)
        var altered = message
        altered[50_000] ^= 0x20
        #expect(!pair.publicKey.isValidSignature(signature, for: altered))
    }
}
