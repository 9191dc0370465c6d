import BatonEngine
import BatonModel
import BatonPlan
import Synchronization

/// The lab twin as a run's target: each action is performed on the twin and the twin saved
/// before the engine is told, then the wall clock waits as the chosen speed says.
public actor LabTarget: Target {
    var twin: LabTwin
    let store: LabStore
    let speed: LabSpeed
    /// Asked under the twin's lock before each save: throws when the run's owner lost its lease.
    let fence: @Sendable () async throws -> Void

    public init(
        twin: LabTwin, store: LabStore, speed: LabSpeed, fence: @escaping @Sendable () async throws -> Void = {},
        settles: [String: SettleSpec] = SettleSpec.defaults
    ) {
        self.settles = settles
        self.twin = twin
        self.store = store
        self.speed = speed
        self.fence = fence
        changes = TwinChanges(saved: twin)
    }

    public func perform(_ step: Step, run: RunID) async throws -> StepResult {
        var qualified = step
        qualified.id = "\(run)/\(step.id)"
        // Applied in place (a copy would duplicate the twin's history at every step); when the
        // save is refused, this controller has lost the run and stops, its twin unused.
        let start = virtualNow.withLock { $0 }
        let outcome = twin.perform(qualified)
        try changes.performed(qualified, on: twin)
        try await save()
        try await speed.wait(outcome.duration)
        virtualNow.withLock { $0 = max($0, start + outcome.duration) }
        return StepResult(succeeded: outcome.succeeded, message: outcome.message, rule: outcome.rule)
    }

    /// The twin's history says whether the step was applied: it is saved with the action,
    /// atomically, before the journal hears of it.
    public func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool {
        twin.history.contains { $0.step == "\(run)/\(step.id)" && $0.succeeded }
    }

    public var snapshot: LabTwin { twin }

    /// How the twin's settling checks are waited on: Baton's defaults (as a profile's are),
    /// or, for a test, none.
    nonisolated let settles: [String: SettleSpec]

    public nonisolated func settle(for step: Step) -> SettleSpec? { settles[step.action.rawValue] }

    /// A wait between two asks of a settling check passes on the twin's clock, at its speed.
    public func pause(seconds: Int) async throws {
        let start = virtualNow.withLock { $0 }
        twin.pass(Double(seconds))
        try await speed.wait(Double(seconds))
        virtualNow.withLock { $0 = max($0, start + Double(seconds)) }
    }

    /// The run's virtual seconds so far: each step starts at the time the last step to end
    /// ended, and lasts its duration on the twin; steps side by side overlap. Unlike the wall
    /// clock at the twin's speed, it does not run ahead while the machine is busy elsewhere.
    public nonisolated let virtualNow = Mutex<Double>(0)

    /// The actions performed and not yet written.
    var changes: TwinChanges
    /// Set when a write failed: what it held is unknown, so nothing more is reported done.
    var broken: (any Error)?
    /// Whether a save of this target is writing, and the saves waiting for it to end.
    var saving = false
    var waiting: [CheckedContinuation<Void, Never>] = []

    /// Makes every action performed so far durable. Saves from this process take turns here
    /// before they take the twin's lock (a thread waiting for a file lock is one the others
    /// cannot use); each writes every action performed and not yet written, in the order they
    /// were performed, so a save that finds nothing left to write has been made by another.
    func save() async throws {
        while saving { await withCheckedContinuation { waiting.append($0) } }
        saving = true
        defer {
            saving = false
            if !waiting.isEmpty { waiting.removeFirst().resume() }
        }
        if let broken { throw broken }
        let write = try changes.take(twin)
        if case .nothing = write { return }
        let fence = self.fence
        do {
            try await store.exclusively { access in
                try await fence()
                try await access.write(write)
            }
        } catch {
            broken = error
            throw error
        }
    }
}
