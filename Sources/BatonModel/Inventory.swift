/// An organization as its administrator describes it: what runs where now.
public struct Inventory: Sendable, Hashable {
    public var organization: String
    public var domainControllers: [HostName]
    public var servers: [Server]
    public var clusters: [Cluster]
    public var packages: [Package]
    public var hosts: [HostAccess]
    /// Per-action duration overrides for the estimate, in seconds, keyed by action name
    /// (or `install-service-pack` / `install-hotfix`). An addition to Baton's formats.
    public var durations: [String: Int]
    /// Exchange 2013 and later: Active Directory, sites and database availability groups.
    public var activeDirectory: ActiveDirectoryInfo?
    public var sites: [Site] = []
    public var dags: [DatabaseAvailabilityGroup] = []
    /// The order of sites the inventory asks for, overriding Baton's default (Internet-facing
    /// sites first, rule `mx-order-sites`).
    public var siteOrder: [String]?
    /// Seconds each DAG settles after a member is back, before the next leaves (`settle:`),
    /// unless the DAG says its own.
    public var settle: Int?
    /// Weekly maintenance windows (`windows:`); empty: any time.
    public var windows: [MaintenanceWindow] = []
    /// Seconds a server's update must end before its window closes (`window-margin:`).
    public var windowMargin: Int?
    /// Who hears of its runs (`notify:`).
    public var notify: [Receiver] = []
    /// Where `notify:` is written, for messages.
    public var notifyLocation: SourceLocation?
    /// The dashboard's address, for the links in notifications (`dashboard:`).
    public var dashboard: String?
    /// Command profiles named by `hosts:` entries (an addition to the inventory format).
    public var profiles: [CommandProfileSpec] = []
    /// Options for OpenSSH connections (an addition to the inventory format).
    public var ssh = SSHSettings()
    /// Accounts whose password logon carries network credentials (an addition to the
    /// inventory format): hosts, profiles and `ssh:` name them.
    public var logons: [LogonSpec] = []
    /// The file it was read from, for messages.
    public var file: String

    public init(
        organization: String, domainControllers: [HostName] = [], servers: [Server] = [], clusters: [Cluster] = [],
        packages: [Package] = [], hosts: [HostAccess] = [], durations: [String: Int] = [:], file: String = "inventory"
    ) {
        self.organization = organization
        self.domainControllers = domainControllers
        self.servers = servers
        self.clusters = clusters
        self.packages = packages
        self.hosts = hosts
        self.durations = durations
        self.file = file
    }

    /// How to reach `name`, when the inventory says.
    public func access(_ name: HostName) -> HostAccess? {
        hosts.first { $0.host == name }
    }

    /// Every machine running Exchange: stand-alone servers and cluster nodes.
    public var exchangeHostCount: Int { servers.count + clusters.reduce(0) { $0 + $1.nodes.count } }

}
