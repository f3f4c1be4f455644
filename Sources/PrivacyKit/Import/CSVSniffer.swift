import Foundation

/// The text encodings an import reads besides UTF-8: the single-byte ones Western
/// spreadsheet exports use. Double-byte Chinese encodings (GB18030, Big5) are recognized
/// and named, and must be converted to UTF-8 first (`iconv`).
public enum CSVEncoding: String, Sendable, CaseIterable, Codable {
    case utf8 = "utf-8"
    case latin1
    case cp1252

    /// `utf8`, `utf-8`, `latin1`, `iso-8859-1`, `cp1252`, `windows-1252` (any case).
    public init?(name: String) {
        switch name.lowercased() {
        case "utf8", "utf-8": self = .utf8
        case "latin1", "latin-1", "iso-8859-1", "iso8859-1": self = .latin1
        case "cp1252", "windows-1252": self = .cp1252
        default: return nil
        }
    }

    func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        switch self {
        case .utf8: String(validating: bytes, as: UTF8.self)
        case .latin1: String(bytes: bytes, encoding: .isoLatin1)
        case .cp1252: String(bytes: bytes, encoding: .windowsCP1252)
        }
    }

    var invalidReason: String {
        switch self {
        case .utf8: CSVReader.Reason.invalidUTF8
        case .latin1: "invalid latin1"
        case .cp1252: "a byte windows-1252 does not define"
        }
    }
}

/// What the first bytes of an import file say, before anything is written: whether it can
/// be a CSV export at all, its field separator, and whether it is the encoding asked for.
/// Every diagnosis names the file and a line, never a byte of a value.
struct CSVSniffer {
    static let sampleBytes = 256 * 1024
    /// The separators a header line is read for (`|` only when asked for).
    static let detected: [CSVDelimiter] = [.comma, .semicolon, .tab]

    let sample: [UInt8]
    let path: String
    /// The sample ends before the file does (its last character may be cut).
    let truncated: Bool

    init(path: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            // CSVReader names a missing file or a directory precisely.
            self.init(sample: [], path: path, truncated: false)
            return
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: Self.sampleBytes + 1)) ?? Data()
        self.init(sample: [UInt8](data.prefix(Self.sampleBytes)), path: path, truncated: data.count > Self.sampleBytes)
    }

    init(sample: [UInt8], path: String, truncated: Bool) {
        self.sample = sample
        self.path = path
        self.truncated = truncated
    }

    /// Refuses what cannot be a CSV export: a spreadsheet or other archive, UTF-16 or
    /// UTF-32 text, binary data.
    func checkIsText() throws {
        if sample.starts(with: [0x50, 0x4B, 0x03, 0x04]) {
            throw PrivacyKitError(.invalidInput, "\(path) is a ZIP archive (an .xlsx or .ods workbook?), not CSV: save the sheet as \"CSV UTF-8\"")
        }
        if sample.starts(with: [0xFF, 0xFE]) || sample.starts(with: [0xFE, 0xFF]) {
            throw PrivacyKitError(.invalidInput, "\(path) is UTF-16 text (\"Unicode text\" in Excel), not CSV in UTF-8: save it as \"CSV UTF-8\"")
        }
        if let nul = sample.firstIndex(of: 0) {
            throw PrivacyKitError(.invalidInput, "\(path) holds a NUL byte on line \(line(at: nul)): binary data or UTF-16/32 text, not a CSV export")
        }
    }

    /// The separator of the header line: the most frequent of `,`, `;` and tab outside
    /// quotes (`,` when none appears, or on a tie with it).
    func delimiter() -> CSVDelimiter {
        var counts = [UInt8: Int]()
        var quoted = false
        for byte in sample {
            if byte == 0x22 { quoted.toggle() }
            if !quoted && (byte == 0x0A || byte == 0x0D) { break }
            if !quoted && Self.detected.contains(where: { $0.byte == byte }) { counts[byte, default: 0] += 1 }
        }
        let best = Self.detected.max { (counts[$0.byte] ?? 0) < (counts[$1.byte] ?? 0) }!
        return (counts[best.byte] ?? 0) > (counts[CSVDelimiter.comma.byte] ?? 0) ? best : .comma
    }

    /// Refuses a file read as UTF-8 that is written in another encoding, naming what its
    /// bytes look like and how to read them. A file is taken for UTF-8 with damaged rows (each
    /// then rejected on its own) when it starts with a UTF-8 BOM, when its sample has a single
    /// bad sequence, or when it has more valid multi-byte UTF-8 characters than bad sequences:
    /// text in a single-byte encoding practically never forms valid ones, and a double-byte
    /// encoding forms them only by chance, less often than it breaks.
    func checkEncoding(_ encoding: CSVEncoding) throws {
        guard encoding == .utf8, !sample.starts(with: [0xEF, 0xBB, 0xBF]) else { return }
        var bytes = sample[...]
        if truncated {
            // A character cut at the sample's end is not an error: drop its lead and trail bytes.
            var cut = 0
            while cut < 3, let last = bytes.last, last & 0xC0 == 0x80 { bytes = bytes.dropLast(); cut += 1 }
            if let last = bytes.last, last >= 0xC0 { bytes = bytes.dropLast() }
        }
        let count = Self.utf8Census(bytes)
        guard let bad = count.firstInvalid, count.invalid >= 2, count.invalid > count.multiByte else { return }
        let at = "line \(line(at: bad))"
        switch likelyEncoding() {
        case .doubleByte:
            throw PrivacyKitError(.invalidInput, "\(path) is not UTF-8 (\(at)): it looks like a Chinese double-byte encoding (GB18030/GBK or Big5). Convert it first, e.g. iconv -f GB18030 -t UTF-8 (or -f BIG5), or save it as \"CSV UTF-8\"")
        case .cp1252:
            throw PrivacyKitError(.invalidInput, "\(path) is not UTF-8 (\(at)): it looks like windows-1252. Pass --encoding cp1252, or save it as \"CSV UTF-8\"")
        case .latin1:
            throw PrivacyKitError(.invalidInput, "\(path) is not UTF-8 (\(at)): it looks like latin1 (ISO-8859-1) or windows-1252. Pass --encoding latin1 (or cp1252), or save it as \"CSV UTF-8\"")
        }
    }

    enum Likely { case latin1, cp1252, doubleByte }

    /// Single-byte Western text has its high bytes (≥ 0x80) mostly alone between ASCII
    /// letters; GBK and Big5 text has them mostly in runs (a lead byte and a trail byte,
    /// character after character). Windows-1252 is told from latin1 by the printable
    /// characters it puts at 0x80–0x9F.
    func likelyEncoding() -> Likely {
        var high = 0, inRuns = 0, c1 = 0, run = 0
        for byte in sample {
            if byte >= 0x80 {
                high += 1
                run += 1
                if byte <= 0x9F { c1 += 1 }
            } else {
                if run >= 2 { inRuns += run }
                run = 0
            }
        }
        if run >= 2 { inRuns += run }
        if high > 0 && inRuns * 10 >= high * 6 { return .doubleByte }
        return c1 > 0 ? .cp1252 : .latin1
    }

    /// How `bytes` read as UTF-8: valid characters of two or more bytes, bad sequences, and
    /// the offset of the first bad one.
    static func utf8Census(_ bytes: ArraySlice<UInt8>) -> (multiByte: Int, invalid: Int, firstInvalid: Int?) {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        var consumed = 0, multiByte = 0, invalid = 0
        var firstInvalid: Int?
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                let width = UTF8.width(scalar)
                consumed += width
                if width > 1 { multiByte += 1 }
            case .emptyInput:
                return (multiByte, invalid, firstInvalid)
            case .error:
                if firstInvalid == nil { firstInvalid = bytes.startIndex + consumed }
                invalid += 1
                consumed += 1
            }
        }
    }

    /// The 1-based line of byte `offset` of the sample.
    func line(at offset: Int) -> Int {
        var line = 1
        var previous: UInt8 = 0
        for byte in sample[..<min(offset, sample.count)] {
            if byte == 0x0A && previous != 0x0D || byte == 0x0D { line += 1 }
            previous = byte
        }
        return line
    }
}
