import CFileIO
import CZstd
import Foundation
import Sodium
import Synchronization

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
