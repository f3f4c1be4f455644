import Foundation
import Sodium

enum BackupFile {
    static let magic = Array("PKBACKUP".utf8)
    static let trailer = Array("PKBKEND1".utf8)
    static let chunkSize = 64 * 1024
    static let maxHeaderBytes = 16 << 20
    static let maxManifestBytes = 1 << 20

    static func keyAD(vaultID: String, backupID: String, version: Int) -> [UInt8] {
        var c = Canonical("privacykit.backup.key.v1")
        c.append(vaultID)
        c.append(backupID)
        c.append(UInt64(version))
        return c.bytes
    }

    static func be32(_ n: Int) -> [UInt8] { [UInt8(n >> 24 & 0xff), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] }

    static func encoder() -> JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }
}

/// Sequential reads of a file with a position, for parsing and reporting where it broke.
final class BackupReader {
    let path: String
    private(set) var offset: Int64 = 0
    let size: Int64
    private let source: any FileBlocks
    private var block = UnsafeRawBufferPointer(start: nil, count: 0)
    private var start = 0

    /// - Parameter prefetch: read ahead on a thread of its own, past the page cache (for
    ///   reading a whole backup); otherwise plain reads (for a header).
    init(path: String, prefetch: Bool = false) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw PrivacyKitError(.notFound, "cannot read the backup \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        fstat(fd, &info)
        size = Int64(info.st_size)
        if prefetch {
            close(fd)
            source = try FilePrefetcher(path: path)
        } else {
            source = PlainFileBlocks(fd: fd, path: path)
        }
    }

    /// Makes the next block current; false at the end of the file.
    private func refill() throws -> Bool {
        guard let next = try source.next() else { return false }
        block = next
        start = 0
        return true
    }

    /// Exactly `count` bytes, or nil at a clean end of file; throws on a short read.
    func read(_ count: Int, what: String) throws -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: count)
        let got = try out.withUnsafeMutableBytes { try copy(into: $0.baseAddress!, count: count) }
        if got == 0 && count > 0 { return nil }
        guard got == count else {
            throw PrivacyKitError(.integrity, "the backup is truncated: it ends inside \(what) at byte \(offset + Int64(got))")
        }
        offset += Int64(count)
        return out
    }

    /// Copies up to `count` bytes; fewer only at the end of the file.
    private func copy(into destination: UnsafeMutableRawPointer, count: Int) throws -> Int {
        var copied = 0
        while copied < count {
            if start == block.count {
                guard try refill() else { break }
            }
            let take = min(count - copied, block.count - start)
            destination.advanced(by: copied).copyMemory(from: block.baseAddress! + start, byteCount: take)
            start += take
            copied += take
        }
        return copied
    }

    /// Exactly `count` bytes into `destination`.
    func fill(_ destination: UnsafeMutableRawPointer, count: Int, what: String) throws {
        let got = try copy(into: destination, count: count)
        guard got == count else {
            throw PrivacyKitError(.integrity, "the backup is truncated: it ends inside \(what) at byte \(offset + Int64(got))")
        }
        offset += Int64(count)
    }

    func require(_ count: Int, what: String) throws -> [UInt8] {
        guard let bytes = try read(count, what: what) else {
            throw PrivacyKitError(.integrity, "the backup is truncated: it ends before \(what) at byte \(offset)")
        }
        return bytes
    }

    func length(what: String, max: Int) throws -> Int {
        let b = try require(4, what: "the length of \(what)")
        let n = Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])
        guard n <= max else { throw PrivacyKitError(.integrity, "\(what) at byte \(offset - 4) claims \(n) bytes (at most \(max)): the backup is damaged") }
        return n
    }
}

/// Overwrites a file with zeros, syncs, and removes it: for plaintext snapshots.
func secureRemove(_ path: String) {
    let fd = open(path, O_WRONLY | O_CLOEXEC)
    if fd >= 0 {
        var info = stat()
        fstat(fd, &info)
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var left = Int64(info.st_size)
        while left > 0 {
            let n = zeros.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, Int(min(left, Int64($0.count)))) }
            if n <= 0 { break }
            left -= Int64(n)
        }
        fsync(fd)
        close(fd)
    }
    unlink(path)
}
