import Foundation
import Testing

/// Runs the built `privacyctl` binary as a user would, with a clean environment.
enum CLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String

        /// The standard output parsed as one JSON object.
        func json() throws -> [String: Any] {
            let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8))
            return try #require(object as? [String: Any], "stdout is not a JSON object: \(stdout)")
        }
    }

    /// The directory SwiftPM builds products into; the test bundle sits there too.
    static let binary: URL = {
        let candidates = [
            ProcessInfo.processInfo.environment["PRIVACYCTL_BINARY"].map { URL(fileURLWithPath: $0) },
            Bundle.main.bundleURL.appendingPathComponent("privacyctl"),
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("privacyctl"),
        ].compactMap { $0 }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.path) } ?? candidates[candidates.count - 1]
    }()

    /// Runs `privacyctl arguments…` detached from any terminal (through `setsid`, so it can
    /// never prompt), with only `environment` plus PATH and HOME set.
    /// `wrapper` runs privacyctl (e.g. `setpriv --reuid=nobody …`). `input` is its standard
    /// input (none by default).
    static func run(_ arguments: [String], environment: [String: String] = [:], in directory: String? = nil, wrapper: [String] = [], input: Data? = nil) throws -> Result {
        try launch(arguments, environment: environment, in: directory, wrapper: wrapper, input: input)
    }

    /// Runs `privacyctl arguments…` on a pseudo-terminal (through `script`) and plays a
    /// dialogue: wait until the output contains each prompt, then type its answer. Waiting
    /// for the prompt matters: input typed earlier is flushed when echo is turned off.
    static func converse(_ arguments: [String], dialogue: [(prompt: String, answer: String)]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        let command = ([binary.path] + arguments).map { "'\($0)'" }.joined(separator: " ")
        process.arguments = ["-qec", command, "/dev/null"]
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory(), "TERM": "dumb"]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Never hang a test run: end the conversation after 60 s whatever happens.
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }

        var transcript = Data()
        var searchFrom = 0
        for step in dialogue {
            while true {
                let seen = String(decoding: transcript[searchFrom...], as: UTF8.self)
                if let range = seen.range(of: step.prompt) {
                    searchFrom += seen[..<range.upperBound].utf8.count
                    break
                }
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }  // EOF: the program ended before the prompt
                transcript.append(chunk)
            }
            try input.fileHandleForWriting.write(contentsOf: Data((step.answer + "\n").utf8))
        }
        try input.fileHandleForWriting.close()
        transcript.append(output.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: transcript, as: UTF8.self), stderr: "")
    }

    private static func launch(_ arguments: [String], environment: [String: String], in directory: String?, wrapper: [String], input: Data?) throws -> Result {
        let setsid = "/usr/bin/setsid"
        var env = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()]
        env.merge(environment) { $1 }
        if FileManager.default.isExecutableFile(atPath: setsid) {
            // --wait: setsid forks when it is a group leader; wait to get the real status.
            return try execute(URL(fileURLWithPath: setsid), ["--wait"] + wrapper + [binary.path] + arguments, environment: env, in: directory, input: input)
        }
        if let first = wrapper.first {
            return try execute(URL(fileURLWithPath: first), Array(wrapper.dropFirst()) + [binary.path] + arguments, environment: env, in: directory, input: input)
        }
        return try execute(binary, arguments, environment: env, in: directory, input: input)
    }

    /// Runs any program with exactly `environment`, `input` (else nothing) on its standard
    /// input, and its output collected through files (not pipes: nothing can block on a
    /// full pipe).
    static func execute(_ executable: URL, _ arguments: [String], environment: [String: String], in directory: String? = nil, input: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = environment
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let outURL = FileManager.default.temporaryDirectory.appendingPathComponent("privacyctl-out-\(UUID().uuidString)")
        let errURL = FileManager.default.temporaryDirectory.appendingPathComponent("privacyctl-err-\(UUID().uuidString)")
        let inURL = FileManager.default.temporaryDirectory.appendingPathComponent("privacyctl-in-\(UUID().uuidString)")
        try Data().write(to: outURL)
        try Data().write(to: errURL)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
            try? FileManager.default.removeItem(at: inURL)
        }
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        if let input {
            try input.write(to: inURL)
            process.standardInput = try FileHandle(forReadingFrom: inURL)
        } else {
            process.standardInput = FileHandle.nullDevice
        }
        try process.run()
        process.waitUntilExit()
        try out.close()
        try err.close()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
            stderr: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
    }
}

/// A temporary directory removed when the test's scope ends.
final class Scratch {
    let path: String

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("privacyctl-test-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Writes a secret file with `mode`.
    func secret(_ name: String, _ contents: String, mode: Int = 0o600) throws -> String {
        let path = file(name)
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func bytes(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: file(name))) }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
