import BatonPlan
import Foundation

/// Asked before the engine starts a step: whether it may start now (maintenance windows). A
/// step held waits, ready; with nothing else under way the engine waits on the gate's clock
/// until the earliest hold ends, or stops when the gate halts outside its windows.
public protocol StartGate: Sendable {
    /// nil: `step` may start now; else until when it waits, and why.
    func hold(_ step: Step) -> Hold?
    /// `step` started.
    func started(_ step: Step)
    /// Waits on the run's clock until `date`, or until `stop` gives a reason.
    func wait(until date: Date, stop: @escaping @Sendable () -> String?) async throws
    /// Whether a run halts rather than wait for the next window.
    var haltsOutside: Bool { get }
}

/// A step held back until a window opens.
public struct Hold: Sendable, Hashable {
    /// When to ask again; `Date.distantFuture` when no window can ever hold the step.
    public var until: Date
    public var why: String

    public init(until: Date, why: String) {
        self.until = until
        self.why = why
    }
}
