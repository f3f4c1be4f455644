import CSodium
import Foundation
import GRDB
import PrivacyKit

// MARK: - Backups: createBackup / verifyBackup of a ~1 GB vault against `age` and bare libsodium
//
// The vault is filled through the library's import with the synthetic CRM customers. One
// snapshot of its store (SQLite's online backup, as the library takes it) is what `age` and
// the bare loops process; every pass reads its input from the page cache. Per run:
//   age -r X25519 encrypt (and decrypt to /dev/null, for information)
//   the bare secretstream push and pull loops (64 KiB chunks, C-style: reused buffers,
//   1 MiB read/write blocks), alone and with BLAKE2b of the plaintext in the same loop
//   the library's vault.backups.create and vault.backups.verify, with RSS sampled every 2 ms.
// Goals (issue): backup ≥ 0.8× age, verify ≥ 0.8× the bare decrypt loop, memory < 100 MB.

// Starts with a line break: the usage text before it ends without one.
let backupUsage = """

      backup-all        vault.backups.create / verifyBackup of a ~1 GB vault (--subjects
                          customers, default 800000) against `age -r` and the bare
                          secretstream loops on the same snapshot, in the same run
                          [--runs 3 --keep] [--vault DIR [--key PATH]: an existing vault]
      backup-library    createBackup and verifyBackup alone, on a kept vault (for profiling)
                          --vault DIR [--key PATH] [--runs 1] [--out DIR (default /tmp)] [--verify no]
    """

enum BackupGoals {
    static let backupOverAge = 0.8
    static let verifyOverBarePull = 0.8
    static let memoryBytes = 100e6
    static let defaultSubjects = 800_000
}

// MARK: Tools

/// The path of `name` on PATH, if it is there and executable.
func findExecutable(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") where access("\(dir)/\(name)", X_OK) == 0 {
        return "\(dir)/\(name)"
    }
    return nil
}

/// Runs a tool to completion (untimed helper); returns its standard output.
@discardableResult
func runTool(_ path: String, _ arguments: [String], quiet: Bool = false) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    if quiet { process.standardError = FileHandle.nullDevice }
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw UsageError("`\(([path] + arguments).joined(separator: " "))` exited with status \(process.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

/// `age` and `age-keygen`; installs the Debian package when running as root with apt-get.
func ensureAge() throws -> (age: String, keygen: String) {
    if let age = findExecutable("age"), let keygen = findExecutable("age-keygen") { return (age, keygen) }
    let advice = "the backup benchmark compares with `age` (Debian package `age`): install it with `apt-get install -y age`"
    guard getuid() == 0, let apt = findExecutable("apt-get") else { throw UsageError("`age` or `age-keygen` is not on PATH; \(advice)") }
    progress("`age` is not installed; running `apt-get install -y age`…")
    if (try? runTool(apt, ["install", "-y", "age"])) == nil {
        progress("apt-get install failed; `apt-get update`, then again…")
        try runTool(apt, ["update"])
        try runTool(apt, ["install", "-y", "age"])
    }
    guard let age = findExecutable("age"), let keygen = findExecutable("age-keygen") else {
        throw UsageError("`apt-get install -y age` did not put age and age-keygen on PATH; \(advice)")
    }
    return (age, keygen)
}

/// One child process, timed from spawn to reaped exit.
struct ToolRun {
    let seconds: Double
    let cpuSeconds: Double
    /// The child's own peak RSS (VmHWM of its /proc status, sampled every ~1 ms until it exits).
    let peakKB: Int
}

/// Spawns `arguments[0]` with posix_spawn and waits with wait4 (CPU time of that child alone);
/// the child's peak RSS is read from /proc/PID/status while it runs (its ru_maxrss would start
/// from this process's peak, see `runChild`).
func timeTool(_ arguments: [String]) throws -> ToolRun {
    var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    var envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { for p in argv + envp { free(p) } }
    var pid: pid_t = 0
    let start = clock.now
    let rc = posix_spawn(&pid, arguments[0], nil, nil, &argv, &envp)
    guard rc == 0 else { throw UsageError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    var peak = 0
    while true {
        let r = wait4(pid, &status, WNOHANG, &usage)
        if r == pid { break }
        guard r == 0 else { throw UsageError("wait4 for \(arguments[0]) failed: \(String(cString: strerror(errno)))") }
        if let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
           let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
           let kb = Int(line.dropFirst(6).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "") {
            peak = max(peak, kb)
        }
        usleep(1000)
    }
    let seconds = (clock.now - start).seconds
    // WIFEXITED / WEXITSTATUS, spelled out (the macros do not import).
    guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
        throw UsageError("`\(arguments.joined(separator: " "))` failed (wait status \(status))")
    }
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
    return ToolRun(seconds: seconds, cpuSeconds: s(usage.ru_utime) + s(usage.ru_stime), peakKB: peak)
}

// MARK: Bare loops (the baselines): libsodium called directly, C-style

/// A timed pass over a file: wall and CPU time of this process.
struct LoopRun {
    let bytes: Int64
    let seconds: Double
    let cpuSeconds: Double
    var gbPerSecond: Double { Double(bytes) / seconds / 1e9 }
}

enum BareLoops {
    static let chunk = 64 * 1024
    static let chunksPerBlock = 16  // read and write 1 MiB at a time
    static let abytes = Int(crypto_secretstream_xchacha20poly1305_abytes())
    static let headerBytes = Int(crypto_secretstream_xchacha20poly1305_headerbytes())
    static let tagMessage = crypto_secretstream_xchacha20poly1305_tag_message()
    static let tagFinal = crypto_secretstream_xchacha20poly1305_tag_final()

    static func openFile(_ path: String, _ flags: Int32) throws -> Int32 {
        let fd = open(path, flags | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw UsageError("cannot open \(path): \(String(cString: strerror(errno)))") }
        return fd
    }

    static func size(_ fd: Int32) -> Int64 {
        var info = stat()
        fstat(fd, &info)
        return Int64(info.st_size)
    }

    /// Reads up to `count` bytes (fewer only at the end of the file).
    static func readFully(_ fd: Int32, _ buffer: UnsafeMutablePointer<UInt8>, _ count: Int) throws -> Int {
        var done = 0
        while done < count {
            let n = read(fd, buffer + done, count - done)
            if n == 0 { break }
            guard n > 0 else { throw UsageError("read failed: \(String(cString: strerror(errno)))") }
            done += n
        }
        return done
    }

    static func writeFully(_ fd: Int32, _ buffer: UnsafePointer<UInt8>, _ count: Int) throws {
        var done = 0
        while done < count {
            let n = write(fd, buffer + done, count - done)
            guard n > 0 else { throw UsageError("write failed: \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// A BLAKE2b-256 state (crypto_generichash; 64-byte aligned, through the shim).
    final class Hasher {
        let state = UnsafeMutableRawPointer.allocate(byteCount: crypto_generichash_statebytes(), alignment: 64)
        init() { _ = pk_generichash_init(state, nil, 0, 32) }
        deinit { state.deallocate() }
        @inline(__always) func update(_ p: UnsafePointer<UInt8>, _ n: Int) { _ = pk_generichash_update(state, p, UInt64(n)) }
        func finish() -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 32)
            _ = pk_generichash_final(state, &out, 32)
            return out
        }
    }

    static func timed(_ body: () throws -> Int64) rethrows -> LoopRun {
        let cpu0 = ResourceUsage.current()
        let start = clock.now
        let bytes = try body()
        let seconds = (clock.now - start).seconds
        return LoopRun(bytes: bytes, seconds: seconds, cpuSeconds: ResourceUsage.current().cpuSeconds - cpu0.cpuSeconds)
    }

    /// Reads the file once (into the page cache), `cat > /dev/null` style.
    static func readPass(_ path: String, hash: Bool = false) throws -> LoopRun {
        try timed {
            let fd = try openFile(path, O_RDONLY)
            defer { close(fd) }
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk * chunksPerBlock)
            defer { buffer.deallocate() }
            let hasher = hash ? Hasher() : nil
            var total: Int64 = 0
            while true {
                let n = try readFully(fd, buffer, chunk * chunksPerBlock)
                if n == 0 { break }
                hasher?.update(buffer, n)
                total += Int64(n)
            }
            _ = hasher?.finish()
            return total
        }
    }

    /// read 1 MiB, write 1 MiB: the I/O alone.
    static func copy(_ input: String, to output: String) throws -> LoopRun {
        try timed {
            let fin = try openFile(input, O_RDONLY)
            defer { close(fin) }
            let fout = try openFile(output, O_WRONLY | O_CREAT | O_EXCL)
            defer { close(fout) }
            let buffer = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk * chunksPerBlock)
            defer { buffer.deallocate() }
            var total: Int64 = 0
            while true {
                let n = try readFully(fin, buffer, chunk * chunksPerBlock)
                if n == 0 { break }
                try writeFully(fout, buffer, n)
                total += Int64(n)
            }
            return total
        }
    }

    /// secretstream push of `input` in 64 KiB chunks (the last tagged final) into `output`
    /// (the 24-byte header, then the sealed chunks back to back); with `hash`, BLAKE2b-256 of
    /// the plaintext in the same loop, as the library's backup does.
    static func encrypt(_ input: String, to output: String, key: UnsafePointer<UInt8>, hash: Bool,
                        hashOnThread: Bool = false, fsyncOutput: Bool = false) throws -> LoopRun {
        try timed {
            let background = hashOnThread ? BackgroundHash(path: input) : nil
            let fin = try openFile(input, O_RDONLY)
            defer { close(fin) }
            let fout = try openFile(output, O_WRONLY | O_CREAT | O_EXCL)
            defer { close(fout) }
            let size = Self.size(fin)
            guard size > 0 else { throw UsageError("\(input) is empty") }
            let plain = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk * chunksPerBlock)
            defer { plain.deallocate() }
            let sealed = UnsafeMutablePointer<UInt8>.allocate(capacity: (chunk + abytes) * chunksPerBlock)
            defer { sealed.deallocate() }
            let hasher = hash ? Hasher() : nil
            var state = crypto_secretstream_xchacha20poly1305_state()
            var header = [UInt8](repeating: 0, count: headerBytes)
            crypto_secretstream_xchacha20poly1305_init_push(&state, &header, key)
            try header.withUnsafeBufferPointer { try writeFully(fout, $0.baseAddress!, $0.count) }
            var done: Int64 = 0
            while done < size {
                let n = try readFully(fin, plain, chunk * chunksPerBlock)
                guard n > 0 else { throw UsageError("\(input) shrank while being read") }
                var i = 0, o = 0
                while i < n {
                    let m = min(chunk, n - i)
                    let tag = done + Int64(i + m) == size ? tagFinal : tagMessage
                    var written: UInt64 = 0
                    crypto_secretstream_xchacha20poly1305_push(&state, sealed + o, &written, plain + i, UInt64(m), nil, 0, tag)
                    hasher?.update(plain + i, m)
                    i += m
                    o += Int(written)
                }
                try writeFully(fout, sealed, o)
                done += Int64(n)
            }
            _ = hasher?.finish()
            background?.wait()
            if fsyncOutput { guard fsync(fout) == 0 else { throw UsageError("fsync \(output) failed") } }
            return done
        }
    }

    /// secretstream pull of a file made by `encrypt`: authenticates every chunk into one
    /// reused buffer and keeps nothing (what a verify needs); with `hash`, BLAKE2b-256 of the
    /// plaintext in the same loop, as the library's verify does. Returns plaintext bytes.
    static func decrypt(_ input: String, key: UnsafePointer<UInt8>, hash: Bool) throws -> LoopRun {
        try timed {
            let fin = try openFile(input, O_RDONLY)
            defer { close(fin) }
            let sealedChunk = chunk + abytes
            let sealed = UnsafeMutablePointer<UInt8>.allocate(capacity: sealedChunk * chunksPerBlock)
            defer { sealed.deallocate() }
            let plain = UnsafeMutablePointer<UInt8>.allocate(capacity: chunk)
            defer { plain.deallocate() }
            let hasher = hash ? Hasher() : nil
            var header = [UInt8](repeating: 0, count: headerBytes)
            guard try header.withUnsafeMutableBufferPointer({ try readFully(fin, $0.baseAddress!, $0.count) }) == headerBytes else {
                throw UsageError("\(input): no secretstream header")
            }
            var state = crypto_secretstream_xchacha20poly1305_state()
            guard crypto_secretstream_xchacha20poly1305_init_pull(&state, header, key) == 0 else { throw UsageError("bad header") }
            var total: Int64 = 0
            var finished = false
            while !finished {
                let n = try readFully(fin, sealed, sealedChunk * chunksPerBlock)
                guard n > 0 else { throw UsageError("\(input): truncated (no final chunk)") }
                var i = 0
                while i < n {
                    let c = min(sealedChunk, n - i)
                    var m: UInt64 = 0
                    var tag: UInt8 = 0
                    guard crypto_secretstream_xchacha20poly1305_pull(&state, plain, &m, &tag, sealed + i, UInt64(c), nil, 0) == 0 else {
                        throw UsageError("\(input): chunk at byte \(Int64(headerBytes) + total / Int64(chunk) * Int64(sealedChunk)) does not authenticate")
                    }
                    hasher?.update(plain, Int(m))
                    total += Int64(m)
                    i += c
                    if tag == tagFinal {
                        guard i == n else { throw UsageError("\(input): data after the final chunk") }
                        finished = true
                    }
                }
            }
            _ = hasher?.finish()
            return total
        }
    }
}

/// BLAKE2b-256 of a file on a thread of its own, with its own reads: how the library's backup
/// hashes its snapshot while the calling thread encrypts it.
final class BackgroundHash: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)

    init(path: String) {
        Thread.detachNewThread { [self] in
            _ = try? BareLoops.readPass(path, hash: true)
            done.signal()
        }
    }

    func wait() { done.wait() }
}

// MARK: The benchmark

/// One timed library call, with this process's RSS before and its peak during.
struct LibraryRun {
    let bytes: Int64
    let seconds: Double
    let cpuSeconds: Double
    let rssBeforeKB: Int
    let peakKB: Int
    var gbPerSecond: Double { Double(bytes) / seconds / 1e9 }
}

struct BackupRun {
    var ageEncrypt: ToolRun
    /// age again, right after createBackup: the machine's speed drifts within a run, so the
    /// ratio's baseline is the mean of the passes before and after the library's.
    var ageEncryptAfter: ToolRun
    var ageFsyncSeconds: Double
    var ageDecrypt: ToolRun
    var readPass: LoopRun
    var hashPass: LoopRun
    var copy: LoopRun
    var push: LoopRun
    var pull: LoopRun
    var pushHash: LoopRun
    var pullHash: LoopRun
    var pushThreadHashFsync: LoopRun
    var sqliteBackupSeconds: Double
    var create: LibraryRun
    var snapshotSeconds: Double
    var encryptSeconds: Double
    var backupFileBytes: Int64
    var compressed: LibraryRun
    var compressedFileBytes: Int64
    var verify: LibraryRun
    var verifyOK: Bool
    var verifyProblem: String?

    var snapshotBytes: Int64 { readPass.bytes }
    func ageGB(_ t: Double) -> Double { Double(snapshotBytes) / t / 1e9 }
    var ageGBps: Double { (ageGB(ageEncrypt.seconds) + ageGB(ageEncryptAfter.seconds)) / 2 }
    var backupGBps: Double { create.gbPerSecond }
    var encryptStageGBps: Double { Double(create.bytes) / encryptSeconds / 1e9 }
    var backupOverAge: Double { backupGBps / ageGBps }
    var encryptStageOverAge: Double { encryptStageGBps / ageGBps }
    var verifyOverPull: Double { verify.gbPerSecond / pull.gbPerSecond }
}

/// SQLite's online backup of `store` into a new file `output` through GRDB, 4,096 pages per
/// step as the library does; returns the seconds it took.
func sqliteOnlineBackup(_ store: String, to output: String) throws -> Double {
    var readOnly = GRDB.Configuration()
    readOnly.readonly = true
    let source = try DatabaseQueue(path: store, configuration: readOnly)
    let destination = try DatabaseQueue(path: output)
    let seconds = try measure { try source.backup(to: destination, pagesPerStep: 4096) }
    try destination.close()
    try source.close()
    return seconds
}

/// `backup-library`: the library's two calls alone on a kept vault, timed (to profile them).
func backupLibraryOnly(_ options: Options) throws {
    try options.allow(["vault", "key", "runs", "out", "verify"])
    let directory = try options.require("vault")
    let vault = try Vault.open(at: URL(fileURLWithPath: directory), rootKey: .keyFile(at: options.string("key") ?? directory + ".key"),
                               context: benchContext)
    let admin = AccessContext(actor: "bench", role: "admin", purpose: "privacy-compliance")
    let out = URL(fileURLWithPath: options.string("out") ?? "/tmp")
    for _ in 0..<(try options.int("runs", default: 1)) {
        sync()
        var summary: BackupSummary?
        let cpu0 = ResourceUsage.current()
        let create = try measure { summary = try vault.backups.create(to: out, context: admin) }
        let cpu1 = ResourceUsage.current()
        guard let summary else { return }
        print("createBackup \(fmt(Double(summary.plaintextBytes) / 1e9, 3)) GB in \(fmt(create, 2)) s (\(gbps(Double(summary.plaintextBytes) / 1e9 / create))): snapshot \(fmt(summary.snapshotSeconds, 2)) s, encrypt \(fmt(summary.encryptSeconds, 2)) s, rest \(fmt(create - summary.snapshotSeconds - summary.encryptSeconds, 2)) s; CPU user \(fmt(cpu1.userSeconds - cpu0.userSeconds, 2)) s, sys \(fmt(cpu1.systemSeconds - cpu0.systemSeconds, 2)) s")
        if options.string("verify") == "no" {
            removeIfPresent(summary.file)
            continue
        }
        sync()
        var verification: BackupVerification?
        let verify = try measure { verification = try vault.backups.verify(at: URL(fileURLWithPath: summary.file), context: admin) }
        let cpu2 = ResourceUsage.current()
        removeIfPresent(summary.file)
        let gb = Double(summary.plaintextBytes) / 1e9
        print("verifyBackup \(fmt(verify, 2)) s (\(gbps(gb / verify))), ok \(verification?.ok ?? false); CPU user \(fmt(cpu2.userSeconds - cpu1.userSeconds, 2)) s, sys \(fmt(cpu2.systemSeconds - cpu1.systemSeconds, 2)) s")
    }
}

/// Free bytes on the file system holding `path`.
func freeBytes(_ path: String) -> Int64 {
    var s = statvfs()
    guard statvfs(path, &s) == 0 else { return 0 }
    return Int64(s.f_bavail) * Int64(s.f_frsize)
}

func removeIfPresent(_ path: String) {
    if FileManager.default.fileExists(atPath: path) { try? FileManager.default.removeItem(atPath: path) }
}

func gbps(_ v: Double) -> String { fmt(v, 2) + " GB/s" }

/// "median (min–max)" of a per-run figure.
func spreadText(_ values: [Double], _ decimals: Int = 2, unit: String = "") -> String {
    let s = Stats(values)
    return values.count == 1 ? fmt(s.median, decimals) + unit : "\(fmt(s.median, decimals))\(unit) (\(fmt(s.min, decimals))–\(fmt(s.max, decimals)))"
}

func backupAll(_ options: Options) throws {
    try options.allow(["subjects", "runs", "keep", "vault", "key"])
    let runs = try options.int("runs", default: 3)
    let subjects = try options.int("subjects", default: BackupGoals.defaultSubjects)
    let tools = try ensureAge()
    let started = Date()
    try withTemporaryDirectory(keep: options.flag("keep")) { dir in
        let admin = AccessContext(actor: "bench", role: "admin", purpose: "privacy-compliance")

        // 0. age identity.
        let identity = dir + "/age-identity.txt"
        try runTool(tools.keygen, ["-o", identity], quiet: true)
        let recipient = try runTool(tools.keygen, ["-y", identity]).trimmingCharacters(in: .whitespacesAndNewlines)
        guard recipient.hasPrefix("age1") else { throw UsageError("age-keygen -y gave no public key: \(recipient)") }
        let ageVersion = (try? runTool(tools.age, ["--version"]).trimmingCharacters(in: .whitespacesAndNewlines)) ?? "?"

        // 1. The vault: a kept one, or synthetic customers imported into a new one.
        let vault: Vault
        var importSeconds: Double?
        if let existing = options.string("vault") {
            vault = try Vault.open(at: URL(fileURLWithPath: existing), rootKey: .keyFile(at: options.string("key") ?? existing + ".key"),
                                   context: benchContext)
            progress("using the vault at \(existing)")
        } else {
            let needed = Int64(subjects) * 2_000 * 3  // CSV + store + WAL, generously
            guard freeBytes(dir) > needed else {
                throw UsageError("only \(fmt(Double(freeBytes(dir)) / 1e9, 1)) GB free under \(dir); the import needs ~\(fmt(Double(needed) / 1e9, 1)) GB")
            }
            let bench = try BenchVault.create(in: dir, name: "backup-vault")
            vault = bench.vault
            let csv = dir + "/customers.csv"
            progress("writing \(grouped(Double(subjects))) synthetic customers…")
            try SyntheticCRM.writeCSV(to: csv, count: subjects)
            progress("import…")
            importSeconds = try measure {
                _ = try vault.records.importCSV(at: csv, context: admin) { s in
                    if s.rows % 100_000 < 500 { progress("  \(grouped(Double(s.rows))) rows") }
                }
            }
            removeIfPresent(csv)
            progress("imported in \(fmt(importSeconds ?? 0, 0)) s")
        }
        let storePath = vault.storePath
        // Fold the WAL into the store (nothing else writes), then write everything back.
        try DatabaseQueue(path: storePath).writeWithoutTransaction { db in _ = try db.checkpoint(.truncate) }
        sync()
        let storeBytes = fileSize(storePath)
        let walBytes = fileSize(storePath + "-wal")
        progress("store \(fmt(Double(storeBytes) / 1e9, 3)) GB (WAL \(fmt(Double(walBytes) / 1e6, 1)) MB)")

        // 2. The snapshot everything else processes: SQLite's online backup, as the library
        // takes it (4,096 pages per step), from a store read once into the page cache.
        let storeRead = try BareLoops.readPass(storePath)
        let snapshot = dir + "/snapshot.sqlite"
        removeIfPresent(snapshot)
        let snapshotCopy = try sqliteOnlineBackup(storePath, to: snapshot)
        let snapshotBytes = fileSize(snapshot)
        sync()
        progress("snapshot \(fmt(Double(snapshotBytes) / 1e9, 3)) GB in \(fmt(snapshotCopy, 2)) s (GRDB backup)")

        // Disk: the vault, the snapshot, and at most one output of each kind at a time (the
        // library also writes its own snapshot into the vault directory).
        let needed = snapshotBytes * 4 + 1_000_000_000
        let free = freeBytes(dir)
        guard free > needed else {
            throw UsageError("only \(fmt(Double(free) / 1e9, 1)) GB free under \(dir); the runs need ~\(fmt(Double(needed) / 1e9, 1)) GB")
        }

        var key = [UInt8](repeating: 0, count: Int(crypto_secretstream_xchacha20poly1305_keybytes()))
        crypto_secretstream_xchacha20poly1305_keygen(&key)
        let backups = dir + "/backups"
        try FileManager.default.createDirectory(atPath: backups, withIntermediateDirectories: true)
        let ageOut = dir + "/snapshot.age"
        let bareOut = dir + "/snapshot.ss"
        let copyOut = dir + "/snapshot.copy"

        var results: [BackupRun] = []
        for r in 1...runs {
            progress("run \(r) of \(runs)…")
            // Every pass starts with nothing dirty in the page cache and reads its input from it.
            func settle() { sync() }
            settle()
            let readPass = try BareLoops.readPass(snapshot)  // warms the snapshot
            let hashPass = try BareLoops.readPass(snapshot, hash: true)

            removeIfPresent(copyOut); settle()
            let copy = try BareLoops.copy(snapshot, to: copyOut)
            removeIfPresent(copyOut); settle()

            let ageEncrypt = try timeTool([tools.age, "-r", recipient, "-o", ageOut, snapshot])
            let ageFsync = measure {
                let fd = open(ageOut, O_RDONLY | O_CLOEXEC)
                defer { close(fd) }
                fsync(fd)
            }
            settle()
            let ageDecrypt = try timeTool([tools.age, "-d", "-i", identity, "-o", "/dev/null", ageOut])
            removeIfPresent(ageOut); settle()

            let (push, pull, pushHash, pullHash, shaped) = try key.withUnsafeBufferPointer { k in
                let push = try BareLoops.encrypt(snapshot, to: bareOut, key: k.baseAddress!, hash: false)
                settle()
                let pull = try BareLoops.decrypt(bareOut, key: k.baseAddress!, hash: false)
                removeIfPresent(bareOut); settle()
                let pushHash = try BareLoops.encrypt(snapshot, to: bareOut, key: k.baseAddress!, hash: true)
                settle()
                let pullHash = try BareLoops.decrypt(bareOut, key: k.baseAddress!, hash: true)
                removeIfPresent(bareOut); settle()
                let shaped = try BareLoops.encrypt(snapshot, to: bareOut, key: k.baseAddress!, hash: false, hashOnThread: true, fsyncOutput: true)
                removeIfPresent(bareOut); settle()
                return (push, pull, pushHash, pullHash, shaped)
            }
            guard pull.bytes == snapshotBytes, pullHash.bytes == snapshotBytes else {
                throw UsageError("the bare loops decrypted \(pull.bytes) / \(pullHash.bytes) bytes of \(snapshotBytes)")
            }

            // The library. Its store pages are in the page cache too (read once more here).
            _ = try BareLoops.readPass(storePath)
            let sqliteCopy = dir + "/snapshot-again.sqlite"
            removeIfPresent(sqliteCopy); settle()
            let sqliteBackupSeconds = try sqliteOnlineBackup(storePath, to: sqliteCopy)
            removeIfPresent(sqliteCopy); settle()
            var before = currentRSSKB() ?? 0
            var sampler = RSSSampler()
            var summary: BackupSummary?
            var cpu0 = ResourceUsage.current()
            let createSeconds = try measure {
                summary = try vault.backups.create(to: URL(fileURLWithPath: backups), context: admin)
            }
            var peak = sampler.stop()
            guard let summary else { throw UsageError("createBackup returned nothing") }
            let create = LibraryRun(bytes: summary.plaintextBytes, seconds: createSeconds,
                                    cpuSeconds: ResourceUsage.current().cpuSeconds - cpu0.cpuSeconds, rssBeforeKB: before, peakKB: peak)
            let backupFileBytes = fileSize(summary.file)
            settle()
            let ageEncryptAfter = try timeTool([tools.age, "-r", recipient, "-o", ageOut, snapshot])
            removeIfPresent(ageOut); settle()

            before = currentRSSKB() ?? 0
            sampler = RSSSampler()
            var verification: BackupVerification?
            cpu0 = ResourceUsage.current()
            let verifySeconds = try measure {
                verification = try vault.backups.verify(at: URL(fileURLWithPath: summary.file), context: admin)
            }
            peak = sampler.stop()
            guard let verification else { throw UsageError("verifyBackup returned nothing") }
            let verify = LibraryRun(bytes: summary.plaintextBytes, seconds: verifySeconds,
                                    cpuSeconds: ResourceUsage.current().cpuSeconds - cpu0.cpuSeconds, rssBeforeKB: before, peakKB: peak)
            removeIfPresent(summary.file)

            // With compression (information: no goal), after a sync.
            settle()
            before = currentRSSKB() ?? 0
            sampler = RSSSampler()
            cpu0 = ResourceUsage.current()
            var packed: BackupSummary?
            let packedSeconds = try measure {
                packed = try vault.backups.create(to: URL(fileURLWithPath: backups), compression: try BackupCompression(level: 1), context: admin)
            }
            peak = sampler.stop()
            guard let packed else { throw UsageError("createBackup (compressed) returned nothing") }
            let compressed = LibraryRun(bytes: packed.plaintextBytes, seconds: packedSeconds,
                                        cpuSeconds: ResourceUsage.current().cpuSeconds - cpu0.cpuSeconds, rssBeforeKB: before, peakKB: peak)
            let compressedFileBytes = fileSize(packed.file)
            removeIfPresent(packed.file)

            let run = BackupRun(
                ageEncrypt: ageEncrypt, ageEncryptAfter: ageEncryptAfter, ageFsyncSeconds: ageFsync, ageDecrypt: ageDecrypt, readPass: readPass, hashPass: hashPass,
                copy: copy, push: push, pull: pull, pushHash: pushHash, pullHash: pullHash, pushThreadHashFsync: shaped, sqliteBackupSeconds: sqliteBackupSeconds, create: create,
                snapshotSeconds: summary.snapshotSeconds, encryptSeconds: summary.encryptSeconds, backupFileBytes: backupFileBytes,
                compressed: compressed, compressedFileBytes: compressedFileBytes,
                verify: verify, verifyOK: verification.ok, verifyProblem: verification.problem)
            results.append(run)
            progress("  age \(gbps(run.ageGBps)), createBackup \(gbps(run.backupGBps)) (\(fmt(run.backupOverAge, 2))×), encrypt stage \(gbps(run.encryptStageGBps)); bare pull \(gbps(pull.gbPerSecond)), verifyBackup \(gbps(verify.gbPerSecond)) (\(fmt(run.verifyOverPull, 2))×)\(verification.ok ? "" : "; verify FAILED: \(verification.problem ?? "?")")")
        }

        report(results, subjects: options.string("vault") == nil ? subjects : nil, importSeconds: importSeconds, storeBytes: storeBytes,
               snapshotBytes: snapshotBytes, snapshotCopySeconds: snapshotCopy, storeRead: storeRead, ageVersion: ageVersion,
               totalSeconds: Date().timeIntervalSince(started))
        removeIfPresent(snapshot)
    }
}

private func report(_ results: [BackupRun], subjects: Int?, importSeconds: Double?, storeBytes: Int64, snapshotBytes: Int64,
                    snapshotCopySeconds: Double, storeRead: LoopRun, ageVersion: String, totalSeconds: Double) {
    func col(_ f: (BackupRun) -> Double) -> [Double] { results.map(f) }
    func rate(_ f: (BackupRun) -> Double) -> String { spreadText(col(f), 2, unit: " GB/s") }
    func ratio(_ f: (BackupRun) -> Double) -> String { spreadText(col(f), 2, unit: "×") }
    let n = results.count
    print("== B0. Vault\(subjects.map { " of \(grouped(Double($0))) synthetic customers" } ?? ""): store \(fmt(Double(storeBytes) / 1e9, 3)) GB\(importSeconds.map { " (import \(fmt($0, 0)) s)" } ?? ""); snapshot \(fmt(Double(snapshotBytes) / 1e9, 3)) GB by GRDB's online backup in \(fmt(snapshotCopySeconds, 2)) s (\(gbps(Double(snapshotBytes) / snapshotCopySeconds / 1e9))); first read of the store \(gbps(storeRead.gbPerSecond))")
    print("== B1. Baselines on the snapshot, from the page cache; \(n) run\(n == 1 ? "" : "s"), each cell median (min–max)")
    print("   read (1 MiB blocks)                    \(rate { $0.readPass.gbPerSecond })")
    print("   copy (read + write, no crypto)         \(rate { $0.copy.gbPerSecond })")
    print("   BLAKE2b-256 of the file (read + hash)  \(rate { $0.hashPass.gbPerSecond })    LIMITS.md b2sum ~0.64 GB/s")
    print("   age -r X25519 encrypt (\(ageVersion))          \(rate { $0.ageGBps }) (mean of a pass before and one after createBackup: \(rate { $0.ageGB($0.ageEncrypt.seconds) }) and \(rate { $0.ageGB($0.ageEncryptAfter.seconds) }))")
    print("                                              CPU \(spreadText(col { $0.ageEncrypt.cpuSeconds / $0.ageEncrypt.seconds }, 2))× wall, peak RSS \(spreadText(col { Double($0.ageEncrypt.peakKB) / 1024 }, 1, unit: " MiB"))    LIMITS.md ~1.4 GB/s")
    print("   age encrypt + fsync of its output      \(rate { $0.ageGB($0.ageEncrypt.seconds + $0.ageFsyncSeconds) })")
    print("   age -d to /dev/null                    \(rate { $0.ageGB($0.ageDecrypt.seconds) })    LIMITS.md ~1.0 GB/s")
    print("   bare secretstream push (64 KiB)        \(rate { $0.push.gbPerSecond })    LIMITS.md ~1.1 GB/s")
    print("   bare secretstream pull                 \(rate { $0.pull.gbPerSecond })    LIMITS.md ~1.05 GB/s")
    print("   bare push + BLAKE2b in the same loop   \(rate { $0.pushHash.gbPerSecond })")
    print("   bare pull + BLAKE2b in the same loop   \(rate { $0.pullHash.gbPerSecond })    (restore's path)")
    print("   bare push, BLAKE2b on a 2nd thread, fsync \(rate { $0.pushThreadHashFsync.gbPerSecond })    (createBackup's first shape)")
    print("   SQLite online backup of the store (GRDB, 4,096 pages/step) \(spreadText(col { $0.sqliteBackupSeconds }, 2, unit: " s")) = \(rate { $0.ageGB($0.sqliteBackupSeconds) })")
    print("== B2. vault.backups.create (frozen store file; read, leaf hashes on both cores, secretstream, O_DIRECT writes, fsync)")
    print("   total                                  \(rate { $0.backupGBps })   = \(spreadText(col { $0.create.seconds }, 2, unit: " s")); CPU \(spreadText(col { $0.create.cpuSeconds }, 2, unit: " s"))")
    print("     snapshot (WAL checkpoint, a read transaction that freezes the store file) \(spreadText(col { $0.snapshotSeconds }, 2, unit: " s"))")
    print("     encrypt (read, hash, push, write, fsync) \(spreadText(col { $0.encryptSeconds }, 2, unit: " s")) = \(rate { $0.encryptStageGBps })")
    print("     the rest (audit event, rename, directory fsync) \(spreadText(col { $0.create.seconds - $0.snapshotSeconds - $0.encryptSeconds }, 2, unit: " s"))")
    print("   backup file \(fmt(Double(results[0].backupFileBytes) / 1e9, 3)) GB for \(fmt(Double(results[0].create.bytes) / 1e9, 3)) GB of snapshot")
    print("   RSS \(spreadText(col { Double($0.create.rssBeforeKB) / 1024 }, 1, unit: " MiB")) before, peak \(spreadText(col { Double($0.create.peakKB) / 1024 }, 1, unit: " MiB")) during (sampled every 2 ms)")
    print("   compressed (zstd level 1, information): \(rate { $0.compressed.gbPerSecond }) = \(spreadText(col { $0.compressed.seconds }, 2, unit: " s")); CPU \(spreadText(col { $0.compressed.cpuSeconds }, 2, unit: " s")); file \(fmt(Double(results[0].compressedFileBytes) / 1e9, 3)) GB (\(fmt(Double(results[0].compressedFileBytes) / Double(results[0].create.bytes) * 100, 0))% of the store); peak RSS \(spreadText(col { Double($0.compressed.peakKB) / 1024 }, 1, unit: " MiB"))")
    print("== B3. vault.backups.verify (parse, unwrap the key, authenticate every chunk, check the signed manifest)")
    print("   \(rate { $0.verify.gbPerSecond }) = \(spreadText(col { $0.verify.seconds }, 2, unit: " s")); CPU \(spreadText(col { $0.verify.cpuSeconds }, 2, unit: " s")); ok: \(results.allSatisfy(\.verifyOK) ? "yes, every run" : results.compactMap(\.verifyProblem).joined(separator: "; "))")
    print("   RSS \(spreadText(col { Double($0.verify.rssBeforeKB) / 1024 }, 1, unit: " MiB")) before, peak \(spreadText(col { Double($0.verify.peakKB) / 1024 }, 1, unit: " MiB")) during")

    // Summary table: ratios within each run, then the median over runs.
    let backupRatio = Stats(col(\.backupOverAge)), encryptRatio = Stats(col(\.encryptStageOverAge)), verifyRatio = Stats(col(\.verifyOverPull))
    let peakBytes = Double(results.map { max($0.create.peakKB, $0.verify.peakKB, $0.compressed.peakKB) }.max() ?? 0) * 1024
    func goalVerdict(_ s: Stats, _ goal: Double) -> String {
        (s.median >= goal ? "met" : "MISSED") + " (\(fmt(s.median / goal, 2))× the goal)"
    }
    var rows: [SummaryRow] = [
        SummaryRow(name: "backup, createBackup total vs age", result: "\(rate { $0.backupGBps }) vs \(rate { $0.ageGBps }): \(ratio { $0.backupOverAge })",
                   goal: "≥ 0.80× age", verdict: goalVerdict(backupRatio, BackupGoals.backupOverAge)),
        SummaryRow(name: "  vs the faster age pass of each run", result: ratio { $0.backupGBps / max($0.ageGB($0.ageEncrypt.seconds), $0.ageGB($0.ageEncryptAfter.seconds)) },
                   goal: "(conservative)", verdict: Stats(col { $0.backupGBps / max($0.ageGB($0.ageEncrypt.seconds), $0.ageGB($0.ageEncryptAfter.seconds)) }).median >= BackupGoals.backupOverAge ? "would meet" : "would miss"),
        SummaryRow(name: "  its encrypt stage alone vs age", result: "\(rate { $0.encryptStageGBps }): \(ratio { $0.encryptStageOverAge })",
                   goal: "(info)", verdict: encryptRatio.median >= BackupGoals.backupOverAge ? "would meet" : "would miss"),
        SummaryRow(name: "verify, verifyBackup vs bare pull", result: "\(rate { $0.verify.gbPerSecond }) vs \(rate { $0.pull.gbPerSecond }): \(ratio { $0.verifyOverPull })",
                   goal: "≥ 0.80× bare", verdict: goalVerdict(verifyRatio, BackupGoals.verifyOverBarePull)),
        SummaryRow(name: "memory, peak RSS during create/verify", result: "\(fmt(peakBytes / 1e6, 1)) MB (\(fmt(peakBytes / 1_048_576, 1)) MiB)",
                   goal: "< 100 MB", verdict: (peakBytes < BackupGoals.memoryBytes ? "met" : "MISSED") + " (\(fmt(peakBytes / BackupGoals.memoryBytes, 2))× the cap)"),
        SummaryRow(name: "  encrypt stage vs its bare shape", result: "\(rate { $0.pushThreadHashFsync.gbPerSecond }): \(ratio { $0.encryptStageGBps / $0.pushThreadHashFsync.gbPerSecond })", goal: "(info)", verdict: ""),
        SummaryRow(name: "  snapshot vs bare SQLite online backup", result: ratio { $0.sqliteBackupSeconds / $0.snapshotSeconds }, goal: "(info)", verdict: ""),
        SummaryRow(name: "bare push + BLAKE2b on 2nd thread + fsync vs age", result: ratio { $0.pushThreadHashFsync.gbPerSecond / $0.ageGBps }, goal: "(info)", verdict: ""),
        SummaryRow(name: "bare push, no hash, no fsync vs age", result: ratio { $0.push.gbPerSecond / $0.ageGBps }, goal: "(info)", verdict: ""),
    ]
    if n > 1 {
        rows.append(SummaryRow(name: "noise: spread over runs (max−min)/median", result: "age \(fmt(Stats(col(\.ageGBps)).spreadPercent, 0))%, push \(fmt(Stats(col { $0.push.gbPerSecond }).spreadPercent, 0))%, pull \(fmt(Stats(col { $0.pull.gbPerSecond }).spreadPercent, 0))%, createBackup \(fmt(Stats(col(\.backupGBps)).spreadPercent, 0))%, verify \(fmt(Stats(col { $0.verify.gbPerSecond }).spreadPercent, 0))%",
                               goal: "LIMITS.md ±10–15%", verdict: ""))
    }
    print("== Summary (\(n) run\(n == 1 ? "" : "s"); ratios are within each run, median (min–max))")
    let w0 = rows.map(\.name.count).max() ?? 0, w1 = rows.map(\.result.count).max() ?? 0, w2 = rows.map(\.goal.count).max() ?? 0
    for row in rows {
        print("   \(pad(row.name, w0))  \(pad(row.result, w1))  \(pad(row.goal, w2))  \(row.verdict)")
    }

    func statsJSON(_ values: [Double]) -> JSON { JSON.stats(Stats(values), decimals: 3) }
    print(JSON.object([
        ("benchmark", .string("backup-all")), ("subjects", subjects.map { .int($0) } ?? .null),
        ("import_seconds", importSeconds.map { JSON.r2($0) } ?? .null), ("store_bytes", .number(Double(storeBytes))),
        ("snapshot_bytes", .number(Double(snapshotBytes))), ("snapshot_grdb_seconds", .r2(snapshotCopySeconds)), ("runs", .int(n)),
        ("age_encrypt_gbps", statsJSON(col(\.ageGBps))), ("age_encrypt_after_gbps", statsJSON(col { $0.ageGB($0.ageEncryptAfter.seconds) })), ("age_encrypt_fsync_gbps", statsJSON(col { $0.ageGB($0.ageEncrypt.seconds + $0.ageFsyncSeconds) })),
        ("age_decrypt_gbps", statsJSON(col { $0.ageGB($0.ageDecrypt.seconds) })), ("age_peak_rss_kb", .number(Double(results.map(\.ageEncrypt.peakKB).max() ?? 0))),
        ("read_gbps", statsJSON(col { $0.readPass.gbPerSecond })), ("copy_gbps", statsJSON(col { $0.copy.gbPerSecond })),
        ("blake2b_gbps", statsJSON(col { $0.hashPass.gbPerSecond })),
        ("bare_push_gbps", statsJSON(col { $0.push.gbPerSecond })), ("bare_pull_gbps", statsJSON(col { $0.pull.gbPerSecond })),
        ("bare_push_blake2b_gbps", statsJSON(col { $0.pushHash.gbPerSecond })), ("bare_push_thread_hash_fsync_gbps", statsJSON(col { $0.pushThreadHashFsync.gbPerSecond })), ("bare_pull_blake2b_gbps", statsJSON(col { $0.pullHash.gbPerSecond })),
        ("backup_gbps", statsJSON(col(\.backupGBps))), ("backup_seconds", statsJSON(col { $0.create.seconds })),
        ("backup_snapshot_seconds", statsJSON(col(\.snapshotSeconds))), ("sqlite_backup_seconds", statsJSON(col(\.sqliteBackupSeconds))), ("backup_encrypt_seconds", statsJSON(col(\.encryptSeconds))),
        ("backup_encrypt_stage_gbps", statsJSON(col(\.encryptStageGBps))), ("backup_cpu_seconds", statsJSON(col { $0.create.cpuSeconds })),
        ("backup_over_age", statsJSON(col(\.backupOverAge))),
        ("backup_over_faster_age", statsJSON(col { $0.backupGBps / max($0.ageGB($0.ageEncrypt.seconds), $0.ageGB($0.ageEncryptAfter.seconds)) })), ("backup_encrypt_stage_over_age", statsJSON(col(\.encryptStageOverAge))),
        ("compressed_backup_gbps", statsJSON(col { $0.compressed.gbPerSecond })), ("compressed_file_bytes", .number(Double(results[0].compressedFileBytes))),
        ("verify_gbps", statsJSON(col { $0.verify.gbPerSecond })), ("verify_cpu_seconds", statsJSON(col { $0.verify.cpuSeconds })),
        ("verify_over_bare_pull", statsJSON(col(\.verifyOverPull))), ("verify_ok", .bool(results.allSatisfy(\.verifyOK))),
        ("backup_rss_before_kb", .number(Double(results.map(\.create.rssBeforeKB).max() ?? 0))),
        ("backup_rss_peak_kb", .number(Double(results.map(\.create.peakKB).max() ?? 0))),
        ("verify_rss_peak_kb", .number(Double(results.map(\.verify.peakKB).max() ?? 0))),
        ("goal_backup_met", .bool(backupRatio.median >= BackupGoals.backupOverAge)),
        ("goal_verify_met", .bool(verifyRatio.median >= BackupGoals.verifyOverBarePull)),
        ("goal_memory_met", .bool(peakBytes < BackupGoals.memoryBytes)),
        ("total_s", .number(totalSeconds.rounded())),
    ]).text)
}
