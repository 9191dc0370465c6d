import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

/// The expected end of a run (`ExpectedEnd`): the rest of the plan as the engine runs it.
@Suite("Expected end")
struct ExpectedEndTests {
    @Test(
        "before anything is done, on the estimates, it is the plan carried out on its slots; twice as slow, twice as long"
    )
    func fromTheStart() throws {
        let (inventory, _, plan) = try Examples.plan("mixed.yaml", "exchange-2003-sp2")
        for parallel in [1, 4, 16] {
            let clock = ExpectedEnd(plan: plan, parallel: parallel)
            let quality = PlanQuality(plan: plan, inventory: inventory, parallel: parallel, batchSizes: [])
            let remaining = clock.remaining(done: [], running: [:], pace: 1)
            #expect(Int(remaining.rounded()) == quality.makespan, "parallel \(parallel)")
            #expect(clock.remaining(done: [], running: [:], pace: 2) == 2 * remaining)
        }
    }

    @Test(
        "done steps take no more time, running ones only what is left of them, and the pace follows the real durations")
    func partway() throws {
        let (_, _, plan) = try Examples.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        let clock = ExpectedEnd(plan: plan, parallel: 4)
        #expect(clock.pace(actual: [:]) == nil)
        let backups = plan.steps.filter { $0.action == .backup }
        // Backups took a tenth of their 45 minutes each.
        let pace = try #require(clock.pace(actual: Dictionary(uniqueKeysWithValues: backups.map { ($0.id, 270.0) })))
        #expect(abs(pace - 0.1) < 1e-9)
        let all = clock.remaining(done: [], running: [:], pace: pace)
        let afterBackups = clock.remaining(done: Set(backups.map(\.id)), running: [:], pace: pace)
        #expect(afterBackups < all)
        #expect(clock.remaining(done: Set(plan.steps.map(\.id)), running: [:], pace: pace) == 0)
        // A step running for longer than its estimate is taken to end now, not in the past.
        let last = try #require(plan.steps.last)
        let others = Set(plan.steps.dropLast().map(\.id))
        #expect(clock.remaining(done: others, running: [last.id: 1e9], pace: 1) == 0)
    }
}
