import Foundation

/// A work file or directory that only a killed run leaves behind: a backup's `.partial`, a
/// restore's staging directory, a snapshot copy of the store. Its run holds an exclusive
/// `flock` on it while it lives (the kernel drops the lock with the process, SIGKILL or
/// not), so the next run can tell an abandoned one, lock free, from one in use, and remove
/// it: otherwise each crash would leave a copy of vault data lying around for good.
final class WorkFileClaim: @unchecked Sendable {
    private let lock = NSLock()
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Makes `path` through `create`, under a `.starting` name first (``startingName(_:)``),
    /// locks it, and only then moves it to `path`: a sweep never sees it under its real name
    /// unlocked.
    static func claim<T>(_ path: String, create: (String) throws -> T) throws -> (WorkFileClaim, T) {
        let starting = startingName(path)
        let made = try create(starting)
        let fd = open(starting, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0, rename(starting, path) == 0 else {
            let problem = String(cString: strerror(errno))
            if fd >= 0 { close(fd) }
            try? FileManager.default.removeItem(atPath: starting)
            throw PrivacyKitError(.io, "cannot claim the work file \(path): \(problem)")
        }
        return (WorkFileClaim(fd: fd), made)
    }

    /// Ends the claim (the file itself is its owner's to move or remove).
    func release() {
        lock.withLock {
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }

    static let startingSuffix = ".starting"
    /// A file still under its `.starting` name is being made (a store snapshot can take
    /// seconds) and is not locked yet. One this old was left by a run killed in between,
    /// whoever made it.
    static let abandonedStartingAge: TimeInterval = 3600

    /// `path`'s name while it is made: `.starting-HOST-PID`, so that a run on the same host
    /// can tell one whose maker died (removed at once: the crash suite found one left after
    /// a kill) from one still being made; another host's waits out the age.
    static func startingName(_ path: String) -> String {
        path + startingSuffix + "-" + hostTag + "-" + String(getpid())
    }

    /// This host's name with only letters, digits and dots (the name's `-` separates).
    static let hostTag: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        let name = String(cString: buffer).unicodeScalars.filter { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == ".") }
        return name.isEmpty ? "unknown" : String(String.UnicodeScalarView(name))
    }()

    /// Whether a `.starting` name's tail (after `.starting`) names a process of this host
    /// that no longer exists.
    private static func makerIsGone(tail: Substring) -> Bool {
        let parts = tail.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].isEmpty, parts[1] == hostTag, let pid = pid_t(parts[2]), pid > 0 else { return false }
        return kill(pid, 0) == -1 && errno == ESRCH
    }

    /// Removes the abandoned work files in `directory` whose names start with `prefix` and
    /// end with `suffix` (with `remove`, which defaults to removing the file or the whole
    /// directory). Says how many it removed; what cannot be examined is left alone.
    @discardableResult
    static func removeAbandoned(in directory: String, prefix: String, suffix: String = "",
                                remove: (String) -> Void = { try? FileManager.default.removeItem(atPath: $0) }) -> Int {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return 0 }
        var removed = 0
        for name in names where name.hasPrefix(prefix) {
            let path = directory + "/" + name
            if let marker = name.range(of: suffix + startingSuffix, options: .backwards),
               marker.upperBound == name.endIndex || name[marker.upperBound] == "-" {
                let modified = (try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? nil
                let old = modified.map { Date().timeIntervalSince($0) > abandonedStartingAge } ?? false
                if old || makerIsGone(tail: name[marker.upperBound...]) {
                    remove(path)
                    removed += 1
                }
                continue
            }
            guard name.hasSuffix(suffix) else { continue }
            let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            // Locked: its run is alive. Free: its run died; nobody else can claim this name.
            if flock(fd, LOCK_EX | LOCK_NB) == 0 {
                remove(path)
                removed += 1
            }
            close(fd)
        }
        return removed
    }
}
