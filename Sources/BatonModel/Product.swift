/// An Exchange product line. Each has its own service-pack levels and its own procedures.
public enum Product: String, Sendable, Hashable, CaseIterable, Codable {
    case exchange55 = "exchange-5.5"
    case exchange2000 = "exchange-2000"
    case exchange2003 = "exchange-2003"
    case exchange2013 = "exchange-2013"
    case exchange2016 = "exchange-2016"
    case exchange2019 = "exchange-2019"
    /// Exchange Server Subscription Edition.
    case exchangeSE = "exchange-se"

    /// The levels that exist for the product: 5.5 went to SP4, 2000 to SP3, 2003 to SP2.
    public var levels: [Level] {
        switch self {
        case .exchange55: [.rtm, .sp1, .sp2, .sp3, .sp4]
        case .exchange2000: [.rtm, .sp1, .sp2, .sp3]
        case .exchange2003: [.rtm, .sp1, .sp2]
        case .exchange2013, .exchange2016: [.rtm] + Level.cumulativeUpdates(through: .cu23)
        case .exchange2019: [.rtm] + Level.cumulativeUpdates(through: .cu15)
        case .exchangeSE: [.rtm, .cu1, .cu2]
        }
    }

    /// The Windows releases the product runs on. Exchange 2000 predates Windows Server 2003
    /// and 5.5 was never supported on it, so such an inventory describes no real server.
    public var operatingSystems: [OperatingSystem] {
        switch self {
        case .exchange55: [.windowsNT4, .windows2000]
        case .exchange2000: [.windows2000]
        case .exchange2003: [.windows2000, .windows2003]
        case .exchange2013: [.windows2012R2]
        case .exchange2016: [.windows2012R2, .windows2016]
        case .exchange2019, .exchangeSE: [.windows2019, .windows2022, .windows2025]
        }
    }

    /// Front-end and back-end servers exist from Exchange 2000 on.
    public var hasFrontEnds: Bool { self == .exchange2000 || self == .exchange2003 }

    /// Exchange 2013 and later: database availability groups, cumulative and security updates.
    public var isModern: Bool { generation >= Product.exchange2013.generation }

    /// The roles a server of this product may have.
    public var roles: [Role] {
        switch self {
        case .exchange55: [.standalone]
        case .exchange2000, .exchange2003: [.frontEnd, .backEnd, .standalone]
        case .exchange2013: [.mailbox, .clientAccess, .edge]
        case .exchange2016, .exchange2019, .exchangeSE: [.mailbox, .edge]
        }
    }

    public var displayName: String {
        switch self {
        case .exchange55: "Exchange Server 5.5"
        case .exchange2000: "Exchange 2000 Server"
        case .exchange2003: "Exchange Server 2003"
        case .exchange2013: "Exchange Server 2013"
        case .exchange2016: "Exchange Server 2016"
        case .exchange2019: "Exchange Server 2019"
        case .exchangeSE: "Exchange Server Subscription Edition"
        }
    }

    /// Newer product lines compare greater: an EVS of an older product than its nodes is a
    /// migration in progress (rule `e2003-clean-install-migration`).
    public var generation: Int { Self.allCases.firstIndex(of: self)! }
}
