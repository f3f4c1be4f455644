import CFileIO
import CZstd
import Foundation
import Sodium
import Synchronization

// The encrypt stage of a backup, as a pipeline: four threads, each with one job, so that
// both cores do crypto and nobody waits on I/O.
//
//   reader   pread()s the snapshot in 1 MiB blocks into a small ring (from the page cache)
//   hasher   BLAKE2b-256 of each block (the manifest's plaintext hash), in order
//   caller   (optionally compresses and) pushes 64 KiB chunks through secretstream into an
//            output block
//   writer   writes output blocks to the file, O_DIRECT where the file system allows it
//
// Pushing and hashing are the two costs (about 1 ns a byte each here), and each is
// sequential by construction, so one core each is the best two cores can do. Reads and
// writes stay off those two threads. O_DIRECT keeps a gigabyte of ciphertext out of the
// page cache: no copy into it, nothing left for the closing fsync to write back, and no
// page-cache growth (memory stays flat).

/// What ``BackupStreamEncoder/encode`` did.
struct BackupStreamResult {
    let plaintextHash: [UInt8]
    let chunks: Int
    /// Bytes of secretstream plaintext: the snapshot's size, or its compressed size.
    let streamBytes: Int64
}

enum BackupStreamEncoder {
    static let blockSize = SnapshotHash.leafSize

    /// Reads the first `bytes` of `source`, hashes them (``SnapshotHash``), compresses them
    /// when `compressionLevel` is set (one zstd frame), and pushes them through `push` in
    /// chunks of `BackupFile.chunkSize` (`u32 BE length, ciphertext`; the last one tagged
    /// final) into `out`. Every chunk authenticates `additionalData`.
    static func encode(
        source: String, bytes total: Int64, push: SecretStream.Push, additionalData: [UInt8], into out: StreamFileWriter,
        compressionLevel: Int32?, progress: ((Int64, Int64) -> Void)?
    ) throws -> BackupStreamResult {
        let fd = open(source, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PrivacyKitError(.io, "cannot read the snapshot \(source): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let pipeline = try PlaintextPipeline(fd: fd, path: source, total: total)
        defer { pipeline.shutDown() }
        let chunkSize = BackupFile.chunkSize
        let framed = 4 + chunkSize + SecretStream.additionalByteCount
        var chunks = 0
        var streamBytes: Int64 = 0

        func emit(_ message: UnsafeRawBufferPointer, final: Bool, ad: UnsafeRawBufferPointer) throws {
            let slot = try out.reserve(framed)
            let count = try push.push(message, into: UnsafeMutableRawBufferPointer(start: slot + 4, count: framed - 4),
                                      tag: final ? .final : .message, additionalData: ad)
            slot.storeBytes(of: UInt32(count).bigEndian, as: UInt32.self)
            out.commit(4 + count)
            chunks += 1
            streamBytes += Int64(message.count)
        }

        let compressor = try compressionLevel.map { try ZstdCompressor(level: $0, chunkSize: chunkSize) }
        try additionalData.withUnsafeBytes { ad in
            var done: Int64 = 0
            while let (block, count) = try pipeline.next() {
                let data = UnsafeRawBufferPointer(start: block, count: count)
                done += Int64(count)
                if let compressor {
                    try compressor.compress(data, end: done == total) { try emit($0, final: $1, ad: ad) }
                } else {
                    var at = 0
                    while at < count {
                        let n = min(chunkSize, count - at)
                        try emit(UnsafeRawBufferPointer(rebasing: data[at..<at + n]), final: done == total && at + n == count, ad: ad)
                        at += n
                    }
                }
                // Hashes the block here unless the hashing thread has it already: whichever
                // core is free takes the next leaf.
                try pipeline.release()
                progress?(done, total)
            }
        }
        return BackupStreamResult(plaintextHash: try pipeline.hash(), chunks: chunks, streamBytes: streamBytes)
    }
}

/// The reading and hashing threads and their ring of 1 MiB plaintext blocks (zeroed at the
/// end: the snapshot's plain columns are personal data too).
///
/// The reader fills blocks in order. Each block's leaf hash is taken by whichever of the
/// hashing thread and the caller (after encrypting the block) claims it first. The reader
/// reuses a block once both have let it go, and then folds its leaf into the root, so the
/// root sees leaves in order.
private final class PlaintextPipeline: @unchecked Sendable {
    // @unchecked: a block, its length and its leaf belong to the reader until `filled…` is
    // signalled, then to the caller and the hasher (the leaf to whichever claimed it, the
    // claim being behind a Mutex) until both `free…` are; failures are behind a Mutex.
    static let count = 6
    private let blocks = Blocks(count: PlaintextPipeline.count, size: BackupStreamEncoder.blockSize)
    private var lengths: UnsafeMutablePointer<Int> { blocks.lengths }
    private let leaves: UnsafeMutableRawPointer
    private let claimed = Mutex<[Bool]>(Array(repeating: false, count: PlaintextPipeline.count))
    private let freeForCaller = permits(PlaintextPipeline.count)
    private let freeForHasher = permits(PlaintextPipeline.count)
    private let filledForCaller = DispatchSemaphore(value: 0)
    private let filledForHasher = DispatchSemaphore(value: 0)
    private let readerDone = DispatchSemaphore(value: 0)
    private let hasherDone = DispatchSemaphore(value: 0)
    private let failure = Mutex<PrivacyKitError?>(nil)
    private let cancelled = Atomic<Bool>(false)
    private let hashResult = Mutex<[UInt8]?>(nil)
    private let root: SnapshotHash.Root
    private var index = 0
    private var holding = false
    private var finished = false

    init(fd: Int32, path: String, total: Int64) throws {
        root = try SnapshotHash.Root(size: total)
        leaves = .allocate(byteCount: 32 * Self.count, alignment: 64)
        Thread.detachNewThread { [self] in readBlocks(fd: fd, path: path, total: total) }
        Thread.detachNewThread { [self] in hashBlocks() }
    }

    private func record(_ error: PrivacyKitError) {
        failure.withLock { $0 = $0 ?? error }
    }

    /// The reading thread. Ends the ring with a zero-length block (after a failure too, with
    /// the error recorded), then waits for every block to be let go and finishes the root.
    private func readBlocks(fd: Int32, path: String, total: Int64) {
        var offset: Int64 = 0
        var block = 0
        func fold(_ block: Int) {
            do { try root.add(leaf: UnsafeRawBufferPointer(start: leaves + 32 * (block % Self.count), count: 32)) } catch {
                record(PrivacyKitError(.internal, "hashing the snapshot failed: \(error)"))
            }
        }
        while true {
            let i = block % Self.count
            freeForCaller.wait()
            freeForHasher.wait()
            if block >= Self.count { fold(block - Self.count) }
            var n = 0
            if offset < total && !cancelled.load(ordering: .relaxed) && failure.withLock({ $0 == nil }) {
                let want = Int(min(Int64(BackupStreamEncoder.blockSize), total - offset))
                while n < want {
                    let r = pread(fd, blocks[i] + n, want - n, off_t(offset) + off_t(n))
                    guard r > 0 else {
                        let reason = r == 0 ? "it ended at byte \(offset + Int64(n)), before its \(total) bytes" : String(cString: strerror(errno))
                        record(PrivacyKitError(.io, "cannot read the snapshot \(path): \(reason)"))
                        n = 0
                        break
                    }
                    n += r
                }
                offset += Int64(n)
            }
            lengths[i] = n
            claimed.withLock { $0[i] = false }
            filledForCaller.signal()
            filledForHasher.signal()
            if n == 0 { break }
            block += 1
        }
        // `block` is the end marker's number: wait until both have let go of every block
        // (the end marker included), folding the leaves not folded yet.
        for _ in 0..<Self.count {
            freeForCaller.wait()
            freeForHasher.wait()
        }
        for leaf in max(0, block - Self.count + 1)..<block { fold(leaf) }
        if offset == total, failure.withLock({ $0 == nil }) {
            hashResult.withLock { $0 = try? root.finalize() }
        }
        readerDone.signal()
    }

    /// Takes the block's leaf unless the other side has; false when it was taken.
    private func claim(_ i: Int) -> Bool {
        claimed.withLock { flags in
            if flags[i] { return false }
            flags[i] = true
            return true
        }
    }

    private func hashLeaf(_ i: Int) {
        do { try SnapshotHash.leaf(UnsafeRawBufferPointer(start: blocks[i], count: lengths[i]), into: leaves + 32 * i) } catch {
            record(PrivacyKitError(.internal, "hashing the snapshot failed: \(error)"))
        }
    }

    /// The hashing thread: every block in order, unless the caller took it first.
    private func hashBlocks() {
        var i = 0
        while true {
            filledForHasher.wait()
            let n = lengths[i]
            if n > 0 && claim(i) { hashLeaf(i) }
            freeForHasher.signal()
            if n == 0 { break }
            i = (i + 1) % Self.count
        }
        hasherDone.signal()
    }

    /// The next block and its length, nil at the end; throws what the reader met.
    func next() throws -> (UnsafeMutableRawPointer, Int)? {
        filledForCaller.wait()
        let n = lengths[index]
        if n == 0 {
            finished = true
            freeForCaller.signal()
            if let error = failure.withLock({ $0 }) { throw error }
            return nil
        }
        holding = true
        return (blocks[index], n)
    }

    /// The caller is done with the block `next()` gave: hashes it if nobody has, lets it go.
    func release() throws {
        if claim(index) { hashLeaf(index) }
        holding = false
        freeForCaller.signal()
        index = (index + 1) % Self.count
        if let error = failure.withLock({ $0 }) { throw error }
    }

    func hash() throws -> [UInt8] {
        readerDone.wait()
        readerDone.signal()  // for shutDown's wait
        if let error = failure.withLock({ $0 }) { throw error }
        guard let hash = hashResult.withLock({ $0 }) else { throw PrivacyKitError(.internal, "the snapshot's hash is missing") }
        return hash
    }

    /// Ends both threads (after a failure of the caller's, the reader stops at once).
    func shutDown() {
        if !finished {
            cancelled.store(true, ordering: .relaxed)
            if holding {
                holding = false
                freeForCaller.signal()
                index = (index + 1) % Self.count
            }
            // Let go of every block up to the reader's end marker.
            while true {
                filledForCaller.wait()
                let n = lengths[index]
                freeForCaller.signal()
                if n == 0 { break }
                index = (index + 1) % Self.count
            }
            finished = true
        }
        readerDone.wait()
        hasherDone.wait()
    }

    deinit { leaves.deallocate() }
}
