import BatonKnowledge
import BatonLab
import BatonModel
import Foundation

/// The bodies the API takes, each checked for unknown keys, and how an inventory reaches it.
extension APIRoutes {
    /// A JSON body whose keys are checked: a misspelt option must not change a rollout
    /// (`aproveAll` silently ignored would wait at a gate the caller meant to pass).
    protocol Body: Decodable {
        static var keys: Set<String> { get }
    }

    struct ApprovalRequest: Body {
        static let keys: Set<String> = ["gate"]
        var gate: String
    }

    struct ResumeRequest: Body {
        static let keys: Set<String> = ["speed", "parallel"]
        var speed: String?
        var parallel: Int?

        func settings() throws -> RunSettings {
            RunSettings(speed: try RunRequest.speed(speed), parallel: try RunRequest.parallel(parallel))
        }
    }

    /// An inventory given inline (YAML text) or as a path on the server.
    protocol InventorySource {
        var inventory: String? { get }
        var inventoryPath: String? { get }
    }

    struct PlanRequest: Body, InventorySource {
        static let keys: Set<String> = ["package", "inventory", "inventoryPath", "format"]
        var package: PackageID
        var inventory: String?
        var inventoryPath: String?
        var format: String?
    }

    struct RunRequest: Body, InventorySource {
        static let keys: Set<String> = [
            "package", "to", "limit", "plan", "inventory", "inventoryPath", "name", "speed", "parallel", "approveAll",
            "freshLab", "releaseNotes", "lab", "twin",
        ]
        /// Exactly one of `package`, `to` (a target: every server its own newest update) and
        /// `plan` (a plan saved with `baton plan … --out`, run exactly as saved).
        var package: PackageID?
        var to: String?
        /// A canary's scope, as `--limit` takes it.
        var limit: String?
        var plan: String?
        var inventory: String?
        var inventoryPath: String?
        var name: String?
        var speed: String?
        var parallel: Int?
        var approveAll: Bool?
        var freshLab: Bool?
        var releaseNotes: String?
        /// Rehearse on the lab twin even though the inventory has `hosts:`.
        var lab: Bool?
        /// Which lab twin (default: the default one).
        var twin: String?

        static func parallel(_ value: Int?) throws -> Int {
            guard let value else { return 4 }
            guard (1...1024).contains(value) else { throw APIError(.badRequest, "parallel takes 1 to 1024") }
            return value
        }

        static func speed(_ text: String?) throws -> LabSpeed {
            guard let speed = LabSpeed(text ?? "instant") else {
                throw APIError(.badRequest, "speed takes instant, real or a factor of at least 1")
            }
            return speed
        }
    }

}

extension APIRoutes.InventorySource {
    /// The validated inventory: 400 with every located problem when it is not one. A path is
    /// read only inside `folder`, never through a link out of it; without a folder only inline
    /// inventories are taken, and an error never quotes a file the server was not asked to read.
    /// Problems name the file as the caller named it; with `keepingWhereRead`, the inventory
    /// then records where it was read (a run reads it there again), else the caller's name.
    func loadInventory(from folder: String?, keepingWhereRead: Bool = false) throws -> Inventory {
        let reserved = PackageCatalogue.builtInIDs
        do {
            switch (inventory, inventoryPath) {
            case (let text?, nil):
                return try InventoryLoader.parse(text: text, file: "inventory.yaml", reservedPackageIDs: reserved)
            case (nil, let path?):
                guard let folder else {
                    throw APIError(
                        .badRequest,
                        "this server takes inventories inline ('inventory'); 'inventoryPath' needs 'baton serve --inventories DIR'"
                    )
                }
                // Read from where it resolved, named as the caller named it.
                let resolved = try Self.resolve(path, inside: folder)
                guard let handle = FileHandle(forReadingAtPath: resolved) else {
                    throw APIError(.badRequest, "the inventory '\(path)' cannot be read by the server")
                }
                defer { try? handle.close() }
                let data = (try? handle.read(upToCount: InventoryLoader.maximumSize + 1)) ?? Data()
                var inventory = try InventoryLoader.parse(bytes: Array(data), file: path, reservedPackageIDs: reserved)
                if keepingWhereRead { inventory.file = resolved }
                return inventory
            default:
                throw APIError(.badRequest, "give either 'inventory' (YAML text) or 'inventoryPath', not both")
            }
        } catch let errors as InventoryErrors {
            throw APIError(
                .badRequest, "the inventory has \(errors.errors.count) problem(s)",
                problems: errors.errors.map(\.description))
        }
    }

    /// `path` inside `folder`, links resolved: a relative path without `..` that stays inside
    /// the folder once every link is followed, naming a file that exists.
    static func resolve(_ path: String, inside folder: String) throws -> String {
        let refused = APIError(
            .badRequest, "no inventory '\(path)' in the server's inventories folder (a relative path inside it)")
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), !parts.contains(".."), !path.contains("\0") else { throw refused }
        guard let root = realpath(folder, nil) else { throw refused }
        defer { free(root) }
        let base = String(cString: root)
        guard let resolved = realpath(base + "/" + path, nil) else { throw refused }
        defer { free(resolved) }
        let target = String(cString: resolved)
        guard target.hasPrefix(base == "/" ? "/" : base + "/") else { throw refused }
        return target
    }
}
