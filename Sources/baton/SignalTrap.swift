import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM while a run is driven: the first asks the engine to start no new step
/// and let running ones finish (an install is never abandoned half way); a second SIGINT ends
/// the process at once, which the journal's intent and result records keep safe.
final class SignalTrap: Sendable {
    let state = Mutex<(reason: String?, sources: [any DispatchSourceSignal])>((nil, []))
    /// What the process waits for once asked to stop: the steps running now, on their hosts.
    let running: @Sendable () -> [String]

    init(running: @escaping @Sendable () -> [String] = { [] }) {
        self.running = running
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.received(name) }
            source.resume()
            state.withLock { $0.sources.append(source) }
        }
    }

    var reason: String? { state.withLock { $0.reason } }

    func received(_ name: String) {
        let first = state.withLock { state in
            guard state.reason == nil else { return false }
            state.reason = "stopped by \(name)"
            return true
        }
        guard first else {
            Terminal.error("\nStopped at once; the journal knows what was under way. 'baton resume' continues.\n")
            _exit(130)
        }
        let steps = running()
        let waiting =
            steps.isEmpty
            ? "no step is running"
            : "waiting for \(steps.count == 1 ? "the step" : "the \(steps.count) steps") still running to finish:\n"
                + steps.map { "  \($0)\n" }.joined()
        Terminal.error(
            "\n\(name): no new step starts; \(waiting)\(steps.isEmpty ? ". " : "")Press Ctrl-C again to stop at once (the journal keeps what was under way; 'baton resume' continues).\n"
        )
    }
}
