import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import PrivacyKit
import PrivacyServer

// Issue 21's HTTP benchmark (release, loopback, client and server on this machine): one
// decrypt per request and a batch of 100 decrypts per request through privacyd, against a
// minimal endpoint of the same HTTP stack with the same TLS and keep-alive, in one run.
// See Benchmarks/README.md ("privacyd over HTTPS").

struct Arguments {
    var seconds = 5.0
    var connections = 8
    var rounds = 3
    var batch = 100

    init(_ arguments: [String]) throws {
        var rest = arguments[...]
        while let flag = rest.popFirst() {
            guard let value = rest.popFirst() else { throw BenchError("\(flag) needs a value") }
            switch flag {
            case "--seconds": seconds = Double(value) ?? seconds
            case "--connections": connections = Int(value) ?? connections
            case "--rounds": rounds = Int(value) ?? rounds
            case "--batch": batch = Int(value) ?? batch
            default: throw BenchError("unknown option \(flag) (--seconds S --connections N --rounds R --batch B)")
            }
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

enum Goals {
    static let batchValuesPerSecond = 50_000.0
    static let singleVersusMinimal = 0.25
}

func shell(_ arguments: [String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw BenchError("\(arguments.joined(separator: " ")) failed") }
}

/// A CA and a certificate for localhost, as the tests make them.
func makeCertificates(in dir: String) throws {
    try "subjectAltName=DNS:localhost,IP:127.0.0.1\n".write(toFile: dir + "/san.ext", atomically: true, encoding: .utf8)
    try shell(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/ca.key",
               "-out", dir + "/ca.pem", "-days", "1", "-subj", "/CN=bench CA"])
    try shell(["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", dir + "/server.key",
               "-out", dir + "/server.csr", "-subj", "/CN=localhost"])
    try shell(["openssl", "x509", "-req", "-in", dir + "/server.csr", "-CA", dir + "/ca.pem", "-CAkey", dir + "/ca.key", "-CAcreateserial",
               "-out", dir + "/server.pem", "-days", "1", "-extfile", dir + "/san.ext"])
}

/// Starts `body`'s server and returns its port once it listens.
func listening(_ start: @escaping @Sendable (@escaping @Sendable (Int) -> Void) async throws -> Void) async throws -> (port: Int, task: Task<Void, any Error>) {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    let task = Task { try await start { continuation.yield($0) } }
    for await port in ports { return (port, task) }
    throw BenchError("the server did not start")
}

struct Scenario {
    let name: String
    let method: HTTPMethod
    let path: String
    let body: Data?
    let valuesPerRequest: Int
}

struct Measured {
    let requests: Int
    let seconds: Double
    let latencies: [Double]
    var requestsPerSecond: Double { Double(requests) / seconds }
    func percentile(_ p: Double) -> Double {
        let sorted = latencies.sorted()
        return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p / 100))]
    }
}

/// `connections` clients, each sending one request after the other on its keep-alive
/// connection for `seconds`; every answer must be 200.
func load(_ client: HTTPClient, base: String, token: String, scenario: Scenario, connections: Int, seconds: Double) async throws -> Measured {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    let results = try await withThrowingTaskGroup(of: [Double].self) { group in
        for _ in 0..<connections {
            group.addTask {
                var latencies: [Double] = []
                while ContinuousClock.now < deadline {
                    var request = HTTPClientRequest(url: base + scenario.path)
                    request.method = scenario.method
                    request.headers.add(name: "Authorization", value: "Bearer \(token)")
                    request.headers.add(name: "PrivacyKit-Purpose", value: "customer-support")
                    request.headers.add(name: "Content-Type", value: "application/json")
                    if let body = scenario.body { request.body = .bytes(ByteBuffer(bytes: body)) }
                    let started = ContinuousClock.now
                    let response = try await client.execute(request, timeout: .seconds(30))
                    _ = try await response.body.collect(upTo: 16 << 20)
                    guard response.status == .ok else { throw BenchError("\(scenario.name): HTTP \(response.status.code)") }
                    let elapsed = ContinuousClock.now - started
                    latencies.append(Double(elapsed.components.attoseconds) / 1e12 + Double(elapsed.components.seconds) * 1e6)
                }
                return latencies
            }
        }
        var all: [[Double]] = []
        for try await latencies in group { all.append(latencies) }
        return all
    }
    let latencies = results.flatMap { $0 }
    return Measured(requests: latencies.count, seconds: seconds, latencies: latencies)
}

func fmt(_ value: Double, _ decimals: Int = 0) -> String { String(format: "%.\(decimals)f", value) }

func run(_ arguments: Arguments) async throws {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("privacyd-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try makeCertificates(in: dir)
    let keyFile = dir + "/root.key"
    try RootKey.generateKeyFile(at: keyFile)
    let vault = try Vault.create(at: URL(fileURLWithPath: dir + "/vault"), rootKey: .keyFile(at: keyFile))
    let admin = AccessContext(actor: "bench", role: "admin", purpose: "privacy-compliance")
    let token = try vault.clients.add(name: "bench", role: "service", purposes: ["customer-support"], context: admin).token
    let service = AccessContext(actor: "bench", role: "service", purpose: "customer-support")
    let subjects = (0..<arguments.batch).map { "s\($0)" }
    let sealed = try vault.records.encrypt(subjects.map { ValueItem(value: "\($0)@example.com", field: "email", subject: $0) }, context: service)
    let items: [[String: String]] = try zip(subjects, sealed).map { ["envelope": try $1.get(), "field": "email", "subject": $0] }
    let single = try JSONSerialization.data(withJSONObject: ["items": [items[0]]])
    let batch = try JSONSerialization.data(withJSONObject: ["items": items])

    let logger = {
        var logger = Logger(label: "privacyd-bench")
        logger.logLevel = .warning
        return logger
    }()
    let files = ServerConfiguration.TLSFiles(certificateChain: dir + "/server.pem", privateKey: dir + "/server.key")
    let server = try await listening { ready in
        try await PrivacyServer.run(vault: vault, configuration: ServerConfiguration(host: "127.0.0.1", port: 0, tls: files), logger: logger,
                                    onListening: ready)
    }
    // The minimal endpoint: the same stack, TLS configuration and keep-alive, no vault.
    let tls = try PrivacyServer.tlsConfiguration(files)
    let minimal = try await listening { ready in
        let router = Router()
        router.get("minimal") { _, _ in Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: "{\"ok\":true}"))) }
        let app = Application(router: router, server: try .tls(.http1(), tlsConfiguration: tls),
                              configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { ready($0.localAddress?.port ?? 0) }, logger: logger)
        try await app.run()
    }
    var clientTLS = TLSConfiguration.makeClientConfiguration()
    clientTLS.trustRoots = .file(dir + "/ca.pem")
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(
        tlsConfiguration: clientTLS, connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: arguments.connections)))
    let scenarios = [
        (Scenario(name: "minimal", method: .GET, path: "/minimal", body: nil, valuesPerRequest: 0), "https://localhost:\(minimal.port)"),
        (Scenario(name: "decrypt-1", method: .POST, path: "/v1/transit/decrypt", body: single, valuesPerRequest: 1), "https://localhost:\(server.port)"),
        (Scenario(name: "decrypt-\(arguments.batch)", method: .POST, path: "/v1/transit/decrypt", body: batch, valuesPerRequest: arguments.batch),
         "https://localhost:\(server.port)"),
    ]
    print("== H1. privacyd over HTTPS on loopback: \(arguments.connections) keep-alive connections, \(fmt(arguments.seconds)) s per scenario, \(arguments.rounds) alternating rounds (1 s warm-up each)")
    var measured: [String: [Measured]] = [:]
    for _ in 0..<arguments.rounds {
        for (scenario, base) in scenarios {
            _ = try await load(client, base: base, token: token, scenario: scenario, connections: arguments.connections, seconds: 1)
            measured[scenario.name, default: []].append(
                try await load(client, base: base, token: token, scenario: scenario, connections: arguments.connections, seconds: arguments.seconds))
        }
    }
    try await client.shutdown()
    server.task.cancel()
    minimal.task.cancel()
    func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
    var json: [String: Any] = ["benchmark": "privacyd-http", "connections": arguments.connections, "seconds": arguments.seconds, "rounds": arguments.rounds]
    for (scenario, _) in scenarios {
        let runs = measured[scenario.name]!
        let rps = runs.map(\.requestsPerSecond)
        let p50 = median(runs.map { $0.percentile(50) }), p99 = median(runs.map { $0.percentile(99) })
        let values = median(rps) * Double(scenario.valuesPerRequest)
        print("   \(scenario.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(fmt(median(rps))) requests/s (\(fmt(rps.min()!))–\(fmt(rps.max()!)))"
              + (scenario.valuesPerRequest > 0 ? "  \(fmt(values)) values/s" : "") + "  p50 \(fmt(p50)) µs  p99 \(fmt(p99)) µs")
        json[scenario.name] = ["requests_per_second": median(rps), "min": rps.min()!, "max": rps.max()!, "values_per_second": values,
                               "p50_us": p50, "p99_us": p99]
    }
    let minimalRPS = median(measured["minimal"]!.map(\.requestsPerSecond))
    let singleRPS = median(measured["decrypt-1"]!.map(\.requestsPerSecond))
    let batchValues = median(measured["decrypt-\(arguments.batch)"]!.map(\.requestsPerSecond)) * Double(arguments.batch)
    let ratio = singleRPS / minimalRPS
    print("   goal single decrypts ≥ \(Goals.singleVersusMinimal)× the minimal endpoint: \(ratio >= Goals.singleVersusMinimal ? "met" : "MISSED") (\(fmt(ratio, 3))×)")
    print("   goal batches ≥ \(fmt(Goals.batchValuesPerSecond)) audited values/s: \(batchValues >= Goals.batchValuesPerSecond ? "met" : "MISSED") (\(fmt(batchValues)))")
    json["single_vs_minimal"] = ratio
    json["batch_values_per_second"] = batchValues
    print(String(decoding: try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]), as: UTF8.self))
}

do {
    try await run(try Arguments(Array(CommandLine.arguments.dropFirst())))
} catch {
    FileHandle.standardError.write(Data("privacyd-bench: \(error)\n".utf8))
    exit(1)
}
