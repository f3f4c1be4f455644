import Sodium
import Testing

@Suite("XChaCha20-Poly1305")
struct XChaCha20Poly1305Tests {
    // MARK: Known answer

    // draft-irtf-cfrg-xchacha-03, Appendix A.3.1 "AEAD_XCHACHA20_POLY1305"
    // (same vector as A.1 in hexdump form). Key 80..9f, IV 40..57.
    static let kat = (
        plaintext: Array(
            "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it."
                .utf8),
        aad: "50515253c0c1c2c3c4c5c6c7",
        key: "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        nonce: "404142434445464748494a4b4c4d4e4f5051525354555657",
        ciphertext: "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
            + "731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
            + "2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
            + "21f9664c97637da9768812f615c68b13b52e",
        tag: "c0875924c1c7987947deafd8780acf49"
    )

    @Test func draftVectorSealsToPublishedCiphertextAndTag() throws {
        // The draft's hexdump plaintext (A.1) is exactly this ASCII text, 114 bytes.
        #expect(Self.kat.plaintext.count == 114)
        #expect(Hex.encode(Self.kat.plaintext).hasPrefix("4c616469657320616e642047656e746c"))

        let key = try secureKey(Hex.decode(Self.kat.key))
        let nonce = try XChaCha20Poly1305.Nonce(bytes: Hex.decode(Self.kat.nonce))
        let aad = try Hex.decode(Self.kat.aad)

        let sealed = try XChaCha20Poly1305.seal(Self.kat.plaintext, using: key, nonce: nonce, authenticating: aad)
        #expect(sealed.nonce == nonce)
        #expect(sealed.ciphertext.count == Self.kat.plaintext.count + XChaCha20Poly1305.tagByteCount)
        #expect(Hex.encode(Array(sealed.ciphertext.dropLast(16))) == Self.kat.ciphertext)
        #expect(Hex.encode(Array(sealed.ciphertext.suffix(16))) == Self.kat.tag)

        let opened = try XChaCha20Poly1305.open(sealed, using: key, authenticating: aad)
        #expect(opened == Self.kat.plaintext)
    }

    @Test func draftVectorOpensFromPublishedBytes() throws {
        let key = try secureKey(Hex.decode(Self.kat.key))
        let message = try XChaCha20Poly1305.SealedMessage(
            nonce: XChaCha20Poly1305.Nonce(bytes: Hex.decode(Self.kat.nonce)),
            ciphertext: Hex.decode(Self.kat.ciphertext + Self.kat.tag))
        let opened = try XChaCha20Poly1305.open(message, using: key, authenticating: Hex.decode(Self.kat.aad))
        #expect(opened == Self.kat.plaintext)
    }

    @Test func sizes() {
        #expect(XChaCha20Poly1305.keyByteCount == 32)
        #expect(XChaCha20Poly1305.nonceByteCount == 24)
        #expect(XChaCha20Poly1305.tagByteCount == 16)
    }

    // MARK: Round trips

    @Test(arguments: [0, 1, 15, 16, 17, 64, 1000])
    func roundTrip(length: Int) throws {
        let key = try SecureBytes.random(count: XChaCha20Poly1305.keyByteCount)
        let plaintext = Random.bytes(count: length)
        let ad = Array("record:42".utf8)
        let sealed = try XChaCha20Poly1305.seal(plaintext, using: key, authenticating: ad)
        #expect(sealed.ciphertext.count == length + XChaCha20Poly1305.tagByteCount)
        #expect(try XChaCha20Poly1305.open(sealed, using: key, authenticating: ad) == plaintext)
    }

    @Test func emptyPlaintextRoundTrip() throws {
        let key = try SecureBytes.random(count: 32)
        let sealed = try XChaCha20Poly1305.seal([], using: key)
        #expect(sealed.ciphertext.count == XChaCha20Poly1305.tagByteCount)
        #expect(try XChaCha20Poly1305.open(sealed, using: key) == [])
        // The empty message is still authenticated.
        let tampered = XChaCha20Poly1305.SealedMessage(nonce: sealed.nonce, ciphertext: flippingBit(sealed.ciphertext, at: 0))
        let error = #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(tampered, using: key) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test func combinedRoundTrip() throws {
        let key = try SecureBytes.random(count: 32)
        let plaintext = Array("combined form".utf8)
        let sealed = try XChaCha20Poly1305.seal(plaintext, using: key)
        let combined = sealed.combined
        #expect(combined.count == 24 + plaintext.count + 16)
        #expect(Array(combined.prefix(24)) == sealed.nonce.bytes)

        let parsed = try XChaCha20Poly1305.SealedMessage(combined: combined)
        #expect(parsed == sealed)
        #expect(try XChaCha20Poly1305.open(parsed, using: key) == plaintext)
    }

    @Test func combinedOfEmptyPlaintextIsMinimumLength() throws {
        let key = try SecureBytes.random(count: 32)
        let sealed = try XChaCha20Poly1305.seal([], using: key)
        #expect(sealed.combined.count == 40)
        let parsed = try XChaCha20Poly1305.SealedMessage(combined: sealed.combined)
        #expect(try XChaCha20Poly1305.open(parsed, using: key) == [])
    }

    @Test(arguments: [0, 1, 23, 24, 39])
    func combinedTooShortIsInvalidLength(count: Int) {
        let error = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.SealedMessage(combined: [UInt8](repeating: 7, count: count))
        }
        #expect(error?.code == .invalidLength)
    }

    @Test func openSecretIntoSecureBytes() throws {
        let key = try SecureBytes.random(count: 32)
        let secret = try SecureBytes.random(count: 32)
        let ad = Array("wrap".utf8)
        let sealed = try XChaCha20Poly1305.seal(secret, using: key, authenticating: ad)
        #expect(sealed.ciphertext.count == 32 + 16)
        let unwrapped = try XChaCha20Poly1305.openSecret(sealed, using: key, authenticating: ad)
        #expect(unwrapped.count == 32)
        #expect(unwrapped == secret)
    }

    /// A failing `openSecret` must throw the right code (and not crash: an earlier
    /// SecureBytes freed its storage twice when its initializer threw).
    @Test func openSecretFailuresThrowTheRightCode() throws {
        let key = try SecureBytes.random(count: 32)
        let ad = Array("wrap".utf8)
        let sealed = try XChaCha20Poly1305.seal(SecureBytes.random(count: 32), using: key, authenticating: ad)

        let wrongAD = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.openSecret(sealed, using: key, authenticating: Array("other".utf8))
        }
        #expect(wrongAD?.code == .authenticationFailed)

        var tag = sealed.ciphertext
        tag[tag.count - 1] ^= 0x01
        let tampered = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.openSecret(
                XChaCha20Poly1305.SealedMessage(nonce: sealed.nonce, ciphertext: tag), using: key, authenticating: ad)
        }
        #expect(tampered?.code == .authenticationFailed)

        let wrongKey = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.openSecret(sealed, using: SecureBytes.random(count: 32), authenticating: ad)
        }
        #expect(wrongKey?.code == .authenticationFailed)

        let shortKey = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.openSecret(sealed, using: SecureBytes.random(count: 31), authenticating: ad)
        }
        #expect(shortKey?.code == .invalidLength)

        // Still opens with the right inputs afterwards.
        #expect(try XChaCha20Poly1305.openSecret(sealed, using: key, authenticating: ad).count == 32)
    }

    @Test func sealingSecureBytesMatchesSealingTheSameArray() throws {
        // Same key, nonce and bytes: the SecureBytes overload must produce the same box.
        let key = try secureKey(Array(0..<32))
        let nonce = try XChaCha20Poly1305.Nonce(bytes: [UInt8](repeating: 9, count: 24))
        let bytes: [UInt8] = Array(100..<140)
        let fromArray = try XChaCha20Poly1305.seal(bytes, using: key, nonce: nonce)
        let fromSecure = try XChaCha20Poly1305.seal(secureKey(bytes), using: key, nonce: nonce)
        #expect(fromArray == fromSecure)
    }

    @Test func twoSealsOfSamePlaintextDiffer() throws {
        let key = try SecureBytes.random(count: 32)
        let plaintext = Array("same plaintext".utf8)
        let a = try XChaCha20Poly1305.seal(plaintext, using: key)
        let b = try XChaCha20Poly1305.seal(plaintext, using: key)
        #expect(a.nonce != b.nonce)
        #expect(a.ciphertext != b.ciphertext)
        #expect(try XChaCha20Poly1305.open(a, using: key) == plaintext)
        #expect(try XChaCha20Poly1305.open(b, using: key) == plaintext)
    }

    @Test func randomNoncesAreFreshAndRightSize() {
        let a = XChaCha20Poly1305.Nonce.random()
        let b = XChaCha20Poly1305.Nonce.random()
        #expect(a.bytes.count == 24)
        #expect(a != b)
    }

    // MARK: Tampering

    struct Fixture {
        let key: SecureBytes
        let plaintext = Array("attack at dawn, bring snacks".utf8)
        let ad = Array("header-v1".utf8)
        let sealed: XChaCha20Poly1305.SealedMessage

        init() throws {
            key = try SecureBytes.random(count: 32)
            sealed = try XChaCha20Poly1305.seal(plaintext, using: key, authenticating: ad)
        }
    }

    private func expectAuthenticationFailure(
        _ message: XChaCha20Poly1305.SealedMessage, key: SecureBytes, ad: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let error = #expect(throws: SodiumError.self, sourceLocation: sourceLocation) {
            try XChaCha20Poly1305.open(message, using: key, authenticating: ad)
        }
        #expect(error?.code == .authenticationFailed, sourceLocation: sourceLocation)
        let secretError = #expect(throws: SodiumError.self, sourceLocation: sourceLocation) {
            try XChaCha20Poly1305.openSecret(message, using: key, authenticating: ad)
        }
        #expect(secretError?.code == .authenticationFailed, sourceLocation: sourceLocation)
    }

    @Test func untamperedFixtureOpens() throws {
        let f = try Fixture()
        #expect(try XChaCha20Poly1305.open(f.sealed, using: f.key, authenticating: f.ad) == f.plaintext)
    }

    @Test(arguments: [0, 5, 27])
    func flippedCiphertextBitFails(index: Int) throws {
        let f = try Fixture()
        #expect(index < f.plaintext.count)
        let tampered = XChaCha20Poly1305.SealedMessage(
            nonce: f.sealed.nonce, ciphertext: flippingBit(f.sealed.ciphertext, at: index, mask: 0x80))
        expectAuthenticationFailure(tampered, key: f.key, ad: f.ad)
    }

    @Test(arguments: 0..<16)
    func flippedTagBitFails(offsetFromTagStart: Int) throws {
        let f = try Fixture()
        let tagStart = f.sealed.ciphertext.count - XChaCha20Poly1305.tagByteCount
        let tampered = XChaCha20Poly1305.SealedMessage(
            nonce: f.sealed.nonce, ciphertext: flippingBit(f.sealed.ciphertext, at: tagStart + offsetFromTagStart))
        expectAuthenticationFailure(tampered, key: f.key, ad: f.ad)
    }

    @Test(arguments: [0, 15, 16, 23])
    func flippedNonceBitFails(index: Int) throws {
        let f = try Fixture()
        let tampered = try XChaCha20Poly1305.SealedMessage(
            nonce: XChaCha20Poly1305.Nonce(bytes: flippingBit(f.sealed.nonce.bytes, at: index)),
            ciphertext: f.sealed.ciphertext)
        expectAuthenticationFailure(tampered, key: f.key, ad: f.ad)
    }

    @Test func flippedAssociatedDataBitFails() throws {
        let f = try Fixture()
        for index in f.ad.indices {
            expectAuthenticationFailure(f.sealed, key: f.key, ad: flippingBit(f.ad, at: index))
        }
    }

    @Test func missingOrExtraAssociatedDataFails() throws {
        let f = try Fixture()
        expectAuthenticationFailure(f.sealed, key: f.key, ad: [])
        expectAuthenticationFailure(f.sealed, key: f.key, ad: f.ad + [0])
    }

    @Test func truncatedCiphertextFails() throws {
        let f = try Fixture()
        let tampered = XChaCha20Poly1305.SealedMessage(nonce: f.sealed.nonce, ciphertext: Array(f.sealed.ciphertext.dropLast()))
        expectAuthenticationFailure(tampered, key: f.key, ad: f.ad)
    }

    @Test func wrongKeyFails() throws {
        let f = try Fixture()
        let other = try SecureBytes.random(count: 32)
        #expect(other != f.key)
        expectAuthenticationFailure(f.sealed, key: other, ad: f.ad)
    }

    // MARK: Lengths

    @Test(arguments: [1, 16, 31, 33, 64])
    func keyOfWrongLengthIsInvalidLength(count: Int) throws {
        let key = try SecureBytes.random(count: count)
        let sealError = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.seal(Array("x".utf8), using: key)
        }
        #expect(sealError?.code == .invalidLength)

        let good = try XChaCha20Poly1305.seal(Array("x".utf8), using: SecureBytes.random(count: 32))
        let openError = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.open(good, using: key)
        }
        #expect(openError?.code == .invalidLength)
        let openSecretError = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.openSecret(good, using: key)
        }
        #expect(openSecretError?.code == .invalidLength)
    }

    @Test(arguments: [0, 12, 23, 25, 32])
    func nonceOfWrongLengthIsInvalidLength(count: Int) {
        let error = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.Nonce(bytes: [UInt8](repeating: 1, count: count))
        }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [0, 1, 15])
    func ciphertextShorterThanTagIsInvalidLength(count: Int) throws {
        let key = try SecureBytes.random(count: 32)
        let message = XChaCha20Poly1305.SealedMessage(nonce: .random(), ciphertext: [UInt8](repeating: 0, count: count))
        let error = #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(message, using: key) }
        #expect(error?.code == .invalidLength)
        let secretError = #expect(throws: SodiumError.self) { try XChaCha20Poly1305.openSecret(message, using: key) }
        #expect(secretError?.code == .invalidLength)
    }

    @Test func tagOnlyCiphertextWithGarbageFailsAuthentication() throws {
        // Exactly tag-sized but forged: a length check passes, authentication must not.
        let key = try SecureBytes.random(count: 32)
        let forged = XChaCha20Poly1305.SealedMessage(nonce: .random(), ciphertext: Random.bytes(count: 16))
        let error = #expect(throws: SodiumError.self) { try XChaCha20Poly1305.open(forged, using: key) }
        #expect(error?.code == .authenticationFailed)
    }
}
