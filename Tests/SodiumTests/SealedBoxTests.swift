import Sodium
import Testing

@Suite("SealedBox")
struct SealedBoxTests {
    @Test func sizes() {
        #expect(SealedBox.publicKeyByteCount == 32)
        #expect(SealedBox.secretKeyByteCount == 32)
        #expect(SealedBox.overheadByteCount == 48)
    }

    @Test(arguments: [0, 1, 32, 1000])
    func sealOpenRoundTrip(length: Int) throws {
        let recipient = try SealedBox.KeyPair.generate()
        let message = Random.bytes(count: length)
        let sealed = try SealedBox.seal(message, to: recipient.publicKey)
        #expect(sealed.count == length + SealedBox.overheadByteCount)
        #expect(try SealedBox.open(sealed, with: recipient) == message)
    }

    @Test func sealingIsRandomized() throws {
        let recipient = try SealedBox.KeyPair.generate()
        let message = Array("same message".utf8)
        let a = try SealedBox.seal(message, to: recipient.publicKey)
        let b = try SealedBox.seal(message, to: recipient.publicKey)
        #expect(a != b)
        #expect(try SealedBox.open(a, with: recipient) == message)
        #expect(try SealedBox.open(b, with: recipient) == message)
    }

    @Test func sealAndOpenSecret() throws {
        let recipient = try SealedBox.KeyPair.generate()
        let secret = try SecureBytes.random(count: 32)
        let sealed = try SealedBox.seal(secret, to: recipient.publicKey)
        #expect(sealed.count == 32 + SealedBox.overheadByteCount)
        let opened = try SealedBox.openSecret(sealed, with: recipient)
        #expect(opened == secret)
        // The array and SecureBytes paths open each other's boxes.
        let plainOpened = try SealedBox.open(sealed, with: recipient)
        #expect(opened.withUnsafeBytes { Array($0) == plainOpened })
    }

    @Test func wrongKeyPairIsAuthenticationFailed() throws {
        let recipient = try SealedBox.KeyPair.generate()
        let other = try SealedBox.KeyPair.generate()
        let sealed = try SealedBox.seal(Array("for recipient only".utf8), to: recipient.publicKey)
        let error = #expect(throws: SodiumError.self) { try SealedBox.open(sealed, with: other) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test(arguments: [0, 31, 32, 47, 48, 60])
    func tamperedBoxIsAuthenticationFailed(index: Int) throws {
        // 0..31: ephemeral public key, 32..47: MAC, 48...: ciphertext.
        let recipient = try SealedBox.KeyPair.generate()
        var sealed = try SealedBox.seal(Array("sixteen+ bytes of text".utf8), to: recipient.publicKey)
        sealed[index] ^= 0x01
        let error = #expect(throws: SodiumError.self) { try SealedBox.open(sealed, with: recipient) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test func truncatedOrExtendedBoxIsAuthenticationFailed() throws {
        let recipient = try SealedBox.KeyPair.generate()
        let sealed = try SealedBox.seal(Array("message".utf8), to: recipient.publicKey)
        let short = #expect(throws: SodiumError.self) { try SealedBox.open(Array(sealed.dropLast()), with: recipient) }
        #expect(short?.code == .authenticationFailed)
        let long = #expect(throws: SodiumError.self) { try SealedBox.open(sealed + [0], with: recipient) }
        #expect(long?.code == .authenticationFailed)
    }

    @Test(arguments: [0, 1, 47])
    func boxShorterThanOverheadIsInvalidLength(count: Int) throws {
        let recipient = try SealedBox.KeyPair.generate()
        let box = [UInt8](repeating: 3, count: count)
        let error = #expect(throws: SodiumError.self) { try SealedBox.open(box, with: recipient) }
        #expect(error?.code == .invalidLength)
        let secretError = #expect(throws: SodiumError.self) { try SealedBox.openSecret(box, with: recipient) }
        #expect(secretError?.code == .invalidLength)
    }

    @Test func keyPairFromSecretKeyRederivesThePublicKey() throws {
        let generated = try SealedBox.KeyPair.generate()
        let restored = try SealedBox.KeyPair(secretKey: generated.secretKey)
        #expect(restored.publicKey == generated.publicKey)
        #expect(restored.secretKey == generated.secretKey)

        // The restored pair opens boxes sealed to the original public key, and vice versa.
        let sealed = try SealedBox.seal(Array("recovery".utf8), to: generated.publicKey)
        #expect(try SealedBox.open(sealed, with: restored) == Array("recovery".utf8))
        let back = try SealedBox.seal(Array("back".utf8), to: restored.publicKey)
        #expect(try SealedBox.open(back, with: generated) == Array("back".utf8))
    }

    @Test func keyPairFromFixedSecretKeyIsDeterministic() throws {
        var bytes = [UInt8](repeating: 0x42, count: 32)
        let sk = try SecureBytes(takingBytes: &bytes)
        let a = try SealedBox.KeyPair(secretKey: sk)
        let b = try SealedBox.KeyPair(secretKey: sk)
        #expect(a.publicKey == b.publicKey)
        #expect(a.publicKey.bytes.count == 32)
        #expect(a.publicKey.bytes != [UInt8](repeating: 0x42, count: 32))
    }

    @Test func generatedPairsDiffer() throws {
        let a = try SealedBox.KeyPair.generate()
        let b = try SealedBox.KeyPair.generate()
        #expect(a.publicKey != b.publicKey)
        #expect(a.secretKey != b.secretKey)
        #expect(a.secretKey.count == 32)
    }

    @Test(arguments: [16, 31, 33, 64])
    func secretKeyOfWrongLengthIsInvalidLength(count: Int) throws {
        let sk = try SecureBytes.random(count: count)
        let error = #expect(throws: SodiumError.self) { try SealedBox.KeyPair(secretKey: sk) }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [0, 31, 33])
    func publicKeyOfWrongLengthIsInvalidLength(count: Int) {
        let error = #expect(throws: SodiumError.self) { try SealedBox.PublicKey(bytes: [UInt8](repeating: 9, count: count)) }
        #expect(error?.code == .invalidLength)
    }

    @Test func openSecretWithWrongKeyPairOrTamperingThrows() throws {
        let recipient = try SealedBox.KeyPair.generate()
        let other = try SealedBox.KeyPair.generate()
        let sealed = try SealedBox.seal(SecureBytes.random(count: 32), to: recipient.publicKey)
        let error = #expect(throws: SodiumError.self) { try SealedBox.openSecret(sealed, with: other) }
        #expect(error?.code == .authenticationFailed)
        var tampered = sealed
        tampered[40] ^= 0x01
        let tamperError = #expect(throws: SodiumError.self) { try SealedBox.openSecret(tampered, with: recipient) }
        #expect(tamperError?.code == .authenticationFailed)
        #expect(try SealedBox.openSecret(sealed, with: recipient).count == 32)
    }
}
