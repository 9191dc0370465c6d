import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

/// The repository's `examples/` folder, found from this file's path.
enum Examples {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("examples")

    static func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    static func load(_ name: String) throws -> Inventory {
        try InventoryLoader.load(path: path(name), reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    static var all: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter { $0.hasSuffix(".yaml") }
            .sorted()
    }

    static func plan(_ name: String, _ packageID: PackageID) throws -> (Inventory, Package, Plan) {
        let inventory = try load(name)
        let package = try #require(PackageCatalogue(inventory: inventory).package(packageID))
        return (inventory, package, try Planner(inventory: inventory, package: package).plan())
    }
}
