import Foundation

/// `value` shown with snake_case keys: for a type whose Codable form is a stored format
/// that keeps its own key names (a backup manifest, camelCase inside backup files and
/// covered by its signature), inside the snake_case JSON every report and `--json` answer
/// uses. Only names of the type's own properties change; it must hold no dictionary keyed
/// by data (those keys would be converted too).
public struct SnakeCaseKeys<Value: Encodable & Sendable>: Encodable, Sendable {
    public let value: Value

    public init(_ value: Value) { self.value = value }

    public func encode(to encoder: any Encoder) throws {
        let snake = JSONEncoder()
        snake.keyEncodingStrategy = .convertToSnakeCase
        try JSONDecoder().decode(JSONValue.self, from: snake.encode(value)).encode(to: encoder)
    }
}

/// Any JSON value, to carry a document from one encoder to another unchanged.
enum JSONValue: Codable, Sendable {
    case null, bool(Bool), integer(Int64), number(Double), string(String)
    case array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int64.self) { self = .integer(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([JSONValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}
