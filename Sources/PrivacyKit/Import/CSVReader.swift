// A streaming, byte-level RFC 4180 CSV reader for the import.
// One idea, kept in one file past the usual ~450 lines: the rules below and the state
// machine that implements them read together.
//
// Why not a library: the house rule prefers one, and two were evaluated against what the
// import needs (flat memory on any file size, the physical line of every record, invalid
// UTF-8 reported for its record only, malformed records reported without stopping, and no
// field content in any error). Neither meets those requirements:
//
// - yaslab/CSV.swift 2.5.2 streams from an `InputStream` (good), but
//   * `next()` returns only `[String]?`: there is no line number or byte position;
//   * on invalid UTF-8, `UnicodeIterator.next()` stores `CSVError.unicodeDecoding` and
//     returns nil, which is end of input: every record after the first bad byte is lost;
//   * malformed input is never reported: a quote inside an unquoted field is kept as data,
//     characters after a closing quote are appended (the "ERROR?" branch of `readField`),
//     and an unterminated quote at end of file yields a normal field;
//   * there is no record-size limit, and fields are built by per-scalar
//     `String.UnicodeScalarView.append` after a byte-by-byte copy (`readStream`).
// - swiftcsv/SwiftCSV 0.10.0
//   * `CSV(url:)` loads the whole file with `String(contentsOf:encoding:)` and the
//     initializer parses every row up front: memory grows with the file;
//   * one invalid UTF-8 byte anywhere makes that `String` initializer fail for the whole file;
//   * a malformed row throws `CSVParseError.quotation("Can't have non-quote here: \(char)")`,
//     which stops the parse and puts a character of the field (PII) into the error;
//   * no line numbers, and leading whitespace of every field is silently dropped.
//
// Wrapping either would mean re-scanning the bytes ourselves to find lines and bad bytes,
// i.e. writing this reader anyway. So it is written here, small and self-contained.
//
// Rules (beyond RFC 4180):
// - Separator `,` unless another is given (`;` and tab: Excel's exports where the decimal
//   separator is a comma); quote `"`; `""` inside a quoted field is one quote. Quoted fields may
//   contain `,`, CR, LF and CRLF; those bytes are kept verbatim.
// - Records end with LF, CRLF, or a lone CR (tolerated, as old Mac exports and Excel write
//   it). Physical lines are counted the same way everywhere, also inside quoted fields, so
//   a line number is what a text editor shows. `line` is the physical line where the record
//   starts (1-based).
// - Empty lines (no byte between two line ends) are skipped wherever they are, and still
//   counted. A line holding `""` is a record with one empty field. A final record without
//   a line end is a record.
// - A UTF-8 BOM (EF BB BF) at the very start of the input is skipped; anywhere else it is
//   data (U+FEFF).
// - Errors report the record's start line, the 1-based column when known, and a fixed
//   reason; a reason never contains input bytes. One reason per record: the first problem
//   found, except that an unterminated quote at end of file is reported instead of "record
//   too long" (it is why the record swallowed the rest of the file).
// - Resync after a malformed record: once a record is malformed, its bytes are no longer
//   kept, but its end is still found with the usual quote-aware rules. A stray `"` inside
//   an unquoted field, and anything after a closing quote up to the next `,`, is treated as
//   plain unquoted data; a `"` at the start of a later field still opens a quoted field
//   (which may span lines). The record ends at the first line end outside quotes; the next
//   record is read normally.
// - A record whose field bytes plus field count exceed `maxRecordBytes` (1 MiB by default)
//   is reported as "record too long" and skipped to its end, so memory stays bounded by
//   the chunk size plus that limit whatever the file size.
// - Column counts are not checked here; the first record (the header) is just a record.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// One record of a CSV file, or why it could not be read. Never carries a value in a reason.
enum CSVRow: Equatable, Sendable {
    /// `line` is the physical line where the record starts (1-based).
    case record(line: Int, fields: [String])
    /// `column` is 1-based when known.
    case malformed(line: Int, column: Int?, reason: String)

    /// The physical line where the record starts (1-based).
    var line: Int {
        switch self {
        case .record(let line, _), .malformed(let line, _, _): line
        }
    }
}

/// Reads CSV records one at a time from a file (in chunks, never whole) or from memory.
final class CSVReader {
    /// Fixed reasons of ``CSVRow/malformed(line:column:reason:)``.
    enum Reason {
        static let invalidUTF8 = "invalid UTF-8"
        static let quoteInUnquotedField = "quote inside unquoted field"
        static let charactersAfterClosingQuote = "characters after closing quote"
        static let unterminatedQuote = "unterminated quoted field at end of file"
        static let recordTooLong = "record too long"
    }

    static let defaultChunkSize = 64 * 1024
    static let defaultMaxRecordBytes = 1024 * 1024

    private enum Source {
        case file(fd: Int32, path: String)
        case memory(Data, offset: Int)
    }

    private enum State {
        case fieldStart, unquoted, quoted, quoteInQuoted
    }

    /// The field separator (`,` by default), and the highest of it, quote, CR and LF: one
    /// comparison skips most data bytes in the hot loops.
    private let delimiter: UInt8
    private let highestSpecial: UInt8
    /// How field bytes become text (UTF-8 unless the import names another encoding).
    private let encoding: CSVEncoding
    private static let quote: UInt8 = 0x22
    private static let cr: UInt8 = 0x0D
    private static let lf: UInt8 = 0x0A

    private var source: Source
    private let chunkSize: Int
    private let maxRecordBytes: Int

    /// Chunk buffer: bytes `pos..<count` are read but not parsed yet.
    private let buffer: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private var pos = 0
    private var count = 0
    private var eof = false
    private var bomChecked = false

    /// Physical line of the next unparsed byte (1-based).
    private var line = 1
    /// The last byte parsed was a CR, which already counted its line end; an LF right
    /// after it belongs to the same line end.
    private var skipLF = false

    /// The current record's field bytes, back to back, and where each field ends. Reused
    /// from record to record.
    private var scratchBytes: [UInt8] = []
    private var scratchEnds: [Int] = []

    /// Opens `path` for reading. Throws `.notFound` when it does not exist, `.io` when it
    /// cannot be opened or is a directory.
    init(path: String, delimiter: UInt8 = 0x2C, encoding: CSVEncoding = .utf8,
         chunkSize: Int = CSVReader.defaultChunkSize, maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes) throws {
        self.delimiter = delimiter
        highestSpecial = max(delimiter, Self.quote, Self.cr, Self.lf)
        self.encoding = encoding
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let err = errno
            if err == ENOENT {
                throw PrivacyKitError(.notFound, "CSV file \(path) does not exist")
            }
            throw PrivacyKitError(.io, "cannot open CSV file \(path): \(String(cString: strerror(err)))")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let err = errno
            close(fd)
            throw PrivacyKitError(.io, "cannot stat CSV file \(path): \(String(cString: strerror(err)))")
        }
        guard info.st_mode & S_IFMT != S_IFDIR else {
            close(fd)
            // A directory given for the file is bad input (65), as for key files; not an I/O failure.
            throw PrivacyKitError(.invalidInput, "CSV file \(path) is a directory, not a file")
        }
        source = .file(fd: fd, path: path)
        self.chunkSize = max(1, chunkSize)
        self.maxRecordBytes = max(1, maxRecordBytes)
        capacity = max(self.chunkSize, 4)
        buffer = .allocate(capacity: capacity)
    }

    /// Reads CSV held in memory; `chunkSize` lets tests cut it like a file read.
    init(data: Data, delimiter: UInt8 = 0x2C, encoding: CSVEncoding = .utf8,
         chunkSize: Int = CSVReader.defaultChunkSize, maxRecordBytes: Int = CSVReader.defaultMaxRecordBytes) {
        self.delimiter = delimiter
        highestSpecial = max(delimiter, Self.quote, Self.cr, Self.lf)
        self.encoding = encoding
        source = .memory(data, offset: 0)
        self.chunkSize = max(1, chunkSize)
        self.maxRecordBytes = max(1, maxRecordBytes)
        capacity = max(self.chunkSize, 4)
        buffer = .allocate(capacity: capacity)
    }

    deinit {
        // The buffers held customer data: clear them before giving the memory back.
        buffer.update(repeating: 0, count: capacity)
        buffer.deallocate()
        scratchBytes.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        if case .file(let fd, _) = source {
            close(fd)
        }
    }

    /// Bytes the reader keeps between records (chunk buffer plus record scratch space).
    /// Bounded by the chunk size and the record limit, whatever the input size.
    var retainedBytes: Int {
        capacity + scratchBytes.capacity + scratchEnds.capacity * MemoryLayout<Int>.stride
    }

    // MARK: - Input

    /// Reads more bytes after `count` (at the start of the buffer when everything was
    /// parsed). Returns how many were read; 0 at end of input. Changes nothing when it throws.
    private func readMore() throws -> Int {
        if eof { return 0 }
        let at = pos == count ? 0 : count
        let want = min(chunkSize, capacity - at)
        precondition(want > 0, "CSVReader buffer full")
        let n: Int
        switch source {
        case .file(let fd, let path):
            var got: Int
            repeat {
                got = read(fd, buffer + at, want)
            } while got < 0 && errno == EINTR
            if got < 0 {
                throw PrivacyKitError(.io, "cannot read CSV file \(path): \(String(cString: strerror(errno)))")
            }
            n = got
        case .memory(let data, let offset):
            n = min(want, data.count - offset)
            if n > 0 {
                let start = data.startIndex + offset
                data.copyBytes(to: buffer + at, from: start..<(start + n))
                source = .memory(data, offset: offset + n)
            }
        }
        if n == 0 {
            eof = true
            return 0
        }
        if at == 0 { pos = 0 }
        count = at + n
        return n
    }

    private func skipBOM() throws {
        bomChecked = true
        while count - pos < 3, try readMore() > 0 {}
        if count - pos >= 3, buffer[pos] == 0xEF, buffer[pos + 1] == 0xBB, buffer[pos + 2] == 0xBF {
            pos += 3
        }
    }

    // MARK: - Parsing

    /// The next record, or nil at end of input. Throws only when the file cannot be read.
    func next() throws -> CSVRow? {
        if !bomChecked { try skipBOM() }

        // The loop works on locals (no exclusivity checks on class properties per byte run)
        // and writes them back when the record is done.
        var pos = self.pos
        var count = self.count
        var line = self.line
        var skipLF = self.skipLF
        // Borrow the scratch buffers (a swap, so their storage stays unique and is reused).
        var record = RecordBuilder(limit: maxRecordBytes)
        swap(&record.bytes, &scratchBytes)
        swap(&record.ends, &scratchEnds)
        record.bytes.removeAll(keepingCapacity: true)
        record.ends.removeAll(keepingCapacity: true)
        defer {
            self.pos = pos
            self.line = line
            self.skipLF = skipLF
            scratchBytes = record.bytes
            scratchEnds = record.ends
        }

        let p = UnsafePointer(buffer)
        var state = State.fieldStart
        var recordLine = line
        var started = false
        var quotedField = 0              // field where the open quoted field began
        var atEOF = false

        parse: while true {
            if pos == count {
                self.pos = pos
                let n = try readMore()
                pos = self.pos
                count = self.count
                if n == 0 {
                    atEOF = true
                    break parse
                }
            }
            var i = pos
            let b = p[i]
            if skipLF {
                skipLF = false
                if b == Self.lf {
                    if state == .quoted { record.keepByte(b) }
                    pos = i + 1
                    continue parse
                }
            }
            switch state {
            case .fieldStart:
                switch b {
                case delimiter:
                    started = true
                    record.endField()
                    pos = i + 1
                case Self.quote:
                    started = true
                    quotedField = record.field
                    state = .quoted
                    pos = i + 1
                case Self.cr, Self.lf:
                    pos = i + 1
                    line += 1
                    skipLF = b == Self.cr
                    if started {
                        record.endField()
                        break parse
                    }
                    recordLine = line  // an empty line: skipped
                default:
                    started = true
                    state = .unquoted
                }

            case .unquoted:
                while i < count {
                    let c = p[i]
                    if c <= highestSpecial && (c == delimiter || c == Self.quote || c == Self.cr || c == Self.lf) { break }
                    i += 1
                }
                record.keep(p, pos, i)
                pos = i
                if i == count { continue parse }
                let c = p[i]
                pos = i + 1
                switch c {
                case delimiter:
                    record.endField()
                    state = .fieldStart
                case Self.quote:
                    record.fail(Reason.quoteInUnquotedField, column: record.field + 1)
                default:  // CR or LF
                    line += 1
                    skipLF = c == Self.cr
                    record.endField()
                    break parse
                }

            case .quoted:
                while i < count {
                    let c = p[i]
                    if c == Self.quote || c == Self.cr || c == Self.lf { break }
                    i += 1
                }
                record.keep(p, pos, i)
                pos = i
                if i == count { continue parse }
                let c = p[i]
                pos = i + 1
                if c == Self.quote {
                    state = .quoteInQuoted
                } else {
                    record.keepByte(c)
                    line += 1
                    skipLF = c == Self.cr
                }

            case .quoteInQuoted:
                pos = i + 1
                switch b {
                case Self.quote:
                    record.keepByte(b)
                    state = .quoted
                case delimiter:
                    record.endField()
                    state = .fieldStart
                case Self.cr, Self.lf:
                    line += 1
                    skipLF = b == Self.cr
                    record.endField()
                    break parse
                default:
                    record.fail(Reason.charactersAfterClosingQuote, column: record.field + 1)
                    state = .unquoted
                }
            }
        }

        if atEOF {
            guard started else { return nil }
            if state == .quoted {
                if record.problem == nil { record.problem = (quotedField + 1, Reason.unterminatedQuote) }
            } else {
                record.endField()
            }
        }
        if let problem = record.problem {
            return .malformed(line: recordLine, column: problem.column, reason: problem.reason)
        }
        if record.tooLong {
            return .malformed(line: recordLine, column: nil, reason: Reason.recordTooLong)
        }
        let ends = record.ends
        return record.bytes.withUnsafeBufferPointer { all -> CSVRow in
            guard let base = all.baseAddress else { return .record(line: recordLine, fields: []) }
            var fields: [String] = []
            fields.reserveCapacity(ends.count)
            var start = 0
            for (index, stop) in ends.enumerated() {
                defer { start = stop + 1 }
                if start == stop {
                    fields.append("")
                    continue
                }
                if encoding != .utf8 {
                    guard let value = encoding.decode(UnsafeBufferPointer(rebasing: all[start..<stop])) else {
                        return .malformed(line: recordLine, column: index + 1, reason: encoding.invalidReason)
                    }
                    fields.append(value)
                    continue
                }
                // The C-string initializer is the stdlib's fast validating path; it stops at
                // the first NUL, so a field holding a NUL byte takes the generic one.
                let fast = (base + start).withMemoryRebound(to: CChar.self, capacity: stop - start + 1) {
                    String(validatingCString: $0)
                }
                guard let fast else {
                    return .malformed(line: recordLine, column: index + 1, reason: Reason.invalidUTF8)
                }
                if fast.utf8.count == stop - start {
                    fields.append(fast)
                } else if let value = String(validating: UnsafeBufferPointer(rebasing: all[start..<stop]), as: UTF8.self) {
                    fields.append(value)
                } else {
                    return .malformed(line: recordLine, column: index + 1, reason: Reason.invalidUTF8)
                }
            }
            return .record(line: recordLine, fields: fields)
        }
    }
}

/// The record being read: its field bytes (each field followed by a NUL, so it can be
/// decoded as a C string), where each field ends, and what went wrong. A struct with
/// mutating methods keeps the hot loop free of boxed captures and their dynamic checks.
private struct RecordBuilder {
    var bytes: [UInt8] = []
    var ends: [Int] = []
    let limit: Int
    /// Index of the current field.
    var field = 0
    var problem: (column: Int?, reason: String)?
    var tooLong = false
    /// False once the record is malformed or too long: its bytes are no longer stored.
    var keeping = true

    init(limit: Int) {
        self.limit = limit
    }

    // The limit counts field bytes plus one per field (its NUL).
    @inline(__always) mutating func keep(_ p: UnsafePointer<UInt8>, _ from: Int, _ to: Int) {
        guard keeping, to > from else { return }
        guard bytes.count + (to - from) <= limit else { return overflow() }
        bytes.append(contentsOf: UnsafeBufferPointer(start: p + from, count: to - from))
    }

    @inline(__always) mutating func keepByte(_ b: UInt8) {
        guard keeping else { return }
        guard bytes.count < limit else { return overflow() }
        bytes.append(b)
    }

    @inline(__always) mutating func endField() {
        field += 1
        guard keeping else { return }
        guard bytes.count < limit else { return overflow() }
        ends.append(bytes.count)
        bytes.append(0)
    }

    mutating func fail(_ reason: String, column: Int?) {
        if problem == nil { problem = (column, reason) }
        keeping = false
    }

    private mutating func overflow() {
        tooLong = true
        keeping = false
    }
}
