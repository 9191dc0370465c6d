import BatonPlan
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

    /// On the durations the plan was estimated with (its inventory's own, kept in its estimate), as a run
    /// orders its steps.
    public init(plan: Plan, inventory: Inventory, parallel: Int, batchSizes: [Int]) {
        let seconds = ActionDurations(of: plan).seconds(plan.steps, of: plan)
        self.parallel = max(1, parallel)
        let schedule = ListSchedule(steps: plan.steps, seconds: seconds, parallel: self.parallel)
        let order = StartOrder(plan.steps, schedule, positions: Array(plan.steps.indices), of: plan.steps.count)
        makespan = schedule.makespan(priority: order.rank.map(Double.init))
        (lowerBound, lowerBoundReason) = Self.lowerBound(plan.steps, schedule)
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

    /// No rollout of `steps` obeying KB 328839 on the schedule's slots can be faster, and why.
    /// `slots` adds, on a small plan, how one slot can run its share of the longest steps
    /// (`SlotBound`), the costliest part.
    static func lowerBound(_ steps: [Step], _ schedule: ListSchedule, slots: Bool = true) -> (Int, String) {
        let (graph, seconds, parallel) = (schedule.graph, schedule.seconds, schedule.parallel)
        // No schedule beats the work spread over every slot, nor the longest chain of steps
        // that must follow one another: the plan's edges are KB 328839's orders (backups before
        // any install, a cluster's nodes one at a time, front-ends before back-ends), each step
        // citing its rules. Per-cluster and per-machine chains are parts of that chain.
        let spread = (seconds.reduce(0, +) + parallel - 1) / parallel
        let chain = graph.remaining(seconds).max() ?? 0
        var best =
            chain > spread
            ? (chain, "the longest chain of steps KB 328839 orders one after another")
            : (spread, "the work over \(parallel) slots")
        // Tighter: work that cannot start before a chain ends, or must end before one starts,
        // has fewer hours to spread over the slots; and some slot runs several of the longest
        // steps one after another.
        let heads = graph.heads(seconds: seconds, parallel: parallel)
        let tails = graph.tails(seconds: seconds, parallel: parallel)
        var tighter = [edgeBound(heads: heads, tails: tails, seconds: seconds, parallel: parallel)]
        let through = { (index: Int) in heads[index] + seconds[index] + tails[index] }
        if let step = seconds.indices.max(by: { through($0) < through($1) }) {
            tighter.append(
                (
                    through(step),
                    "\(steps[step].summary), after what must come before it and before what must follow it, on \(parallel) slots"
                ))
        }
        if slots, seconds.count(where: { $0 > 0 }) <= SlotBound.maximumSteps {
            tighter.append(SlotBound(heads: heads, tails: tails, seconds: seconds, parallel: parallel).best)
        }
        for candidate in tighter where candidate.0 > best.0 { best = candidate }
        return best
    }

    /// No schedule beats, for any `a` and `b`: `a` + `b` + the work of the steps that cannot
    /// start before `a` (a chain of that length comes before them) and cannot end later than
    /// `b` before the end (a chain of that length follows them), over the slots. Tried for
    /// every `a` with `b` = 0, every `b` with `a` = 0, and both together on a grid.
    static func edgeBound(heads: [Int], tails: [Int], seconds: [Int], parallel: Int) -> (Int, String) {
        func bound(_ a: Int, _ b: Int, _ work: Int) -> Int { a + b + (work + parallel - 1) / parallel }
        var best = (0, "")
        func consider(_ a: Int, _ b: Int, _ work: Int) {
            let value = bound(a, b, work)
            guard value > best.0 else { return }
            best = (value, "the work\(window(a, b)) over \(parallel) slots")
        }
        let working = seconds.indices.filter { seconds[$0] > 0 }
        /// For each threshold of `key` (descending), the work of the steps at or above it.
        func sweep(_ steps: [Int], key: [Int], _ body: (Int, Int) -> Void) {
            var work = 0
            let sorted = steps.sorted { key[$0] > key[$1] }
            for (offset, index) in sorted.enumerated() {
                work += seconds[index]
                if offset + 1 == sorted.count || key[sorted[offset + 1]] != key[index] { body(key[index], work) }
            }
        }
        sweep(working, key: heads) { a, work in consider(a, 0, work) }
        sweep(working, key: tails) { b, work in consider(0, b, work) }
        let grid = Set(stride(from: 0, to: working.count, by: max(1, working.count / 64)).map { heads[working[$0]] })
        for a in grid {
            sweep(working.filter { heads[$0] >= a }, key: tails) { b, work in consider(a, b, work) }
        }
        return best
    }

    /// " that cannot start in the first `a` nor end in the last `b`": which steps a bound is
    /// about (none of it when both are 0).
    static func window(_ a: Int, _ b: Int) -> String {
        let after = a > 0 ? " that cannot start in the first \(humanDuration(a))" : ""
        let before = b > 0 ? "\(a > 0 ? " nor" : " that cannot") end in the last \(humanDuration(b))" : ""
        return after + before
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

/// The plan's steps as a graph of what must come before what (creation order is a
/// topological order), for bounds on when each step can start and end.
struct Graph {
    var before: [[Int]]
    var after: [[Int]]

    init(_ steps: [Step]) {
        let position = StepPositions(steps)
        before = steps.map { $0.after.compactMap { position[$0] } }
        after = [[Int]](repeating: [], count: steps.count)
        for (index, froms) in before.enumerated() { for from in froms { after[from].append(index) } }
    }

    /// Each step's earliest start in any schedule on `parallel` slots: after the longest
    /// chain before it, and a milestone after all the work before it spread over the slots.
    func heads(seconds: [Int], parallel: Int) -> [Int] {
        var heads = [Int](repeating: 0, count: before.count)
        var reach = Reach(before, seconds: seconds)
        for index in before.indices {
            for from in before[index] { heads[index] = max(heads[index], heads[from] + seconds[from]) }
            if seconds[index] == 0, before[index].count > 1 {
                heads[index] = max(heads[index], reach.spread(from: index, parallel: parallel))
            }
        }
        return heads
    }

    /// The least time any schedule needs after each step ends: the longest chain after it, and
    /// after a milestone all the work after it spread over the slots.
    func tails(seconds: [Int], parallel: Int) -> [Int] {
        var tails = [Int](repeating: 0, count: after.count)
        var reach = Reach(after, seconds: seconds)
        for index in after.indices.reversed() {
            for next in after[index] { tails[index] = max(tails[index], tails[next] + seconds[next]) }
            if seconds[index] == 0, after[index].count > 1 {
                tails[index] = max(tails[index], reach.spread(from: index, parallel: parallel))
            }
        }
        return tails
    }

    /// The least time steps need on `parallel` slots, whatever their order: their work over the
    /// slots, and, since of the k·`parallel` + 1 longest some slot runs k + 1 one after another,
    /// the k + 1 shortest of those back to back (seven 45-minute backups on four slots take 90
    /// minutes, not 79). The steps are given as how many there are of each of `lengths`
    /// (longest first): a plan has a few dozen distinct durations, and a milestone of a large
    /// plan thousands of steps on one side of it.
    static func spread(lengths: [Int], counts: [Int], parallel: Int) -> Int {
        // After each length: how many steps are that long or longer, and their total.
        var ends: [Int] = [], totals: [Int] = []
        for (length, count) in zip(lengths, counts) {
            ends.append((ends.last ?? 0) + count)
            totals.append((totals.last ?? 0) + length * count)
        }
        /// The total of the `count` longest.
        func longest(_ count: Int) -> Int {
            guard count > 0, let group = ends.firstIndex(where: { $0 >= count }) else { return 0 }
            let before = group == 0 ? 0 : ends[group - 1]
            return (group == 0 ? 0 : totals[group - 1]) + (count - before) * lengths[group]
        }
        var bound = ((totals.last ?? 0) + parallel - 1) / parallel
        // The k + 1 shortest of the k·slots + 1 longest: from the (k·slots − k + 1)-th longest
        // to the (k·slots + 1)-th.
        for top in stride(from: 0, to: ends.last ?? 0, by: parallel) {
            bound = max(bound, longest(top + 1) - longest(top - top / parallel))
        }
        return bound
    }

    /// For each step (by position), the longest chain of work from its start to the end.
    func remaining(_ seconds: [Int]) -> [Int] {
        var remaining = seconds
        for index in after.indices.reversed() {
            for next in after[index] { remaining[index] = max(remaining[index], seconds[index] + remaining[next]) }
        }
        return remaining
    }

    /// The steps reached along `edges` from one step after another, counted by length: each
    /// walk marks the steps it finds with its own number, so no walk clears or hashes anything.
    struct Reach {
        let edges: [[Int]]
        /// The plan's distinct durations, longest first, and each step's place among them (-1
        /// for a step that takes no time).
        let lengths: [Int]
        let lengthOf: [Int]
        private var mark: [Int]
        private var walk = 0

        init(_ edges: [[Int]], seconds: [Int]) {
            self.edges = edges
            lengths = Set(seconds.filter { $0 > 0 }).sorted(by: >)
            let place = Dictionary(uniqueKeysWithValues: lengths.enumerated().map { ($1, $0) })
            lengthOf = seconds.map { place[$0] ?? -1 }
            mark = [Int](repeating: 0, count: edges.count)
        }

        /// How many of the steps reached from `start`, without it, have each length.
        mutating func counts(from start: Int) -> [Int] {
            walk += 1
            mark[start] = walk
            var counts = [Int](repeating: 0, count: lengths.count)
            var stack = [start]
            while let index = stack.popLast() {
                for next in edges[index] where mark[next] != walk {
                    mark[next] = walk
                    if lengthOf[next] >= 0 { counts[lengthOf[next]] += 1 }
                    stack.append(next)
                }
            }
            return counts
        }

        /// The least time the steps reached from `start` need on `parallel` slots.
        mutating func spread(from start: Int, parallel: Int) -> Int {
            Graph.spread(lengths: lengths, counts: counts(from: start), parallel: parallel)
        }
    }
}

extension PlanQuality {
    /// What rule `mx-witness-restart`'s orders cost: this plan's makespan less that of the same
    /// organization planned as if each DAG's file share witness were on a server the plan does
    /// not restart. Nil when the plan has no such order.
    public static func witnessOrderCost(
        plan: Plan, inventory: Inventory, package: Package, parallel: Int, makespan: Int
    ) -> Int? {
        guard plan.steps.contains(where: { $0.rules.contains(.mxWitnessRestart) }) else { return nil }
        let elsewhere = inventory.witnessesElsewhere
        guard let free = try? Planner(inventory: elsewhere, package: package).plan() else { return nil }
        return makespan - PlanQuality(plan: free, inventory: elsewhere, parallel: parallel, batchSizes: []).makespan
    }
}

extension Inventory {
    /// The organization with each DAG's file share witness moved to a server no plan updates:
    /// its plan is the same but for the orders of rule `mx-witness-restart`. What those orders
    /// cost (`baton quality`), and the plan without them that the tests show unsafe.
    public var witnessesElsewhere: Inventory {
        var elsewhere = self
        for index in elsewhere.dags.indices {
            guard let witness = elsewhere.dags[index].witness else { continue }
            elsewhere.dags[index].witness?.server = HostName("\(witness.server.spelling)-share-elsewhere")
        }
        return elsewhere
    }
}
