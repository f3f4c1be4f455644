import CFileIO
import CZstd
import Foundation
import Sodium
import Synchronization

// Hand-over of page-aligned blocks between two threads, for the backup pipeline's file
// reader and writer (FilePrefetcher, StreamFileWriter): semaphores pass each block from one
// side to the other, so neither side locks while it works on a block.

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
