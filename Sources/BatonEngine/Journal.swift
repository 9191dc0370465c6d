import BatonKnowledge
import BatonModel
import BatonPlan
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
    public var package: PackageID
    public var inventory: String
    public var state: RunState
    public var created: Double
    /// Each machine's build when the run started, for the report's before and after.
    public var before: [String: String]
    /// The lab twin the run acts on, when it is not the default one.
    public var twin: TwinName?

    public init(
        id: RunID, organization: String, package: PackageID, inventory: String, state: RunState, created: Double,
        before: [String: String] = [:], twin: TwinName? = nil
    ) {
        self.twin = twin
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

/// What the engine reads and writes about the run it drives: the run's state and plan, its
/// approvals, and each step's intent, result and output. Fenced: once the lease the journal
/// is fenced by is lost, every write is refused.
public protocol RunProgress: Sendable {
    /// Where it is, for messages: a path, or a PostgreSQL address without its password.
    var location: String { get }
    func run(_ id: RunID) async throws -> RunRecord?
    /// The run's state alone, which the engine reads between steps (the record carries every
    /// machine's build, thousands of them in a large organization).
    func state(of run: RunID) async throws -> RunState?
    func plan(of run: RunID) async throws -> Plan?
    func steps(of run: RunID) async throws -> [StepRecord]
    /// What driving the run needs of its plan (`UnfinishedPart`): for a run resumed near its
    /// end, a small part of a large plan, read without the rest.
    func unfinishedPart(of run: RunID) async throws -> UnfinishedPart?
    func approvals(of run: RunID) async throws -> [String]
    /// Records the intent to perform `step` (state `running`, one more attempt).
    func begin(run: RunID, step: StepID) async throws
    func finish(run: RunID, step: StepID, state: StepState, message: String) async throws
    /// Records several steps' changes in one durable commit (group commit): the intents of the
    /// steps about to start together, or the results of steps that ended together. All or none.
    func record(run: RunID, _ changes: [StepChange]) async throws
    /// Sets the run's state; `reason` is kept with the transition (why it halted).
    func setState(run: RunID, _ state: RunState, reason: String) async throws
    /// Keeps what a step's action printed (its end), for the operator to read later.
    func recordOutput(run: RunID, step: StepID, output: String) async throws
    /// Journals a transition of the run that changes nothing (`RunNote`): what it waits for,
    /// that it was taken over. Its state reads `running`.
    func note(run: RunID, _ message: String) async throws
}

/// The runs a journal keeps, as the run service, the command line and the server list, start
/// and read them.
public protocol RunCatalogue: RunProgress {
    /// Records a run with no owner (tests and benchmarks; `createOwnedRun` is what runs use).
    func createRun(_ run: RunRecord, plan: Plan) async throws
    /// Records a new run, its lease and its claims in one transaction: two processes starting
    /// runs together never both act. `id` nil takes the next free name (run-1, run-2, …,
    /// `OwnershipDecision.nextRunName`). Throws `RunExists` for a name taken, `OwnershipError`
    /// for a claim held by a live run.
    func createOwnedRun(
        _ record: RunRecord, id: RunID?, plan: Plan, owner: LeaseOwner, expiry: Double, claims: [Claim],
        target: RunTarget, inventoryText: String?
    ) async throws -> Lease
    func runs() async throws -> [RunRecord]
    /// Where the run acts. A value this version does not know is an error, never the lab.
    func target(of run: RunID) async throws -> RunTarget
    /// The inventory's text when the run was started with it inline.
    func inventoryText(of run: RunID) async throws -> String?
    /// Where the approvers of a run read the package's release notes (rule `release-notes`).
    func setReleaseNotes(run: RunID, link: String) async throws
    func releaseNotes(of run: RunID) async throws -> String?
    /// Keeps a finished run's report (its JSON) as it was when the run ended: the change
    /// record, which later runs on the same twin or hosts must not change.
    func keepReport(run: RunID, _ json: String) async throws
    /// The report kept when the run ended; nil for a run not finished (or finished before
    /// reports were kept).
    func keptReport(of run: RunID) async throws -> String?
    /// Marks a run aborted unless it is finished already, in one transaction with the check;
    /// returns the state it had (nil: no such run).
    func requestAbort(run: RunID) async throws -> RunState?
    /// What each step's action printed last, by step id.
    func outputs(of run: RunID) async throws -> [StepID: String]
    /// Every run's transitions, oldest first (`after` skips those already seen): what the
    /// server streams as events and turns into metrics.
    func transitions(after sequence: Int64, run: RunID?) async throws -> [Transition]
    /// Sets every step of a run to `state` in one transaction (benchmarks and tests).
    func markAll(run: RunID, _ state: StepState) async throws
}

/// Who approved which gate, and every other action on a run: append-only.
public protocol AuditTrail: Sendable {
    /// Records an approval. Approvals are append-only: a gate approved already throws
    /// `JournalError.alreadyApproved` with the first approval, which stays.
    func approve(run: RunID, _ approval: ApprovalRecord) async throws
    /// Who approved which gate, how and when: the audit trail.
    func approvalRecords(of run: RunID) async throws -> [ApprovalRecord]
    func audit(run: RunID, action: String, by: String) async throws
    func auditRecords(of run: RunID) async throws -> [AuditRecord]
}

/// The server's access tokens, kept as their SHA-256 only.
public protocol TokenStore: Sendable {
    /// Fails when the name is taken.
    func addToken(_ token: AccessTokenRecord) async throws
    func token(hash: String) async throws -> AccessTokenRecord?
    func tokens() async throws -> [AccessTokenRecord]
    /// Notes that the token was accepted now (to the minute).
    func touchToken(hash: String) async throws
    func revokeToken(name: String) async throws -> Bool
}

/// Leases, fencing and claims: one owner per run, one run per target. Both backends decide
/// with `OwnershipDecision` inside their own transactions.
public protocol Ownership: Sendable {
    /// The run's lease as last written, live or not; nil for a run never driven under one.
    func lease(of run: RunID) async throws -> Lease?
    /// Takes the lease of `run` for `owner` (epoch one more than before) and claims `claims`,
    /// in one transaction. Throws `OwnershipError` when another live owner holds the run or
    /// another live run holds a claim; nothing changes then.
    func acquire(run: RunID, owner: LeaseOwner, expiry: Double, claims: [Claim]) async throws -> Lease
    /// The lease of the live run holding `resource`, if one does.
    func liveClaim(_ resource: String) async throws -> Lease?
    /// Renews the heartbeat; throws `OwnershipError.leaseLost` when the lease was taken over.
    func renew(_ lease: Lease) async throws -> Lease
    /// Gives the run up: its lease and claims are free at once for whoever comes next.
    func release(_ lease: Lease) async throws
    /// This journal, with every write for `lease.run` checked against the lease.
    func fenced(by lease: Lease) -> any Journal
    /// Throws `OwnershipError.leaseLost` unless this journal's lease is still the run's: what
    /// an owner asks right before it acts.
    func confirmLease() async throws
}

/// Where a run is made durable: intent is written before a step acts and its result after,
/// so that a controller that dies at any instant can resume exactly where it stopped.
///
/// A backend keeps every role: the engine's `RunProgress`, the `RunCatalogue`, the
/// `AuditTrail`, the `TokenStore`, `Ownership` and the `DeliveryLedger`; each user depends on
/// the role it uses.
/// Two backends implement them: `SQLiteJournal` (a file in the state directory) and
/// `PostgresJournal` (a database server a team shares); one conformance suite runs unchanged
/// against both.
public protocol Journal: RunCatalogue, AuditTrail, TokenStore, Ownership, DeliveryLedger {}

public struct UnfinishedPart: Sendable {
    public var plan: Plan
    public var state: [StepID: StepState]

    /// The actions whose steps are kept whatever their state.
    public static let alwaysKept: [Action] = [.resourcesOffline, .resourcesOnline]

    public init(plan: Plan, state: [StepID: StepState]) {
        self.plan = plan
        self.state = state
    }

    /// The part read from a journal that keeps each step's JSON beside its state: the plan's
    /// header (`StoredPlan`) and the rows of the steps the part holds, in the plan's order. Nil
    /// when a row has no JSON: a run kept whole by an earlier Baton, read with `init(whole:)`.
    public init?(header: String, rows: [(id: String, state: String, detail: String?)]) throws {
        let details = rows.compactMap(\.detail)
        guard details.count == rows.count else { return nil }
        // The header's own steps are dropped: a run kept whole before, with nothing left to do,
        // has them all there.
        var plan = try StoredPlan.assemble(header: header, steps: [])
        plan.steps = details.isEmpty ? [] : try StoredPlan.decodeSteps(details)
        var state: [StepID: StepState] = [:]
        for row in rows { state[StepID(row.id)] = StepState(rawValue: row.state) ?? .pending }
        self.init(plan: plan, state: state)
    }

    /// The part of a plan kept whole, from every step's record.
    public init(whole plan: Plan, steps: [StepRecord]) {
        var state: [StepID: StepState] = [:]
        for step in steps
        where step.state != .succeeded || Self.alwaysKept.contains(where: { $0.rawValue == step.action }) {
            state[step.id] = step.state
        }
        var part = plan
        part.steps = plan.steps.filter { state[$0.id] != nil }
        self.init(plan: part, state: state)
    }
}

extension RunProgress {
    /// From the whole plan, for a journal that cannot read a part alone.
    public func unfinishedPart(of run: RunID) async throws -> UnfinishedPart? {
        guard let plan = try await plan(of: run) else { return nil }
        return UnfinishedPart(whole: plan, steps: try await steps(of: run))
    }

    public func setState(run: RunID, _ state: RunState) async throws {
        try await setState(run: run, state, reason: "")
    }
}

extension RunCatalogue {
    public func transitions(after sequence: Int64 = 0) async throws -> [Transition] {
        try await transitions(after: sequence, run: nil)
    }

    public func transitions(run: RunID) async throws -> [Transition] {
        try await transitions(after: 0, run: run)
    }
}

/// One step's change, as the engine journals it.
public enum StepChange: Sendable, Hashable {
    /// The intent to perform the step (state `running`, one more attempt).
    case begin(StepID)
    /// Its result, with the rule behind a failure when the target named one.
    case finish(StepID, StepState, message: String, rule: Rule.ID? = nil)
}

/// A journal that announces its changes, so that readers wait instead of polling (PostgreSQL's
/// LISTEN/NOTIFY). With SQLite, one poller per server reads for every stream.
public protocol JournalNotifier: Journal {
    /// Calls `changed` after each committed transition, from any controller, until the
    /// connection is lost (it then returns or throws) or the task is cancelled.
    func followChanges(_ changed: @escaping @Sendable () -> Void) async throws
}

/// A lab twin as kept: its last snapshot (the twin's JSON) and the actions performed on it
/// since, to be performed again on the snapshot when it is read.
public struct StoredTwin: Sendable {
    public var snapshot: Data
    public var actions: [TwinAction]

    public init(snapshot: Data, actions: [TwinAction]) {
        self.snapshot = snapshot
        self.actions = actions
    }
}

/// One action performed on a twin: the step (its JSON), numbered as the twin's history
/// numbers its entries.
public struct TwinAction: Sendable, Hashable {
    public var sequence: Int
    public var step: Data

    public init(sequence: Int, step: Data) {
        self.sequence = sequence
        self.step = step
    }
}

/// Where lab twins are kept: files in the state directory, or a journal a team shares
/// (PostgreSQL), so that controllers on several machines rehearse on one twin. A twin is a
/// snapshot and the actions performed since: an action is one small durable write, and the
/// snapshot is written anew only now and then.
public protocol LabTwinKeeper: Sendable {
    /// Where, for messages: a directory, or a journal's address without its password.
    var location: String { get }
    /// Runs `body` holding the twin's lock: no other controller reads or writes that twin
    /// meanwhile. The reads and writes made inside use the lock's own connection.
    func withLabLock<T: Sendable>(_ twin: TwinName, _ body: @Sendable () async throws -> T) async throws -> T
    /// The twin as kept, or nil when there is none.
    func labTwin(_ twin: TwinName) async throws -> StoredTwin?
    /// Replaces the twin's snapshot and drops the actions kept after the old one, atomically:
    /// the new snapshot holds those numbered up to `covering`, and any later one was performed
    /// on the twin it replaces.
    func saveLabTwin(_ twin: TwinName, snapshot: Data, covering: Int) async throws
    /// Appends actions after the last, durably, in order.
    func appendLabActions(_ twin: TwinName, _ actions: [TwinAction]) async throws
    /// The twins kept, by name.
    func labTwins() async throws -> [TwinName]
}

/// What the journal refuses.
public enum JournalError: Error, Sendable, CustomStringConvertible {
    case alreadyApproved(run: RunID, ApprovalRecord)
    /// The file or database is not a journal Baton can use (damaged, foreign, or newer than
    /// this Baton).
    case unusable(path: String, reason: String)
    /// The journal was written by a newer Baton: refused, never changed.
    case newer(location: String, detail: String)
    /// The journal's server cannot be reached or refused the connection.
    case unreachable(location: String, reason: String)
    /// The journal's server refused a change or a question (a constraint, a permission).
    case failed(location: String, reason: String)
    /// A `--journal` address Baton cannot use.
    case badLocation(String, reason: String)

    public var description: String {
        switch self {
        case .alreadyApproved(let run, let first):
            let at = ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: first.at))
            return "gate \(first.gate) of \(run) was approved already, by \(first.by) (\(first.how.rawValue)) at \(at)"
        case .unusable(let path, let reason):
            return "\(path) is not a journal Baton can use: \(reason)"
        case .newer(let location, let detail):
            return "\(location) was written by a newer Baton (\(detail)); use that version (this one changes nothing)"
        case .unreachable(let location, let reason):
            return "the journal at \(location) cannot be reached: \(reason)"
        case .failed(let location, let reason):
            return "the journal at \(location) refused it: \(reason)"
        case .badLocation(let text, let reason):
            return "'\(text.prefix(200))' is not a journal address Baton can use: \(reason)"
        }
    }
}
