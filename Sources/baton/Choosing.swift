import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonRuns
import Foundation

/// `--to latest`: a target as typed.
extension UpdateTarget: ExpressibleByArgument {
    public init?(argument: String) {
        self.init(argument)
    }
}

/// What a plan is for beyond `--package`: a target for every server, an added catalogue, a
/// canary's scope (docs/modern-exchange.md, "The monthly security update").
struct Choosing: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Instead of --package: every server to its own newest update: latest (its build's newest security update), latest-cu (the newest cumulative update, then its security update) or a monthly release's name (feb26).",
            valueName: "target"))
    var to: UpdateTarget?

    @Option(
        help: ArgumentHelp(
            "A YAML file of packages beyond the built-in catalogue, in the inventory's package format; also BATON_CATALOGUE.",
            valueName: "file"),
        completion: .file(extensions: ["yaml", "yml"]))
    var catalogue: String?

    @Option(
        help: ArgumentHelp(
            "A canary: only these DAGs, sites (site:NAME), roles (role:edge) or servers, comma-separated; the rest is left for a later run.",
            valueName: "names"))
    var limit: String?

    /// `--catalogue`, else `BATON_CATALOGUE` when set and not empty.
    var catalogueFile: String? { Self.catalogueFile(catalogue) }

    /// `option` (a `--catalogue`), else `BATON_CATALOGUE` when set and not empty.
    static func catalogueFile(_ option: String?) -> String? {
        if let option { return option }
        guard let file = ProcessInfo.processInfo.environment["BATON_CATALOGUE"], !file.isEmpty else { return nil }
        return file
    }

    /// The request for `package`, or this target; exit 2 when both or neither are given.
    func request(package: PackageID?, inventory: Inventory) throws -> RunServiceRequest {
        switch (package, to) {
        case (let package?, nil): return .init(.package(package), limit: limit)
        case (nil, let target?): return .init(.target(target), limit: limit)
        case (.some, .some):
            Terminal.error("error: give --package or --to, not both")
            throw ExitCode(ExitStatus.badInput)
        case (nil, nil):
            throw Loading.missingPackage(inventory)
        }
    }

    /// For a target or a canary on the lab twin: the inventory as the state directory's twin
    /// has it now, so that what earlier rehearsals did is not done again (rule `canary`), with
    /// a line saying which servers differ. Unchanged for a plan of one package, a fresh twin,
    /// real hosts, or a twin of another inventory.
    func current(
        _ inventory: Inventory, target: RunTarget, freshLab: Bool, state: LabCommand.StateOption,
        twin: LabCommand.TwinOption, quiet: Bool
    ) async throws -> Inventory {
        guard to != nil || limit != nil, target == .lab, !freshLab else { return inventory }
        let lab = try await state.lab(twin)
        guard try await lab.exists() else { return inventory }
        let twin = try await lab.load()
        guard twin.refusal(for: inventory, in: lab.store) == nil else { return inventory }
        let (current, updated) = twin.current(inventory)
        if !updated.isEmpty, !quiet {
            let shown =
                updated.prefix(12).map(\.spelling).joined(separator: ", ")
                + (updated.count > 12 ? " and \(updated.count - 12) more" : "")
            Terminal.error(
                "\(lab.store.place.prefix(1).uppercased() + lab.store.place.dropFirst()) already runs another build than \(inventory.file) says on \(shown): planned as it is now (--fresh-lab starts from the inventory).\n"
            )
        }
        return current
    }
}
