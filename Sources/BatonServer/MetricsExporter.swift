import BatonEngine
import BatonLab
import BatonModel
import BatonRuns
import BatonStore
import Foundation
import Prometheus

/// `/metrics` for Prometheus, built afresh from the journal and the twin at every scrape.
/// The journal only ever appends transitions, so counters and histograms derived from it
/// only grow, as Prometheus expects, and they count every run in the state directory,
/// whichever process carried it out; nothing is lost when the server restarts.
struct MetricsExporter: Sendable {
    let coordinator: RunCoordinator

    /// Upper bounds of the step-duration histogram: from instant checks to long installs.
    static let buckets: [Duration] = [1, 5, 15, 60, 300, 900, 1800, 3600, 7200].map { .seconds($0) }

    func exposition() async throws -> [UInt8] {
        let journal = coordinator.journal
        let registry = PrometheusCollectorRegistry()
        let runs = try await coordinator.service.statuses().map(\.record)
        for state in RunState.allCases {
            registry.makeGauge(
                descriptor: Self.name("runs", help: "Runs in the journal by state."),
                labels: [("state", state.rawValue)]
            ).set(Double(runs.filter { $0.state == state }.count))
        }
        registry.makeGauge(descriptor: Self.name("runs_in_progress", help: "Runs this server is carrying out now."))
            .set(Double(coordinator.activeCount))
        let heartbeats = coordinator.service.heartbeats.counts
        registry.makeCounter(
            descriptor: Self.name("lease_renewals", unit: "total", help: "Lease renewals of the runs this server drove.")
        ).increment(by: Int64(heartbeats.renewals))
        registry.makeCounter(
            descriptor: Self.name(
                "lease_renewals_late", unit: "total",
                help: "Lease renewals that came more than a third of the lease's expiry after they were due.")
        ).increment(by: Int64(heartbeats.late))
        registry.makeGauge(
            descriptor: Self.name(
                "lease_renewal_worst_delay", unit: "seconds",
                help: "The longest a lease renewal came after it was due since the server started.")
        ).set(heartbeats.worstDelay)

        for run in runs where run.state == .running {
            guard let end = try? await coordinator.service.expectedEnd(of: run.id) else { continue }
            registry.makeGauge(
                descriptor: Self.name(
                    "run_expected_end", unit: "seconds",
                    help: "When each running run should end, as seconds since 1970, from its steps' real durations so far."),
                labels: [("run", run.id.rawValue)]
            ).set(end.timeIntervalSince1970)
        }

        var actions: [RunID: [StepID: String]] = [:]
        var counts: [[String]: Int] = [:]
        for run in runs {
            for step in try await journal.steps(of: run.id) {
                actions[run.id, default: [:]][step.id] = step.action
                counts[[step.state.rawValue, step.action], default: 0] += 1
            }
        }
        for (key, count) in counts.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            registry.makeGauge(
                descriptor: Self.name("steps", help: "Steps of every run in the journal by state and action."),
                labels: [("state", key[0]), ("action", key[1])]
            ).set(Double(count))
        }

        // Each attempt: from its `running` transition to the outcome that follows it.
        var started: [String: Double] = [:]
        var durations: [String: [Double]] = [:]
        var failures: [String: Int] = [:]
        for transition in try await journal.transitions() {
            guard let step = transition.step, let action = actions[transition.run]?[step] else { continue }
            let key = "\(transition.run)/\(step)"
            switch transition.state {
            case StepState.running.rawValue:
                started[key] = transition.at
            case StepState.succeeded.rawValue, StepState.failed.rawValue:
                if let begin = started.removeValue(forKey: key) {
                    durations[action, default: []].append(transition.at - begin)
                }
                if transition.state == StepState.failed.rawValue { failures[action, default: 0] += 1 }
            default: break
            }
        }
        for (action, values) in durations.sorted(by: { $0.key < $1.key }) {
            let histogram = registry.makeDurationHistogram(
                descriptor: Self.name(
                    "step_duration", unit: "seconds", help: "Wall-clock time of step attempts by action."),
                labels: [("action", action)], buckets: Self.buckets)
            for value in values { histogram.record(.milliseconds(Int64(value * 1000))) }
        }
        for (action, count) in failures.sorted(by: { $0.key < $1.key }) {
            registry.makeCounter(
                descriptor: Self.name("step_failures", unit: "total", help: "Failed step attempts by action."),
                labels: [("action", action)]
            ).increment(by: Int64(count))
        }

        if (try? await coordinator.store.exists()) == true, let twin = try? await coordinator.store.load() {
            for group in twin.groups.values.filter(\.isVirtualServer).sorted(by: { $0.name < $1.name }) {
                registry.makeGauge(
                    descriptor: Self.name(
                        "virtual_server_offline", unit: "seconds",
                        help: "Time each virtual server of the lab twin was offline, on the twin's clock."),
                    labels: [("virtual_server", group.name.spelling)]
                ).set(twin.accounting.virtualServerOffline[group.name.spelling] ?? 0)
                registry.makeGauge(
                    descriptor: Self.name("virtual_server_online", help: "1 when the virtual server is online now."),
                    labels: [("virtual_server", group.name.spelling)]
                ).set(Double(group.isOnline ? 1 : 0))
            }
        }
        return registry.emitToBuffer()
    }

    static func name(_ metric: String, unit: String = "", help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "baton", metricName: metric, unitName: unit, helpText: help)
    }
}
