import Foundation
@testable import PrivacyKit
import Sodium
import Testing

/// The backup's I/O pipeline on its own: the writing thread (O_DIRECT, aligned handovers),
/// the prefetching reader, and the encoder's reader/hasher threads, with files far larger
/// than one block so every handover and the unaligned ends are exercised.
@Suite("Backup streams")
struct BackupStreamTests {
    /// Deterministic bytes (a seeded xorshift), so a mismatch is reproducible.
    static func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var x = seed | 1
        return (0..<count).map { _ in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x)
        }
    }

    /// Both paths: O_DIRECT with aligned handovers, and through the page cache (write-back
    /// started every 8 MiB) as on a file system without O_DIRECT.
    @Test(arguments: [(8192, 100, true), (2 << 20, 65_557, true), (8192, 100, false), (2 << 20, 65_557, false)])
    func theWriterWritesExactlyWhatItWasGivenAcrossBlocks(blockSize: Int, largestReserve: Int, direct: Bool) throws {
        let dir = try TempDirectory()
        let path = dir.file("out.bin")
        let data = Self.pattern(9_000_123, seed: UInt64(blockSize))
        let out = try StreamFileWriter(path: path, blockSize: blockSize, largestReserve: largestReserve, tryDirect: direct)
        var at = 0
        var step = 0
        // Alternate the two ways in: appends of odd sizes, and reserve/commit of less than asked.
        while at < data.count {
            step += 1
            if step % 2 == 0 {
                let n = min(data.count - at, (step * 7919) % (3 * blockSize) + 1)
                try data.withUnsafeBytes { try out.append(UnsafeRawBufferPointer(rebasing: $0[at..<at + n])) }
                at += n
            } else {
                let n = min(data.count - at, (step * 104_729) % largestReserve + 1)
                let slot = try out.reserve(largestReserve)
                data.withUnsafeBytes { slot.copyMemory(from: $0.baseAddress! + at, byteCount: n) }
                out.commit(n)
                at += n
            }
        }
        try out.finish()
        #expect(out.written == Int64(data.count))
        let same = try readBytes(path) == data  // a Bool: megabytes are no failure message
        #expect(same)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aWriterDroppedUnfinishedStopsItsThread() throws {
        let dir = try TempDirectory()
        do {
            let out = try StreamFileWriter(path: dir.file("dropped.bin"), blockSize: 8192, largestReserve: 100)
            try out.append(Self.pattern(100_000, seed: 3))
        }
        // Reaching here at all means deinit did not wait forever on the writing thread.
        #expect(FileManager.default.fileExists(atPath: dir.file("dropped.bin")))
        #expect(throws: PrivacyKitError.self) { try StreamFileWriter(path: dir.file("dropped.bin"), largestReserve: 100) }
    }

    @Test(arguments: [0, 1, 4095, 4096, 2 << 20, (2 << 20) + 1, 13_000_007], [true, false])
    func thePrefetcherReadsEveryByteInOrder(size: Int, direct: Bool) throws {
        let dir = try TempDirectory()
        let data = Self.pattern(size, seed: UInt64(size) + 11)
        try writeFile(dir.file("in.bin"), data)
        let reader = try FilePrefetcher(path: dir.file("in.bin"), tryDirect: direct)
        var got: [UInt8] = []
        while let block = try reader.next() { got += block }
        let same = got == data
        #expect(same, "\(got.count) bytes read of \(data.count)")
        #expect(try reader.next() == nil)
    }

    @Test func aPrefetcherDroppedEarlyStopsItsThread() throws {
        let dir = try TempDirectory()
        try writeFile(dir.file("in.bin"), Self.pattern(30 << 20, seed: 5))
        for _ in 0..<3 {
            let reader = try FilePrefetcher(path: dir.file("in.bin"), blocks: 2)
            _ = try reader.next()
        }
        #expect(Bool(true), "returned: the prefetchers were released without a hang")
    }

    /// The encoder's output, decrypted chunk by chunk with the bare secretstream API: the
    /// snapshot comes back whole, its hash is the one reported, every chunk but the last is
    /// full and only the last is final.
    @Test(arguments: [nil, Int32(1)] as [Int32?])
    func theEncoderStreamsHashesAndFramesASnapshotOfManyBlocks(compression: Int32?) throws {
        let dir = try TempDirectory()
        // Half random, half runs: compressible enough that zstd changes the chunking.
        var data = Self.pattern(3_000_000, seed: 42)
        data += [UInt8](repeating: 7, count: 3_500_000) + Self.pattern(777, seed: 9)
        try writeFile(dir.file("snapshot"), data)
        let key = try SecureBytes.random(count: SecretStream.keyByteCount)
        let push = try SecretStream.Push(key: key)
        let ad = Array("header hash".utf8)
        let out = try StreamFileWriter(path: dir.file("stream"), largestReserve: 4 + BackupFile.chunkSize + SecretStream.additionalByteCount)
        try out.append(push.header)
        var seen: [Int64] = []
        let result = try BackupStreamEncoder.encode(source: dir.file("snapshot"), bytes: Int64(data.count), push: push, additionalData: ad, into: out,
                                                    compressionLevel: compression) { done, _ in seen.append(done) }
        try out.finish()
        #expect(result.plaintextHash == (try Self.referenceHash(data)))
        #expect(seen.last == Int64(data.count) && seen == seen.sorted())

        let bytes = try readBytes(dir.file("stream"))
        let pull = try SecretStream.Pull(key: key, header: Array(bytes[0..<SecretStream.headerByteCount]))
        var at = SecretStream.headerByteCount
        var stream: [UInt8] = []
        var chunks = 0
        while at < bytes.count {
            let n = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            let (message, tag) = try pull.pull(Array(bytes[at + 4..<at + 4 + n]), additionalData: ad)
            at += 4 + n
            chunks += 1
            #expect((tag == .final) == (at == bytes.count))
            #expect(message.count == BackupFile.chunkSize || at == bytes.count)
            stream += message
        }
        #expect(pull.isFinished && chunks == result.chunks && Int64(stream.count) == result.streamBytes)
        if compression == nil {
            let same = stream == data
            #expect(same)
        } else {
            #expect(stream.count < data.count / 2)
            let decompressor = try ZstdDecompressor()
            var restored: [UInt8] = []
            try stream.withUnsafeBytes { try decompressor.feed($0) { restored += $0 } }
            try decompressor.finish()
            let same = restored == data
            #expect(same)
        }
    }

    /// The snapshot hash as docs/formats.md defines it, written out with one-shot BLAKE2b.
    static func referenceHash(_ data: [UInt8]) throws -> [UInt8] {
        var leaves: [UInt8] = []
        var at = 0
        while at < data.count {
            let end = min(at + (1 << 20), data.count)
            leaves += try BLAKE2b.hash([0x00] + data[at..<end])
            at = end
        }
        let size = UInt64(data.count)
        let sizeBytes: [UInt8] = (0..<8).reversed().map { UInt8(truncatingIfNeeded: size >> (8 * UInt64($0))) }
        return try BLAKE2b.hash([0x01] + Array("privacykit.backup.snapshot-hash.v1".utf8) + sizeBytes + leaves)
    }

    @Test(arguments: [1, 1 << 20, (1 << 20) + 1, 3_333_333])
    func theStreamingSnapshotHashMatchesTheDefinitionWhateverThePieces(size: Int) throws {
        let data = Self.pattern(size, seed: UInt64(size))
        let hasher = SnapshotHash.Streaming()
        var at = 0
        var piece = 1
        while at < data.count {
            let n = min(piece, data.count - at)
            try data.withUnsafeBytes { try hasher.update(UnsafeRawBufferPointer(rebasing: $0[at..<at + n])) }
            at += n
            piece = piece * 3 + 7
        }
        let expected = try Self.referenceHash(data)
        #expect(try hasher.finalize() == expected)
        // One byte more, or one byte changed, is another hash.
        #expect(try Self.referenceHash(data + [0]) != expected)
        var changed = data
        changed[size / 2] ^= 1
        #expect(try Self.referenceHash(changed) != expected)
    }

    /// The Python sample in docs/formats.md ("Snapshot hash"), run as written on a snapshot of
    /// several leaves: what the documentation tells a user to run gives the library's hash.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")))
    func theDocumentedPythonSampleComputesTheSameSnapshotHash() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/formats.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let section = try #require(text.range(of: "### Snapshot hash"))
        let start = try #require(text.range(of: "```python\n", range: section.upperBound..<text.endIndex))
        let end = try #require(text.range(of: "```", range: start.upperBound..<text.endIndex))
        let dir = try TempDirectory()
        try Data(text[start.upperBound..<end.lowerBound].utf8).write(to: URL(fileURLWithPath: dir.file("hash.py")))
        let data = Self.pattern(2_600_001, seed: 77)
        try writeFile(dir.file("snapshot"), data)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [dir.file("hash.py"), dir.file("snapshot")]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let hasher = SnapshotHash.Streaming()
        try data.withUnsafeBytes { try hasher.update($0) }
        #expect(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == Hex.encode(try hasher.finalize()))
    }

    @Test func aSnapshotShorterThanPromisedFailsTheEncoderWithTheReason() throws {
        let dir = try TempDirectory()
        try writeFile(dir.file("snapshot"), Self.pattern(2_500_000, seed: 1))
        let push = try SecretStream.Push(key: try SecureBytes.random(count: SecretStream.keyByteCount))
        let out = try StreamFileWriter(path: dir.file("stream"), largestReserve: 4 + BackupFile.chunkSize + SecretStream.additionalByteCount)
        let error = #expect(throws: PrivacyKitError.self) {
            _ = try BackupStreamEncoder.encode(source: dir.file("snapshot"), bytes: 6_000_000, push: push, additionalData: [], into: out,
                                               compressionLevel: nil, progress: nil)
        }
        #expect(error?.message.contains("ended at byte 2500000") == true)
    }

    @Test func aDamagedCompressedStreamIsReportedNotCrashed() throws {
        let data = Self.pattern(200_000, seed: 2) + [UInt8](repeating: 0, count: 200_000)
        let compressor = try ZstdCompressor(level: 1, chunkSize: BackupFile.chunkSize)
        var stream: [UInt8] = []
        try data.withUnsafeBytes { try compressor.compress($0, end: true) { piece, _ in stream += piece } }
        var damaged = stream
        damaged[damaged.count / 2] ^= 0xff
        for (name, bytes) in [("altered", damaged), ("cut", Array(stream.prefix(stream.count - 10)))] {
            let decompressor = try ZstdDecompressor()
            #expect(throws: PrivacyKitError.self, "\(name)") {
                try bytes.withUnsafeBytes { try decompressor.feed($0) { _ in } }
                try decompressor.finish()
            }
        }
    }
}
