import BatonEngine
import BatonModel
import BatonPlanner
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
        twin: LabTwin, store: LabStore, speed: LabSpeed, fence: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.twin = twin
        self.store = store
        self.speed = speed
        self.fence = fence
    }

    public func perform(_ step: Step, run: RunID) async throws -> StepResult {
        var qualified = step
        qualified.id = "\(run)/\(step.id)"
        // Applied in place (a copy would duplicate the twin's history at every step); when the
        // save is refused, this controller has lost the run and stops, its twin unused.
        let outcome = twin.perform(qualified)
        try await save()
        try await speed.wait(outcome.duration)
        return StepResult(succeeded: outcome.succeeded, message: outcome.message, rule: outcome.rule)
    }

    /// The twin's history says whether the step was applied: it is saved with the action,
    /// atomically, before the journal hears of it.
    public func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool {
        twin.history.contains { $0.step == "\(run)/\(step.id)" && $0.succeeded }
    }

    public var snapshot: LabTwin { twin }

    /// How many actions the twin has performed, and how many of them the last save held.
    var performed = 0
    let saved = Saved()

    final class Saved: Sendable {
        let count = Mutex(0)
    }

    /// Saves the twin as it is now. Two steps finishing together each save; the saves take
    /// turns under the twin's lock, and one holding fewer actions than a save already made is
    /// skipped, so the stored twin never goes back.
    func save() async throws {
        performed += 1
        let mine = performed
        let data = try LabStore.encode(twin)
        let saved = self.saved
        let fence = self.fence
        try await store.exclusively { access in
            try await fence()
            guard saved.count.withLock({ $0 < mine }) else { return }
            try await access.write(data)
            saved.count.withLock { $0 = mine }
        }
    }
}
