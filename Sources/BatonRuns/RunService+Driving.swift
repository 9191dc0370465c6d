import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonRemote
import BatonStore
import Foundation
import Synchronization

/// Driving an owned run: the engine against its target, the lease renewed meanwhile.
extension RunService {
    // MARK: Driving

    /// The maintenance windows `run` meets: `settings`' window, else its inventory's; nil when
    /// there are none. On the lab twin the run's clock is the rehearsal's (`rehearseAt`, at
    /// the twin's speed); on real hosts, the wall clock.
    func windowGate(_ run: OwnedRun, _ settings: WindowSettings?, speed: LabSpeed, lab: LabTarget?) async throws
        -> WindowGate?
    {
        guard let record = try await journal.run(run.id), let plan = try await journal.plan(of: run.id) else {
            return nil
        }
        let inventory = try await inventory(of: record)
        let windows = settings?.window.map { [$0] } ?? inventory.windows
        guard !windows.isEmpty else { return nil }
        let done = Set(try await journal.steps(of: run.id).filter { $0.state == .succeeded }.map(\.id))
        return WindowGate(
            plan: plan, inventory: inventory, windows: windows, margin: inventory.windowMargin ?? 0,
            clock: lab.map { target in
                RunClock(
                    origin: settings?.rehearseAt ?? Date(), virtual: { target.virtualNow.withLock { $0 } }, speed: speed)
            } ?? RunClock(),
            haltsOutside: settings?.haltsOutside ?? false, done: done, onStart: settings?.onStart)
    }

    /// How a run ended for its driver.
    public struct Outcome: Sendable {
        public var state: RunState
        /// The twin after the run, for a lab run.
        public var twin: LabTwin?
    }

    /// Drives an owned run to its end or a halt, renewing the lease meanwhile. With
    /// `approveAll`, every gate not yet approved is recorded approved (`--yes`) by `by`
    /// first. Throws `.owned(.leaseLost)` when another controller took the run over: this
    /// process then applied nothing more. The run's receivers (`notify:` and `extra`) are
    /// added to the journal first; sending to them is `Deliverer`'s, beside the run.
    public func drive(
        _ run: OwnedRun, speed: LabSpeed, options: EngineOptions, approvedBy by: String,
        windows: WindowSettings? = nil, notify extra: [Receiver] = [],
        onEvent: @escaping @Sendable (EngineEvent) -> Void = { _ in }
    ) async throws(RunServiceError) -> Outcome {
        let lost = LostLease()
        do {
            // Its inventory's receivers (and `--notify`'s) hear of the run from here on.
            if let record = try await journal.run(run.id) {
                try await notify(run.id, ((try? await inventory(of: record))?.notify ?? []) + extra)
            }
            if options.approveAll { try await approveEveryGate(run, by: by, how: .yes) }
            let fenced = run.journal
            var engineOptions = options
            let external = options.stopRequested
            engineOptions.stopRequested = {
                lost.value != nil ? "this controller lost the run" : external()
            }
            engineOptions.confirmOwnership = { try await fenced.confirmLease() }
            // The engine, with the lease renewed beside it for as long as `work` runs.
            @Sendable func heartbeating(_ work: @escaping @Sendable () async throws -> RunState) async throws -> RunState {
                try await withThrowingTaskGroup(of: RunState?.self) { group in
                    group.addTask {
                        await heartbeat(run.lease, lost: lost)
                        return nil
                    }
                    group.addTask { try await work() }
                    var final: RunState?
                    while let result = try await group.next() {
                        if let result {
                            final = result
                            group.cancelAll()
                        }
                    }
                    return final ?? .halted
                }
            }
            var lab: LabTarget?
            let final: RunState
            switch run.target {
            case .lab:
                let store = store.named(run.twin)
                let loaded = try await store.load()
                let twin = LabTarget(twin: loaded, store: store, speed: speed, fence: fenced.confirmLease)
                lab = twin
                if engineOptions.gate == nil, let gate = try await windowGate(run, windows, speed: speed, lab: twin) {
                    engineOptions.gate = gate
                }
                let engine = Engine(journal: fenced, target: twin, options: engineOptions, onEvent: onEvent)
                let plan = try await journal.plan(of: run.id)
                final = try await heartbeating {
                    // The twin's sessions prove themselves as real ones do (fault key-logon).
                    try await Self.halt(run, unlessProven: plan.map { Preflight.network(loaded, $0) } ?? [])
                    return try await engine.execute(run: run.id)
                }
            case .hosts:
                guard let record = try await journal.run(run.id), let plan = try await journal.plan(of: run.id) else {
                    throw RunServiceError.notFound(run.id)
                }
                let inventory = try await inventory(of: record)
                var secrets = run.secrets
                if secrets == nil { secrets = try await self.secrets(for: inventory, plan: plan) }
                do { try RemoteTarget.validate(inventory, plan) } catch {
                    throw RunServiceError.badInventory(file: record.inventory, problems: error.problems)
                }
                if engineOptions.gate == nil, let gate = try await windowGate(run, windows, speed: speed, lab: nil) {
                    engineOptions.gate = gate
                }
                let engineOptions = engineOptions
                final = try await RemoteTarget.withRunner(
                    for: inventory, stateDirectory: stateDirectory, secrets: secrets ?? .none
                ) { runner in
                    let target = try RemoteTarget(
                        inventory: inventory, plan: plan, stateDirectory: stateDirectory, runner: runner)
                    let engine = Engine(journal: fenced, target: target, options: engineOptions, onEvent: onEvent)
                    return try await heartbeating {
                        // Before anything changes, every session proves it reaches the network
                        // (rule windows-network-logon); a host that cannot halts the run here.
                        // The hosts with steps still to do: a resumed run does not wait on a
                        // host it has finished with.
                        let done = Set(try await fenced.steps(of: run.id).filter { $0.state == .succeeded }.map(\.id))
                        var remaining = plan
                        remaining.steps = plan.steps.filter { !done.contains($0.id) }
                        try await Self.halt(
                            run,
                            unlessProven: await RemotePreflight(inventory: inventory, plan: remaining, runner: runner)
                                .proveNetwork())
                        return try await engine.execute(run: run.id)
                    }
                }
            }
            if let reason = lost.value { throw reason }
            let twin = await lab?.snapshot
            // A finished run's report is kept as it is now: later runs on the same twin or
            // hosts do not change it.
            if final.isFinished { try await keepReport(run.id, twin: twin) }
            try await journal.release(run.lease)
            return Outcome(state: final, twin: twin)
        } catch {
            // A lost lease is not this process's to give up; anything else gives the run up.
            let failure = lost.value.map(RunServiceError.owned) ?? RunServiceError(error)
            if case .owned(.leaseLost) = failure { throw failure }
            await release(run)
            throw failure
        }
    }

    /// Before a run's first step (and its resumption): when a host's session cannot reach the
    /// network, the run halts with nothing done (`.preflightFailed`, every host).
    static func halt(_ run: OwnedRun, unlessProven unproven: [CheckResult]) async throws {
        guard !unproven.isEmpty else { return }
        let problems = unproven.map { "\($0.check) \($0.subject): \($0.detail)" }
        try await run.journal.setState(
            run: run.id, .halted, reason: "nothing was run: " + problems.joined(separator: "; "))
        throw RunServiceError.preflightFailed(problems: problems)
    }

    /// Set once the heartbeat finds the lease taken over.
    final class LostLease: Sendable {
        let reason = Mutex<OwnershipError?>(nil)
        var value: OwnershipError? { reason.withLock { $0 } }
        func set(_ error: OwnershipError) { reason.withLock { $0 = error } }
    }

    /// Renews the lease every third of its expiry until cancelled or lost.
    func heartbeat(_ lease: Lease, lost: LostLease) async {
        var lease = lease
        let interval = Duration.milliseconds(Int64(lease.expiry * 1000 / 3))
        let clock = ContinuousClock()
        var due = clock.now + interval
        while !Task.isCancelled {
            try? await Task.sleep(until: due)
            guard !Task.isCancelled else { return }
            do {
                lease = try await journal.renew(lease)
                let delay = clock.now - due
                heartbeats.renewed(
                    lease.run, delay: Double(delay.components.seconds) + Double(delay.components.attoseconds) / 1e18,
                    allowed: lease.expiry / 3)
                due = clock.now + interval
            } catch let error as OwnershipError {
                lost.set(error)
                return
            } catch {
                // A busy or unreadable journal: try again next time; the lease may expire.
                due = clock.now + interval
            }
        }
    }

    func approveEveryGate(_ run: OwnedRun, by: String, how: ApprovalMethod) async throws {
        guard let plan = try await journal.plan(of: run.id) else { return }
        let approved = Set(try await journal.approvals(of: run.id))
        for gate in Set(plan.steps.compactMap(\.gate)).sorted() where !approved.contains(gate) {
            try await journal.approve(
                run: run.id,
                ApprovalRecord(gate: gate, by: by, how: how, user: Self.systemUser, at: Date().timeIntervalSince1970))
        }
    }
}
