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
