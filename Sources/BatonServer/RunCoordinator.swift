import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlanner
import BatonStore
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// How a run started through the API is carried out.
public struct RunSettings: Sendable, Hashable {
    public var speed: LabSpeed
    public var parallel: Int
    /// Approve every gate up front, as `baton run --yes` does.
    public var approveAll: Bool

    public init(speed: LabSpeed = .instant, parallel: Int = 4, approveAll: Bool = false) {
        self.speed = speed
        self.parallel = max(1, parallel)
        self.approveAll = approveAll
    }
}

/// Carries out the runs the API starts, against the lab twin of the state directory, and
/// owns them: each run is a child task of this service, so a graceful shutdown stops
/// scheduling new steps, lets the running ones finish and leaves every run journaled and
/// resumable. One run at a time acts on the twin, as one rollout at a time acts on an
/// organization.
public final class RunCoordinator: Service, Sendable {
    public let journal: SQLiteJournal
    public let rollout: LabRollout
    let logger: Logger
    let jobs: AsyncStream<(run: String, settings: RunSettings)>
    let queue: AsyncStream<(run: String, settings: RunSettings)>.Continuation
    /// The run acting on the twin now, if any, and whether the service is shutting down.
    let state = Mutex<(active: String?, stopping: Bool)>((nil, false))

    public init(journal: SQLiteJournal, store: LabStore, logger: Logger) {
        self.journal = journal
        self.rollout = LabRollout(store: store, journal: journal)
        self.logger = logger
        (jobs, queue) = AsyncStream.makeStream()
    }

    public var isStopping: Bool { state.withLock { $0.stopping } }

    public var activeRun: String? { state.withLock { $0.active } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                for await job in jobs {
                    group.addTask { await self.execute(job.run, job.settings) }
                }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.queue.finish()
        }
    }

    /// Plans `inventory` for `packageID` and starts the run. Throws `APIError` for bad input
    /// (400, every problem located), a refusal (422, naming the rule) or a busy twin (409).
    public func start(
        inventory: Inventory, packageID: String, name: String?, freshLab: Bool, releaseNotes: String?,
        settings: RunSettings, by caller: Caller
    ) throws -> String {
        let (package, plan) = try Self.plan(inventory, packageID)
        let id = try name ?? rollout.nextRunName()
        guard try journal.run(id) == nil else {
            throw APIError(.conflict, "a run named \(id) exists already; resume it or choose another name")
        }
        try claim(id)
        do {
            _ = try rollout.create(id: id, inventory: inventory, package: package, plan: plan, freshLab: freshLab)
            if let releaseNotes { try journal.setReleaseNotes(run: id, link: releaseNotes) }
            try journal.audit(run: id, action: "started", by: caller.name)
        } catch {
            release(id)
            throw error
        }
        queue.yield((id, settings))
        return id
    }

    /// Continues a halted or aborted run, as `baton resume` does.
    public func resume(_ id: String, settings: RunSettings, by caller: Caller) throws {
        guard let record = try journal.run(id) else { throw APIError(.notFound, "no run '\(id)'") }
        guard record.state != .completed else { throw APIError(.conflict, "run \(id) is completed already") }
        try claim(id)
        if record.state == .aborted { try journal.setState(run: id, .halted) }
        try journal.audit(run: id, action: "resumed", by: caller.name)
        queue.yield((id, settings))
    }

    /// Stops scheduling the run's steps; running steps finish, and a virtual server caught
    /// offline is brought back online (the engine sees the journal's state).
    public func abort(_ id: String, by caller: Caller) throws {
        guard let record = try journal.run(id) else { throw APIError(.notFound, "no run '\(id)'") }
        guard record.state != .completed else { throw APIError(.conflict, "run \(id) is completed already") }
        try journal.setState(run: id, .aborted)
        try journal.audit(run: id, action: "aborted", by: caller.name)
    }

    /// Records the approval; a run waiting at that gate in this server continues by itself.
    public func approve(_ id: String, gate: String, by caller: Caller) throws {
        guard let plan = try journal.plan(of: id) else { throw APIError(.notFound, "no run '\(id)'") }
        let gates = plan.steps.compactMap(\.gate)
        guard gates.contains(gate) else {
            throw APIError(
                .badRequest, "run \(id) has no gate '\(gate)'; its gates: \(gates.joined(separator: ", "))")
        }
        try journal.approve(run: id, gate: gate, by: caller.name)
    }

    /// The plan of `inventory` for a package, or the API's error for an unknown package or a
    /// refusal (contract §3).
    public static func plan(_ inventory: Inventory, _ packageID: String) throws -> (Package, Plan) {
        let catalogue = PackageCatalogue(inventory: inventory)
        guard let package = catalogue.package(packageID) else {
            throw APIError(
                .badRequest,
                "unknown package '\(packageID)'; known packages: \(catalogue.packages.map(\.id).joined(separator: ", "))"
            )
        }
        do {
            return (package, try Planner(inventory: inventory, package: package).plan())
        } catch {
            throw APIError(
                .unprocessableContent, "refused by rule \(error.rule): \(error.message)", rule: error.rule.rawValue)
        }
    }

    func claim(_ id: String) throws {
        try state.withLock { state in
            if state.stopping { throw APIError(.serviceUnavailable, "the server is shutting down") }
            if let active = state.active {
                throw APIError(
                    .conflict, "run \(active) is acting on the lab twin; wait for it, or abort it, before \(id)")
            }
            state.active = id
        }
    }

    func release(_ id: String) {
        state.withLock { if $0.active == id { $0.active = nil } }
    }

    func execute(_ id: String, _ settings: RunSettings) async {
        defer { release(id) }
        let options = EngineOptions(
            parallel: settings.parallel, approveAll: settings.approveAll, approvalPoll: .milliseconds(200),
            stopRequested: { self.isStopping })
        do {
            let (final, _) = try await rollout.execute(run: id, speed: settings.speed, options: options)
            logger.info("run \(id) \(final.rawValue)")
        } catch {
            logger.error("run \(id) stopped: \(error)")
            try? journal.setState(run: id, .halted)
        }
    }
}
