import BatonModel
import HeapModule

/// How close a plan comes to the fastest rollout possible with at most `parallel` steps at
/// once, and how it compares with what an administrator would otherwise do: one machine at
/// a time, or fixed batches as Ansible's `serial` makes them. All on the plan's estimated
/// durations.
public struct PlanQuality: Sendable, Hashable {
    public var parallel: Int
    /// The plan carried out as Baton's engine does: a step starts as soon as everything
    /// before it is done and one of the `parallel` slots is free (gates and milestones take
    /// no time and no slot).
    public var makespan: Int
    /// No rollout obeying KB 328839 can be faster: the larger of the work over the slots and
    /// the plan's longest chain.
    public var lowerBound: Int
    public var lowerBoundReason: String
    /// Every machine (a cluster as one) after the other, each doing its steps in turn.
    public var oneAtATime: Int
    /// Batch size → makespan of fixed batches: a batch's machines work side by side, the next
    /// batch starts when the slowest is done, front-ends first.
    public var batches: [Int: Int]

    public var ratio: Double { Double(makespan) / Double(max(lowerBound, 1)) }

    public init(plan: Plan, inventory: Inventory, package: Package, parallel: Int, batchSizes: [Int]) {
        let durations = ActionDurations(overrides: inventory.durations)
        let seconds = plan.steps.map { durations.seconds(for: $0, package: package) }
        self.parallel = max(1, parallel)
        let remaining = plan.remainingWork(durations: durations)
        makespan = Self.listSchedule(plan.steps, seconds: seconds, priority: remaining, parallel: self.parallel)
        // No schedule beats the work spread over every slot, nor the longest chain of steps
        // that must follow one another: the plan's edges are KB 328839's orders (backups before
        // any install, a cluster's nodes one at a time, front-ends before back-ends), each step
        // citing its rules. Per-cluster and per-machine chains are parts of that chain.
        let work = seconds.reduce(0, +)
        let spread = (work + self.parallel - 1) / self.parallel
        let chain = remaining.max() ?? 0
        (lowerBound, lowerBoundReason) =
            chain > spread
            ? (chain, "the longest chain of steps KB 328839 orders one after another")
            : (spread, "the work over \(self.parallel) slots")
        let units = Self.units(plan.steps, seconds: seconds, inventory: inventory)
        oneAtATime = units.reduce(0) { $0 + $1.seconds }
        var batches: [Int: Int] = [:]
        for size in batchSizes where size > 0 {
            batches[size] = stride(from: 0, to: units.count, by: size).reduce(0) { total, start in
                total + units[start..<min(start + size, units.count)].map(\.seconds).max()!
            }
        }
        self.batches = batches
    }

    /// Event-driven simulation of the engine: of the ready steps, the one with the most work
    /// still behind it starts first; at most `parallel` running.
    static func listSchedule(_ steps: [Step], seconds: [Int], priority: [Int], parallel: Int) -> Int {
        var index: [StepID: Int] = [:]
        for (position, step) in steps.enumerated() { index[step.id] = position }
        var waiting = steps.map(\.after.count)
        var dependents = [[Int]](repeating: [], count: steps.count)
        for (position, step) in steps.enumerated() {
            for before in step.after { if let from = index[before] { dependents[from].append(position) } }
        }
        var ready = Heap<ReadyStep>()
        var running = Heap<Running>()
        var now = 0, end = 0
        // Gates and milestones take no time and no slot: they pass the moment they are ready.
        func becameReady(_ position: Int) {
            guard seconds[position] == 0 else {
                return ready.insert(ReadyStep(priority: priority[position], position: position))
            }
            for next in dependents[position] {
                waiting[next] -= 1
                if waiting[next] == 0 { becameReady(next) }
            }
        }
        func finish(_ position: Int) {
            for next in dependents[position] {
                waiting[next] -= 1
                if waiting[next] == 0 { becameReady(next) }
            }
        }
        for position in steps.indices where waiting[position] == 0 { becameReady(position) }
        while true {
            while running.count < parallel, let top = ready.popMax() {
                running.insert(Running(end: now + seconds[top.position], position: top.position))
            }
            guard let done = running.popMin() else { break }
            now = done.end
            end = max(end, now)
            finish(done.position)
            while let next = running.min, next.end == now {
                finish(running.removeMin().position)
            }
        }
        return end
    }

    /// Each machine's (and each cluster's, as one) steps in turn: what a batch tool runs per
    /// host. Front-ends first, as KB 328839 orders them.
    static func units(_ steps: [Step], seconds: [Int], inventory: Inventory) -> [(name: String, seconds: Int)] {
        var clusterOf: [HostName: HostName] = [:]
        for cluster in inventory.clusters {
            for node in cluster.nodes { clusterOf[node.name] = cluster.name }
            for evs in cluster.virtualServers { clusterOf[evs.name] = cluster.name }
        }
        var totals: [HostName: Int] = [:]
        var order: [HostName] = []
        for (position, step) in steps.enumerated() {
            guard let subject = step.host ?? step.group else { continue }
            let unit = clusterOf[subject] ?? subject
            if totals[unit] == nil { order.append(unit) }
            totals[unit, default: 0] += seconds[position]
        }
        let frontEnds = Set(inventory.servers.filter { $0.role == .frontEnd }.map(\.name))
        return order.sorted { (frontEnds.contains($0) ? 0 : 1) < (frontEnds.contains($1) ? 0 : 1) }
            .map { ($0.spelling, totals[$0, default: 0]) }
    }
}

/// A ready step: the most work behind it first, then the earlier in the plan.
public struct ReadyStep: Comparable, Sendable {
    public var priority: Int
    public var position: Int

    public init(priority: Int, position: Int) {
        self.priority = priority
        self.position = position
    }

    public static func < (lhs: ReadyStep, rhs: ReadyStep) -> Bool {
        (lhs.priority, rhs.position) < (rhs.priority, lhs.position)
    }
}

/// A running step in the schedule, ordered by when it ends.
struct Running: Comparable {
    var end: Int
    var position: Int

    static func < (lhs: Running, rhs: Running) -> Bool { (lhs.end, lhs.position) < (rhs.end, rhs.position) }
}
