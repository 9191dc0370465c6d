import BatonModel
import Foundation

/// Where one receiver of a run's notifications has got to: the last transition of the run it
/// was sent (or that needed no message), and how the next one has fared. Kept in the journal
/// beside the transitions, so that a controller that stops, or a standby that takes over,
/// continues from there: nothing sent twice but the one in flight, nothing lost.
public struct DeliveryRecord: Sendable, Hashable {
    public var run: RunID
    /// The receiver's name, unique within the run.
    public var receiver: String
    /// How to reach it (its JSON: the kind, the address, where its secret is read from; never
    /// a secret).
    public var settings: String
    /// The sequence of the last transition handled.
    public var delivered: Int64
    /// Failed tries at the next message since the last one went.
    public var attempts: Int
    /// Not before this instant (seconds since 1970): the backoff after a failed try.
    public var nextTry: Double
    public var lastError: String
    /// The transitions of the run not handled yet (its last sequence minus nothing sent).
    public var pending: Bool

    public init(
        run: RunID, receiver: String, settings: String, delivered: Int64, attempts: Int = 0, nextTry: Double = 0,
        lastError: String = "", pending: Bool = false
    ) {
        self.run = run
        self.receiver = receiver
        self.settings = settings
        self.delivered = delivered
        self.attempts = attempts
        self.nextTry = nextTry
        self.lastError = lastError
        self.pending = pending
    }
}

/// The notifications a journal owes: per run and receiver, how far delivery has got. One
/// sender at a time per receiver: a sender takes the receivers it sends for (`takeDeliveries`)
/// for a while, as a run's lease is taken, and a sender whose process ended on this machine
/// holds nothing.
public protocol DeliveryLedger: Sendable {
    /// Adds receivers to a run, each starting after the run's last transition now (it hears
    /// of what happens from here on). A receiver of that name already there is kept as it is.
    func addReceivers(run: RunID, _ receivers: [(name: String, settings: String)]) async throws
    /// Takes, for `holder` until `until`, each receiver with something to send that no other
    /// live sender holds (of `run` alone, when given), and returns them. A receiver backing
    /// off is taken too (its `nextTry` says when).
    func takeDeliveries(holder: LeaseOwner, until: Double, run: RunID?) async throws -> [DeliveryRecord]
    /// Records that every transition up to `sequence` was handled for that receiver; its
    /// tries start again.
    func delivered(run: RunID, receiver: String, through sequence: Int64) async throws
    /// Records a failed try and when to try again.
    func deliveryFailed(run: RunID, receiver: String, attempts: Int, nextTry: Double, error: String) async throws
    /// The run's receivers and how far each has got.
    func deliveries(of run: RunID) async throws -> [DeliveryRecord]
}

/// What a run transition's message says when it is not a change of state: the engine and the
/// run service journal these so that whoever reads the journal (`baton status`, the
/// notifications) knows without asking the process that wrote them.
public enum RunNote {
    /// The run waits for a maintenance window (then the instant, ISO 8601, and why).
    public static let waitingForWindow = "waiting for a maintenance window until"
    /// A gate waits for its approval (then the gate and its step).
    public static let waitingForApproval = "waiting for approval of gate"
    /// The run's controller stopped without ending it; another took it over.
    public static let interrupted = "interrupted:"
}
