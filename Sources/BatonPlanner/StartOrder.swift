import BatonPlan
import BatonModel
import HeapModule

/// The order in which the engine starts ready steps when more are ready than slots are free:
/// a rank per step, the higher first.
///
/// The rule is the most estimated work behind a step first (its longest chain to the end).
/// On a plan small enough to try many orders cheaply, and whose rule leaves time above the
/// lower bound `PlanQuality` gives (no order can beat it), orders near the best found so far
/// are tried on the estimated durations, and the one that ends soonest is kept; an order is
/// only ever replaced by one that ends no later, so this never does worse than the rule. On two
/// slots the rule takes the front-end pool example 7 h 00 min and a tried order 6 h 48 min,
/// against a bound of 6 h 42 min (docs/benchmarks.md). The search is seeded, so the same plan,
/// on the same slots, always gets the same order.
///
/// Steps already `settled` (succeeded) take no part, so a run resumed from the part of its plan
/// still to do gets the order it would from the whole plan with the same steps done.
public struct StartOrder: Sendable {
    /// By plan position; settled steps rank 0.
    public let rank: [Int]

    /// Tried orders at most, and steps simulated at most over all of them: the search's cost is
    /// bounded whatever the plan; a plan above the budget keeps the rule.
    static let tries = 1_000
    static let budget = 200_000
    /// Tries without a sooner end after which the search stops.
    static let patience = 400

    /// On the durations the plan was estimated with (its inventory's own, or the defaults).
    public init(plan: Plan, parallel: Int, settled: Set<StepID> = []) {
        let open = plan.steps.indices.filter { !settled.contains(plan.steps[$0].id) }
        let steps = open.map { plan.steps[$0] }
        let seconds = ActionDurations(of: plan).seconds(steps, of: plan)
        let schedule = ListSchedule(steps: steps, seconds: seconds, parallel: parallel)
        self.init(steps, schedule, positions: open, of: plan.steps.count)
    }

    /// The order of `steps` on `schedule` (made of them), where they stand at `positions` of a
    /// plan of `count` steps.
    init(_ steps: [Step], _ schedule: ListSchedule, positions: [Int], of count: Int) {
        let ordered = Self.search(steps, schedule)
        var rank = [Int](repeating: 0, count: count)
        for (offset, position) in ordered.enumerated() { rank[positions[position]] = ordered.count - offset }
        self.rank = rank
    }

    /// Positions in the order they start first: the rule's, or a tried one that ends sooner.
    static func search(_ steps: [Step], _ schedule: ListSchedule) -> [Int] {
        let count = schedule.seconds.count
        var best = schedule.graph.remaining(schedule.seconds).map(Double.init)
        let tries = min(tries, budget / max(count, 1))
        if tries >= 100 {
            var end = schedule.makespan(priority: best)
            let bound = PlanQuality.lowerBound(steps, schedule, slots: false).0
            var random = SplitMix64(seed: 328_839)
            var since = 0
            for _ in 0..<tries where end > bound && since < patience {
                let candidate = best.map { $0 * (0.75 + 0.5 * random.nextUnit()) }
                let candidateEnd = schedule.makespan(priority: candidate)
                since = candidateEnd < end ? 0 : since + 1
                // Equal ends are taken too: the search moves on instead of circling.
                if candidateEnd <= end { (best, end) = (candidate, candidateEnd) }
            }
        }
        return schedule.graph.before.indices.sorted { (best[$0], $1) > (best[$1], $0) }
    }
}

/// The engine's way of running a plan, on estimated durations: a step starts as soon as
/// everything before it is done and one of the `parallel` slots is free, the ready step with
/// the highest priority first (then the earlier in the plan); gates and milestones take no
/// slot (`Step.takesSlot`) and pass at once.
struct ListSchedule {
    let graph: Graph
    let seconds: [Int]
    let takesSlot: [Bool]
    let parallel: Int

    init(steps: [Step], seconds: [Int], parallel: Int) {
        graph = Graph(steps)
        self.seconds = seconds
        takesSlot = steps.map(\.takesSlot)
        self.parallel = max(1, parallel)
    }

    func makespan(priority: [Double]) -> Int {
        var waiting = graph.before.map(\.count)
        var ready = Heap<ReadyStep>()
        var running = Heap<Running>()
        var now = 0
        var end = 0
        func finish(_ position: Int) {
            for next in graph.after[position] {
                waiting[next] -= 1
                if waiting[next] == 0 { becameReady(next) }
            }
        }
        func becameReady(_ position: Int) {
            guard !takesSlot[position] else {
                return ready.insert(ReadyStep(priority: priority[position], position: position))
            }
            finish(position)
        }
        for position in seconds.indices where waiting[position] == 0 { becameReady(position) }
        while true {
            while running.count < parallel, let top = ready.popMax() {
                running.insert(Running(end: now + seconds[top.position], position: top.position))
            }
            guard let done = running.popMin() else { break }
            now = done.end
            end = max(end, now)
            finish(done.position)
            while let next = running.min, next.end == now { finish(running.removeMin().position) }
        }
        return end
    }
}

/// A ready step, in the engine and in its simulation: the highest priority (`StartOrder`'s
/// rank, or a tried order's) first, then the earlier in the plan.
public struct ReadyStep: Comparable, Sendable {
    public var priority: Double
    public var position: Int

    public init(priority: Double, position: Int) {
        self.priority = priority
        self.position = position
    }

    public static func < (lhs: ReadyStep, rhs: ReadyStep) -> Bool {
        (lhs.priority, rhs.position) < (rhs.priority, lhs.position)
    }
}

/// A running step in the simulation, ordered by when it ends.
struct Running: Comparable {
    var end: Int
    var position: Int

    static func < (lhs: Running, rhs: Running) -> Bool { (lhs.end, lhs.position) < (rhs.end, rhs.position) }
}
