import BatonModel
import BatonPlan
import BatonPlanner
import HeapModule

/// The engine's decisions, without I/O: given each step's state, the approvals and what has
/// just happened, which steps start now, which gates wait, and how the run ends. The engine
/// carries the decisions out (journal, target, events); tests drive this alone.
///
/// A step is ready once every step in its `after` has succeeded (counted, so deciding stays
/// linear in the plan's size). Of the ready steps, the one `StartOrder` ranks highest starts
/// first (the most estimated work behind it, or an order tried on a small plan that ends
/// sooner). At most `parallel` steps that act on a host run at once; gates and milestones take
/// no time and no slot, and pass as soon as they are ready, as `PlanQuality` counts them. A
/// gate waits until it is approved (or every gate is). A failure halts new work once more
/// than `maxFailedHosts` hosts have failed; halted, nothing new starts; aborting, only the
/// steps that bring a virtual server back online do.
public struct Scheduler: Sendable {
    public struct Settings: Sendable {
        public var parallel: Int
        public var approveAll: Bool
        public var maxFailedHosts: Int

        public init(parallel: Int, approveAll: Bool, maxFailedHosts: Int) {
            self.parallel = max(1, parallel)
            self.approveAll = approveAll
            self.maxFailedHosts = max(0, maxFailedHosts)
        }
    }

    /// What to do next.
    public enum Decision: Sendable, Equatable {
        /// Start this step (its intent is journaled first).
        case start(Step)
        /// This gate waits for an approval; said once per gate.
        case waitForApproval(Step, gate: String)
    }

    /// How a run ends when nothing is in flight and nothing can start.
    public enum Ending: Sendable, Equatable {
        case completed
        /// Not every step succeeded; `blocked` are the steps that never started, each with why.
        case halted(blocked: [StepID: String])
    }

    public let plan: Plan
    public let settings: Settings
    public private(set) var state: [StepID: StepState]
    public private(set) var inFlight = 0
    /// Steps in flight that take a slot.
    public private(set) var busy = 0
    public private(set) var approvals: Set<String>
    public private(set) var halted = false
    public private(set) var aborting = false
    /// Why scheduling stopped on request (a signal, a server shutting down, a lost lease).
    public private(set) var stopReason: String?
    /// Hosts (or groups) with a failed step, by the name they are compared by.
    public private(set) var failedHosts = Set<String>()
    /// Gates ready to pass but not approved yet.
    public private(set) var gated: [StepID] = []
    var announced = Set<StepID>()
    var dependents: [StepID: [StepID]] = [:]
    var unfinished: [StepID: Int] = [:]
    let position: [StepID: Int]
    let rank: [Int]
    var ready = Heap<ReadyStep>()
    /// Ready gates and milestones.
    var readyFree = Heap<ReadyStep>()

    /// `state` is each step's state now: running and failed steps must have been settled
    /// (succeeded or pending) first; blocked ones count as pending. The plan may be the part of
    /// a run still to do (`UnfinishedPart`): a step named in an `after` but not in the plan
    /// has succeeded.
    public init(plan: Plan, state: [StepID: StepState], approvals: Set<String>, settings: Settings) {
        self.plan = plan
        self.settings = settings
        self.approvals = approvals
        var state = state
        for (id, current) in state where current == .blocked || current == .failed { state[id] = .pending }
        self.state = state
        var position: [StepID: Int] = [:]
        for (index, step) in plan.steps.enumerated() { position[step.id] = index }
        self.position = position
        let rank = StartOrder(
            plan: plan, parallel: settings.parallel, settled: Set(state.compactMap { $1 == .succeeded ? $0 : nil })
        ).rank
        self.rank = rank
        var unfinished: [StepID: Int] = [:], dependents: [StepID: [StepID]] = [:]
        for (index, step) in plan.steps.enumerated() {
            unfinished[step.id] = step.after.filter { position[$0] != nil && state[$0] != .succeeded }.count
            for before in step.after where position[before] != nil { dependents[before, default: []].append(step.id) }
            if state[step.id] == .pending, unfinished[step.id] == 0 {
                enqueue(ReadyStep(priority: Double(rank[index]), position: index))
            }
        }
        self.unfinished = unfinished
        self.dependents = dependents
    }

    /// A ready step waits for a slot, or, a gate or milestone, for nothing.
    mutating func enqueue(_ step: ReadyStep) {
        if plan.steps[step.position].takesSlot { ready.insert(step) } else { readyFree.insert(step) }
    }

    func readyStep(_ id: StepID) -> ReadyStep {
        ReadyStep(priority: Double(rank[position[id]!]), position: position[id]!)
    }

    // MARK: What happened

    /// `baton abort`: nothing new starts but the steps that bring a virtual server caught
    /// offline back online.
    public mutating func abort() {
        aborting = true
        halted = true
    }

    /// A request to stop (a signal, a shutdown): nothing new starts; running steps finish.
    public mutating func stop(_ reason: String) {
        guard !halted else { return }
        stopReason = reason
        halted = true
    }

    /// The approvals now: gates waiting for one of them open.
    public mutating func approvalsChanged(_ approvals: Set<String>) {
        self.approvals = approvals
        guard !halted else { return }
        let opened = gated.filter { id in plan.steps[position[id]!].gate.map(approvals.contains) ?? true }
        for id in opened { enqueue(readyStep(id)) }
        gated.removeAll { opened.contains($0) }
    }

    /// A started step ended.
    public mutating func finished(_ id: StepID, _ result: StepState) {
        inFlight -= 1
        if plan.steps[position[id]!].takesSlot { busy -= 1 }
        state[id] = result
        if result == .succeeded {
            for next in dependents[id] ?? [] {
                unfinished[next, default: 0] -= 1
                if unfinished[next] == 0, state[next] == .pending { enqueue(readyStep(next)) }
            }
        }
        if result == .failed {
            let step = plan.steps[position[id]!]
            failedHosts.insert((step.host ?? step.group)?.key ?? id.rawValue)
            if failedHosts.count > settings.maxFailedHosts { halted = true }
        }
    }

    // MARK: Decisions

    /// The steps to start now (as many as free slots allow) and the gates newly waiting.
    public mutating func next() -> [Decision] { next(hold: { _ in false }) }

    /// As `next()`, but a step that takes a slot and that `hold` holds back stays ready for a
    /// later call (a maintenance window not open, or too short for it).
    public mutating func next(hold: (Step) -> Bool) -> [Decision] {
        var decisions: [Decision] = []
        guard !halted else {
            // Halted, nothing new starts; aborting, only steps that bring a virtual server
            // back online do. The others stay ready for a later resume.
            let recovery = aborting ? Self.unfinishedRecovery(plan, state) : []
            var candidates: [ReadyStep] = []
            var kept: [ReadyStep] = []
            for var heap in [ready, readyFree] {
                while let next = heap.popMax() {
                    if recovery.contains(plan.steps[next.position].id) {
                        candidates.append(next)
                    } else {
                        kept.append(next)
                    }
                }
            }
            (ready, readyFree) = (Heap(), Heap())
            for next in kept { enqueue(next) }
            for next in candidates.sorted(by: >) {
                if plan.steps[next.position].takesSlot, busy >= settings.parallel {
                    enqueue(next)
                } else {
                    start(next, &decisions)
                }
            }
            return decisions
        }
        while let next = readyFree.popMax() { start(next, &decisions) }
        // Gates and milestones in flight pass at once: what they release is weighed with what
        // is ready now before the slots are given out.
        guard inFlight == busy else { return decisions }
        var aside: [ReadyStep] = []
        while busy < settings.parallel, let next = ready.popMax() {
            if hold(plan.steps[next.position]) {
                aside.append(next)
            } else {
                start(next, &decisions)
            }
        }
        for step in aside { ready.insert(step) }
        return decisions
    }

    /// Starts a ready step, or, a gate not approved yet, says it waits (once).
    mutating func start(_ next: ReadyStep, _ decisions: inout [Decision]) {
        let step = plan.steps[next.position]
        if step.action == .approve, let gate = step.gate, !settings.approveAll, !approvals.contains(gate) {
            if announced.insert(step.id).inserted { decisions.append(.waitForApproval(step, gate: gate)) }
            gated.append(step.id)
            return
        }
        state[step.id] = .running
        inFlight += 1
        if step.takesSlot { busy += 1 }
        decisions.append(.start(step))
    }

    /// Whether, with nothing in flight, the run should wait for an approval rather than end.
    public var isWaitingForApproval: Bool { inFlight == 0 && !gated.isEmpty && !halted }

    /// How the run ends, once nothing is in flight and nothing more starts: every step that can
    /// no longer start is blocked, with the reason.
    public var ending: Ending {
        if plan.steps.allSatisfy({ state[$0.id] == .succeeded }) { return .completed }
        let why =
            !gated.isEmpty && !halted
            ? "waiting for an approval"
            : stopReason.map { "not started: \($0); resume the run" } ?? "not started: the run halted"
        var blocked: [StepID: String] = [:]
        for step in plan.steps where state[step.id] == .pending { blocked[step.id] = why }
        return .halted(blocked: blocked)
    }

    /// Steps that bring a virtual server back online: for each group whose resources went
    /// offline in this run and are not yet online again, the steps between the two. An
    /// aborted run still performs them, so no virtual server is left without a home.
    static func unfinishedRecovery(_ plan: Plan, _ state: [StepID: StepState]) -> Set<StepID> {
        var needed = Set<StepID>()
        var offlineSince: [HostName: Int] = [:]
        for (index, step) in plan.steps.enumerated() {
            guard let group = step.group else { continue }
            if step.action == .resourcesOffline, state[step.id] == .succeeded { offlineSince[group] = index }
            if step.action == .resourcesOnline, let start = offlineSince[group] {
                offlineSince[group] = nil
                guard state[step.id] != .succeeded else { continue }
                for between in plan.steps[start...index] where between.group == group || between.id == step.id {
                    needed.insert(between.id)
                }
            }
        }
        return needed
    }
}
