import BatonPlan
import BatonKnowledge
import BatonModel

/// Exchange Server 5.5 on a cluster (rule `e55-active-first`): install on the active node
/// first and do not fail over or move the Exchange group; then install on the passive node.
/// Setup stops the Exchange services and restarts them, so users cannot connect meanwhile:
/// the plan warns of that outage. KB 328839's general cluster box (move groups, stop the
/// Cluster service) is repeated in the 5.5 section; the version's own procedure wins.
struct Exchange55ClusterProcedure {
    let cluster: Cluster
    let package: Package
    let applicability: Applicability

    func plan(after start: [StepID], builder: inout PlanBuilder, durations: ActionDurations) -> [StepID] {
        builder.warn(
            .e55ActiveFirst,
            """
            cluster \(cluster.name): KB 328839's general cluster instructions say to move groups off a node and stop its \
            Cluster service, but the Exchange 5.5 procedure forbids moving the Exchange group; the 5.5 procedure wins, \
            so no group moves and the Cluster service keeps running.
            """)
        let active = cluster.nodes.filter { node in
            cluster.virtualServers.contains { $0.owner == node.name }
        }
        let passive = cluster.nodes.filter { node in !active.contains(node) }
        var chain = Chain(after: start)
        for node in active + passive where applicability.verdict(node.install, clustered: true) == .applies {
            let owned = cluster.virtualServers.filter { $0.owner == node.name }.map(\.name)
            HostSteps.quiesceAndCheck(node.name, node.install, chain: &chain, builder: &builder)
            let why =
                owned.isEmpty
                ? "The passive node is upgraded after the active one."
                : "Active node first, without moving the Exchange group: setup stops and restarts the services of \(owned.joined(separator: ", ")), whose users cannot connect meanwhile."
            chain.then(
                Step(.install(host: node.name, package: package.id), rules: [.e55ActiveFirst], why: why), in: &builder)
            HostSteps.restart(
                node.name, node.install, package: package, clustered: true, chain: &chain, builder: &builder)
            HostSteps.afterInstall(
                node.name, node.install, applicability: applicability, chain: &chain, builder: &builder)
            for evs in owned {
                let minutes =
                    durations.seconds(
                        for: Step(.install(host: node.name, package: package.id), rules: [], why: ""), package: package)
                    / 60
                builder.warn(
                    .e55ActiveFirst,
                    "\(evs) is unavailable while setup runs on its active node \(node.name) (about \(minutes) minutes): users cannot connect. Schedule it in a maintenance window."
                )
            }
        }
        return HostSteps.virtualServerTail(
            cluster.virtualServers.map {
                ($0.name, $0.owner, applicability.expectedBuild($0.product, from: $0.level))
            }, tool: "Exchange Administrator", isServicePack: applicability.isServicePack, after: chain.tail,
            builder: &builder)
    }
}
