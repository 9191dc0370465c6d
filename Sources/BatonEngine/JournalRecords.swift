import BatonKnowledge
import BatonModel
import Foundation

/// A run of that name is in the journal already.
public struct RunExists: Error, Sendable {
    public var run: RunID

    public init(run: RunID) { self.run = run }
}

/// A machine or the lab twin a run acts on, claimed in the journal so that two live runs never
/// act on the same one.
public struct Claim: Sendable, Hashable {
    /// `lab` for the state directory's twin, `host:NAME` (lower case) for a real host.
    public var resource: String
    /// For a person: "the lab twin of .baton", "host MAIL".
    public var label: String

    public init(resource: String, label: String) {
        self.resource = resource
        self.label = label
    }
}

/// One change of a run or a step, as the journal recorded it.
public struct Transition: Sendable, Hashable, Codable {
    public var sequence: Int64
    public var run: RunID
    /// Nil for a change of the run itself.
    public var step: StepID?
    /// A `StepState` for a step; `created` or a `RunState` for the run.
    public var state: String
    public var at: Double
    public var message: String
    /// The rule behind a step's failure, when the target named one.
    public var rule: Rule.ID?

    public init(
        sequence: Int64, run: RunID, step: StepID?, state: String, at: Double, message: String, rule: Rule.ID? = nil
    ) {
        self.sequence = sequence
        self.run = run
        self.step = step
        self.state = state
        self.at = at
        self.message = message
        self.rule = rule
    }
}

/// Who may do what through `baton serve`.
public enum AccessRole: String, Sendable, Codable, CaseIterable {
    /// Reads and plans.
    case viewer
    /// Starts, resumes and aborts runs.
    case `operator`
    /// Approves gates.
    case approver
    /// An operator who may also hand the server inventories that run commands on the
    /// controller itself (`via: local` hosts, profiles of its own, an ssh_config file).
    /// Made only from the command line, by whoever owns the state directory.
    case admin

    /// Whether this role may make a call that needs `needed`: every role plans and reads; an
    /// admin does what an operator does; approvals stay the approver's alone.
    public func may(_ needed: AccessRole) -> Bool {
        self == needed || needed == .viewer || (self == .admin && needed == .operator)
    }
}

/// An access token as the state store keeps it: never the token itself, only its SHA-256.
public struct AccessTokenRecord: Sendable, Hashable, Codable {
    public var hash: String
    public var name: String
    public var role: AccessRole
    public var created: Double
    /// When it stops being accepted; nil for never.
    public var expires: Double?
    /// When the server last accepted it (to the minute).
    public var lastUsed: Double?

    public init(
        hash: String, name: String, role: AccessRole, created: Double, expires: Double? = nil, lastUsed: Double? = nil
    ) {
        self.hash = hash
        self.name = name
        self.role = role
        self.created = created
        self.expires = expires
        self.lastUsed = lastUsed
    }
}

/// One thing a person did to a run (started, resumed, aborted), for the report's audit trail.
public struct AuditRecord: Sendable, Hashable, Codable {
    public var run: RunID
    public var action: String
    public var by: String
    public var at: Double

    public init(run: RunID, action: String, by: String, at: Double) {
        self.run = run
        self.action = action
        self.by = by
        self.at = at
    }
}

/// Where a run acts.
public enum RunTarget: String, Sendable, Codable {
    /// The lab twin of the state directory: a rehearsal.
    case lab
    /// The real hosts of the inventory's `hosts:` section.
    case hosts

    /// Where a run of `inventory` goes: its real hosts when it has `hosts:` and the caller did
    /// not ask for the lab, else the lab twin.
    public init(_ inventory: Inventory, lab: Bool) {
        self = !inventory.hosts.isEmpty && !lab ? .hosts : .lab
    }

    /// The target a journal read for `run`: none recorded (a run older than the column) is the
    /// lab, as it was then; a value this version does not know is an error, never the lab.
    public static func stored(_ value: String?, run: RunID, location: String) throws(JournalError) -> RunTarget {
        guard let value else { return .lab }
        guard let target = RunTarget(rawValue: value) else {
            throw .unusable(
                path: location,
                reason: "run \(run) acts on '\(value.prefix(40))', which this version of Baton does not know; use the version that started it")
        }
        return target
    }
}
