/// An identity that is a string on the wire but its own type in code, so a run's id cannot be
/// passed where a step's is expected. `Kind` only tells the two apart.
public struct Identifier<Kind>: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByStringInterpolation
{
    public let rawValue: String

    public init(_ rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public init(stringInterpolation: DefaultStringInterpolation) {
        rawValue = String(stringInterpolation: stringInterpolation)
    }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public var description: String { rawValue }
    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

public enum StepIdentity {}
public enum RunIdentity {}

/// A step's identity within its plan: "s1", "s2", … in the order the plan lists them.
public typealias StepID = Identifier<StepIdentity>
/// A run's identity in the journal: "run-1", or the name it was started with.
public typealias RunID = Identifier<RunIdentity>

extension Sequence {
    /// The ids joined: "s1, s2".
    public func joined<Kind>(separator: String = "") -> String where Element == Identifier<Kind> {
        map(\.rawValue).joined(separator: separator)
    }
}
