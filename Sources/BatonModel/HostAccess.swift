/// How Baton reaches a machine. Without an entry, runs go to the lab twin.
public struct HostAccess: Sendable, Hashable {
    public enum Transport: String, Sendable, Hashable, CaseIterable, Codable {
        case ssh, local
    }

    public var host: HostName
    public var address: String?
    public var via: Transport
    public var user: String?
    public var port: Int?
    public var profile: String?
    /// The entry of `logons:` to log on with, when not a key.
    public var logon: String?
    /// Where Windows Server Backup writes this host's backups: a volume (`E:`) or a share
    /// (`\\backup01\exchange`).
    public var backupTarget: String?
    /// Where the .NET Framework offline installers are, as the host sees it (a folder or a
    /// share), for `install-dotnet`.
    public var prerequisites: String?
    /// The services `quiesce` stops on this host (names, `*` wildcards), instead of Baton's list.
    public var quiesceServices: [String] = []
    public var location: SourceLocation

    public init(
        host: HostName, address: String? = nil, via: Transport, user: String? = nil, port: Int? = nil,
        profile: String? = nil, logon: String? = nil, location: SourceLocation
    ) {
        self.logon = logon
        self.host = host
        self.address = address
        self.via = via
        self.user = user
        self.port = port
        self.profile = profile
        self.location = location
    }

    /// What ssh connects to: the address when one is given, else the name.
    public var destination: String { address ?? host.spelling }
}
