import BatonKnowledge
import BatonModel
import BatonPlanner
import PropertyBased
import Testing

@Suite("Plan quality")
struct PlanQualityTests {
    @Test("never faster than the lower bound; one slot is all the work; unlimited slots is the estimate")
    func bounds() async {
        await propertyCheck(count: 60, input: Shapes.organization) { shape in
            let (inventory, package) = shape.build()
            guard let plan = try? Planner(inventory: inventory, package: package).plan() else { return }
            let durations = ActionDurations(overrides: inventory.durations)
            let work = plan.steps.reduce(0) { $0 + durations.seconds(for: $1, package: package) }
            for parallel in [1, 3, 8] {
                let quality = PlanQuality(
                    plan: plan, inventory: inventory, package: package, parallel: parallel, batchSizes: [1, 5])
                #expect(quality.makespan >= quality.lowerBound, "\(shape): \(quality)")
                #expect(quality.oneAtATime <= work)
                #expect(quality.batches[1] == quality.oneAtATime)
                #expect(quality.batches[5]! <= quality.oneAtATime)
                if parallel == 1 { #expect(quality.makespan == work) }
            }
            let unlimited = PlanQuality(
                plan: plan, inventory: inventory, package: package, parallel: plan.steps.count, batchSizes: [])
            #expect(unlimited.makespan == plan.estimate?.makespanSeconds)
        }
    }

    @Test("at scale the plan stays within 5% of the lower bound and beats batches of the same width")
    func scale() throws {
        let inventory = SyntheticOrganization.make(servers: 200, clusters: 20)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        let plan = try Planner(inventory: inventory, package: package).plan()
        let quality = PlanQuality(plan: plan, inventory: inventory, package: package, parallel: 16, batchSizes: [16])
        #expect(quality.ratio <= 1.05, "\(quality)")
        #expect(quality.makespan < quality.batches[16]!)
        #expect(quality.makespan < quality.oneAtATime / 8)
    }

    @Test("the bound counts work that cannot start before a chain or a milestone ends: mixed.yaml within 2%")
    func tighterBound() throws {
        let (inventory, package, plan) = try Examples.plan("mixed.yaml", "exchange-2003-sp2")
        let quality = PlanQuality(plan: plan, inventory: inventory, package: package, parallel: 4, batchSizes: [])
        let durations = ActionDurations(overrides: inventory.durations)
        let work = plan.steps.reduce(0) { $0 + durations.seconds(for: $1, package: package) }
        // Before: the work over four slots, 7 h 28 min against a plan of 8 h 05 min (1.084).
        #expect(quality.lowerBound > (work + 3) / 4)
        #expect(quality.ratio <= 1.02, "\(quality)")
        #expect(quality.lowerBoundReason.contains("cannot"))
    }
}
