#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
@testable import PrivacyKit
import Testing

/// Every row of `bytes`, read from memory in chunks of `chunk` bytes.
private func rows(_ bytes: [UInt8], chunk: Int = CSVReader.defaultChunkSize, maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes) throws -> [CSVRow] {
    let reader = CSVReader(data: Data(bytes), chunkSize: chunk, maxRecordBytes: maxRecordBytes)
    return try drain(reader)
}

private func rows(_ text: String, chunk: Int = CSVReader.defaultChunkSize, maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes) throws -> [CSVRow] {
    try rows(Array(text.utf8), chunk: chunk, maxRecordBytes: maxRecordBytes)
}

private func drain(_ reader: CSVReader) throws -> [CSVRow] {
    var result: [CSVRow] = []
    while let row = try reader.next() { result.append(row) }
    // Stays at end.
    #expect(try reader.next() == nil)
    return result
}

private let canary = "CANARY-7f3a9"

/// Input with every tricky case, for the chunk-boundary tests: a BOM, CRLF, "" escapes,
/// embedded LF and CRLF, multi-byte UTF-8, empty lines, a lone CR, invalid UTF-8, a stray
/// quote, garbage after a closing quote, and an unterminated quote at the end.
private let corpus: [UInt8] =
    [0xEF, 0xBB, 0xBF]
    + Array("name,note,city\r\n".utf8)                                  // 1
    + Array("\"Smith, J\",\"said \"\"hi\"\"\",Zürich\r\n".utf8)         // 2
    + Array("\"multi\r\nline\",\"a\nb\",€😀\r\n".utf8)                  // 3-5
    + Array("\r\n\n".utf8)                                              // 6-7 empty
    + Array("\"\",,\"\"\"\"\r".utf8)                                    // 8, lone CR
    + Array("x\(canary)".utf8) + [0xC3, 0x28] + Array(",ok\n".utf8)    // 9 invalid UTF-8
    + Array("ab\"\(canary)\",\"q\nq\",z\n".utf8)                       // 10-11 stray quote
    + Array("\"\(canary)\"junk,y\n".utf8)                               // 12 garbage after quote
    + Array("ä,\"é\"\"\",\"\"\"\"\n".utf8)                              // 13
    + Array("last,\"open\n\(canary)".utf8)                              // 14-15 unterminated

private let corpusRows: [CSVRow] = [
    .record(line: 1, fields: ["name", "note", "city"]),
    .record(line: 2, fields: ["Smith, J", "said \"hi\"", "Zürich"]),
    .record(line: 3, fields: ["multi\r\nline", "a\nb", "€😀"]),
    .record(line: 8, fields: ["", "", "\""]),
    .malformed(line: 9, column: 1, reason: "invalid UTF-8"),
    .malformed(line: 10, column: 1, reason: "quote inside unquoted field"),
    .malformed(line: 12, column: 1, reason: "characters after closing quote"),
    .record(line: 13, fields: ["ä", "é\"", "\""]),
    .malformed(line: 14, column: 2, reason: "unterminated quoted field at end of file"),
]

private func assertNoCanary(_ rows: [CSVRow]) {
    for row in rows {
        if case .malformed(_, _, let reason) = row {
            #expect(!reason.contains(canary))
            #expect(!reason.contains("CANARY"))
        }
        if case .malformed = row {
            #expect(!String(describing: row).contains(canary))
        }
    }
}

private func peakRSSBytes() -> Int {
    var usage = rusage()
    #if os(Linux)
    _ = getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Int(usage.ru_maxrss) * 1024  // kilobytes on Linux
    #else
    _ = getrusage(RUSAGE_SELF, &usage)
    return Int(usage.ru_maxrss)  // bytes on Darwin
    #endif
}

/// Runs one test of this test binary in a child process of its own (with
/// `PRIVACYKIT_ISOLATED_TEST=marker`, which the test checks to run its body), for
/// measurements that are per process.
func runAlone(filter: String, marker: String) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    process.arguments = ["--testing-library", "swift-testing", "--filter", filter]
    process.environment = ProcessInfo.processInfo.environment.merging(["PRIVACYKIT_ISOLATED_TEST": marker]) { $1 }
    let log = FileManager.default.temporaryDirectory.appendingPathComponent("privacykit-alone-\(UUID().uuidString)")
    try Data().write(to: log)
    defer { try? FileManager.default.removeItem(at: log) }
    let handle = try FileHandle(forWritingTo: log)
    process.standardOutput = handle
    process.standardError = handle
    process.standardInput = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    try handle.close()
    return (process.terminationStatus, String(decoding: try Data(contentsOf: log), as: UTF8.self))
}

@Suite("CSV reader")
struct CSVReaderTests {
    @Test func plainRecordsWithLFAndNoTrailingNewline() throws {
        #expect(try rows("a,b\nc,d") == [
            .record(line: 1, fields: ["a", "b"]),
            .record(line: 2, fields: ["c", "d"]),
        ])
        #expect(try rows("only") == [.record(line: 1, fields: ["only"])])
        #expect(try rows("") == [])
    }

    @Test func crlfLineEnds() throws {
        #expect(try rows("a,b\r\nc,d\r\n") == [
            .record(line: 1, fields: ["a", "b"]),
            .record(line: 2, fields: ["c", "d"]),
        ])
    }

    @Test func quotedFieldsWithCommasAndDoubledQuotes() throws {
        #expect(try rows("\"Doe, Jane\",\"say \"\"hi\"\"\",\"\"\"\"\n") == [
            .record(line: 1, fields: ["Doe, Jane", "say \"hi\"", "\""]),
        ])
    }

    @Test func embeddedLineEndsKeepLaterLineNumbersRight() throws {
        let text = "id,note\n1,\"two\nlines\"\n2,\"crlf\r\ninside\r\nthree\"\r\n3,end\n4,\"lone\rcr\"\n5,x\n"
        #expect(try rows(text) == [
            .record(line: 1, fields: ["id", "note"]),
            .record(line: 2, fields: ["1", "two\nlines"]),
            .record(line: 4, fields: ["2", "crlf\r\ninside\r\nthree"]),
            .record(line: 7, fields: ["3", "end"]),
            .record(line: 8, fields: ["4", "lone\rcr"]),
            .record(line: 10, fields: ["5", "x"]),
        ])
    }

    @Test func byteOrderMarkIsSkippedOnlyAtTheStart() throws {
        #expect(try rows([0xEF, 0xBB, 0xBF] + Array("a,b\n".utf8)) == [.record(line: 1, fields: ["a", "b"])])
        #expect(try rows([0xEF, 0xBB, 0xBF]) == [])
        // Later it is data (U+FEFF).
        #expect(try rows("a\n\u{FEFF}b\n") == [
            .record(line: 1, fields: ["a"]),
            .record(line: 2, fields: ["\u{FEFF}b"]),
        ])
        // A partial BOM is data too (and here invalid UTF-8).
        #expect(try rows([0xEF, 0xBB] + Array(",x\n".utf8)) == [.malformed(line: 1, column: 1, reason: "invalid UTF-8")])
    }

    @Test func emptyLinesAreSkippedAndCounted() throws {
        #expect(try rows("a\n\n\r\nb\n\n") == [
            .record(line: 1, fields: ["a"]),
            .record(line: 4, fields: ["b"]),
        ])
        #expect(try rows("\n\na\n") == [.record(line: 3, fields: ["a"])])
        #expect(try rows("a\r\n\r\n") == [.record(line: 1, fields: ["a"])])
        #expect(try rows("\n\n") == [])
    }

    @Test func loneCREndsARecord() throws {
        #expect(try rows("a,b\rc,d\r\re") == [
            .record(line: 1, fields: ["a", "b"]),
            .record(line: 2, fields: ["c", "d"]),
            .record(line: 4, fields: ["e"]),
        ])
    }

    @Test func emptyFieldsAndEmptyQuotedFields() throws {
        #expect(try rows(",,\n\"\",\"\"\na,\n,b\n\"\"\n") == [
            .record(line: 1, fields: ["", "", ""]),
            .record(line: 2, fields: ["", ""]),
            .record(line: 3, fields: ["a", ""]),
            .record(line: 4, fields: ["", "b"]),
            .record(line: 5, fields: [""]),
        ])
        #expect(try rows("a,") == [.record(line: 1, fields: ["a", ""])])
        #expect(try rows("\"\"") == [.record(line: 1, fields: [""])])
        // Spaces are data, not trimmed.
        #expect(try rows(" a , b \n") == [.record(line: 1, fields: [" a ", " b "])])
    }

    @Test func invalidUTF8SpoilsOnlyItsRecord() throws {
        let bytes = Array("name,city\nAnn,Oslo\nBob,".utf8) + [0xFF, 0xFE] + Array(canary.utf8)
            + Array("\n\"x\n\",\"bad ".utf8) + [0xED, 0xA0, 0x80] + Array("\"\nCé,Zürich\n".utf8)
        let result = try rows(bytes)
        #expect(result == [
            .record(line: 1, fields: ["name", "city"]),
            .record(line: 2, fields: ["Ann", "Oslo"]),
            .malformed(line: 3, column: 2, reason: "invalid UTF-8"),
            .malformed(line: 4, column: 2, reason: "invalid UTF-8"),  // a surrogate, in a quoted field
            .record(line: 6, fields: ["Cé", "Zürich"]),
        ])
        assertNoCanary(result)
    }

    @Test func nulBytesAreData() throws {
        let bytes = Array("a".utf8) + [0] + Array("b,\"".utf8) + [0] + Array("\",x\n".utf8)
            + Array("c".utf8) + [0, 0xFF] + Array(",y\nok\n".utf8)
        #expect(try rows(bytes) == [
            .record(line: 1, fields: ["a\u{0}b", "\u{0}", "x"]),
            .malformed(line: 2, column: 1, reason: "invalid UTF-8"),  // bad byte after the NUL
            .record(line: 3, fields: ["ok"]),
        ])
    }

    @Test func quoteInsideUnquotedFieldResyncsAtRecordEnd() throws {
        let text = "a,b\(canary)\"c,d\nok,1\nx\"y,\"still\nquoted\",z\nafter,2\n"
        let result = try rows(text)
        #expect(result == [
            .malformed(line: 1, column: 2, reason: "quote inside unquoted field"),
            .record(line: 2, fields: ["ok", "1"]),
            // The stray quote does not open a field; the later quoted field still spans lines.
            .malformed(line: 3, column: 1, reason: "quote inside unquoted field"),
            .record(line: 5, fields: ["after", "2"]),
        ])
        assertNoCanary(result)
    }

    @Test func charactersAfterClosingQuote() throws {
        let text = "\"\(canary)\"\(canary),b\n\"a\" ,c\n\"x\"y\"z\nw\",2\nnext,3"
        let result = try rows(text)
        #expect(result == [
            .malformed(line: 1, column: 1, reason: "characters after closing quote"),
            .malformed(line: 2, column: 1, reason: "characters after closing quote"),
            .malformed(line: 3, column: 1, reason: "characters after closing quote"),
            // After the garbage, a quote is plain data: it opens nothing, so the record
            // ends at the first line end and `w"` starts the next (malformed) one.
            .malformed(line: 4, column: 1, reason: "quote inside unquoted field"),
            .record(line: 5, fields: ["next", "3"]),
        ])
        assertNoCanary(result)
    }

    @Test func unterminatedQuoteAtEndOfFile() throws {
        let result = try rows("a,b\nc,\"\(canary)\n\n\nmore,\"\"\n")
        #expect(result == [
            .record(line: 1, fields: ["a", "b"]),
            .malformed(line: 2, column: 2, reason: "unterminated quoted field at end of file"),
        ])
        assertNoCanary(result)
        #expect(try rows("\"") == [.malformed(line: 1, column: 1, reason: "unterminated quoted field at end of file")])
    }

    @Test func recordTooLongIsSkippedToItsEnd() throws {
        let long = String(repeating: "x", count: 40)
        let text = "a,b\n\(long),\"\(long)\n\(long)\"\nc,d\n\(long)\n\"\(long)"
        #expect(try rows(text, maxRecordBytes: 32) == [
            .record(line: 1, fields: ["a", "b"]),
            .malformed(line: 2, column: nil, reason: "record too long"),
            .record(line: 4, fields: ["c", "d"]),
            .malformed(line: 5, column: nil, reason: "record too long"),
            // Swallowing the rest of the file is explained by the open quote.
            .malformed(line: 6, column: 1, reason: "unterminated quoted field at end of file"),
        ])
        // Many empty fields count too.
        #expect(try rows(String(repeating: ",", count: 100) + "\nok", maxRecordBytes: 32) == [
            .malformed(line: 1, column: nil, reason: "record too long"),
            .record(line: 2, fields: ["ok"]),
        ])
        // The default limit is 1 MiB.
        let big = [UInt8](repeating: UInt8(ascii: "y"), count: CSVReader.defaultMaxRecordBytes + 1)
        let reader = CSVReader(data: Data(Array("h\n".utf8) + big + Array("\nz\n".utf8)))
        #expect(try drain(reader) == [
            .record(line: 1, fields: ["h"]),
            .malformed(line: 2, column: nil, reason: "record too long"),
            .record(line: 3, fields: ["z"]),
        ])
        #expect(reader.retainedBytes < 2 * CSVReader.defaultMaxRecordBytes + CSVReader.defaultChunkSize)
    }

    @Test func corpusRowsAndNoCanaryInReasons() throws {
        let result = try rows(corpus)
        #expect(result == corpusRows)
        assertNoCanary(result)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 7, 8, 13, 64])
    func tinyChunksGiveTheSameRows(chunk: Int) throws {
        #expect(try rows(corpus, chunk: chunk) == corpusRows)
        #expect(try rows(Array(corpus.dropFirst(3)), chunk: chunk) == corpusRows)
    }

    @Test(arguments: [1, 2, 3, 7])
    func tinyChunksFromAFile(chunk: Int) throws {
        let dir = try TempDirectory()
        let path = dir.file("corpus.csv")
        try Data(corpus).write(to: URL(fileURLWithPath: path))
        #expect(try drain(CSVReader(path: path, chunkSize: chunk)) == corpusRows)
    }

    @Test func missingFileAndDirectory() throws {
        let dir = try TempDirectory()
        let missing = dir.file("nope.csv")
        let notFound = #expect(throws: PrivacyKitError.self) { try CSVReader(path: missing) }
        #expect(notFound?.code == .notFound)
        #expect(notFound?.message.contains(missing) == true)
        let isDir = #expect(throws: PrivacyKitError.self) { try CSVReader(path: dir.path) }
        // A directory given for the file is bad input, as for key files, not an I/O failure.
        #expect(isDir?.code == .invalidInput)
        #expect(isDir?.message.contains(dir.path) == true)
    }

    /// ~50 MB through `init(path:)`: every record is read with the right line, and memory
    /// stays flat: the reader's own retained bytes exactly, and the process's peak RSS. The
    /// peak is the whole process's, so other suites running beside this test would count
    /// (it failed once so, with the PostgreSQL suites running at the same time): the test
    /// runs alone, in a child process of the test binary.
    @Test func largeFileStreamsWithFlatMemory() throws {
        let name = "largeFileStreamsWithFlatMemory"
        guard ProcessInfo.processInfo.environment["PRIVACYKIT_ISOLATED_TEST"] == name else {
            let child = try runAlone(filter: "CSVReaderTests/" + name, marker: name)
            #expect(child.status == 0, "the test failed alone:\n\(child.output.suffix(3000))")
            // Not vacuous: the child ran exactly this test.
            #expect(child.output.contains("Test run with 1 test"), "the child ran no test:\n\(child.output.suffix(3000))")
            return
        }
        let dir = try TempDirectory()
        let path = dir.file("big.csv")
        // One block: 8 records of ~300 bytes (CRM-like: a quoted address, a long quoted
        // note with commas and "" escapes, UTF-8) on 10 physical lines.
        var block = ""
        for i in 0..<8 {
            let notes = "Called about invoice \(i), asked for a refund, said \"\"not again\"\"; follow up next week. "
                + String(repeating: "Prefers e-mail over phone, no calls after 6pm. ", count: 3)
            if i % 4 == 0 {
                block += "\(i),\"Doe, Jane\",\"12 Main St\nApt 4\",jane.doe@example.com,Zürich,\"\(notes)\"\r\n"
            } else {
                block += "\(i),Smith,\"Rua Augusta, 1500\",john.smith@example.org,São Paulo €,\"\(notes)\"\r\n"
            }
        }
        let blockBytes = Data(block.utf8)
        let blocksPerWrite = 1024 * 1024 / blockBytes.count
        var chunk = Data()
        for _ in 0..<blocksPerWrite { chunk.append(blockBytes) }
        let writes = 50
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        for _ in 0..<writes { try handle.write(contentsOf: chunk) }
        try handle.close()
        chunk = Data()
        let blocks = writes * blocksPerWrite

        let before = peakRSSBytes()
        let reader = try CSVReader(path: path)
        var records = 0
        var lastLine = 0
        var bad = 0
        var first: CSVRow?
        while let row = try reader.next() {
            guard case .record(let line, let fields) = row, fields.count == 6 else {
                bad += 1
                continue
            }
            if first == nil { first = row }
            records += 1
            lastLine = line
        }
        let after = peakRSSBytes()

        #expect(bad == 0)
        #expect(first == .record(line: 1, fields: [
            "0", "Doe, Jane", "12 Main St\nApt 4", "jane.doe@example.com", "Zürich",
            "Called about invoice 0, asked for a refund, said \"not again\"; follow up next week. "
                + String(repeating: "Prefers e-mail over phone, no calls after 6pm. ", count: 3),
        ]))
        #expect(records == blocks * 8)
        #expect(lastLine == blocks * 10)
        #expect(reader.retainedBytes < 1024 * 1024)
        #expect(after - before < 30 * 1024 * 1024, "peak RSS grew by \(after - before) bytes")
    }
}
