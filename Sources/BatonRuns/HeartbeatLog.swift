import BatonEngine
import BatonModel
import Synchronization

/// How promptly this process renewed the leases of the runs it drove: each renewal, and those
/// that came more than a third of the lease's expiry after they were due (a third is what the
/// schedule leaves before another controller may take the run over). `baton serve` shows the
/// counts in `/metrics` and logs each late one.
public final class HeartbeatLog: Sendable {
    public struct Counts: Sendable, Hashable {
        public var renewals = 0
        public var late = 0
        /// The longest a renewal came after it was due, in seconds.
        public var worstDelay = 0.0
    }

    let state = Mutex<(counts: Counts, onLate: (@Sendable (RunID, Double) -> Void)?)>((Counts(), nil))

    public init() {}

    public var counts: Counts { state.withLock { $0.counts } }

    /// Called with the run and the delay in seconds whenever a renewal comes late.
    public func onLate(_ report: @escaping @Sendable (RunID, Double) -> Void) {
        state.withLock { $0.onLate = report }
    }

    /// A renewal of `run`'s lease `delay` seconds after it was due, where `allowed` is late.
    func renewed(_ run: RunID, delay: Double, allowed: Double) {
        let report: (@Sendable (RunID, Double) -> Void)? = state.withLock { state in
            state.counts.renewals += 1
            state.counts.worstDelay = max(state.counts.worstDelay, delay)
            guard delay > allowed else { return nil }
            state.counts.late += 1
            return state.onLate
        }
        report?(run, delay)
    }
}
