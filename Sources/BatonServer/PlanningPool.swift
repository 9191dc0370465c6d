import Foundation
import NIOPosix
import ServiceLifecycle

#if canImport(Glibc)
    import Glibc
#endif

/// Where the API plans: threads of their own, as many as `--max-plans`, at a lower scheduling
/// priority than the rest of the server. Reading, planning and rendering an organization of
/// thousands of servers takes seconds of processor time; on the cooperative threads it would
/// hold up what must stay prompt (a live run's lease heartbeat, the engine, cheap reads).
/// A service of the server's group, listed before the application so that it stops after it.
final class PlanningPool: Service, Sendable {
    let pool: NIOThreadPool
    /// Added to the server's nice value on the planning threads (Linux keeps it per thread).
    static let niceness: Int32 = 10

    init(threads: Int) {
        pool = NIOThreadPool(numberOfThreads: max(1, threads))
        pool.start()
    }

    /// Runs `work` on a planning thread and returns what it returns or throws.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await pool.runIfActive {
            Self.lowerPriority()
            return try work()
        }
    }

    /// Holds the threads until the server shuts down, then lets them finish and go.
    func run() async throws {
        try? await gracefulShutdown()
        try await pool.shutdownGracefully()
    }

    /// The calling thread at `niceness` (once per thread: the value is only ever raised).
    static func lowerPriority() {
        #if os(Linux)
            let current = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            if current < niceness { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, niceness) }
        #endif
    }
}
