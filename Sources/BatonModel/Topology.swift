/// Active Directory as a cumulative update's preparation needs it (Exchange 2013 and later).
public struct ActiveDirectoryInfo: Sendable, Hashable {
    /// The site of the schema master: `/PrepareSchema` and `/PrepareAD` run there.
    public var schemaMasterSite: String?
    public var domains: [String]
    /// The forest's Exchange versions now; nil when the inventory does not say.
    public var versions: ADVersions
    public var location: SourceLocation

    public init(schemaMasterSite: String?, domains: [String], versions: ADVersions, location: SourceLocation) {
        self.schemaMasterSite = schemaMasterSite
        self.domains = domains
        self.versions = versions
        self.location = location
    }
}

/// The three values Exchange setup raises when it prepares Active Directory: the schema's
/// `ms-Exch-Schema-Version-Pt` rangeUpper, the organization container's objectVersion and the
/// lowest Microsoft Exchange System Objects objectVersion across the domains.
public struct ADVersions: Sendable, Hashable {
    public var schema: Int?
    public var organization: Int?
    public var domain: Int?

    public init(schema: Int?, organization: Int?, domain: Int?) {
        self.schema = schema
        self.organization = organization
        self.domain = domain
    }

    public var isKnown: Bool { schema != nil && organization != nil && domain != nil }
}

/// An Active Directory site.
public struct Site: Sendable, Hashable {
    public var name: String
    /// Whether clients and mail from the Internet arrive here.
    public var internetFacing: Bool
    public var location: SourceLocation

    public init(name: String, internetFacing: Bool, location: SourceLocation) {
        self.name = name
        self.internetFacing = internetFacing
        self.location = location
    }
}

/// A database availability group: mailbox servers that keep copies of each other's databases.
public struct DatabaseAvailabilityGroup: Sendable, Hashable {
    public var name: HostName
    public var members: [HostName]
    /// The file share witness (not an Exchange server).
    public var witness: Witness?
    /// Whether the DAG rebalances its databases by activation preference on its own.
    public var autoRebalance: Bool
    public var databases: [MailboxDatabase]
    public var location: SourceLocation
    /// Seconds the DAG settles after a member is back, before the next leaves (`settle:`);
    /// nil for the organization's.
    public var settle: Int?

    public init(
        name: HostName, members: [HostName], witness: Witness?, autoRebalance: Bool, databases: [MailboxDatabase],
        location: SourceLocation, settle: Int? = nil
    ) {
        self.settle = settle
        self.name = name
        self.members = members
        self.witness = witness
        self.autoRebalance = autoRebalance
        self.databases = databases
        self.location = location
    }

    /// With an even number of members the witness holds the deciding vote.
    public var usesWitness: Bool { members.count % 2 == 0 }

    /// The databases with a copy on `member`.
    public func databases(on member: HostName) -> [MailboxDatabase] {
        databases.filter { $0.copies.contains(member) }
    }
}

public struct Witness: Sendable, Hashable {
    public var server: HostName
    public var site: String?

    public init(server: HostName, site: String?) {
        self.server = server
        self.site = site
    }
}

/// A mailbox database and where its copies are.
public struct MailboxDatabase: Sendable, Hashable {
    public var name: String
    /// The servers holding a copy, in activation-preference order.
    public var copies: [HostName]
    /// Where the mounted copy is now.
    public var active: HostName
    /// Lagged copies, which are never activated on their own.
    public var lagged: [HostName]
    public var location: SourceLocation

    public init(name: String, copies: [HostName], active: HostName, lagged: [HostName], location: SourceLocation) {
        self.name = name
        self.copies = copies
        self.active = active
        self.lagged = lagged
        self.location = location
    }
}
