/// A name Windows and Exchange compare without regard to case, kept as it was spelled where
/// it was read: `HostName`, `PackageID`. Each says how it compares; the literals, the text and
/// the JSON (the spelling, as a string) are the same for all.
public protocol SpelledName: Sendable, Hashable, Comparable, CustomStringConvertible, Codable,
    ExpressibleByStringInterpolation
where StringLiteralType == String, StringInterpolation == DefaultStringInterpolation {
    /// The name as written where it was first read.
    var spelling: String { get }
    init(_ spelling: String)
}

extension SpelledName {
    public init(stringLiteral value: String) {
        self.init(value)
    }

    public init(stringInterpolation: DefaultStringInterpolation) {
        self.init(String(stringInterpolation: stringInterpolation))
    }

    public var description: String { spelling }

    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(spelling)
    }
}

/// A dictionary key written as given.
struct NameKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
