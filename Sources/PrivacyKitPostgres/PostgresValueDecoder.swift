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

/// Turns a cell (postgres-nio asks for every result in binary format) into a store value.
enum PostgresValueDecoder {
    static func decode(_ cell: PostgresCell) -> StoreValue {
        guard var buffer = cell.bytes else { return .null }
        if cell.format == .text {
            return decodeText(buffer.readString(length: buffer.readableBytes) ?? "", cell.dataType)
        }
        switch cell.dataType {
        case .bool:
            return buffer.readInteger(as: UInt8.self).map { .integer($0 == 0 ? 0 : 1) } ?? .null
        case .int2:
            return buffer.readInteger(as: Int16.self).map { .integer(Int64($0)) } ?? .null
        case .int4:
            return buffer.readInteger(as: Int32.self).map { .integer(Int64($0)) } ?? .null
        case .int8:
            return buffer.readInteger(as: Int64.self).map { .integer($0) } ?? .null
        case .oid, .regproc:
            return buffer.readInteger(as: UInt32.self).map { .integer(Int64($0)) } ?? .null
        case .float4:
            return buffer.readInteger(as: UInt32.self).map { .real(Double(Float(bitPattern: $0))) } ?? .null
        case .float8:
            return buffer.readInteger(as: UInt64.self).map { .real(Double(bitPattern: $0)) } ?? .null
        case .numeric:
            return numeric(&buffer)
        case .bytea:
            return .blob(buffer.readBytes(length: buffer.readableBytes) ?? [])
        case .jsonb:
            // A version byte (1), then the JSON text.
            _ = buffer.readInteger(as: UInt8.self)
            return .text(buffer.readString(length: buffer.readableBytes) ?? "")
        case .timestamptz, .timestamp:
            guard let micros = buffer.readInteger(as: Int64.self) else { return .null }
            return .text(timestamp(micros, utc: cell.dataType == .timestamptz))
        case .date:
            guard let days = buffer.readInteger(as: Int32.self) else { return .null }
            if days == Int32.max { return .text("infinity") }
            if days == Int32.min { return .text("-infinity") }
            let (y, m, d) = civil(Int64(days) + 10957)
            return .text(dateText(y, m, d))
        case .time:
            guard let micros = buffer.readInteger(as: Int64.self) else { return .null }
            return .text(timeOfDay(micros))
        case .uuid:
            guard let bytes = buffer.readBytes(length: 16) else { return .null }
            let hex = bytes.map { String(format: "%02x", $0) }.joined()
            let parts = [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)]
            return .text(parts.joined(separator: "-"))
        case .inet, .cidr:
            return inet(&buffer, cidr: cell.dataType == .cidr).map(StoreValue.text) ?? .null
        case .interval:
            guard let micros = buffer.readInteger(as: Int64.self), let days = buffer.readInteger(as: Int32.self),
                  let months = buffer.readInteger(as: Int32.self)
            else { return .null }
            return .text(interval(micros: micros, days: days, months: months))
        default:
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            // Built-in types not handled above (arrays, geometry, money…) have binary forms
            // that only look like text: hand over the bytes (cast to text in SQL for text).
            // Text-like built-ins and user-defined types (enums, citext, domains over text)
            // send their text.
            let textLike: Set<UInt32> = [18, 19, 25, 114, 142, 705, 1042, 1043]
            let userDefined = cell.dataType.rawValue >= 16384
            if textLike.contains(cell.dataType.rawValue) || userDefined, let text = String(validating: bytes, as: UTF8.self) {
                return .text(text)
            }
            return .blob(bytes)
        }
    }

    /// inet/cidr's binary form: family (2 IPv4, 3 IPv6), mask bits, is-cidr, length, address.
    private static func inet(_ buffer: inout ByteBuffer, cidr: Bool) -> String? {
        guard let family = buffer.readInteger(as: UInt8.self), let bits = buffer.readInteger(as: UInt8.self),
              buffer.readInteger(as: UInt8.self) != nil, let length = buffer.readInteger(as: UInt8.self),
              let address = buffer.readBytes(length: Int(length))
        else { return nil }
        let text: String
        let full: Int
        if family == 2 && address.count == 4 {
            text = address.map(String.init).joined(separator: ".")
            full = 32
        } else if address.count == 16 {
            var storage = in6_addr()
            withUnsafeMutableBytes(of: &storage) { $0.copyBytes(from: address) }
            var out = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            guard inet_ntop(AF_INET6, &storage, &out, socklen_t(out.count)) != nil else { return nil }
            text = String(decoding: out.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            full = 128
        } else {
            return nil
        }
        return cidr || Int(bits) != full ? "\(text)/\(bits)" : text
    }

    /// An interval as PostgreSQL prints it by default (`1 year 2 mons 3 days 04:05:06.5`).
    static func interval(micros: Int64, days: Int32, months: Int32) -> String {
        var parts: [String] = []
        func unit(_ value: Int64, _ one: String, _ many: String) {
            if value != 0 { parts.append("\(value) \(abs(value) == 1 ? one : many)") }
        }
        unit(Int64(months / 12), "year", "years")
        unit(Int64(months % 12), "mon", "mons")
        unit(Int64(days), "day", "days")
        if micros != 0 || parts.isEmpty {
            let sign = micros < 0 ? "-" : (parts.isEmpty ? "" : "+")
            let magnitude = micros.magnitude
            let seconds = magnitude / 1_000_000
            var time = String(format: "%02llu:%02llu:%02llu", seconds / 3600, (seconds / 60) % 60, seconds % 60)
            if magnitude % 1_000_000 != 0 {
                var digits = String(format: "%06llu", magnitude % 1_000_000)
                while digits.hasSuffix("0") { digits.removeLast() }
                time += "." + digits
            }
            parts.append((sign == "+" ? "" : sign) + time)
        }
        return parts.joined(separator: " ")
    }

    private static func decodeText(_ text: String, _ type: PostgresDataType) -> StoreValue {
        switch type {
        case .int2, .int4, .int8, .oid: return Int64(text).map(StoreValue.integer) ?? .text(text)
        case .float4, .float8: return Double(text).map(StoreValue.real) ?? .text(text)
        case .numeric: return Int64(text).map(StoreValue.integer) ?? Double(text).map(StoreValue.real) ?? .text(text)
        case .bool: return .integer(text == "t" ? 1 : 0)
        default: return .text(text)
        }
    }

    /// NUMERIC's binary form: digit count, weight (the power of 10000 of the first digit),
    /// sign, display scale, then base-10000 digits. Integral values become integers (what
    /// SQLite gives for SUM of integers, which PostgreSQL returns as numeric).
    static func numeric(_ buffer: inout ByteBuffer) -> StoreValue {
        guard let count = buffer.readInteger(as: Int16.self), let weight = buffer.readInteger(as: Int16.self),
              let sign = buffer.readInteger(as: UInt16.self), buffer.readInteger(as: Int16.self) != nil
        else { return .null }
        switch sign {
        case 0xC000: return .real(.nan)
        case 0xD000: return .real(.infinity)
        case 0xF000: return .real(-.infinity)
        default: break
        }
        var digits: [Int16] = []
        for _ in 0..<max(0, Int(count)) {
            guard let digit = buffer.readInteger(as: Int16.self) else { return .null }
            digits.append(digit)
        }
        let negative = sign == 0x4000
        let integral = digits.enumerated().allSatisfy { index, digit in digit == 0 || Int(weight) - index >= 0 }
        if integral {
            var value: Int64 = 0
            var fits = true
            // Digits at positions weight, weight-1, …, 0; missing trailing ones are zero.
            for position in 0...max(0, Int(weight)) where fits {
                let digit = position < digits.count ? Int64(digits[position]) : 0
                let (times, overflow1) = value.multipliedReportingOverflow(by: 10000)
                let (sum, overflow2) = times.addingReportingOverflow(negative ? -digit : digit)
                fits = !overflow1 && !overflow2
                value = sum
            }
            if weight < 0 { value = 0 }
            if fits { return .integer(value) }
        }
        let mantissa = digits.map { String(format: "%04d", $0) }.joined()
        let exponent = (Int(weight) - digits.count + 1) * 4
        return .real(Double("\(negative ? "-" : "")\(mantissa.isEmpty ? "0" : mantissa)e\(exponent)") ?? .nan)
    }

    /// Microseconds since 2000-01-01 as ISO 8601 (`2024-05-01T12:00:00.5Z`): UTC for
    /// timestamptz (the session's time zone does not matter in binary), no zone for timestamp.
    static func timestamp(_ micros: Int64, utc: Bool) -> String {
        if micros == Int64.max { return "infinity" }
        if micros == Int64.min { return "-infinity" }
        let perDay: Int64 = 86_400_000_000
        var days = micros / perDay
        var rest = micros % perDay
        if rest < 0 { rest += perDay; days -= 1 }
        let (y, m, d) = civil(days + 10957)
        return dateText(y, m, d) + "T" + timeOfDay(rest) + (utc ? "Z" : "")
    }

    private static func timeOfDay(_ micros: Int64) -> String {
        let seconds = micros / 1_000_000
        let fraction = micros % 1_000_000
        var text = String(format: "%02d:%02d:%02d", seconds / 3600, (seconds / 60) % 60, seconds % 60)
        if fraction != 0 {
            var digits = String(format: "%06d", fraction)
            while digits.hasSuffix("0") { digits.removeLast() }
            text += "." + digits
        }
        return text
    }

    private static func dateText(_ y: Int64, _ m: Int64, _ d: Int64) -> String {
        y < 1 ? String(format: "%04lld-%02lld-%02lld BC", 1 - y, m, d) : String(format: "%04lld-%02lld-%02lld", y, m, d)
    }

    /// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's
    /// civil_from_days).
    static func civil(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
