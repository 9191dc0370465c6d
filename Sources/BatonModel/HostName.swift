/// The name of a machine, cluster node, Exchange Virtual Server or cluster group. Windows
/// compares such names case-insensitively, so `node1` and `NODE1` are one machine: equality,
/// hashing and ordering ignore case, while the spelling the inventory used is kept for
/// display and output.
public struct HostName: Sendable, Hashable, Comparable, CustomStringConvertible,
    ExpressibleByStringInterpolation
{
    /// The name as written where it was first read.
    public let spelling: String
    /// The form names are compared by.
    public let key: String

    public init(_ spelling: String) {
        self.spelling = spelling
        key = spelling.lowercased()
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(String(stringInterpolation: stringInterpolation))
    }

    public var description: String { spelling }

    public static func == (lhs: HostName, rhs: HostName) -> Bool { lhs.key == rhs.key }

    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    public static func < (lhs: HostName, rhs: HostName) -> Bool { lhs.key < rhs.key }
}

extension HostName: Codable, CodingKeyRepresentable {
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(spelling)
    }

    /// As a dictionary key a name is written in the form it is compared by, so that one
    /// machine is one key whatever its spelling.
    public var codingKey: any CodingKey { Key(stringValue: key) }

    public init?<T: CodingKey>(codingKey: T) {
        self.init(codingKey.stringValue)
    }

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension Sequence where Element == HostName {
    /// The names as spelled, joined: "NODE1, NODE2".
    public func joined(separator: String = "") -> String {
        map(\.spelling).joined(separator: separator)
    }
}
