import BatonEngine
import BatonLab
import BatonModel
import BatonPlan
import BatonRuns
import BatonStore
import Foundation

/// A run in a list: `GET /api/runs`.
struct RunSummary: Encodable, Sendable {
    var run: RunID
    var state: String
    var organization: String
    var package: String
    var created: String
    /// Whether this server is carrying the run out now.
    var active: Bool
    /// `lab` (the lab twin) or `hosts` (the inventory's real hosts).
    var target: String
    /// The lab twin, when not the default one.
    var twin: TwinName?
    /// The process driving the run, or last driving it.
    var owner: OwnerView?
    /// Steps by state.
    var steps: [String: Int]

    init(_ status: RunService.Status, steps: [StepRecord], active: Bool) {
        let record = status.record
        run = record.id
        state = record.state.rawValue
        target = status.target.rawValue
        twin = record.twin
        owner = status.lease.map(OwnerView.init)
        organization = record.organization
        package = record.package.spelling
        created = Self.time(record.created)
        self.active = active
        self.steps = Dictionary(grouping: steps, by: \.state.rawValue).mapValues(\.count)
    }

    static func time(_ seconds: Double) -> String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: seconds))
    }
}

/// Who drives a run: the process holding its lease.
struct OwnerView: Encodable, Sendable {
    var host: String
    var pid: Int32
    var epoch: Int64
    var since, heartbeat: String
    var live: Bool

    init(_ lease: Lease) {
        host = lease.owner.host
        pid = lease.owner.pid
        epoch = lease.epoch
        since = RunSummary.time(lease.acquired)
        heartbeat = RunSummary.time(lease.heartbeat)
        live = lease.isLive(at: Date().timeIntervalSince1970)
    }
}

/// One run with every step: `GET /api/runs/{id}`. Keeps the fields of
/// `baton status RUN --format json` (`run`, `state`, `steps[].id/action/state/attempts`) and
/// adds what the dashboard shows.
struct RunDetail: Encodable, Sendable {
    struct StepView: Encodable, Sendable {
        var id: StepID
        var action, state: String
        var attempts: Int
        var message, phase, summary, why: String
        var rules: [String]
        var after: [StepID]
        var host, group: HostName?
        var gate: String?
        /// When its last attempt started and ended (the dashboard's timeline).
        var started, ended: String?
    }

    struct GateView: Encodable, Sendable {
        var gate: String
        var step: StepID
        /// `waiting` (everything before it is done), `approved`, or `pending`.
        var state: String
        var why: String
        var releaseNotes: String?
        var by, how, at: String?
    }

    var run: RunID
    var state, organization, package, headline, created, target: String
    var twin: TwinName?
    var owner: OwnerView?
    var active: Bool
    var phases: [String]
    var steps: [StepView]
    var gates: [GateView]
    var estimate: Estimate?
    var warnings: [Plan.Warning]
    /// A running run's expected end (`ExpectedEnd`, from the steps' real durations so far) and
    /// the seconds to it.
    var expectedEnd: String?
    var remainingSeconds: Int?

    init(
        status: RunService.Status, plan: Plan, steps: [StepRecord], approvals: [ApprovalRecord],
        releaseNotes: String?, active: Bool, expectedEnd: Date? = nil, spans: [StepID: StepSpan] = [:]
    ) {
        self.expectedEnd = expectedEnd.map { RunSummary.time($0.timeIntervalSince1970) }
        remainingSeconds = expectedEnd.map { max(0, Int($0.timeIntervalSinceNow.rounded(.up))) }
        let record = status.record
        target = status.target.rawValue
        twin = record.twin
        owner = status.lease.map(OwnerView.init)
        run = record.id
        state = record.state.rawValue
        organization = record.organization
        package = record.package.spelling
        headline = plan.headline
        created = RunSummary.time(record.created)
        self.active = active
        estimate = plan.estimate
        warnings = plan.warnings
        let records = Dictionary(uniqueKeysWithValues: steps.map { ($0.id, $0) })
        var phases: [String] = []
        for step in plan.steps where !phases.contains(step.phase) { phases.append(step.phase) }
        self.phases = phases
        self.steps = plan.steps.map { step in
            let record = records[step.id]
            return StepView(
                id: step.id, action: step.action.rawValue, state: record?.state.rawValue ?? "pending",
                attempts: record?.attempts ?? 0, message: record?.message ?? "", phase: step.phase,
                summary: step.summary, why: step.why, rules: step.rules.map(\.rawValue), after: step.after,
                host: step.host, group: step.group, gate: step.gate,
                started: spans[step.id].map { RunSummary.time($0.started) },
                ended: spans[step.id]?.ended.map(RunSummary.time))
        }
        gates = RunService.gates(of: plan, steps: steps, approvals: approvals).map { gate in
            GateView(
                gate: gate.gate, step: gate.step, state: gate.state.rawValue, why: gate.why, releaseNotes: releaseNotes,
                by: gate.approval?.by, how: gate.approval?.how.rawValue, at: gate.approval.map { RunSummary.time($0.at) })
        }
    }
}

extension RunCoordinator {
    func summaries() async throws -> [RunSummary] {
        do {
            var summaries: [RunSummary] = []
            for status in try await service.statuses() {
                summaries.append(
                    RunSummary(
                        status, steps: try await journal.steps(of: status.record.id),
                        active: isActive(status.record.id)))
            }
            return summaries
        } catch let error as RunServiceError {
            throw APIError(error)
        }
    }

    func detail(_ id: RunID) async throws -> RunDetail {
        let status: RunService.Status
        do { status = try await service.status(id) } catch { throw APIError(error) }
        guard let plan = try await journal.plan(of: id) else { throw APIError(.notFound, "no run '\(id)'") }
        return RunDetail(
            status: status, plan: plan, steps: try await journal.steps(of: id),
            approvals: try await journal.approvalRecords(of: id),
            releaseNotes: try await journal.releaseNotes(of: id), active: isActive(id),
            expectedEnd: status.state == .running ? try? await service.expectedEnd(of: id) : nil,
            spans: StepSpan.spans(try await journal.transitions(run: id)))
    }
}

/// When a step's last attempt started and ended, from the run's transitions.
struct StepSpan {
    var started: Double
    var ended: Double?

    static func spans(_ transitions: [Transition]) -> [StepID: StepSpan] {
        var spans: [StepID: StepSpan] = [:]
        for transition in transitions {
            guard let step = transition.step else { continue }
            if transition.state == StepState.running.rawValue {
                spans[step] = StepSpan(started: transition.at)
            } else if transition.state != StepState.pending.rawValue, spans[step] != nil {
                spans[step]?.ended = transition.at
            }
        }
        return spans
    }
}
