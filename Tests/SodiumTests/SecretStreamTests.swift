import Sodium
import Testing

/// A complete stream: header plus chunks, the last one tagged `.final`.
private struct Stream {
    let key: SecureBytes
    let header: [UInt8]
    let messages: [[UInt8]]
    let tags: [SecretStream.Tag]
    let chunks: [[UInt8]]

    init(
        messages: [[UInt8]] = [Array("first".utf8), Array("second chunk".utf8), [], Array("third".utf8), Array("the end".utf8)],
        tags: [SecretStream.Tag]? = nil, additionalData: [UInt8] = []
    ) throws {
        let tags = tags ?? Array(repeating: .message, count: messages.count - 1) + [.final]
        let key = try SecureBytes.random(count: SecretStream.keyByteCount)
        let push = try SecretStream.Push(key: key)
        var chunks: [[UInt8]] = []
        for (message, tag) in zip(messages, tags) {
            chunks.append(try push.push(message, tag: tag, additionalData: additionalData))
        }
        self.key = key
        self.header = push.header
        self.messages = messages
        self.tags = tags
        self.chunks = chunks
    }

    func reader() throws -> SecretStream.Pull {
        try SecretStream.Pull(key: key, header: header)
    }
}

@Suite("SecretStream")
struct SecretStreamTests {
    /// The buffer forms produce and accept exactly what the array forms do.
    @Test func bufferFormsInteroperateWithArrayForms() throws {
        let key = try SecureBytes.random(count: SecretStream.keyByteCount)
        let ad: [UInt8] = [1, 2, 3]
        let messages: [[UInt8]] = [Array(repeating: 7, count: 1000), [], Array(0..<200).map(UInt8.init)]
        let push = try SecretStream.Push(key: key)
        var chunks: [[UInt8]] = []
        var out = [UInt8](repeating: 0, count: 1000 + SecretStream.additionalByteCount)
        for (i, m) in messages.enumerated() {
            let n = try m.withUnsafeBytes { mb in
                try out.withUnsafeMutableBytes { ob in
                    try ad.withUnsafeBytes { try push.push(mb, into: ob, tag: i == messages.count - 1 ? .final : .message, additionalData: $0) }
                }
            }
            #expect(n == m.count + SecretStream.additionalByteCount)
            chunks.append(Array(out[..<n]))
        }
        let pull = try SecretStream.Pull(key: key, header: push.header)
        for (i, c) in chunks.enumerated() { #expect(try pull.pull(c, additionalData: ad).message == messages[i]) }
        try pull.finish()
        // And back: array-form chunks through the buffer-form pull; a flipped byte fails.
        let pull2 = try SecretStream.Pull(key: key, header: push.header)
        var plain = [UInt8](repeating: 0, count: 1000)
        for (i, c) in chunks.enumerated() {
            let (n, tag) = try c.withUnsafeBytes { cb in try plain.withUnsafeMutableBytes { pb in try ad.withUnsafeBytes { try pull2.pull(cb, into: pb, additionalData: $0) } } }
            #expect(Array(plain[..<n]) == messages[i] && (tag == .final) == (i == 2))
        }
        var bad = chunks[0]
        bad[5] ^= 1
        let pull3 = try SecretStream.Pull(key: key, header: push.header)
        #expect(throws: SodiumError.self) {
            try bad.withUnsafeBytes { cb in try plain.withUnsafeMutableBytes { pb in try ad.withUnsafeBytes { try pull3.pull(cb, into: pb, additionalData: $0) } } }
        }
        #expect(throws: SodiumError.self) {
            try messages[0].withUnsafeBytes { mb in try plain.withUnsafeMutableBytes { ob in try push.push(mb, into: ob, additionalData: UnsafeRawBufferPointer(start: nil, count: 0)) } }
        }
    }

    @Test func sizes() {
        #expect(SecretStream.keyByteCount == 32)
        #expect(SecretStream.headerByteCount == 24)
        #expect(SecretStream.additionalByteCount == 17)
    }

    // MARK: Round trips

    @Test func multiChunkRoundTripWithTags() throws {
        let stream = try Stream(
            messages: [Array("a".utf8), Array("bb".utf8), [], Array(repeating: 0x42, count: 1000), Array("fin".utf8)],
            tags: [.message, .push, .message, .rekey, .final])
        #expect(stream.header.count == SecretStream.headerByteCount)
        for (chunk, message) in zip(stream.chunks, stream.messages) {
            #expect(chunk.count == message.count + SecretStream.additionalByteCount)
        }

        let pull = try stream.reader()
        #expect(!pull.isFinished)
        for (index, chunk) in stream.chunks.enumerated() {
            #expect(pull.chunkIndex == index)
            let (message, tag) = try pull.pull(chunk)
            #expect(message == stream.messages[index])
            #expect(tag == stream.tags[index])
        }
        #expect(pull.isFinished)
        #expect(pull.chunkIndex == stream.chunks.count)
        try pull.finish()
    }

    @Test func singleFinalChunkRoundTrip() throws {
        let stream = try Stream(messages: [Array("only".utf8)])
        let pull = try stream.reader()
        let (message, tag) = try pull.pull(stream.chunks[0])
        #expect(message == Array("only".utf8))
        #expect(tag == .final)
        try pull.finish()
    }

    @Test func emptyFinalChunkRoundTrip() throws {
        let stream = try Stream(messages: [[]])
        #expect(stream.chunks[0].count == SecretStream.additionalByteCount)
        let pull = try stream.reader()
        let (message, tag) = try pull.pull(stream.chunks[0])
        #expect(message.isEmpty)
        #expect(tag == .final)
        try pull.finish()
    }

    @Test func additionalDataRoundTrip() throws {
        let ad = Array("file-id:7".utf8)
        let stream = try Stream(additionalData: ad)
        let pull = try stream.reader()
        for (index, chunk) in stream.chunks.enumerated() {
            #expect(try pull.pull(chunk, additionalData: ad).message == stream.messages[index])
        }
        try pull.finish()
    }

    @Test func pushMarksFinishedOnlyAfterFinal() throws {
        let push = try SecretStream.Push(key: SecureBytes.random(count: 32))
        #expect(!push.isFinished)
        _ = try push.push(Array("x".utf8))
        _ = try push.push(Array("y".utf8), tag: .push)
        _ = try push.push(Array("z".utf8), tag: .rekey)
        #expect(!push.isFinished)
        _ = try push.push([], tag: .final)
        #expect(push.isFinished)
    }

    @Test func sameInputTwiceGivesDifferentHeadersAndChunks() throws {
        let key = try SecureBytes.random(count: 32)
        let a = try SecretStream.Push(key: key)
        let b = try SecretStream.Push(key: key)
        #expect(a.header != b.header)
        #expect(try a.push(Array("same".utf8), tag: .final) != b.push(Array("same".utf8), tag: .final))
    }

    // MARK: Misuse and tampering

    @Test(arguments: [0, 23, 25, 32])
    func headerOfWrongLengthIsInvalidLength(count: Int) throws {
        let error = #expect(throws: SodiumError.self) {
            try SecretStream.Pull(key: SecureBytes.random(count: 32), header: [UInt8](repeating: 0, count: count))
        }
        #expect(error?.code == .invalidLength)
    }

    @Test(arguments: [16, 31, 33])
    func keyOfWrongLengthIsInvalidLength(count: Int) throws {
        let key = try SecureBytes.random(count: count)
        let pushError = #expect(throws: SodiumError.self) { try SecretStream.Push(key: key) }
        #expect(pushError?.code == .invalidLength)
        let pullError = #expect(throws: SodiumError.self) {
            try SecretStream.Pull(key: key, header: [UInt8](repeating: 0, count: SecretStream.headerByteCount))
        }
        #expect(pullError?.code == .invalidLength)
    }

    @Test func wrongKeyFailsOnFirstChunk() throws {
        let stream = try Stream()
        let pull = try SecretStream.Pull(key: SecureBytes.random(count: 32), header: stream.header)
        let error = #expect(throws: SodiumError.self) { try pull.pull(stream.chunks[0]) }
        #expect(error?.code == .authenticationFailed)
        #expect(pull.chunkIndex == 0)
        #expect(!pull.isFinished)
    }

    @Test func alteredHeaderFailsOnFirstChunk() throws {
        let stream = try Stream()
        var header = stream.header
        header[3] ^= 0x10
        let pull = try SecretStream.Pull(key: stream.key, header: header)
        let error = #expect(throws: SodiumError.self) { try pull.pull(stream.chunks[0]) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test(arguments: [0, 1, 3, 4])
    func flippedBitInChunkFails(chunkIndex: Int) throws {
        let stream = try Stream()
        let pull = try stream.reader()
        for chunk in stream.chunks[..<chunkIndex] {
            _ = try pull.pull(chunk)
        }
        for position in [0, stream.chunks[chunkIndex].count / 2, stream.chunks[chunkIndex].count - 1] {
            var tampered = stream.chunks[chunkIndex]
            tampered[position] ^= 0x04
            let error = #expect(throws: SodiumError.self) { try pull.pull(tampered) }
            #expect(error?.code == .authenticationFailed)
            #expect(pull.chunkIndex == chunkIndex)
        }
    }

    @Test func reorderedChunksFail() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        let error = #expect(throws: SodiumError.self) { try pull.pull(stream.chunks[1]) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test func swappedMiddleChunksFail() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        _ = try pull.pull(stream.chunks[0])
        let error = #expect(throws: SodiumError.self) { try pull.pull(stream.chunks[2]) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test func droppedMiddleChunkFails() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        _ = try pull.pull(stream.chunks[0])
        _ = try pull.pull(stream.chunks[1])
        // chunk 2 never arrives
        let error = #expect(throws: SodiumError.self) { try pull.pull(stream.chunks[3]) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test func replayedChunkFails() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        _ = try pull.pull(stream.chunks[0])
        let error = #expect(throws: SodiumError.self) { try pull.pull(stream.chunks[0]) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test func chunkFromAnotherStreamUnderTheSameKeyFails() throws {
        let key = try SecureBytes.random(count: 32)
        let a = try SecretStream.Push(key: key)
        let b = try SecretStream.Push(key: key)
        let foreign = try b.push(Array("hello".utf8), tag: .final)
        let pull = try SecretStream.Pull(key: key, header: a.header)
        let error = #expect(throws: SodiumError.self) { try pull.pull(foreign) }
        #expect(error?.code == .authenticationFailed)
    }

    @Test func streamCutShortIsTruncated() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        for chunk in stream.chunks.dropLast() {
            let (_, tag) = try pull.pull(chunk)
            #expect(tag != .final)
        }
        #expect(!pull.isFinished)
        let error = #expect(throws: SodiumError.self) { try pull.finish() }
        #expect(error?.code == .streamTruncated)
    }

    @Test func emptyInputIsTruncated() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        let error = #expect(throws: SodiumError.self) { try pull.finish() }
        #expect(error?.code == .streamTruncated)
    }

    @Test func finishAfterFinalSucceedsAndIsRepeatable() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        for chunk in stream.chunks { _ = try pull.pull(chunk) }
        try pull.finish()
        try pull.finish()
    }

    @Test func pullAfterFinalIsStreamFinished() throws {
        let stream = try Stream()
        let pull = try stream.reader()
        for chunk in stream.chunks { _ = try pull.pull(chunk) }
        #expect(pull.isFinished)
        let again = #expect(throws: SodiumError.self) { try pull.pull(stream.chunks.last!) }
        #expect(again?.code == .streamFinished)
        let garbage = #expect(throws: SodiumError.self) { try pull.pull([UInt8](repeating: 0, count: 40)) }
        #expect(garbage?.code == .streamFinished)
    }

    @Test func pushAfterFinalIsStreamFinished() throws {
        let push = try SecretStream.Push(key: SecureBytes.random(count: 32))
        _ = try push.push(Array("last".utf8), tag: .final)
        let error = #expect(throws: SodiumError.self) { try push.push(Array("more".utf8)) }
        #expect(error?.code == .streamFinished)
        let finalAgain = #expect(throws: SodiumError.self) { try push.push([], tag: .final) }
        #expect(finalAgain?.code == .streamFinished)
    }

    @Test(arguments: [0, 1, 16])
    func chunkShorterThanOverheadIsInvalidLength(count: Int) throws {
        let stream = try Stream()
        let pull = try stream.reader()
        let error = #expect(throws: SodiumError.self) { try pull.pull([UInt8](repeating: 0, count: count)) }
        #expect(error?.code == .invalidLength)
    }

    @Test func additionalDataMismatchFails() throws {
        let stream = try Stream(additionalData: Array("v1".utf8))
        let wrong = try stream.reader()
        let mismatch = #expect(throws: SodiumError.self) { try wrong.pull(stream.chunks[0], additionalData: Array("v2".utf8)) }
        #expect(mismatch?.code == .authenticationFailed)
        let missing = #expect(throws: SodiumError.self) { try stream.reader().pull(stream.chunks[0]) }
        #expect(missing?.code == .authenticationFailed)

        let plain = try Stream()
        let extra = #expect(throws: SodiumError.self) {
            try plain.reader().pull(plain.chunks[0], additionalData: [0])
        }
        #expect(extra?.code == .authenticationFailed)
    }
}
