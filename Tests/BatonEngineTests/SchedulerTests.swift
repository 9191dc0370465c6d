import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import HeapModule
import Testing

/// The scheduler alone: state in, decisions out, no journal, no target, no clock.
@Suite("The scheduler")
struct SchedulerTests {
    static func plan(servers: Int = 20, clusters: Int = 2) throws -> Plan {
        let inventory = SyntheticOrganization.make(servers: servers, clusters: clusters)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        return try Planner(inventory: inventory, package: package).plan()
    }

    static func fresh(_ plan: Plan, parallel: Int = 4, approveAll: Bool = true, maxFailedHosts: Int = 0) -> Scheduler {
        Scheduler(
            plan: plan, state: Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.id, .pending) }), approvals: [],
            settings: .init(parallel: parallel, approveAll: approveAll, maxFailedHosts: maxFailedHosts))
    }

    static func started(_ decisions: [Scheduler.Decision]) -> [Step] {
        decisions.compactMap { if case .start(let step) = $0 { step } else { nil } }
    }

    @Test(
        "every step starts once, after its predecessors, never more than the slots at once (gates and milestones take none)"
    )
    func order() throws {
        let plan = try Self.plan()
        var scheduler = Self.fresh(plan, parallel: 3)
        var done = Set<StepID>(), order: [StepID] = []
        var running: [Step] = []
        while true {
            let starting = Self.started(scheduler.next())
            for step in starting { #expect(step.after.allSatisfy(done.contains), "\(step.id) before its predecessors") }
            running += starting
            #expect(running.filter(\.takesSlot).count <= 3)
            guard !running.isEmpty else { break }
            let step = running.removeFirst()
            scheduler.finished(step.id, .succeeded)
            done.insert(step.id)
            order.append(step.id)
        }
        #expect(order.count == plan.steps.count && Set(order).count == plan.steps.count)
        #expect(scheduler.ending == .completed)
    }

    @Test(
        "driven on the estimated durations, a run ends when `baton quality` says: the examples that need a tried order, on two and three slots",
        arguments: [
            ("e2000-front-back.yaml", "exchange-2000-sp3", 2), ("e2003-front-end-pool.yaml", "exchange-2003-sp2", 2),
            ("e2003-front-end-pool.yaml", "exchange-2003-sp2", 3), ("mixed.yaml", "exchange-2003-sp2", 2),
        ])
    func asQualitySays(example: String, packageID: String, parallel: Int) throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/\(example)").path
        let inventory = try InventoryLoader.load(path: path, reservedPackageIDs: PackageCatalogue.builtInIDs)
        let package = try #require(PackageCatalogue(inventory: inventory).package(PackageID(packageID)))
        let plan = try Planner(inventory: inventory, package: package).plan()
        let durations = ActionDurations(overrides: inventory.durations)
        var scheduler = Self.fresh(plan, parallel: parallel)
        // A clock of its own: each started step ends after its estimated duration.
        var running = Heap<Ending>()
        var now = 0
        while true {
            for step in Self.started(scheduler.next()) {
                running.insert(Ending(at: now + durations.seconds(for: step, package: package), id: step.id.rawValue))
            }
            #expect(running.unordered.filter { plan.step(StepID($0.id))!.takesSlot }.count <= parallel)
            guard let ended = running.popMin() else { break }
            now = ended.at
            scheduler.finished(StepID(ended.id), .succeeded)
            // Steps that end together are all heard of before anything more starts.
            while let next = running.min, next.at == now {
                scheduler.finished(StepID(running.removeMin().id), .succeeded)
            }
        }
        #expect(scheduler.ending == .completed)
        let quality = PlanQuality(
            plan: plan, inventory: inventory, parallel: parallel, batchSizes: [])
        #expect(now == quality.makespan, "\(quality)")
        #expect(quality.ratio <= 1.02, "\(quality)")
    }

    struct Ending: Comparable {
        var at: Int
        var id: String

        static func < (lhs: Ending, rhs: Ending) -> Bool { (lhs.at, lhs.id) < (rhs.at, rhs.id) }
    }

    @Test("a gate waits, said once, until approved; then its steps go on")
    func gate() throws {
        let plan = try Self.plan()
        var scheduler = Self.fresh(plan, approveAll: false)
        let gate = try #require(plan.steps.first { $0.gate != nil })
        var waits = 0, progressed = true
        while progressed {
            progressed = false
            for decision in scheduler.next() {
                if case .waitForApproval(let step, _) = decision, step.id == gate.id { waits += 1 }
                if case .start(let step) = decision {
                    scheduler.finished(step.id, .succeeded)
                    progressed = true
                }
            }
        }
        #expect(waits == 1)
        #expect(scheduler.isWaitingForApproval)
        #expect(
            scheduler.ending
                == .halted(
                    blocked: Dictionary(
                        uniqueKeysWithValues: plan.steps.filter { scheduler.state[$0.id] == .pending }.map {
                            ($0.id, "waiting for an approval")
                        })))
        scheduler.approvalsChanged([gate.gate!])
        #expect(Self.started(scheduler.next()).map(\.id) == [gate.id])
    }

    @Test("a failure halts new work and blocks what depends on it; more failed hosts may be tolerated")
    func failure() throws {
        let plan = try Self.plan()
        for tolerated in [0, 1] {
            var scheduler = Self.fresh(plan, parallel: 1, maxFailedHosts: tolerated)
            let install = try #require(plan.steps.first { $0.action == .install })
            var failed = false
            loop: while true {
                let starting = Self.started(scheduler.next())
                guard !starting.isEmpty else { break }
                for step in starting {
                    let fails = step.id == install.id
                    scheduler.finished(step.id, fails ? .failed : .succeeded)
                    failed = failed || fails
                }
                if failed, tolerated == 0 { #expect(Self.started(scheduler.next()).isEmpty); break loop }
            }
            guard case .halted(let blocked) = scheduler.ending else {
                Issue.record("a failed install cannot complete")
                continue
            }
            let dependents = plan.steps.filter { $0.after.contains(install.id) }.map(\.id)
            #expect(dependents.allSatisfy { blocked[$0] != nil })
            #expect(scheduler.halted == (tolerated == 0))
        }
    }

    @Test("a stop lets running steps finish and starts nothing new, saying why")
    func stop() throws {
        let plan = try Self.plan()
        var scheduler = Self.fresh(plan, parallel: 2)
        let first = Self.started(scheduler.next())
        scheduler.stop("stopped by SIGINT")
        #expect(Self.started(scheduler.next()).isEmpty)
        for step in first { scheduler.finished(step.id, .succeeded) }
        #expect(Self.started(scheduler.next()).isEmpty)
        guard case .halted(let blocked) = scheduler.ending else {
            Issue.record("stopped runs halt")
            return
        }
        #expect(blocked.values.allSatisfy { $0 == "not started: stopped by SIGINT; resume the run" })
    }

    @Test("aborting, only the steps that bring a virtual server back online start")
    func abort() throws {
        let plan = try Self.plan(servers: 4, clusters: 1)
        var scheduler = Self.fresh(plan, parallel: 1)
        let offline = try #require(plan.steps.first { $0.action == .resourcesOffline })
        while scheduler.state[offline.id] != .succeeded {
            let starting = Self.started(scheduler.next())
            try #require(!starting.isEmpty)
            for step in starting { scheduler.finished(step.id, .succeeded) }
        }
        scheduler.abort()
        var recovered: [Step] = []
        while case let starting = Self.started(scheduler.next()), !starting.isEmpty {
            recovered += starting
            for step in starting { scheduler.finished(step.id, .succeeded) }
        }
        #expect(
            recovered.contains { $0.action == .resourcesOnline && $0.group == offline.group },
            "\(recovered.map(\.summary))")
        #expect(recovered.allSatisfy { $0.group == offline.group || $0.action == .resourcesOnline })
        #expect(!recovered.contains { $0.action == .install && $0.host != nil && $0.group == nil })
    }

    @Test(
        "of the ready steps, the one with the most work behind it takes the slot first; gates and milestones need none")
    func priority() throws {
        let plan = try Self.plan()
        var scheduler = Self.fresh(plan, parallel: 1)
        let remaining = plan.remainingWork()
        let index = Dictionary(uniqueKeysWithValues: plan.steps.enumerated().map { ($1.id, $0) })
        var done = Set<StepID>()
        while case let starting = Self.started(scheduler.next()), !starting.isEmpty {
            let ready = plan.steps.filter { !done.contains($0.id) && $0.after.allSatisfy(done.contains) }
            // Every ready gate and milestone starts; of the rest, one, with the most work behind it.
            #expect(Set(ready.filter { !$0.takesSlot }.map(\.id)) == Set(starting.filter { !$0.takesSlot }.map(\.id)))
            let working = starting.filter(\.takesSlot)
            #expect(working.count <= 1)
            for step in working {
                #expect(ready.filter(\.takesSlot).allSatisfy { remaining[index[$0.id]!] <= remaining[index[step.id]!] })
            }
            for step in starting {
                scheduler.finished(step.id, .succeeded)
                done.insert(step.id)
            }
        }
        #expect(scheduler.ending == .completed)
    }

    @Test(
        "resumed from the unfinished part of its plan, a run makes the decisions it makes from the whole plan",
        arguments: [false, true])
    func unfinishedPart(aborting: Bool) async throws {
        let plan = try Self.plan(servers: 12, clusters: 3)
        var recoveries = 0
        for cut in stride(from: 0, through: plan.steps.count, by: 17) {
            // Other tests wait on timers meanwhile: the shared threads are handed back often.
            await Task.yield()
            // The run so far: `cut` steps done, in the scheduler's own order.
            var first = Self.fresh(plan, parallel: 1)
            var done = 0
            while done < cut, case let starting = Self.started(first.next()), !starting.isEmpty {
                for step in starting {
                    first.finished(step.id, .succeeded)
                    done += 1
                }
            }
            let records = plan.steps.map {
                StepRecord(
                    id: $0.id, action: $0.action.rawValue, state: first.state[$0.id] ?? .pending, attempts: 0,
                    message: "")
            }
            let part = UnfinishedPart(whole: plan, steps: records)
            #expect(part.plan.steps.allSatisfy { part.state[$0.id] != .succeeded || $0.action.isResourceMove })
            let settings = Scheduler.Settings(parallel: 3, approveAll: true, maxFailedHosts: 0)
            var whole = Scheduler(
                plan: plan, state: Dictionary(uniqueKeysWithValues: records.map { ($0.id, $0.state) }), approvals: [],
                settings: settings)
            var resumed = Scheduler(plan: part.plan, state: part.state, approvals: [], settings: settings)
            if aborting {
                whole.abort()
                resumed.abort()
            }
            // Both driven alike: the same steps start, in the same order, to the same end.
            var running: [StepID] = []
            while true {
                let started = Self.started(whole.next()).map(\.id)
                #expect(Self.started(resumed.next()).map(\.id) == started, "cut at \(cut)")
                running += started
                guard !running.isEmpty else { break }
                let id = running.removeFirst()
                whole.finished(id, .succeeded)
                resumed.finished(id, .succeeded)
                if aborting { recoveries += 1 }
            }
            switch (whole.ending, resumed.ending) {
            case (.completed, .completed): break
            case (.halted(let a), .halted(let b)): #expect(a == b.filter { a[$0.key] != nil } && a.count == b.count)
            default: Issue.record("cut at \(cut): \(whole.ending) against \(resumed.ending)")
            }
        }
        // Aborted, some cuts leave a virtual server offline, which both bring back online.
        #expect(!aborting || recoveries > 0)
    }
}

extension Action {
    fileprivate var isResourceMove: Bool { self == .resourcesOffline || self == .resourcesOnline }
}
