import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonRemote
import BatonStore
import Foundation
import Synchronization

/// Approving, aborting and reading runs.
extension RunService {
    // MARK: Approving and aborting

    /// Records an approval of `gate`. Refused for a finished run, an unknown gate, or a gate
    /// approved already (the first approver stays).
    @discardableResult
    public func approve(_ id: RunID, gate: String, by: String, how: ApprovalMethod) async throws(RunServiceError)
        -> ApprovalRecord
    {
        let record = try await existing(id)
        guard !record.state.isFinished else { throw .finished(id, record.state) }
        let gates = try await wrap { try await journal.plan(of: id)?.steps.compactMap(\.gate) ?? [] }
        guard gates.contains(gate) else { throw .noGate(run: id, gate: gate, gates: gates) }
        let approval = ApprovalRecord(
            gate: gate, by: by, how: how, user: Self.systemUser, at: Date().timeIntervalSince1970)
        do {
            try await journal.approve(run: id, approval)
        } catch {
            throw RunServiceError(error)
        }
        return approval
    }

    /// What `abort` did.
    public enum AbortOutcome: Sendable {
        /// The run's live owner stops scheduling and brings any virtual server caught offline back.
        case requested(owner: Lease)
        /// Nobody drove the run: this process brought its virtual servers back online, if any
        /// were offline, and recorded it aborted.
        case aborted
    }

    /// Aborts a run: no new step starts. A live owner sees it and finishes; a run nobody
    /// drives is taken by this process just long enough to bring every virtual server caught
    /// offline back online. Refused for a finished run.
    public func abort(_ id: RunID, by: String, speed: LabSpeed = .instant) async throws(RunServiceError)
        -> AbortOutcome
    {
        let record = try await existing(id)
        guard !record.state.isFinished else { throw .finished(id, record.state) }
        let now = Date().timeIntervalSince1970
        if let lease = try await wrap({ try await journal.lease(of: id) }), lease.isLive(at: now) {
            let previous = try await wrap { try await journal.requestAbort(run: id) }
            if let previous, previous.isFinished { throw .finished(id, previous) }
            try await wrap { try await journal.audit(run: id, action: "aborted", by: by) }
            return .requested(owner: lease)
        }
        let run = try await take(id, by: by, action: "aborted") { run in
            try await run.journal.setState(run: id, .aborted, reason: "aborted by \(by)")
        }
        _ = try await drive(run, speed: speed, options: EngineOptions(parallel: 4), approvedBy: by)
        return .aborted
    }

    // MARK: Reading

    /// A run with the state a person should see: `interrupted` for one the journal says is
    /// running whose owner is gone.
    public struct Status: Sendable {
        public var record: RunRecord
        /// The owner's lease as last written, live or not.
        public var lease: Lease?
        public var target: RunTarget

        public var state: RunState { record.state }
    }

    public func status(_ id: RunID) async throws(RunServiceError) -> Status {
        var record = try await existing(id)
        let lease = try await wrap { try await journal.lease(of: id) }
        record.state = Self.effectiveState(record.state, lease: lease)
        return Status(record: record, lease: lease, target: try await target(of: id))
    }

    /// When a running run should end (`ExpectedEnd`), from its journal: the steps succeeded,
    /// the real durations of those whose start and end it recorded, the steps running now, and
    /// the engine's order on `parallel` slots; nil when it is not running or no step that takes
    /// time has finished yet.
    public func expectedEnd(of id: RunID, parallel: Int = 4, now: Date = Date()) async throws(RunServiceError)
        -> Date?
    {
        try await wrap {
            guard try await journal.state(of: id) == .running, let plan = try await journal.plan(of: id) else {
                return nil
            }
            var started: [StepID: Double] = [:]
            var actual: [StepID: Double] = [:]
            var done = Set<StepID>()
            for transition in try await journal.transitions(run: id) {
                guard let step = transition.step else { continue }
                switch transition.state {
                case StepState.running.rawValue: started[step] = transition.at
                case StepState.succeeded.rawValue:
                    done.insert(step)
                    if let since = started.removeValue(forKey: step) { actual[step] = transition.at - since }
                default: started[step] = nil
                }
            }
            let clock = ExpectedEnd(plan: plan, parallel: parallel)
            guard let pace = clock.pace(actual: actual) else { return nil }
            let running = started.mapValues { now.timeIntervalSince1970 - $0 }
            return now.addingTimeInterval(clock.remaining(done: done, running: running, pace: pace))
        }
    }

    /// A running run waiting for a maintenance window: until when, and why; nil otherwise.
    public func waitingForWindow(_ id: RunID) async throws(RunServiceError) -> String? {
        try await wrap {
            guard try await journal.state(of: id) == .running else { return nil }
            let last = try await journal.transitions(run: id).last { $0.step == nil }
            guard let message = last?.message, message.hasPrefix(Engine.waitingForWindow) else { return nil }
            return message
        }
    }

    /// What run `id` has left out of service now (`outOfService(plan:steps:)`), and on the lab
    /// twin also each database without a mounted copy its users can reach.
    public func outOfService(_ id: RunID) async throws(RunServiceError) -> [String] {
        try await wrap {
            guard let plan = try await journal.plan(of: id) else { return [] }
            var lines = Self.outOfService(plan: plan, steps: try await journal.steps(of: id))
            let record = try await journal.run(id)
            if try await journal.target(of: id) == .lab, let record {
                let store = store.named(record.twin ?? .standard)
                if try await store.exists(), let modern = try await store.load().modern {
                    for database in modern.databases.values.sorted(by: { $0.name < $1.name }) {
                        let reachable =
                            database.mounted.map { modern.servers[$0].map { !$0.offline } ?? true } ?? false
                        if !reachable {
                            lines.append(
                                "database \(database.name) has no mounted copy its users can reach"
                                    + (database.mounted.map { " (mounted on \($0), which is offline)" } ?? ""))
                        }
                    }
                }
            }
            return lines
        }
    }

    public func statuses() async throws(RunServiceError) -> [Status] {
        try await wrap {
            var statuses: [Status] = []
            for var record in try await journal.runs() {
                let lease = try await journal.lease(of: record.id)
                record.state = Self.effectiveState(record.state, lease: lease)
                let target = try await journal.target(of: record.id)
                statuses.append(Status(record: record, lease: lease, target: target))
            }
            return statuses
        }
    }

    static func effectiveState(_ stored: RunState, lease: Lease?) -> RunState {
        guard stored == .running else { return stored }
        return lease?.isLive(at: Date().timeIntervalSince1970) == true ? .running : .interrupted
    }

    /// The run's report. A finished run's is the one kept when it ended, the same however
    /// often it is asked for; an unfinished run's (or one finished before reports were kept)
    /// is made from the journal and, on the lab twin, the twin now.
    public func report(_ id: RunID) async throws(RunServiceError) -> RunReport {
        let status = try await status(id)
        do {
            if status.state.isFinished, let kept = try await journal.keptReport(of: id) {
                return try JSONDecoder().decode(RunReport.self, from: Data(kept.utf8))
            }
            let twin = status.target == .hosts ? nil : try await store.named(status.record.twin ?? .standard).load()
            return try await makeReport(id, record: status.record, twin: twin)
        } catch let error as RunServiceError {
            throw error
        } catch {
            throw RunServiceError(error)
        }
    }

    /// The report of `id` from what the journal recorded of it and the twin it acted on (nil
    /// for real hosts).
    func makeReport(_ id: RunID, record: RunRecord, twin: LabTwin?) async throws -> RunReport {
        guard let plan = try await journal.plan(of: id) else { throw RunServiceError.notFound(id) }
        return RunReport(
            record: record, plan: plan, steps: try await journal.steps(of: id),
            transitions: try await journal.transitions(run: id),
            approvals: try await journal.approvalRecords(of: id),
            audit: try await journal.auditRecords(of: id).map { ($0.action, $0.by, $0.at) },
            twin: twin)
    }

    /// Keeps the report of a run that just finished, made from the twin as the run left it.
    func keepReport(_ id: RunID, twin: LabTwin?) async throws {
        guard let record = try await journal.run(id) else { return }
        let report = try await makeReport(id, record: record, twin: twin)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try await journal.keepReport(run: id, String(decoding: try encoder.encode(report), as: UTF8.self))
    }
}
