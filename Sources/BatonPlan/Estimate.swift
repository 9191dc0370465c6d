import BatonModel

/// How long a plan should take and what users notice while it runs: the makespan with
/// unlimited parallelism, each virtual server's downtime and each pool's time out of
/// service. An addition to the plan format (which allows added optional fields).
public struct Estimate: Sendable, Hashable, Codable {
    public var makespanSeconds: Int
    /// The sum of all steps' durations: the work, however it is spread.
    public var workSeconds: Int
    public var virtualServers: [Downtime]
    public var pools: [PoolWindow]
    /// Exchange 2013 and later: each database's time without a mounted copy (zero when a
    /// healthy copy elsewhere takes over) and each DAG's maintenance window.
    public var databases: [Downtime]?
    public var dags: [DAGWindow]?
    /// Exchange 2013 and later: how long Internet mail through a site's only Edge server stops
    /// (from its drain to its resume), by Edge server; nil when no site has only one.
    public var inboundMail: [Downtime]? = nil
    public var assumptions: String
    /// The inventory's own durations (`durations:`) the estimate used, when it has any: a run
    /// orders its ready steps on them too (`StartOrder`), long after the inventory is gone.
    public var durations: [String: Int]? = nil

    public init(
        makespanSeconds: Int, workSeconds: Int, virtualServers: [Downtime], pools: [PoolWindow],
        databases: [Downtime]? = nil, dags: [DAGWindow]? = nil, inboundMail: [Downtime]? = nil, assumptions: String,
        durations: [String: Int]? = nil
    ) {
        self.makespanSeconds = makespanSeconds
        self.workSeconds = workSeconds
        self.virtualServers = virtualServers
        self.pools = pools
        self.databases = databases
        self.dags = dags
        self.inboundMail = inboundMail
        self.assumptions = assumptions
        self.durations = durations
    }

    public struct DAGWindow: Sendable, Hashable, Codable {
        public var name: String
        public var members: Int
        /// From the first member's maintenance to the last check of its copies.
        public var windowSeconds: Int

        public init(name: String, members: Int, windowSeconds: Int) {
            self.name = name
            self.members = members
            self.windowSeconds = windowSeconds
        }

        enum CodingKeys: String, CodingKey {
            case name, members
            case windowSeconds = "window-seconds"
        }
    }

    public struct Downtime: Sendable, Hashable, Codable {
        public var name: String
        public var downtimeSeconds: Int

        public init(name: String, downtimeSeconds: Int) {
            self.name = name
            self.downtimeSeconds = downtimeSeconds
        }

        enum CodingKeys: String, CodingKey {
            case name
            case downtimeSeconds = "downtime-seconds"
        }
    }

    public struct PoolWindow: Sendable, Hashable, Codable {
        public var name: String
        public var members: Int
        public var membersOut: Int
        /// From the first member leaving to the last rejoining.
        public var windowSeconds: Int
        /// How long no member at all served users.
        public var fullyOutSeconds: Int

        public init(name: String, members: Int, membersOut: Int, windowSeconds: Int, fullyOutSeconds: Int) {
            self.name = name
            self.members = members
            self.membersOut = membersOut
            self.windowSeconds = windowSeconds
            self.fullyOutSeconds = fullyOutSeconds
        }

        enum CodingKeys: String, CodingKey {
            case name, members
            case membersOut = "members-out"
            case windowSeconds = "window-seconds"
            case fullyOutSeconds = "fully-out-seconds"
        }
    }

    enum CodingKeys: String, CodingKey {
        case makespanSeconds = "makespan-seconds"
        case workSeconds = "work-seconds"
        case virtualServers = "virtual-servers"
        case pools, assumptions, databases, dags, durations
        case inboundMail = "inbound-mail"
    }
}
