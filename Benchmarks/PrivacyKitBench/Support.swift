import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Small helpers for the benchmark program: argument parsing, timing, statistics, memory
// and CPU usage, temporary directories, and a minimal JSON writer. No dependencies.

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `command [--name value | --name=value | --flag]...`, parsed by hand.
struct Options {
    let command: String
    private var values: [String: String] = [:]
    private var flags: Set<String> = []

    /// Options that take no value.
    static let flagNames: Set<String> = ["keep", "help", "pooled", "check", "existing"]

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        guard let first = rest.popFirst() else {
            command = "help"
            return
        }
        command = first == "-h" || first == "--help" ? "help" : first
        while let argument = rest.popFirst() {
            guard argument.hasPrefix("--"), argument.count > 2 else {
                throw UsageError("unexpected argument '\(argument)'")
            }
            let name = String(argument.dropFirst(2))
            if let eq = name.firstIndex(of: "=") {
                values[String(name[..<eq])] = String(name[name.index(after: eq)...])
                continue
            }
            if Self.flagNames.contains(name) {
                flags.insert(name)
                continue
            }
            guard let value = rest.popFirst() else {
                throw UsageError("--\(name) needs a value")
            }
            values[name] = value
        }
    }

    /// Rejects options the command does not know (a typo would otherwise be ignored).
    func allow(_ names: Set<String>) throws {
        for name in Set(values.keys).union(flags) where !names.contains(name) {
            throw UsageError("\(command): unknown option --\(name)")
        }
    }

    func string(_ name: String) -> String? { values[name] }

    func require(_ name: String) throws -> String {
        guard let value = values[name], !value.isEmpty else {
            throw UsageError("\(command): --\(name) is required")
        }
        return value
    }

    /// An integer option; accepts `1_000_000`, `1,000,000`, `100k` and `1m`.
    func int(_ name: String, default fallback: Int, minimum: Int = 1) throws -> Int {
        guard var text = values[name]?.lowercased() else { return fallback }
        text.removeAll { $0 == "_" || $0 == "," }
        var multiplier = 1
        if text.hasSuffix("k") { multiplier = 1_000; text.removeLast() }
        else if text.hasSuffix("m") { multiplier = 1_000_000; text.removeLast() }
        guard let value = Int(text), value * multiplier >= minimum else {
            throw UsageError("--\(name) must be an integer ≥ \(minimum), got '\(values[name] ?? "")'")
        }
        return value * multiplier
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }
}

// MARK: - Timing

let clock = ContinuousClock()

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}

/// Wall time of `body`, in seconds.
@inline(never)
func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = clock.now
    try body()
    return (clock.now - start).seconds
}

/// Summary statistics of a sample.
struct Stats {
    let sorted: [Double]

    init(_ values: [Double]) {
        precondition(!values.isEmpty, "no samples")
        sorted = values.sorted()
    }

    var count: Int { sorted.count }
    var min: Double { sorted[0] }
    var max: Double { sorted[sorted.count - 1] }
    var mean: Double { sorted.reduce(0, +) / Double(sorted.count) }
    var median: Double { percentile(50) }

    /// Linear interpolation between closest ranks.
    func percentile(_ p: Double) -> Double {
        let rank = p / 100 * Double(sorted.count - 1)
        let lower = Int(rank.rounded(.down))
        let upper = Swift.min(lower + 1, sorted.count - 1)
        let weight = rank - Double(lower)
        return sorted[lower] * (1 - weight) + sorted[upper] * weight
    }

    /// (max − min) / median, in percent.
    var spreadPercent: Double { (max - min) / median * 100 }
}

// MARK: - Resource usage

struct ResourceUsage {
    /// Peak resident set size of this process so far, in KiB (Linux reports kilobytes).
    let maxRSSKB: Int
    let userSeconds: Double
    let systemSeconds: Double
    var cpuSeconds: Double { userSeconds + systemSeconds }

    static func current() -> ResourceUsage {
        var usage = rusage()
        #if os(Linux)
        _ = getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        _ = getrusage(RUSAGE_SELF, &usage)
        #endif
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) * 1e-6 }
        #if os(Linux)
        let rss = Int(usage.ru_maxrss)
        #else
        let rss = Int(usage.ru_maxrss) / 1024  // bytes on macOS
        #endif
        return ResourceUsage(maxRSSKB: rss, userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime))
    }
}

/// Current resident set size from /proc/self/statm (Linux), in KiB; nil elsewhere.
func currentRSSKB() -> Int? {
    let fd = open("/proc/self/statm", O_RDONLY)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 128)
    let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
    guard n > 0 else { return nil }
    let fields = buffer[..<n].split(separator: UInt8(ascii: " "))
    guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
}

/// The peak RSS of this process image (VmHWM in /proc/self/status, Linux), in KiB: unlike
/// ru_maxrss it never includes a parent's memory.
func peakRSSKB() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
    else { return nil }
    return Int(line.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
}

/// Samples the current RSS every few milliseconds on a background thread, to find the
/// peak reached while some work runs (ru_maxrss cannot show a peak lower than the one
/// the process reached while starting up).
final class RSSSampler: Sendable {
    private let peak = Mutex(0)
    private let running = Atomic<Bool>(true)
    private let finished = DispatchSemaphore(value: 0)
    private let intervalMicroseconds: UInt32

    init(intervalMicroseconds: UInt32 = 2_000) {
        self.intervalMicroseconds = intervalMicroseconds
        sample()
        Thread.detachNewThread { [self] in
            while running.load(ordering: .relaxed) {
                sample()
                usleep(self.intervalMicroseconds)
            }
            finished.signal()
        }
    }

    private func sample() {
        if let rss = currentRSSKB() { peak.withLock { $0 = max($0, rss) } }
    }

    /// Stops sampling; returns the peak RSS seen, in KiB.
    func stop() -> Int {
        running.store(false, ordering: .relaxed)
        finished.wait()
        sample()
        return peak.withLock { $0 }
    }
}

// MARK: - Files and processes

/// A fresh private directory under /tmp.
func makeTemporaryDirectory() throws -> String {
    var template = Array("/tmp/privacykit-bench-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in mkdtemp(buffer.baseAddress!) != nil }
    guard made else {
        throw UsageError("cannot create a temporary directory under /tmp: \(String(cString: strerror(errno)))")
    }
    return template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

/// Bytes of a file, 0 if it does not exist.
func fileSize(_ path: String) -> Int64 {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.int64Value ?? 0
}

/// This program's own executable, to run a subcommand in a child process.
func executablePath() -> String {
    #if os(Linux)
    if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
    #endif
    return CommandLine.arguments[0]
}

/// Runs this program with `arguments`; returns its standard output (standard error is
/// passed through). Throws if it exits non-zero.
///
/// The child is started through `/bin/sh`, which forks it rather than exec'ing it: on
/// Linux, a process's ru_maxrss starts from the peak RSS of the address space it was
/// exec'ed from, so a child spawned straight from this (larger) process would report
/// this process's peak instead of its own. Forked from the small shell, it starts from
/// the shell's few MiB.
func runChild(_ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", "\"$@\"; exit $?", "sh", executablePath()] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let output = String(decoding: data, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw UsageError("child `\(arguments.joined(separator: " "))` exited with status \(process.terminationStatus):\n\(output)")
    }
    return output
}

/// Progress and notes go to standard error, so standard output stays the report.
func progress(_ message: String) {
    fflush(nil)  // the report so far first, so the two streams stay in order
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

// MARK: - Formatting

func fmt(_ value: Double, _ decimals: Int = 0) -> String {
    String(format: "%.\(decimals)f", value)
}

/// 52,345
func grouped(_ value: Double) -> String {
    let digits = String(Int(value.rounded()))
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
        if i > 0, i % 3 == 0, c != "-" { out.append(",") }
        out.append(c)
    }
    return String(out.reversed())
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

func padLeft(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// A tiny JSON value, written with keys in the order given.
indirect enum JSON {
    case number(Double)
    case int(Int)
    case string(String)
    case bool(Bool)
    case null
    case array([JSON])
    case object([(String, JSON)])

    var text: String {
        switch self {
        case .number(let v): v.isFinite ? String(format: "%.6g", v) : "null"
        case .int(let v): String(v)
        case .string(let s): Self.quote(s)
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        case .array(let items): "[" + items.map(\.text).joined(separator: ",") + "]"
        case .object(let pairs): "{" + pairs.map { Self.quote($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }

    static func stats(_ s: Stats, decimals: Int = 0) -> JSON {
        let scale = pow(10, Double(decimals))
        func r(_ v: Double) -> JSON { .number((v * scale).rounded() / scale) }
        return .object([("median", r(s.median)), ("min", r(s.min)), ("max", r(s.max)),
                        ("spread_pct", r2(s.spreadPercent)), ("n", .int(s.count))])
    }

    static func r2(_ v: Double) -> JSON { .number((v * 100).rounded() / 100) }
}
