public import Foundation

/// A value as it crosses the driver boundary.
public enum StoreValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A Swift type that can be bound to a statement and read back from a row.
public protocol StoreValueConvertible {
    var storeValue: StoreValue { get }
    /// Nil when `value` is NULL or cannot represent this type.
    static func fromStoreValue(_ value: StoreValue) -> Self?
}

extension Int64: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(self) }
    public static func fromStoreValue(_ value: StoreValue) -> Int64? {
        switch value {
        case .integer(let v): v
        case .real(let v): Int64(exactly: v.rounded(.towardZero))
        case .text(let v): Int64(v)
        default: nil
        }
    }
}

extension Int: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(Int64(self)) }
    public static func fromStoreValue(_ value: StoreValue) -> Int? { Int64.fromStoreValue(value).map(Int.init) }
}

extension Int32: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(Int64(self)) }
    public static func fromStoreValue(_ value: StoreValue) -> Int32? { Int64.fromStoreValue(value).flatMap { Int32(exactly: $0) } }
}

extension UInt32: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(Int64(self)) }
    public static func fromStoreValue(_ value: StoreValue) -> UInt32? { Int64.fromStoreValue(value).flatMap { UInt32(exactly: $0) } }
}

extension Double: StoreValueConvertible {
    public var storeValue: StoreValue { .real(self) }
    public static func fromStoreValue(_ value: StoreValue) -> Double? {
        switch value {
        case .real(let v): v
        case .integer(let v): Double(v)
        case .text(let v): Double(v)
        default: nil
        }
    }
}

extension Bool: StoreValueConvertible {
    public var storeValue: StoreValue { .integer(self ? 1 : 0) }
    public static func fromStoreValue(_ value: StoreValue) -> Bool? {
        switch value {
        case .integer(let v): v != 0
        case .real(let v): v != 0
        default: nil
        }
    }
}

extension String: StoreValueConvertible {
    public var storeValue: StoreValue { .text(self) }
    public static func fromStoreValue(_ value: StoreValue) -> String? {
        switch value {
        case .text(let v): v
        case .integer(let v): String(v)
        case .real(let v): String(v)
        case .blob(let v): String(bytes: v, encoding: .utf8)
        case .null: nil
        }
    }
}

extension Data: StoreValueConvertible {
    public var storeValue: StoreValue { .blob([UInt8](self)) }
    public static func fromStoreValue(_ value: StoreValue) -> Data? {
        switch value {
        case .blob(let v): Data(v)
        case .text(let v): Data(v.utf8)
        default: nil
        }
    }
}

extension Array: StoreValueConvertible where Element == UInt8 {
    public var storeValue: StoreValue { .blob(self) }
    public static func fromStoreValue(_ value: StoreValue) -> [UInt8]? {
        switch value {
        case .blob(let v): v
        case .text(let v): Array(v.utf8)
        default: nil
        }
    }
}

extension StoreValue: StoreValueConvertible {
    public var storeValue: StoreValue { self }
    public static func fromStoreValue(_ value: StoreValue) -> StoreValue? { value }
}

/// The arguments of one statement, written as an array literal: `[id, nil, 3]`.
public struct StoreArguments: ExpressibleByArrayLiteral, Sendable {
    public var values: [StoreValue]

    public init(_ values: [(any StoreValueConvertible)?]) {
        self.values = values.map { $0?.storeValue ?? .null }
    }

    public init<S: Sequence>(_ values: S) where S.Element: StoreValueConvertible {
        // A closure, not a key path: a generic key path is instantiated on every call.
        self.values = values.map { $0.storeValue }
    }

    public init(arrayLiteral elements: (any StoreValueConvertible)?...) {
        self.init(elements)
    }

    public static func + (lhs: StoreArguments, rhs: StoreArguments) -> StoreArguments {
        var result = lhs
        result.values += rhs.values
        return result
    }
}
