import Foundation
import Testing

/// A real privacyd on loopback with TLS under a CA made for the test, a vault made with the
/// real privacyctl, and curl as the client: the way a service in any language meets it.
final class Harness {
    let dir: URL
    let vault: String
    let keyFile: String
    let ca: String
    private(set) var process: Process?
    private(set) var url = ""
    private var stderrPipe = Pipe()
    private var stdoutPipe = Pipe()

    static let products: URL = {
        let candidates = [Bundle.main.bundleURL, URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0.appendingPathComponent("privacyd").path) } ?? candidates[1]
    }()

    /// PGPASSWORD when the store is PostgreSQL (its URL in the vault has no password).
    private(set) var storeEnvironment: [String: String] = [:]

    /// The PostgreSQL server of `PRIVACYKIT_TEST_POSTGRES` (scripts/test starts one), if set.
    static let postgresURL: String? = ProcessInfo.processInfo.environment["PRIVACYKIT_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }

    /// A vault in a new directory: on SQLite, or with `postgres` in a fresh schema of the
    /// test server.
    init(postgres: Bool = false) throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("privacyd-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        vault = dir.appendingPathComponent("vault").path
        keyFile = dir.appendingPathComponent("root.key").path
        ca = dir.appendingPathComponent("ca.pem").path
        try Self.makeCertificates(in: dir.path)
        try privacyctl(["keys", "generate-key-file", keyFile])
        var store: [String] = []
        if postgres {
            let url = try #require(Self.postgresURL)
            var server = try #require(URLComponents(string: url))
            storeEnvironment["PGPASSWORD"] = server.password?.removingPercentEncoding ?? ""
            server.password = nil
            server.queryItems = (server.queryItems ?? []) + [URLQueryItem(name: "schema", value: "privacyd_" + String(UInt64.random(in: 1...UInt64.max), radix: 16))]
            store = ["--store", try #require(server.string)]
        }
        try privacyctl(["init", "--vault", vault, "--key-file", keyFile] + store)
    }

    deinit {
        stop()
        try? FileManager.default.removeAll(at: dir)
    }

    /// A CA and a server certificate for localhost and 127.0.0.1, signed by it (openssl).
    static func makeCertificates(in dir: String, caName: String = "ca", serverName: String = "server") throws {
        let ext = dir + "/san.ext"
        try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: ext, atomically: true, encoding: .utf8)
        for command in [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/\(caName).key",
             "-out", "\(dir)/\(caName).pem", "-days", "2", "-subj", "/CN=privacyd test CA"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(dir)/\(serverName).key",
             "-out", "\(dir)/\(serverName).csr", "-subj", "/CN=localhost"],
            ["x509", "-req", "-in", "\(dir)/\(serverName).csr", "-CA", "\(dir)/\(caName).pem", "-CAkey", "\(dir)/\(caName).key",
             "-CAcreateserial", "-out", "\(dir)/\(serverName).pem", "-days", "2", "-extfile", ext],
        ] {
            let result = try run("/usr/bin/openssl", command)
            guard result.status == 0 else { throw HarnessError("openssl \(command[0]) failed: \(result.stderr)") }
        }
    }

    /// A CA named `ca` (made if missing) and a client certificate `name` it signs, with
    /// `subject` in openssl's form (/O=Example/CN=orders).
    func makeClientCertificate(ca: String, name: String, subject: String) throws {
        let d = dir.path
        var commands: [[String]] = []
        if !FileManager.default.fileExists(atPath: "\(d)/\(ca).pem") {
            commands.append(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(d)/\(ca).key",
                             "-out", "\(d)/\(ca).pem", "-days", "2", "-subj", "/CN=\(ca)"])
        }
        commands += [
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(d)/\(name).key", "-out", "\(d)/\(name).csr",
             "-subj", subject],
            ["x509", "-req", "-in", "\(d)/\(name).csr", "-CA", "\(d)/\(ca).pem", "-CAkey", "\(d)/\(ca).key", "-CAcreateserial",
             "-out", "\(d)/\(name).pem", "-days", "2"],
        ]
        for command in commands {
            let result = try Self.run("/usr/bin/openssl", command)
            guard result.status == 0 else { throw HarnessError("openssl \(command[0]) failed: \(result.stderr)") }
        }
    }

    struct Output {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    struct HarnessError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:], input: Data? = nil) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()].merging(environment) { $1 }
        let out = Pipe(), err = Pipe(), inPipe = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inPipe
        try process.run()
        if let input { inPipe.fileHandleForWriting.write(input) }
        try inPipe.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// Runs privacyctl on this vault (as admin) and returns its JSON answer.
    @discardableResult
    func privacyctl(_ arguments: [String]) throws -> [String: Any] {
        let result = try Self.run(Self.products.appendingPathComponent("privacyctl").path, arguments + ["--json"],
                                  environment: ["PRIVACYKIT_VAULT": vault, "PRIVACYKIT_KEY_FILE": keyFile].merging(storeEnvironment) { $1 })
        guard result.status == 0 else { throw HarnessError("privacyctl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)") }
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// Registers a client and returns its token.
    func addClient(_ name: String, role: String, purposes: [String], extra: [String] = []) throws -> String {
        let answer = try privacyctl(["clients", "add", name, "--role", role, "--purpose"] + purposes + extra)
        return try #require(answer["token"] as? String)
    }

    /// Starts privacyd on a free loopback port and waits until it listens.
    func start(_ extra: [String] = []) throws {
        let process = Process()
        process.executableURL = Self.products.appendingPathComponent("privacyd")
        process.arguments = ["--vault", vault, "--key-file", keyFile, "--listen", "127.0.0.1:0",
                             "--tls-cert", dir.appendingPathComponent("server.pem").path, "--tls-key", dir.appendingPathComponent("server.key").path] + extra
        process.environment = ["PATH": "/usr/bin:/bin", "HOME": NSTemporaryDirectory()].merging(storeEnvironment) { $1 }
        stdoutPipe = Pipe()
        stderrPipe = Pipe()
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        self.process = process
        var seen = Data()
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let chunk = stdoutPipe.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen.append(chunk)
            let text = String(decoding: seen, as: UTF8.self)
            if let range = text.range(of: "listening on ") {
                url = String(text[range.upperBound...].prefix { !$0.isNewline })
                url = url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
                return
            }
        }
        throw HarnessError("privacyd did not start: \(String(decoding: stderrPipe.fileHandleForReading.availableData, as: UTF8.self))")
    }

    /// Stops privacyd with SIGTERM and returns its exit status and everything it logged.
    @discardableResult
    func stop() -> (status: Int32, log: String) {
        guard let process, process.isRunning else { return (process?.terminationStatus ?? 0, "") }
        process.terminate()
        let log = stderrPipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        self.process = nil
        return (process.terminationStatus, String(decoding: log, as: UTF8.self))
    }

    struct Response {
        let status: Int
        let body: [String: Any]
        let text: String

        var errorCode: String? { (body["error"] as? [String: Any])?["code"] as? String }
        var results: [[String: Any]] { body["results"] as? [[String: Any]] ?? [] }
    }

    /// `curl` against the server: POST with `body` (JSON) when given, else GET.
    func call(_ path: String, token: String?, purpose: String? = nil, body: Any? = nil, raw: Data? = nil, headers: [String] = [],
              certificate: String? = nil) throws -> Response {
        var arguments = ["-sS", "--cacert", ca, "-o", "-", "-w", "\n%{http_code}", "-H", "Content-Type: application/json"]
        if let certificate { arguments += ["--cert", "\(dir.path)/\(certificate).pem", "--key", "\(dir.path)/\(certificate).key"] }
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let purpose { arguments += ["-H", "PrivacyKit-Purpose: \(purpose)"] }
        for header in headers { arguments += ["-H", header] }
        var input: Data?
        if let raw {
            input = raw
        } else if let body {
            input = try JSONSerialization.data(withJSONObject: body)
        }
        if input != nil { arguments += ["--data-binary", "@-"] }
        arguments.append(url + path)
        let result = try Self.run("/usr/bin/curl", arguments, input: input)
        guard result.status == 0, let newline = result.stdout.lastIndex(of: "\n"), let status = Int(result.stdout[result.stdout.index(after: newline)...]) else {
            throw HarnessError("curl \(path) failed (\(result.status)): \(result.stderr)")
        }
        let text = String(result.stdout[..<newline])
        let json = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return Response(status: status, body: json, text: text)
    }
}

extension FileManager {
    func removeAll(at url: URL) throws {
        if fileExists(atPath: url.path) { try removeItem(at: url) }
    }
}
