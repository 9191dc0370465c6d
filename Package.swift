// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "baton",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "baton", targets: ["baton"]),
        .library(name: "BatonPlanner", targets: ["BatonPlanner"]),
        .library(name: "BatonLab", targets: ["BatonLab"]),
        .library(name: "BatonEngine", targets: ["BatonEngine"]),
        .library(name: "BatonStore", targets: ["BatonStore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
    ],
    targets: [
        .target(name: "BatonModel", dependencies: [.product(name: "Yams", package: "Yams")]),
        .target(name: "BatonKnowledge", dependencies: ["BatonModel"]),
        .target(name: "BatonPlanner", dependencies: ["BatonModel", "BatonKnowledge"]),
        .target(name: "BatonEngine", dependencies: ["BatonModel", "BatonKnowledge", "BatonPlanner"]),
        .target(
            name: "BatonStore", dependencies: ["BatonEngine", "BatonPlanner", .product(name: "GRDB", package: "GRDB.swift")]),
        .target(
            name: "BatonLab",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlanner", "BatonEngine", .product(name: "Yams", package: "Yams"),
            ]),
        .executableTarget(
            name: "baton",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlanner", "BatonLab", "BatonEngine", "BatonStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "BatonModelTests",
            dependencies: ["BatonModel", .product(name: "PropertyBased", package: "swift-property-based")],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "BatonPlannerTests",
            dependencies: [
                "BatonModel", "BatonKnowledge", "BatonPlanner", "BatonLab",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
        .testTarget(
            name: "BatonLabTests", dependencies: ["BatonModel", "BatonKnowledge", "BatonPlanner", "BatonLab"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "BatonEngineTests", dependencies: ["BatonEngine", "BatonStore", "BatonPlanner", "BatonModel", "BatonKnowledge"]),
        .testTarget(name: "BatonCLITests", dependencies: ["baton"]),
    ],
    swiftLanguageModes: [.v6]
)
