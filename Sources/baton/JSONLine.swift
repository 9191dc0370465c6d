import Foundation

/// A value of a JSON line the command line prints: numbers as numbers, text as text.
enum JSONValue: Encodable, Sendable {
    case text(String)
    case number(Int)
    /// A measured quantity (seconds), to the millisecond.
    case decimal(Double)
    case flag(Bool)
    case list([JSONValue])
    case object([String: JSONValue])

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .number(let number): try container.encode(number)
        case .decimal(let value): try container.encode((value * 1000).rounded() / 1000)
        case .flag(let flag): try container.encode(flag)
        case .list(let list): try container.encode(list)
        case .object(let object): try container.encode(object)
        }
    }

    /// A JSON document as the command line's other JSON outputs print it: indented, keys
    /// sorted, `/` unescaped.
    static func pretty(_ value: JSONValue) -> String { pretty(encoding: value) }

    /// Any encodable value printed the same way.
    static func pretty(encoding value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(value)) ?? Data("null".utf8), as: UTF8.self) + "\n"
    }

    /// One line of JSON, keys sorted, `/` unescaped.
    static func line(_ object: [String: JSONValue]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(object)) ?? Data("{}".utf8), as: UTF8.self) + "\n"
    }
}
