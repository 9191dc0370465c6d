import BatonPlan
import BatonKnowledge
import BatonModel

/// Turns an inventory and a package into a plan. A pure function: the same inventory and
/// package always give the same plan, byte for byte.
///
/// The shape of every plan:
/// - prepare: the release-notes gate and a backup of every Exchange server, virtual server
///   and domain controller, joined by a "ready" milestone that every install waits for;
/// - front-ends (Exchange 2000/2003), pooled ones together, joined by a milestone that every
///   back-end waits for;
/// - every other server, and each cluster by its product line's procedure, side by side;
/// - after each server and virtual server reaches the new level, a fresh backup.
public struct Planner: Sendable {
    public let inventory: Inventory
    public let package: Package

    /// How many servers each pool has, applicable or not.
    let poolSizes: [String: Int]

    public init(inventory: Inventory, package: Package) {
        self.inventory = inventory
        self.package = package
        poolSizes = inventory.servers.reduce(into: [:]) { sizes, server in
            if let pool = server.pool { sizes[pool, default: 0] += 1 }
        }
    }

    /// The plan toward `target`: every server of Exchange 2013 and later to its own newest
    /// update from `catalogue` (rule `mx-latest-update`).
    public static func plan(
        _ inventory: Inventory, to target: UpdateTarget, catalogue: PackageCatalogue, limit: Limit? = nil
    ) throws(PlanRefusal) -> Plan {
        let principal = catalogue.packages.last { $0.product?.isModern == true } ?? PackageCatalogue.modern.last!
        var planner = ModernPlanner(inventory: inventory, catalogue: catalogue, target: target, principal: principal)
        if let limit { planner.restrict(to: limit) }
        return try planner.plan()
    }

    public func plan() throws(PlanRefusal) -> Plan { try plan(limit: nil) }

    /// The plan, limited to a canary's scope when `limit` is given (Exchange 2013 and later).
    public func plan(limit: Limit?) throws(PlanRefusal) -> Plan {
        if let product = package.product, product.isModern {
            var planner = ModernPlanner(inventory: inventory, package: package, product: product)
            if let limit { planner.restrict(to: limit) }
            return try planner.plan()
        }
        if limit != nil {
            throw PlanRefusal(
                rule: .canary,
                message:
                    "--limit is for Exchange 2013 and later; KB 328839's procedures for \(package.id) take the organization as a whole")
        }
        try refuseMigrations()
        let applicability = Applicability(package: package)
        var builder = PlanBuilder(
            machines: inventory.servers.count
                + inventory.clusters.reduce(0) { $0 + $1.nodes.count + $1.virtualServers.count })
        let durations = ActionDurations(overrides: inventory.durations)

        let servers = inventory.servers.filter { applicability.verdict($0.install, clustered: false) == .applies }
        let clusters = inventory.clusters.filter { clusterInScope($0, applicability, &builder) }
        warnLeftAlone(applicability, &builder)
        guard !servers.isEmpty || !clusters.isEmpty else {
            builder.warn(
                .packageApplicability,
                "Nothing in \(inventory.organization) needs \(package.id): the plan has no steps.")
            return Plan(
                organization: inventory.organization, package: .init(package), steps: [], warnings: builder.warnings,
                estimate: Estimate.compute(plan: [], inventory: inventory, package: package, durations: durations))
        }
        for server in servers where server.install.running.contains(.installer) {
            builder.warn(
                .noConcurrentInstallers,
                "An installer is running on \(server.name) now: its check-installers step fails until it ends.")
        }
        for node in clusters.flatMap(\.nodes) where node.install.running.contains(.installer) {
            builder.warn(
                .noConcurrentInstallers,
                "An installer is running on \(node.name) now: its check-installers step fails until it ends.")
        }

        let ready = prepare(&builder)
        let procedure = ServerProcedure(package: package, applicability: applicability)

        // Front-ends first (rules `e2003-front-end-first`, `e2000-front-end-first`).
        builder.phase = "front-ends"
        let frontEnds = servers.filter { $0.role == .frontEnd }
        var frontEndDone: [StepID] = []
        var pooled: [String: [Server]] = [:]
        for server in frontEnds {
            if let pool = server.pool { pooled[pool, default: []].append(server) }
        }
        for server in frontEnds where server.pool == nil {
            let tail = procedure.upgrade(server, after: ready, builder: &builder)
            frontEndDone += tail
            if applicability.isServicePack { HostSteps.backupAfter(host: server.name, after: tail, builder: &builder) }
        }
        for pool in pooled.keys.sorted() {
            builder.phase = "pool \(pool)"
            frontEndDone += upgradePool(pool, pooled[pool]!, after: ready, procedure: procedure, &builder)
        }
        let frontEndRule: Rule.ID = package.product == .exchange2000 ? .e2000FrontEndFirst : .e2003FrontEndFirst
        let backEndStart =
            frontEndDone.isEmpty
            ? ready
            : builder.join(
                "all front-ends upgraded", frontEndDone, rules: [frontEndRule],
                why:
                    "Every front-end runs the new level before any back-end starts: Outlook Web Access and mobile clients keep working."
            )

        // Every other server. In an organization with front-ends, every mailbox server is a
        // back-end for them, whatever its declared role.
        builder.phase = "servers"
        for server in servers where server.role != .frontEnd {
            let start = frontEndDone.isEmpty ? ready : backEndStart
            let tail = procedure.upgrade(server, after: start, builder: &builder)
            if applicability.isServicePack { HostSteps.backupAfter(host: server.name, after: tail, builder: &builder) }
            if server.edition == .smallBusinessServer, server.install.product == .exchange2000, package.level == .sp3 {
                builder.warn(
                    .sbs,
                    "\(server.name) runs Small Business Server 2000: its SP1 is one integrated setup that also brings Windows 2000 SP3 and Exchange 2000 SP3."
                )
            }
        }

        // Clusters: their nodes are back-ends.
        for cluster in clusters {
            builder.phase = "cluster \(cluster.name)"
            let start = frontEndDone.isEmpty ? ready : backEndStart
            _ = try upgradeCluster(cluster, after: start, applicability: applicability, durations: durations, &builder)
        }

        builder.warn(
            .labFirst,
            """
            Rehearse this rollout on the lab twin before production: baton lab rehearse \(inventory.file) --package \
            \(package.id) (or baton run, whose target is the lab twin until real hosts are configured).
            """)
        if package.kind == .servicePack {
            builder.warn(
                .noUninstall,
                """
                A service pack cannot be uninstalled. The way back is to uninstall Exchange, reinstall it at the \
                original level and restore the databases and system state from the backups this plan takes first.
                """)
        }
        let steps = builder.steps
        return Plan(
            organization: inventory.organization, package: .init(package), steps: steps, warnings: builder.warnings,
            estimate: Estimate.compute(plan: steps, inventory: inventory, package: package, durations: durations))
    }

    /// The release-notes gate and every backup of rule `backup-before`; returns the "ready"
    /// milestone that every install waits for.
    func prepare(_ builder: inout PlanBuilder) -> [StepID] {
        builder.phase = "prepare"
        let level = package.level.map { " \($0.displayName)" } ?? ""
        let gate = builder.add(
            Step(
                .approve(gate: Gate.releaseNotes), rules: [.releaseNotes],
                why:
                    "Read the\(level) release notes of \(package.id) before the first install: they may demand changes for this environment."
            ),
            after: [])
        // One backup at a time per machine: a node's system state, then the databases of
        // the virtual servers it owns.
        var lastOnHost: [HostName: StepID] = [:]
        func backup(_ step: Step, on host: HostName) {
            lastOnHost[host] = builder.add(step, after: lastOnHost[host].map { [$0] } ?? [])
        }
        let domainControllers = Set(inventory.domainControllers)
        let serverNames = Set(inventory.servers.map(\.name))
        for dc in inventory.domainControllers where !serverNames.contains(dc) {
            backup(
                Step(
                    .backup(host: dc, what: [.systemState]), rules: [.backupBefore],
                    why:
                        "Rolling back means restoring the domain controllers' system state as it was before the package."
                ),
                on: dc)
        }
        for server in inventory.servers {
            let dc = domainControllers.contains(server.name) ? " (also a domain controller)" : ""
            backup(
                Step(
                    .backup(host: server.name, what: [.databases, .systemState]), rules: [.backupBefore],
                    why:
                        "Rolling back means reinstalling Exchange and restoring \(server.name)'s databases and system state\(dc) from before the package."
                ),
                on: server.name)
        }
        for cluster in inventory.clusters {
            for node in cluster.nodes {
                backup(
                    Step(
                        .backup(host: node.name, what: [.systemState]), rules: [.backupBefore],
                        why: "Cluster node \(node.name)'s system state is part of the way back."), on: node.name)
            }
            for evs in cluster.virtualServers {
                backup(
                    Step(
                        .backup(host: evs.owner, group: evs.name, what: [.databases]), rules: [.backupBefore],
                        why:
                            "Virtual server \(evs.name)'s databases, taken on its owner \(evs.owner), are part of the way back."
                    ),
                    on: evs.owner)
            }
        }
        // In the order they were made: each id's number read once, not at every comparison.
        let backups = lastOnHost.values.map { (number: PlanBuilder.number($0), id: $0) }.sorted {
            $0.number < $1.number
        }
        .map(\.id)
        return builder.join(
            "ready to install", [gate] + backups, rules: [.backupBefore, .releaseNotes],
            why: "No install starts anywhere before the release notes are read and every backup is taken.")
    }

    /// Exchange 2003 front-ends behind one load balancer are upgraded together: all leave,
    /// all upgrade, all rejoin (rule `e2003-pool-together`). Members already at the new
    /// level keep serving, so no client sees mixed levels. Exchange 2000 front-ends need not
    /// be upgraded together (rule `e2000-front-end-first`): one at a time leaves, upgrades
    /// and rejoins, and the rest of the pool keeps serving.
    func upgradePool(
        _ pool: String, _ members: [Server], after ready: [StepID], procedure: ServerProcedure,
        _ builder: inout PlanBuilder
    ) -> [StepID] {
        let applicability = procedure.applicability
        guard package.product == .exchange2003 else {
            var chain = Chain(after: ready)
            var done: [StepID] = []
            for server in members {
                chain.then(
                    Step(
                        .leavePool(host: server.name, pool: pool), rules: [.e2000FrontEndFirst],
                        why:
                            "Exchange 2000 front-ends need not be upgraded together: \(server.name) leaves \(pool) alone while the others serve."
                    ),
                    in: &builder)
                let tail = procedure.upgrade(server, after: chain.tail, builder: &builder)
                chain = Chain(after: tail)
                let rejoined = chain.then(
                    Step(
                        .rejoinPool(host: server.name, pool: pool), rules: [.e2000FrontEndFirst],
                        why: "\(server.name) serves \(pool) again at the new level."), in: &builder)
                done.append(rejoined)
                if applicability.isServicePack {
                    HostSteps.backupAfter(host: server.name, after: [rejoined], builder: &builder)
                }
            }
            return done
        }
        let stayIn = poolSizes[pool, default: members.count] - members.count
        let why =
            stayIn > 0
            ? "\(members.count) members of \(pool) leave together while \(stayIn) already at the new level keep serving, so no client meets mixed levels."
            : "All front-ends of \(pool) leave together, so mobile clients never meet mixed levels (synchronization-key errors); the pool is out of service until they rejoin."
        let left = members.map { server in
            builder.add(
                Step(.leavePool(host: server.name, pool: pool), rules: [.e2003PoolTogether], why: why), after: ready)
        }
        let out = builder.join(
            "pool \(pool) out of service", left, rules: [.e2003PoolTogether],
            why: "Upgrade starts once every member of \(pool) being upgraded is out of the pool.")
        let upgraded = members.flatMap { procedure.upgrade($0, after: out, builder: &builder) }
        let allUpgraded = builder.join(
            "pool \(pool) upgraded", upgraded, rules: [.e2003PoolTogether],
            why: "The members rejoin only once every one of them runs the new level.")
        var done: [StepID] = []
        for server in members {
            let rejoined = builder.add(
                Step(
                    .rejoinPool(host: server.name, pool: pool), rules: [.e2003PoolTogether],
                    why: "Every member of \(pool) runs the new level: \(server.name) serves again."), after: allUpgraded
            )
            done.append(rejoined)
            if applicability.isServicePack {
                HostSteps.backupAfter(host: server.name, after: [rejoined], builder: &builder)
            }
        }
        if stayIn == 0 {
            builder.warn(
                .e2003PoolTogether,
                "Pool \(pool) is out of service from its first leave-pool to its last rejoin-pool; the estimate shows for how long."
            )
        }
        return done
    }

    func upgradeCluster(
        _ cluster: Cluster, after start: [StepID], applicability: Applicability, durations: ActionDurations,
        _ builder: inout PlanBuilder
    ) throws(PlanRefusal) -> [StepID] {
        let product = cluster.nodes[0].install.product
        if package.target == .windows(.windows2003) {
            var rolling = RollingClusterUpgrade(
                cluster: cluster, package: package, applicability: applicability,
                policy: WindowsHotfixClusterProcedure.policy(package: package, cluster: cluster))
            return try rolling.plan(after: start, builder: &builder)
        }
        switch product {
        case .exchange55:
            return Exchange55ClusterProcedure(cluster: cluster, package: package, applicability: applicability)
                .plan(after: start, builder: &builder, durations: durations)
        case .exchange2000:
            var rolling = RollingClusterUpgrade(
                cluster: cluster, package: package, applicability: applicability,
                policy: Exchange2000ClusterProcedure.policy(package: package, cluster: cluster))
            return try rolling.plan(after: start, builder: &builder)
        case .exchange2003:
            var rolling = RollingClusterUpgrade(
                cluster: cluster, package: package, applicability: applicability,
                policy: Exchange2003ClusterProcedure.policy(package: package, cluster: cluster))
            return try rolling.plan(after: start, builder: &builder)
        case .exchange2013, .exchange2016, .exchange2019, .exchangeSE:
            // The inventory refuses such clusters: Exchange 2013 and later use DAGs.
            return start
        }
    }

    /// Why a cluster must be left alone because its nodes would not all end at one level,
    /// so that its virtual servers could not fail over between every node (rules
    /// `e2003-no-move-back`, `failover-test`); nil when they would.
    func mixedLevels(_ cluster: Cluster) -> String? {
        let levels = Set(cluster.nodes.map(\.install.level))
        if package.kind == .hotfix, levels.count > 1 {
            // A hotfix leaves the levels as they are.
            return
                "its nodes run different levels (\(levels.sorted().map(\.rawValue).joined(separator: ", "))), so its virtual servers could not fail over between all of them; bring every node to one level first"
        }
        if package.kind == .servicePack, let level = package.level,
            let above = cluster.nodes.first(where: { $0.install.product == package.product && $0.install.level > level }
            )
        {
            return
                "node \(above.name) already runs \(above.install.level.rawValue), above \(package.id): the other nodes would end at \(level.rawValue) and could not take a virtual server upgraded on \(above.name); roll out \(above.install.product.rawValue)-\(above.install.level.rawValue) instead"
        }
        return nil
    }

    /// Whether the package touches the cluster: some node takes it, or (service packs) some
    /// virtual server still needs "Upgrade Exchange Virtual Server". A hotfix is not rolled
    /// onto a cluster some of whose nodes are below its required level.
    func clusterInScope(_ cluster: Cluster, _ applicability: Applicability, _ builder: inout PlanBuilder) -> Bool {
        let verdicts = cluster.nodes.map { applicability.verdict($0.install, clustered: true) }
        if package.kind == .hotfix, package.product != nil,
            verdicts.contains(where: { if case .belowRequirement = $0 { true } else { false } }),
            verdicts.contains(.applies)
        {
            builder.warn(
                .packageApplicability,
                "cluster \(cluster.name) is left alone: some of its nodes are below \(package.requires?.rawValue ?? "rtm"), which \(package.id) requires; bring every node to it first."
            )
            return false
        }
        let touched = verdicts.contains(.applies) || touchesVirtualServers(cluster, applicability)
        if touched, let reason = mixedLevels(cluster) {
            builder.warn(.e2003NoMoveBack, "cluster \(cluster.name) is left alone: \(reason).")
            return false
        }
        return touched
    }

    /// Service packs for Exchange 2003: an EVS still below the level its upgraded nodes run
    /// needs "Upgrade Exchange Virtual Server" even when no node needs the package.
    func touchesVirtualServers(_ cluster: Cluster, _ applicability: Applicability) -> Bool {
        guard applicability.isServicePack, package.product == .exchange2003, let level = package.level,
            cluster.nodes.allSatisfy({ $0.install.product == .exchange2003 })
        else { return false }
        return cluster.virtualServers.contains { $0.level < level }
    }

    /// Rule `e2003-clean-install-migration`: an EVS of an older product than its nodes is a
    /// migration in progress, which a service pack cannot finish.
    func refuseMigrations() throws(PlanRefusal) {
        guard let product = package.product else { return }
        for cluster in inventory.clusters where cluster.nodes.contains(where: { $0.install.product == product }) {
            for evs in cluster.virtualServers where evs.product.generation < product.generation {
                throw PlanRefusal(
                    rule: .e2003CleanInstallMigration,
                    message: """
                        cluster \(cluster.name): virtual server \(evs.name) still runs \(evs.product.rawValue) on \
                        \(product.rawValue) nodes. Moving a cluster from Exchange 2000 to Exchange 2003 needs the \
                        clean-install method (KB 842427) and the virtual server's upgrade before any service pack; \
                        a service-pack rollout cannot do it.
                        """)
            }
        }
    }

    /// Warnings for machines the package leaves alone, grouped so that a large organization
    /// gets a few lines rather than one per server.
    func warnLeftAlone(_ applicability: Applicability, _ builder: inout PlanBuilder) {
        var groups: [String: [HostName]] = [:]
        var order: [String] = []
        let machines =
            inventory.servers.map { ($0.name, $0.install, false) }
            + inventory.clusters.flatMap { $0.nodes.map { ($0.name, $0.install, true) } }
        for (name, install, clustered) in machines {
            let reason: String
            switch applicability.verdict(install, clustered: clustered) {
            case .applies: continue
            case .otherProduct, .notACandidate:
                reason = "run \(install.product.rawValue) on \(install.os.rawValue), which \(package.id) is not for"
            case .alreadyAtLevel(let level): reason = "already run \(level.rawValue), at or above \(package.id)"
            case .belowRequirement(let level):
                reason =
                    "run \(level.rawValue), below the \(package.requires?.rawValue ?? "") that \(package.id) requires"
            case .alreadyInstalled: reason = "already have \(package.id) installed"
            }
            if groups[reason] == nil { order.append(reason) }
            groups[reason, default: []].append(name)
        }
        for reason in order {
            builder.warnLeftAlone(groups[reason] ?? [], reason, rule: .packageApplicability)
        }
    }
}
