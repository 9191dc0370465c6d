import BatonPlan
import BatonKnowledge
import BatonModel

/// Upgrades a cluster's nodes one at a time, keeping every virtual server served by another
/// node while its own node is upgraded, and never moving a virtual server from an upgraded
/// node back to an older one. Shared by Exchange 2000 and 2003 (and Windows prerequisite
/// hotfixes); `ClusterPolicy` carries the differences.
///
/// The whole cluster is one chain of steps: two steps in one cluster never run at once,
/// so group ownership is never contested. Only the final per-EVS checks and backups fan out.
struct RollingClusterUpgrade {
    let cluster: Cluster
    let package: Package
    let applicability: Applicability
    let policy: ClusterPolicy

    /// Who owns each group now, updated as moves are planned. Keys are group names; the
    /// cluster group is `clusterGroupName`.
    private var owner: [HostName: HostName] = [:]
    /// Nodes running the new level.
    private var upgraded: Set<HostName> = []
    /// Virtual servers at the new level.
    private var upgradedEVS: Set<HostName> = []

    init(cluster: Cluster, package: Package, applicability: Applicability, policy: ClusterPolicy) {
        self.cluster = cluster
        self.package = package
        self.applicability = applicability
        self.policy = policy
        for evs in cluster.virtualServers { owner[evs.name] = evs.owner }
        owner[clusterGroupName] = cluster.clusterGroupOwner
        for node in cluster.nodes where applicability.verdict(node.install, clustered: true) != .applies {
            upgraded.insert(node.name)
        }
        for evs in cluster.virtualServers {
            let atLevel = applicability.isServicePack && package.level.map { evs.level >= $0 } == true
            if atLevel { upgradedEVS.insert(evs.name) }
        }
    }

    /// Nodes still to upgrade, those owning the fewest virtual servers (then groups) first: a
    /// passive node costs no move at all (rule `e2000-active-passive`), and moving the cluster
    /// group costs users nothing, while every EVS move is a short outage.
    var nodesToUpgrade: [ClusterNode] {
        let todo = cluster.nodes.enumerated().filter { !upgraded.contains($0.element.name) }
        func cost(_ entry: (offset: Int, element: ClusterNode)) -> (Int, Int, Int) {
            let owned = groups(on: entry.element.name)
            return (owned.filter { $0 != clusterGroupName }.count, owned.count, entry.offset)
        }
        return todo.sorted { cost($0) < cost($1) }.map(\.element)
    }

    /// Virtual servers already on an upgraded node but still at the old level.
    var strandedVirtualServers: [VirtualServer] {
        guard policy.upgradeVirtualServer else { return [] }
        return cluster.virtualServers.filter {
            !upgradedEVS.contains($0.name) && upgraded.contains(owner[$0.name]!)
        }
    }

    /// Whether `node` runs the level `evs` has now, so it can bring it online.
    func canHost(_ evs: HostName, _ node: ClusterNode) -> Bool {
        guard let server = cluster.virtualServers.first(where: { $0.name == evs }) else { return true }
        guard server.product == node.install.product else { return !policy.noMoveBack }
        if upgradedEVS.contains(evs) { return upgraded.contains(node.name) }
        // Still at its old level: a node at that level which this rollout has not changed
        // (a Windows hotfix leaves Exchange's level alone, so there any node at it will do).
        return node.install.level == server.level && (!policy.noMoveBack || !upgraded.contains(node.name))
    }

    func groups(on node: HostName) -> [HostName] {
        let evs = cluster.virtualServers.map(\.name).filter { owner[$0]! == node }
        return evs + (owner[clusterGroupName]! == node ? [clusterGroupName] : [])
    }

    /// Plans the whole cluster after `start`; returns the steps the rollout's end waits for.
    mutating func plan(after start: [StepID], builder: inout PlanBuilder) throws(PlanRefusal) -> [StepID] {
        var chain = Chain(after: start)
        for evs in strandedVirtualServers {
            upgradeInPlace(evs, chain: &chain, builder: &builder)
        }
        for node in nodesToUpgrade {
            try vacate(node, chain: &chain, builder: &builder)
            upgradeNode(node, chain: &chain, builder: &builder)
        }
        for evs in cluster.virtualServers {
            chain.then(
                Step(
                    .failoverTest(group: evs.name), rules: [.failoverTest],
                    why:
                        "With every node upgraded, prove \(evs.name) still fails over to another node and comes back online."
                ),
                in: &builder)
        }
        if cluster.mode == .activeActive { rebalance(chain: &chain, builder: &builder) }
        return finish(after: chain.tail, builder: &builder)
    }

    /// Moves every group off `node` so its Cluster service can stop (rules
    /// `cluster-stop-service`, `e2003-node-empty`).
    private mutating func vacate(_ node: ClusterNode, chain: inout Chain, builder: inout PlanBuilder)
        throws(PlanRefusal)
    {
        for group in groups(on: node.name) {
            let isEVS = group != clusterGroupName
            let evsIsNew = isEVS && upgradedEVS.contains(group)
            let upgradedNodes = cluster.nodes.filter {
                upgraded.contains($0.name) && $0.name != node.name
            }
            if isEVS && policy.noMoveBack && !upgradedNodes.isEmpty {
                let target = pick(upgradedNodes, for: group)
                if evsIsNew {
                    move(
                        group, from: node.name, to: target, rules: policy.vacateRules + [.e2003NoMoveBack],
                        why:
                            "\(group) already runs the new level, so it may only move to an upgraded node; \(node.name) must own nothing before its Cluster service stops.",
                        chain: &chain, builder: &builder)
                } else {
                    moveToUpgraded(group, from: node.name, to: target, chain: &chain, builder: &builder)
                }
            } else if evsIsNew && policy.noMoveBack {
                throw PlanRefusal(
                    rule: .e2003NoMoveBack,
                    message: """
                        cluster \(cluster.name): virtual server \(group) already runs \(package.level?.rawValue ?? "the new level") \
                        but its owner \(node.name) does not, and no other node does: it cannot move off \(node.name) to be \
                        upgraded. Check the inventory's levels.
                        """)
            } else {
                let others = cluster.nodes.filter { $0.name != node.name }
                let candidates: [ClusterNode]
                if group == clusterGroupName {
                    // The cluster group has no Exchange level: any node may own it.
                    candidates = upgradedNodes.isEmpty ? others : upgradedNodes
                } else {
                    // A virtual server comes online only on a node at its own level: an older
                    // node cannot take it (`e2003-no-move-back`), a newer one needs its upgrade
                    // first (`e2003-event-1025`).
                    candidates = others.filter { canHost(group, $0) }
                    guard !candidates.isEmpty else {
                        throw PlanRefusal(
                            rule: .e2003NoMoveBack,
                            message: """
                                cluster \(cluster.name): no other node runs the level of virtual server \(group), so it \
                                cannot stay online while \(node.name) is worked on. Bring the nodes to one level first.
                                """)
                    }
                }
                let target = pick(candidates, for: group)
                let served = isEVS ? "; \(group) keeps serving its users from \(target) meanwhile" : ""
                move(
                    group, from: node.name, to: target, rules: policy.vacateRules,
                    why: "\(node.name) must own nothing before its Cluster service stops\(served).",
                    chain: &chain, builder: &builder)
            }
        }
    }

    /// KB 328839's steps 7–12 for one virtual server moving onto an upgraded node.
    private mutating func moveToUpgraded(
        _ group: HostName, from: HostName, to target: HostName, chain: inout Chain, builder: inout PlanBuilder
    ) {
        let keep = ResourceType.allCases
        if policy.offlineBeforeMove {
            chain.then(
                Step(
                    .resourcesOffline(host: from, group: group, keep: keep), rules: [.e2003EVSUpgrade, .e2003C1037b44],
                    why:
                        "Only IP Address, Network Name and Physical Disk may be online when \(group) moves to upgraded \(target); otherwise its upgrade fails with c1037b44."
                ),
                in: &builder)
        }
        move(
            group, from: from, to: target, rules: policy.moveToUpgradedRules + policy.vacateRules,
            why:
                "\(from) must be emptied for its own upgrade: \(group) goes to upgraded \(target) \(policy.moveToUpgradedEffect).",
            chain: &chain, builder: &builder)
        if policy.upgradeVirtualServer {
            chain.then(
                Step(
                    .upgradeVirtualServer(host: target, group: group), rules: [.e2003EVSUpgrade, .e2003NodesThenEVS],
                    why:
                        "Nodes first, then each virtual server: \"Upgrade Exchange Virtual Server\" brings \(group) to the nodes' level."
                ),
                in: &builder)
            upgradedEVS.insert(group)
        } else if applicability.isServicePack {
            upgradedEVS.insert(group)
        }
        if policy.offlineBeforeMove {
            let rules: [Rule.ID] =
                policy.upgradeVirtualServer
                ? [.e2003EVSUpgrade, .e2003Event1025] : [.e2003EVSUpgrade, .e2003HotfixNoEVSUpgrade]
            chain.then(
                Step(
                    .resourcesOnline(host: target, group: group), rules: rules,
                    why:
                        "Bring \(group) back online on \(target); from now on it cannot move to a node not yet upgraded."
                ),
                in: &builder)
        }
    }

    /// An EVS left at the old level on a node upgraded before this rollout.
    private mutating func upgradeInPlace(_ evs: VirtualServer, chain: inout Chain, builder: inout PlanBuilder) {
        let host = owner[evs.name]!
        chain.then(
            Step(
                .resourcesOffline(host: host, group: evs.name, keep: ResourceType.allCases),
                rules: [.evsInPlaceUpgrade, .e2003C1037b44],
                why:
                    "\(evs.name) sits on upgraded \(host) at the old level; only IP Address, Network Name and Physical Disk may stay online for its upgrade."
            ),
            in: &builder)
        chain.then(
            Step(
                .upgradeVirtualServer(host: host, group: evs.name), rules: [.evsInPlaceUpgrade, .e2003EVSUpgrade],
                why:
                    "\(evs.name) must be upgraded before it can come online on an upgraded node (event 1025 otherwise)."
            ),
            in: &builder)
        chain.then(
            Step(
                .resourcesOnline(host: host, group: evs.name), rules: [.evsInPlaceUpgrade, .e2003Event1025],
                why: "Bring \(evs.name) back online at the new level."), in: &builder)
        upgradedEVS.insert(evs.name)
    }

    /// Steps 1, 3–6 and 8 of KB 328839's worked example for one empty node.
    private mutating func upgradeNode(_ node: ClusterNode, chain: inout Chain, builder: inout PlanBuilder) {
        let host = node.name
        chain.then(
            Step(
                .stopClusterService(host: host), rules: [.clusterStopService],
                why:
                    "The installer must replace files the Cluster service holds; \(host) owns no group now, so nothing fails over."
            ),
            in: &builder)
        HostSteps.quiesceAndCheck(host, node.install, chain: &chain, builder: &builder)
        if needsKB831464(node) {
            let kb = PackageCatalogue.kb831464
            chain.then(
                Step(
                    .install(host: host, package: kb.id), rules: [.e2003KB831464],
                    why:
                        "Windows Server 2003 nodes need hotfix 831464 (IIS 6.0 compression corruption causes an access violation) before the Exchange package."
                ),
                in: &builder)
            chain.then(
                Step(
                    .reboot(host: host, when: .always), rules: [.e2003KB831464],
                    why: "Hotfix 831464 needs a restart."), in: &builder)
            chain.then(
                Step(
                    .stopClusterService(host: host), rules: [.clusterStopService],
                    why: "The restart started the Cluster service again; stop it before the Exchange installer runs."),
                in: &builder)
            // The restart also started the antivirus and other services set to start
            // automatically: stop them again before the Exchange installer (rule `quiesce`).
            HostSteps.quiesceAndCheck(host, node.install, chain: &chain, builder: &builder)
        }
        chain.then(
            Step(
                .install(host: host, package: package.id), rules: policy.installRules,
                why:
                    "\(host) owns no group and its Cluster service is stopped: install while its virtual servers are served elsewhere."
            ),
            in: &builder)
        HostSteps.restart(host, node.install, package: package, clustered: true, chain: &chain, builder: &builder)
        chain.then(
            Step(
                .startClusterService(host: host), rules: [.e2003EVSUpgrade, .clusterStopService],
                why: "\(host) rejoins the cluster so virtual servers can move onto it."), in: &builder)
        HostSteps.afterInstall(host, node.install, applicability: applicability, chain: &chain, builder: &builder)
        upgraded.insert(host)
    }

    func needsKB831464(_ node: ClusterNode) -> Bool {
        package.product == .exchange2003 && node.install.os == .windows2003
            && !node.install.installed.contains { $0 == PackageCatalogue.kb831464.id }
    }

    /// Active/active clusters spread their virtual servers again (rule `rebalance-preferred-owners`).
    private mutating func rebalance(chain: inout Chain, builder: inout PlanBuilder) {
        var rules: [Rule.ID] = [.rebalance]
        if cluster.nodes.first?.install.product == .exchange2000 { rules.append(.e2000ActiveActive) }
        for evs in cluster.virtualServers {
            let home = evs.preferredOwner ?? evs.owner
            // By now an Exchange package has brought every node to one level; a Windows hotfix
            // leaves their Exchange levels as they were, so the home node must match the EVS.
            guard let current = owner[evs.name], current != home,
                let homeNode = cluster.node(named: home),
                policy.noMoveBack || (homeNode.install.product == evs.product && homeNode.install.level == evs.level)
            else { continue }
            move(
                evs.name, from: current, to: home, rules: rules,
                why:
                    "Every node is upgraded: move \(evs.name) back to \(home) so the active/active load is spread again.",
                chain: &chain, builder: &builder)
        }
    }

    /// Rule `verify-version` for every virtual server, then rule `backup-after`.
    private func finish(after tail: [StepID], builder: inout PlanBuilder) -> [StepID] {
        let servers = cluster.virtualServers.map { evs in
            let levelBefore = cluster.node(named: evs.owner)?.install.level ?? evs.level
            let expect =
                applicability.isExchangePackage
                ? applicability.expectedBuild(evs.product, from: max(evs.level, levelBefore)) : nil
            return (name: evs.name, owner: owner[evs.name] ?? evs.owner, expect: expect)
        }
        return HostSteps.virtualServerTail(
            servers, tool: "Exchange System Manager", isServicePack: applicability.isServicePack, after: tail,
            builder: &builder)
    }

    private mutating func move(
        _ group: HostName, from: HostName, to target: HostName, rules: [Rule.ID], why: String, chain: inout Chain,
        builder: inout PlanBuilder
    ) {
        var unique: [Rule.ID] = []
        for rule in rules where !unique.contains(rule) { unique.append(rule) }
        chain.then(Step(.moveGroup(group: group, from: from, to: target), rules: unique, why: why), in: &builder)
        owner[group] = target
    }

    /// The node that should take `group`: its preferred owner if eligible, else the least
    /// loaded, ties broken by the inventory's order.
    private func pick(_ candidates: [ClusterNode], for group: HostName) -> HostName {
        let preferred = cluster.virtualServers.first { $0.name == group }?.preferredOwner
        if let preferred, candidates.contains(where: { $0.name == preferred }) { return preferred }
        let best = candidates.enumerated().min {
            (groups(on: $0.element.name).count, $0.offset) < (groups(on: $1.element.name).count, $1.offset)
        }
        return best!.element.name
    }
}

extension Array {
    var nonEmpty: Self? { isEmpty ? nil : self }
}
