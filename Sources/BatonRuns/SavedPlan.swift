import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import Crypto

/// A plan saved for review (`baton plan … --out FILE`) and run exactly as saved (rule
/// `saved-plan`): it carries the SHA-256 of its inventory and catalogue, the builds it was made
/// for, and its own digest over everything else in it.
public enum SavedPlan {
    /// The SHA-256 of `bytes`, in lowercase hexadecimal.
    public static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
    }

    /// The digest of `plan`: the SHA-256 of its JSON with no digest in it.
    public static func digest(of plan: Plan) -> String {
        var bare = plan
        bare.digest = nil
        return sha256(Array(JSONRenderer.render(bare).utf8))
    }

    /// Each Exchange server's build as a twin made from `inventory` reports it: what the
    /// preflight must still find when the plan runs.
    public static func builds(of inventory: Inventory) -> [String: String] {
        let twin = LabTwin(inventory: inventory)
        let servers = Set(inventory.servers.map(\.name.spelling))
        return twin.builds.filter { servers.contains($0.key) && $0.value != "-" }
    }

    /// `plan` with what it was made from and its digest.
    public static func seal(
        _ plan: Plan, inventory: Inventory, inventoryBytes: [UInt8], catalogue: (path: String, bytes: [UInt8])?
    ) -> Plan {
        var sealed = plan
        sealed.madeFrom = Plan.Source(
            inventory: inventory.file, inventorySHA256: sha256(inventoryBytes), catalogue: catalogue?.path,
            catalogueSHA256: catalogue.map { sha256($0.bytes) }, builds: builds(of: inventory))
        sealed.digest = nil
        sealed.digest = digest(of: sealed)
        return sealed
    }

    /// Why a saved plan does not run.
    public enum Refusal: Error, Sendable {
        /// Not a plan Baton saved, or one edited since (exit 2).
        case edited([String])
        /// What it was made from has changed (exit 3): every difference.
        case changed([String])
    }

    /// How `saved` differs from `replanned`, the plan its inventory and catalogue give now
    /// (sealed the same way): the first step that differs, else the first other part; nothing
    /// when they agree and its digest is its own.
    public static func edits(_ saved: Plan, replanned: Plan) -> [String] {
        for (index, step) in saved.steps.enumerated() {
            guard index < replanned.steps.count else {
                return ["step \(step.id) (\(step.summary)) is not in the plan its inventory gives"]
            }
            let planned = replanned.steps[index]
            if step != planned {
                return [
                    "step \(step.id) differs from the plan its inventory gives: saved '\(step.summary)' after \(step.after.map(\.rawValue).joined(separator: ", ")), planned '\(planned.summary)' after \(planned.after.map(\.rawValue).joined(separator: ", "))"
                ]
            }
        }
        if replanned.steps.count > saved.steps.count {
            let missing = replanned.steps[saved.steps.count]
            return ["step \(missing.id) (\(missing.summary)) of the plan its inventory gives is missing"]
        }
        var parts: [String] = []
        if saved.warnings != replanned.warnings { parts.append("its warnings") }
        if saved.package != replanned.package || saved.packages != replanned.packages { parts.append("its packages") }
        if saved.estimate != replanned.estimate { parts.append("its estimate") }
        if saved.organization != replanned.organization { parts.append("its organization") }
        if !parts.isEmpty { return ["\(parts.joined(separator: ", ")) differ from the plan its inventory gives"] }
        if saved.digest != digest(of: saved) {
            return ["its digest is not the SHA-256 of its contents: the file was changed after it was saved"]
        }
        return []
    }

    /// Checks `saved` against the inventory (and catalogue) it was made from, given as read
    /// now, and the plan they give now; the package and the plan to run when it holds.
    /// `.changed` when the inventory's or catalogue's bytes are not those it was made from or
    /// they no longer give a plan; `.edited` when the file is not as Baton saved it.
    public static func verify(
        _ saved: Plan, inventory: Inventory, inventoryBytes: [UInt8], catalogueBytes: [UInt8]?
    ) throws(Refusal) -> (Package, Plan) {
        guard saved.digest != nil, let madeFrom = saved.madeFrom else {
            throw .edited(["not a saved plan: it has no digest; save one with baton plan … --out FILE"])
        }
        var changed: [String] = []
        if sha256(inventoryBytes) != madeFrom.inventorySHA256 {
            changed.append("the inventory \(madeFrom.inventory) has changed since the plan was made")
        }
        if let catalogue = madeFrom.catalogue {
            if let catalogueBytes {
                if sha256(catalogueBytes) != madeFrom.catalogueSHA256 {
                    changed.append("the catalogue \(catalogue) has changed since the plan was made")
                }
            } else {
                changed.append("the catalogue \(catalogue) it was made from cannot be read")
            }
        }
        guard changed.isEmpty else { throw .changed(changed) }
        let what: RunService.PlanRequest.What
        if let target = saved.target {
            guard let parsed = UpdateTarget(target) else {
                throw .edited(["its target '\(target)' is not one Baton makes plans for"])
            }
            what = .target(parsed)
        } else {
            what = .package(saved.package.id)
        }
        let package: Package
        var replanned: Plan
        do {
            (package, replanned) = try RunService.plan(
                inventory, .init(what, limit: saved.limit?.joined(separator: ",")))
        } catch {
            throw .changed(["its inventory no longer gives a plan: \(error)"])
        }
        replanned = seal(
            replanned, inventory: inventory, inventoryBytes: inventoryBytes,
            catalogue: madeFrom.catalogue.map { (path: $0, bytes: catalogueBytes ?? []) })
        // The inventory's path as the plan names it, wherever it was read from now.
        replanned.madeFrom?.inventory = madeFrom.inventory
        replanned.digest = nil
        replanned.digest = digest(of: replanned)
        let edits = edits(saved, replanned: replanned)
        guard edits.isEmpty else { throw .edited(edits) }
        return (package, saved)
    }

    /// How the builds found now differ from those the plan was made for, server by server.
    public static func buildChanges(_ saved: Plan, now builds: [String: String]) -> [String] {
        guard let madeFrom = saved.madeFrom else { return [] }
        return madeFrom.builds.sorted { $0.key < $1.key }.compactMap { server, build in
            guard let found = builds[server], found != build else { return nil }
            return "\(server) runs \(found) now; the plan was made for \(build)"
        }
    }
}
