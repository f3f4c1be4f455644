import Foundation
import PrivacyKit
import Sodium
import Testing

// The Swift samples of the DocC catalog (Sources/PrivacyKit/PrivacyKit.docc), docs/ and the
// README are the regions of this file between `// doc-sample: NAME` and `// end-doc-sample`.
// `DocSampleSync` below fails when a Markdown sample differs from its region, so every sample
// a reader sees has been compiled and run here. Edit a sample here, then paste it into the
// Markdown (the failure message shows the expected text).

/// A scratch vault under a fresh key file, as an operator would have made it.
private struct SampleVault {
    let directory = try! TempDirectory()
    var keyFile: String { directory.file("root.key") }
    var vaultURL: URL { directory.url.appendingPathComponent("crm-vault") }

    func make() throws -> Vault {
        try RootKey.generateKeyFile(at: keyFile)
        return try Vault.create(at: vaultURL, rootKey: .keyFile(at: keyFile))
    }
}

@Suite struct DocSamples {
    @Test func gettingStarted() throws {
        let scratch = SampleVault()
        let keyFile = scratch.keyFile
        let vaultURL = scratch.vaultURL

        // doc-sample: getting-started-create
        // Once, by an operator (privacyctl keys generate-key-file and privacyctl init do the same):
        // a random 32-byte root key in a file of mode 0600, and a new vault sealed under it.
        try RootKey.generateKeyFile(at: keyFile)
        _ = try Vault.create(at: vaultURL, rootKey: .keyFile(at: keyFile))
        // end-doc-sample

        // doc-sample: getting-started-open
        let vault = try Vault.open(at: vaultURL, rootKey: .keyFile(at: keyFile))

        // Who acts, in which role, for which purpose: every call is checked against the
        // vault's Policies/access.yaml and written to its audit log with the outcome.
        let agent = AccessContext(actor: "helpdesk-7", role: "support-agent", purpose: "customer-support")
        // end-doc-sample

        // doc-sample: getting-started-records
        try vault.records.put(subject: "cust-42", values: [
            "email": "Jane.Doe@Example.com",
            "national_id": "123-45-6789",
            "country": "GB",
        ], context: agent)

        let record = try vault.records.get(subject: "cust-42", context: agent)
        // record["email"] == "jane.doe@example.com"   normalized, read in full
        // record["national_id"] == "****6789"         support agents read identity fields masked

        let ids = try vault.records.find(field: "email", value: "  JANE.DOE@example.com ", context: agent)
        // ids == ["cust-42"]: the blind index finds the candidates, nothing else is decrypted
        // end-doc-sample
        #expect(record["email"] == "jane.doe@example.com")
        #expect(record["national_id"] == "****6789")
        #expect(record["country"] == "GB")
        #expect(ids == ["cust-42"])

        // doc-sample: getting-started-envelope
        // A service that keeps the value in its own database stores the envelope, and the
        // blind index if it must find the row by value.
        let envelope = try vault.records.encrypt("jane.doe@example.com", field: "email", subject: "cust-42", context: agent)
        let index = try vault.records.blindIndex("Jane.Doe@EXAMPLE.com", field: "email", context: agent)
        // envelope: "pk1.…", only this vault can open it, for this field and subject
        // index: hex, the same for every spelling that normalizes alike

        let email = try vault.records.decrypt(envelope, field: "email", subject: "cust-42", context: agent)
        // email == "jane.doe@example.com"
        // end-doc-sample
        #expect(envelope.hasPrefix("pk1."))
        #expect(index == (try vault.records.blindIndex("jane.doe@example.com", field: "email", context: agent)))
        #expect(email == "jane.doe@example.com")

        // doc-sample: getting-started-consent
        let signup = AccessContext(actor: "signup-form", role: "service", purpose: "customer-support")
        try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm),
                                subject: "cust-42", context: signup)

        let answer = try vault.consent.answer(subject: "cust-42", purpose: "marketing-email", context: signup)
        if answer.allowed {
            // send the newsletter
        }
        // answer.state == .granted
        // answer.reason == "granted on 2026-… under notice 2026-01, expires 2028-…"
        // end-doc-sample
        #expect(answer.allowed)
        #expect(answer.state == .granted)
        #expect(answer.reason.hasPrefix("granted on "))
    }

    @Test func errors() throws {
        let scratch = SampleVault()
        let vaultURL = scratch.vaultURL
        let vault = try scratch.make()
        let admin = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")
        try vault.records.put(subject: "cust-42", values: ["email": "jane.doe@example.com"], context: admin)
        var outcomes: [String] = []
        func page(_ message: String) { outcomes.append("paged") }

        // doc-sample: errors-open
        do {
            _ = try Vault.open(at: vaultURL, rootKey: .passphrase("not the vault's secret"))
        } catch let error as PrivacyKitError where error.code == .wrongKey {
            // Nothing was changed; error.message says what failed, never the secret.
            page("the vault's root secret was refused: \(error.message)")
        }
        // end-doc-sample

        // doc-sample: errors-handling
        let marketer = AccessContext(actor: "campaign-tool", role: "marketer", purpose: "marketing-email")
        do {
            let fields = try vault.records.get(subject: "cust-42", fields: ["national_id"], context: marketer)
            _ = fields
        } catch let error as PrivacyKitError {
            switch error.code {
            case .denied:
                // The policy refused (the refusal is in the audit log, with the rule that decided).
                outcomes.append("denied: \(error.message)")
            case .notFound:
                outcomes.append("no such subject, or erased")
            case .invalidInput:
                outcomes.append("a bad field name or value: \(error.message)")
            case .busy:
                outcomes.append("another process holds a lock: retry later")
            case .integrity, .wrongKey:
                page("tampering or a wrong key: \(error)")
            default:
                throw error
            }
        }
        // end-doc-sample
        #expect(outcomes.count == 2)
        #expect(outcomes.first == "paged")
        #expect(outcomes.last?.hasPrefix("denied: ") == true)

        // doc-sample: errors-code-name
        do {
            _ = try vault.records.find(field: "email", value: "not an e-mail address", context: admin)
        } catch let error as PrivacyKitError {
            // error.code.name == "invalid-input": the same word privacyctl prints in its JSON
            // errors, and maps to exit code 65 (docs/exit-codes.md)
            outcomes.append(error.code.name)
        }
        // end-doc-sample
        #expect(outcomes.last == "invalid-input")
    }

    @Test func records() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()
        let agent = AccessContext(actor: "helpdesk-7", role: "support-agent", purpose: "customer-support")

        // doc-sample: records-put
        let first = try vault.records.put(subject: "cust-7", values: ["email": "sam@example.com", "phone": "020 7946 0958", "country": "GB"],
                                  context: agent)
        // first.change == .created
        let again = try vault.records.put(subject: "cust-7", values: ["email": "SAM@example.com"], context: agent)
        // again.change == .unchanged: the same value after normalization writes nothing
        try vault.records.put(subject: "cust-7", values: ["phone": ""], context: agent)   // an empty value removes the field
        // end-doc-sample
        #expect(first.change == .created)
        #expect(again.change == .unchanged)
        #expect(try vault.records.get(subject: "cust-7", context: agent)["phone"] == nil)

        // doc-sample: records-get-fields
        let contact = try vault.records.get(subject: "cust-7", fields: ["email"], context: agent)
        // contact == ["email": "sam@example.com"]; naming a field the role may not read throws .denied
        let page = try vault.records.listSubjects(after: nil, limit: 100, context: agent)
        // page == ["cust-7"]; pass the last id as `after` for the next page
        // end-doc-sample
        #expect(contact == ["email": "sam@example.com"])
        #expect(page == ["cust-7"])

        // doc-sample: records-get-batch
        let reads = try vault.records.get(subjects: ["cust-7", "cust-8"], fields: ["email"], context: agent)
        // reads[0].result: .success(["email": "sam@example.com"])
        // reads[1].result: .failure(.notFound): each subject answers on its own
        let envelopes = try vault.records.encrypt([ValueItem(value: "sam@example.org", field: "email", subject: "cust-7")], context: agent)
        let opened = try vault.records.decrypt([EnvelopeItem(envelope: try envelopes[0].get(), field: "email", subject: "cust-7")],
                                               context: agent)
        // try opened[0].get() == "sam@example.org"
        // end-doc-sample
        #expect(try reads[0].result.get() == ["email": "sam@example.com"])
        #expect(throws: PrivacyKitError.self) { try reads[1].result.get() }
        #expect(try opened[0].get() == "sam@example.org")

        // doc-sample: records-import
        let csv = scratch.directory.file("crm-export.csv")
        try Data("Customer No,Mail Address,country\nc-1,ann@example.com,GB\nc-2,not-an-address,GB\n".utf8)
            .write(to: URL(fileURLWithPath: csv))
        let summary = try vault.records.importCSV(at: csv, options: ImportOptions(columnMap: ["Mail Address": "email"], idColumn: "Customer No"),
                                          context: agent)
        // summary.created == 1, summary.rejected == 1 (listed in a reject report: line, column, reason, never the value)
        // end-doc-sample
        #expect(summary.created == 1 && summary.rejected == 1)
    }

    @Test func encryptionAndIndexes() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()
        let service = AccessContext(actor: "order-service", role: "service", purpose: "order-fulfilment")
        let admin = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")
        try vault.records.put(subject: "cust-42", values: ["email": "jane.doe@example.com"], context: service)
        try vault.records.put(subject: "cust-43", values: ["email": "JANE.DOE@example.com", "phone": "+44 20 7946 0958"], context: service)

        // doc-sample: encryption-bound
        let envelope = try vault.records.encrypt("2 Example Street", field: "address", subject: "cust-42", context: service)
        do {
            _ = try vault.records.decrypt(envelope, field: "address", subject: "cust-43", context: service)
        } catch let error as PrivacyKitError where error.code == .integrity {
            // An envelope opens only for the vault, field and subject it was made for.
        }
        // end-doc-sample
        #expect(throws: PrivacyKitError.self) { try vault.records.decrypt(envelope, field: "address", subject: "cust-43", context: service) }

        // doc-sample: indexes-find-phone
        // A number written without its country code is read in the region given (ISO 3166-1),
        // else the schema's default_region.
        let byPhone = try vault.records.find(field: "phone", value: "020 7946 0958", region: "GB", context: service)
        // byPhone == ["cust-43"]
        // end-doc-sample
        #expect(byPhone == ["cust-43"])

        // doc-sample: indexes-duplicates
        // Duplicate customers, found by their blind indexes: nothing is decrypted.
        let clusters = try vault.records.duplicates(field: "email", context: admin)
        // clusters == [DuplicateCluster(field: "email", subjects: ["cust-42", "cust-43"])]
        // end-doc-sample
        #expect(clusters.map(\.subjects) == [["cust-42", "cust-43"]])

        // doc-sample: indexes-rotate
        // New index and key-encryption key versions; finds keep working meanwhile, and an
        // interrupted rotation resumes when called again.
        let index = try vault.keys.rotateIndex(context: admin)
        let kek = try vault.keys.rotateKEK(context: admin)
        // end-doc-sample
        _ = (index, kek)
        #expect(try vault.records.find(field: "phone", value: "+44 20 7946 0958", context: service) == ["cust-43"])
    }

    @Test func consent() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()
        let service = AccessContext(actor: "signup-form", role: "service", purpose: "customer-support")
        try vault.records.put(subject: "cust-42", values: ["email": "jane.doe@example.com"], context: service)
        try vault.records.put(subject: "cust-43", values: ["email": "sam@example.com"], context: service)

        // doc-sample: consent-record
        try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .webForm,
                                              evidenceHash: String(repeating: "ab", count: 32)),
                                subject: "cust-42", context: service)
        try vault.consent.record(ConsentChange(.grant, purpose: "marketing-email", channel: .app), subject: "cust-43", context: service)
        try vault.consent.record(ConsentChange(.withdraw, purpose: "marketing-email", channel: .app), subject: "cust-43", context: service)
        try vault.consent.recordGPC(subject: "cust-43", context: service)   // Global Privacy Control: objects to every opt-out purpose
        // end-doc-sample

        // doc-sample: consent-answers
        let answers = try vault.consent.answer(subjects: ["cust-42", "cust-43"], purpose: "marketing-email", context: service)
        // answers.map(\.state) == [.granted, .withdrawn]
        let history = try vault.consent.history(subject: "cust-43", context: service)
        // history.map(\.kind) == [.grant, .withdraw, .object]; subjects appear as pseudonyms

        let marketer = AccessContext(actor: "campaign-tool", role: "marketer", purpose: "marketing-email")
        var audience: [String] = []
        let count = try vault.consent.audience(purpose: "marketing-email", context: marketer) { audience.append($0) }
        // count == 1, audience == ["cust-42"]: streamed, one subject at a time
        // end-doc-sample
        #expect(answers.map(\.state) == [.granted, .withdrawn])
        #expect(history.map(\.kind) == [.grant, .withdraw, .object])
        #expect(count == 1 && audience == ["cust-42"])

        // doc-sample: consent-receipt
        let receipt = try vault.consent.receipt(subject: "cust-42", purpose: "marketing-email", context: service)
        let json = try receipt.json()   // hand this to the customer

        // Anyone can check it offline with the vault's audit public key.
        let check = ConsentReceipt.verify(json, publicKey: vault.auditPublicKey, subject: "cust-42")
        // check.valid == true; check.proves says, in words, what it proves and what it does not
        // end-doc-sample
        #expect(check.valid)
    }

    @Test func retention() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()
        let service = AccessContext(actor: "order-service", role: "service", purpose: "customer-support")
        try vault.records.put(subject: "cust-42", values: ["email": "jane.doe@example.com", "segment": "customer"], context: service)
        try vault.records.put(subject: "cust-43", values: ["email": "sam@example.com", "segment": "lead"], context: service)
        let kept = try vault.records.encrypt("jane.doe@example.com", field: "email", subject: "cust-42", context: service)

        // doc-sample: retention-hold-erase
        let officer = AccessContext(actor: "dpo", role: "privacy-officer", purpose: "privacy-compliance")
        let hold = try vault.retention.placeHold(subject: "cust-42", reason: "claim 2026-17", context: officer)
        do {
            _ = try vault.retention.erase(subject: "cust-42", reason: "GDPR art. 17 request", context: officer)
        } catch let error as PrivacyKitError where error.code == .held {
            // error.message names the hold; nothing was erased
        }
        _ = try vault.retention.releaseHold(id: hold.id, reason: "claim settled", context: officer)

        let erased = try vault.retention.erase(subject: "cust-42", reason: "GDPR art. 17 request", context: officer)
        let receipt = try erased.receipt.json()   // signed: ErasureReceipt.verify(receipt, publicKey: vault.auditPublicKey)
        // Every ciphertext of cust-42 is now unreadable, including envelopes services kept:
        // vault.records.decrypt(kept, …) throws .notFound ("unknown or erased")
        // end-doc-sample
        #expect(ErasureReceipt.verify(receipt, publicKey: vault.auditPublicKey).valid)
        #expect(try vault.retention.isErased("cust-42"))
        expectError(.notFound) { try vault.records.decrypt(kept, field: "email", subject: "cust-42", context: service) }

        // doc-sample: retention-sweep
        // What the nightly sweep would do two and a half years from now, changing nothing.
        let later = Date().addingTimeInterval(913 * 86_400)
        let plan = try vault.retention.sweep(SweepOptions(now: later, dryRun: true), context: officer) { action in
            _ = action   // one SweepAction per subject: rule, action, outcome (.wouldDo, .held, …)
        }
        // plan.due == 1: lead cust-43, two years after its last interaction (Policies/retention.yaml)
        // end-doc-sample
        #expect(plan.due == 1)

        // doc-sample: retention-restrict
        try vault.retention.restrict(subject: "cust-43", reason: "accuracy contested", context: officer)
        // cust-43 is now left out of reads, finds and audiences, except for the roles and
        // purposes that access.yaml's `restricted:` names
        try vault.retention.liftRestriction(subject: "cust-43", reason: "corrected", context: officer)
        // end-doc-sample
    }

    @Test func requests() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()
        let officer = AccessContext(actor: "dpo", role: "privacy-officer", purpose: "privacy-compliance")
        try vault.records.put(subject: "cust-42", values: ["email": "jane.doe@example.com"],
                      context: AccessContext(actor: "ops", role: "admin", purpose: "customer-support"))

        // doc-sample: requests-erasure
        let request = try vault.requests.open(.erasure, regime: .gdpr, subject: "cust-42", context: officer)
        // request.deadline: one calendar month after receipt (GDPR art. 12(3))

        // Work done for a request carries its id into the audit log and the receipt.
        let acting = AccessContext(actor: "dpo", role: "privacy-officer", purpose: "privacy-compliance", requestID: request.id)
        try vault.requests.identityVerified(request.id, method: .accountLogin, degree: .reasonable, context: officer)
        _ = try vault.retention.erase(subject: "cust-42", reason: "GDPR art. 17 request", context: acting)
        // Completed only on the evidence: here the erasure receipt, named in the close event.
        try vault.requests.close(request.id, outcome: .completed, context: officer)
        // end-doc-sample
        #expect(try vault.requests.get(request.id, context: officer).outcome == .completed)
    }

    @Test func backups() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()
        let keyFile = scratch.keyFile
        let admin = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")
        try vault.records.put(subject: "cust-42", values: ["email": "jane.doe@example.com"], context: admin)
        let restoredURL = scratch.directory.url.appendingPathComponent("restored")
        let recoveryPrefix = scratch.directory.file("recovery")
        let newKeyFile = scratch.directory.file("new-root.key")
        let recoveredURL = scratch.directory.url.appendingPathComponent("recovered")

        // doc-sample: backups-create-restore
        let backup = try vault.backups.create(context: admin)   // into <vault>/Backups
        let check = try vault.backups.verify(at: URL(fileURLWithPath: backup.file), context: admin)
        // check.ok == true: every chunk and the signed manifest authenticated; nothing restored

        // Into a new directory only; erasures made since the backup are replayed from the live vault.
        let restored = try VaultBackups.restore(from: URL(fileURLWithPath: backup.file), to: restoredURL,
                                               access: .rootKey(.keyFile(at: keyFile)),
                                               tombstones: .vault(vault), context: admin)
        // restored.auditVerified == true
        // end-doc-sample
        #expect(check.ok)
        #expect(restored.auditVerified && restored.subjects == 1)

        // doc-sample: backups-recovery
        // Once: a recovery key pair, pinned to this vault's identity; the private half
        // (recovery.key) goes offline. It restores only backups this vault made.
        let files = try RecoveryKey.generate(prefix: recoveryPrefix, pinnedTo: vault.keys.identity)
        let sealed = try vault.backups.create(recoveryKey: try SubjectExport.readPublicKey(at: files.publicKeyPath), context: admin)

        // The root secret is lost: the recovery key alone restores, under a new root secret.
        try RootKey.generateKeyFile(at: newKeyFile)
        _ = try VaultBackups.restore(from: URL(fileURLWithPath: sealed.file), to: recoveredURL,
                                    access: .recoveryKey(try RecoveryKey.read(at: files.secretKeyPath)),
                                    newRootKey: .keyFile(at: newKeyFile), tombstones: .none, context: admin)
        let recovered = try Vault.open(at: recoveredURL, rootKey: .keyFile(at: newKeyFile))
        // end-doc-sample
        #expect(try recovered.records.get(subject: "cust-42", context: admin)["email"] == "jane.doe@example.com")
    }

    @Test func audit() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()
        let agent = AccessContext(actor: "helpdesk-7", role: "support-agent", purpose: "customer-support")
        try vault.records.put(subject: "cust-42", values: ["email": "jane.doe@example.com"], context: agent)
        _ = try vault.records.get(subject: "cust-42", context: agent)

        // doc-sample: audit-verify
        let checkpoint = try vault.audit.checkpoint()        // signed (Ed25519) over the chain's head
        let witnessLine = try checkpoint.jsonLine()    // append it to a file the vault's host cannot rewrite

        // Later, anywhere, with the public key only: the chain, every stored checkpoint, and
        // that the witnessed checkpoints are still a prefix of the log.
        let report = try AuditVerifier.verify(storePath: vault.storePath, publicKey: vault.auditPublicKey,
                                              witness: [checkpoint])
        // report.ok == true; else report.problem says what is wrong and at which seq
        // end-doc-sample
        #expect(report.ok && report.witnessCheckpointsVerified == 1 && witnessLine.hasPrefix("{"))

        // doc-sample: audit-query
        let auditor = AccessContext(actor: "internal-audit", role: "auditor", purpose: "privacy-compliance")
        let events = try vault.audit.events(matching: AuditQuery(subjectID: "cust-42"), context: auditor)
        // events.map(\.action) == ["record.write", "record.read", "audit.query"] (the query itself is audited),
        // each with actor, role, purpose, fields and outcome
        // end-doc-sample
        #expect(events.map(\.action) == ["record.write", "record.read", "audit.query"])
    }

    @Test func access() throws {
        let scratch = SampleVault()
        let vault = try scratch.make()

        // doc-sample: access-decide
        let decision = try vault.policies.access.decide(role: "support-agent", action: .read, field: "national_id", purpose: "customer-support")
        // decision.outcome == .masked
        // decision.rule == "roles.support-agent.read_masked includes national_id"
        let refused = try vault.policies.access.decide(role: "marketer", action: .read, field: "phone", purpose: "marketing-email")
        // refused.isAllowed == false
        // end-doc-sample
        #expect(decision.outcome == .masked)
        #expect(decision.rule == "roles.support-agent.read_masked includes national_id")
        #expect(!refused.isAllowed)
    }

    @Test func readmeLibrary() throws {
        let scratch = SampleVault()
        let keyFile = scratch.keyFile
        let vaultURL = scratch.vaultURL
        let passphraseFile = scratch.directory.file("passphrase")
        try RootKey.generateKeyFile(at: keyFile)
        try writeFile(passphraseFile, Array("correct horse battery staple".utf8))

        // doc-sample: readme-library
        // Create a vault sealed under a key file (kdfLimits only matters for a passphrase).
        let created = try Vault.create(at: vaultURL, rootKey: .keyFile(at: keyFile))
        let vaultID = created.id.hex          // 32 hex digits

        // Open it: throws PrivacyKitError (.wrongKey, .notFound, .integrity, …) and changes nothing.
        let vault = try Vault.open(at: vaultURL, rootKey: .keyFile(at: keyFile))
        let keys = vault.keys.status().map { "\($0.role) v\($0.version) \($0.fingerprint)" }   // never key bytes

        // Every call names who acts, in which role, for which purpose (checked, then audited).
        let agent = AccessContext(actor: "helpdesk-7", role: "support-agent", purpose: "customer-support")
        try vault.records.put(subject: "cust-42", values: ["email": "Jane@Example.com", "national_id": "123-45-6789"], context: agent)
        let seen = try vault.records.get(subject: "cust-42", context: agent)   // ["email": "jane@example.com", "national_id": "****6789"]
        let ids = try vault.records.find(field: "email", value: "JANE@example.com", context: agent)   // ["cust-42"]

        // Re-seal the keyring under a passphrase (Argon2id); key operations need the keys action.
        let admin = AccessContext(actor: "ops", role: "admin", purpose: "privacy-compliance")
        try vault.keys.rotateRoot(to: .passphraseFile(at: passphraseFile), kdfLimits: .interactive, context: admin)
        // end-doc-sample
        #expect(vaultID.count == 32 && !keys.isEmpty)
        #expect(seen == ["email": "jane@example.com", "national_id": "****6789"])
        #expect(ids == ["cust-42"])
    }
}
