import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

@Suite("Records")
struct RecordsTests {
    let ctx = AccessContext(actor: "agent-7", role: "admin", purpose: "customer-support")

    func vault() throws -> (TempDirectory, Vault) {
        let dir = try TempDirectory()
        try RootKey.generateKeyFile(at: dir.file("root.key"))
        return (dir, try createTestVault(at: dir.url.appendingPathComponent("vault"), rootKey: .keyFile(at: dir.file("root.key"))))
    }

    @Test func putNormalizesAndGetDecrypts() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        let r = try v.records.put(subject: "cust-1", values: [
            "email": "  Jane.DOE@Example.com ", "phone": "0912-345-678", "country": "tw",
            "full_name": "  Jane   Doe ", "birth_date": "1990-04-01", "national_id": "a123-456-789", "segment": "lead",
        ], context: ctx)
        #expect(r.change == .created)
        let got = try v.records.get(subject: "cust-1", context: ctx)
        #expect(got["email"] == "jane.doe@example.com")
        #expect(got["phone"] == "+886912345678")
        #expect(got["country"] == "TW")
        #expect(got["full_name"] == "Jane Doe")
        #expect(got["national_id"] == "A123456789")
        #expect(got["segment"] == "lead")
        #expect(try v.records.get(subject: "cust-1", fields: ["email"], context: ctx) == ["email": "jane.doe@example.com"])
        expectError(.notFound) { try v.records.get(subject: "nobody", context: ctx) }
        expectError(.invalidInput) { try v.records.get(subject: "cust-1", fields: ["shoe_size"], context: ctx) }
        expectError(.invalidInput) { try v.records.put(subject: "cust-1", values: ["shoe_size": "42"], context: ctx) }
    }

    @Test func samePutTwiceIsUnchangedAndWritesNoEvent() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        try v.records.put(subject: "c", values: ["email": "a@example.com"], context: ctx)
        let events = try v.store.read { db in try AuditLog.lastSeq(db: db) }
        let again = try v.records.put(subject: "c", values: ["email": "A@EXAMPLE.COM "], context: ctx)
        #expect(again.change == .unchanged)
        #expect(try v.store.read { db in try AuditLog.lastSeq(db: db) } == events)
        let changed = try v.records.put(subject: "c", values: ["email": "b@example.com"], context: ctx)
        #expect(changed.change == .updated && changed.changedFields == ["email"])
    }

    @Test func strictInvalidIsRejectedAndLenientIsKeptAndFlagged() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        let error = expectError(.invalidInput) { try v.records.put(subject: "c", values: ["email": "CANARY-no-at-sign"], context: ctx) }
        #expect(error?.message.contains("CANARY") == false)
        #expect(error?.message.contains("email") == true && error?.message.contains("subject c") == true)
        expectError(.notFound) { try v.records.get(subject: "c", context: ctx) }
        let r = try v.records.put(subject: "c", values: ["full_name": "\u{7}bell"], context: ctx)
        #expect(r.invalidFields == ["full_name"])
        #expect(try v.records.qualityReport(context: ctx).fields.first { $0.field == "full_name" }?.invalid == 1)
    }

    @Test func findIsExactWhateverTheFormatting() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        try v.records.put(subject: "a", values: ["email": "jane@example.com", "phone": "+1 415 555 0100"], context: ctx)
        try v.records.put(subject: "b", values: ["email": "JANE@example.com "], context: ctx)
        try v.records.put(subject: "c", values: ["email": "john@example.com", "phone": "(415) 555-0100", "country": "US"], context: ctx)
        #expect(try v.records.find(field: "email", value: " Jane@Example.COM", context: ctx) == ["a", "b"])
        #expect(try v.records.find(field: "phone", value: "415.555.0100", context: ctx) == ["a", "c"])
        #expect(try v.records.find(field: "email", value: "nobody@example.com", context: ctx).isEmpty)
        #expect(try v.records.find(field: "country", value: "us", context: ctx) == ["c"])
        // A local number of another country: found with its region, invalid without.
        try v.records.put(subject: "tw", values: ["phone": "(02) 2920-6532", "country": "TW"], context: ctx)
        #expect(try v.records.find(field: "phone", value: "02 2920 6532", region: "TW", context: ctx) == ["tw"])
        #expect(try v.records.find(field: "phone", value: "+886 2 2920 6532", context: ctx) == ["tw"])
        expectError(.invalidInput) { try v.records.find(field: "phone", value: "02 2920 6532", context: ctx) }
        expectError(.invalidInput) { try v.records.find(field: "address", value: "x", context: ctx) }
        expectError(.invalidInput) { try v.records.find(field: "email", value: "not an email", context: ctx) }
        #expect(try v.records.duplicates(field: "email", context: ctx) == [DuplicateCluster(field: "email", subjects: ["a", "b"])])
    }

    @Test func deletingAFieldRemovesItsIndex() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        try v.records.put(subject: "a", values: ["email": "jane@example.com", "city": "Taipei"], context: ctx)
        let r = try v.records.deleteFields(subject: "a", fields: ["email", "city"], context: ctx)
        #expect(r.changedFields == ["city", "email"])
        #expect(try v.records.get(subject: "a", context: ctx).isEmpty)
        #expect(try v.records.find(field: "email", value: "jane@example.com", context: ctx).isEmpty)
    }

    @Test func listPagesThroughSubjects() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        for i in 0..<7 { try v.records.put(subject: "s\(i)", values: ["segment": "x"], context: ctx) }
        let first = try v.records.listSubjects(limit: 3, context: ctx)
        #expect(first == ["s0", "s1", "s2"])
        #expect(try v.records.listSubjects(after: "s2", limit: 10, context: ctx) == ["s3", "s4", "s5", "s6"])
    }

    @Test func everyCallIsAuditedWithThePseudonymAndFieldNames() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        try v.records.put(subject: "cust-9", values: ["email": "a@example.com", "city": "Berlin"], context: ctx)
        _ = try v.records.get(subject: "cust-9", fields: ["email"], context: ctx)
        _ = try v.records.find(field: "email", value: "a@example.com", context: ctx)
        let events = try v.audit.events(matching: AuditQuery(subjectID: "cust-9"), context: ctx)
        #expect(events.map(\.action) == ["record.write", "record.read", "audit.query"])
        #expect(events[0].fields == ["city", "email"] && events[0].actor == "agent-7" && events[0].purpose == "customer-support")
        #expect(events[1].fields == ["email"])
        let lookups = try v.audit.events(matching: AuditQuery(action: "record.lookup"), context: ctx)
        #expect(lookups.count == 1 && lookups[0].fields == ["email"] && lookups[0].subject == nil)
        #expect(try v.audit.verify().ok)
    }

    // MARK: envelopes

    @Test func textEnvelopesOpenOnlyInTheirPlace() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        let envelope = try v.records.encrypt("jane@example.com", field: "email", subject: "svc-1", context: ctx)
        #expect(envelope.hasPrefix("pk1."))
        #expect(try v.records.decrypt(envelope, field: "email", subject: "svc-1", context: ctx) == "jane@example.com")
        try v.records.put(subject: "svc-2", values: ["segment": "x"], context: ctx)
        expectError(.integrity) { try v.records.decrypt(envelope, field: "phone", subject: "svc-1", context: ctx) }
        expectError(.integrity) { try v.records.decrypt(envelope, field: "email", subject: "svc-2", context: ctx) }
        expectError(.notFound) { try v.records.decrypt(envelope, field: "email", subject: "unknown", context: ctx) }
        // Another vault with a subject of the same id cannot open it either.
        let (otherDir, other) = try vault()
        defer { withExtendedLifetime(otherDir) {} }
        try other.records.put(subject: "svc-1", values: ["segment": "x"], context: ctx)
        expectError(.integrity) { try other.records.decrypt(envelope, field: "email", subject: "svc-1", context: ctx) }
        // One flipped bit anywhere in the envelope.
        var bytes = try FieldCipher.binary(fromText: envelope)
        for position in [0, 2, 8, bytes.count - 1] {
            bytes[position] ^= 0x01
            expectError(.integrity) { try v.records.decrypt(FieldCipher.text(bytes), field: "email", subject: "svc-1", context: ctx) }
            bytes[position] ^= 0x01
        }
        expectError(.invalidInput) { try v.records.decrypt("pk2.abc", field: "email", subject: "svc-1", context: ctx) }
        expectError(.invalidInput) { try v.records.encrypt("x", field: "city", subject: "svc-1", context: ctx) }
        #expect(try v.records.blindIndex(" JANE@example.com", field: "email", context: ctx).count == 16)  // 64 bits in hex
    }

    @Test func storedCiphertextMovedToAnotherSubjectOrFieldDoesNotDecrypt() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        try v.records.put(subject: "a", values: ["email": "a@example.com", "phone": "+14155550100"], context: ctx)
        try v.records.put(subject: "b", values: ["email": "b@example.com"], context: ctx)
        // Move a's encrypted fields to b (keeping b's own key).
        try v.store.write { db in
            let sealed = try Data.fetchOne(db, sql: "SELECT sealed FROM subjects WHERE id = 'a'")
            try db.execute(sql: "UPDATE subjects SET sealed = ? WHERE id = 'b'", arguments: [sealed])
        }
        expectError(.integrity) { try v.records.get(subject: "b", fields: ["email"], context: ctx) }
        // Swap a's email envelope into its phone slot.
        try v.store.write { db in
            let sealed = try #require(try Data.fetchOne(db, sql: "SELECT sealed FROM subjects WHERE id = 'a'"))
            var fields = try RecordStore.decodeColumn([UInt8](sealed), subjectID: "a")
            fields.envelopes["phone"] = fields.envelopes["email"]
            fields.keys["phone"] = fields.keys["email"]
            try db.execute(sql: "UPDATE subjects SET sealed = ? WHERE id = 'a'",
                           arguments: [sealed.prefix(RecordSeal.headerByteCount) + Data(RecordStore.encodeFields(envelopes: fields.envelopes, keys: fields.keys))])
        }
        // The record's leaf no longer matches what the log commits to: the whole record
        // fails closed, not only the moved field.
        expectError(.integrity) { try v.records.get(subject: "a", fields: ["phone"], context: ctx) }
        expectError(.integrity) { try v.records.get(subject: "a", fields: ["email"], context: ctx) }
    }

    @Test func aWrongOrMissingKEKFails() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        try v.records.put(subject: "a", values: ["email": "a@example.com"], context: ctx)
        try v.records.put(subject: "b", values: ["email": "b@example.com"], context: ctx)
        try v.store.write { db in
            // b's wrapped key under a's subject id: the AD names the subject, so it fails.
            let wrapped = try Data.fetchOne(db, sql: "SELECT wrapped_key FROM subjects WHERE id = 'b'")
            try db.execute(sql: "UPDATE subjects SET wrapped_key = ? WHERE id = 'a'", arguments: [wrapped])
            try db.execute(sql: "UPDATE subjects SET kek_version = 9 WHERE id = 'b'")
        }
        expectError(.integrity) { try v.records.get(subject: "a", context: ctx) }
        let missing = expectError(.integrity) { try v.records.get(subject: "b", context: ctx) }
        #expect(missing?.message.contains("subject b") == true)
    }

    @Test func noPlaintextInTheStoreFiles() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        let canaries = ["canary.zq81@example.org", "+886912777888", "Zqxcanary Wolfeschlegel", "Q987654321"]
        try v.records.put(subject: "c1", values: ["email": canaries[0], "phone": canaries[1], "full_name": canaries[2], "national_id": canaries[3]], context: ctx)
        _ = try v.records.find(field: "email", value: canaries[0], context: ctx)
        _ = try v.records.qualityReport(context: ctx)
        for file in try FileManager.default.subpathsOfDirectory(atPath: v.directory.path) {
            var isDirectory: ObjCBool = false
            let path = v.directory.path + "/" + file
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            for canary in canaries + ["canary.zq81", "912777888", "Zqxcanary", "wolfeschlegel"] {
                #expect(data.range(of: Data(canary.utf8)) == nil, "\(file) holds \(canary)")
            }
        }
    }
}

extension RecordsTests {
    /// Locked memory is allocated once, not per call: a returned cipher is lent again,
    /// wiped.
    @Test func fieldCiphersAreReusedNotReallocated() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        let first = try v.core.borrowCipher()
        first.newSubjectKey()
        v.core.returnCipher(first)
        let second = try v.core.borrowCipher()
        #expect(second === first)
        // Wiped on return: sealing now uses an all-zero key, which a fresh random key never is.
        let zeroKey = try FieldCipher(vaultID: v.id)
        let a = try second.seal("x", field: "email", subjectID: "s", keyVersion: 1)
        #expect(try zeroKey.open(a, field: "email", subjectID: "s") == "x")
        v.core.returnCipher(second)
        for i in 0..<20 { try v.records.put(subject: "p\(i)", values: ["email": "p\(i)@example.com"], context: ctx) }
        #expect(try v.core.borrowCipher() === first)
    }
}

extension RecordsTests {
    /// The associated data built in place is exactly the `Canonical` encoding the formats
    /// document describes (label, format, vault id, field, subject, version), so stored
    /// envelopes keep opening.
    @Test func associatedDataIsTheCanonicalEncoding() throws {
        let (dir, v) = try vault()
        defer { withExtendedLifetime(dir) {} }
        let cipher = try FieldCipher(vaultID: v.id)
        for (field, subject, version) in [("email", "cust-1", 1), ("address", String(repeating: "長", count: 300), 70_000), ("x", "", 0)] {
            var expected = Canonical("privacykit.field.v1")
            expected.append([0, 0, 0, 0, 0, 0, 0, 1])
            expected.append(v.id.bytes)
            expected.append(field)
            expected.append(subject)
            expected.append(UInt64(version))
            #expect(Array(cipher.buildFieldAD(field: field, subjectID: subject, keyVersion: version)) == expected.bytes)
            var key = Canonical("privacykit.subject-key.v1")
            key.append(v.id.bytes)
            key.append(subject)
            key.append(UInt64(version))
            #expect(Array(cipher.buildKeyAD(subjectID: subject, kekVersion: version)) == key.bytes)
        }
    }

    /// Plain fields are stored as JSON written by hand: it must decode to the same values
    /// whatever they hold.
    @Test func plainFieldsJSONRoundTrips() throws {
        let values = ["segment": "a\"b\\c\n\r\t\u{1}\u{1F}/é長😀", "city": "", "a": "plain"]
        let json = RecordStore.json(values)
        #expect(try JSONDecoder().decode([String: String].self, from: Data(json.utf8)) == values)
        #expect(RecordStore.json(["b": "1", "a": "2"]) == #"{"a":"2","b":"1"}"#)
        #expect(RecordStore.json([:]) == "{}")
    }
}

@Suite("Subject ids")
struct SubjectIDTests {
    @Test(arguments: ["c-1001", String(repeating: "x", count: 128), "客戶-42", "Zoë 7", "a b"])
    func acceptedIDs(_ id: String) throws {
        try RecordStore.checkSubjectID(id)
    }

    @Test(arguments: ["", String(repeating: "x", count: 129), "a\u{1}b", "tab\there", "del\u{7f}", "nel\u{85}", "客\u{0}"])
    func refusedIDs(_ id: String) {
        let error = #expect(throws: PrivacyKitError.self) { try RecordStore.checkSubjectID(id) }
        #expect(error?.code == .invalidInput)
    }
}
