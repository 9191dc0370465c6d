import BatonModel
import BatonPlan
import HeapModule

/// When a run should end: the steps not done yet, carried out as the engine carries them out
/// (a step as soon as everything before it is done and one of the `parallel` slots is free, in
/// `StartOrder`'s order), each step's estimate scaled by how long the finished steps really
/// took against theirs. So a rehearsal at 400 times real speed, or an organization whose
/// backups take twice the default, gets an end that follows what it has seen.
public struct ExpectedEnd: Sendable {
    let schedule: ListSchedule
    let priority: [Double]
    let position: [StepID: Int]

    /// On the plan's estimated durations and the engine's start order for `parallel` slots.
    public init(plan: Plan, parallel: Int) {
        let seconds = ActionDurations(of: plan).seconds(plan.steps, of: plan)
        schedule = ListSchedule(steps: plan.steps, seconds: seconds, parallel: parallel)
        priority = StartOrder(plan.steps, schedule, positions: Array(plan.steps.indices), of: plan.steps.count).rank
            .map(Double.init)
        position = Dictionary(plan.steps.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// How much longer the real steps take than their estimates: the finished steps' real
    /// seconds over their estimated ones; nil before a step that takes time has finished.
    public func pace(actual: [StepID: Double]) -> Double? {
        var real = 0.0
        var estimated = 0
        for (id, seconds) in actual {
            guard let index = position[id], schedule.takesSlot[index], schedule.seconds[index] > 0 else { continue }
            real += max(0, seconds)
            estimated += schedule.seconds[index]
        }
        return estimated > 0 ? real / Double(estimated) : nil
    }

    /// Seconds from now to the run's end: `done` steps are over, `running` ones have run for
    /// the seconds given, and every step's estimate is scaled by `pace`.
    public func remaining(done: Set<StepID>, running: [StepID: Double], pace: Double) -> Double {
        let graph = schedule.graph
        let count = schedule.seconds.count
        var waiting = graph.before.map(\.count)
        // 0 to do, 1 over, 2 running.
        var state = [UInt8](repeating: 0, count: count)
        for id in done { if let index = position[id] { state[index] = 1 } }
        for id in running.keys { if let index = position[id], state[index] == 0 { state[index] = 2 } }
        for index in 0..<count where state[index] != 0 {
            for next in graph.after[index] { waiting[next] -= 1 }
        }
        var ready = Heap<ReadyStep>()
        var inFlight = Heap<Timed>()
        var now = 0.0
        func finish(_ index: Int) {
            for next in graph.after[index] {
                waiting[next] -= 1
                if waiting[next] == 0, state[next] == 0 { becameReady(next) }
            }
        }
        func becameReady(_ index: Int) {
            guard schedule.takesSlot[index] else { return finish(index) }
            ready.insert(ReadyStep(priority: priority[index], position: index))
        }
        for (id, elapsed) in running {
            guard let index = position[id], state[index] == 2 else { continue }
            let left = Double(schedule.seconds[index]) * pace - elapsed
            inFlight.insert(Timed(end: max(0, left), position: index))
        }
        for index in 0..<count where state[index] == 0 && waiting[index] == 0 { becameReady(index) }
        var slotsBusy = running.keys.count { id in
            position[id].map { state[$0] == 2 && schedule.takesSlot[$0] } ?? false
        }
        while true {
            while slotsBusy < schedule.parallel, let top = ready.popMax() {
                inFlight.insert(Timed(end: now + Double(schedule.seconds[top.position]) * pace, position: top.position))
                slotsBusy += 1
            }
            guard let next = inFlight.popMin() else { break }
            now = max(now, next.end)
            if schedule.takesSlot[next.position] { slotsBusy -= 1 }
            finish(next.position)
        }
        return now
    }

    struct Timed: Comparable {
        var end: Double
        var position: Int

        static func < (lhs: Timed, rhs: Timed) -> Bool { (lhs.end, lhs.position) < (rhs.end, rhs.position) }
    }
}
