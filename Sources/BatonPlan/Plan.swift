import BatonKnowledge
import BatonModel

/// A rollout: a directed acyclic graph of steps (docs/plan.md). A step may start once every
/// step in its `after` has succeeded; steps with no path between them may run at once.
public struct Plan: Sendable, Hashable, Codable {
    public static let formatName = "baton-plan/1"

    public var format: String = Plan.formatName
    public var organization: String
    public var package: PackageSummary
    public var steps: [Step]
    public var warnings: [Warning]
    /// How long it should take and what users notice. An addition to Baton's formats.
    public var estimate: Estimate?
    /// What a plan toward a target (`--to latest`) was asked for: "latest", "latest-cu" or a
    /// monthly release's name; nil for a plan of one package. An addition to Baton's formats.
    public var target: String?
    /// Each package a plan toward a target installs and the servers that get it, in the
    /// catalogue's order; nil for a plan of one package. An addition to Baton's formats.
    public var packages: [Assignment]?
    /// The scope a canary plan was limited to (`--limit`), as given; nil for the whole
    /// organization. An addition to Baton's formats.
    public var limit: [String]?
    /// What a saved plan (`baton plan … --out FILE`) was made from. An addition to Baton's formats.
    public var madeFrom: Source?
    /// A saved plan's SHA-256 over the rest of its JSON. An addition to Baton's formats.
    public var digest: String?

    enum CodingKeys: String, CodingKey {
        case format, organization, package, steps, warnings, estimate, target, packages, limit, digest
        case madeFrom = "made-from"
    }

    public init(organization: String, package: PackageSummary, steps: [Step], warnings: [Warning], estimate: Estimate?)
    {
        self.organization = organization
        self.package = package
        self.steps = steps
        self.warnings = warnings
        self.estimate = estimate
    }

    /// The package as the plan names it.
    public struct PackageSummary: Sendable, Hashable, Codable {
        public var id: PackageID
        public var product: String
        public var kind: PackageKind
        public var level: Level?
        public var requires: Level?
        public var build: String?
        public var restart: RestartPolicy

        public init(_ package: Package) {
            id = package.id
            product = package.target.rawValue
            kind = package.kind
            level = package.level
            requires = package.requires
            build = package.build
            restart = package.restart
        }
    }

    /// Something an operator should know that is not a step: a server left alone, an outage
    /// KB 328839 makes unavoidable, a tension between KB 328839's instructions.
    public struct Warning: Sendable, Hashable, Codable {
        public var rule: Rule.ID
        public var message: String

        public init(rule: Rule.ID, message: String) {
            self.rule = rule
            self.message = message
        }
    }

    public func step(_ id: StepID) -> Step? { steps.first { $0.id == id } }

    /// The cumulative update each server installs in this plan, by host, in one pass.
    public func cumulativeUpdates() -> [HostName: PackageSummary] {
        var updates: [HostName: PackageSummary] = [:]
        for step in steps where step.action == .install {
            guard let host = step.host, let id = step.package else { continue }
            let package = self.package(id)
            if package.kind == .cumulativeUpdate { updates[host] = package }
        }
        return updates
    }

    /// A package a plan toward a target installs, and the servers that get it.
    public struct Assignment: Sendable, Hashable, Codable {
        public var package: PackageSummary
        public var servers: [HostName]

        public init(package: PackageSummary, servers: [HostName]) {
            self.package = package
            self.servers = servers
        }
    }

    /// The files and builds a saved plan was made from: running it is refused when any of
    /// them has changed since.
    public struct Source: Sendable, Hashable, Codable {
        /// The inventory's path as given, and the SHA-256 of its bytes.
        public var inventory: String
        public var inventorySHA256: String
        /// The added catalogue (`--catalogue`), if one was used.
        public var catalogue: String?
        public var catalogueSHA256: String?
        /// Each server's build as the inventory gives it ("15.2.1544.4"), which the preflight
        /// must still find.
        public var builds: [String: String]

        public init(
            inventory: String, inventorySHA256: String, catalogue: String?, catalogueSHA256: String?,
            builds: [String: String]
        ) {
            self.inventory = inventory
            self.inventorySHA256 = inventorySHA256
            self.catalogue = catalogue
            self.catalogueSHA256 = catalogueSHA256
            self.builds = builds
        }

        enum CodingKeys: String, CodingKey {
            case inventory, catalogue, builds
            case inventorySHA256 = "inventory-sha256"
            case catalogueSHA256 = "catalogue-sha256"
        }
    }

    /// Every package the plan installs: a target's, or its one package.
    public var installs: [PackageSummary] { packages?.map(\.package) ?? [package] }

    /// The package an install step names, as the plan describes it; the plan's own package for
    /// any other step or an id the plan does not list.
    public func package(_ id: PackageID?) -> PackageSummary {
        guard let id, let packages else { return package }
        return packages.first { $0.package.id == id }?.package ?? package
    }
}

/// A rollout refused because a service pack cannot do what is asked safely (exit code 3).
public struct PlanRefusal: Error, Sendable, Hashable, CustomStringConvertible {
    public var rule: Rule.ID
    public var message: String

    public init(rule: Rule.ID, message: String) {
        self.rule = rule
        self.message = message
    }

    public var description: String { "refused (rule \(rule)): \(message)" }
}

/// The package each step of a plan works with: the one an install names; for Active
/// Directory's preparation, the cumulative update whose media prepares it (the newest the plan
/// installs); the plan's own package otherwise.
public struct PlanPackages: Sendable {
    let main: Plan.PackageSummary
    let byID: [PackageID: Plan.PackageSummary]
    let preparing: Plan.PackageSummary

    public init(_ plan: Plan) {
        main = plan.package
        byID = Dictionary(plan.installs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let updates = plan.installs.filter { $0.kind == .cumulativeUpdate }
        preparing =
            updates.max { a, b in
                guard let left = a.build, let right = b.build else { return a.build == nil && b.build != nil }
                return Builds.isLower(left, than: right)
            } ?? plan.package
    }

    public subscript(_ step: Step) -> Plan.PackageSummary {
        if let id = step.package { return byID[id] ?? main }
        switch step.action {
        case .prepareSchema, .prepareAD, .prepareDomains, .waitReplication: return preparing
        default: return main
        }
    }
}
