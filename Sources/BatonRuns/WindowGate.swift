import BatonEngine
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Synchronization

/// A run's clock: the wall clock on real hosts; on the lab twin, the instant a rehearsal is
/// said to start (`--rehearse-at`, or now) plus the twin's virtual time (each step's duration,
/// steps side by side overlapping) and the waits for windows, so that a busy machine does not
/// make it run ahead. A wait sleeps as the twin's speed says (not at all at instant speed).
public final class RunClock: Sendable {
    let origin: Date
    /// The twin's virtual seconds so far; nil on real hosts.
    let virtual: (@Sendable () -> Double)?
    /// Seconds of the run's clock per real second while waiting; nil: waits take no time.
    let factor: Double?
    let waited = Mutex<Double>(0)

    /// On real hosts: the wall clock.
    public init() {
        origin = Date()
        virtual = nil
        factor = 1
    }

    /// On the lab twin: from `origin`, the twin's virtual seconds and the waits.
    public init(origin: Date, virtual: @escaping @Sendable () -> Double, speed: LabSpeed) {
        self.origin = origin
        self.virtual = virtual
        switch speed {
        case .instant: factor = nil
        case .factor(let value): factor = value
        }
    }

    public func now() -> Date {
        guard let virtual else { return Date() }
        return origin.addingTimeInterval(waited.withLock { $0 } + virtual())
    }

    /// Waits until `date` on this clock, a real second at a time, ending early when `stop`
    /// gives a reason.
    public func wait(until date: Date, stop: @escaping @Sendable () -> String?) async throws {
        let left = date.timeIntervalSince(now())
        guard left > 0 else { return }
        guard virtual != nil else {
            // The wall clock: sleep until then.
            while Date() < date, stop() == nil {
                try await Task.sleep(for: .milliseconds(Int64(min(1000, max(1, date.timeIntervalSinceNow * 1000)))))
            }
            return
        }
        var slept = 0.0
        if let factor {
            while slept < left, stop() == nil {
                let step = min(left - slept, factor)
                try await Task.sleep(for: .milliseconds(Int64(max(1, step / factor * 1000))))
                slept += step
            }
        } else {
            slept = left
        }
        waited.withLock { $0 += min(left, slept) }
    }
}

/// Maintenance windows as the engine meets them (docs/running.md, "Overnight"): no step
/// starts outside a window that covers its server (the organization's, its site's or its
/// DAG's), and no server's update starts unless its estimated length, with the inventory's
/// margin, ends before the window closes. A server whose update has begun goes on to its end.
/// Gates may be approved at any time.
public final class WindowGate: StartGate {
    let windows: [MaintenanceWindow]
    let margin: Int
    public let haltsOutside: Bool
    public let clock: RunClock
    /// Each server's site and DAG.
    let scope: [HostName: (site: String?, dag: HostName?)]
    /// For the step that begins each server's update: the server and the estimated seconds to
    /// the update's end.
    let updates: [StepID: (host: HostName, seconds: Int)]
    /// Servers whose update has begun.
    let begun: Mutex<Set<HostName>>
    /// Told of each step started, with the run's clock then.
    let onStart: (@Sendable (Step, Date) -> Void)?

    /// `done`: the steps a resumed run has done (servers part way through go on).
    public init(
        plan: Plan, inventory: Inventory, windows: [MaintenanceWindow], margin: Int, clock: RunClock,
        haltsOutside: Bool, done: Set<StepID> = [], onStart: (@Sendable (Step, Date) -> Void)? = nil
    ) {
        self.onStart = onStart
        self.windows = windows
        self.margin = margin
        self.haltsOutside = haltsOutside
        self.clock = clock
        var scope: [HostName: (site: String?, dag: HostName?)] = [:]
        for server in inventory.servers { scope[server.name] = (server.site, nil) }
        for dag in inventory.dags { for member in dag.members { scope[member]?.dag = dag.name } }
        self.scope = scope
        // A server's update: from the first step that takes it out of service (or changes it)
        // to its last step, one after another; backups and Active Directory's preparation run
        // on it while it serves.
        let seconds = ActionDurations(of: plan).seconds(plan.steps, of: plan)
        var first: [HostName: StepID] = [:]
        var total: [HostName: Int] = [:]
        var begun = Set<HostName>()
        for (index, step) in plan.steps.enumerated() where step.takesSlot {
            guard let host = step.host else { continue }
            if first[host] == nil, Self.beginsAnUpdate.contains(step.action) { first[host] = step.id }
            guard first[host] != nil else { continue }
            total[host, default: 0] += seconds[index]
            if done.contains(step.id) { begun.insert(host) }
        }
        var updates: [StepID: (host: HostName, seconds: Int)] = [:]
        for (host, id) in first { updates[id] = (host, total[host] ?? 0) }
        self.updates = updates
        self.begun = Mutex(begun)
    }

    /// The actions that begin a server's update: it stops serving, or setup starts.
    static let beginsAnUpdate: Set<Action> = [
        .drainTransport, .startDagMaintenance, .serverOffline, .leavePool, .quiesce, .stopClusterService, .moveGroup,
        .resourcesOffline, .install, .reboot, .updateComponent, .exportSchemaMap,
    ]

    /// The windows that cover `step`'s server; a step on no server: the organization's.
    func covering(_ step: Step) -> [MaintenanceWindow] {
        guard let host = step.host ?? step.group, let (site, dag) = scope[host] else {
            let dag = step.dag
            return windows.filter { $0.covers(site: nil, dag: dag) }
        }
        return windows.filter { $0.covers(site: site, dag: dag) }
    }

    public func hold(_ step: Step) -> Hold? {
        guard step.takesSlot else { return nil }
        if let host = step.host, begun.withLock({ $0.contains(host) }) { return nil }
        let covering = covering(step)
        guard !covering.isEmpty else { return nil }
        let now = clock.now()
        let update = updates[step.id]
        let need = Double((update?.seconds ?? 0) + (update == nil ? 0 : margin))
        if covering.contains(where: { window in
            window.occurrence(containing: now).map { now.addingTimeInterval(need) <= $0.end } ?? false
        }) {
            return nil
        }
        // The next occurrence long enough, of any window that covers it.
        var best: DateInterval?
        for window in covering {
            var from = now
            for _ in 0..<16 {
                guard let next = window.next(after: from) else { break }
                if next.duration >= need {
                    if best.map({ next.start < $0.start }) ?? true { best = next }
                    break
                }
                from = next.end
            }
        }
        let subject =
            update.map {
                "\($0.host)'s update (about \(humanDuration($0.seconds)) with a margin of \(humanDuration(margin)))"
            } ?? "\(step.summary)"
        guard let best else {
            return Hold(until: .distantFuture, why: "no maintenance window is long enough for \(subject)")
        }
        let opens = ISO8601DateFormatter.string(
            from: best.start, timeZone: covering[0].timeZone,
            formatOptions: [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime])
        let open = covering.contains { $0.occurrence(containing: now) != nil }
        return Hold(
            until: best.start,
            why: open
                ? "\(subject) would not end before the window closes; it waits for the next, at \(opens) \(covering[0].timeZone.identifier)"
                : "\(subject) waits for the next maintenance window, at \(opens) \(covering[0].timeZone.identifier)")
    }

    public func started(_ step: Step) {
        onStart?(step, clock.now())
        guard let update = updates[step.id] else { return }
        _ = begun.withLock { $0.insert(update.host) }
    }

    public func wait(until date: Date, stop: @escaping @Sendable () -> String?) async throws {
        try await clock.wait(until: date, stop: stop)
    }
}

/// How a run meets maintenance windows: the inventory's `windows:` or one given for the run
/// (`--window`), whether it halts outside them, and when a rehearsal on the twin says it starts.
public struct WindowSettings: Sendable {
    public var window: MaintenanceWindow?
    public var haltsOutside: Bool
    public var rehearseAt: Date?
    /// Told of each step started, with the run's clock then (a rehearsal's record of when).
    public var onStart: (@Sendable (Step, Date) -> Void)?

    public init(
        window: MaintenanceWindow? = nil, haltsOutside: Bool = false, rehearseAt: Date? = nil,
        onStart: (@Sendable (Step, Date) -> Void)? = nil
    ) {
        self.window = window
        self.haltsOutside = haltsOutside
        self.rehearseAt = rehearseAt
        self.onStart = onStart
    }
}
