/// A package's id ("exchange-2003-sp2", "exchange-2019-cu15-feb26su"). Ids are compared
/// without regard to case, as host names are: `--package Exchange-2003-SP2` names the built-in
/// package, and an inventory's `installed:` matches whatever case it was written in. The
/// spelling where the id was read is kept for output.
public struct PackageID: SpelledName {
    public let spelling: String

    public init(_ spelling: String) {
        self.spelling = spelling
    }

    /// The form ids are compared by.
    public var key: String { spelling.lowercased() }

    public static func == (lhs: PackageID, rhs: PackageID) -> Bool { lhs.key == rhs.key }

    public static func < (lhs: PackageID, rhs: PackageID) -> Bool { lhs.key < rhs.key }

    public func hash(into hasher: inout Hasher) { hasher.combine(key) }
}

extension PackageID: CodingKeyRepresentable {
    /// As a dictionary key an id is written as spelled.
    public var codingKey: any CodingKey { NameKey(stringValue: spelling) }

    public init?<T: CodingKey>(codingKey: T) {
        self.init(codingKey.stringValue)
    }
}
