import Foundation
import PrivacyKit
import Dispatch
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The store writes SQL once with `?` placeholders; PostgreSQL numbers them (`$1`, `$2`, …)
/// and takes one statement per Parse message.
enum PostgresSQL {
    struct Statement: Equatable {
        var sql: String
        var parameterCount: Int
    }

    /// `sql` with each `?` placeholder numbered, per statement, with each statement's count.
    ///
    /// Left alone: string literals (`'…'` with `''`, and `E'…'` with backslash escapes),
    /// quoted identifiers, dollar-quoted bodies (`$$…$$`, `$tag$…$tag$`), `--` and `/* */`
    /// comments. Statements end at `;`; those holding only blanks and comments are dropped.
    /// (PostgreSQL's jsonb `?` operators cannot be written here: use `jsonb_exists`.)
    static func statements(_ sql: String) -> [Statement] {
        let bytes = Array(sql.utf8)
        var result: [Statement] = []
        var current: [UInt8] = []
        var parameters = 0
        var hasContent = false
        var i = 0
        let n = bytes.count

        func isIdentifierByte(_ b: UInt8) -> Bool {
            (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F || b == 0x24 || b >= 0x80
        }
        func finishStatement() {
            if hasContent, let text = String(bytes: current, encoding: .utf8) {
                result.append(Statement(sql: text.trimmingCharacters(in: .whitespacesAndNewlines), parameterCount: parameters))
            }
            current = []
            parameters = 0
            hasContent = false
        }
        /// Copies bytes[i..<end] and moves past them.
        func copy(to end: Int) {
            current.append(contentsOf: bytes[i..<min(end, n)])
            i = min(end, n)
        }

        while i < n {
            let b = bytes[i]
            switch b {
            case UInt8(ascii: "'"):
                hasContent = true
                let escapes = i > 0 && (bytes[i - 1] == UInt8(ascii: "E") || bytes[i - 1] == UInt8(ascii: "e"))
                    && (i < 2 || !isIdentifierByte(bytes[i - 2]))
                var j = i + 1
                while j < n {
                    if escapes && bytes[j] == UInt8(ascii: "\\") { j += 2; continue }
                    if bytes[j] == UInt8(ascii: "'") {
                        if j + 1 < n && bytes[j + 1] == UInt8(ascii: "'") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                copy(to: j + 1)
            case UInt8(ascii: "\""):
                hasContent = true
                var j = i + 1
                while j < n && bytes[j] != UInt8(ascii: "\"") { j += 1 }
                copy(to: j + 1)
            case UInt8(ascii: "-") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "-"):
                var j = i + 2
                while j < n && bytes[j] != UInt8(ascii: "\n") { j += 1 }
                copy(to: j)
            case UInt8(ascii: "/") where i + 1 < n && bytes[i + 1] == UInt8(ascii: "*"):
                // PostgreSQL's block comments nest.
                var depth = 1
                var j = i + 2
                while j < n && depth > 0 {
                    if bytes[j] == UInt8(ascii: "/") && j + 1 < n && bytes[j + 1] == UInt8(ascii: "*") {
                        depth += 1; j += 2
                    } else if bytes[j] == UInt8(ascii: "*") && j + 1 < n && bytes[j + 1] == UInt8(ascii: "/") {
                        depth -= 1; j += 2
                    } else {
                        j += 1
                    }
                }
                copy(to: j)
            case UInt8(ascii: "$") where !(i > 0 && isIdentifierByte(bytes[i - 1])):
                hasContent = true
                // A dollar quote's tag is empty or an identifier not starting with a digit
                // ($1 is a parameter).
                var j = i + 1
                if j < n && !(bytes[j] >= 0x30 && bytes[j] <= 0x39) {
                    while j < n && bytes[j] != UInt8(ascii: "$") && isIdentifierByte(bytes[j]) { j += 1 }
                }
                if j < n && bytes[j] == UInt8(ascii: "$") {
                    let tag = Array(bytes[i...j])
                    var k = j + 1
                    var end = n
                    while k + tag.count <= n {
                        if bytes[k] == UInt8(ascii: "$") && Array(bytes[k..<k + tag.count]) == tag {
                            end = k + tag.count
                            break
                        }
                        k += 1
                    }
                    copy(to: end)
                } else {
                    copy(to: i + 1)
                }
            case UInt8(ascii: "?"):
                hasContent = true
                parameters += 1
                current.append(contentsOf: Array("$\(parameters)".utf8))
                i += 1
            case UInt8(ascii: ";"):
                i += 1
                finishStatement()
            default:
                if !(b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D) { hasContent = true }
                current.append(b)
                i += 1
            }
        }
        finishStatement()
        return result
    }

    /// The single-statement form: `sql` with its placeholders numbered.
    static func numbered(_ sql: String) -> String {
        statements(sql).map(\.sql).joined(separator: ";\n")
    }
}
