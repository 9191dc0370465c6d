import ArgumentParser
import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import BatonRuns
import CAllocator

typealias RunServiceRequest = RunService.PlanRequest

extension PlanFormat: ExpressibleByArgument {}

struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Prints the rollout plan for an inventory and a package.",
        discussion: """
            Every step says why it is there and which rules of KB 328839 put it there. Nothing is changed \
            anywhere: planning only reads the inventory.
            """)

    @Argument(help: "The inventory (YAML) describing the organization.")
    var inventory: String

    @Option(
        name: .long,
        help: "The package id (see 'baton packages'; without it, Baton says which packages apply to the inventory).",
        completion: Completions.packages)
    var package: PackageID?

    @OptionGroup var choosing: Choosing

    @Option(name: .long, help: "Output format: text, json, markdown, dot or mermaid.")
    var format: PlanFormat = .text

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Save the plan as JSON with the SHA-256 of its inventory, its catalogue and itself, for review; 'baton run FILE' runs exactly it.",
            valueName: "file"))
    var out: String?

    func run() throws {
        let (inventory, _, plan) = try Loading.plan(path: inventory, packageID: package, choosing: choosing)
        if let out { return try SavedPlanFile.write(plan, inventory: inventory, catalogue: choosing.catalogueFile, to: out) }
        guard format == .json else { return Terminal.out(format.render(plan)) }
        // Written as it is made: a plan of 100,000 servers is hundreds of megabytes of JSON.
        let output = Terminal.OutputThread()
        JSONRenderer.write(plan) { output.write($0) }
        output.finish()
    }
}

/// Reading what every command that works on an inventory needs, with the exit codes'
/// errors: located lines on stderr and exit 2.
enum Loading {
    static func inventory(path: String, catalogue: String? = nil) throws -> Inventory {
        var inventory: Inventory
        do {
            inventory = try InventoryLoader.load(path: path, reservedPackageIDs: PackageCatalogue.builtInIDs)
            // The YAML tree is gone: its memory goes back to the system rather than waiting in
            // the allocator beside the plan made next (a large organization's peak).
            _ = baton_release_free_memory()
        } catch {
            Terminal.error(error.description)
            throw ExitCode(ExitStatus.badInput)
        }
        if let catalogue { inventory.packages += try packages(catalogue, beside: inventory) }
        return inventory
    }

    /// The packages of a catalogue file, whose ids may be neither built-in nor the inventory's
    /// own; every problem located, exit 2.
    static func packages(_ path: String, beside inventory: Inventory) throws -> [Package] {
        var problems: [InventoryError] = []
        var packages: [Package] = []
        do {
            packages = try InventoryLoader.loadCatalogue(path: path, reservedPackageIDs: PackageCatalogue.builtInIDs)
        } catch {
            problems = error.errors
        }
        for package in packages {
            guard let own = inventory.packages.first(where: { $0.id == package.id }) else { continue }
            problems.append(
                InventoryError(
                    package.location ?? SourceLocation(file: path, line: 1, column: 1),
                    "package id '\(package.id)' is already declared in \(inventory.file)\(own.location.map { " at line \($0.line)" } ?? "")"
                ))
        }
        guard problems.isEmpty else {
            Terminal.error(InventoryErrors(problems).description)
            throw ExitCode(ExitStatus.badInput)
        }
        return packages
    }

    /// The inventory, the package and the plan; a refusal is printed naming its rule and
    /// exits with code 3 (Baton's exit codes).
    static func plan(path: String, packageID: PackageID?, choosing: Choosing? = nil) throws -> (
        Inventory, Package, Plan
    ) {
        try plan(try inventory(path: path, catalogue: choosing?.catalogueFile), packageID: packageID, choosing: choosing)
    }

    /// The package and the plan for an inventory already read.
    static func plan(_ inventory: Inventory, packageID: PackageID?, choosing: Choosing? = nil) throws -> (
        Inventory, Package, Plan
    ) {
        let request: RunServiceRequest
        if let choosing {
            request = try choosing.request(package: packageID, inventory: inventory)
        } else {
            guard let packageID else { throw missingPackage(inventory) }
            request = .init(.package(packageID))
        }
        do {
            let (package, plan) = try RunService.plan(inventory, request)
            return (inventory, package, plan)
        } catch {
            throw exit(error, inventory: inventory)
        }
    }

    static func inventoryAndPackage(path: String, packageID: PackageID) throws -> (Inventory, Package) {
        let inventory = try inventory(path: path)
        do {
            return (inventory, try RunService.package(packageID, in: inventory))
        } catch {
            throw exit(error, inventory: inventory)
        }
    }

    /// No `--package`: which packages apply to the inventory, exit 2.
    static func missingPackage(_ inventory: Inventory) -> ExitCode {
        let applying = RunService.packagesThatApply(to: inventory).map(\.id.spelling)
        Terminal.error(
            applying.isEmpty
                ? "error: give --package (or --to latest); no package of 'baton packages' applies to \(inventory.file)"
                : "error: give --package (or --to latest); these apply to \(inventory.file): \(applying.joined(separator: ", "))")
        return ExitCode(ExitStatus.badInput)
    }

    /// The planning error said on standard error, as the exit code it is (2 or 3).
    static func exit(_ error: RunService.PlanningError, inventory: Inventory) -> ExitCode {
        switch error {
        case .unknownPackage:
            Terminal.error("error: \(error)")
            return ExitCode(ExitStatus.badInput)
        case .badRequest(let problems):
            for problem in problems { Terminal.error("error: \(problem)") }
            return ExitCode(ExitStatus.badInput)
        case .refused:
            Terminal.error("\(inventory.file): error: \(error)")
            return ExitCode(ExitStatus.refused)
        }
    }
}
