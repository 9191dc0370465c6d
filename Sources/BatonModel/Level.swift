/// A service-pack level of an Exchange product, ordered from the original release up.
public enum Level: String, Sendable, Hashable, Comparable, CaseIterable, Codable {
    case rtm, sp1, sp2, sp3, sp4

    public static func < (lhs: Level, rhs: Level) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// "SP2", "RTM": how release notes and Exchange System Manager write it.
    public var displayName: String { rawValue.uppercased() }
}
