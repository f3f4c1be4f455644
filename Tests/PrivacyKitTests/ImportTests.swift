import Foundation
import GRDB
@_spi(Testing) @testable import PrivacyKit
import Sodium
import Testing

@Suite("Import")
struct ImportTests {
    let ctx = AccessContext(actor: "importer", role: "admin", purpose: "privacy-compliance")

    struct Setup {
        let dir: TempDirectory
        let vault: Vault

        init() throws {
            let made = try KeyFileTestVault()
            dir = made.dir
            vault = made.vault
        }

        func write(_ name: String, _ bytes: [UInt8]) throws -> String {
            let path = dir.file(name)
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
    }

    /// Every fault of the import issue, one per row, with a BOM, CRLF line ends, quoted
    /// fields with commas, doubled quotes and an embedded newline, an unknown column.
    static let messy: [UInt8] = {
        var b: [UInt8] = [0xEF, 0xBB, 0xBF]
        func line(_ s: String) { b += Array(s.utf8) + [0x0D, 0x0A] }
        line("id,full_name,E-Mail,phone,country,loyalty_notes")                      // 1 header
        line("c1,\"Doe, Jane\",JANE@Example.com,020 7946 0958,GB,UNKNOWNCOL-CANARY-1") // 2 ok
        line("c2,\"Wang \"\"Xiaoming\"\"\",wang@example.cn,138 0013 8000,CN,")        // 3 ok
        line("c3,\"Multi")                                                             // 4 ok (spans 2 lines)
        line("Line\",multi@example.de,030 123456,DE,")                                 // 5
        line("c4,Too,Few")                                                             // 6 wrong column count
        b += Array("c5,Bad \u{0}".utf8).dropLast(1) + [0xFF, 0xFE] + Array(",bad@example.com,,US,".utf8) + [0x0D, 0x0A] // 7 invalid UTF-8
        line(",No Id,noid@example.com,,US,")                                           // 8 missing id
        line("c6,REJECTED-CANARY-NAME,not-an-email,,US,")                              // 9 strict invalid e-mail
        line("c7,Ok Again,ok@example.com,(415) 555-0100,US,")                          // 10 ok
        line("c8,Bad Phone,badphone@example.com,12,US,")                               // 11 strict invalid phone
        return b
    }()

    @Test func messyFileGivesExactCountsAndARejectReport() throws {
        let s = try Setup()
        let path = try s.write("messy.csv", Self.messy)
        let summary = try s.vault.records.importCSV(at: path, context: ctx)
        #expect(summary.rows == 9)  // records, not physical lines
        #expect(summary.created == 4)
        #expect(summary.updated == 0 && summary.unchanged == 0)
        #expect(summary.rejected == 5)
        #expect(summary.unknownColumns == ["loyalty_notes"])
        let byLine = Dictionary(uniqueKeysWithValues: summary.rejects.map { ($0.line, $0) })
        #expect(Set(byLine.keys) == [6, 7, 8, 9, 11])
        #expect(byLine[6]?.reason.contains("columns") == true)
        #expect(byLine[7]?.reason == "invalid UTF-8" && byLine[7]?.column == "full_name")
        #expect(byLine[8]?.column == "id")
        #expect(byLine[9]?.column == "E-Mail")
        #expect(byLine[11]?.column == "phone")
        // The report file has the same rejects, and no value.
        let reportPath = try #require(summary.rejectReport)
        #expect(try mode(reportPath) == 0o600)
        let report = try String(contentsOfFile: reportPath, encoding: .utf8)
        #expect(report.split(separator: "\n").count == 6)
        for canary in ["REJECTED-CANARY", "not-an-email", "bad@example.com", "noid@example.com", "badphone"] {
            #expect(!report.contains(canary))
            #expect(!summary.rejects.contains { $0.reason.contains(canary) })
        }
        // What was imported is right; nothing of a rejected row exists.
        #expect(try s.vault.records.get(subject: "c1", context: ctx) == ["full_name": "Doe, Jane", "email": "jane@example.com", "phone": "+442079460958", "country": "GB"])
        #expect(try s.vault.records.get(subject: "c2", fields: ["full_name"], context: ctx)["full_name"] == "Wang \"Xiaoming\"")
        #expect(try s.vault.records.get(subject: "c3", fields: ["full_name", "phone"], context: ctx) == ["full_name": "Multi Line", "phone": "+4930123456"])
        for rejected in ["c4", "c5", "c6", "c8"] {
            expectError(.notFound) { try s.vault.records.get(subject: rejected, context: ctx) }
        }
        #expect(try s.vault.records.listSubjects(context: ctx) == ["c1", "c2", "c3", "c7"])
        if TestBackend.isSQLite {
            let store = try Data(contentsOf: URL(fileURLWithPath: s.vault.storePath))
            for canary in ["UNKNOWNCOL-CANARY", "REJECTED-CANARY", "loyalty"] {
                #expect(store.range(of: Data(canary.utf8)) == nil)
            }
        }
        #expect(try s.vault.audit.verify().ok)
    }

    @Test func runningTheSameImportAgainChangesNothing() throws {
        let s = try Setup()
        let path = try s.write("messy.csv", Self.messy)
        _ = try s.vault.records.importCSV(at: path, context: ctx)
        let seq = try s.vault.store.read { db in try AuditLog.lastSeq(db: db) }
        let again = try s.vault.records.importCSV(at: path, context: ctx)
        #expect(again.created == 0 && again.updated == 0 && again.unchanged == 4 && again.rejected == 5)
        #expect(try s.vault.store.read { db in try AuditLog.lastSeq(db: db) } == seq)
    }

    @Test func anImportKilledHalfWayThenRunAgainEndsLikeOneRun() throws {
        var text = "id,full_name,email,phone,country,segment\n"
        for i in 0..<40 {
            text += "cust-\(i),Person \(i),p\(i)@example.com,+1 415 555 \(String(format: "%04d", i)),US,\(i % 3 == 0 ? "lead" : "customer")\n"
        }
        text += "cust-3,Person Three Updated,p3@example.com,,US,customer\n"  // a later row updates an earlier one
        let interrupted = try Setup()
        let path = try interrupted.write("customers.csv", Array(text.utf8))
        #expect(throws: PrivacyKitError.self) {
            try interrupted.vault.records.importCSV(at: path, options: ImportOptions(batchSize: 7), context: ctx, progress: nil, stopAfterBatches: 3)
        }
        #expect(try interrupted.vault.records.listSubjects(limit: 1000, context: ctx).count == 21)
        let rerun = try interrupted.vault.records.importCSV(at: path, options: ImportOptions(batchSize: 7), context: ctx)
        #expect(rerun.rejected == 0)

        let straight = try Setup()
        let path2 = try straight.write("customers.csv", Array(text.utf8))
        _ = try straight.vault.records.importCSV(at: path2, context: ctx)
        let ids = try straight.vault.records.listSubjects(limit: 1000, context: ctx)
        #expect(ids.count == 40)
        #expect(try interrupted.vault.records.listSubjects(limit: 1000, context: ctx) == ids)
        for id in ids {
            #expect(try interrupted.vault.records.get(subject: id, context: ctx) == (try straight.vault.records.get(subject: id, context: ctx)))
        }
        #expect(try interrupted.vault.records.get(subject: "cust-3", fields: ["full_name"], context: ctx)["full_name"] == "Person Three Updated")
        #expect(try interrupted.vault.audit.verify().ok)
    }

    @Test func mappingAndIdColumn() throws {
        let s = try Setup()
        let path = try s.write("crm.csv", Array("Customer No,Mail Address,Name\nA-1,a@example.com,Ann\n".utf8))
        let summary = try s.vault.records.importCSV(
            at: path, options: ImportOptions(columnMap: ["Mail Address": "email", "Name": "full_name"], idColumn: "Customer No"), context: ctx)
        #expect(summary.created == 1 && summary.unknownColumns.isEmpty)
        #expect(try s.vault.records.find(field: "email", value: "A@example.com", context: ctx) == ["A-1"])
        expectError(.invalidInput) { try s.vault.records.importCSV(at: path, context: ctx) }  // no id column
        expectError(.invalidInput) {
            try s.vault.records.importCSV(at: path, options: ImportOptions(columnMap: ["Name": "shoe_size"], idColumn: "Customer No"), context: ctx)
        }
        expectError(.notFound) { try s.vault.records.importCSV(at: s.dir.file("missing.csv"), context: ctx) }
    }

    /// The preparer works ahead of the writer, assuming unseen subjects are new; the
    /// store decides. A subject repeated in the same batch or in a later one, or already in
    /// the vault, is updated through the full path, with the stored record's region.
    @Test func repeatedAndExistingSubjectsAreUpdatedWhateverTheBatching() throws {
        for batchSize in [1, 2, 500] {
            let s = try Setup()
            // Already in the vault, in Taiwan: a local Taiwanese mobile number is valid for it
            // (and invalid under the default region, US, which a new subject would get).
            try s.vault.records.put(subject: "tw-old", values: ["full_name": "Old", "country": "TW"], context: ctx)
            let text = """
                id,full_name,email,phone,country
                a,Ann,ann@example.com,,US
                tw-new,New,new@example.tw,,TW
                tw-new,,,0912 345 678,
                a,Ann Updated,,,
                tw-old,,,0912 345 679,
                a,Ann Updated,,,
                us-bad,,,0912 345 670,

                """
            let path = try s.write("repeat.csv", Array(text.utf8))
            let summary = try s.vault.records.importCSV(at: path, options: ImportOptions(batchSize: batchSize), context: ctx)
            #expect(summary.rows == 7, "batch \(batchSize)")
            #expect(summary.created == 2, "batch \(batchSize)")
            #expect(summary.updated == 3, "batch \(batchSize)")
            #expect(summary.unchanged == 1, "batch \(batchSize)")
            #expect(summary.rejects.map(\.line) == [8] && summary.rejects.first?.column == "phone", "batch \(batchSize)")
            #expect(try s.vault.records.get(subject: "tw-new", context: ctx)["phone"] == "+886912345678", "batch \(batchSize)")
            #expect(try s.vault.records.get(subject: "tw-old", context: ctx)["phone"] == "+886912345679", "batch \(batchSize)")
            #expect(try s.vault.records.get(subject: "a", context: ctx) == ["full_name": "Ann Updated", "email": "ann@example.com", "country": "US"])
            #expect(try s.vault.records.find(field: "phone", value: "+886 912 345 678", context: ctx) == ["tw-new"])
            expectError(.notFound) { try s.vault.records.get(subject: "us-bad", context: ctx) }
            // One event per change, none for the unchanged row.
            let imports = try s.vault.audit.events(matching: AuditQuery(action: AuditAction.recordImport.rawValue), context: ctx)
            #expect(imports.count == 5, "batch \(batchSize)")
            #expect(try s.vault.audit.verify().ok)
        }
    }
}

extension ImportTests {
    /// An import ends by emptying the WAL. A TRUNCATE checkpoint holds SQLite's writer lock
    /// while it waits for readers: it waited the full 10 s busy timeout behind a long reader
    /// (a backup's snapshot), and every writer of every process queued behind it until they
    /// failed with "database is locked" (found by the concurrency suite). It now gives up
    /// at once, and writers go on.
    @Test(.enabled(if: TestBackend.isSQLite, "about the SQLite file")) func anImportDoesNotHoldWritersBehindALongReaderWhenItEnds() throws {
        let s = try Setup()
        try s.vault.records.put(subject: "a1", values: ["email": "a1@example.com"], context: ctx)
        var config = Configuration()
        config.readonly = true
        config.allowsUnsafeTransactions = true
        let reader = try DatabaseQueue(path: s.vault.storePath, configuration: config)
        try reader.inDatabase { db in
            try db.execute(sql: "BEGIN DEFERRED")
            _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM subjects")
        }
        defer {
            try? reader.inDatabase { try $0.execute(sql: "ROLLBACK") }
            try? reader.close()
        }
        let path = try s.write("more.csv", Array("id,email\nb1,b1@example.com\nb2,b2@example.com\n".utf8))
        let started = Date()
        let summary = try s.vault.records.importCSV(at: path, context: ctx)
        let importSeconds = Date().timeIntervalSince(started)
        try s.vault.records.put(subject: "a2", values: ["email": "a2@example.com"], context: ctx)
        #expect(summary.created == 2)
        #expect(importSeconds < 3, "the import took \(importSeconds) s behind a reader")
    }
}
