#if canImport(Glibc)
import Glibc
#endif
import Sodium
import Testing

/// A process that forks after its pools are filled: the child must not hand out the
/// nonces and key bytes its parent still holds (a nonce shared by two processes sealing
/// under one key breaks XChaCha20-Poly1305; a shared subject key ties two subjects).
@Suite("Random pools after fork")
struct PoolForkTests {
    @Test func noncePoolRefillsInAForkedChild() throws {
        let pool = NoncePool()
        var warm = [UInt8](repeating: 0, count: XChaCha20Poly1305.nonceByteCount)
        warm.withUnsafeMutableBytes { pool.next(into: $0) }  // fills the buffer before the fork
        let (child, parent) = try Self.afterFork(takes: 4, of: XChaCha20Poly1305.nonceByteCount, parentTakes: 160) {
            pool.next(into: $0)
        }
        #expect(Set(child).count == child.count)
        // Counts, not values: a failure message need not print the nonces.
        let shared = Set(child).intersection(parent).count
        #expect(shared == 0, "the child handed out \(shared) of \(child.count) nonces its parent also holds")
    }

    @Test func secureRandomPoolRefillsInAForkedChild() throws {
        let pool = try SecureRandomPool()
        var warm = [UInt8](repeating: 0, count: 32)
        warm.withUnsafeMutableBytes { pool.next(into: $0) }
        let (child, parent) = try Self.afterFork(takes: 4, of: 32, parentTakes: 120) { pool.next(into: $0) }
        let shared = Set(child).intersection(parent).count
        #expect(shared == 0, "the child made \(shared) of \(child.count) keys its parent makes too")
        Memory.wipe(&warm)
    }

    /// Forks; the child takes `takes` values of `size` bytes and writes them to a pipe, the
    /// parent then takes `parentTakes` values of its own. Everything the child runs is
    /// prepared before the fork (buffers allocated, code paths warmed), since a child of a
    /// multi-threaded process should do as little as it can.
    static func afterFork(
        takes: Int, of size: Int, parentTakes: Int, _ take: (UnsafeMutableRawBufferPointer) -> Void
    ) throws -> (child: [[UInt8]], parent: [[UInt8]]) {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        var childBytes = [UInt8](repeating: 0, count: takes * size)
        let pid = fork()
        try #require(pid >= 0, "fork failed")
        if pid == 0 {
            close(fds[0])
            childBytes.withUnsafeMutableBytes { buffer in
                for i in 0..<takes { take(UnsafeMutableRawBufferPointer(rebasing: buffer[(i * size)..<((i + 1) * size)])) }
                var written = 0
                while written < buffer.count {
                    let n = write(fds[1], buffer.baseAddress! + written, buffer.count - written)
                    if n <= 0 { _exit(2) }
                    written += n
                }
            }
            _exit(0)
        }
        close(fds[1])
        defer { close(fds[0]) }
        var received = [UInt8](repeating: 0, count: takes * size)
        var got = 0
        // A child stuck on a lock some other thread held at the fork must not hang the run.
        var poller = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        while got < received.count, poll(&poller, 1, 30_000) > 0 {
            let n = received.withUnsafeMutableBytes { read(fds[0], $0.baseAddress! + got, $0.count - got) }
            if n <= 0 { break }
            got += n
        }
        if got < received.count { kill(pid, SIGKILL) }
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        try #require(got == received.count, "the child wrote \(got) of \(received.count) bytes (status \(status))")
        #expect(status == 0)
        var parent: [[UInt8]] = []
        var one = [UInt8](repeating: 0, count: size)
        for _ in 0..<parentTakes {
            one.withUnsafeMutableBytes { take($0) }
            parent.append(one)
        }
        let child = (0..<takes).map { Array(received[($0 * size)..<(($0 + 1) * size)]) }
        return (child, parent)
    }
}
