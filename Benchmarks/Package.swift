// swift-tools-version: 6.1
import PackageDescription

/// Baton's benchmarks (package-benchmark), kept in their own package so the main build and
/// its tests do not compile the benchmark harness. Run from this folder:
/// `swift package --allow-writing-to-package-directory benchmark`.
let package = Package(
    name: "BatonBenchmarks",
    platforms: [.macOS(.v14)],
    dependencies: [
        .package(name: "baton", path: ".."),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PlannerBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "BatonPlan", package: "baton"),
                .product(name: "BatonPlanner", package: "baton"),
                .product(name: "BatonLab", package: "baton"),
                .product(name: "BatonEngine", package: "baton"),
                .product(name: "BatonStore", package: "baton"),
            ],
            path: "Benchmarks/PlannerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        )
    ]
)
