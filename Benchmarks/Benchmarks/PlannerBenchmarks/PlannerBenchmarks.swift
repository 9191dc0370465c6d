import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlanner
import Benchmark

/// The planner on generated organizations, from 100 to 100,000 servers (one cluster per ten
/// servers), planned and rendered to contract JSON.
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
}
