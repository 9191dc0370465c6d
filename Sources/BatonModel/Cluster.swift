public enum ClusterMode: String, Sendable, Hashable, CaseIterable, Codable {
    case activePassive = "active-passive"
    case activeActive = "active-active"
}

public struct ClusterNode: Sendable, Hashable {
    public var name: String
    public var install: ExchangeInstall
    public var location: SourceLocation

    public init(name: String, install: ExchangeInstall, location: SourceLocation) {
        self.name = name
        self.install = install
        self.location = location
    }
}

/// An Exchange Virtual Server: a cluster group that users reach by its network name, owned
/// by one node at a time.
public struct VirtualServer: Sendable, Hashable {
    public var name: String
    public var owner: String
    public var preferredOwner: String?
    public var product: Product
    public var level: Level
    public var location: SourceLocation

    public init(
        name: String, owner: String, preferredOwner: String? = nil, product: Product, level: Level,
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
    public var name: String
    public var mode: ClusterMode
    public var nodes: [ClusterNode]
    /// The node that owns the cluster group (quorum, cluster name and address) now.
    public var clusterGroupOwner: String
    public var virtualServers: [VirtualServer]
    public var location: SourceLocation

    public init(
        name: String, mode: ClusterMode, nodes: [ClusterNode], clusterGroupOwner: String,
        virtualServers: [VirtualServer], location: SourceLocation
    ) {
        self.name = name
        self.mode = mode
        self.nodes = nodes
        self.clusterGroupOwner = clusterGroupOwner
        self.virtualServers = virtualServers
        self.location = location
    }

    public func node(named name: String) -> ClusterNode? {
        nodes.first { $0.name.sameHostName(as: name) }
    }
}
