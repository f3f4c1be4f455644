#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Counts the forks this process's line of descent has been through, so a pool of random
/// bytes can tell that it now lives in a child.
///
/// After `fork()` the child holds a copy of every pool its parent filled: parent and child
/// would hand out the same nonces (a nonce reused under one key breaks XChaCha20-Poly1305)
/// and the same subject keys. A `pthread_atfork` child handler bumps the counter; a pool
/// notes the count when it fills and refills when the count has moved. Reading an atomic
/// costs far less than the `getpid` system call per value that a pid check would need.
enum ForkGeneration {
    private static let counter = Atomic<UInt64>(0)

    private static let registered: Bool = {
        // Runs in the child only, single-threaded, before fork() returns there: an atomic
        // add is all it does, which is async-signal-safe.
        pthread_atfork(nil, nil, { ForkGeneration.counter.add(1, ordering: .relaxed) }) == 0
    }()

    /// The current count; a pool that recorded another one was filled in an ancestor.
    static var current: UInt64 {
        precondition(registered, "pthread_atfork failed: random pools could not be made fork-safe")
        return counter.load(ordering: .relaxed)
    }
}
