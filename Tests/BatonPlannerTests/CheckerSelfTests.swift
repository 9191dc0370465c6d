import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

/// The checker is only worth something if it fails broken plans: each mutation here breaks
/// one rule of KB 328839 and must be reported.
@Suite("The plan checker catches broken plans")
struct CheckerSelfTests {
    func violations(
        _ mutate: (inout Plan) -> Void, example: String = "e2003-two-node-cluster.yaml",
        package: PackageID = "exchange-2003-sp2"
    ) throws -> [String] {
        let (inventory, pkg, plan) = try Examples.plan(example, package)
        var broken = plan
        mutate(&broken)
        return PlanChecker(inventory: inventory, package: pkg, plan: broken).violations(orders: 10, seed: 2)
    }

    /// Removes the steps matching `predicate`, rewiring their dependents to what they waited for.
    static func drop(_ plan: inout Plan, where predicate: (Step) -> Bool) {
        let dropped = plan.steps.filter(predicate)
        var replacement: [StepID: [StepID]] = [:]
        for step in dropped { replacement[step.id] = step.after.flatMap { replacement[$0] ?? [$0] } }
        plan.steps = plan.steps.filter { !predicate($0) }.map { step in
            var step = step
            step.after = step.after.flatMap { replacement[$0] ?? [$0] }
            return step
        }
    }

    @Test("no resources-offline before moving an EVS to an upgraded node")
    func missingOffline() throws {
        let found = try violations { Self.drop(&$0) { $0.action == .resourcesOffline } }
        #expect(found.contains { $0.contains("more than IP Address") || $0.contains("c1037b44") })
    }

    @Test("no Upgrade Exchange Virtual Server")
    func missingUpgrade() throws {
        let found = try violations { Self.drop(&$0) { $0.action == .upgradeVirtualServer } }
        #expect(found.contains { $0.contains("event 1025") })
    }

    @Test("no stop-cluster-service before an install")
    func missingStop() throws {
        let found = try violations { Self.drop(&$0) { $0.action == .stopClusterService } }
        #expect(found.contains { $0.contains("cluster-stop-service") })
    }

    @Test("no quiesce")
    func missingQuiesce() throws {
        let found = try violations { Self.drop(&$0) { $0.action == .quiesce } }
        #expect(found.contains { $0.contains("quiesce") })
    }

    @Test("installs not waiting for the backups")
    func installsBeforeBackups() throws {
        let found = try violations { plan in
            let ready = plan.steps.first { $0.name == "ready to install" }!.id
            for index in plan.steps.indices where plan.steps[index].after == [ready] { plan.steps[index].after = [] }
        }
        #expect(found.contains { $0.contains("backup-before") || $0.contains("release-notes") })
    }

    @Test("back-ends not waiting for the front-ends")
    func backEndsEarly() throws {
        let found = try violations(
            { plan in
                Self.drop(&plan) { $0.name == "all front-ends upgraded" }
                let ready = plan.steps.first { $0.name == "ready to install" }!.id
                for index in plan.steps.indices
                where plan.steps[index].action == .quiesce && plan.steps[index].host?.spelling.hasPrefix("MBX") == true
                {
                    plan.steps[index].after = [ready]
                }
            }, example: "e2003-front-end-pool.yaml")
        #expect(found.contains { $0.contains("front-end-first") || $0.contains("may run at once") })
    }

    @Test("a pool member that never leaves the pool")
    func poolMemberStaysIn() throws {
        let found = try violations(
            { plan in
                Self.drop(&plan) { $0.host == "OWA1" && ($0.action == .leavePool || $0.action == .rejoinPool) }
            }, example: "e2003-front-end-pool.yaml")
        #expect(found.contains { $0.contains("still serving its pool") })
    }

    @Test("a move of the Exchange group in an Exchange 5.5 cluster")
    func exchange55Move() throws {
        let found = try violations(
            { plan in
                let install = plan.steps.firstIndex { $0.action == .install }!
                var move = Step(
                    .moveGroup(group: "EXCH55", from: "ALPHA", to: "BETA"), rules: [.clusterStopService], why: "x")
                move.id = "s999"
                move.after = plan.steps[install].after
                move.phase = "x"
                plan.steps.insert(move, at: install)
                plan.steps[install + 1].after = ["s999"]
            }, example: "e55-cluster.yaml", package: "exchange-5.5-sp4")
        #expect(found.contains { $0.contains("e55-active-first") })
    }

    @Test("two steps on one host that may run at once")
    func concurrentOnHost() throws {
        let found = try violations { plan in
            let install = plan.steps.firstIndex { $0.action == .install && $0.package == "exchange-2003-sp2" }!
            plan.steps[install].after = [plan.steps.first { $0.name == "ready to install" }!.id]
        }
        #expect(found.contains { $0.contains("may run at once") })
    }
}
