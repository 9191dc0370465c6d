import BatonKnowledge
import BatonModel
import BatonPlan
import Foundation
import Synchronization

/// What the engine reports as a run goes.
public enum EngineEvent: Sendable {
    case started(step: Step, attempt: Int)
    case finished(step: Step, state: StepState, message: String, rule: Rule.ID?)
    /// A step in flight when the controller stopped: whether it had taken effect.
    case recovered(step: Step, tookEffect: Bool)
    /// A step that failed before and had not taken effect: tried again on resume.
    case retrying(step: Step)
    case waitingForApproval(step: Step, gate: String)
    /// Nothing may start before a maintenance window opens at `until`.
    case waitingForWindow(until: Date, why: String)
}

/// How a run goes.
public struct EngineOptions: Sendable {
    /// Steps in flight at once, never more than the plan allows.
    public var parallel: Int
    /// Approve every gate without asking.
    public var approveAll: Bool
    /// Failed hosts tolerated in independent parts before the run halts (as Cluster-Aware
    /// Updating's MaxFailedNodes): 0 halts on the first failure.
    public var maxFailedHosts: Int
    /// Attempts for actions that are safe to repeat.
    public var attempts: Int
    /// Wall-clock limits per action; an action past its limit fails the step (it may still
    /// finish on its own: resume asks the target before doing it again).
    public var timeouts: [Action: Duration]
    public var defaultTimeout: Duration
    /// How often to look for an approval while a gate is all that is left to do. Nil ends the
    /// run at an unapproved gate (the command line: `baton approve`, then `baton resume`); a
    /// server keeps the run alive and waits, so an approval from the dashboard continues it.
    public var approvalPoll: Duration?
    /// Asked between steps: a reason stops scheduling, lets running steps finish and leaves the
    /// run halted, with that reason, for a later resume (a server shutting down gracefully,
    /// Ctrl-C at the terminal, a lease lost).
    public var stopRequested: @Sendable () -> String?
    /// Asked right before each step acts: throws when this controller no longer owns the run,
    /// which ends the run here at once, the step not done.
    public var confirmOwnership: @Sendable () async throws -> Void
    /// Steps that start together, or end together, share one durable commit of the journal
    /// (group commit). Off: one commit per transition, as a benchmark's baseline.
    public var groupCommit = true
    /// Maintenance windows: asked before each step starts; nil, any time.
    public var gate: (any StartGate)?

    public static let standardTimeouts: [Action: Duration] = [
        .install: .seconds(3 * 3600), .backup: .seconds(6 * 3600), .reboot: .seconds(30 * 60),
        .moveGroup: .seconds(15 * 60),
        .failoverTest: .seconds(30 * 60), .upgradeVirtualServer: .seconds(3600),
    ]

    public func timeout(for action: Action) -> Duration { timeouts[action] ?? defaultTimeout }

    public init(
        parallel: Int = 4, approveAll: Bool = false, maxFailedHosts: Int = 0, attempts: Int = 2,
        timeouts: [Action: Duration] = EngineOptions.standardTimeouts, defaultTimeout: Duration = .seconds(3600),
        approvalPoll: Duration? = nil, stopRequested: @escaping @Sendable () -> String? = { nil },
        confirmOwnership: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.approvalPoll = approvalPoll
        self.stopRequested = stopRequested
        self.confirmOwnership = confirmOwnership
        self.timeouts = timeouts
        self.defaultTimeout = defaultTimeout
        self.parallel = max(1, parallel)
        self.approveAll = approveAll
        self.maxFailedHosts = max(0, maxFailedHosts)
        self.attempts = max(1, attempts)
    }

    /// Actions that change nothing when repeated: a failure of one of these may be a passing
    /// fault worth one more try. Installs, moves and restarts are never retried blindly.
    public static let repeatable: Set<Action> = [
        .checkInstallers, .verifyVersion, .quiesce, .restoreServices, .milestone, .exportSchemaMap,
    ]
}

/// Runs a plan against a target: a step starts once every step in its `after` has succeeded,
/// at most `parallel` at once; intent is journaled before a step acts and its result after.
/// A failure blocks everything that depends on it and, by default, halts new work.
public struct Engine: Sendable {
    /// Only what the engine writes and reads about its run (`RunProgress`), fenced by the run's
    /// lease when a run service drives it.
    public let journal: any RunProgress
    public let target: any Target
    public let options: EngineOptions
    public let onEvent: @Sendable (EngineEvent) -> Void

    public init(
        journal: any RunProgress, target: any Target, options: EngineOptions,
        onEvent: @escaping @Sendable (EngineEvent) -> Void
    ) {
        self.journal = journal
        self.target = target
        self.options = options
        self.onEvent = onEvent
    }

    /// Runs (or resumes) `run` to the end or to a halt; returns its final state.
    public func execute(run: RunID) async throws -> RunState {
        // Only what is left to do is read: resuming a large run near its end reads a few steps.
        guard let part = try await journal.unfinishedPart(of: run), let record = try await journal.run(run) else {
            throw EngineError.noRun(run)
        }
        let plan = part.plan
        let byID = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.id, $0) })
        var state = part.state

        // A step in flight when the controller died, or one that failed (perhaps timed out
        // and finished later): ask the target whether it took effect before doing it again.
        for (id, current) in state where current == .running || current == .failed {
            guard let step = byID[id] else { continue }
            let tookEffect = try await target.hasTakenEffect(step, run: run)
            onEvent(
                current == .failed && !tookEffect
                    ? .retrying(step: step) : .recovered(step: step, tookEffect: tookEffect))
            let next: StepState = tookEffect ? .succeeded : .pending
            try await journal.finish(
                run: run, step: id, state: next,
                message: tookEffect
                    ? "took effect before the controller stopped"
                    : current == .failed ? "tried again after it failed" : "redone after the controller stopped")
            state[id] = next
        }
        // An aborted run driven again only brings its virtual servers back online.
        let aborted = record.state == .aborted
        if !aborted { try await journal.setState(run: run, .running) }
        var scheduler = Scheduler(
            plan: plan, state: state, approvals: Set(try await journal.approvals(of: run)),
            settings: .init(
                parallel: options.parallel, approveAll: options.approveAll, maxFailedHosts: options.maxFailedHosts))
        if aborted { scheduler.abort() }

        let ended = EndedSteps()
        try await withThrowingTaskGroup(of: Void.self) { group in
            while true {
                // `baton abort` from another shell: stop scheduling, let running steps finish,
                // but bring back online any virtual server caught between offline and online.
                if !scheduler.aborting, try await journal.state(of: run) == .aborted { scheduler.abort() }
                if !scheduler.halted, let reason = options.stopRequested() { scheduler.stop(reason) }
                // An approval given meanwhile (another shell, the dashboard) opens its gate.
                if !scheduler.gated.isEmpty, !scheduler.halted {
                    scheduler.approvalsChanged(Set(try await journal.approvals(of: run)))
                }
                var starting: [Step] = []
                var held: [Hold] = []
                let gate = options.gate
                let decisions = scheduler.next { step in
                    guard let hold = gate?.hold(step) else { return false }
                    held.append(hold)
                    return true
                }
                for decision in decisions {
                    switch decision {
                    case .waitForApproval(let step, let gate):
                        onEvent(.waitingForApproval(step: step, gate: gate))
                        try await journal.note(run: run, "\(RunNote.waitingForApproval) \(gate) (step \(step.id))")
                    case .start(let step):
                        starting.append(step)
                    }
                }
                for step in starting { gate?.started(step) }
                // The intents of every step starting now, durable before any of them acts.
                try await commit(run: run, starting.map { .begin($0.id) })
                for step in starting {
                    group.addTask { ended.append(try await self.attempt(step, run: run)) }
                }
                if scheduler.inFlight == 0, let gate, let first = held.min(by: { $0.until < $1.until }) {
                    // Nothing under way and the next step waits for a window: wait for it, or
                    // halt when told to (or when no window can ever hold it).
                    if gate.haltsOutside || first.until == .distantFuture {
                        scheduler.stop("outside its maintenance window: \(first.why)")
                        continue
                    }
                    onEvent(.waitingForWindow(until: first.until, why: first.why))
                    let until = ISO8601DateFormatter().string(from: first.until)
                    try await journal.note(run: run, "\(Self.waitingForWindow) \(until): \(first.why)")
                    try await gate.wait(until: first.until, stop: options.stopRequested)
                    try await journal.note(run: run, "a maintenance window is open")
                    continue
                }
                if scheduler.inFlight == 0 {
                    guard scheduler.isWaitingForApproval, let poll = options.approvalPoll else { break }
                    try await Task.sleep(for: poll)
                    continue
                }
                var results = ended.takeAll()
                if results.isEmpty {
                    guard try await group.next() != nil else { break }
                    results = ended.takeAll()
                }
                // The results of every step that ended meanwhile, durable before anyone hears
                // of them or anything that waits for them starts.
                try await commit(run: run, results.map { .finish($0.id, $0.state, message: $0.message, rule: $0.rule) })
                for result in results {
                    scheduler.finished(result.id, result.state)
                    onEvent(
                        .finished(
                            step: byID[result.id]!, state: result.state, message: result.message, rule: result.rule))
                }
            }
        }

        // Everything that can no longer start is blocked.
        let final: RunState
        switch scheduler.ending {
        case .completed:
            final = .completed
        case .halted(let blocked):
            for step in plan.steps {
                guard let why = blocked[step.id] else { continue }
                try await journal.finish(run: run, step: step.id, state: .blocked, message: why)
            }
            final = .halted
        }
        let abortedNow = try await journal.state(of: run) == .aborted
        try await journal.setState(
            run: run, abortedNow ? .aborted : final, reason: final == .halted ? scheduler.stopReason ?? "" : "")
        return abortedNow ? .aborted : final
    }

    /// How a run's transition says it waits for a maintenance window (then the instant, ISO 8601).
    public static let waitingForWindow = RunNote.waitingForWindow

    /// Journals changes: all in one commit (group commit), or one commit each.
    func commit(run: RunID, _ changes: [StepChange]) async throws {
        guard !changes.isEmpty else { return }
        if options.groupCommit {
            try await journal.record(run: run, changes)
        } else {
            for change in changes { try await journal.record(run: run, [change]) }
        }
    }

    /// How a step's attempt ended.
    struct Ended: Sendable {
        var id: StepID
        var state: StepState
        var message: String
        var rule: Rule.ID?
    }

    /// Steps that ended and are not yet journaled, in the order they ended.
    final class EndedSteps: Sendable {
        let steps = Mutex<[Ended]>([])
        func append(_ step: Ended) { steps.withLock { $0.append(step) } }
        func takeAll() -> [Ended] {
            steps.withLock { steps in
                defer { steps = [] }; return steps
            }
        }
    }

    /// Performs a step, once more for a repeatable action that failed.
    func attempt(_ step: Step, run: RunID) async throws -> Ended {
        if step.action == .approve {
            return Ended(id: step.id, state: .succeeded, message: "gate \(step.gate ?? "?") approved")
        }
        if let settle = target.settle(for: step) { return try await wait(step, run: run, settle) }
        let tries = EngineOptions.repeatable.contains(step.action) ? options.attempts : 1
        var last = StepResult(succeeded: false, message: "not attempted")
        for index in 0..<tries {
            if index > 0 {
                try await journal.begin(run: run, step: step.id)
                onEvent(.started(step: step, attempt: index + 1))
            } else {
                onEvent(.started(step: step, attempt: 1))
            }
            try await options.confirmOwnership()
            last = try await performWithinLimit(step, run: run)
            if let output = last.output, !output.isEmpty {
                try await journal.recordOutput(run: run, step: step.id, output: output)
            }
            if last.succeeded { return Ended(id: step.id, state: .succeeded, message: last.message) }
        }
        return Ended(id: step.id, state: .failed, message: last.message, rule: last.rule)
    }
}

extension Engine {
    /// A check of a state that settles, asked every `interval` until it passes or
    /// `timeout` has passed: the journal keeps the last answer (with how long the wait
    /// has been), not every poll. A stop request ends the wait with the step failed; a resume
    /// waits again from the start.
    func wait(_ step: Step, run: RunID, _ spec: SettleSpec) async throws -> Ended {
        let (interval, timeout) = (Duration.seconds(spec.interval), Duration.seconds(spec.timeout))
        let clock = ContinuousClock()
        let started = clock.now
        var polls = 0
        // The time waited: the wall clock's, or the pauses' on a target whose clock is its own.
        var paused = Duration.zero
        onEvent(.started(step: step, attempt: 1))
        while true {
            try await options.confirmOwnership()
            let answer = try await performWithinLimit(step, run: run)
            polls += 1
            let waited = max(clock.now - started, paused)
            if answer.succeeded {
                if let output = answer.output, !output.isEmpty {
                    try await journal.recordOutput(run: run, step: step.id, output: output)
                }
                let after = polls > 1 ? " (settled after \(Self.words(waited)), \(polls) checks)" : ""
                return Ended(id: step.id, state: .succeeded, message: answer.message + after)
            }
            try await journal.recordOutput(
                run: run, step: step.id,
                output: "still waiting after \(Self.words(waited)) (check \(polls)): \(answer.output ?? answer.message)")
            if waited + interval > timeout {
                return Ended(
                    id: step.id, state: .failed,
                    message: "did not settle within \(Self.words(timeout)); the last answer: \(answer.message)",
                    rule: answer.rule)
            }
            if let reason = options.stopRequested() {
                return Ended(id: step.id, state: .failed, message: "the wait was stopped (\(reason)); the last answer: \(answer.message)")
            }
            try await target.pause(seconds: spec.interval)
            paused += interval
        }
    }

    /// A duration as an administrator says it: "90 s", "12 min".
    static func words(_ duration: Duration) -> String { SettleSpec.words(Int(duration.components.seconds)) }

    /// The target's answer, or a failure when the action's time limit passes first.
    func performWithinLimit(_ step: Step, run: RunID) async throws -> StepResult {
        let limit = options.timeout(for: step.action)
        let target = self.target
        return try await withThrowingTaskGroup(of: StepResult?.self) { group in
            group.addTask { try await target.perform(step, run: run) }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            let first = try await group.next() ?? nil
            group.cancelAll()
            return first
                ?? StepResult(
                    succeeded: false,
                    message:
                        "\(step.action.rawValue) did not finish within \(limit); it may still be under way: check \(step.host ?? step.group ?? "the host") before resuming"
                )
        }
    }
}

/// Why the engine cannot run a run.
public enum EngineError: Error, Sendable, CustomStringConvertible {
    case noRun(RunID)

    public var description: String {
        switch self {
        case .noRun(let run): "no run '\(run)'"
        }
    }
}
