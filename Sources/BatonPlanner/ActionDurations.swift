import BatonPlan
import BatonModel

/// How long each action usually takes, for the plan's estimate. Defaults are an
/// administrator's rule of thumb for the era's hardware; an inventory overrides them under
/// `durations:`.
public struct ActionDurations: Sendable, Hashable {
    public static let defaults: [String: Int] = {
        var table = Dictionary(
            uniqueKeysWithValues: Action.allCases.filter { $0 != .install }.map { ($0.rawValue, seconds(of: $0)) })
        for kind in PackageKind.allCases { table[installKey(kind)] = installSeconds(kind) }
        return table
    }()

    /// An action's default seconds: a switch without `default:`, so that a new action does not
    /// compile without its duration. An install's depends on the package's kind.
    static func seconds(of action: Action) -> Int {
        switch action {
        // A settle step lasts its own seconds (the inventory's settle:).
        case .approve, .milestone, .settle: 0
        case .backup: 45 * 60
        case .quiesce, .resourcesOnline, .stopDagMaintenance: 3 * 60
        case .checkInstallers, .leavePool, .rejoinPool, .stopClusterService, .startClusterService, .resourcesOffline,
            .verifyVersion, .serverOffline, .serverOnline, .checkWitness, .checkPendingReboot, .checkEdgeSync:
            60
        case .moveGroup, .restoreServices, .redirectMessages, .resumeTransport, .checkCopies, .saveConfig,
            .restoreConfig:
            2 * 60
        case .reboot: 8 * 60
        case .upgradeVirtualServer, .performanceOptimizer: 10 * 60
        case .updateComponent, .prepareSchema, .installDotNet: 15 * 60
        case .failoverTest: 6 * 60
        case .prepareAD, .prepareDomains: 10 * 60
        case .waitReplication: 30 * 60
        case .exportSchemaMap, .drainTransport, .startDagMaintenance, .rebalanceDatabases, .healthCheck: 5 * 60
        case .install: installSeconds(.hotfix)
        }
    }

    /// An install's default seconds by the package's kind.
    static func installSeconds(_ kind: PackageKind) -> Int {
        switch kind {
        case .servicePack: 40 * 60
        case .hotfix: 10 * 60
        case .cumulativeUpdate: 90 * 60
        case .securityUpdate: 25 * 60
        }
    }

    /// The duration key of an install of a package of `kind`.
    static func installKey(_ kind: PackageKind) -> String {
        switch kind {
        case .servicePack: "install-service-pack"
        case .hotfix: "install-hotfix"
        case .cumulativeUpdate: "install-cumulative-update"
        case .securityUpdate: "install-security-update"
        }
    }

    let overrides: [String: Int]
    /// Each action's seconds, the overrides applied; an install's by the package's kind.
    private let byAction: [Action: Int]
    private let installs: [PackageKind: Int]

    public init(overrides: [String: Int] = [:]) {
        self.overrides = overrides
        byAction = Dictionary(
            uniqueKeysWithValues: Action.allCases.map {
                ($0, overrides[$0.rawValue] ?? Self.defaults[$0.rawValue] ?? 0)
            })
        installs = Dictionary(
            uniqueKeysWithValues: PackageKind.allCases.map { kind in
                let key = Self.installKey(kind)
                return (kind, overrides[key] ?? overrides["install"] ?? Self.defaults[key]!)
            })
    }

    /// The durations a plan was estimated with: its inventory's own, or the defaults.
    public init(of plan: Plan) {
        self.init(overrides: plan.estimate?.durations ?? [:])
    }

    /// The overrides, when there are any.
    var own: [String: Int]? { overrides.isEmpty ? nil : overrides }

    /// Seconds for `step`. An install's kind decides between the service-pack and hotfix
    /// figures; `install` in the overrides sets both.
    public func seconds(for step: Step, package: Package) -> Int {
        seconds(for: step, kinds: InstallKinds([package.id: package.kind]))
    }

    /// Seconds for each of `steps` (of `plan`), in their order.
    public func seconds(_ steps: [Step], of plan: Plan) -> [Int] {
        let kinds = InstallKinds(plan)
        return steps.map { seconds(for: $0, kinds: kinds) }
    }

    /// Seconds for `step` of a plan installing packages of `kinds`. A gate or a milestone
    /// takes none, whatever `durations:` says: it passes as soon as it is ready.
    public func seconds(for step: Step, kinds: InstallKinds) -> Int {
        let action = step.action
        guard Step.takesSlot(action) else { return 0 }
        switch step.detail {
        case .install(_, let package): return installs[kinds[package]] ?? 0
        case .settle(_, let seconds): return seconds
        default: return byAction[action] ?? 0
        }
    }
}

/// The kind of each package a plan installs, by id; an install of any other package (a
/// prerequisite hotfix) counts as a hotfix.
public struct InstallKinds: Sendable {
    let kinds: [PackageID: PackageKind]

    public init(_ kinds: [PackageID: PackageKind]) {
        self.kinds = kinds
    }

    public init(_ plan: Plan) {
        self.init(Dictionary(plan.installs.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first }))
    }

    public init(_ packages: [Package]) {
        self.init(Dictionary(packages.map { ($0.id, $0.kind) }, uniquingKeysWith: { first, _ in first }))
    }

    subscript(_ id: PackageID) -> PackageKind { kinds[id] ?? .hotfix }
}

extension Plan {
    /// For each step (by position), the longest chain of estimated work from its start to the
    /// plan's end. Starting the ready step with the longest chain first is what keeps a
    /// rollout with limited slots close to its shortest possible length.
    public func remainingWork(durations: ActionDurations = ActionDurations()) -> [Int] {
        Graph(steps).remaining(durations.seconds(steps, of: self))
    }
}
