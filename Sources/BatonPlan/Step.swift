import BatonKnowledge
import BatonModel

/// What a backup covers (docs/plan.md).
public enum BackupItem: String, Sendable, Hashable, Codable {
    case databases
    case systemState = "system-state"
}

/// The resource types kept online while an EVS is upgraded (rule `e2003-evs-upgrade`).
public enum ResourceType: String, Sendable, Hashable, Codable, CaseIterable {
    case ipAddress = "ip-address"
    case networkName = "network-name"
    case physicalDisk = "physical-disk"
}

/// The gates plans ask operators to approve.
public enum Gate {
    public static let releaseNotes = "release-notes"
    /// Exchange 2013 and later: the forest's Exchange versions are not in the inventory.
    public static let activeDirectoryVersions = "active-directory-versions"
    /// Exchange 2013 and later: an operator prepares Active Directory where setup must run.
    public static let activeDirectoryPreparation = "active-directory-preparation"
    /// Exchange 2019 CU14 and later: Extended Protection is switched on by setup.
    public static let extendedProtection = "extended-protection"
}

/// The cluster group's name in `move-group` steps, as opposed to an EVS's name.
public let clusterGroupName: HostName = "cluster-group"

/// What a version check looks at: a machine, or a virtual server seen through its node.
public enum VersionSubject: Sendable, Hashable {
    case host(HostName)
    case virtualServer(HostName)
}

/// What one action needs, and nothing else: each case carries exactly the fields its action
/// reads, so a step cannot be built without them (docs/plan.md lists them per action).
public enum StepDetail: Sendable, Hashable {
    case approve(gate: String)
    /// `group` is the virtual server whose databases are backed up on `host`, its owner.
    case backup(host: HostName, group: HostName? = nil, what: [BackupItem])
    case exportSchemaMap(host: HostName)
    case quiesce(host: HostName)
    case checkInstallers(host: HostName)
    case leavePool(host: HostName, pool: String)
    case rejoinPool(host: HostName, pool: String)
    /// Moves `group` (a virtual server or the cluster group) from node `from` to node `to`.
    case moveGroup(group: HostName, from: HostName, to: HostName)
    case stopClusterService(host: HostName)
    case startClusterService(host: HostName)
    case install(host: HostName, package: PackageID)
    case reboot(host: HostName, when: RestartPolicy)
    case resourcesOffline(host: HostName, group: HostName, keep: [ResourceType])
    case upgradeVirtualServer(host: HostName, group: HostName)
    case resourcesOnline(host: HostName, group: HostName)
    case updateComponent(host: HostName, component: Component)
    case performanceOptimizer(host: HostName)
    case restoreServices(host: HostName)
    case verifyVersion(VersionSubject, expect: String)
    case failoverTest(group: HostName)
    case milestone(name: String)
    // Exchange 2013 and later.
    /// `host` runs setup from the schema master's site.
    case prepareSchema(host: HostName)
    case prepareAD(host: HostName)
    case prepareDomains(host: HostName, domains: [String])
    case waitReplication(ReplicationScope)
    case drainTransport(host: HostName)
    case startDagMaintenance(host: HostName, dag: HostName, overrideTwoCopies: Bool)
    case redirectMessages(host: HostName, to: HostName)
    case serverOffline(host: HostName)
    case serverOnline(host: HostName)
    case stopDagMaintenance(host: HostName, dag: HostName)
    case resumeTransport(host: HostName)
    case checkCopies(dag: HostName)
    case checkWitness(dag: HostName)
    case checkPendingReboot(host: HostName)
    case saveConfig(host: HostName, files: [String])
    case restoreConfig(host: HostName, files: [String])
    case rebalanceDatabases(dag: HostName)
    /// Installs `version` of the .NET Framework on `host`, in maintenance, before setup.
    case installDotNet(host: HostName, version: DotNetFramework)
    case healthCheck(host: HostName)
    /// Test-EdgeSynchronization, run on the Mailbox server `host`, for the Edge server `edge`.
    case checkEdgeSync(host: HostName, edge: HostName)
    /// `dag` settles for `seconds` after a member is back, before the next one leaves.
    case settle(dag: HostName, seconds: Int)

    public var action: Action {
        switch self {
        case .approve: .approve
        case .backup: .backup
        case .exportSchemaMap: .exportSchemaMap
        case .quiesce: .quiesce
        case .checkInstallers: .checkInstallers
        case .leavePool: .leavePool
        case .rejoinPool: .rejoinPool
        case .moveGroup: .moveGroup
        case .stopClusterService: .stopClusterService
        case .startClusterService: .startClusterService
        case .install: .install
        case .reboot: .reboot
        case .resourcesOffline: .resourcesOffline
        case .upgradeVirtualServer: .upgradeVirtualServer
        case .resourcesOnline: .resourcesOnline
        case .updateComponent: .updateComponent
        case .performanceOptimizer: .performanceOptimizer
        case .restoreServices: .restoreServices
        case .verifyVersion: .verifyVersion
        case .failoverTest: .failoverTest
        case .milestone: .milestone
        case .prepareSchema: .prepareSchema
        case .prepareAD: .prepareAD
        case .prepareDomains: .prepareDomains
        case .waitReplication: .waitReplication
        case .drainTransport: .drainTransport
        case .startDagMaintenance: .startDagMaintenance
        case .redirectMessages: .redirectMessages
        case .serverOffline: .serverOffline
        case .serverOnline: .serverOnline
        case .stopDagMaintenance: .stopDagMaintenance
        case .resumeTransport: .resumeTransport
        case .checkCopies: .checkCopies
        case .checkWitness: .checkWitness
        case .checkPendingReboot: .checkPendingReboot
        case .saveConfig: .saveConfig
        case .restoreConfig: .restoreConfig
        case .rebalanceDatabases: .rebalanceDatabases
        case .installDotNet: .installDotNet
        case .healthCheck: .healthCheck
        case .checkEdgeSync: .checkEdgeSync
        case .settle: .settle
        }
    }

    /// The machine the action runs on (for `move-group`, the node the group leaves).
    public var host: HostName? {
        switch self {
        case .backup(let host, _, _), .exportSchemaMap(let host), .quiesce(let host), .checkInstallers(let host),
            .leavePool(let host, _), .rejoinPool(let host, _), .moveGroup(_, let host, _),
            .stopClusterService(let host), .startClusterService(let host), .install(let host, _),
            .reboot(let host, _), .resourcesOffline(let host, _, _), .upgradeVirtualServer(let host, _),
            .resourcesOnline(let host, _), .updateComponent(let host, _), .performanceOptimizer(let host),
            .restoreServices(let host), .verifyVersion(.host(let host), _), .prepareSchema(let host),
            .prepareAD(let host), .prepareDomains(let host, _), .drainTransport(let host),
            .startDagMaintenance(let host, _, _), .redirectMessages(let host, _), .serverOffline(let host),
            .serverOnline(let host), .stopDagMaintenance(let host, _), .resumeTransport(let host),
            .checkPendingReboot(let host), .saveConfig(let host, _), .restoreConfig(let host, _),
            .installDotNet(let host, _), .healthCheck(let host), .checkEdgeSync(let host, _):
            host
        case .approve, .verifyVersion(.virtualServer, _), .failoverTest, .milestone, .waitReplication, .checkCopies,
            .checkWitness, .rebalanceDatabases, .settle:
            nil
        }
    }

    /// The virtual server or cluster group the action is about.
    public var group: HostName? {
        switch self {
        case .backup(_, let group, _): group
        case .moveGroup(let group, _, _), .resourcesOffline(_, let group, _), .upgradeVirtualServer(_, let group),
            .resourcesOnline(_, let group), .verifyVersion(.virtualServer(let group), _), .failoverTest(let group):
            group
        default: nil
        }
    }
}

extension StepDetail {
    /// The payload of `action` from the plan format's flat fields, or nil when a field the
    /// action needs is missing. Fields the action does not carry are ignored.
    public init?(
        _ action: Action, host: HostName? = nil, group: HostName? = nil, to: HostName? = nil, package: PackageID? = nil,
        what: [BackupItem]? = nil, gate: String? = nil, pool: String? = nil, component: Component? = nil,
        keep: [ResourceType]? = nil, when: RestartPolicy? = nil, expect: String? = nil, name: String? = nil,
        dag: HostName? = nil, domains: [String]? = nil, files: [String]? = nil, overrideTwoCopies: Bool? = nil,
        replication: ReplicationScope? = nil, dotnet: DotNetFramework? = nil, edge: HostName? = nil,
        seconds: Int? = nil
    ) {
        switch action {
        case .settle:
            guard let dag, let seconds, seconds >= 0 else { return nil }
            self = .settle(dag: dag, seconds: seconds)
        case .waitReplication:
            guard let replication else { return nil }
            self = .waitReplication(replication)
        case .checkCopies, .checkWitness, .rebalanceDatabases:
            guard let dag else { return nil }
            self =
                switch action {
                case .checkCopies: .checkCopies(dag: dag)
                case .checkWitness: .checkWitness(dag: dag)
                default: .rebalanceDatabases(dag: dag)
                }
        case .approve:
            guard let gate else { return nil }
            self = .approve(gate: gate)
        case .milestone:
            guard let name else { return nil }
            self = .milestone(name: name)
        case .failoverTest:
            guard let group else { return nil }
            self = .failoverTest(group: group)
        case .verifyVersion:
            guard let expect, let subject = host.map(VersionSubject.host) ?? group.map(VersionSubject.virtualServer)
            else { return nil }
            self = .verifyVersion(subject, expect: expect)
        default:
            guard let host else { return nil }
            switch action {
            case .backup:
                guard let what else { return nil }
                self = .backup(host: host, group: group, what: what)
            case .exportSchemaMap: self = .exportSchemaMap(host: host)
            case .quiesce: self = .quiesce(host: host)
            case .checkInstallers: self = .checkInstallers(host: host)
            case .leavePool, .rejoinPool:
                guard let pool else { return nil }
                self = action == .leavePool ? .leavePool(host: host, pool: pool) : .rejoinPool(host: host, pool: pool)
            case .moveGroup:
                guard let group, let to else { return nil }
                self = .moveGroup(group: group, from: host, to: to)
            case .stopClusterService: self = .stopClusterService(host: host)
            case .startClusterService: self = .startClusterService(host: host)
            case .install:
                guard let package else { return nil }
                self = .install(host: host, package: package)
            case .reboot:
                guard let when else { return nil }
                self = .reboot(host: host, when: when)
            case .resourcesOffline:
                guard let group, let keep else { return nil }
                self = .resourcesOffline(host: host, group: group, keep: keep)
            case .upgradeVirtualServer:
                guard let group else { return nil }
                self = .upgradeVirtualServer(host: host, group: group)
            case .resourcesOnline:
                guard let group else { return nil }
                self = .resourcesOnline(host: host, group: group)
            case .updateComponent:
                guard let component else { return nil }
                self = .updateComponent(host: host, component: component)
            case .performanceOptimizer: self = .performanceOptimizer(host: host)
            case .restoreServices: self = .restoreServices(host: host)
            case .prepareSchema: self = .prepareSchema(host: host)
            case .prepareAD: self = .prepareAD(host: host)
            case .prepareDomains:
                guard let domains else { return nil }
                self = .prepareDomains(host: host, domains: domains)
            case .drainTransport: self = .drainTransport(host: host)
            case .startDagMaintenance, .stopDagMaintenance:
                guard let dag else { return nil }
                self =
                    action == .stopDagMaintenance
                    ? .stopDagMaintenance(host: host, dag: dag)
                    : .startDagMaintenance(host: host, dag: dag, overrideTwoCopies: overrideTwoCopies ?? false)
            case .redirectMessages:
                guard let to else { return nil }
                self = .redirectMessages(host: host, to: to)
            case .serverOffline: self = .serverOffline(host: host)
            case .serverOnline: self = .serverOnline(host: host)
            case .resumeTransport: self = .resumeTransport(host: host)
            case .checkPendingReboot: self = .checkPendingReboot(host: host)
            case .installDotNet:
                guard let dotnet else { return nil }
                self = .installDotNet(host: host, version: dotnet)
            case .healthCheck: self = .healthCheck(host: host)
            case .checkEdgeSync:
                guard let edge else { return nil }
                self = .checkEdgeSync(host: host, edge: edge)
            case .saveConfig, .restoreConfig:
                guard let files else { return nil }
                self =
                    action == .saveConfig
                    ? .saveConfig(host: host, files: files) : .restoreConfig(host: host, files: files)
            case .approve, .milestone, .failoverTest, .verifyVersion, .waitReplication, .checkCopies, .checkWitness,
                .rebalanceDatabases, .settle:
                return nil
            }
        }
    }
}

/// One step of a plan: an action with its arguments, the steps it waits for, the rules that
/// put it there and a sentence saying why (docs/plan.md).
public struct Step: Sendable, Hashable, Identifiable {
    public var id: StepID
    public var detail: StepDetail
    public var after: [StepID]
    public var rules: [Rule.ID]
    public var why: String
    /// Which part of the rollout it belongs to ("prepare", "front-ends", "cluster EXCL1"…),
    /// for people reading the plan. An addition to Baton's formats.
    public var phase: String

    public init(_ detail: StepDetail, rules: [Rule.ID], why: String) {
        id = ""
        self.detail = detail
        after = []
        self.rules = rules
        self.why = why
        phase = ""
    }

    // The plan format's fields, each present only for the actions that carry it.

    public var action: Action { detail.action }
    public var host: HostName? { detail.host }
    public var group: HostName? { detail.group }

    public var to: HostName? {
        switch detail {
        case .moveGroup(_, _, let to), .redirectMessages(_, let to): to
        default: nil
        }
    }

    public var package: PackageID? {
        if case .install(_, let package) = detail { return package }
        return nil
    }

    public var what: [BackupItem]? {
        if case .backup(_, _, let what) = detail { return what }
        return nil
    }

    public var gate: String? {
        if case .approve(let gate) = detail { return gate }
        return nil
    }

    public var pool: String? {
        switch detail {
        case .leavePool(_, let pool), .rejoinPool(_, let pool): pool
        default: nil
        }
    }

    public var component: Component? {
        if case .updateComponent(_, let component) = detail { return component }
        return nil
    }

    public var keep: [ResourceType]? {
        if case .resourcesOffline(_, _, let keep) = detail { return keep }
        return nil
    }

    public var when: RestartPolicy? {
        if case .reboot(_, let when) = detail { return when }
        return nil
    }

    public var expect: String? {
        if case .verifyVersion(_, let expect) = detail { return expect }
        return nil
    }

    public var name: String? {
        if case .milestone(let name) = detail { return name }
        return nil
    }

    /// The DAG a maintenance, copy-health, witness or rebalancing step concerns.
    public var dag: HostName? {
        switch detail {
        case .startDagMaintenance(_, let dag, _), .stopDagMaintenance(_, let dag), .checkCopies(let dag),
            .checkWitness(let dag), .rebalanceDatabases(let dag), .settle(let dag, _):
            dag
        default: nil
        }
    }

    public var domains: [String]? {
        if case .prepareDomains(_, let domains) = detail { return domains }
        return nil
    }

    public var files: [String]? {
        switch detail {
        case .saveConfig(_, let files), .restoreConfig(_, let files): files
        default: nil
        }
    }

    /// Set on `start-dag-maintenance` when a database of the member has exactly two copies.
    public var overrideTwoCopies: Bool? {
        if case .startDagMaintenance(_, _, true) = detail { return true }
        return nil
    }

    /// What `wait-replication` waits for (the plan format's `what` for that action).
    public var replication: ReplicationScope? {
        if case .waitReplication(let scope) = detail { return scope }
        return nil
    }

    /// The .NET Framework `install-dotnet` installs.
    public var dotnet: DotNetFramework? {
        if case .installDotNet(_, let version) = detail { return version }
        return nil
    }

    /// The Edge server `check-edge-sync` tests.
    public var edge: HostName? {
        if case .checkEdgeSync(_, let edge) = detail { return edge }
        return nil
    }

    /// Where `redirect-messages` hands the queued mail (the plan format's `to`).
    public var redirectTo: HostName? {
        if case .redirectMessages(_, let to) = detail { return to }
        return nil
    }

    /// Whether the step acts on a host and so takes one of a run's slots (`--parallel`): a
    /// gate or a milestone takes no time and passes as soon as it is ready.
    public var takesSlot: Bool { Self.takesSlot(action) }

    /// Whether a step of `action` takes a slot.
    public static func takesSlot(_ action: Action) -> Bool { action != .approve && action != .milestone }

    /// "install exchange-2003-sp2 on NODE2", "move-group EVS1 NODE2 → NODE1": a short label for
    /// progress lines and pictures.
    public var summary: String {
        var parts = [action.rawValue]
        if let gate { parts.append(gate) }
        if let name { parts.append(name) }
        if let component { parts.append(component.rawValue) }
        if let package { parts.append(package.spelling) }
        if let group { parts.append(group.spelling) }
        if let what { parts.append("(\(what.map(\.rawValue).joined(separator: ", ")))") }
        if let replication { parts.append(replication.rawValue) }
        if let dag { parts.append("DAG \(dag)") }
        if let domains { parts.append(domains.joined(separator: ", ")) }
        if let files { parts.append(files.joined(separator: ", ")) }
        if let dotnet { parts.append(".NET Framework \(dotnet.rawValue)") }
        if let edge { parts.append("for \(edge)") }
        if let host { parts.append(action == .moveGroup ? host.spelling : "on \(host)") }
        if let to { parts.append("→ \(to)") }
        if let pool { parts.append("pool \(pool)") }
        if let expect { parts.append("expect \(expect)") }
        if overrideTwoCopies == true { parts.append("(two-copy override)") }
        if case .settle(_, let seconds) = detail { parts.append("for \(seconds / 60) min\(seconds % 60 == 0 ? "" : " \(seconds % 60) s")") }
        return parts.joined(separator: " ")
    }
}

/// The plan format's members of a step (docs/plan.md), described once: `forEachMember` names
/// each member a step has, in the order of its key, and both the plan's JSON writer and
/// `Codable` (the journal's copy of a step, `JSONRenderer.renderWithFoundation`) write what it
/// names. Reading a step back goes through `StepDetail`, which checks that its action has
/// what it needs.
extension Step {
    /// A member's key; cases in the sorted order the plan's JSON writes them.
    public enum Field: String, CodingKey, CaseIterable, Sendable {
        case action, after, component, dag, domains, dotnet, edge, expect, files, gate, group, host, id, keep, name
        case overrideTwoCopies = "override-two-copies"
        case package, phase, pool, rules, seconds, to, what, when, why
    }

    /// A member's value as the plan format writes it: text, a list of text, or a flag. The
    /// lists are the step's own (no copy is made to describe them).
    public enum Member {
        case text(String)
        case steps([StepID])
        case rules([Rule.ID])
        case texts([String])
        case backups([BackupItem])
        case resources([ResourceType])
        case flag(Bool)
        case number(Int)
    }

    /// Every member the step has, in the order of its key (`Field`'s order).
    @inlinable
    public func forEachMember(_ body: (Field, Member) throws -> Void) rethrows {
        try body(.action, .text(action.rawValue))
        try body(.after, .steps(after))
        if let component { try body(.component, .text(component.rawValue)) }
        if let dag { try body(.dag, .text(dag.spelling)) }
        if let domains { try body(.domains, .texts(domains)) }
        if let dotnet { try body(.dotnet, .text(dotnet.rawValue)) }
        if let edge { try body(.edge, .text(edge.spelling)) }
        if let expect { try body(.expect, .text(expect)) }
        if let files { try body(.files, .texts(files)) }
        if let gate { try body(.gate, .text(gate)) }
        if let group { try body(.group, .text(group.spelling)) }
        if let host { try body(.host, .text(host.spelling)) }
        try body(.id, .text(id.rawValue))
        if let keep { try body(.keep, .resources(keep)) }
        if let name { try body(.name, .text(name)) }
        if overrideTwoCopies == true { try body(.overrideTwoCopies, .flag(true)) }
        if let package { try body(.package, .text(package.spelling)) }
        try body(.phase, .text(phase))
        if let pool { try body(.pool, .text(pool)) }
        try body(.rules, .rules(rules))
        if case .settle(_, let seconds) = detail { try body(.seconds, .number(seconds)) }
        if let to { try body(.to, .text(to.spelling)) }
        if let what { try body(.what, .backups(what)) }
        if let replication { try body(.what, .text(replication.rawValue)) }
        if let when { try body(.when, .text(when.rawValue)) }
        try body(.why, .text(why))
    }
}

extension Step: Codable {
    typealias CodingKeys = Field

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func optional<Value: Decodable>(_ type: Value.Type, _ key: CodingKeys) throws -> Value? {
            try container.decodeIfPresent(type, forKey: key)
        }
        let action = try container.decode(Action.self, forKey: .action)
        guard
            let detail = StepDetail(
                action, host: try optional(HostName.self, .host), group: try optional(HostName.self, .group),
                to: try optional(HostName.self, .to), package: try optional(PackageID.self, .package),
                what: action == .backup ? try optional([BackupItem].self, .what) : nil,
                gate: try optional(String.self, .gate),
                pool: try optional(String.self, .pool), component: try optional(Component.self, .component),
                keep: try optional([ResourceType].self, .keep), when: try optional(RestartPolicy.self, .when),
                expect: try optional(String.self, .expect), name: try optional(String.self, .name),
                dag: try optional(HostName.self, .dag), domains: try optional([String].self, .domains),
                files: try optional([String].self, .files),
                overrideTwoCopies: try optional(Bool.self, .overrideTwoCopies),
                replication: action == .waitReplication ? try optional(ReplicationScope.self, .what) : nil,
                dotnet: try optional(DotNetFramework.self, .dotnet), edge: try optional(HostName.self, .edge),
                seconds: try optional(Int.self, .seconds))
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .action, in: container,
                debugDescription: "a \(action.rawValue) step lacks a field its action needs (docs/plan.md)")
        }
        self.init(
            detail, rules: try container.decode([Rule.ID].self, forKey: .rules),
            why: try container.decode(String.self, forKey: .why))
        id = try container.decode(StepID.self, forKey: .id)
        after = try container.decode([StepID].self, forKey: .after)
        phase = try container.decode(String.self, forKey: .phase)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Field.self)
        try forEachMember { field, member in
            switch member {
            case .text(let text): try container.encode(text, forKey: field)
            case .steps(let steps): try container.encode(steps, forKey: field)
            case .rules(let rules): try container.encode(rules, forKey: field)
            case .texts(let texts): try container.encode(texts, forKey: field)
            case .backups(let items): try container.encode(items, forKey: field)
            case .resources(let types): try container.encode(types, forKey: field)
            case .flag(let flag): try container.encode(flag, forKey: field)
            case .number(let number): try container.encode(number, forKey: field)
            }
        }
    }
}
