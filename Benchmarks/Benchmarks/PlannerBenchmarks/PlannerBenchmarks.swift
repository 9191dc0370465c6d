import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonStore
import Benchmark
import Foundation
import Synchronization

/// The planner on generated organizations, from 100 to 100,000 servers (one cluster per ten
/// servers), planned and rendered to the plan's JSON.
let benchmarks: @Sendable () -> Void = {
    let package = PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" }!
    let sizes: [(servers: Int, clusters: Int)] = [(100, 10), (1_000, 100), (10_000, 1_000), (100_000, 10_000)]
    for size in sizes {
        let inventory = SyntheticOrganization.make(servers: size.servers, clusters: size.clusters)
        let large = size.servers >= 100_000
        Benchmark(
            "plan to JSON, \(size.servers) servers + \(size.clusters) clusters",
            configuration: .init(
                metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident],
                scalingFactor: .one, maxDuration: .seconds(large ? 60 : 10), maxIterations: large ? 3 : 20)
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                let plan = try Planner(inventory: inventory, package: package).plan()
                blackHole(PlanFormat.json.render(plan))
            }
        }
    }
    // What `baton plan --format json` does, from the inventory's text to the last byte handed
    // on: reading on two threads, planning, and writing a megabyte at a time on two.
    for size in [(servers: 10_000, clusters: 1_000), (servers: 100_000, clusters: 10_000)] {
        let text = SyntheticOrganization.yaml(servers: size.servers, clusters: size.clusters)
        let large = size.servers >= 100_000
        Benchmark(
            "YAML to plan to JSON written, \(size.servers) servers + \(size.clusters) clusters",
            configuration: .init(
                metrics: [.wallClock, .cpuTotal, .peakMemoryResident], scalingFactor: .one,
                maxDuration: .seconds(large ? 60 : 10), maxIterations: large ? 5 : 20)
        ) { benchmark in
            for _ in benchmark.scaledIterations {
                let inventory = try InventoryLoader.parse(
                    text: text, file: "synthetic.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
                let plan = try Planner(inventory: inventory, package: package).plan()
                let written = Mutex(0)
                JSONRenderer.write(plan) { bytes in written.withLock { $0 += bytes.count } }
                blackHole(written.withLock { $0 })
            }
        }
    }
    let dags = SyntheticOrganization.modern(dags: 2_000)
    let cumulativeUpdate = PackageCatalogue.builtIn.first { $0.id == "exchange-2019-cu15" }!
    Benchmark(
        "plan to JSON, 2000 DAGs of four members (8004 servers, 40000 database copies)",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(20),
            maxIterations: 10)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let plan = try Planner(inventory: dags, package: cumulativeUpdate).plan()
            blackHole(PlanFormat.json.render(plan))
        }
    }
    // The monthly job: the same 2,000 DAGs at three builds (2019 CU14, 2019 CU15, SE RTM, a
    // third each), every server to its own build's newest security update in one plan.
    var mixed = dags
    for index in mixed.servers.indices where mixed.servers[index].role == .mailbox {
        let dag = Int(mixed.servers[index].name.spelling.dropFirst(3).prefix { $0 != "M" }) ?? 0
        if dag % 3 == 1 { mixed.servers[index].install.level = .cu15 }
        if dag % 3 == 2 {
            mixed.servers[index].install.product = .exchangeSE
            mixed.servers[index].install.level = .rtm
        }
    }
    let monthly = mixed
    Benchmark(
        "plan --to latest to JSON, 2000 DAGs of four members at three builds",
        configuration: .init(
            metrics: [.wallClock, .cpuTotal, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(20),
            maxIterations: 10)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            let plan = try Planner.plan(monthly, to: .latest, catalogue: PackageCatalogue())
            blackHole(PlanFormat.json.render(plan))
        }
    }
    let yaml = SyntheticOrganization.yaml(servers: 10_000, clusters: 1_000)
    Benchmark(
        "load and validate inventory YAML, 10000 servers + 1000 clusters",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(20), maxIterations: 10)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try InventoryLoader.parse(text: yaml, file: "synthetic.yaml"))
        }
    }
    let inventory = SyntheticOrganization.make(servers: 10_000, clusters: 1_000)
    Benchmark(
        "plan only, 10000 servers + 1000 clusters",
        configuration: .init(metrics: [.wallClock, .mallocCountTotal], maxDuration: .seconds(10), maxIterations: 20)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try Planner(inventory: inventory, package: package).plan())
        }
    }

    let labPlan = try! Planner(inventory: inventory, package: package).plan()
    Benchmark(
        "lab twin runs a full plan at instant speed, 10000 servers + 1000 clusters",
        configuration: .init(
            metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident], maxDuration: .seconds(60), maxIterations: 5)
    ) { benchmark in
        for _ in benchmark.scaledIterations {
            var twin = LabTwin(inventory: inventory, seed: 1)
            for step in labPlan.steps { blackHole(twin.perform(step)) }
            blackHole(twin)
        }
    }

    // The journal: durable step transitions (intent, then result: two commits a step), as any
    // writer makes them, and as a run's owner does (each write checks the run's lease); and
    // resuming a 100,000-step run whose steps all succeeded. On SQLite, and on PostgreSQL when
    // BATON_BENCH_POSTGRES names a database (scripts/bench-journal.sh starts one), side by side.
    // A PostgreSQL journal's connection pool runs in the process's background work.
    BackgroundWork.process.startForHarness()
    let sqlite = "sqlite:" + NSTemporaryDirectory() + "baton-bench-\(UUID().uuidString)/journal.sqlite"
    // "SQLite, on the caller's thread": the plain SQLiteJournal, each call on the task that makes
    // it, as before the journal had its own thread: the cost of that thread, measured in one run.
    var backends = [("SQLite", sqlite), ("SQLite, on the caller's thread", sqlite)]
    if let address = ProcessInfo.processInfo.environment["BATON_BENCH_POSTGRES"] {
        backends.append(("PostgreSQL", address))
    }
    /// The journal at `address` as Baton opens it, or the plain SQLite journal under it.
    @Sendable func open(_ backend: String, _ address: String) async throws -> any Journal {
        let journal = try await JournalLocation.parse(address).open()
        if backend.hasSuffix("on the caller's thread"), let queued = journal as? QueuedSQLiteJournal {
            return queued.base
        }
        return journal
    }
    let journalPlan = try! Planner(inventory: SyntheticOrganization.make(servers: 100, clusters: 10), package: package)
        .plan()
    for (backend, address) in backends {
        for fenced in [false, true] {
            Benchmark(
                "journal (\(backend)): 1000 steps begun and finished durably\(fenced ? ", fenced by a lease" : "")",
                configuration: .init(metrics: [.wallClock, .throughput], maxDuration: .seconds(30), maxIterations: 5)
            ) { benchmark in
                var journal = try await open(backend, address)
                let run = RunID("r-\(UUID().uuidString)")
                let lease = try await journal.createOwnedRun(
                    RunRecord(
                        id: run, organization: "o", package: package.id, inventory: "i", state: .running, created: 0),
                    id: run, plan: journalPlan, owner: .current, expiry: 15, claims: [], target: .lab,
                    inventoryText: nil)
                if fenced { journal = journal.fenced(by: lease) }
                benchmark.startMeasurement()
                for index in 0..<1000 {
                    let step = journalPlan.steps[index % journalPlan.steps.count].id
                    try await journal.begin(run: run, step: step)
                    try await journal.finish(run: run, step: step, state: .succeeded, message: "ok")
                }
                benchmark.stopMeasurement()
            }
        }
    }

    // Durable transitions as a run makes them: the engine over a 100-server organization's plan,
    // 32 steps in flight on a target that answers at once; steps that start or end together
    // share one commit (group commit), against one commit per transition.
    struct Instant: Target {
        func perform(_ step: Step, run: RunID) async throws -> StepResult { StepResult(succeeded: true, message: "") }
        func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool { false }
    }
    for (backend, address) in backends {
        for grouped in [false, true] {
            Benchmark(
                "engine (\(backend)): a \(journalPlan.steps.count)-step run, 32 in flight, \(grouped ? "group commit" : "a commit per transition")",
                configuration: .init(metrics: [.wallClock], maxDuration: .seconds(60), maxIterations: 5)
            ) { benchmark in
                let journal = try await open(backend, address)
                let run = RunID("r-\(UUID().uuidString)")
                try await journal.createRun(
                    RunRecord(
                        id: run, organization: "o", package: package.id, inventory: "i", state: .running, created: 0),
                    plan: journalPlan)
                var options = EngineOptions(parallel: 32, approveAll: true)
                options.groupCommit = grouped
                benchmark.startMeasurement()
                let state = try await Engine(journal: journal, target: Instant(), options: options, onEvent: { _ in })
                    .execute(run: run)
                benchmark.stopMeasurement()
                precondition(state == .completed)
            }
        }
    }

    // Resuming a large run: every step done (the engine reads what is left and finds nothing),
    // and its last 1,000 steps still to do on a target that answers at once.
    let bigPlan = try! Planner(inventory: SyntheticOrganization.make(servers: 8_000, clusters: 700), package: package)
        .plan()
    for (backend, address) in backends {
        for left in [0, 1_000] {
            Benchmark(
                "resume (\(backend)) a \(bigPlan.steps.count)-step run\(left == 0 ? "" : ", its last \(left) steps to do")",
                configuration: .init(
                    metrics: [.wallClock, .peakMemoryResident], maxDuration: .seconds(60), maxIterations: 3)
            ) { benchmark in
                let journal = try await open(backend, address)
                let run = RunID("r-\(UUID().uuidString)")
                try await journal.createRun(
                    RunRecord(
                        id: run, organization: "o", package: package.id, inventory: "i", state: .running, created: 0),
                    plan: bigPlan)
                try await journal.markAll(run: run, .succeeded)
                if left > 0 {
                    try await journal.record(
                        run: run, bigPlan.steps.suffix(left).map { StepChange.finish($0.id, .pending, message: "") })
                }
                struct Idle: Target {
                    func perform(_ step: Step, run: RunID) async throws -> StepResult {
                        StepResult(succeeded: true, message: "")
                    }
                    func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool { true }
                }
                benchmark.startMeasurement()
                let state = try await Engine(
                    journal: journal, target: Idle(), options: EngineOptions(parallel: 32, approveAll: true),
                    onEvent: { _ in }
                ).execute(run: run)
                benchmark.stopMeasurement()
                precondition(state == .completed)
            }
        }
    }
}
