import BatonEngine
import BatonModel
import BatonRuns
import BatonStore
import Foundation
import ServiceLifecycle
import Synchronization

/// One reader of the journal for every event stream of the server: every `poll` it reads the
/// transitions journaled since its last look, and which runs have ended, in two queries
/// however many streams are open, and hands both to each stream. An idle stream costs no
/// query at all.
final class TransitionFeed: Service, Sendable {
    struct Update: Sendable {
        /// The transitions are those journaled after this sequence.
        var after: Int64
        var transitions: [Transition]
        /// Runs completed or aborted whose driver has let them go: their streams end.
        var ended: [RunID: RunState]
    }

    let service: RunService
    let isActive: @Sendable (RunID) -> Bool
    let poll: Duration
    /// With a journal that announces its changes, how long a quiet feed waits before it looks.
    let quietPoll = Duration.seconds(5)
    let state = Mutex<(subscribers: [Int: AsyncStream<Update>.Continuation], next: Int, last: Int64?)>(([:], 0, nil))

    init(service: RunService, poll: Duration = .milliseconds(200), isActive: @escaping @Sendable (RunID) -> Bool) {
        self.service = service
        self.poll = poll
        self.isActive = isActive
    }

    /// Updates from now on, until `unsubscribe` or the server stops.
    func subscribe() -> (Int, AsyncStream<Update>) {
        let (stream, continuation) = AsyncStream.makeStream(of: Update.self)
        let id = state.withLock { state in
            state.next += 1
            state.subscribers[state.next] = continuation
            return state.next
        }
        return (id, stream)
    }

    func unsubscribe(_ id: Int) {
        state.withLock { $0.subscribers.removeValue(forKey: id) }?.finish()
    }

    func run() async throws {
        await withGracefulShutdownHandler {
            // Ends at shutdown: the wake-ups stop with their task.
            await cancelWhenGracefulShutdown { await self.follow() }
            finishAll()
        } onGracefulShutdown: {
            self.finishAll()
        }
    }

    /// Reads the journal at each wake-up: every `poll` with a journal that does not announce
    /// its changes (SQLite); with one that does (PostgreSQL's LISTEN/NOTIFY), when told,
    /// however many controllers write, and once every `quietPoll` besides (an announcement lost
    /// while the connection was re-established). A burst of wake-ups costs one read: at most one
    /// waits.
    func follow() async {
        let (wakeUps, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let notifier = service.journal as? any JournalNotifier
        let interval = notifier == nil ? poll : quietPoll
        await withTaskGroup(of: Void.self) { group in
            if let notifier {
                group.addTask {
                    while !Task.isCancelled {
                        try? await notifier.followChanges { wake.yield() }
                        // The connection was lost: a read now, then listen again after a pause.
                        wake.yield()
                        try? await Task.sleep(for: .seconds(1))
                    }
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
                }
            }
            for await _ in wakeUps { await publish() }
            group.cancelAll()
        }
    }

    func finishAll() {
        let subscribers = state.withLock { state in
            defer { state.subscribers = [:] }
            return state.subscribers
        }
        for continuation in subscribers.values { continuation.finish() }
    }

    func publish() async {
        let (subscribers, last) = state.withLock { ($0.subscribers, $0.last) }
        guard !subscribers.isEmpty else { return }
        do {
            let journal = service.journal
            let start: Int64
            if let last {
                start = last
            } else {
                start = try await journal.transitions(after: 0).last?.sequence ?? 0
            }
            let transitions = try await journal.transitions(after: start)
            var ended: [RunID: RunState] = [:]
            for status in try await service.statuses() where status.state.isFinished && !isActive(status.record.id) {
                ended[status.record.id] = status.state
            }
            state.withLock { $0.last = transitions.last?.sequence ?? start }
            let update = Update(after: start, transitions: transitions, ended: ended)
            for continuation in subscribers.values { continuation.yield(update) }
        } catch {
            // A busy journal: look again next time.
        }
    }
}
