public enum PackageKind: String, Sendable, Hashable, CaseIterable, Codable {
    case hotfix
    case servicePack = "service-pack"
    /// Exchange 2013 and later: a complete build, installed with setup /Mode:Upgrade.
    case cumulativeUpdate = "cumulative-update"
    /// Exchange 2013 and later: a fix for one cumulative update, installed as a .msp.
    case securityUpdate = "security-update"
}

/// When an installer's restart happens (rule `restart-if-prompted`).
public enum RestartPolicy: String, Sendable, Hashable, CaseIterable, Codable {
    case never
    case ifPrompted = "if-prompted"
    case always
}

/// What a package is installed onto: an Exchange product line, or Windows itself for the
/// prerequisite hotfixes KB 328839 names.
public enum PackageTarget: Sendable, Hashable {
    case exchange(Product)
    case windows(OperatingSystem)

    public var rawValue: String {
        switch self {
        case .exchange(let product): product.rawValue
        case .windows(let os): os.rawValue
        }
    }
}

/// A service pack or hotfix that Baton can plan a rollout of.
public struct Package: Sendable, Hashable {
    public var id: PackageID
    public var target: PackageTarget
    public var kind: PackageKind
    /// The level a service pack brings servers to.
    public var level: Level?
    /// The lowest level a hotfix installs on.
    public var requires: Level?
    public var restart: RestartPolicy
    /// The store is upgraded when databases next mount, so they cannot go back to an older
    /// node afterwards.
    public var changesStore: Bool
    /// The build Exchange System Manager shows afterwards (rule `verify-version`), if known.
    public var build: String?
    /// A security update's short name, as a server's `update:` records it ("feb26-su").
    public var update: String?
    /// The Active Directory versions a cumulative update (or an exceptional security update)
    /// brings the forest to; nil when it changes nothing in Active Directory.
    public var adVersions: ADVersions?
    /// Where a custom package was declared; nil for the built-in catalogue.
    public var location: SourceLocation?

    public init(
        id: PackageID, target: PackageTarget, kind: PackageKind, level: Level? = nil, requires: Level? = nil,
        restart: RestartPolicy, changesStore: Bool, build: String? = nil, update: String? = nil,
        adVersions: ADVersions? = nil, location: SourceLocation? = nil
    ) {
        self.update = update
        self.adVersions = adVersions
        self.id = id
        self.target = target
        self.kind = kind
        self.level = level
        self.requires = requires
        self.restart = restart
        self.changesStore = changesStore
        self.build = build
        self.location = location
    }

    public var product: Product? {
        if case .exchange(let product) = target { product } else { nil }
    }
}
