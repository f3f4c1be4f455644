#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Sodium

/// File operations for secret and must-not-tear files: permission checks on read, and
/// write-new-then-rename with fsync so a crash leaves the old file or the new one, never a
/// mix.
package enum SecureFiles {
    /// Reads a file that must be kept private (the sealed keyring) into an ordinary array.
    ///
    /// Refuses a file that group or others may read or write: a secret that is already
    /// exposed protects nothing, and failing loudly is how the operator finds out.
    static func readSecret(at path: String, what: String, maxBytes: Int = 64 * 1024) throws -> [UInt8] {
        try withSecretFile(at: path, what: what, maxBytes: maxBytes) { fd, size in
            var bytes = [UInt8](repeating: 0, count: size)
            let count = try bytes.withUnsafeMutableBytes { try readAll(fd, into: $0, path: path, what: what) }
            // Shrunk in place: a copy would leave the bytes behind in freed memory.
            bytes.removeLast(size - count)
            return bytes
        }
    }

    /// Reads a secret file (key file, passphrase file) straight into locked memory, with
    /// the checks of ``readSecret(at:what:maxBytes:)``: the secret never passes through an
    /// ordinary heap buffer that would outlive the call unwiped. The buffer holds exactly
    /// the file; an empty file is refused.
    static func readSecretLocked(at path: String, what: String, maxBytes: Int = 64 * 1024) throws -> SecureBuffer {
        try withSecretFile(at: path, what: what, maxBytes: maxBytes) { fd, size in
            guard size > 0 else { throw PrivacyKitError(.invalidInput, "\(what) \(path) is empty") }
            let buffer = try SecureBuffer(count: size)
            let count = try buffer.withUnsafeMutableBytes { try readAll(fd, into: $0, path: path, what: what) }
            guard count == size else {
                throw PrivacyKitError(.io, "\(what) \(path) changed while it was read (\(count) of \(size) bytes); try again")
            }
            return buffer
        }
    }

    /// A secret file's contents `raw` without its line ends, as a view (no copy): every
    /// trailing CR and LF when `all`, else one final LF or CRLF.
    static func dropLineEnds(_ raw: UnsafeRawBufferPointer, all: Bool) -> UnsafeRawBufferPointer {
        var end = raw.count
        func isLineEnd(_ byte: UInt8) -> Bool { byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") }
        if all {
            while end > 0, isLineEnd(raw[end - 1]) { end -= 1 }
        } else {
            if end > 0, raw[end - 1] == UInt8(ascii: "\n") { end -= 1 }
            if end > 0, raw[end - 1] == UInt8(ascii: "\r") { end -= 1 }
        }
        return UnsafeRawBufferPointer(rebasing: raw[0..<end])
    }

    /// Opens `path` and checks it as a secret file, then hands `body` the descriptor and
    /// the file's size.
    private static func withSecretFile<R>(
        at path: String, what: String, maxBytes: Int, _ body: (Int32, Int) throws -> R
    ) throws -> R {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT {
                throw PrivacyKitError(.notFound, "\(what) \(path) does not exist")
            }
            throw PrivacyKitError(.io, "cannot open \(what) \(path): \(String(cString: strerror(err)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw PrivacyKitError(.io, "cannot stat \(what) \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw PrivacyKitError(.invalidInput, "\(what) \(path) is not a regular file")
        }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw PrivacyKitError(
                .insecurePermissions,
                "\(what) \(path) has mode \(String(mode, radix: 8)); it must not be readable or writable by group or others (chmod 600 \(path))")
        }
        guard info.st_size <= maxBytes else {
            throw PrivacyKitError(.invalidInput, "\(what) \(path) is \(info.st_size) bytes; at most \(maxBytes) are accepted")
        }
        return try body(fd, Int(info.st_size))
    }

    /// Reads until `buffer` is full or the file ends; returns the bytes read.
    private static func readAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, path: String, what: String) throws -> Int {
        var offset = 0
        while offset < buffer.count {
            let n = read(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw PrivacyKitError(.io, "cannot read \(what) \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            offset += n
        }
        return offset
    }

    /// Test hooks for simulating a crash inside ``replace(_:at:mode:hooks:)``.
    struct WriteHooks: Sendable {
        var afterTempWritten: (@Sendable () throws -> Void)? = nil
        var afterRename: (@Sendable () throws -> Void)? = nil
        static let none = WriteHooks()
    }

    /// The name of the temporary file ``replace(_:at:mode:hooks:)`` writes first.
    static func pendingPath(for path: String) -> String { path + ".new" }

    /// Atomically replaces (or creates) `path` with `contents`, file mode `mode`.
    ///
    /// Writes `path.new`, fsyncs it, renames it over `path`, then fsyncs the directory.
    /// A crash before the rename leaves the old file; after it, the new one. A stale
    /// `path.new` from an earlier crash is discarded first.
    static func replace(
        _ contents: [UInt8], at path: String, mode: mode_t = 0o600, hooks: WriteHooks = .none
    ) throws {
        let temp = pendingPath(for: path)
        unlink(temp)
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw PrivacyKitError(.io, "cannot create \(temp): \(String(cString: strerror(errno)))")
        }
        do {
            defer { close(fd) }
            // The umask may have narrowed the mode; never widen it, but make it exact.
            fchmod(fd, mode)
            try writeAll(contents, to: fd, path: temp)
            guard fsync(fd) == 0 else {
                throw PrivacyKitError(.io, "cannot fsync \(temp): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temp)
            throw error
        }
        try hooks.afterTempWritten?()
        guard rename(temp, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(temp)
            throw PrivacyKitError(.io, "cannot rename \(temp) to \(path): \(message)")
        }
        try hooks.afterRename?()
        try syncDirectory(containing: path)
    }

    /// A file privacyctl writes for the operator (an erasure receipt, an erasure ledger):
    /// 0600 whatever the umask, since it names subjects, and whole or absent, never torn.
    /// A directory at `path`, or no directory to hold it, is refused before anything is
    /// written, so a caller can check the destination before it changes the vault.
    package static func checkWritableDestination(_ path: String, what: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw PrivacyKitError(.invalidInput, "\(what) \(path) is a directory; give a file name")
        }
        let parent = parent(of: path)
        guard FileManager.default.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw PrivacyKitError(.notFound, "\(what) \(path): no directory \(parent) to write it in")
        }
    }

    package static func writePrivate(_ bytes: [UInt8], to path: String, what: String) throws {
        try checkWritableDestination(path, what: what)
        try replace(bytes, at: path, mode: 0o600)
    }

    /// ``writePrivate(_:to:what:)`` for evidence (a receipt, a report): unless `overwrite`,
    /// an existing file is never replaced. One with the very same bytes is left as it is
    /// (a command run again), any other is refused (`.alreadyExists`). The check and the
    /// placing are one `link(2)`, so a file made meanwhile is not overwritten either, and a
    /// crash leaves at most `path.new`, which the next write discards.
    package static func writeEvidence(_ bytes: [UInt8], to path: String, what: String, overwrite: Bool) throws {
        try checkWritableDestination(path, what: what)
        if overwrite { return try replace(bytes, at: path, mode: 0o600) }
        try checkNoOtherFile(at: path, holding: bytes, what: what)
        let temp = pendingPath(for: path)
        unlink(temp)
        try createNew(bytes, at: temp)
        guard link(temp, path) == 0 else {
            let err = errno
            unlink(temp)
            if err == EEXIST { return try checkNoOtherFile(at: path, holding: bytes, what: what) }
            throw PrivacyKitError(.io, "cannot create \(path): \(String(cString: strerror(err)))")
        }
        unlink(temp)
        try syncDirectory(containing: path)
    }

    /// Refuses a file at `path` that holds anything but `bytes` (none is fine).
    package static func checkNoOtherFile(at path: String, holding bytes: [UInt8]?, what: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { return }
        if let bytes, let existing = FileManager.default.contents(atPath: path), [UInt8](existing) == bytes { return }
        throw PrivacyKitError(.alreadyExists, "\(what) \(path) already exists; refusing to overwrite it (give another file, or --force)")
    }

    /// fsyncs the directory that holds `path`, so a rename or create in it is durable.
    static func syncDirectory(containing path: String) throws {
        try syncDirectory(parent(of: path))
    }

    /// The directory part of `path` ("." for a bare name, "/" for a file in the root).
    static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let directory = String(path[..<slash])
        return directory.isEmpty ? "/" : directory
    }

    /// Creates `path` with `contents` and `mode`, failing if anything exists there: the
    /// existence check and the creation are one system call (`O_EXCL`), so nothing is
    /// ever overwritten.
    static func createNew(_ contents: [UInt8], at path: String, mode: mode_t = 0o600) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let err = errno
            if err == EEXIST {
                throw PrivacyKitError(.alreadyExists, "\(path) already exists; refusing to overwrite it")
            }
            if err == ENOENT {
                throw PrivacyKitError(.notFound, "cannot create \(path): there is no directory \(parent(of: path))")
            }
            throw PrivacyKitError(.io, "cannot create \(path): \(String(cString: strerror(err)))")
        }
        do {
            defer { close(fd) }
            fchmod(fd, mode)
            try writeAll(contents, to: fd, path: path)
            guard fsync(fd) == 0 else {
                throw PrivacyKitError(.io, "cannot fsync \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(path)
            throw error
        }
        try syncDirectory(containing: path)
    }

    private static func writeAll(_ contents: [UInt8], to fd: Int32, path: String) throws {
        var offset = 0
        while offset < contents.count {
            let n = contents.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw PrivacyKitError(.io, "cannot write \(path): \(String(cString: strerror(errno)))")
            }
            offset += n
        }
    }

    static func syncDirectory(_ directory: String) throws {
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else {
            throw PrivacyKitError(.io, "cannot open directory \(directory): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        guard fsync(fd) == 0 else {
            throw PrivacyKitError(.io, "cannot fsync directory \(directory): \(String(cString: strerror(errno)))")
        }
    }

    /// Creates a directory with `mode` (0700 for anything that holds secrets).
    static func makeDirectory(_ path: String, mode: mode_t = 0o700) throws {
        guard mkdir(path, mode) == 0 else {
            let err = errno
            if err == EEXIST {
                throw PrivacyKitError(.alreadyExists, "\(path) already exists")
            }
            throw PrivacyKitError(.io, "cannot create directory \(path): \(String(cString: strerror(err)))")
        }
        chmod(path, mode)
    }

    /// The file's permission bits, or nil when it does not exist.
    /// Which file is at a path, and its size and modification time: a cheap way to see
    /// that a file was replaced (rename gives a new inode) or rewritten.
    struct Identity: Equatable, Sendable {
        let device: UInt64
        let inode: UInt64
        let size: Int64
        let modifiedSeconds: Int
        let modifiedNanoseconds: Int

        init?(path: String) {
            var info = stat()
            guard stat(path, &info) == 0 else { return nil }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            size = Int64(info.st_size)
            modifiedSeconds = Int(info.st_mtim.tv_sec)
            modifiedNanoseconds = Int(info.st_mtim.tv_nsec)
        }
    }

    /// Whether `path` exists. A path this user may not examine (a directory on the way it
    /// cannot search) throws `.io` naming the path and the user: a vault that cannot be read
    /// is never reported as missing or as "not a vault".
    static func exists(_ path: String) throws -> Bool {
        var info = stat()
        if stat(path, &info) == 0 { return true }
        let code = errno
        if code == ENOENT || code == ENOTDIR { return false }
        throw PrivacyKitError(.io, "cannot examine \(path) as \(currentUser): \(String(cString: strerror(code))) — the vault's directories need search (x) and its files read (and for writes, write) permission for the user that runs this")
    }

    /// The effective user, by name when it has one (for permission errors).
    static var currentUser: String {
        let uid = geteuid()
        guard let entry = getpwuid(uid), let name = entry.pointee.pw_name else { return "uid \(uid)" }
        return "user \(String(cString: name)) (uid \(uid))"
    }

    static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o7777
    }
}

/// An exclusive advisory lock on a file (`flock`), held until ``unlock()`` or deinit.
///
/// Keeps two processes from rewriting the keyring at once; the kernel drops the lock if
/// the process dies, so a crash never leaves the vault locked.
final class FileLock {
    private var fd: Int32

    init(path: String, what: String) throws {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw PrivacyKitError(.io, "cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            fd = -1
            throw PrivacyKitError(.busy, "\(what) is being changed by another process (lock \(path)); try again when it has finished")
        }
    }

    func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
