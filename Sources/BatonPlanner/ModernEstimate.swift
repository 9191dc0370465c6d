import BatonPlan
import BatonModel

/// The estimate of a plan for Exchange 2013 and later: the makespan and work as for any plan,
/// each database's time without a mounted copy and each DAG's maintenance window.
enum ModernEstimate {
    static func compute(plan steps: [Step], inventory: Inventory, packages: [Package], durations: ActionDurations)
        -> Estimate
    {
        let times = Estimate.Timeline(steps, durations: durations, kinds: InstallKinds(packages))

        // Each server's time out of service: from server-offline to server-online.
        var offlineSince: [HostName: Int] = [:]
        var drainedSince: [HostName: Int] = [:]
        var inbound: [HostName: [(Int, Int)]] = [:]
        // A site whose only Edge server is out takes no Internet mail (rule mx-edge-maint).
        let edges = inventory.servers.filter { $0.role == .edge }
        let lone = Set(edges.filter { edge in edges.filter { $0.site == edge.site }.count == 1 }.map(\.name))
        var outOfService: [HostName: [(Int, Int)]] = [:]
        var window: [HostName: (start: Int, end: Int)] = [:]
        var dagOf: [HostName: HostName] = [:]
        for dag in inventory.dags { for member in dag.members { dagOf[member] = dag.name } }
        for (index, step) in steps.enumerated() {
            let time = times[index]
            switch step.detail {
            case .serverOffline(let host): offlineSince[host] = time.start
            case .serverOnline(let host):
                outOfService[host, default: []].append((offlineSince.removeValue(forKey: host) ?? time.start, time.end))
            case .drainTransport(let host) where lone.contains(host): drainedSince[host] = time.start
            case .resumeTransport(let host) where lone.contains(host):
                inbound[host, default: []].append((drainedSince.removeValue(forKey: host) ?? time.start, time.end))
            default: break
            }
            if let dag = step.dag ?? step.host.flatMap({ dagOf[$0] }) {
                let current = window[dag] ?? (time.start, time.end)
                window[dag] = (min(current.start, time.start), max(current.end, time.end))
            }
        }
        // A database with another copy that can be activated moves and stays mounted; one
        // without is down while its server is out of service.
        var databases: [Estimate.Downtime] = []
        for dag in inventory.dags {
            for database in dag.databases {
                let movable = database.copies.contains { $0 != database.active && !database.lagged.contains($0) }
                let down = movable ? 0 : Estimate.unionLength(outOfService[database.active] ?? [])
                databases.append(Estimate.Downtime(name: database.name, downtimeSeconds: down))
            }
        }
        for server in inventory.servers
        where server.role == .mailbox && server.install.product.isModern && dagOf[server.name] == nil {
            guard let intervals = outOfService[server.name] else { continue }
            databases.append(
                Estimate.Downtime(
                    name: "databases on \(server.name)", downtimeSeconds: Estimate.unionLength(intervals)))
        }
        let dags = inventory.dags.compactMap { dag -> Estimate.DAGWindow? in
            guard let span = window[dag.name] else { return nil }
            return Estimate.DAGWindow(
                name: dag.name.spelling, members: dag.members.count, windowSeconds: span.end - span.start)
        }
        let inboundMail = edges.compactMap { edge -> Estimate.Downtime? in
            guard let intervals = inbound[edge.name] else { return nil }
            return Estimate.Downtime(name: edge.name.spelling, downtimeSeconds: Estimate.unionLength(intervals))
        }
        var estimate = Estimate(
            makespanSeconds: times.makespan, workSeconds: times.work, virtualServers: [], pools: [],
            databases: databases,
            dags: dags,
            assumptions:
                "Steps start as soon as their predecessors end; approvals take no time; every restart happens; a database with another healthy copy moves without an outage.",
            durations: durations.own)
        estimate.inboundMail = inboundMail.isEmpty ? nil : inboundMail
        return estimate
    }
}
