import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import BatonRuns
import Foundation

/// `baton plan … --out FILE` and `baton run FILE`: the reviewed plan is the plan that runs
/// (rule `saved-plan`, docs/modern-exchange.md, "A plan reviewed, then run").
enum SavedPlanFile {
    /// A saved plan larger than this is not one Baton wrote for a reviewer.
    static let maximumSize = 512 << 20

    /// Writes `plan`, sealed with what it was made from, to `path`; says where, and how to run it.
    static func write(_ plan: Plan, inventory: Inventory, catalogue: String?, to path: String) throws {
        let inventoryBytes = try bytes(inventory.file, what: "the inventory")
        let catalogueBytes = try catalogue.map { (path: $0, bytes: try bytes($0, what: "the catalogue")) }
        let sealed = SavedPlan.seal(
            plan, inventory: inventory, inventoryBytes: inventoryBytes, catalogue: catalogueBytes)
        guard FileManager.default.createFile(atPath: path, contents: Data(JSONRenderer.render(sealed).utf8)) else {
            Terminal.error("error: cannot write \(path)")
            throw ExitCode(ExitStatus.badInput)
        }
        Terminal.out(
            "Saved the plan for \(plan.organization) to \(path): \(plan.steps.count) steps, sha256:\(sealed.digest ?? "").\nRun it as saved: baton run \(path)\n"
        )
    }

    /// Whether `path` holds a saved plan rather than an inventory: JSON, not YAML.
    static func isSavedPlan(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 256)) ?? Data()
        return head.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) } == UInt8(ascii: "{")
    }

    /// The saved plan at `path`, checked against the inventory and catalogue it names and the
    /// plan they give now: exit 2 when it was edited, 3 when what it was made from changed.
    static func load(_ path: String) throws -> (Inventory, Package, Plan) {
        let saved: Plan
        do {
            saved = try JSONRenderer.decode(String(decoding: try bytes(path, what: "the plan"), as: UTF8.self))
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw refuse(path, .edited(["not a plan Baton saved (\(Self.reason(error)))"]))
        }
        guard saved.digest != nil, let madeFrom = saved.madeFrom else {
            throw refuse(
                path, .edited(["not a saved plan: it has no digest; save one with baton plan … --out \(path)"]))
        }
        guard let inventoryBytes = try? bytes(madeFrom.inventory, what: "the inventory", quiet: true) else {
            throw refuse(path, .changed(["the inventory \(madeFrom.inventory) it was made from cannot be read"]))
        }
        let catalogueBytes = madeFrom.catalogue.flatMap { try? bytes($0, what: "the catalogue", quiet: true) }
        // The files as they are now, read once for both the digests and the plan.
        var inventory: Inventory
        do {
            inventory = try InventoryLoader.parse(
                bytes: inventoryBytes, file: madeFrom.inventory, reservedPackageIDs: PackageCatalogue.builtInIDs)
        } catch {
            throw refuse(
                path, .changed(["the inventory \(madeFrom.inventory) is no longer valid: \(error.description)"]))
        }
        if let catalogue = madeFrom.catalogue, catalogueBytes != nil,
            SavedPlan.sha256(catalogueBytes ?? []) == madeFrom.catalogueSHA256
        {
            inventory.packages += try Loading.packages(catalogue, beside: inventory)
        }
        let package: Package
        do {
            (package, _) = try SavedPlan.verify(
                saved, inventory: inventory, inventoryBytes: inventoryBytes, catalogueBytes: catalogueBytes)
        } catch {
            throw refuse(path, error)
        }
        return (inventory, package, saved)
    }

    /// Exit 3 when a server's build found now is not the one the plan was made for.
    static func checkBuilds(_ plan: Plan, path: String, now builds: [String: String]) throws {
        let changes = SavedPlan.buildChanges(plan, now: builds)
        guard changes.isEmpty else { throw refuse(path, .changed(changes)) }
    }

    static func refuse(_ path: String, _ refusal: SavedPlan.Refusal) -> ExitCode {
        switch refusal {
        case .edited(let problems):
            for problem in problems { Terminal.error("\(path): error: \(problem) (rule saved-plan)") }
            Terminal.error("Nothing was run. Save the plan again with baton plan … --out \(path), and review that one.")
            return ExitCode(ExitStatus.badInput)
        case .changed(let problems):
            for problem in problems { Terminal.error("\(path): refused (rule saved-plan): \(problem)") }
            Terminal.error(
                "Nothing was run: the plan was reviewed for an organization that has changed. Make and review it again (baton plan … --out \(path))."
            )
            return ExitCode(ExitStatus.refused)
        }
    }

    static func reason(_ error: any Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let context): context.debugDescription
        case DecodingError.keyNotFound(let key, _): "no '\(key.stringValue)'"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "at \(context.codingPath.map(\.stringValue).joined(separator: ".")): \(context.debugDescription)"
        default: "\(error)"
        }
    }

    static func bytes(_ path: String, what: String, quiet: Bool = false) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path),
            let data = try? handle.read(upToCount: maximumSize + 1), data.count <= maximumSize
        else {
            if !quiet { Terminal.error("error: cannot read \(what) \(path)") }
            throw ExitCode(ExitStatus.badInput)
        }
        try? handle.close()
        return Array(data)
    }
}
