/// An Exchange product line. Each has its own service-pack levels and its own procedures.
public enum Product: String, Sendable, Hashable, CaseIterable, Codable {
    case exchange55 = "exchange-5.5"
    case exchange2000 = "exchange-2000"
    case exchange2003 = "exchange-2003"

    /// The levels that exist for the product: 5.5 went to SP4, 2000 to SP3, 2003 to SP2.
    public var levels: [Level] {
        switch self {
        case .exchange55: [.rtm, .sp1, .sp2, .sp3, .sp4]
        case .exchange2000: [.rtm, .sp1, .sp2, .sp3]
        case .exchange2003: [.rtm, .sp1, .sp2]
        }
    }

    /// The Windows releases the product runs on. Exchange 2000 predates Windows Server 2003
    /// and 5.5 was never supported on it, so such an inventory describes no real server.
    public var operatingSystems: [OperatingSystem] {
        switch self {
        case .exchange55: [.windowsNT4, .windows2000]
        case .exchange2000: [.windows2000]
        case .exchange2003: [.windows2000, .windows2003]
        }
    }

    /// Front-end and back-end servers exist from Exchange 2000 on.
    public var hasFrontEnds: Bool { self != .exchange55 }

    public var displayName: String {
        switch self {
        case .exchange55: "Exchange Server 5.5"
        case .exchange2000: "Exchange 2000 Server"
        case .exchange2003: "Exchange Server 2003"
        }
    }

    /// Newer product lines compare greater: an EVS of an older product than its nodes is a
    /// migration in progress (rule `e2003-clean-install-migration`).
    public var generation: Int { Self.allCases.firstIndex(of: self)! }
}
