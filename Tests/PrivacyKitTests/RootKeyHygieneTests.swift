#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import PrivacyKit
import Sodium
import Testing

/// After a vault is opened, the root secret is in locked, read-only memory and nowhere
/// else: not in the key file's read buffer, not in its base64 text or a decode buffer, not
/// in a `String`, not in the environment it came from. The test scans every writable
/// mapping of its own process (through /proc/self/mem) for the secret.
///
/// The secret the test looks for never sits in writable memory of the test itself: a key
/// is made in `SecureBytes` (read-only pages once written) and written to its file from
/// there; a passphrase is made the same way and put into the environment with `putenv`
/// from there. Each test runs
/// alone, in a child process of the test binary, so no other test's threads copy the
/// environment or allocate over a leaked copy while it runs.
@Suite("Root key hygiene")
struct RootKeyHygieneTests {
    @Test func rawKeyFileLeavesNoCopyInWritableMemory() throws {
        guard try Self.isolated("rawKeyFileLeavesNoCopyInWritableMemory") else { return }
        let dir = try TempDirectory()
        let key = try SecureBytes.random(count: RootKey.keyByteCount)
        let path = dir.file("root.key")
        try key.withUnsafeBytes { try Self.writeSecretFile(path, $0) }
        try key.withUnsafeBytes { raw in
            try Self.expectNoCopies(of: Self.halves(raw), "the raw root key", dir: dir) { try .keyFile(at: path) }
        }
    }

    @Test func base64KeyFileLeavesNoCopyInWritableMemory() throws {
        guard try Self.isolated("base64KeyFileLeavesNoCopyInWritableMemory") else { return }
        let dir = try TempDirectory()
        let key = try SecureBytes.random(count: RootKey.keyByteCount)
        let path = dir.file("root.key")
        // The text is made in an array only to be written, then moved to locked memory
        // (which wipes the array) to be looked for.
        var text = key.withUnsafeBytes { Base64URL.encode(bytes: $0) }
        text.append(UInt8(ascii: "\n"))
        try text.withUnsafeBytes { try Self.writeSecretFile(path, $0) }
        text.removeLast()
        let encoded = try SecureBytes(takingBytes: &text)
        try key.withUnsafeBytes { raw in
            try encoded.withUnsafeBytes { encoded in
                try Self.expectNoCopies(of: Self.halves(raw) + Self.halves(encoded), "the root key or its base64 text", dir: dir) {
                    try .keyFile(at: path)
                }
            }
        }
    }

    @Test func passphraseFromTheEnvironmentLeavesNoCopyInWritableMemory() throws {
        guard try Self.isolated("passphraseFromTheEnvironmentLeavesNoCopyInWritableMemory") else { return }
        let dir = try TempDirectory()
        // Made at run time into locked memory: a literal would sit in the binary's data,
        // which may be writable.
        // Letters drawn straight into locked memory: no array, no encoder's buffers (a
        // freed one of those, found by the scan, made the test flaky).
        let passphrase = try SecureBytes(count: 32) { buffer in
            Random.fill(buffer)
            for i in buffer.indices { buffer[i] = UInt8(ascii: "a") + buffer[i] % 26 }
        }
        let name = "PRIVACYKIT_HYGIENE_TEST_PASSPHRASE"
        // putenv, not setenv: glibc's setenv builds NAME=VALUE on the stack first, a copy
        // no library could wipe. This entry is assembled with memcpy, and the environment
        // points at it: what the library must wipe.
        let prefix = Array((name + "=").utf8)
        let entry = UnsafeMutableRawPointer.allocate(byteCount: prefix.count + passphrase.count + 1, alignment: 1)
        defer {
            unsetenv(name)
            entry.deallocate()
        }
        prefix.withUnsafeBytes { entry.copyMemory(from: $0.baseAddress!, byteCount: prefix.count) }
        passphrase.withUnsafeBytes { (entry + prefix.count).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        entry.storeBytes(of: 0, toByteOffset: prefix.count + passphrase.count, as: UInt8.self)
        // Put in the environment only once the vault exists, just before it is read: while
        // it is there, anything in the process that copies the environment (the test
        // runner's threads do) copies it too, which no library can wipe.
        try passphrase.withUnsafeBytes { bytes in
            try Self.expectNoCopies(
                of: Self.halves(bytes), "the passphrase", dir: dir, create: { try .passphrase(passphrase) },
                beforeRead: { try #require(putenv(entry.assumingMemoryBound(to: CChar.self)) == 0) }
            ) {
                try #require(try RootKey.passphrase(environmentVariable: name))
            }
        }
        #expect(getenv(name).map { $0.pointee == 0 } ?? true, "the variable still holds the passphrase")
        #expect(try RootKey.passphrase(environmentVariable: name) == nil)
    }

    // MARK: - Helpers

    /// True in the child that runs `name` alone; in the parent, runs that child, checks
    /// it passed, and returns false.
    static func isolated(_ name: String) throws -> Bool {
        if getenv("PRIVACYKIT_ISOLATED_TEST").map({ String(cString: $0) }) == name { return true }
        let child = try runAlone(filter: "RootKeyHygieneTests/" + name, marker: name)
        #expect(child.status == 0, "the test failed alone:\n\(child.output.suffix(3000))")
        #expect(child.output.contains("Test run with 1 test"), "the child ran no test:\n\(child.output.suffix(3000))")
        return false
    }

    /// Creates a vault with the secret (`create`, else `read`), then reads the secret
    /// with `read` and scans at once, before anything else can allocate over a copy the
    /// read left in freed memory; then opens the vault with it and scans again, with the
    /// vault open.
    static func expectNoCopies(
        of needles: [UnsafeRawBufferPointer], _ what: String, dir: TempDirectory,
        create: (() throws -> RootKey)? = nil, beforeRead: () throws -> Void = {}, read: () throws -> RootKey
    ) throws {
        let url = dir.url.appendingPathComponent("vault")
        _ = try createTestVault(at: url, rootKey: create?() ?? read(), kdfLimits: .minimum)
        try beforeRead()
        let scanner = try WritableMemory(needles)
        let rootKey = try read()
        let afterRead = scanner.scan()
        #expect(afterRead.isEmpty, "reading the root secret left \(what) in writable memory: \(afterRead)")
        let vault = try Vault.open(at: url, rootKey: rootKey)
        let afterOpen = try WritableMemory.find(needles)
        #expect(afterOpen.isEmpty, "\(what) is in writable memory with the vault open: \(afterOpen)")
        _ = vault
    }

    /// Both halves of a secret, each looked for on its own: a copy split in two, or half
    /// overwritten by the allocator's bookkeeping, is still a copy.
    static func halves(_ secret: UnsafeRawBufferPointer) -> [UnsafeRawBufferPointer] {
        let middle = secret.count / 2
        return [UnsafeRawBufferPointer(rebasing: secret[0..<middle]), UnsafeRawBufferPointer(rebasing: secret[middle...])]
    }

    /// Writes `bytes` to a new file of mode 0600 straight from where they are.
    static func writeSecretFile(_ path: String, _ bytes: UnsafeRawBufferPointer) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        defer { close(fd) }
        try #require(write(fd, bytes.baseAddress!, bytes.count) == bytes.count)
    }
}

/// The writable memory of this process, read through /proc/self/mem.
///
/// A scanner reads the list of mappings when it is made, and scans without allocating: a
/// copy left in freed memory is overwritten by the next allocation of its size, so a scan
/// that allocated first could miss the very copy it looks for.
final class WritableMemory {
    private struct Region {
        let start: UInt
        let end: UInt
        let name: String
    }

    private let regions: [Region]
    private let needles: [UnsafeRawBufferPointer]
    private let scratch: UnsafeMutableRawPointer
    private let scratchSize: Int
    private let overlap: Int
    private let mem: Int32
    private var hits: [(address: UInt, region: Int)] = []

    /// A scanner for `needles` (which must stay valid while it is used) over the writable
    /// mappings there are now.
    init(_ needles: [UnsafeRawBufferPointer]) throws {
        self.needles = needles
        overlap = needles.map(\.count).max() ?? 0
        scratchSize = (1 << 22) + overlap
        // The scratch buffer is a mapping of its own, left out of the scan by address: it
        // holds copies of what it scans.
        let mapped = mmap(nil, scratchSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        scratch = try #require(mapped == MAP_FAILED ? nil : mapped)
        mem = open("/proc/self/mem", O_RDONLY | O_CLOEXEC)
        try #require(mem >= 0, "cannot open /proc/self/mem")
        let scratchStart = UInt(bitPattern: scratch)
        var regions: [Region] = []
        for line in try String(contentsOfFile: "/proc/self/maps", encoding: .utf8).split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 5, fields[1].hasPrefix("rw") else { continue }
            let bounds = fields[0].split(separator: "-")
            guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16) else { continue }
            if start <= scratchStart && scratchStart < end { continue }
            regions.append(Region(start: start, end: end, name: fields.count > 5 ? String(fields[5]) : "anonymous"))
        }
        self.regions = regions
        hits.reserveCapacity(1024)
    }

    deinit {
        memset(scratch, 0, scratchSize)
        munmap(scratch, scratchSize)
        close(mem)
    }

    /// Where in writable memory any of `needles` occurs now: "address (mapping name)" per
    /// hit, never the bytes.
    func scan() -> [String] {
        hits.removeAll(keepingCapacity: true)
        for (index, region) in regions.enumerated() {
            var offset = region.start
            while offset < region.end {
                let length = Int(min(UInt(scratchSize), region.end - offset))
                let read = pread(mem, scratch, length, off_t(Int64(bitPattern: UInt64(offset))))
                if read <= 0 { break }  // unmapped meanwhile, or not readable
                let haystack = UnsafeRawBufferPointer(start: scratch, count: read)
                for needle in needles {
                    Self.forEachOccurrence(of: needle, in: haystack) { found in
                        if hits.count < hits.capacity { hits.append((offset + UInt(found), index)) }
                    }
                }
                guard read > overlap, read == length else { break }
                offset += UInt(read - overlap)
            }
        }
        return hits.map { "0x\(String($0.address, radix: 16)) (\(regions[$0.region].name))" }
    }

    /// Scans the writable mappings there are now for `needles`.
    static func find(_ needles: [UnsafeRawBufferPointer]) throws -> [String] {
        try WritableMemory(needles).scan()
    }

    /// Calls `body` with each offset of `needle` in `haystack` (Glibc does not export
    /// memmem to Swift).
    private static func forEachOccurrence(of needle: UnsafeRawBufferPointer, in haystack: UnsafeRawBufferPointer, _ body: (Int) -> Void) {
        guard let first = needle.first, needle.count <= haystack.count, let base = haystack.baseAddress else { return }
        var at = 0
        let last = haystack.count - needle.count
        while at <= last, let hit = memchr(base + at, Int32(first), last - at + 1) {
            let offset = base.distance(to: UnsafeRawPointer(hit))
            if memcmp(base + offset, needle.baseAddress!, needle.count) == 0 { body(offset) }
            at = offset + 1
        }
    }
}
