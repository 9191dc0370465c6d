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
public enum TwinIdentity {}

/// A step's identity within its plan: "s1", "s2", … in the order the plan lists them.
public typealias StepID = Identifier<StepIdentity>
/// A run's identity in the journal: "run-1", or the name it was started with.
public typealias RunID = Identifier<RunIdentity>
/// A lab twin's name: one state directory or journal keeps any number of twins, each its own
/// rehearsal; `default` is the one used when none is named.
public typealias TwinName = Identifier<TwinIdentity>

extension Identifier where Kind == TwinIdentity {
    /// The twin of a state directory or journal when none is named (`lab.json`).
    public static var standard: TwinName { "default" }
}

extension Identifier {
    /// Whether `name` may name a run or a twin: 1 to 64 letters, digits, `.`, `_` or `-`,
    /// starting with a letter or digit (it appears in commands, file names and addresses, so
    /// neither `..` nor an option such as `-rf`).
    /// What `isValidName` takes, as messages say it.
    public static var nameRule: String { "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit" }

    public static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.count), let first = name.unicodeScalars.first,
            first.isNameCharacter, first != ".", first != "_", first != "-"
        else { return false }
        return name.unicodeScalars.allSatisfy(\.isNameCharacter)
    }
}

extension Unicode.Scalar {
    /// What the names Baton puts in commands, file names and addresses are made of (machines,
    /// runs, twins): ASCII letters and digits, `.`, `_` and `-`.
    public var isNameCharacter: Bool {
        ("a"..."z").contains(self) || ("A"..."Z").contains(self) || ("0"..."9").contains(self)
            || self == "." || self == "_" || self == "-"
    }
}

extension Sequence {
    /// The ids joined: "s1, s2".
    public func joined<Kind>(separator: String = "") -> String where Element == Identifier<Kind> {
        map(\.rawValue).joined(separator: separator)
    }
}
