import Foundation
import GRDB
import PrivacyKitPostgres
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// The backend the store-facing suites run against: SQLite by default, PostgreSQL with
/// `PRIVACYKIT_TEST_BACKEND=postgres` and `PRIVACYKIT_TEST_POSTGRES` naming a server
/// (`eval "$(scripts/postgres start)"`; scripts/test runs this suite both ways). One suite,
/// run once per backend; the tests about the SQLite file itself are
/// `.enabled(if: TestBackend.isSQLite)`.
enum TestBackend {
    static let postgresURL: String? = {
        let environment = ProcessInfo.processInfo.environment
        guard environment["PRIVACYKIT_TEST_BACKEND"] == "postgres" else { return nil }
        guard let url = environment["PRIVACYKIT_TEST_POSTGRES"], !url.isEmpty else {
            preconditionFailure("PRIVACYKIT_TEST_BACKEND=postgres needs PRIVACYKIT_TEST_POSTGRES (eval \"$(scripts/postgres start)\")")
        }
        PostgresBackend.register()
        // Vaults reopened from their store.url take the password the way libpq does.
        if let password = URLComponents(string: url)?.password, ProcessInfo.processInfo.environment["PGPASSWORD"] == nil {
            setenv("PGPASSWORD", password.removingPercentEncoding ?? password, 1)
        }
        return url
    }()

    static var isPostgres: Bool { postgresURL != nil }
    static var isSQLite: Bool { postgresURL == nil }

    /// A new, empty store for one vault: its own schema on the test server.
    static func store() -> (any StoreBackend)? {
        guard let url = postgresURL else { return nil }
        let schema = "t_" + Hex.encode(Random.bytes(count: 8))
        let separator = url.contains("?") ? "&" : "?"
        do {
            return try PostgresBackend(url: url + separator + "schema=" + schema, environment: ProcessInfo.processInfo.environment)
        } catch {
            preconditionFailure("PRIVACYKIT_TEST_POSTGRES is not a usable store URL: \(error)")
        }
    }
}

/// `Vault.create` on the backend under test.
func createTestVault(at directory: URL, rootKey: RootKey, kdfLimits: Argon2id.Limits = .moderate,
                     context: AccessContext = .library) throws -> Vault {
    try Vault.create(at: directory, rootKey: rootKey, kdfLimits: kdfLimits, context: context, store: TestBackend.store())
}

/// A new vault on the backend under test, opened with a fresh key file in a temporary
/// directory: what most suites start from.
struct KeyFileTestVault {
    let dir: TempDirectory
    let keyFile: String
    let vault: Vault

    init(kdfLimits: Argon2id.Limits = .moderate) throws {
        dir = try TempDirectory()
        keyFile = dir.file("root.key")
        try RootKey.generateKeyFile(at: keyFile)
        vault = try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: .keyFile(at: keyFile), kdfLimits: kdfLimits)
    }
}

/// A temporary directory removed when the test's scope ends.
final class TempDirectory {
    let url: URL
    var path: String { url.path }

    init() throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("privacykit-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// Writes `bytes` to `path` with `mode`.
func writeFile(_ path: String, _ bytes: [UInt8], mode: Int = 0o600) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
}

func readBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

/// Every file under `directory` with its bytes, to prove an operation changed nothing.
/// With `exceptStore`, the store's files are left out: a failed unlock appends its audit
/// event there, and nowhere else.
func snapshot(_ directory: String, exceptStore: Bool = false) throws -> [String: [UInt8]] {
    var result: [String: [UInt8]] = [:]
    let enumerator = FileManager.default.enumerator(atPath: directory)
    while let relative = enumerator?.nextObject() as? String {
        if exceptStore && relative.hasPrefix("vault.sqlite") { continue }
        var isDirectory: ObjCBool = false
        let full = directory + "/" + relative
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
            result[relative] = try readBytes(full)
        }
    }
    return result
}

func mode(_ path: String) throws -> Int {
    (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
}

/// A fast passphrase root key for tests (Argon2id at libsodium's minimum limits).
func testPassphrase(_ text: String = "correct horse battery staple") throws -> RootKey {
    try RootKey.passphrase(text)
}

let fastLimits = Argon2id.Limits.minimum

/// Asserts `body` throws a PrivacyKitError with `code`, and returns it.
@discardableResult
func expectError<T>(
    _ code: PrivacyKitError.Code, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> T
) -> PrivacyKitError? {
    do {
        _ = try body()
        Issue.record("expected a \(code) error, but it succeeded", sourceLocation: sourceLocation)
    } catch let error as PrivacyKitError {
        #expect(error.code == code, "got \(error.code): \(error.message)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected PrivacyKitError \(code), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// The last audit event in the store at `vault`, read with plain SQL (no key needed).
func lastAuditEvent(_ vault: String) throws -> (action: String, outcome: String, actor: String)? {
    let sql = "SELECT action, outcome, actor FROM audit_events ORDER BY seq DESC LIMIT 1"
    if try StoreBackends.reference(ofVault: vault) != nil {
        let keyring = try readBytes(VaultLayout.keyringPath(vault))
        let vaultID = try VaultID(hex: try #require(KeyringFile.peekVaultID(keyring)))
        let store = try StoreBackends.openStore(ofVault: vault, expecting: vaultID)
        defer { try? store.close() }
        return try store.read { db in try StoreRow.fetchOne(db, sql: sql).map { ($0[0], $0[1], $0[2]) } }
    }
    let queue = try DatabaseQueue(path: vault + "/vault.sqlite")
    defer { try? queue.close() }
    return try queue.read { db in
        try Row.fetchOne(db, sql: sql).map { ($0[0], $0[1], $0[2]) }
    }
}

/// The context of tests that change keys.
let keysAdmin = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")
