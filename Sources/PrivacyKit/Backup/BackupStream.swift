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

/// A semaphore holding `permits` at the start. Made at zero and signalled: libdispatch traps
/// when a semaphore is released holding fewer permits than it was created with, which a
/// pipeline stopped midway does.
func permits(_ permits: Int) -> DispatchSemaphore {
    let semaphore = DispatchSemaphore(value: 0)
    for _ in 0..<permits { semaphore.signal() }
    return semaphore
}

/// Page-aligned blocks of one size, each with a length, zeroed when released (they hold
/// snapshot or backup bytes). Who may touch which block is the owner's business.
final class Blocks {
    let pointers: [UnsafeMutableRawPointer]
    let size: Int
    let lengths: UnsafeMutablePointer<Int>

    init(count: Int, size: Int) {
        self.size = size
        pointers = (0..<count).map { _ in UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 4096) }
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
    }

    var count: Int { pointers.count }
    subscript(i: Int) -> UnsafeMutableRawPointer { pointers[i] }

    deinit {
        for block in pointers {
            memset(block, 0, size)
            block.deallocate()
        }
        lengths.deallocate()
    }
}

/// A ring of aligned blocks shared by a producer and a consumer thread over one file: each
/// block and its length belong to one side at a time, handed over by `filled` and `free`.
class BlockRing: @unchecked Sendable {
    // @unchecked: the blocks and lengths are touched by one side at a time (the semaphores
    // hand them over); the failure is behind a Mutex; the rest is immutable.
    let fd: Int32
    let path: String
    let blocks: Blocks
    var lengths: UnsafeMutablePointer<Int> { blocks.lengths }
    let free: DispatchSemaphore
    let filled = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
    let failure = Mutex<PrivacyKitError?>(nil)

    init(fd: Int32, path: String, blocks count: Int, blockSize: Int, freeBlocks: Int) {
        self.fd = fd
        self.path = path
        blocks = Blocks(count: count, size: blockSize)
        free = permits(freeBlocks)
    }

    deinit { close(fd) }

    func fail(_ message: String) {
        let reason = String(cString: strerror(errno))
        failure.withLock { $0 = $0 ?? PrivacyKitError(.io, "\(message) \(path): \(reason)") }
    }

    /// Opens `path` with O_DIRECT, or without it where the file system refuses it (tmpfs
    /// and some FUSE file systems): the descriptor and whether it is direct.
    static func open(_ path: String, flags: Int32, mode: mode_t = 0, tryDirect: Bool = true) -> (fd: Int32, direct: Bool) {
        let direct = pk_o_direct()
        if direct != 0 && tryDirect {
            let fd = Foundation.open(path, flags | O_CLOEXEC | direct, mode)
            if fd >= 0 || errno != EINVAL { return (fd, true) }
        }
        return (Foundation.open(path, flags | O_CLOEXEC, mode), false)
    }

    /// Turns O_DIRECT off for the rest of the file (a file system that took the flag at open
    /// and refuses it now, or an unaligned end).
    func dropDirect() {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~pk_o_direct())
    }
}

/// Sequential writes to a new file (mode 0600) through a writing thread.
///
/// The producer fills blocks through ``reserve(_:)``/``commit(_:)`` or ``append(_:)``; a
/// full block is handed to the writing thread, which writes its 4 KiB-aligned part (O_DIRECT
/// needs aligned sizes and offsets) while the unaligned tail moves to the next block.
/// ``finish()`` writes what is left with O_DIRECT turned off and syncs the file. A writer
/// dropped unfinished stops its thread; the caller removes the file.
final class StreamFileWriter {
    static let alignment = 4096
    let path: String
    private let shared: Shared
    private let direct: Bool
    private let capacity: Int
    private var current = 0
    private var fill = 0
    private var stopped = false
    /// Bytes accepted so far (the file's size once finished).
    private(set) var written: Int64 = 0

    /// The blocks and the writing thread.
    private final class Shared: BlockRing, @unchecked Sendable {
        /// The writing thread: blocks in ring order until a negative length.
        func run(direct startsDirect: Bool) {
            var index = 0
            var syncedTo: Int64 = 0, flushed: Int64 = 0
            var direct = startsDirect
            while true {
                filled.wait()
                let n = lengths[index]
                if n < 0 { break }
                if failure.withLock({ $0 == nil }) {
                    var at = 0
                    while at < n {
                        let w = Foundation.write(fd, blocks[index] + at, n - at)
                        if w < 0 && errno == EINVAL && direct {
                            dropDirect()
                            direct = false
                            continue
                        }
                        guard w > 0 else {
                            fail("cannot write")
                            break
                        }
                        at += w
                    }
                    flushed += Int64(n)
                    if !direct && flushed - syncedTo >= 8 << 20 {
                        // Through the page cache: start write-back now, so the closing fsync
                        // finds little left to do.
                        _ = pk_start_writeback(fd, syncedTo, flushed - syncedTo)
                        syncedTo = flushed
                    }
                }
                free.signal()
                index = (index + 1) % blocks.count
            }
            done.signal()
        }
    }

    /// - Parameters:
    ///   - blockSize: how much the writing thread writes at once (O_DIRECT writes wait for the
    ///     disk, so larger is faster).
    ///   - largestReserve: the most one ``reserve(_:)`` asks for.
    ///   - tryDirect: false to write through the page cache (what a file system without
    ///     O_DIRECT gets; tests use it to exercise that path).
    init(path: String, blockSize: Int = 2 << 20, largestReserve: Int, blocks: Int = 4, tryDirect: Bool = true) throws {
        self.path = path
        let (fd, direct) = BlockRing.open(path, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o600, tryDirect: tryDirect)
        guard fd >= 0 else { throw PrivacyKitError(.io, "cannot create \(path): \(String(cString: strerror(errno)))") }
        self.direct = direct
        // Room for a reserve after a handover left an unaligned tail behind.
        capacity = (max(blockSize, largestReserve) + 2 * Self.alignment - 1) / Self.alignment * Self.alignment
        shared = Shared(fd: fd, path: path, blocks: blocks, blockSize: capacity, freeBlocks: blocks - 1)  // the producer holds block 0
        Thread.detachNewThread { [shared, direct] in shared.run(direct: direct) }
    }

    deinit {
        if !stopped { stop() }
    }

    private func check() throws {
        if let error = shared.failure.withLock({ $0 }) { throw error }
    }

    /// Hands the current block's aligned part to the writer; its tail opens the next block.
    private func handOver() throws {
        let aligned = direct ? fill / Self.alignment * Self.alignment : fill
        shared.free.wait()
        let next = (current + 1) % shared.blocks.count
        if aligned < fill { shared.blocks[next].copyMemory(from: shared.blocks[current] + aligned, byteCount: fill - aligned) }
        shared.lengths[current] = aligned
        shared.filled.signal()
        fill -= aligned
        current = next
        try check()
    }

    /// Room for at least `count` bytes (at most `largestReserve`) at the end of the data.
    func reserve(_ count: Int) throws -> UnsafeMutableRawPointer {
        if capacity - fill < count { try handOver() }
        return shared.blocks[current] + fill
    }

    func commit(_ count: Int) {
        fill += count
        written += Int64(count)
    }

    func append(_ bytes: UnsafeRawBufferPointer) throws {
        var at = 0
        while at < bytes.count {
            if fill == capacity { try handOver() }
            let n = min(capacity - fill, bytes.count - at)
            (shared.blocks[current] + fill).copyMemory(from: bytes.baseAddress! + at, byteCount: n)
            fill += n
            at += n
        }
        written += Int64(bytes.count)
    }

    func append(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try append($0) } }

    /// Stops the writing thread after what it was given. The sentinel goes in the current
    /// block, the one the writer reads next; its data stays for `finish` to write.
    private func stop() {
        stopped = true
        shared.lengths[current] = -1
        shared.filled.signal()
        shared.done.wait()
    }

    /// Writes everything, the unaligned end through the page cache, and syncs the file.
    func finish() throws {
        if direct && fill >= Self.alignment { try handOver() }
        stop()
        try check()
        let fd = shared.fd
        if direct { shared.dropDirect() }
        var at = 0
        while at < fill {
            let n = Foundation.write(fd, shared.blocks[current] + at, fill - at)
            guard n > 0 else { throw PrivacyKitError(.io, "cannot write \(path): \(String(cString: strerror(errno)))") }
            at += n
        }
        guard fsync(fd) == 0 else { throw PrivacyKitError(.io, "cannot sync \(path): \(String(cString: strerror(errno)))") }
    }
}

/// The snapshot's hash in a backup's manifest: BLAKE2b-256 over the BLAKE2b-256 of each
/// 1 MiB leaf, so that two cores can hash one snapshot (BLAKE2b itself is sequential, and at
/// about 0.8 GB/s here it would bound a backup by itself).
///
///     leaf_i = BLAKE2b-256(0x00 ‖ bytes [i MiB, (i+1) MiB) of the snapshot)
///     hash   = BLAKE2b-256(0x01 ‖ "privacykit.backup.snapshot-hash.v1" ‖ u64 BE size ‖ leaf_0 ‖ … ‖ leaf_n−1)
///
/// The prefixes keep leaves and root apart; the size and the fixed leaf length make the leaf
/// list determine the snapshot. docs/formats.md shows it computed with Python's hashlib.
enum SnapshotHash {
    static let leafSize = 1 << 20
    static let label = Array("privacykit.backup.snapshot-hash.v1".utf8)

    /// The hash of one leaf (at most `leafSize` bytes), into `output` (32 bytes).
    static func leaf(_ bytes: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) throws {
        let hasher = try BLAKE2b.Hasher()
        try hasher.update([0x00])
        try hasher.update(bytes: bytes)
        let digest = try hasher.finalize()
        digest.withUnsafeBytes { output.copyMemory(from: $0.baseAddress!, byteCount: 32) }
    }

    /// Folds leaves, in order, into the root.
    final class Root {
        private let hasher: BLAKE2b.Hasher
        init(size: Int64) throws {
            hasher = try BLAKE2b.Hasher()
            try hasher.update([0x01] + label + (0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(size) >> (8 * UInt64($0))) })
        }
        func add(leaf: UnsafeRawBufferPointer) throws { try hasher.update(bytes: leaf) }
        func finalize() throws -> [UInt8] { try hasher.finalize() }
    }

    /// The same hash of a snapshot that arrives in pieces of any size (restore's check).
    final class Streaming {
        private var leaves: [UInt8] = []
        private var current = try? BLAKE2b.Hasher()
        private var inLeaf = 0
        private(set) var size: Int64 = 0

        func update(_ bytes: UnsafeRawBufferPointer) throws {
            var at = 0
            while at < bytes.count {
                if inLeaf == 0 {
                    current = try BLAKE2b.Hasher()
                    try current?.update([0x00])
                }
                let n = min(SnapshotHash.leafSize - inLeaf, bytes.count - at)
                try current?.update(bytes: UnsafeRawBufferPointer(rebasing: bytes[at..<at + n]))
                inLeaf += n
                at += n
                if inLeaf == SnapshotHash.leafSize { try closeLeaf() }
            }
            size += Int64(bytes.count)
        }

        private func closeLeaf() throws {
            guard let current else { throw PrivacyKitError(.internal, "BLAKE2b is unavailable") }
            leaves += try current.finalize()
            inLeaf = 0
        }

        func finalize() throws -> [UInt8] {
            if inLeaf > 0 { try closeLeaf() }
            let root = try Root(size: size)
            try leaves.withUnsafeBytes { try root.add(leaf: $0) }
            return try root.finalize()
        }
    }
}

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

/// One zstd frame, compressed block by block; the output is cut into chunks of exactly
/// `chunkSize` bytes but the last.
final class ZstdCompressor {
    private let context: OpaquePointer
    private let chunkSize: Int
    private let staging: UnsafeMutableRawPointer
    private let stagingCapacity: Int
    private var pending = 0

    init(level: Int32, chunkSize: Int) throws {
        guard let context = ZSTD_createCCtx() else { throw PrivacyKitError(.internal, "zstd: cannot create a compression context") }
        self.context = context
        self.chunkSize = chunkSize
        stagingCapacity = 2 * chunkSize
        staging = .allocate(byteCount: stagingCapacity, alignment: 64)
        guard ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)) == 0 else {
            throw PrivacyKitError(.invalidInput, "zstd refuses compression level \(level)")
        }
        // A checksum of the frame (XXH64, nearly free): a second check behind the chunks' MACs.
        _ = ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1)
    }

    deinit {
        memset(staging, 0, stagingCapacity)
        staging.deallocate()
        ZSTD_freeCCtx(context)
    }

    /// Compresses `data`; `emit` gets every full chunk, and with `end` the frame's last chunk
    /// (tagged final: never empty, as a frame ends with at least a block header).
    func compress(_ data: UnsafeRawBufferPointer, end: Bool, emit: (UnsafeRawBufferPointer, Bool) throws -> Void) throws {
        var input = ZSTD_inBuffer(src: data.baseAddress, size: data.count, pos: 0)
        while true {
            var output = ZSTD_outBuffer(dst: staging + pending, size: stagingCapacity - pending, pos: 0)
            let left = ZSTD_compressStream2(context, &output, &input, end ? ZSTD_e_end : ZSTD_e_continue)
            guard ZSTD_isError(left) == 0 else {
                throw PrivacyKitError(.internal, "zstd compression failed: \(String(cString: ZSTD_getErrorName(left)))")
            }
            pending += output.pos
            // Keep at least one byte back, so the final chunk is never empty.
            while pending > chunkSize {
                try emit(UnsafeRawBufferPointer(start: staging, count: chunkSize), false)
                pending -= chunkSize
                memmove(staging, staging + chunkSize, pending)
            }
            let drained = end ? left == 0 : input.pos == input.size
            if drained { break }
        }
        if end { try emit(UnsafeRawBufferPointer(start: staging, count: pending), true) }
    }
}

/// Decompresses one zstd frame fed in pieces, handing the output on in blocks.
final class ZstdDecompressor {
    private let context: OpaquePointer
    private let buffer: UnsafeMutableRawPointer
    private let capacity = 1 << 20
    private var frameEnded = false
    private(set) var produced: Int64 = 0

    init() throws {
        guard let context = ZSTD_createDCtx() else { throw PrivacyKitError(.internal, "zstd: cannot create a decompression context") }
        self.context = context
        buffer = .allocate(byteCount: capacity, alignment: 64)
    }

    deinit {
        memset(buffer, 0, capacity)
        buffer.deallocate()
        ZSTD_freeDCtx(context)
    }

    func feed(_ data: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var input = ZSTD_inBuffer(src: data.baseAddress, size: data.count, pos: 0)
        while input.pos < input.size || !frameEnded {
            var output = ZSTD_outBuffer(dst: buffer, size: capacity, pos: 0)
            let hint = ZSTD_decompressStream(context, &output, &input)
            guard ZSTD_isError(hint) == 0 else {
                throw PrivacyKitError(.integrity, "the backup's compressed snapshot is damaged: \(String(cString: ZSTD_getErrorName(hint)))")
            }
            if hint == 0 { frameEnded = true }
            if output.pos > 0 {
                produced += Int64(output.pos)
                try sink(UnsafeRawBufferPointer(start: buffer, count: output.pos))
            }
            if frameEnded && input.pos < input.size {
                throw PrivacyKitError(.integrity, "the backup's compressed snapshot has data after its end")
            }
            // Nothing more can come out until more input arrives.
            if output.pos < output.size && input.pos == input.size { break }
        }
    }

    /// Throws unless the frame ended.
    func finish() throws {
        guard frameEnded else { throw PrivacyKitError(.integrity, "the backup's compressed snapshot ends early") }
    }
}

/// A file's bytes in blocks, in order. A block stays valid until the next call.
protocol FileBlocks: AnyObject {
    /// The next block, nil at the end of the file.
    func next() throws -> UnsafeRawBufferPointer?
}

/// Plain reads through one 64 KiB buffer: for reading a header and stopping.
final class PlainFileBlocks: FileBlocks {
    private let fd: Int32
    private let path: String
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64 << 10, alignment: 64)

    init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    func next() throws -> UnsafeRawBufferPointer? {
        let n = read(fd, buffer, 64 << 10)
        guard n >= 0 else { throw PrivacyKitError(.io, "cannot read \(path): \(String(cString: strerror(errno)))") }
        return n == 0 ? nil : UnsafeRawBufferPointer(start: buffer, count: n)
    }
}

/// Reads a whole file ahead of its consumer on a thread of its own, in 2 MiB blocks, with
/// O_DIRECT where the file system allows it: the consumer never waits on the disk while
/// blocks are ready, and a backup read once (verify, restore) does not fill the page cache,
/// which is what the live store needs it for. Dropping it early stops the thread.
final class FilePrefetcher: FileBlocks {
    static let blockSize = 2 << 20
    private let shared: Shared
    private var index = 0
    private var holding = false
    private var ended = false

    /// The blocks and the reading thread.
    private final class Shared: BlockRing, @unchecked Sendable {
        let cancelled = Atomic<Bool>(false)

        /// Fills blocks in ring order; a length of 0 ends the file, -1 a failure.
        func run(direct startsDirect: Bool) {
            var direct = startsDirect
            var i = 0
            while true {
                free.wait()
                var n = 0
                var failed = false
                while !cancelled.load(ordering: .relaxed) && n < FilePrefetcher.blockSize {
                    let r = read(fd, blocks[i] + n, FilePrefetcher.blockSize - n)
                    if r < 0 && errno == EINVAL && direct {
                        dropDirect()
                        direct = false
                        continue
                    }
                    if r < 0 {
                        fail("cannot read")
                        failed = true
                        break
                    }
                    if r == 0 { break }
                    n += r
                    // A direct read stops short only at the end of the file.
                    if direct && r % 4096 != 0 { break }
                }
                lengths[i] = failed ? -1 : n
                filled.signal()
                if n <= 0 || failed { break }
                i = (i + 1) % blocks.count
            }
            done.signal()
        }
    }

    init(path: String, blocks: Int = 4, tryDirect: Bool = true) throws {
        let (fd, direct) = BlockRing.open(path, flags: O_RDONLY, tryDirect: tryDirect)
        guard fd >= 0 else { throw PrivacyKitError(.notFound, "cannot read \(path): \(String(cString: strerror(errno)))") }
        if !direct { _ = posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL) }
        shared = Shared(fd: fd, path: path, blocks: blocks, blockSize: Self.blockSize, freeBlocks: blocks)
        Thread.detachNewThread { [shared, direct] in shared.run(direct: direct) }
    }

    func next() throws -> UnsafeRawBufferPointer? {
        guard !ended else { return nil }
        if holding {
            shared.free.signal()
            index = (index + 1) % shared.blocks.count
            holding = false
        }
        shared.filled.wait()
        let n = shared.lengths[index]
        guard n > 0 else {
            ended = true
            if n < 0, let error = shared.failure.withLock({ $0 }) { throw error }
            return nil
        }
        holding = true
        return UnsafeRawBufferPointer(start: shared.blocks[index], count: n)
    }

    deinit {
        if !ended {
            shared.cancelled.store(true, ordering: .relaxed)
            while (try? next()) != nil {}
        }
        shared.done.wait()
    }
}
