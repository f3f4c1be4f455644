import CFileIO
import CZstd
import Foundation
import Sodium
import Synchronization

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
