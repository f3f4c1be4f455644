import Foundation

/// Reading the `plain` column back: the flat JSON object of strings that
/// `RecordStore.json(_:)` writes. Parsed by hand on every record read (a `JSONDecoder` cost
/// a sixth of a find); anything else — whitespace, another escape, a number — goes to
/// `JSONDecoder`, which reads any JSON.
enum PlainFields {
    static func decode(_ text: String) -> [String: String]? {
        if let fast = parse(text) { return fast }
        return try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
    }

    private static func parse(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { bytes -> [String: String]? in
            var i = 0
            func string() -> String? {
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
                i += 1
                let start = i
                while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\") { i += 1 }
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }  // an escape: the slow path
                defer { i += 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
            }
            guard bytes.count >= 2, bytes[0] == UInt8(ascii: "{") else { return nil }
            i = 1
            var result: [String: String] = [:]
            if bytes[i] == UInt8(ascii: "}") { return i + 1 == bytes.count ? result : nil }
            while true {
                guard let key = string(), i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let value = string(), i < bytes.count, result.updateValue(value, forKey: key) == nil else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                guard bytes[i] == UInt8(ascii: "}"), i + 1 == bytes.count else { return nil }
                return result
            }
        }
    }
}
