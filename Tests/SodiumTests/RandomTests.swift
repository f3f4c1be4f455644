import Sodium
import Testing

@Suite("Random")
struct RandomTests {
    @Test(arguments: [1, 2, 16, 24, 1000, 65536])
    func bytesHaveTheRequestedCount(count: Int) {
        #expect(Random.bytes(count: count).count == count)
    }

    @Test(arguments: [0, -1, -100])
    func nonPositiveCountGivesEmpty(count: Int) {
        #expect(Random.bytes(count: count).isEmpty)
    }

    @Test func successiveDrawsDiffer() {
        let draws = (0..<16).map { _ in Random.bytes(count: 16) }
        #expect(Set(draws).count == draws.count)
    }

    @Test func outputIsNotConstantAndCoversAllByteValues() {
        // 16 KiB: the chance that some byte value is missing is about 256 * e^-64.
        let bytes = Random.bytes(count: 16384)
        #expect(Set(bytes).count == 256)
        // A crude bias check: each value is expected 64 times.
        var histogram = [Int](repeating: 0, count: 256)
        for byte in bytes { histogram[Int(byte)] += 1 }
        #expect(histogram.allSatisfy { (16...160).contains($0) })
    }

    @Test func fillOverwritesTheWholeBuffer() {
        var buffer = [UInt8](repeating: 0, count: 256)
        buffer.withUnsafeMutableBytes { Random.fill($0) }
        // 256 zero bytes in a row from the CSPRNG would be a 2^-2048 event.
        #expect(buffer.contains { $0 != 0 })
        // Both halves were written.
        #expect(buffer[..<128].contains { $0 != 0 })
        #expect(buffer[128...].contains { $0 != 0 })

        var again = buffer
        again.withUnsafeMutableBytes { Random.fill($0) }
        #expect(again != buffer)
    }

    @Test func fillOfAnEmptyBufferIsANoOp() {
        var empty: [UInt8] = []
        empty.withUnsafeMutableBytes { Random.fill($0) }
        #expect(empty.isEmpty)
        Random.fill(UnsafeMutableRawBufferPointer(start: nil, count: 0))
    }

    @Test func fillOnlyTouchesTheGivenRange() {
        var buffer = [UInt8](repeating: 0xEE, count: 64)
        buffer.withUnsafeMutableBytes { raw in
            Random.fill(UnsafeMutableRawBufferPointer(rebasing: raw[16..<48]))
        }
        #expect(buffer[..<16].allSatisfy { $0 == 0xEE })
        #expect(buffer[48...].allSatisfy { $0 == 0xEE })
        #expect(buffer[16..<48].contains { $0 != 0xEE })
    }

    @Test func secureRandomKeysDiffer() throws {
        let keys = try (0..<8).map { _ in try SecureBytes.random(count: 32) }
        for i in keys.indices {
            for j in keys.indices where j > i {
                #expect(keys[i] != keys[j])
            }
        }
    }
}

@Suite("SecureRandomPool")
struct SecureRandomPoolTests {
    /// Keys from the pool are full-width, never repeat, and keep coming across refills.
    @Test func keysAreDistinctAcrossRefills() throws {
        let pool = try SecureRandomPool(byteCount: 100)  // 3 keys per refill: many refills
        let buffer = try SecureBuffer(count: 32)
        var seen: Set<[UInt8]> = []
        for _ in 0..<200 {
            buffer.fillRandom(from: pool)
            let key = buffer.withUnsafeBytes { Array($0) }
            #expect(key.contains { $0 != 0 })
            #expect(seen.insert(key).inserted)
        }
    }

    @Test func aRequestLargerThanThePoolIsServedInFull() throws {
        let pool = try SecureRandomPool(byteCount: 16)
        var big = [UInt8](repeating: 0, count: 64)
        big.withUnsafeMutableBytes { pool.next(into: $0) }
        #expect(big[..<32].contains { $0 != 0 } && big[32...].contains { $0 != 0 })
    }

    @Test func aZeroSizedPoolIsRefused() {
        #expect(throws: SodiumError.self) { try SecureRandomPool(byteCount: 0) }
    }
}
