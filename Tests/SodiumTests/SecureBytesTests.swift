import Sodium
import Testing

private struct InitializerFailure: Error, Equatable {
    let tag: Int
}

private func contents(_ secret: SecureBytes) -> [UInt8] {
    secret.withUnsafeBytes { Array($0) }
}

private func hexUpper(_ bytes: [UInt8]) -> String {
    Hex.encode(bytes).uppercased()
}

@Suite("SecureBytes")
struct SecureBytesTests {
    // MARK: Construction

    @Test func initializerWritesTheBytes() throws {
        let secret = try SecureBytes(count: 5) { buffer in
            for i in buffer.indices { buffer[i] = UInt8(10 + i) }
        }
        #expect(secret.count == 5)
        #expect(contents(secret) == [10, 11, 12, 13, 14])
    }

    @Test func initializerSeesExactlyTheRequestedCount() throws {
        var seen = -1
        _ = try SecureBytes(count: 77) { buffer in
            seen = buffer.count
            #expect(buffer.baseAddress != nil)
        }
        #expect(seen == 77)
    }

    @Test(arguments: [0, -1, Int.min])
    func nonPositiveCountIsInvalidLength(count: Int) {
        var called = false
        let error = #expect(throws: SodiumError.self) {
            try SecureBytes(count: count) { _ in called = true }
        }
        #expect(error?.code == .invalidLength)
        #expect(!called)
        let randomError = #expect(throws: SodiumError.self) { try SecureBytes.random(count: count) }
        #expect(randomError?.code == .invalidLength)
    }

    @Test func takingBytesCopiesAndZeroesTheSource() throws {
        let original: [UInt8] = Array(1...32)
        var source = original
        let secret = try SecureBytes(takingBytes: &source)
        #expect(secret.count == 32)
        #expect(contents(secret) == original)
        #expect(source.count == 32)
        #expect(source.allSatisfy { $0 == 0 })
    }

    @Test func takingBytesWipesTheCallersBufferInPlace() throws {
        // The point of `inout` is that the caller's own storage is wiped, not a fresh copy.
        var source: [UInt8] = Array(repeating: 0xA7, count: 48)
        let before = source.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        _ = try SecureBytes(takingBytes: &source)
        let after = source.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) }
        #expect(before == after)
        #expect(source.allSatisfy { $0 == 0 })
    }

    @Test func takingEmptyBytesIsInvalidLength() {
        var empty: [UInt8] = []
        let error = #expect(throws: SodiumError.self) { try SecureBytes(takingBytes: &empty) }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [1, 16, 32, 4096])
    func randomHasTheRequestedCountAndIsFresh(count: Int) throws {
        let a = try SecureBytes.random(count: count)
        let b = try SecureBytes.random(count: count)
        #expect(a.count == count)
        if count >= 16 {
            #expect(a != b)
        }
    }

    /// The error thrown by the initializer reaches the caller unchanged (an earlier version
    /// freed the storage twice on this path and crashed).
    @Test func throwingInitializerPropagatesTheError() throws {
        let error = #expect(throws: InitializerFailure.self) {
            try SecureBytes(count: 16) { buffer in
                buffer[0] = 1
                throw InitializerFailure(tag: 42)
            }
        }
        #expect(error == InitializerFailure(tag: 42))
        let sodiumError = #expect(throws: SodiumError.self) {
            try SecureBytes(count: 16) { _ in throw SodiumError(.operationFailed, "test") }
        }
        #expect(sodiumError?.code == .operationFailed)
        // Repeated failures leave the allocator healthy.
        for _ in 0..<100 {
            _ = try? SecureBytes(count: 64) { _ in throw InitializerFailure(tag: 0) }
        }
        #expect(try SecureBytes.random(count: 64).count == 64)
    }

    // MARK: Equality

    @Test func equalForSameBytes() throws {
        let a = try secureKey(Array(0..<32))
        let b = try secureKey(Array(0..<32))
        #expect(a == b)
        #expect(a == a)
        let copy = a
        #expect(copy == a)
    }

    @Test func unequalForDifferentBytes() throws {
        let a = try secureKey(Array(0..<32))
        for index in [0, 15, 31] {
            var other = Array(UInt8(0)..<32)
            other[index] ^= 0x01
            #expect(a != (try secureKey(other)))
        }
    }

    @Test func unequalForDifferentLengths() throws {
        let a = try secureKey(Array(0..<32))
        #expect(a != (try secureKey(Array(0..<31))))
        #expect(a != (try secureKey(Array(0..<33))))
        #expect(try secureKey([0]) != secureKey([0, 0]))
    }

    // MARK: Redaction

    @Test func descriptionsAreRedacted() throws {
        // Public test bytes; no two adjacent ones spell a hex run found in the redacted text.
        let keyBytes: [UInt8] = Array(0x10...0x2f)
        let key = try secureKey(keyBytes)

        let renderings = [
            key.description,
            key.debugDescription,
            String(describing: key),
            String(reflecting: key),
            "\(key)",
            "\([key])",
            "\(Optional(key) as Any)",
        ]
        for text in renderings {
            #expect(text.lowercased().contains("redacted"))
            #expect(!text.contains(Hex.encode(keyBytes)))
            #expect(!text.contains(hexUpper(keyBytes)))
            #expect(!text.contains(keyBytes.description))
            #expect(!text.contains("16, 17, 18"))
            // No two consecutive key bytes in hex, in either case.
            for i in 0..<(keyBytes.count - 1) {
                let pair = Array(keyBytes[i...i + 1])
                #expect(!text.contains(Hex.encode(pair)))
                #expect(!text.contains(hexUpper(pair)))
            }
        }
        #expect(key.description == "<redacted>")
        #expect(key.debugDescription.contains("32"))
    }

    @Test func dumpDoesNotRevealTheBytes() throws {
        let keyBytes: [UInt8] = Array(0x10...0x2f)
        let key = try secureKey(keyBytes)
        var dumped = ""
        dump(key, to: &dumped)
        #expect(!dumped.contains(Hex.encode(keyBytes)))
        #expect(!dumped.contains(keyBytes.description))
        #expect(!dumped.contains("16, 17, 18"))
    }

    @Test func randomKeyIsNotRenderedInAnyForm() throws {
        let key = try SecureBytes.random(count: 32)
        let bytes = contents(key)
        for text in [key.description, key.debugDescription, "\(key)", String(reflecting: key)] {
            // Bools, so that a failure does not print the key itself.
            let forms = [Hex.encode(bytes), hexUpper(bytes), Hex.encode(Array(bytes[0..<8])), Base64URL.encode(bytes)]
            let rendered = forms.map { text.contains($0) }
            #expect(rendered == [false, false, false, false], "the key shows in hex, upper hex, a hex prefix or base64url")
        }
    }

    @Test func sodiumErrorMessagesDoNotCarryKeyBytes() throws {
        // A failing operation with a real key must not mention the key in its error.
        let key = try secureKey(Array(0x10...0x2f))
        let sealed = try XChaCha20Poly1305.seal(Array("x".utf8), using: key)
        var forged = sealed.ciphertext
        forged[0] ^= 1
        let error = #expect(throws: SodiumError.self) {
            try XChaCha20Poly1305.open(XChaCha20Poly1305.SealedMessage(nonce: sealed.nonce, ciphertext: forged), using: key)
        }
        let text = error.map { "\($0) \($0.message)" } ?? ""
        #expect(!text.contains(Hex.encode(Array(0x10...0x2f))))
        #expect(!text.contains("1011"))
    }
}
