/// A server's place in a front-end/back-end organization.
public enum Role: String, Sendable, Hashable, CaseIterable, Codable {
    case frontEnd = "front-end"
    case backEnd = "back-end"
    case standalone
    /// Exchange 2013 and later: a Mailbox server (with the Client Access services from 2016 on).
    case mailbox
    /// An Edge Transport server in the perimeter network.
    case edge
    /// An Exchange 2013 Client Access server.
    case clientAccess = "client-access"
}

public enum Edition: String, Sendable, Hashable, CaseIterable, Codable {
    case standard, enterprise, conferencing
    case smallBusinessServer = "small-business-server"
}

/// Components a service pack does not upgrade by itself (rules `e2003-adc-separate`,
/// `e2000-adc-separate`, `e55-add-ons-separate`).
public enum Component: String, Sendable, Hashable, CaseIterable, Codable {
    case adc
    case mailboxManager = "mailbox-manager"
    case interorgReplication = "interorg-replication"

    /// The product lines whose service packs ship this component's own setup: the ADC
    /// with Exchange 2000 and 2003, the add-on tools on the Exchange 5.5 media.
    public var products: [Product] {
        switch self {
        case .adc: [.exchange2000, .exchange2003]
        case .mailboxManager, .interorgReplication: [.exchange55]
        }
    }
}

/// Services and programs that hold files an installer must replace (rule `quiesce`), or,
/// for `installer`, block it outright (rule `no-concurrent-installers`).
public enum InterferingService: String, Sendable, Hashable, CaseIterable, Codable {
    case antivirus
    case backupAgent = "backup-agent"
    case snmp
    case monitoring
    case installer
}

/// What an Exchange machine is and runs now; shared by stand-alone servers and cluster nodes.
public struct ExchangeInstall: Sendable, Hashable {
    public var product: Product
    public var level: Level
    public var os: OperatingSystem
    public var components: [Component]
    public var adcCustomMaps: Bool
    public var running: [InterferingService]
    /// Package ids already installed (for example `windows-2003-kb831464`), so a prerequisite
    /// is not planned twice. An addition to the inventory format.
    public var installed: [PackageID]

    public init(
        product: Product, level: Level, os: OperatingSystem, components: [Component] = [],
        adcCustomMaps: Bool = false, running: [InterferingService] = [], installed: [PackageID] = []
    ) {
        self.product = product
        self.level = level
        self.os = os
        self.components = components
        self.adcCustomMaps = adcCustomMaps
        self.running = running
        self.installed = installed
    }
}

/// An Exchange server that is not a cluster node.
public struct Server: Sendable, Hashable {
    public var name: HostName
    public var install: ExchangeInstall
    public var role: Role
    public var pool: String?
    public var edition: Edition
    /// The Active Directory site (Exchange 2013 and later).
    public var site: String?
    /// The security or hotfix update installed on top of the cumulative update, as its
    /// package names it ("feb26-su").
    public var update: String?
    /// Customised files a cumulative update overwrites (web.config, EdgeTransport.exe.config…).
    public var customConfig: [String] = []
    /// The settings of those files to apply again after the update, each named (an
    /// appSettings key, or an XPath) with the value to carry.
    public var customSettings: [ConfigSetting] = []
    /// Exchange 2019 CU14 and later switch Extended Protection on during setup; an
    /// administrator whose load balancer offloads TLS keeps it off (`extended-protection`).
    public var extendedProtection: ExtendedProtectionChoice?
    /// The .NET Framework it runs (`dotnet`); nil when the inventory does not say.
    public var dotnet: DotNetFramework?
    /// The Visual C++ runtimes installed (`visual-c++`); nil when the inventory does not say.
    public var visualCRuntimes: Set<VisualCRuntime>?
    /// Where CSS-Exchange's HealthChecker.ps1 is on the server (`health-checker`): the plan
    /// runs it before the first server and after each one.
    public var healthChecker: String?
    public var location: SourceLocation

    public init(
        name: HostName, install: ExchangeInstall, role: Role = .standalone, pool: String? = nil,
        edition: Edition = .standard, location: SourceLocation
    ) {
        self.name = name
        self.install = install
        self.role = role
        self.pool = pool
        self.edition = edition
        self.location = location
    }
}

/// One customised setting of a configuration file that a cumulative update rewrites: applied
/// again after the update, never by copying the old file back (Microsoft Learn, "Install the
/// latest Cumulative Update": the update replaces these files; customizations must be
/// re-applied).
public struct ConfigSetting: Sendable, Hashable {
    /// What in the file the setting is.
    public enum Target: Sendable, Hashable {
        /// `<appSettings><add key="KEY" value="…"/>`.
        case appSetting(String)
        /// An element's text or an attribute (`/configuration/system.web/httpRuntime/@maxRequestLength`).
        case xpath(String)
    }

    /// The file, by its path under the Exchange install folder (`FrontEnd\HttpProxy\owa\web.config`).
    public var file: String
    public var target: Target
    public var value: String
    public var location: SourceLocation?

    public init(file: String, target: Target, value: String, location: SourceLocation? = nil) {
        self.file = file
        self.target = target
        self.value = value
        self.location = location
    }
}

/// What setup does with Extended Protection on a server going to Exchange 2019 CU14 or later
/// (Microsoft Learn, "Configure Windows Extended Protection in Exchange Server").
public enum ExtendedProtectionChoice: String, Sendable, Hashable, CaseIterable {
    /// Leave it off: setup gets `/DoNotEnableEP`.
    case skip
    /// Only for Exchange Web Services on the front end: `/DoNotEnableEP_FEEWS`.
    case frontEndEWSOnly = "front-end-ews-only"

    /// The switch setup takes for it.
    public var setupSwitch: String {
        switch self {
        case .skip: "/DoNotEnableEP"
        case .frontEndEWSOnly: "/DoNotEnableEP_FEEWS"
        }
    }
}
