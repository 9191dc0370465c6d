/// A package's id ("exchange-2003-sp2", "exchange-2019-cu15-feb26su"). Ids are compared
/// without regard to case, as host names are: `--package Exchange-2003-SP2` names the built-in
/// package, and an inventory's `installed:` matches whatever case it was written in. The
/// spelling where the id was read is kept for output.
public struct PackageID: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringInterpolation,
    Codable
{
    /// The id as written where it was read.
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

    /// The form ids are compared by.
    public var key: String { spelling.lowercased() }

    public var description: String { spelling }

    public static func == (lhs: PackageID, rhs: PackageID) -> Bool { lhs.key == rhs.key }

    public static func < (lhs: PackageID, rhs: PackageID) -> Bool { lhs.key < rhs.key }

    public func hash(into hasher: inout Hasher) { hasher.combine(key) }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(spelling)
    }
}

extension PackageID: CodingKeyRepresentable {
    /// As a dictionary key an id is written as spelled.
    public var codingKey: any CodingKey { Key(stringValue: spelling) }

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
