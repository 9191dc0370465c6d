import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonRemote
import BatonRuns
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

/// Carries out the runs the API starts or resumes, through the same run service as the
/// command line: this server holds each run's lease while it drives it, on the lab twin or on
/// the inventory's real hosts. Each run is a child task of this service, so a graceful
/// shutdown stops scheduling new steps, lets the running ones finish and leaves every run
/// journaled and resumable.
public final class RunCoordinator: Service, Sendable {
    public let service: RunService
    let logger: Logger
    let jobs: AsyncStream<(run: RunService.OwnedRun, settings: RunSettings, by: String)>
    let queue: AsyncStream<(run: RunService.OwnedRun, settings: RunSettings, by: String)>.Continuation
    /// The runs this server drives now, and whether it is shutting down.
    let state = Mutex<(active: Set<RunID>, stopping: Bool)>(([], false))

    /// Whether this server takes over runs whose controller stopped heartbeating (a standby).
    let adopt: Bool

    public init(service: RunService, logger: Logger, adopt: Bool = false) {
        self.service = service
        self.logger = logger
        self.adopt = adopt
        (jobs, queue) = AsyncStream.makeStream()
        let expiry = service.leaseExpiry
        service.heartbeats.onLate { run, delay in
            logger.warning(
                "the lease of run \(run) was renewed \(Int(delay.rounded())) s late (more than a third of its \(Int(expiry)) s expiry): another controller could have taken it over"
            )
        }
    }

    public var journal: any Journal { service.journal }
    public var store: LabStore { service.store }

    public var isStopping: Bool { state.withLock { $0.stopping } }

    /// Whether this server drives `run` now.
    public func isActive(_ run: RunID) -> Bool { state.withLock { $0.active.contains(run) } }

    public var activeCount: Int { state.withLock { $0.active.count } }

    public func run() async throws {
        await withGracefulShutdownHandler {
            await withDiscardingTaskGroup { group in
                if adopt { group.addTask { await self.watchForOrphans() } }
                // Every run's notifications, whoever drives it: the ledger lets one sender
                // at a time have each receiver.
                group.addTask { await Deliverer(service: self.service).follow(stop: { self.isStopping }) }
                for await job in jobs {
                    group.addTask { await self.execute(job.run, job.settings, by: job.by) }
                }
            }
        } onGracefulShutdown: {
            self.state.withLock { $0.stopping = true }
            self.queue.finish()
            Task { await self.sayWhatItWaitsFor() }
        }
    }

    /// On shutdown: the steps still running in the runs this server drives, on their hosts,
    /// which it waits for (no new step starts), and how each run continues.
    func sayWhatItWaitsFor() async {
        let active = state.withLock { $0.active }.sorted()
        guard !active.isEmpty else {
            logger.notice("shutting down: no run is under way")
            return
        }
        for run in active {
            let plan = try? await journal.plan(of: run)
            let running = ((try? await journal.steps(of: run)) ?? []).filter { $0.state == .running }
            let steps = running.map { record in plan?.step(record.id).map { "\(record.id) \($0.summary)" } ?? "\(record.id)" }
            logger.notice(
                "shutting down: run \(run) starts no new step and waits for \(steps.isEmpty ? "nothing" : steps.joined(separator: "; ")); 'baton resume \(run)' or the API's resume continues it"
            )
        }
    }

    /// Starts the run of `plan` (made by `plan(_:_:)`): on its real hosts when it has
    /// `hosts:` and `lab` is false (after the same preflight as `baton check`), else on the
    /// lab twin. Throws `APIError` for bad input (400, every problem located), a refusal or a
    /// failed preflight (422), machines another run holds (409).
    public func start(
        inventory: Inventory, inlineText: String?, package: Package, plan: Plan, name: RunID?, lab: Bool,
        twin: TwinName = .standard, freshLab: Bool,
        releaseNotes: String?, settings: RunSettings, by caller: Caller
    ) async throws -> RunID {
        let target = RunTarget(inventory, lab: lab)
        try refuseWhileStopping()
        let owned: RunService.OwnedRun
        do {
            var secrets: LogonSecrets?
            if target == .hosts {
                let read = try await service.secrets(for: inventory, plan: plan)
                try await service.preflight(inventory, plan, secrets: read)
                secrets = read
            }
            owned = try await service.start(
                .init(
                    inventory: inventory, package: package, plan: plan, id: name, target: target, twin: twin,
                    freshLab: freshLab,
                    releaseNotes: releaseNotes, inlineInventory: inlineText, by: caller.name, secrets: secrets))
        } catch {
            throw APIError(error)
        }
        await enqueue(owned, settings, by: caller.name)
        return owned.id
    }

    /// Continues a halted or interrupted run, as `baton resume` does.
    public func resume(_ id: RunID, settings: RunSettings, by caller: Caller) async throws {
        try refuseWhileStopping()
        do {
            await enqueue(try service.resume(id, by: caller.name), settings, by: caller.name)
        } catch {
            throw APIError(error)
        }
    }

    /// Stops scheduling the run's steps; running steps finish, and a virtual server caught
    /// offline is brought back online.
    public func abort(_ id: RunID, by caller: Caller) async throws {
        do {
            _ = try await service.abort(id, by: caller.name)
        } catch {
            throw APIError(error)
        }
    }

    /// Records the approval; a run waiting at that gate in this server continues by itself.
    public func approve(_ id: RunID, gate: String, by caller: Caller) async throws {
        do {
            try await service.approve(id, gate: gate, by: caller.name, how: .api)
        } catch {
            throw APIError(error)
        }
    }

    /// The plan of `inventory` for a package, or the API's error for an unknown package or a
    /// refusal (Baton's exit codes).
    public static func plan(_ inventory: Inventory, _ packageID: PackageID) throws -> (Package, Plan) {
        try plan(inventory, .init(.package(packageID)))
    }

    /// The plan `request` asks of `inventory`, with the same errors.
    public static func plan(_ inventory: Inventory, _ request: RunService.PlanRequest) throws -> (Package, Plan) {
        do {
            return try RunService.plan(inventory, request)
        } catch {
            switch error {
            case .unknownPackage, .badRequest: throw APIError(.badRequest, "\(error)")
            case .refused(let refusal): throw APIError(.unprocessableContent, "\(error)", rule: refusal.rule.rawValue)
            }
        }
    }

    /// A saved plan on the lab twin: 422 when a server's build there is not the one the plan
    /// was made for (rule `saved-plan`).
    func checkBuilds(_ plan: Plan, twin: TwinName) async throws {
        let store = store.named(twin)
        guard try await store.exists() else { return }
        let changes = SavedPlan.buildChanges(plan, now: try await store.load().builds)
        guard changes.isEmpty else {
            throw APIError(
                .unprocessableContent, "refused: servers run other builds than the saved plan was made for",
                problems: changes, rule: Rule.ID.savedPlan.rawValue)
        }
    }

    func refuseWhileStopping() throws {
        if isStopping { throw APIError(.serviceUnavailable, "the server is shutting down") }
    }

    func enqueue(_ run: RunService.OwnedRun, _ settings: RunSettings, by: String) async {
        state.withLock { _ = $0.active.insert(run.id) }
        if case .dropped = queue.yield((run, settings, by)) {
            state.withLock { _ = $0.active.remove(run.id) }
            await service.release(run)
        }
    }

    /// A standby: every third of the lease time, takes over each run the journal says is
    /// running whose owner stopped heartbeating (its process killed, its machine gone). Several
    /// standbys may try at once; the lease lets exactly one have it, and the others carry on
    /// watching. The adopted run resumes as `baton resume` would: each step that was in flight
    /// is asked of the target before anything is done again.
    func watchForOrphans() async {
        let interval = Duration.milliseconds(Int64(service.leaseExpiry * 1000 / 3))
        while !isStopping, !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !isStopping, let statuses = try? await service.statuses() else { continue }
            for status in statuses where status.state == .interrupted && !isActive(status.record.id) {
                do {
                    let run = try await service.resume(status.record.id, by: "standby \(service.owner.host)")
                    logger.info("adopted run \(run.id): its controller stopped heartbeating")
                    await enqueue(run, RunSettings(), by: "standby \(service.owner.host)")
                } catch {
                    // Another controller was quicker, or the run cannot go on unattended.
                    logger.debug("run \(status.record.id) not adopted: \(error)")
                }
            }
        }
    }

    func execute(_ run: RunService.OwnedRun, _ settings: RunSettings, by: String) async {
        defer { state.withLock { _ = $0.active.remove(run.id) } }
        let options = EngineOptions(
            parallel: settings.parallel, approveAll: settings.approveAll, approvalPoll: .milliseconds(200),
            stopRequested: { self.isStopping ? "the server shut down" : nil })
        do {
            let outcome = try await service.drive(run, speed: settings.speed, options: options, approvedBy: by)
            logger.info("run \(run.id) \(outcome.state.rawValue)")
        } catch {
            logger.error("run \(run.id) stopped: \(error)")
        }
    }
}

extension APIError {
    /// The run service's refusal as the API answers it.
    init(_ error: RunServiceError) {
        switch error {
        case .notFound: self.init(.notFound, error.description)
        case .noGate, .lab, .badName: self.init(.badRequest, error.description)
        case .badInventory(let file, let problems):
            self.init(
                .badRequest, "the inventory cannot be carried out as it stands",
                problems: problems.map { "\(file): error: \($0)" })
        case .exists, .finished, .owned, .alreadyApproved: self.init(.conflict, error.description)
        case .logons(let problems):
            self.init(.badRequest, "a logon's password cannot be read; nothing was started", problems: problems)
        case .preflightFailed(let problems):
            self.init(
                .unprocessableContent, "the preflight found \(problems.count) problem(s); nothing was started",
                problems: problems)
        case .journal(.unreachable): self.init(.serviceUnavailable, error.description)
        case .journal, .storage: self.init(.internalServerError, error.description)
        }
    }
}
