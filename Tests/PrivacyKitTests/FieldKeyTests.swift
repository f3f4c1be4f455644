import Foundation
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

/// Issue 20, point 3: a key per field version. Rectifying or removing a field destroys its
/// old version's key, so every copy of an old envelope (the vault's own, a service's) stops
/// opening, while the subject's other fields keep theirs.
@Suite("Field keys")
struct FieldKeyTests {
    static let admin = AccessContext(actor: "dpo", role: "admin", purpose: "privacy-compliance")

    let made: KeyFileTestVault
    var vault: Vault { made.vault }

    init() throws {
        made = try KeyFileTestVault()
        try vault.records.put(subject: "s1", values: ["email": "old@example.com", "phone": "+14155550100"], context: Self.admin)
    }

    func storedFields(_ id: String) throws -> (envelopes: [String: [UInt8]], keys: [String: FieldKey]) {
        let sealed = try #require(try vault.store.read { db in try Data.fetchOne(db, sql: "SELECT sealed FROM subjects WHERE id = ?", arguments: [id]) })
        return try RecordStore.decodeColumn([UInt8](sealed), subjectID: id)
    }

    func decrypt(_ envelope: String, _ field: String) throws -> String {
        try vault.records.decrypt(envelope, field: field, subject: "s1", context: Self.admin)
    }

    @Test func rectifyingAFieldMakesEveryOldEnvelopeOfItUnreadable() throws {
        let serviceCopy = try vault.records.encrypt("old@example.com", field: "email", subject: "s1", context: Self.admin)
        let phoneCopy = try vault.records.encrypt("+14155550100", field: "phone", subject: "s1", context: Self.admin)
        let vaultCopy = FieldCipher.text(try #require(try storedFields("s1").envelopes["email"]))
        #expect(try decrypt(serviceCopy, "email") == "old@example.com")
        #expect(try decrypt(vaultCopy, "email") == "old@example.com")

        try vault.records.put(subject: "s1", values: ["email": "new@example.com"], context: Self.admin)

        for copy in [serviceCopy, vaultCopy] {
            let error = #expect(throws: PrivacyKitError.self) { try decrypt(copy, "email") }
            #expect(error?.code == .notFound && error?.message.contains("destroyed") == true, "\(error?.message ?? "")")
            #expect(error?.message.contains("old@example.com") == false)
        }
        // The subject's other field, and its key, are untouched.
        #expect(try decrypt(phoneCopy, "phone") == "+14155550100")
        #expect(try vault.records.get(subject: "s1", context: Self.admin)["email"] == "new@example.com")
        let keys = try storedFields("s1").keys
        #expect(keys["email"]?.version == 2 && keys["phone"]?.version == 1)
        // A new envelope is of the new version.
        let fresh = try vault.records.encrypt("new@example.com", field: "email", subject: "s1", context: Self.admin)
        #expect(try decrypt(fresh, "email") == "new@example.com")
    }

    @Test func removingAFieldDestroysItsKeyAndANewValueGetsANewOne() throws {
        let copy = try vault.records.encrypt("+14155550100", field: "phone", subject: "s1", context: Self.admin)
        _ = try vault.records.deleteFields(subject: "s1", fields: ["phone"], context: Self.admin)
        let removed = try storedFields("s1")
        #expect(removed.envelopes["phone"] == nil && removed.keys["phone"] == FieldKey(version: 1, salt: nil))
        #expect(throws: PrivacyKitError.self) { try decrypt(copy, "phone") }
        #expect(try vault.records.get(subject: "s1", context: Self.admin)["email"] == "old@example.com")

        try vault.records.put(subject: "s1", values: ["phone": "+14155550199"], context: Self.admin)
        #expect(try storedFields("s1").keys["phone"]?.version == 2)
        let error = #expect(throws: PrivacyKitError.self) { try decrypt(copy, "phone") }
        #expect(error?.code == .notFound)
    }

    /// A service's field with no value in the vault: removing it is how the service makes
    /// its own copies unreadable.
    @Test func aServiceOnlyFieldIsRemovedByDeletingIt() throws {
        let copy = try vault.records.encrypt("Main St 1", field: "address", subject: "s1", context: Self.admin)
        #expect(try storedFields("s1").envelopes["address"] == nil)
        #expect(try decrypt(copy, "address") == "Main St 1")
        let result = try vault.records.deleteFields(subject: "s1", fields: ["address"], context: Self.admin)
        #expect(result.changedFields == ["address"])
        #expect(throws: PrivacyKitError.self) { try decrypt(copy, "address") }
    }

    /// The subject key alone does not open a field: the version's salt is needed too, so a
    /// destroyed version cannot be rebuilt from the key and the version number.
    @Test func aVersionsKeyNeedsItsSalt() throws {
        let cipher = try FieldCipher(vaultID: VaultID.random())
        cipher.newSubjectKey()
        let key = cipher.newFieldKey(version: 3)
        let envelope = try cipher.seal("secret", field: "email", subjectID: "s", key: key)
        #expect(try cipher.open(envelope, field: "email", subjectID: "s", key: key) == "secret")
        let other = cipher.newFieldKey(version: 3)
        #expect(throws: PrivacyKitError.self) { try cipher.open(envelope, field: "email", subjectID: "s", key: other) }
        #expect(throws: PrivacyKitError.self) { try cipher.open(envelope, field: "email", subjectID: "s") }
        #expect(throws: PrivacyKitError.self) { try cipher.open(envelope, field: "email", subjectID: "s", key: key.destroyed) }
    }
}
