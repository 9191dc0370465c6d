import Synchronization

/// Long-running work that the journals opened in a process need, a PostgreSQL pool's `run()`
/// above all, carried out as child tasks of whoever runs `run()`: `baton`'s main for the
/// command line and `baton serve` alike, a test's or a benchmark's own task. Nothing runs
/// unstructured: when that task ends (or is cancelled), the work is cancelled and awaited.
public final class BackgroundWork: Sendable {
    /// The process's own, run by `baton`'s main.
    public static let process = BackgroundWork()

    typealias Work = @Sendable () async -> Void
    let works: AsyncStream<Work>
    let continuation: AsyncStream<Work>.Continuation
    let running = Atomic<Bool>(false)

    public init() {
        (works, continuation) = AsyncStream.makeStream()
    }

    /// Whether `run()` is carrying out the work added.
    public var isRunning: Bool { running.load(ordering: .acquiring) }

    /// Adds `work`, started at once as a child task of `run()`.
    func add(_ work: @escaping Work) { continuation.yield(work) }

    /// Starts `run()` as a child task of `group`: journals may be opened with it from now on.
    public func start(in group: inout DiscardingTaskGroup) {
        running.store(true, ordering: .releasing)
        group.addTask { await self.run() }
    }

    /// For a test or benchmark harness that owns no task group: `run()` in a task of its own,
    /// once per process.
    public func startForHarness() {
        guard running.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged
        else { return }
        Task.detached { await self.run() }
    }

    /// Carries out every work added, each as a child task, until the calling task is cancelled;
    /// then cancels them and waits for them. Called once.
    func run() async {
        defer { running.store(false, ordering: .releasing) }
        await withDiscardingTaskGroup { group in
            for await work in works { group.addTask { await work() } }
            group.cancelAll()
        }
    }
}
