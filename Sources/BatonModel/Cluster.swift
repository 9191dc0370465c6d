public enum ClusterMode: String, Sendable, Hashable, CaseIterable, Codable {
    case activePassive = "active-passive"
    case activeActive = "active-active"
}

public struct ClusterNode: Sendable, Hashable {
    public var name: HostName
    public var install: ExchangeInstall
    public var location: SourceLocation

    public init(name: HostName, install: ExchangeInstall, location: SourceLocation) {
        self.name = name
        self.install = install
        self.location = location
    }
}

/// An Exchange Virtual Server: a cluster group that users reach by its network name, owned
/// by one node at a time.
public struct VirtualServer: Sendable, Hashable {
    public var name: HostName
    public var owner: HostName
    public var preferredOwner: HostName?
    public var product: Product
    public var level: Level
    public var location: SourceLocation

    public init(
        name: HostName, owner: HostName, preferredOwner: HostName? = nil, product: Product, level: Level,
        location: SourceLocation
    ) {
        self.name = name
        self.owner = owner
        self.preferredOwner = preferredOwner
        self.product = product
        self.level = level
        self.location = location
    }
}

public struct Cluster: Sendable, Hashable {
    public var name: HostName
    public var mode: ClusterMode
    public var nodes: [ClusterNode]
    /// The node that owns the cluster group (quorum, cluster name and address) now.
    public var clusterGroupOwner: HostName
    public var virtualServers: [VirtualServer]
    public var location: SourceLocation

    public init(
        name: HostName, mode: ClusterMode, nodes: [ClusterNode], clusterGroupOwner: HostName,
        virtualServers: [VirtualServer], location: SourceLocation
    ) {
        self.name = name
        self.mode = mode
        self.nodes = nodes
        self.clusterGroupOwner = clusterGroupOwner
        self.virtualServers = virtualServers
        self.location = location
    }

    public func node(named name: HostName) -> ClusterNode? {
        nodes.first { $0.name == name }
    }
}
