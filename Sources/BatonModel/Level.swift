/// A service-pack level of an Exchange product, ordered from the original release up.
public enum Level: String, Sendable, Hashable, Comparable, CaseIterable, Codable {
    case rtm, sp1, sp2, sp3, sp4
    /// Cumulative updates of Exchange 2013 and later (each a complete build).
    case cu1, cu2, cu3, cu4, cu5, cu6, cu7, cu8, cu9, cu10, cu11, cu12, cu13, cu14, cu15, cu16, cu17, cu18, cu19
    case cu20, cu21, cu22, cu23

    /// The cumulative updates up to and including `last`.
    public static func cumulativeUpdates(through last: Level) -> [Level] {
        allCases.filter { $0.isCumulativeUpdate && $0 <= last }
    }

    public var isCumulativeUpdate: Bool { rawValue.hasPrefix("cu") }

    public static func < (lhs: Level, rhs: Level) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// "SP2", "RTM": how release notes and Exchange System Manager write it.
    public var displayName: String { rawValue.uppercased() }
}
