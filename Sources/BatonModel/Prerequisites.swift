/// A release of the .NET Framework 4.x, as Windows records it: the `Release` value under
/// `HKLM:\SOFTWARE\Microsoft\NET Framework Setup\NDP\v4\Full` (the values CSS-Exchange's
/// `Shared/Get-NETFrameworkVersion.ps1` reads). An inventory names it by version (`dotnet: 4.8`).
public enum DotNetFramework: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case v472 = "4.7.2"
    case v48 = "4.8"
    case v481 = "4.8.1"

    /// The lowest `Release` value of the version.
    public var release: Int {
        switch self {
        case .v472: 461808
        case .v48: 528040
        case .v481: 533320
        }
    }

    /// The version a `Release` value is, or nil below 4.7.2.
    public init?(release: Int) {
        guard let version = Self.allCases.last(where: { $0.release <= release }) else { return nil }
        self = version
    }

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.release < rhs.release }
}

/// A Visual C++ Redistributable that Exchange 2013 and later need (Microsoft Learn, "Exchange
/// Server prerequisites": 2012 on every server, 2013 on Mailbox servers).
public enum VisualCRuntime: String, Sendable, Hashable, CaseIterable, Codable, Comparable {
    case vc2012 = "2012"
    case vc2013 = "2013"

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}
