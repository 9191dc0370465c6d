import BatonModel
import BatonPlan

/// How an estimate is worked out from a plan's steps (the figures are `Estimate`'s, in BatonPlan).
extension Estimate {
    /// Earliest start and end of every step by its position in the plan, each step as soon as
    /// its predecessors end, with the plan's makespan and total work.
    struct Timeline {
        var start: [Int] = []
        var end: [Int] = []
        var makespan = 0
        var work = 0

        init(_ steps: [Step], durations: ActionDurations, kinds: InstallKinds) {
            let position = StepPositions(steps)
            start.reserveCapacity(steps.count)
            end.reserveCapacity(steps.count)
            // Each step read where it is stored: a copy would retain and release its members.
            steps.withUnsafeBufferPointer { steps in
                for index in steps.indices {
                    var earliest = 0
                    for before in steps[index].after {
                        if let from = position[before], from < end.count { earliest = max(earliest, end[from]) }
                    }
                    let seconds = durations.seconds(for: steps[index], kinds: kinds)
                    start.append(earliest)
                    end.append(earliest + seconds)
                    makespan = max(makespan, earliest + seconds)
                    work += seconds
                }
            }
        }

        subscript(_ index: Int) -> (start: Int, end: Int) { (start[index], end[index]) }
    }

    static func compute(plan steps: [Step], inventory: Inventory, package: Package, durations: ActionDurations)
        -> Estimate
    {
        let times = Timeline(steps, durations: durations, kinds: InstallKinds([package]))

        var offline: [HostName: [(Int, Int)]] = [:]
        var offlineSince: [HostName: Int] = [:]
        let virtualServers = Set(inventory.clusters.flatMap(\.virtualServers).map(\.name))
        let evs55: [HostName: [HostName]] = Dictionary(
            grouping: inventory.clusters.filter { $0.nodes.first?.install.product == .exchange55 }
                .flatMap(\.virtualServers), by: \.owner
        ).mapValues { $0.map(\.name) }
        // Steps of each pool, by position.
        var poolSteps: [String: [Int]] = [:]
        for index in steps.indices {
            let time = times[index]
            if let pool = steps[index].pool { poolSteps[pool, default: []].append(index) }
            switch steps[index].action {
            case .resourcesOffline: if let group = steps[index].group { offlineSince[group] = time.start }
            case .resourcesOnline:
                if let group = steps[index].group {
                    offline[group, default: []].append(
                        (offlineSince.removeValue(forKey: group) ?? time.start, time.end))
                }
            case .moveGroup, .failoverTest:
                if let group = steps[index].group, virtualServers.contains(group), offlineSince[group] == nil {
                    offline[group, default: []].append((time.start, time.end))
                }
            case .install:
                // Exchange 5.5 setup stops the services of the virtual servers its node owns.
                if let host = steps[index].host, let owned = evs55[host], steps[index].package == package.id {
                    for group in owned { offline[group, default: []].append((time.start, time.end)) }
                }
            default: break
            }
        }
        let downtimes = inventory.clusters.flatMap(\.virtualServers).map { evs in
            Downtime(name: evs.name.spelling, downtimeSeconds: unionLength(offline[evs.name] ?? []))
        }

        var pools: [PoolWindow] = []
        let poolMembers = Dictionary(grouping: inventory.servers.filter { $0.pool != nil }, by: { $0.pool! })
        for (name, members) in poolMembers.sorted(by: { $0.key < $1.key }) {
            var outIntervals: [HostName: (Int, Int)] = [:]
            var leftAt: [HostName: Int] = [:]
            for index in poolSteps[name] ?? [] {
                let step = steps[index], time = times[index]
                guard let host = step.host else { continue }
                if step.action == .leavePool { leftAt[host] = time.start }
                if step.action == .rejoinPool { outIntervals[host] = (leftAt[host] ?? time.start, time.end) }
            }
            let intervals = Array(outIntervals.values)
            let window = intervals.isEmpty ? 0 : intervals.map(\.1).max()! - intervals.map(\.0).min()!
            var fullyOut = 0
            if intervals.count == members.count, let start = intervals.map(\.0).max(),
                let end = intervals.map(\.1).min()
            {
                fullyOut = max(0, end - start)
            }
            pools.append(
                PoolWindow(
                    name: name, members: members.count, membersOut: intervals.count, windowSeconds: window,
                    fullyOutSeconds: fullyOut))
        }
        return Estimate(
            makespanSeconds: times.makespan, workSeconds: times.work, virtualServers: downtimes, pools: pools,
            assumptions:
                "Steps start as soon as their predecessors end; approvals take no time; every restart happens.",
            durations: durations.own)
    }

    static func unionLength(_ intervals: [(Int, Int)]) -> Int {
        var total = 0, reach = Int.min
        for (start, end) in intervals.sorted(by: { $0.0 < $1.0 }) {
            let from = max(start, reach)
            if end > from { total += end - from }
            reach = max(reach, end)
        }
        return total
    }
}
