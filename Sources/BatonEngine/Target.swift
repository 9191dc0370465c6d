import BatonKnowledge
import BatonModel
import BatonPlan

/// What a target says of one action.
public struct StepResult: Sendable, Hashable {
    public var succeeded: Bool
    public var message: String
    /// KB 328839's rule behind a failure, when known: its remedy is printed.
    public var rule: Rule.ID?
    /// What the action printed (its end, bounded), kept in the journal with the step.
    public var output: String?

    public init(succeeded: Bool, message: String, rule: Rule.ID? = nil, output: String? = nil) {
        self.succeeded = succeeded
        self.message = message
        self.rule = rule
        self.output = output
    }
}

/// Where a plan's actions happen: the lab twin, or real hosts. A target performs one action
/// and says what happened; it knows nothing of plans, order or journals.
public protocol Target: Sendable {
    /// How `step` is waited on when it checks a state that settles (asked again every
    /// `interval` seconds until it passes or `timeout` seconds have passed since its first
    /// answer); nil: its first answer stands.
    func settle(for step: Step) -> SettleSpec?
    /// Lets `seconds` pass before a settling check is asked again: the wall clock for real
    /// hosts, the twin's own clock (at its speed) for the lab.
    func pause(seconds: Int) async throws
    /// Performs `step` and returns what happened. `run` names the run, so a target can tell
    /// the same step of two runs apart.
    func perform(_ step: Step, run: RunID) async throws -> StepResult
    /// Whether `step` of `run` already took effect: asked on resume for a step that was in
    /// flight when the controller died, so that nothing is applied twice.
    func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool
}

extension Target {
    public func settle(for step: Step) -> SettleSpec? { nil }
    public func pause(seconds: Int) async throws { try await Task.sleep(for: .seconds(seconds)) }
}
