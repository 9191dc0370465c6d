import BatonKnowledge
import BatonModel
import BatonPlan
import PropertyBased
import Testing

@testable import BatonPlanner

@Suite("Plan quality")
struct PlanQualityTests {
    @Test(
        "no schedule beats the lower bound, not even one of many random orders; one slot is all the work; unlimited slots is the estimate"
    )
    func bounds() async {
        await propertyCheck(count: 60, input: Shapes.organization) { shape in
            let (inventory, package) = shape.build()
            guard let plan = try? Planner(inventory: inventory, package: package).plan() else { return }
            let durations = ActionDurations(overrides: inventory.durations)
            let seconds = plan.steps.map { durations.seconds(for: $0, package: package) }
            let work = seconds.reduce(0, +)
            for parallel in [1, 2, 3, 4, 8] {
                // Other tests wait on timers meanwhile: the shared threads are handed back often.
                await Task.yield()
                let quality = PlanQuality(
                    plan: plan, inventory: inventory, parallel: parallel, batchSizes: [1, 5])
                #expect(quality.makespan >= quality.lowerBound, "\(shape): \(quality)")
                // Any schedule is an upper bound on the best one: a bound above one is wrong.
                let schedule = ListSchedule(steps: plan.steps, seconds: seconds, parallel: parallel)
                var random = SplitMix64(seed: UInt64(plan.steps.count * 10 + parallel))
                for _ in 0..<20 {
                    let end = schedule.makespan(priority: plan.steps.map { _ in random.nextUnit() })
                    #expect(end >= quality.lowerBound, "\(shape) on \(parallel): \(end) against \(quality)")
                }
                #expect(quality.oneAtATime <= work)
                #expect(quality.batches[1] == quality.oneAtATime)
                #expect(quality.batches[5]! <= quality.oneAtATime)
                if parallel == 1 { #expect(quality.makespan == work) }
            }
            let unlimited = PlanQuality(
                plan: plan, inventory: inventory, parallel: plan.steps.count, batchSizes: [])
            #expect(unlimited.makespan == plan.estimate?.makespanSeconds)
        }
    }

    @Test("at scale the plan stays within 5% of the lower bound and beats batches of the same width")
    func scale() throws {
        let inventory = SyntheticOrganization.make(servers: 200, clusters: 20)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        let plan = try Planner(inventory: inventory, package: package).plan()
        let quality = PlanQuality(plan: plan, inventory: inventory, parallel: 16, batchSizes: [16])
        #expect(quality.ratio <= 1.05, "\(quality)")
        #expect(quality.makespan < quality.batches[16]!)
        #expect(quality.makespan < quality.oneAtATime / 8)
    }

    @Test(
        "every example with every package it takes, on 2, 3, 4 and 8 slots, within 2% of the bound; 100 servers on 16 too"
    )
    func everyExample() async throws {
        var planned = 0
        for example in Examples.all {
            let inventory = try Examples.load(example)
            for package in PackageCatalogue(inventory: inventory).packages {
                guard let plan = try? Planner(inventory: inventory, package: package).plan(), !plan.steps.isEmpty
                else { continue }
                planned += 1
                for parallel in [2, 3, 4, 8] {
                    await Task.yield()
                    let quality = PlanQuality(
                        plan: plan, inventory: inventory, parallel: parallel, batchSizes: [])
                    #expect(quality.ratio <= 1.02, "\(example) \(package.id) on \(parallel): \(quality)")
                }
            }
        }
        #expect(planned >= Examples.all.count)
        let inventory = SyntheticOrganization.make(servers: 100, clusters: 10)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        let plan = try Planner(inventory: inventory, package: package).plan()
        let quality = PlanQuality(plan: plan, inventory: inventory, parallel: 16, batchSizes: [])
        #expect(quality.ratio <= 1.02, "\(quality)")
    }

    @Test("the least time of steps counted by length is the least time of the same steps listed one by one")
    func spreadByLength() {
        var generator = SplitMix64(seed: 328_839)
        for _ in 0..<500 {
            let lengths = (0..<Int(generator.next() % 6 + 1)).map { _ in Int(generator.next() % 100 + 1) }
            let distinct = Set(lengths).sorted(by: >)
            let counts = distinct.map { _ in Int(generator.next() % 40) }
            let parallel = Int(generator.next() % 9 + 1)
            // Listed one by one, longest first: the work over the slots, and the k + 1 shortest of
            // the k·slots + 1 longest back to back.
            let listed = zip(distinct, counts).flatMap { Array(repeating: $0, count: $1) }
            var expected = (listed.reduce(0, +) + parallel - 1) / parallel
            for k in 0... {
                guard k * parallel < listed.count else { break }
                expected = max(expected, listed[(k * parallel - k)...(k * parallel)].reduce(0, +))
            }
            #expect(
                Graph.spread(lengths: distinct, counts: counts, parallel: parallel) == expected,
                "\(distinct) \(counts) on \(parallel)")
        }
        // Seven 45-minute backups on four slots: two rounds.
        #expect(Graph.spread(lengths: [45], counts: [7], parallel: 4) == 90)
    }

    @Test("a milestone waits for the longest steps before it, however they share the slots: the front-end pool")
    func roundsOfSlots() throws {
        // Six 45-minute backups before anything installs: on four slots two rounds, 90
        // minutes, not the 68 their work spread over the slots would say.
        let (inventory, _, plan) = try Examples.plan("e2003-front-end-pool.yaml", "exchange-2003-sp2")
        #expect(plan.steps.filter { $0.action == .backup && $0.phase == "prepare" }.count == 6)
        let quality = PlanQuality(plan: plan, inventory: inventory, parallel: 4, batchSizes: [])
        // Before: 3 h 45 min against a plan of 4 h 07 min (1.100).
        #expect(quality.lowerBound > 3 * 3600 + 45 * 60, "\(quality)")
        #expect(quality.makespan >= quality.lowerBound && quality.ratio <= 1.02, "\(quality)")
    }

    @Test("the bound counts work that cannot start before a chain or a milestone ends: mixed.yaml within 2%")
    func tighterBound() throws {
        let (inventory, package, plan) = try Examples.plan("mixed.yaml", "exchange-2003-sp2")
        let quality = PlanQuality(plan: plan, inventory: inventory, parallel: 4, batchSizes: [])
        let durations = ActionDurations(overrides: inventory.durations)
        let work = plan.steps.reduce(0) { $0 + durations.seconds(for: $1, package: package) }
        // Before: the work over four slots, 7 h 28 min against a plan of 8 h 05 min (1.084).
        #expect(quality.lowerBound > (work + 3) / 4)
        #expect(quality.ratio <= 1.02, "\(quality)")
        #expect(!quality.lowerBoundReason.contains("the work over"), "\(quality)")
    }

    @Test("on two slots an order tried ends sooner than the rule's, and a run keeps it: the front-end pool")
    func triedOrder() throws {
        let (inventory, package, plan) = try Examples.plan("e2003-front-end-pool.yaml", "exchange-2003-sp2")
        let seconds = plan.steps.map { ActionDurations().seconds(for: $0, package: package) }
        let schedule = ListSchedule(steps: plan.steps, seconds: seconds, parallel: 2)
        // The most work behind a step first: 7 h 00 min.
        let rule = schedule.makespan(priority: plan.remainingWork().map(Double.init))
        #expect(rule == 7 * 3600)
        let quality = PlanQuality(plan: plan, inventory: inventory, parallel: 2, batchSizes: [])
        #expect(quality.makespan < rule && quality.ratio <= 1.02, "\(quality)")
        // The same plan on the same slots gets the same order.
        #expect(StartOrder(plan: plan, parallel: 2).rank == StartOrder(plan: plan, parallel: 2).rank)
    }

    @Test("some slot runs several of the longest steps: the front-end pool on three slots is at its bound")
    func slotBound() throws {
        let (inventory, _, plan) = try Examples.plan("e2003-front-end-pool.yaml", "exchange-2003-sp2")
        let quality = PlanQuality(plan: plan, inventory: inventory, parallel: 3, batchSizes: [])
        // Before: 4 h 26 min, the work that cannot end in the last 2 h 56 min over 3 slots.
        #expect(quality.lowerBound == 4 * 3600 + 41 * 60, "\(quality)")
        #expect(quality.lowerBoundReason.contains("some slot runs 3 one after another"), "\(quality)")
        #expect(quality.makespan == quality.lowerBound)
    }

    @Test("one slot's share: every choice of k + 1 of the longest steps in its best order")
    func oneSlot() {
        // Three steps of 40, 45 and 45 minutes, the first free after 5 minutes and followed by
        // 56; the others free after 1 minute: best is the 40 first, ending at 5 + 130.
        let bound = SlotBound(
            heads: [5 * 60, 60, 60], tails: [56 * 60, 0, 0], seconds: [40 * 60, 45 * 60, 45 * 60], parallel: 1)
        #expect(bound.oneSlot(0, 1, 2) == 135 * 60)
        // Two of them: the two backups, 1 + 90 minutes.
        #expect(bound.share(of: 2, from: [0, 1, 2]) == 91 * 60)
        #expect(bound.share(of: 3, from: [0, 1, 2]) == 135 * 60)
    }

    @Test("a run keeps the inventory's own durations through its journal, and orders its steps on them")
    func ownDurations() throws {
        let (inventory, _, plan) = try Examples.plan("mixed.yaml", "exchange-2003-sp2")
        #expect(!inventory.durations.isEmpty)
        #expect(plan.estimate?.durations == inventory.durations)
        // As a run keeps it: the header and each step's JSON, read back.
        let stored = StoredPlan(plan)
        let read = try StoredPlan.assemble(header: stored.header, steps: stored.steps)
        #expect(read.estimate?.durations == inventory.durations)
        #expect(StartOrder(plan: read, parallel: 4).rank == StartOrder(plan: plan, parallel: 4).rank)
        // On the defaults the order differs: the run would not be the one measured.
        var usual = read
        usual.estimate?.durations = nil
        #expect(StartOrder(plan: usual, parallel: 4).rank != StartOrder(plan: plan, parallel: 4).rank)
    }
}
