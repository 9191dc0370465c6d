import BatonKnowledge
import BatonModel

/// A machine of the lab twin: what KB 328839 says matters about a real one.
public struct LabHost: Sendable, Codable, Hashable {
    public var name: HostName
    /// Nil for a domain controller that runs no Exchange.
    public var product: Product?
    public var level: Level?
    public var os: OperatingSystem
    public var cluster: HostName?
    public var role: Role?
    public var pool: String?
    public var inPool = true
    public var up = true
    public var pendingRestart = false
    /// Services and programs running now: the interfering ones of the inventory, plus the
    /// Cluster service on nodes.
    @SortedWhenSaved public var running: Set<LabService> = []
    /// What `quiesce` stopped, for `restore-services`.
    public var stoppedByQuiesce: [LabService] = []
    /// Another setup, update or xcopy is running (rule `no-concurrent-installers`).
    public var installerRunning = false
    public var freeDiskMB = 4096
    /// The node was evicted from the cluster and added back (rule `e2003-event-1025`).
    public var evictedAndReadded = false
    public var installed: [PackageID] = []
    /// The build a hotfix brought, when its package names one.
    public var hotfixBuild: String?
    public var components: [Component: Level] = [:]
    public var adcCustomMaps = false
    public var schemaMapsExported = false
    /// The Application event log.
    public var eventLog: [String] = []
    /// The installer's and hotfixes' logs.
    public var installerLog: [String] = []

    /// "6.5.7638.2", as Exchange System Manager shows it.
    public var build: String? {
        guard let product, let level else { return nil }
        return hotfixBuild ?? Builds.build(product, level)
    }
}

/// A service or program the twin follows on a machine: the Cluster service, or one the
/// inventory says interferes with setup (KB 328839's antivirus, backup agent, SNMP,
/// monitoring). Saved by name ("cluster", "backup-agent"), as the twin's files always were.
public enum LabService: Sendable, Hashable, Comparable, Codable, RawRepresentable, CustomStringConvertible {
    case cluster
    case interfering(InterferingService)

    public init?(rawValue: String) {
        if rawValue == "cluster" {
            self = .cluster
        } else if let service = InterferingService(rawValue: rawValue) {
            self = .interfering(service)
        } else {
            return nil
        }
    }

    public var rawValue: String {
        switch self {
        case .cluster: "cluster"
        case .interfering(let service): service.rawValue
        }
    }

    public var description: String { rawValue }

    public static func < (lhs: LabService, rhs: LabService) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension Sequence where Element == LabService {
    /// The services by name, joined: "antivirus, backup-agent".
    public func joined(separator: String = "") -> String {
        map(\.rawValue).joined(separator: separator)
    }
}

/// As a dictionary key (a machine's components in the twin's file) a component is its name.
extension Component: CodingKeyRepresentable {}

/// A cluster group: an Exchange Virtual Server or the cluster group itself.
public struct LabGroup: Sendable, Codable, Hashable {
    public var name: HostName
    public var cluster: HostName
    public var isVirtualServer: Bool
    public var owner: HostName
    public var product: Product?
    public var level: Level?
    /// Each resource and whether it is online.
    public var resources: [String: Bool]
    /// A move hung with the resources in online pending: the next move takes them online
    /// on its target, as retrying the move in Cluster Administrator does.
    public var pendingOnline: Bool?

    public static let virtualServerResources = [
        "ip-address", "network-name", "physical-disk", "system-attendant", "information-store", "msdtc", "smtp", "http",
    ]
    public static let kept: Set<String> = ["ip-address", "network-name", "physical-disk"]

    public var isOnline: Bool { resources.values.allSatisfy { $0 } }
    public var onlyKeptOnline: Bool { resources.allSatisfy { Self.kept.contains($0.key) || !$0.value } }
}

/// A backup the twin took, and whether it can still be restored where it was taken.
public struct LabBackup: Sendable, Codable, Hashable {
    public var subject: HostName
    public var what: [String]
    public var product: Product?
    public var level: Level?
    public var at: Double
    public var restorable = true
}

/// One action applied to the twin, with what came of it. `applied` is false when the action
/// changed nothing (for example a restart nobody asked for).
public struct LabHistoryEntry: Sendable, Codable, Hashable {
    public var sequence: Int
    public var step: StepID?
    public var action: String
    /// The machine, virtual server and package the action concerns, as data (`summary` says
    /// the same for a person).
    public var host: HostName?
    public var group: HostName?
    public var package: PackageID?
    public var summary: String
    public var start: Double
    public var end: Double
    public var succeeded: Bool
    public var applied: Bool
    public var message: String
}

/// A breach of one of KB 328839's rules, as the twin saw it happen.
public struct LabViolation: Sendable, Codable, Hashable {
    public var rule: String
    public var message: String
    public var at: Double
}

/// What users noticed: the twin's accounting (issue: availability, mixed levels, failovers).
public struct LabAccounting: Sendable, Codable, Hashable {
    /// Seconds each virtual server was offline.
    public var virtualServerOffline: [String: Double] = [:]
    /// Seconds each pool served two levels at once (mobile clients' synchronization-key errors).
    public var poolMixedLevels: [String: Double] = [:]
    /// Seconds an Exchange 2000 back-end ran newer than a front-end serving Outlook Web Access.
    public var outlookWebAccessBroken: Double = 0
    public var unplannedFailovers: [String] = []
    public var violations: [LabViolation] = []
    /// When each virtual server was offline, on the twin's clock: the same time as
    /// `virtualServerOffline`, as intervals a timeline can draw. Touching intervals are joined.
    public var outages: [String: [LabInterval]] = [:]
    /// Exchange 2013 and later: each database's seconds without a mounted copy users reach.
    public var databaseOffline: [String: Double] = [:]

    public init() {}

    /// Twins saved before `outages` existed still load.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        virtualServerOffline = try container.decode([String: Double].self, forKey: .virtualServerOffline)
        poolMixedLevels = try container.decode([String: Double].self, forKey: .poolMixedLevels)
        outlookWebAccessBroken = try container.decode(Double.self, forKey: .outlookWebAccessBroken)
        unplannedFailovers = try container.decode([String].self, forKey: .unplannedFailovers)
        violations = try container.decode([LabViolation].self, forKey: .violations)
        outages = try container.decodeIfPresent([String: [LabInterval]].self, forKey: .outages) ?? [:]
        databaseOffline = try container.decodeIfPresent([String: Double].self, forKey: .databaseOffline) ?? [:]
    }

    mutating func recordOutage(of name: String, from start: Double, to end: Double) {
        if var intervals = outages[name], let last = intervals.last, last.end >= start {
            intervals[intervals.count - 1].end = max(last.end, end)
            outages[name] = intervals
        } else {
            outages[name, default: []].append(LabInterval(start: start, end: end))
        }
    }
}

/// A span of the twin's virtual clock, in seconds.
public struct LabInterval: Sendable, Codable, Hashable {
    public var start: Double
    public var end: Double
}

/// A set the twin keeps, written in sorted order: a hashed set's order changes from one process
/// to the next, and the twin's JSON (`lab.json`, `baton lab show --format json`) must not.
@propertyWrapper
public struct SortedWhenSaved<Element: Hashable & Comparable & Codable & Sendable>: Codable, Hashable, Sendable {
    public var wrappedValue: Set<Element>

    public init(wrappedValue: Set<Element>) { self.wrappedValue = wrappedValue }

    public init(from decoder: any Decoder) throws { wrappedValue = Set(try [Element](from: decoder)) }

    public func encode(to encoder: any Encoder) throws { try wrappedValue.sorted().encode(to: encoder) }
}
