// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "baton",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "baton", targets: ["baton"]),
        .library(name: "BatonPlan", targets: ["BatonPlan"]),
        .library(name: "BatonPlanner", targets: ["BatonPlanner"]),
        .library(name: "BatonLab", targets: ["BatonLab"]),
        .library(name: "BatonEngine", targets: ["BatonEngine"]),
        .library(name: "BatonStore", targets: ["BatonStore"]),
        .library(name: "BatonServer", targets: ["BatonServer"]),
        .library(name: "BatonRemote", targets: ["BatonRemote"]),
        .library(name: "BatonRuns", targets: ["BatonRuns"]),
        .library(name: "BatonNotify", targets: ["BatonNotify"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.0"),
    ],
    targets: [
        // libyaml (its C module, CYaml) comes with Yams.
        .target(name: "BatonModel", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "CAllocator"),
        // The commit a release was built from (scripts/release.sh).
        .target(name: "CBuildInfo"),
        .target(name: "BatonKnowledge", dependencies: ["BatonModel"]),
        .target(name: "BatonPlan", dependencies: ["BatonModel", "BatonKnowledge"]),
        .target(
            name: "BatonPlanner",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlan",
                .product(name: "Collections", package: "swift-collections"),
            ]),
        .target(
            name: "BatonEngine",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlan", "BatonPlanner",
                .product(name: "Collections", package: "swift-collections"),
            ]),
        .target(
            name: "BatonStore",
            dependencies: [
                "BatonEngine", "BatonPlan", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        .target(
            name: "BatonLab",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlan", "BatonPlanner", "BatonEngine",
            ]),
        .target(
            name: "BatonRemote",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlan", "BatonEngine",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]),
        .target(
            name: "BatonNotify",
            dependencies: [
                "BatonModel",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]),
        .target(
            name: "BatonRuns",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlan", "BatonPlanner", "BatonEngine", "BatonStore", "BatonLab", "BatonRemote",
                "BatonNotify",
                .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .target(
            name: "BatonServer",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlan", "BatonPlanner", "BatonLab", "BatonEngine", "BatonStore",
                "BatonRuns",
                "BatonRemote",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.embedInCode("Resources/openapi.yaml"), .embedInCode("Resources/dashboard.html")]
        ),
        .executableTarget(
            name: "baton",
            dependencies: [
                "CAllocator", "CBuildInfo", "BatonModel", "BatonKnowledge", "BatonPlan", "BatonPlanner", "BatonLab",
                "BatonEngine",
                "BatonStore", "BatonServer",
                "BatonRemote", "BatonRuns",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "BatonModelTests",
            dependencies: ["BatonModel", "BatonKnowledge", .product(name: "PropertyBased", package: "swift-property-based")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "BatonPlannerTests",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlan", "BatonPlanner", "BatonLab",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "BatonLabTests",
            dependencies: ["BatonModel", "BatonKnowledge", "BatonPlan", "BatonPlanner", "BatonLab", "BatonEngine"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "BatonEngineTests",
            dependencies: [
                "BatonEngine", "BatonStore", "BatonPlan", "BatonPlanner", "BatonModel", "BatonKnowledge", "BatonLab",
                "BatonRuns",
                .product(name: "Collections", package: "swift-collections"),
            ]),
        .testTarget(
            name: "BatonCLITests",
            dependencies: [
                "baton", "BatonTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            exclude: ["Golden"]),
        .target(name: "BatonTestSupport", path: "Tests/BatonTestSupport"),
        .testTarget(
            name: "BatonStoreTests",
            dependencies: [
                "BatonStore", "BatonEngine", "BatonPlan", "BatonPlanner", "BatonModel", "BatonKnowledge", "BatonLab",
                "BatonTestSupport", .product(name: "GRDB", package: "GRDB.swift"),
            ]),
        .testTarget(
            name: "BatonServerTests",
            dependencies: ["BatonServer", "BatonStore", "BatonEngine", "BatonLab", "BatonRuns"]),
        .testTarget(
            name: "BatonRemoteTests",
            dependencies: [
                "BatonRemote", "BatonModel", "BatonPlan", "BatonPlanner", "BatonEngine", "BatonStore", "BatonKnowledge",
            ],
            resources: [.copy("Fixtures")]),
    ],
    swiftLanguageModes: [.v6]
)
