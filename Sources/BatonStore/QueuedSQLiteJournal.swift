import BatonEngine
import BatonModel
import BatonPlan
import Dispatch

/// The SQLite journal as the command line, the server and the engine use it
/// (`JournalLocation.open`): every call runs on the journal's own thread, never on the
/// cooperative threads that serve HTTP requests and drive runs. A commit's fsync
/// (`PRAGMA synchronous = FULL`) and a wait for another process's write lock happen there, so
/// a flood of planning requests cannot delay a run's lease heartbeat behind them, nor a slow
/// disk stall the server. A caller whose task is cancelled still waits for the write it
/// started: a step's result is recorded whole or not at all, as before.
///
/// `SQLiteJournal` itself stays synchronous, for tests and tools that want it so.
public struct QueuedSQLiteJournal: Journal {
    public let base: SQLiteJournal
    /// One per file, shared by its fenced copies: SQLite serialises the writes anyway.
    let queue: DispatchQueue

    public init(_ base: SQLiteJournal) {
        self.init(base, queue: DispatchQueue(label: "baton.journal"))
    }

    init(_ base: SQLiteJournal, queue: DispatchQueue) {
        self.base = base
        self.queue = queue
    }

    /// Runs `work` on the journal's thread and waits for it without holding a cooperative one.
    func onQueue<T: Sendable>(_ work: @escaping @Sendable (SQLiteJournal) throws -> T) async throws -> T {
        let base = self.base
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try work(base) }) }
        }
    }

    public var location: String { base.location }

    // MARK: RunProgress

    public func run(_ id: RunID) async throws -> RunRecord? { try await onQueue { try $0.run(id) } }
    public func state(of run: RunID) async throws -> RunState? { try await onQueue { try $0.state(of: run) } }
    public func plan(of run: RunID) async throws -> Plan? { try await onQueue { try $0.plan(of: run) } }
    public func steps(of run: RunID) async throws -> [StepRecord] { try await onQueue { try $0.steps(of: run) } }
    public func unfinishedPart(of run: RunID) async throws -> UnfinishedPart? {
        try await onQueue { try $0.unfinishedPart(of: run) }
    }
    public func approvals(of run: RunID) async throws -> [String] { try await onQueue { try $0.approvals(of: run) } }
    public func begin(run: RunID, step: StepID) async throws { try await onQueue { try $0.begin(run: run, step: step) } }
    public func finish(run: RunID, step: StepID, state: StepState, message: String) async throws {
        try await onQueue { try $0.finish(run: run, step: step, state: state, message: message) }
    }
    public func record(run: RunID, _ changes: [StepChange]) async throws {
        try await onQueue { try $0.record(run: run, changes) }
    }
    public func setState(run: RunID, _ state: RunState, reason: String) async throws {
        try await onQueue { try $0.setState(run: run, state, reason: reason) }
    }
    public func recordOutput(run: RunID, step: StepID, output: String) async throws {
        try await onQueue { try $0.recordOutput(run: run, step: step, output: output) }
    }
    public func note(run: RunID, _ message: String) async throws { try await onQueue { try $0.note(run: run, message) } }

    // MARK: RunCatalogue

    public func createRun(_ run: RunRecord, plan: Plan) async throws {
        try await onQueue { try $0.createRun(run, plan: plan) }
    }
    public func createOwnedRun(
        _ record: RunRecord, id: RunID?, plan: Plan, owner: LeaseOwner, expiry: Double, claims: [Claim],
        target: RunTarget, inventoryText: String?
    ) async throws -> Lease {
        try await onQueue {
            try $0.createOwnedRun(
                record, id: id, plan: plan, owner: owner, expiry: expiry, claims: claims, target: target,
                inventoryText: inventoryText)
        }
    }
    public func runs() async throws -> [RunRecord] { try await onQueue { try $0.runs() } }
    public func target(of run: RunID) async throws -> RunTarget { try await onQueue { try $0.target(of: run) } }
    public func inventoryText(of run: RunID) async throws -> String? {
        try await onQueue { try $0.inventoryText(of: run) }
    }
    public func setReleaseNotes(run: RunID, link: String) async throws {
        try await onQueue { try $0.setReleaseNotes(run: run, link: link) }
    }
    public func releaseNotes(of run: RunID) async throws -> String? { try await onQueue { try $0.releaseNotes(of: run) } }
    public func keepReport(run: RunID, _ json: String) async throws {
        try await onQueue { try $0.keepReport(run: run, json) }
    }
    public func keptReport(of run: RunID) async throws -> String? { try await onQueue { try $0.keptReport(of: run) } }
    public func requestAbort(run: RunID) async throws -> RunState? { try await onQueue { try $0.requestAbort(run: run) } }
    public func outputs(of run: RunID) async throws -> [StepID: String] { try await onQueue { try $0.outputs(of: run) } }
    public func transitions(after sequence: Int64, run: RunID?) async throws -> [Transition] {
        try await onQueue { try $0.transitions(after: sequence, run: run) }
    }
    public func markAll(run: RunID, _ state: StepState) async throws { try await onQueue { try $0.markAll(run: run, state) } }

    // MARK: AuditTrail

    public func approve(run: RunID, _ approval: ApprovalRecord) async throws {
        try await onQueue { try $0.approve(run: run, approval) }
    }
    public func approvalRecords(of run: RunID) async throws -> [ApprovalRecord] {
        try await onQueue { try $0.approvalRecords(of: run) }
    }
    public func audit(run: RunID, action: String, by: String) async throws {
        try await onQueue { try $0.audit(run: run, action: action, by: by) }
    }
    public func auditRecords(of run: RunID) async throws -> [AuditRecord] {
        try await onQueue { try $0.auditRecords(of: run) }
    }

    // MARK: TokenStore

    public func addToken(_ token: AccessTokenRecord) async throws { try await onQueue { try $0.addToken(token) } }
    public func token(hash: String) async throws -> AccessTokenRecord? { try await onQueue { try $0.token(hash: hash) } }
    public func tokens() async throws -> [AccessTokenRecord] { try await onQueue { try $0.tokens() } }
    public func touchToken(hash: String) async throws { try await onQueue { try $0.touchToken(hash: hash) } }
    public func revokeToken(name: String) async throws -> Bool { try await onQueue { try $0.revokeToken(name: name) } }

    // MARK: Ownership

    public func lease(of run: RunID) async throws -> Lease? { try await onQueue { try $0.lease(of: run) } }
    public func acquire(run: RunID, owner: LeaseOwner, expiry: Double, claims: [Claim]) async throws -> Lease {
        try await onQueue { try $0.acquire(run: run, owner: owner, expiry: expiry, claims: claims) }
    }
    public func liveClaim(_ resource: String) async throws -> Lease? { try await onQueue { try $0.liveClaim(resource) } }
    public func renew(_ lease: Lease) async throws -> Lease { try await onQueue { try $0.renew(lease) } }
    public func release(_ lease: Lease) async throws { try await onQueue { try $0.release(lease) } }
    public func fenced(by lease: Lease) -> any Journal { Self(base.fencedJournal(by: lease), queue: queue) }
    public func confirmLease() async throws { try await onQueue { try $0.confirmLease() } }

    // MARK: DeliveryLedger

    public func addReceivers(run: RunID, _ receivers: [(name: String, settings: String)]) async throws {
        let receivers = receivers.map { ReceiverRow(name: $0.name, settings: $0.settings) }
        try await onQueue { try $0.addReceivers(run: run, receivers.map { ($0.name, $0.settings) }) }
    }
    public func takeDeliveries(holder: LeaseOwner, until: Double, run: RunID?) async throws -> [DeliveryRecord] {
        try await onQueue { try $0.takeDeliveries(holder: holder, until: until, run: run) }
    }
    public func delivered(run: RunID, receiver: String, through sequence: Int64) async throws {
        try await onQueue { try $0.delivered(run: run, receiver: receiver, through: sequence) }
    }
    public func deliveryFailed(run: RunID, receiver: String, attempts: Int, nextTry: Double, error: String) async throws {
        try await onQueue {
            try $0.deliveryFailed(run: run, receiver: receiver, attempts: attempts, nextTry: nextTry, error: error)
        }
    }
    public func deliveries(of run: RunID) async throws -> [DeliveryRecord] {
        try await onQueue { try $0.deliveries(of: run) }
    }
}

/// A receiver to add, carried to the journal's thread.
struct ReceiverRow: Sendable {
    var name: String
    var settings: String
}
