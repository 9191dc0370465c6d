/// The name of a machine, cluster node, Exchange Virtual Server or cluster group. Windows
/// compares such names case-insensitively, so `node1` and `NODE1` are one machine: equality,
/// hashing and ordering ignore case, while the spelling the inventory used is kept for
/// display and output.
public struct HostName: Sendable, Hashable, Comparable, CustomStringConvertible,
    ExpressibleByStringInterpolation
{
    /// The name as written where it was first read.
    public let spelling: String

    public init(_ spelling: String) {
        self.spelling = spelling
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }

    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(String(stringInterpolation: stringInterpolation))
    }

    /// The form names are compared by: the spelling in lower case. Only the spelling is kept
    /// (a plan of a million steps names machines millions of times); comparing lowers ASCII
    /// letters as it goes, and lowers other names whole.
    public var key: String { spelling.lowercased() }

    public var description: String { spelling }

    public static func == (lhs: HostName, rhs: HostName) -> Bool {
        compare(lhs, rhs) == 0
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    public static func < (lhs: HostName, rhs: HostName) -> Bool { compare(lhs, rhs) < 0 }

    /// -1, 0 or 1 as `lhs`'s key sorts before, with or after `rhs`'s: ASCII letters lowered as
    /// they are compared; names with any other character lowered whole.
    static func compare(_ lhs: HostName, _ rhs: HostName) -> Int {
        let left = lhs.spelling.utf8, right = rhs.spelling.utf8
        guard left.allSatisfy({ $0 < 0x80 }), right.allSatisfy({ $0 < 0x80 }) else { return slowCompare(lhs, rhs) }
        for (a, b) in zip(left, right) {
            let x = lower(a), y = lower(b)
            if x != y { return x < y ? -1 : 1 }
        }
        return left.count == right.count ? 0 : (left.count < right.count ? -1 : 1)
    }

    /// Names beyond ASCII, lowered whole.
    static func slowCompare(_ lhs: HostName, _ rhs: HostName) -> Int {
        let left = lhs.key, right = rhs.key
        return left == right ? 0 : (left < right ? -1 : 1)
    }

    static func lower(_ byte: UInt8) -> UInt8 {
        (0x41...0x5A).contains(byte) ? byte + 0x20 : byte
    }
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
