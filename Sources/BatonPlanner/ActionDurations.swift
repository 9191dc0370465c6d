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
    ]

    let overrides: [String: Int]

    public init(overrides: [String: Int] = [:]) {
        self.overrides = overrides
    }

    /// Seconds for `step`. An install's kind decides between the service-pack and hotfix
    /// figures; `install` in the overrides sets both.
    public func seconds(for step: Step, package: Package) -> Int {
        if step.action == .install {
            let kind = step.package == package.id ? package.kind : .hotfix
            let key = kind == .servicePack ? "install-service-pack" : "install-hotfix"
            return overrides[key] ?? overrides["install"] ?? Self.defaults[key]!
        }
        return overrides[step.action.rawValue] ?? Self.defaults[step.action.rawValue] ?? 0
    }
}
