import Foundation
@_spi(Testing) @testable import PrivacyKit
import Testing

/// Exports as spreadsheets write them (issue 22, point 3): `;` and tab separators, latin1
/// and windows-1252 text, files that are no CSV at all, and a reject limit that makes a
/// bad import fail.
@Suite("Import: separators, encodings and the reject limit")
struct ImportFormatTests {
    let ctx = AccessContext(actor: "importer", role: "admin", purpose: "privacy-compliance")
    let made: KeyFileTestVault
    var vault: Vault { made.vault }

    init() throws { made = try KeyFileTestVault() }

    func write(_ bytes: [UInt8], _ name: String = "export.csv") throws -> String {
        let path = made.dir.file(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func importEvents() throws -> Int {
        try vault.store.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM audit_events WHERE action = 'record.import'") ?? 0 }
    }

    @Test func semicolonAndTabSeparatedExportsAreDetected() throws {
        let semicolon = try write(Array("id;full_name;email;city\nc1;\"Dupont; Marie\";marie@example.fr;Lyon\n".utf8))
        let read = try vault.records.importCSV(at: semicolon, context: ctx)
        #expect(read.delimiter == .semicolon && read.created == 1 && read.rejected == 0)
        #expect(try vault.records.get(subject: "c1", context: ctx) == ["full_name": "Dupont; Marie", "email": "marie@example.fr", "city": "Lyon"])
        let tab = try write(Array("id\tfull_name\temail\nc2\tKarl Weiß\tkarl@example.de\n".utf8), "tab.tsv")
        let tabbed = try vault.records.importCSV(at: tab, context: ctx)
        #expect(tabbed.delimiter == .tab && tabbed.created == 1)
        #expect(try vault.records.get(subject: "c2", fields: ["full_name"], context: ctx)["full_name"] == "Karl Weiß")
        // A comma file whose values hold semicolons stays a comma file.
        let comma = try write(Array("id,full_name,email\nc3,\"A; B; C\",c3@example.com\n".utf8), "comma.csv")
        #expect(try vault.records.importCSV(at: comma, context: ctx).delimiter == .comma)
        // --delimiter wins over detection.
        let forced = try #require(throws: PrivacyKitError.self) {
            try vault.records.importCSV(at: semicolon, options: ImportOptions(delimiter: .comma), context: ctx)
        }
        #expect(forced.code == .invalidInput, "read with ',', the header is one column and has no id column")
    }

    @Test func aLatin1FileIsRefusedWithItsEncodingNamedThenReadWhenNamed() throws {
        // "Müller" and "Zoë" in ISO-8859-1: 0xFC and 0xEB, invalid as UTF-8.
        var bytes = Array("id,full_name,email\nc1,M".utf8) + [0xFC] + Array("ller,m@example.de\nc2,Zo".utf8) + [0xEB] + Array(",z@example.nl\n".utf8)
        let path = try write(bytes)
        let error = try #require(throws: PrivacyKitError.self) { try vault.records.importCSV(at: path, context: ctx) }
        #expect(error.code == .invalidInput && error.message.contains("latin1") && error.message.contains("--encoding") && error.message.contains("line 2"),
                "\(error.message)")
        #expect(!error.message.contains("ller"), "no value in the message")
        #expect(try vault.records.listSubjects(context: ctx).isEmpty && importEvents() == 0, "nothing written")
        let read = try vault.records.importCSV(at: path, options: ImportOptions(encoding: .latin1), context: ctx)
        #expect(read.created == 2 && read.encoding == .latin1)
        #expect(try vault.records.get(subject: "c1", fields: ["full_name"], context: ctx)["full_name"] == "Müller")
        #expect(try vault.records.get(subject: "c2", fields: ["full_name"], context: ctx)["full_name"] == "Zoë")
        // Windows-1252's curly apostrophe (0x92) names cp1252, and --encoding cp1252 reads it.
        // (A single bad byte is taken for a damaged row of a UTF-8 file, rejected on its own.)
        bytes = Array("id,full_name\nc3,O".utf8) + [0x92] + Array("Brien\nc4,D".utf8) + [0x92] + Array("Arcy\n".utf8)
        let cp = try write(bytes, "cp1252.csv")
        let cpError = try #require(throws: PrivacyKitError.self) { try vault.records.importCSV(at: cp, context: ctx) }
        #expect(cpError.message.contains("windows-1252") && cpError.message.contains("--encoding cp1252"), "\(cpError.message)")
        _ = try vault.records.importCSV(at: cp, options: ImportOptions(encoding: .cp1252), context: ctx)
        #expect(try vault.records.get(subject: "c3", fields: ["full_name"], context: ctx)["full_name"] == "O\u{2019}Brien")
    }

    @Test func aChineseDoubleByteFileIsNamedAndPointedToIconv() throws {
        // 陈志明 in GBK.
        let path = try write(Array("id,full_name\nc1,".utf8) + [0xB3, 0xC2, 0xD6, 0xBE, 0xC3, 0xF7] + Array("\n".utf8))
        let error = try #require(throws: PrivacyKitError.self) { try vault.records.importCSV(at: path, context: ctx) }
        #expect(error.message.contains("GB18030") && error.message.contains("iconv"), "\(error.message)")
    }

    @Test func whatCannotBeACSVExportIsRefusedBeforeAnythingIsWritten() throws {
        let workbook = try write([0x50, 0x4B, 0x03, 0x04, 0x14, 0x00] + Array(repeating: 0x41, count: 40), "crm.xlsx")
        let utf16 = try write([0xFF, 0xFE] + Array("id,email\n".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, "utf16.csv")
        let binary = try write(Array("id,email\nc1,".utf8) + [0x00, 0x01, 0x02], "binary.csv")
        for (path, says) in [(workbook, "ZIP"), (utf16, "UTF-16"), (binary, "NUL")] {
            let error = try #require(throws: PrivacyKitError.self) { try vault.records.importCSV(at: path, context: ctx) }
            #expect(error.code == .invalidInput && error.message.contains(says) && error.message.contains(path), "\(error.message)")
        }
        #expect(try importEvents() == 0)
    }

    @Test func moreRejectsThanTheLimitMarkTheImportFailedAfterTheGoodRowsAndTheReport() throws {
        var text = "id,email\n"
        for n in 1...18 { text += "c\(n),c\(n)@example.com\n" }
        text += "c19,not-an-email\nc20,also-not\n"
        let path = try write(Array(text.utf8))
        let failed = try vault.records.importCSV(at: path, context: ctx)  // 10% > the default 5%
        #expect(failed.rejected == 2 && failed.created == 18 && failed.rejectLimitExceeded)
        #expect(failed.rejectReport.map { FileManager.default.fileExists(atPath: $0) } == true, "the report is written")
        #expect(try !vault.records.importCSV(at: path, options: ImportOptions(maxRejects: .percent(10)), context: ctx).rejectLimitExceeded)
        #expect(try vault.records.importCSV(at: path, options: ImportOptions(maxRejects: .count(1)), context: ctx).rejectLimitExceeded)
        #expect(try !vault.records.importCSV(at: path, options: ImportOptions(maxRejects: nil), context: ctx).rejectLimitExceeded)
        #expect(RejectLimit("5%") == .percent(5) && RejectLimit("12") == .count(12))
        #expect(RejectLimit("101%") == nil && RejectLimit("-1") == nil && RejectLimit("x%") == nil)
    }
}
