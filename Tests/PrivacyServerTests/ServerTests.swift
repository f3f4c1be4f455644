import Foundation
import Testing

/// privacyd end to end (issue 21): a real server with TLS, clients registered with
/// privacyctl, curl as the client.
@Suite("privacyd")
struct ServerTests {
    static let support = "customer-support"

    @Test func theMainFlowOfAService() throws {
        let h = try Harness()
        let token = try h.addClient("helpdesk", role: "service", purposes: [Self.support, "order-fulfilment"])
        let dpo = try h.addClient("privacy-desk", role: "privacy-officer", purposes: ["privacy-compliance"])
        try h.start()

        #expect(try h.call("/health/live", token: nil).status == 200)
        #expect(try h.call("/health/ready", token: nil).body["status"] as? String == "ready")

        let put = try h.call("/v1/records/put", token: token, purpose: Self.support,
                             body: ["subject": "c1", "values": ["email": "ana@example.com", "phone": "+886 912 345 678", "full_name": "Ana Lee"]])
        #expect(put.status == 200 && (put.body["result"] as? [String: Any])?["change"] as? String == "created", "\(put.text)")

        let sealed = try h.call("/v1/transit/encrypt", token: token, purpose: Self.support, body: ["items": [
            ["value": "ana.lee@example.com", "field": "email", "subject": "c1"],
            ["value": "x", "field": "no_such_field", "subject": "c1"],
        ]])
        #expect(sealed.status == 200)
        let envelope = try #require(sealed.results.first?["envelope"] as? String)
        #expect(envelope.hasPrefix("pk1.") && !sealed.text.contains("ana.lee"))
        #expect((sealed.results.last?["error"] as? [String: Any])?["code"] as? String == "invalid-input")

        let opened = try h.call("/v1/transit/decrypt", token: token, purpose: Self.support,
                                body: ["items": [["envelope": envelope, "field": "email", "subject": "c1"]]])
        #expect(opened.results.first?["value"] as? String == "ana.lee@example.com")

        let found = try h.call("/v1/records/find", token: token, purpose: Self.support, body: ["field": "email", "value": " ANA@example.com"])
        #expect(found.body["subjects"] as? [String] == ["c1"], "\(found.text)")

        let read = try h.call("/v1/records/get", token: token, purpose: Self.support, body: ["subjects": ["c1", "c2"], "fields": ["email", "phone"]])
        #expect((read.results.first?["fields"] as? [String: String]) == ["email": "ana@example.com", "phone": "+886912345678"])
        #expect((read.results.last?["error"] as? [String: Any])?["code"] as? String == "not-found")

        let granted = try h.call("/v1/consent/grant", token: token, purpose: Self.support, body: ["subject": "c1", "purpose": "marketing-email"])
        #expect(granted.status == 200, "\(granted.text)")
        let may = try h.call("/v1/consent/may", token: token, purpose: Self.support, body: ["subjects": ["c1"], "purpose": "marketing-email"])
        #expect(((may.body["answers"] as? [[String: Any]])?.first?["allowed"] as? Bool) == true, "\(may.text)")

        let erased = try h.call("/v1/erasure", token: dpo, purpose: "privacy-compliance", body: ["subject": "c1", "reason": "art. 17 request"])
        #expect(erased.status == 200 && erased.body["receipt"] != nil, "\(erased.text)")
        let afterErasure = try h.call("/v1/transit/decrypt", token: token, purpose: Self.support,
                                      body: ["items": [["envelope": envelope, "field": "email", "subject": "c1"]]])
        #expect((afterErasure.results.first?["error"] as? [String: Any])?["code"] as? String == "not-found")

        let status = try h.call("/v1/audit/status", token: dpo)
        let checkpoint = try #require(status.body["last_checkpoint"] as? [String: Any])
        #expect((checkpoint["seq"] as? Int ?? 0) > 5 && (status.body["public_key"] as? String)?.count == 43)

        let (exit, log) = h.stop()
        #expect(exit == 0, "privacyd exits 0 on SIGTERM")
        for secret in ["ana@example.com", "ana.lee@example.com", "912 345", "Ana Lee", String(token.split(separator: ".")[2])] {
            #expect(!log.contains(secret), "the server's log holds a value or a token")
        }
        // The events name the client, and the chain verifies.
        let events = try h.privacyctl(["audit", "query", "--actor", "client:helpdesk"])
        #expect((events["count"] as? Int ?? 0) >= 6, "\(events)")
        #expect(try h.privacyctl(["audit", "verify"])["ok"] as? Bool == true)
    }

    @Test func credentialsThatDoNotAuthenticate() throws {
        let h = try Harness()
        let token = try h.addClient("orders", role: "service", purposes: ["order-fulfilment"])
        let brief = try h.addClient("brief", role: "service", purposes: ["order-fulfilment"], extra: ["--expires", "PT1S"])
        try h.start()
        let body: [String: Any] = ["subjects": ["c1"]]
        let none = try h.call("/v1/records/get", token: nil, purpose: "order-fulfilment", body: body)
        #expect(none.status == 401 && none.errorCode == "unauthenticated")
        var forged = Array(token)
        forged[forged.count - 3] = forged[forged.count - 3] == "A" ? "B" : "A"
        let wrong = try h.call("/v1/records/get", token: String(forged), purpose: "order-fulfilment", body: body)
        #expect(wrong.status == 401 && wrong.errorCode == "unauthenticated")
        Thread.sleep(forTimeInterval: 1.2)
        let expired = try h.call("/v1/records/get", token: brief, purpose: "order-fulfilment", body: body)
        let message = (expired.body["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(expired.status == 401 && message.hasPrefix("client brief expired on "), "\(expired.text)")
        #expect(try h.call("/v1/records/get", token: token, purpose: "order-fulfilment", body: body).status == 200)
        try h.privacyctl(["clients", "revoke", "orders"])
        let revoked = try h.call("/v1/records/get", token: token, purpose: "order-fulfilment", body: body)
        #expect(revoked.status == 401 && revoked.errorCode == "unauthenticated", "revocation takes effect on a running server")
        let log = h.stop().log
        #expect(!log.contains(String(token.split(separator: ".")[2])))
        let denials = try h.privacyctl(["audit", "query", "--action", "client.authenticate"])
        #expect(denials["count"] as? Int == 4, "\(denials)")
    }

    @Test func aClientActsOnlyWithinItsRoleAndPurposes() throws {
        let h = try Harness()
        let agent = try h.addClient("desk", role: "support-agent", purposes: [Self.support])
        let marketer = try h.addClient("mailer", role: "marketer", purposes: ["marketing-email"])
        let admin = try h.addClient("ops", role: "admin", purposes: ["privacy-compliance"])
        try h.start()
        let put = try h.call("/v1/records/put", token: admin, purpose: "privacy-compliance",
                             body: ["subject": "c1", "values": ["email": "bo@example.com", "national_id": "A123456789", "phone": "+886 912 000 111"]])
        #expect(put.status == 200, "\(put.text)")

        let otherPurpose = try h.call("/v1/records/get", token: agent, purpose: "marketing-email", body: ["subjects": ["c1"]])
        #expect(otherPurpose.status == 403 && otherPurpose.errorCode == "denied")
        let otherField = try h.call("/v1/records/get", token: marketer, purpose: "marketing-email", body: ["subjects": ["c1"], "fields": ["phone"]])
        #expect(otherField.status == 403 && otherField.errorCode == "denied", "\(otherField.text)")

        let masked = try h.call("/v1/records/get", token: agent, purpose: Self.support, body: ["subjects": ["c1"], "fields": ["national_id"]])
        let id = (masked.results.first?["fields"] as? [String: String])?["national_id"]
        #expect(id != nil && id != "A123456789" && id?.hasSuffix("6789") == true, "\(masked.text)")
        #expect(!masked.text.contains("A123456789"))
        let findByMasked = try h.call("/v1/records/find", token: agent, purpose: Self.support, body: ["field": "national_id", "value": "A123456789"])
        #expect(findByMasked.status == 403 && findByMasked.errorCode == "denied", "\(findByMasked.text)")
        let indexOfMasked = try h.call("/v1/transit/blind-index", token: agent, purpose: Self.support,
                                       body: ["items": [["field": "national_id", "value": "A123456789"]]])
        #expect(indexOfMasked.status == 403 && indexOfMasked.errorCode == "denied", "\(indexOfMasked.text)")
        let erase = try h.call("/v1/erasure", token: agent, purpose: Self.support, body: ["subject": "c1", "reason": "asked"])
        #expect(erase.status == 403)
        let log = h.stop().log
        #expect(!log.contains("A123456789") && !log.contains("bo@example.com"))
        let denied = try h.privacyctl(["audit", "query", "--actor", "client:desk"])
        let outcomes = (denied["events"] as? [[String: Any]] ?? []).compactMap { $0["outcome"] as? String }
        #expect(outcomes.filter { $0 == "denied" }.count >= 4, "\(outcomes)")
    }

    @Test func badRequestsAreClearErrorsInOneShape() throws {
        let h = try Harness()
        let token = try h.addClient("orders", role: "service", purposes: ["order-fulfilment"])
        try h.start()
        let notJSON = try h.call("/v1/records/get", token: token, purpose: "order-fulfilment", raw: Data("{\"subjects\": [\"A123456789".utf8))
        #expect(notJSON.status == 400 && notJSON.errorCode == "invalid-input" && !notJSON.text.contains("A123456789"), "\(notJSON.text)")
        let wrongType = try h.call("/v1/records/get", token: token, purpose: "order-fulfilment", body: ["subjects": [12]])
        #expect(wrongType.status == 400 && (wrongType.body["error"] as? [String: Any])?["message"] as? String == "subjects[0] must be a string",
                "\(wrongType.text)")
        let missing = try h.call("/v1/records/put", token: token, purpose: "order-fulfilment", body: ["subject": "c1"])
        #expect(missing.status == 400 && (missing.body["error"] as? [String: Any])?["message"] as? String == "values is missing")
        let tooMany = try h.call("/v1/records/get", token: token, purpose: "order-fulfilment", body: ["subjects": (0...1000).map { "s\($0)" }])
        #expect(tooMany.status == 400 && tooMany.errorCode == "invalid-input")
        let huge = try h.call("/v1/records/put", token: token, purpose: "order-fulfilment",
                              raw: Data(("{\"subject\": \"c1\", \"values\": {\"full_name\": \"" + String(repeating: "x", count: 1_100_000) + "\"}}").utf8))
        #expect(huge.status == 413 && huge.errorCode == "too-large", "\(huge.status) \(huge.text.prefix(200))")
        let nowhere = try h.call("/v1/records/everything", token: token, purpose: "order-fulfilment", body: [:])
        #expect(nowhere.status == 404 && nowhere.errorCode == "no-route")
        for response in [notJSON, wrongType, missing, tooMany, huge, nowhere] {
            #expect(response.body["ok"] as? Bool == false && (response.body["error"] as? [String: Any])?["exit_code"] is Int)
        }
    }

    @Test func plainHTTPOnlyOnLoopbackAndOnlyWhenAskedFor() throws {
        let h = try Harness()
        let privacyd = Harness.products.appendingPathComponent("privacyd").path
        let common = ["--vault", h.vault, "--key-file", h.keyFile]
        let noTLS = try Harness.run(privacyd, common + ["--listen", "127.0.0.1:0"])
        #expect(noTLS.status == 65 && noTLS.stderr.contains("--tls-cert"), "\(noTLS.stderr)")
        let exposed = try Harness.run(privacyd, common + ["--listen", "0.0.0.0:0", "--insecure-http"])
        #expect(exposed.status == 65 && exposed.stderr.contains("loopback"), "\(exposed.stderr)")
        // The root secret and vault from the environment, as for privacyctl (the vault opens,
        // then the listener is refused); without them, a usage error.
        let fromEnvironment = try Harness.run(privacyd, ["--listen", "0.0.0.0:0", "--insecure-http"],
                                              environment: ["PRIVACYKIT_VAULT": h.vault, "PRIVACYKIT_KEY_FILE": h.keyFile])
        #expect(fromEnvironment.status == 65 && fromEnvironment.stderr.contains("loopback"), "\(fromEnvironment.stderr)")
        let noSecret = try Harness.run(privacyd, ["--vault", h.vault, "--listen", "127.0.0.1:0", "--insecure-http"])
        #expect(noSecret.status == 64 && noSecret.stderr.contains("PRIVACYKIT_KEY_FILE"), "\(noSecret.stderr)")
        let wrongKey = try Harness.run(privacyd, ["--vault", h.vault, "--key-file", h.dir.appendingPathComponent("server.key").path,
                                                   "--listen", "127.0.0.1:0", "--insecure-http"])
        #expect(wrongKey.status != 0 && !wrongKey.stderr.isEmpty)
        // The TLS port does not speak plain HTTP.
        try h.start()
        let plain = try Harness.run("/usr/bin/curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}", h.url.replacingOccurrences(of: "https://", with: "http://") + "/health/live"])
        #expect(plain.stdout != "200")
    }
}

/// The small Python client (standard library only) runs a service's main flow.
@Suite("privacyd from Python")
struct PythonClientTests {
    @Test func thePythonClientRunsTheMainFlow() throws {
        let h = try Harness()
        let service = try h.addClient("py-service", role: "service", purposes: ["customer-support"])
        let officer = try h.addClient("py-officer", role: "privacy-officer", purposes: ["privacy-compliance"])
        let marketer = try h.addClient("py-mailer", role: "marketer", purposes: ["marketing-email"])
        try h.start()
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("clients/python/main_flow.py").path
        let result = try Harness.run("/usr/bin/python3", [script, h.url, h.ca, service, officer, marketer])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        let events = try h.privacyctl(["audit", "query", "--actor", "client:py-service user:agent-7"])
        #expect((events["count"] as? Int ?? 0) >= 4, "the end user is recorded with the client: \(events)")
    }
}

/// Mutual TLS (`--client-ca`): a client registered with a certificate subject authenticates
/// with its certificate; one from another CA never reaches the API.
@Suite("privacyd with client certificates")
struct ClientCertificateTests {
    @Test func aCertificateFromTheClientCAAuthenticatesItsClient() throws {
        let h = try Harness()
        try h.makeClientCertificate(ca: "clients-ca", name: "orders-cert", subject: "/O=Example/CN=orders")
        try h.makeClientCertificate(ca: "other-ca", name: "forged-cert", subject: "/O=Example/CN=orders")
        try h.makeClientCertificate(ca: "clients-ca", name: "stranger-cert", subject: "/O=Example/CN=stranger")
        _ = try h.addClient("orders", role: "service", purposes: ["order-fulfilment"], extra: ["--certificate-subject", "CN=orders,O=Example"])
        let token = try h.addClient("tokens-only", role: "service", purposes: ["order-fulfilment"])
        try h.start(["--client-ca", h.dir.appendingPathComponent("clients-ca.pem").path])
        let body: [String: Any] = ["items": [["value": "a@example.com", "field": "email", "subject": "c1"]]]

        let byCertificate = try h.call("/v1/transit/encrypt", token: nil, purpose: "order-fulfilment", body: body, certificate: "orders-cert")
        #expect(byCertificate.status == 200 && (byCertificate.results.first?["envelope"] as? String)?.hasPrefix("pk1.") == true, "\(byCertificate.text)")
        let byToken = try h.call("/v1/transit/encrypt", token: token, purpose: "order-fulfilment", body: body)
        #expect(byToken.status == 200, "a client without a certificate still authenticates with its token")
        let stranger = try h.call("/v1/transit/encrypt", token: nil, purpose: "order-fulfilment", body: body, certificate: "stranger-cert")
        #expect(stranger.status == 401 && stranger.errorCode == "unauthenticated")
        #expect(throws: Harness.HarnessError.self, "a certificate from another CA fails the handshake") {
            try h.call("/v1/transit/encrypt", token: nil, purpose: "order-fulfilment", body: body, certificate: "forged-cert")
        }
        try h.privacyctl(["clients", "revoke", "orders"])
        let revoked = try h.call("/v1/transit/encrypt", token: nil, purpose: "order-fulfilment", body: body, certificate: "orders-cert")
        #expect(revoked.status == 401)
        let events = try h.privacyctl(["audit", "query", "--actor", "client:orders"])
        #expect((events["count"] as? Int ?? 0) >= 1)
    }
}

/// Fail closed: a request whose audit event cannot be written does nothing and says so.
@Suite("privacyd without an audit log")
struct AuditFailureTests {
    @Test func aRequestWhoseEventCannotBeWrittenFailsAndDoesNothing() throws {
        let h = try Harness()
        let token = try h.addClient("orders", role: "service", purposes: ["order-fulfilment"])
        try h.start()
        let put: [String: Any] = ["subject": "c1", "values": ["email": "a@example.com"]]
        #expect(try h.call("/v1/records/put", token: token, purpose: "order-fulfilment", body: put).status == 200)
        // A store writer (or a full disk) makes every append fail.
        let store = h.vault + "/vault.sqlite"
        let sql = "CREATE TRIGGER no_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'no audit'); END"
        let broken = try Harness.run("/usr/bin/python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute(sys.argv[2]); c.commit()", store, sql])
        #expect(broken.status == 0, "\(broken.stderr)")
        let refused = try h.call("/v1/records/put", token: token, purpose: "order-fulfilment",
                                 body: ["subject": "c2", "values": ["email": "b@example.com"]])
        #expect(refused.status == 503 && refused.body["ok"] as? Bool == false, "\(refused.status) \(refused.text)")
        let notReady = try h.call("/health/ready", token: nil)
        #expect(notReady.status == 503, "a server whose audit log takes no event is not ready: \(notReady.text)")
        let repaired = try Harness.run("/usr/bin/python3", ["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('DROP TRIGGER no_audit'); c.commit()", store])
        #expect(repaired.status == 0)
        #expect(try h.call("/health/ready", token: nil).status == 200)
        let read = try h.call("/v1/records/get", token: token, purpose: "order-fulfilment", body: ["subjects": ["c2"]])
        #expect((read.results.first?["error"] as? [String: Any])?["code"] as? String == "not-found", "the refused put wrote nothing: \(read.text)")
    }
}

/// The curl examples of docs/server.md work as written, against a real privacyd.
@Suite("privacyd's documented examples")
struct DocumentedExamplesTests {
    @Test func everyCurlExampleOfTheServerGuideSucceeds() throws {
        let guide = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/server.md")
        let text = try String(contentsOf: guide, encoding: .utf8)
        let marker = "<!-- tested: PrivacyServerTests runs every curl block of this file against a real privacyd -->\n```sh\n"
        let start = try #require(text.range(of: marker)).upperBound
        let block = String(text[start...]).components(separatedBy: "\n```")[0]
        let commands = block.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n").map(String.init).filter { $0.hasPrefix("curl ") }
        #expect(commands.count == 5)
        let h = try Harness()
        let token = try h.addClient("orders", role: "service", purposes: ["customer-support"])
        try h.start()
        for command in commands {
            let result = try Harness.run("/bin/bash", ["-c", "cd '\(h.dir.path)' && " + command],
                                         environment: ["PRIVACYD_URL": h.url, "TOKEN": token])
            #expect(result.status == 0, "\(command)\n\(result.stdout) \(result.stderr)")
            let answer = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any]
            #expect(answer?["ok"] as? Bool == true, "\(command)\n\(result.stdout)")
        }
    }
}

/// With the server, the service host holds no root secret: the service side runs as another
/// OS user, which can read neither the key file nor the store, and through privacyd reads
/// what its role allows and nothing more.
@Suite("privacyd's service side as another OS user")
struct ServiceAsAnotherUserTests {
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") && getpwnam("nobody") != nil,
                   "needs root, setpriv and a nobody user"))
    func aServiceWithoutTheRootSecretReadsOnlyWhatItsRoleAllows() throws {
        let h = try Harness()
        let admin = try h.addClient("ops", role: "admin", purposes: ["privacy-compliance"])
        let agent = try h.addClient("desk", role: "support-agent", purposes: ["customer-support"])
        try h.start()
        let put = try h.call("/v1/records/put", token: admin, purpose: "privacy-compliance",
                             body: ["subject": "c1", "values": ["email": "li@example.com", "national_id": "A223456789", "birth_date": "1980-02-01",
                                                               "closed_at": "2025-03-01"]])
        #expect(put.status == 200)
        // The service side: nobody, with its token and the CA, in a directory it owns.
        let service = h.dir.appendingPathComponent("service")
        try FileManager.default.createDirectory(at: service, withIntermediateDirectories: true)
        try agent.write(to: service.appendingPathComponent("token"), atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: h.ca, toPath: service.appendingPathComponent("ca.pem").path)
        _ = try Harness.run("/bin/chown", ["-R", "nobody", service.path])
        let asNobody = ["/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"]
        func nobody(_ command: String) throws -> Harness.Output {
            try Harness.run(asNobody[0], Array(asNobody.dropFirst()) + ["/bin/bash", "-c", "cd '\(service.path)' && " + command],
                            environment: ["URL": h.url])
        }
        #expect(try nobody("cat '\(h.keyFile)'").status != 0, "the service cannot read the root key")
        #expect(try nobody("cat '\(h.vault)/vault.sqlite' >/dev/null").status != 0, "the service cannot read the store")
        let ctl = Harness.products.appendingPathComponent("privacyctl").path
        #expect(try nobody("'\(ctl)' records get --subject c1 --vault '\(h.vault)' --key-file '\(h.keyFile)'").status != 0)
        let curl = "curl -sS --cacert ca.pem -H \"Authorization: Bearer $(cat token)\" -H 'PrivacyKit-Purpose: customer-support' "
            + "-H 'Content-Type: application/json' -o - -w '\\n%{http_code}' "
        let allowed = try nobody(curl + "-d '{\"subjects\": [\"c1\"], \"fields\": [\"email\", \"national_id\", \"birth_date\"]}' \"$URL/v1/records/get\"")
        #expect(allowed.status == 0 && allowed.stdout.hasSuffix("\n200") && allowed.stdout.contains("li@example.com"), "\(allowed.stdout) \(allowed.stderr)")
        #expect(!allowed.stdout.contains("A223456789") && !allowed.stdout.contains("1980"), "identity and birth date stay masked: \(allowed.stdout)")
        let refused = try nobody(curl + "-d '{\"subjects\": [\"c1\"], \"fields\": [\"closed_at\"]}' \"$URL/v1/records/get\"")
        #expect(refused.stdout.hasSuffix("\n403") && !refused.stdout.contains("2025-03-01"), "\(refused.stdout)")
    }
}

/// A connection that sends nothing is closed after the idle timeout.
@Suite("privacyd's idle connections")
struct IdleTimeoutTests {
    @Test func anIdleConnectionIsClosed() throws {
        let h = try Harness()
        try h.start(["--idle-timeout", "1"])
        let port = try #require(h.url.split(separator: ":").last.map(String.init))
        let script = """
            import socket, ssl, sys, time
            context = ssl.create_default_context(cafile=sys.argv[1])
            with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.settimeout(5)
                    started = time.monotonic()
                    data = tls.recv(1)
                    print("closed" if data == b"" else "data", round(time.monotonic() - started, 1))
            """
        let result = try Harness.run("/usr/bin/python3", ["-c", script, h.ca, port])
        let words = result.stdout.split(separator: " ")
        #expect(words.first == "closed", "\(result.stdout) \(result.stderr)")
        #expect((Double(words.last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 99) < 4)
    }
}

/// A client that drips its body a byte at a time keeps the connection from idling, but not
/// the request open: it is answered 408 once --request-timeout has passed.
@Suite("privacyd's request deadline")
struct RequestTimeoutTests {
    @Test func aDrippedBodyIsAnswered408() throws {
        let h = try Harness()
        let token = try h.addClient("orders", role: "service", purposes: ["customer-support"])
        try h.start(["--request-timeout", "1", "--idle-timeout", "5"])
        let port = try #require(h.url.split(separator: ":").last.map(String.init))
        let script = """
            import socket, ssl, sys, time
            context = ssl.create_default_context(cafile=sys.argv[1])
            body = b'{"subjects": ["c1"]}'
            head = ("POST /v1/records/get HTTP/1.1\\r\\nHost: localhost\\r\\nAuthorization: Bearer " + sys.argv[3]
                    + "\\r\\nPrivacyKit-Purpose: customer-support\\r\\nContent-Type: application/json\\r\\nContent-Length: "
                    + str(len(body)) + "\\r\\n\\r\\n").encode()
            with socket.create_connection(("127.0.0.1", int(sys.argv[2]))) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.settimeout(0.3)
                    tls.sendall(head)
                    started = time.monotonic()
                    answer = b""
                    for byte in body:
                        tls.sendall(bytes([byte]))
                        try:
                            answer += tls.recv(4096)
                            break
                        except socket.timeout:
                            pass
                    print(answer.split(b"\\r\\n")[0].decode(), round(time.monotonic() - started, 1))
            """
        let result = try Harness.run("/usr/bin/python3", ["-c", script, h.ca, port, token])
        #expect(result.stdout.hasPrefix("HTTP/1.1 408"), "\(result.stdout) \(result.stderr)")
        let seconds = Double(result.stdout.split(separator: " ").last?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 99
        #expect(seconds >= 0.9 && seconds < 4, "answered after \(seconds) s")
    }
}

/// privacyd on a PostgreSQL store: the same API, and a revocation made by privacyctl on
/// the shared store stops the client at once.
@Suite("privacyd on PostgreSQL", .enabled(if: Harness.postgresURL != nil, "PRIVACYKIT_TEST_POSTGRES is not set (scripts/test starts a server)"))
struct PostgresServerTests {
    @Test func aServiceOnAPostgreSQLVault() throws {
        let h = try Harness(postgres: true)
        let token = try h.addClient("orders", role: "service", purposes: ["customer-support"])
        try h.start()
        let put = try h.call("/v1/records/put", token: token, purpose: "customer-support", body: ["subject": "p1", "values": ["email": "pg@example.com"]])
        #expect(put.status == 200, "\(put.text)")
        let found = try h.call("/v1/records/find", token: token, purpose: "customer-support", body: ["field": "email", "value": "PG@example.com"])
        #expect(found.body["subjects"] as? [String] == ["p1"], "\(found.text)")
        let sealed = try h.call("/v1/transit/encrypt", token: token, purpose: "customer-support",
                                body: ["items": [["value": "other@example.com", "field": "email", "subject": "p1"]]])
        let envelope = try #require(sealed.results.first?["envelope"] as? String)
        let opened = try h.call("/v1/transit/decrypt", token: token, purpose: "customer-support",
                                body: ["items": [["envelope": envelope, "field": "email", "subject": "p1"]]])
        #expect(opened.results.first?["value"] as? String == "other@example.com")
        try h.privacyctl(["clients", "revoke", "orders"])
        #expect(try h.call("/v1/records/get", token: token, purpose: "customer-support", body: ["subjects": ["p1"]]).status == 401)
        #expect(h.stop().status == 0)
        #expect(try h.privacyctl(["audit", "verify"])["ok"] as? Bool == true)
    }
}
