import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlanner
import Foundation

/// A rollout on the lab twin of a state directory: recording a run and carrying it out, as
/// `baton run` and `baton serve` both do.
public struct LabRollout: Sendable {
    public let store: LabStore
    public let journal: any Journal

    public init(store: LabStore, journal: any Journal) {
        self.store = store
        self.journal = journal
    }

    /// Records run `id` of `plan`: the twin is the state directory's own, or a new one made
    /// from the inventory when there is none or `freshLab` asks for it; `faults` are armed in
    /// it first. The builds before are kept for the report.
    public func create(
        id: String, inventory: Inventory, package: Package, plan: Plan, freshLab: Bool, faults: [LabFault] = []
    ) throws -> LabTwin {
        var twin = store.exists && !freshLab ? try store.load() : LabTwin(inventory: inventory)
        for fault in faults { try twin.inject(fault) }
        try store.save(twin)
        try journal.createRun(
            RunRecord(
                id: id, organization: inventory.organization, package: package.id, inventory: inventory.file,
                state: .running, created: Date().timeIntervalSince1970, before: twin.builds),
            plan: plan)
        return twin
    }

    /// Runs (or resumes) `run` against the twin at `speed`; returns how it ended and the twin
    /// after it.
    public func execute(
        run: String, speed: LabSpeed, options: EngineOptions,
        onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) async throws -> (state: RunState, twin: LabTwin) {
        let target = LabTarget(twin: try store.load(), store: store, speed: speed)
        let engine = Engine(journal: journal, target: target, options: options, onEvent: onEvent)
        let final = try await engine.execute(run: run)
        return (final, await target.snapshot)
    }

    /// The next free run name: run-1, run-2, …
    public func nextRunName() throws -> String {
        let existing = Set(try journal.runs().map(\.id))
        var number = existing.count + 1
        while existing.contains("run-\(number)") { number += 1 }
        return "run-\(number)"
    }
}

extension LabTwin {
    /// Every machine's and virtual server's build now.
    public var builds: [String: String] {
        var builds: [String: String] = [:]
        for host in hosts.values { builds[host.name] = host.build ?? "-" }
        for group in groups.values where group.isVirtualServer {
            builds[group.name] =
                group.product.flatMap { product in group.level.flatMap { Builds.build(product, $0) } } ?? "-"
        }
        return builds
    }
}
