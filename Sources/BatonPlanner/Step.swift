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

/// The cluster group's name in `move-group` steps, as opposed to an EVS's name.
public let clusterGroupName = "cluster-group"

/// One step of a plan: an action with its arguments, the steps it waits for, the rules that
/// put it there and a sentence saying why (docs/plan.md).
public struct Step: Sendable, Hashable, Codable, Identifiable {
    public var id: String
    public var action: Action
    public var after: [String]
    public var rules: [Rule.ID]
    public var why: String
    /// Which part of the rollout it belongs to ("prepare", "front-ends", "cluster EXCL1"…),
    /// for people reading the plan. An addition to Baton's formats.
    public var phase: String
    public var host: String?
    public var group: String?
    public var to: String?
    public var package: String?
    public var what: [BackupItem]?
    public var gate: String?
    public var pool: String?
    public var component: Component?
    public var keep: [ResourceType]?
    public var when: RestartPolicy?
    public var expect: String?
    public var name: String?

    public init(
        _ action: Action, host: String? = nil, group: String? = nil, to: String? = nil, package: String? = nil,
        what: [BackupItem]? = nil, gate: String? = nil, pool: String? = nil, component: Component? = nil,
        keep: [ResourceType]? = nil, when: RestartPolicy? = nil, expect: String? = nil, name: String? = nil,
        rules: [Rule.ID], why: String
    ) {
        id = ""
        self.action = action
        after = []
        self.rules = rules
        self.why = why
        phase = ""
        self.host = host
        self.group = group
        self.to = to
        self.package = package
        self.what = what
        self.gate = gate
        self.pool = pool
        self.component = component
        self.keep = keep
        self.when = when
        self.expect = expect
        self.name = name
    }

    /// "install exchange-2003-sp2 on NODE2", "move-group EVS1 NODE2 → NODE1": a short label for
    /// progress lines and pictures.
    public var summary: String {
        var parts = [action.rawValue]
        if let gate { parts.append(gate) }
        if let name { parts.append(name) }
        if let component { parts.append(component.rawValue) }
        if let package { parts.append(package) }
        if let group { parts.append(group) }
        if let what { parts.append("(\(what.map(\.rawValue).joined(separator: ", ")))") }
        if let host { parts.append(action == .moveGroup ? host : "on \(host)") }
        if let to { parts.append("→ \(to)") }
        if let pool { parts.append("pool \(pool)") }
        if let expect { parts.append("expect \(expect)") }
        return parts.joined(separator: " ")
    }
}
