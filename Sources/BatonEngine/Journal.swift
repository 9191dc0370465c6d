import BatonModel
import BatonPlanner
import Foundation

/// The states a step goes through in a run.
public enum StepState: String, Sendable, Codable, CaseIterable {
    case pending
    /// Intent recorded, action under way (or cut short by a crash).
    case running
    case succeeded
    case failed
    /// Never started because a step it waits for failed or the run halted.
    case blocked
}

/// The states of a run.
public enum RunState: String, Sendable, Codable, CaseIterable {
    case running, completed, halted, aborted
    /// Never stored: a run the journal says is `running` whose owner is gone (its lease
    /// expired, or its process ended). `baton resume` continues it.
    case interrupted

    /// Completed or aborted: nothing more may be approved, aborted or resumed.
    public var isFinished: Bool { self == .completed || self == .aborted }
}

/// One run as the journal keeps it.
public struct RunRecord: Sendable, Hashable, Codable {
    public var id: RunID
    public var organization: String
    public var package: String
    public var inventory: String
    public var state: RunState
    public var created: Double
    /// Each machine's build when the run started, for the report's before and after.
    public var before: [String: String]

    public init(
        id: RunID, organization: String, package: String, inventory: String, state: RunState, created: Double,
        before: [String: String] = [:]
    ) {
        self.id = id
        self.organization = organization
        self.package = package
        self.inventory = inventory
        self.state = state
        self.created = created
        self.before = before
    }
}

/// One step of a run as the journal keeps it.
public struct StepRecord: Sendable, Hashable, Codable {
    public var id: StepID
    public var action: String
    public var state: StepState
    public var attempts: Int
    public var message: String

    public init(id: StepID, action: String, state: StepState, attempts: Int, message: String) {
        self.id = id
        self.action = action
        self.state = state
        self.attempts = attempts
        self.message = message
    }
}

/// How a gate was approved, for the audit trail.
public enum ApprovalMethod: String, Sendable, Codable, CaseIterable {
    /// `baton run --yes` or `approveAll` in the API: every gate approved up front.
    case yes = "--yes"
    /// Answered on the terminal when the run started.
    case terminal
    /// `baton approve RUN GATE`.
    case command = "baton approve"
    /// `POST /api/runs/{id}/approvals`.
    case api
}

/// One approval as the journal keeps it: append-only, the first approver stays.
public struct ApprovalRecord: Sendable, Hashable, Codable {
    public var gate: String
    /// The `--by` name or the token's name.
    public var by: String
    public var how: ApprovalMethod
    /// The operating-system user of the process that recorded it.
    public var user: String
    public var at: Double

    public init(gate: String, by: String, how: ApprovalMethod, user: String, at: Double) {
        self.gate = gate
        self.by = by
        self.how = how
        self.user = user
        self.at = at
    }
}

/// Where a run is made durable: intent is written before a step acts and its result after,
/// so that a controller that dies at any instant can resume exactly where it stopped.
public protocol Journal: Sendable {
    func createRun(_ run: RunRecord, plan: Plan) throws
    func run(_ id: RunID) throws -> RunRecord?
    func runs() throws -> [RunRecord]
    func plan(of run: RunID) throws -> Plan?
    func steps(of run: RunID) throws -> [StepRecord]
    /// Records the intent to perform `step` (state `running`, one more attempt).
    func begin(run: RunID, step: StepID) throws
    func finish(run: RunID, step: StepID, state: StepState, message: String) throws
    /// Sets the run's state; `reason` is kept with the transition (why it halted).
    func setState(run: RunID, _ state: RunState, reason: String) throws
    /// Records an approval. Approvals are append-only: a gate approved already throws
    /// `JournalError.alreadyApproved` with the first approval, which stays.
    func approve(run: RunID, _ approval: ApprovalRecord) throws
    func approvals(of run: RunID) throws -> [String]
    /// Who approved which gate, how and when: the audit trail.
    func approvalRecords(of run: RunID) throws -> [ApprovalRecord]
    /// Keeps what a step's action printed (its end), for the operator to read later.
    func recordOutput(run: RunID, step: StepID, output: String) throws
}

extension Journal {
    public func recordOutput(run: RunID, step: StepID, output: String) throws {}

    public func setState(run: RunID, _ state: RunState) throws { try setState(run: run, state, reason: "") }
}

/// What the journal refuses.
public enum JournalError: Error, Sendable, CustomStringConvertible {
    case alreadyApproved(run: RunID, ApprovalRecord)
    /// The file is not a journal Baton can use (damaged, foreign, or newer than this Baton).
    case unusable(path: String, reason: String)

    public var description: String {
        switch self {
        case .alreadyApproved(let run, let first):
            let at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: first.at))
            return "gate \(first.gate) of \(run) was approved already, by \(first.by) (\(first.how.rawValue)) at \(at)"
        case .unusable(let path, let reason):
            return "\(path) is not a journal Baton can use: \(reason)"
        }
    }
}
