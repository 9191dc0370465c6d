import BatonModel

/// How long each action usually takes, for the plan's estimate. Defaults are an
/// administrator's rule of thumb for the era's hardware; an inventory overrides them under
/// `durations:`.
public struct ActionDurations: Sendable, Hashable {
    public static let defaults: [String: Int] = [
        "approve": 0, "backup": 45 * 60, "export-schema-map": 5 * 60, "quiesce": 3 * 60, "check-installers": 60,
        "leave-pool": 60, "rejoin-pool": 60, "move-group": 2 * 60, "stop-cluster-service": 60,
        "start-cluster-service": 60, "install-service-pack": 40 * 60, "install-hotfix": 10 * 60, "reboot": 8 * 60,
        "resources-offline": 60, "upgrade-virtual-server": 10 * 60, "resources-online": 3 * 60,
        "update-component": 15 * 60, "performance-optimizer": 10 * 60, "restore-services": 2 * 60,
        "verify-version": 60, "failover-test": 6 * 60, "milestone": 0,
        // Exchange 2013 and later.
        "install-cumulative-update": 90 * 60, "install-security-update": 25 * 60, "prepare-schema": 15 * 60,
        "prepare-ad": 10 * 60, "prepare-domains": 10 * 60, "wait-replication": 30 * 60, "drain-transport": 5 * 60,
        "start-dag-maintenance": 5 * 60, "redirect-messages": 2 * 60, "server-offline": 60, "server-online": 60,
        "stop-dag-maintenance": 3 * 60, "resume-transport": 2 * 60, "check-copies": 2 * 60, "check-witness": 60,
        "check-pending-reboot": 60, "save-config": 2 * 60, "restore-config": 2 * 60, "rebalance-databases": 5 * 60,
        "install-dotnet": 15 * 60, "health-check": 5 * 60, "check-edge-sync": 60,
    ]

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
        seconds(for: step, packageID: package.id, kind: package.kind)
    }

    /// Seconds for each of `steps` (of a plan for `package`), in their order.
    public func seconds(_ steps: [Step], of package: Plan.PackageSummary) -> [Int] {
        steps.map { seconds(for: $0, packageID: package.id, kind: package.kind) }
    }

    /// Seconds for `step` of a plan for the package `packageID` of `kind`. A gate or a
    /// milestone takes none, whatever `durations:` says: it passes as soon as it is ready.
    public func seconds(for step: Step, packageID: String, kind packageKind: PackageKind) -> Int {
        let action = step.action
        guard Step.takesSlot(action) else { return 0 }
        guard case .install(_, let package) = step.detail else { return byAction[action] ?? 0 }
        return installs[package == packageID ? packageKind : .hotfix] ?? 0
    }
}

extension Plan {
    /// For each step (by position), the longest chain of estimated work from its start to the
    /// plan's end. Starting the ready step with the longest chain first is what keeps a
    /// rollout with limited slots close to its shortest possible length.
    public func remainingWork(durations: ActionDurations = ActionDurations()) -> [Int] {
        Graph(steps).remaining(durations.seconds(steps, of: package))
    }
}
