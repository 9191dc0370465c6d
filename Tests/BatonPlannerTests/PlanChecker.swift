import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner

/// An independent checker of plans: it does not share the planner's code. It keeps its own
/// model of the organization, executes the plan's steps in random orders that the DAG
/// allows, and reports every action's precondition and every rule of KB 328839 a step
/// breaks, plus any two steps that may run at once on the same host or group.
struct PlanChecker {
    let inventory: Inventory
    let package: Package
    let plan: Plan
    /// For a plan toward a target: what each server (by lowercased name) must install, in
    /// order, as the checker works it out itself (`expectedRoutes`).
    var expected: [String: [Package]]? = nil

    /// Every violation found over `orders` random linear extensions, and the structural and
    /// concurrency checks.
    func violations(orders: Int, seed: UInt64) -> [String] {
        var found = structure()
        guard found.isEmpty else { return found }
        found += concurrency()
        var rng = SplitMix64(seed: seed)
        if package.product?.isModern == true {
            for order in 0..<orders {
                var sim = ModernSimulation(checker: self)
                let problems = sim.run(order: randomOrder(&rng))
                found += problems.map { "order \(order): \($0)" }
                if !problems.isEmpty { break }
            }
            return found
        }
        for order in 0..<orders {
            var sim = Simulation(checker: self)
            let problems = sim.run(order: randomOrder(&rng))
            found += problems.map { "order \(order): \($0)" }
            if !problems.isEmpty { break }
        }
        return found
    }

    // MARK: Structure

    func structure() -> [String] {
        var problems: [String] = []
        var seen = Set<StepID>()
        let known = Set(Rule.catalogue.map(\.id))
        for step in plan.steps {
            if !seen.insert(step.id).inserted { problems.append("\(step.id): duplicate id") }
            for before in step.after where !seen.contains(before) || before == step.id {
                problems.append("\(step.id): after \(before), which is not an earlier step")
            }
            if step.rules.isEmpty { problems.append("\(step.id): cites no rule") }
            for rule in step.rules where !known.contains(rule) { problems.append("\(step.id): unknown rule \(rule)") }
            if step.why.isEmpty { problems.append("\(step.id): no why") }
            let required: [String: Bool] =
                switch step.action {
                case .approve: ["gate": step.gate != nil]
                case .backup: ["host": step.host != nil, "what": step.what?.isEmpty == false]
                case .moveGroup: ["group": step.group != nil, "host": step.host != nil, "to": step.to != nil]
                case .install: ["host": step.host != nil, "package": step.package != nil]
                case .reboot: ["host": step.host != nil, "when": step.when != nil]
                case .resourcesOffline:
                    ["group": step.group != nil, "host": step.host != nil, "keep": step.keep != nil]
                case .upgradeVirtualServer, .resourcesOnline: ["group": step.group != nil, "host": step.host != nil]
                case .updateComponent: ["host": step.host != nil, "component": step.component != nil]
                case .verifyVersion:
                    ["host or group": step.host != nil || step.group != nil, "expect": step.expect != nil]
                case .failoverTest: ["group": step.group != nil]
                case .milestone: ["name": step.name != nil]
                case .leavePool, .rejoinPool: ["host": step.host != nil, "pool": step.pool != nil]
                case .waitReplication: ["what": step.replication != nil]
                case .checkCopies, .checkWitness, .rebalanceDatabases: ["dag": step.dag != nil]
                case .settle:
                    if case .settle(_, let seconds) = step.detail {
                        ["dag": step.dag != nil, "seconds": seconds > 0]
                    } else {
                        ["seconds": false]
                    }
                case .startDagMaintenance, .stopDagMaintenance: ["host": step.host != nil, "dag": step.dag != nil]
                case .redirectMessages: ["host": step.host != nil, "to": step.to != nil]
                case .prepareDomains: ["host": step.host != nil, "domains": step.domains != nil]
                case .saveConfig, .restoreConfig: ["host": step.host != nil, "files": step.files != nil]
                case .installDotNet: ["host": step.host != nil, "dotnet": step.dotnet != nil]
                case .checkEdgeSync: ["host": step.host != nil, "edge": step.edge != nil]
                default: ["host": step.host != nil]
                }
            for (field, present) in required where !present {
                problems.append("\(step.id) \(step.action): missing \(field)")
            }
        }
        return problems
    }

    // MARK: Concurrency

    /// Steps with no path between them may run at the same time (docs/plan.md): they must
    /// not touch the same host or group.
    func concurrency() -> [String] {
        let index = Dictionary(uniqueKeysWithValues: plan.steps.enumerated().map { ($1.id, $0) })
        let count = plan.steps.count
        let words = (count + 63) / 64
        var ancestors = [[UInt64]](repeating: [UInt64](repeating: 0, count: words), count: count)
        for (i, step) in plan.steps.enumerated() {
            for before in step.after {
                let j = index[before]!
                for w in 0..<words { ancestors[i][w] |= ancestors[j][w] }
                ancestors[i][j / 64] |= 1 << UInt64(j % 64)
            }
        }
        func ordered(_ a: Int, _ b: Int) -> Bool {
            let (early, late) = a < b ? (a, b) : (b, a)
            return ancestors[late][early / 64] & (1 << UInt64(early % 64)) != 0
        }
        var touching: [String: [Int]] = [:]
        for (i, step) in plan.steps.enumerated() {
            for entity in touches(step) { touching[entity, default: []].append(i) }
        }
        var problems: [String] = []
        for (entity, steps) in touching.sorted(by: { $0.key < $1.key }) {
            for a in steps.indices {
                for b in steps.indices where b > a && !ordered(steps[a], steps[b]) {
                    problems.append(
                        "\(plan.steps[steps[a]].id) and \(plan.steps[steps[b]].id) may run at once on \(entity)")
                    if problems.count > 20 { return problems }
                }
            }
        }
        return problems
    }

    func touches(_ step: Step) -> [String] {
        var entities: [String] = []
        if let host = step.host { entities.append("host " + host.lowercased()) }
        if let to = step.to, step.action == .moveGroup { entities.append("host " + to.lowercased()) }
        if let dag = step.dag { entities.append("dag " + dag.lowercased()) }
        if let group = step.group {
            if group == "cluster-group", let host = step.host, let cluster = clusterOf(host.lowercased()) {
                entities.append("cluster-group of " + cluster.name.spelling)
            } else {
                entities.append("group " + group.lowercased())
            }
        }
        if step.action == .failoverTest, let group = step.group, let cluster = clusterOfEVS(group.lowercased()) {
            entities += cluster.nodes.map { "host " + $0.name.lowercased() }
        }
        return entities
    }

    func randomOrder(_ rng: inout SplitMix64) -> [Step] {
        var remaining = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.id, Set($0.after)) })
        var dependents: [StepID: [StepID]] = [:]
        for step in plan.steps { for before in step.after { dependents[before, default: []].append(step.id) } }
        let byID = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.id, $0) })
        var ready = plan.steps.filter(\.after.isEmpty).map(\.id)
        var order: [Step] = []
        while !ready.isEmpty {
            let pick = Int(rng.next() % UInt64(ready.count))
            let id = ready.remove(at: pick)
            order.append(byID[id]!)
            for next in dependents[id] ?? [] {
                remaining[next]!.remove(id)
                if remaining[next]!.isEmpty { ready.append(next) }
            }
        }
        return order
    }

    // MARK: The organization as the checker sees it

    func clusterOf(_ host: String) -> Cluster? {
        inventory.clusters.first { $0.nodes.contains { $0.name.lowercased() == host.lowercased() } }
    }

    func clusterOfEVS(_ name: String) -> Cluster? {
        inventory.clusters.first { $0.virtualServers.contains { $0.name.lowercased() == name.lowercased() } }
    }

    var targetLevel: Level? { package.kind == .servicePack ? package.level : nil }

    /// Machines the package must reach, worked out from the rules' wording, not the planner's.
    var expectedTargets: Set<String> {
        var names = Set<String>()
        func applies(_ install: ExchangeInstall, clustered: Bool) -> Bool {
            if install.installed.contains(package.id) { return false }
            switch package.target {
            case .windows(let os):
                return install.os == os && clustered && install.product == .exchange2003
            case .exchange(let product):
                guard install.product == product else { return false }
                return package.kind == .servicePack
                    ? install.level < package.level! : install.level >= package.requires!
            }
        }
        for server in inventory.servers where applies(server.install, clustered: false) {
            names.insert(server.name.lowercased())
        }
        for cluster in inventory.clusters {
            let nodes = cluster.nodes.filter { applies($0.install, clustered: true) }
            let blocked =
                package.kind == .hotfix && package.product != nil
                && cluster.nodes.contains {
                    $0.install.product == package.product && $0.install.level < package.requires!
                }
            // Nodes that would not all end at one level (docs/plan.md): the cluster is left alone.
            let mixed =
                package.kind == .hotfix
                ? Set(cluster.nodes.map(\.install.level)).count > 1
                : cluster.nodes.contains {
                    $0.install.product == package.product && $0.install.level > (package.level ?? .rtm)
                }
            if !blocked && !mixed { names.formUnion(nodes.map { $0.name.lowercased() }) }
        }
        return names
    }
}

/// One execution of a plan in one order against the checker's own model.
struct Simulation {
    let checker: PlanChecker
    var problems: [String] = []

    enum Resources { case online, kept }

    var level: [String: Level] = [:]
    var product: [String: Product] = [:]
    var clusterService: [String: Bool] = [:]
    var quiesced = Set<String>()
    /// Hosts restarted since they were last quiesced: their antivirus runs again.
    var restarted = Set<String>()
    var lastHostAction: [String: Action] = [:]
    var installed: [String: [PackageID]] = [:]
    var outOfPool = Set<String>()
    var owner: [String: String] = [:]
    var evsLevel: [String: Level] = [:]
    var evsOnNew = Set<String>()
    var resources: [String: Resources] = [:]
    var approved = false
    var backedUpBefore = Set<String>()
    var anyInstall = false
    var verified = Set<String>()
    var backedUpAfter = Set<String>()
    var componentsDone: [String: Set<Component>] = [:]
    var exported = Set<String>()
    var optimized = Set<String>()
    var failoverTested = Set<String>()

    init(checker: PlanChecker) {
        self.checker = checker
        for server in checker.inventory.servers {
            level[server.name.lowercased()] = server.install.level
            product[server.name.lowercased()] = server.install.product
            installed[server.name.lowercased()] = server.install.installed
        }
        for cluster in checker.inventory.clusters {
            for node in cluster.nodes {
                let name = node.name.lowercased()
                level[name] = node.install.level
                product[name] = node.install.product
                clusterService[name] = true
                installed[name] = node.install.installed
            }
            owner["cluster-group@" + cluster.name.lowercased()] = cluster.clusterGroupOwner.lowercased()
            for evs in cluster.virtualServers {
                owner[evs.name.lowercased()] = evs.owner.lowercased()
                evsLevel[evs.name.lowercased()] = evs.level
                resources[evs.name.lowercased()] = .online
                if isUpgraded(evs.owner.lowercased()) { evsOnNew.insert(evs.name.lowercased()) }
            }
        }
    }

    var package: Package { checker.package }
    var isServicePack: Bool { package.kind == .servicePack }
    var isExchangePackage: Bool { package.product != nil }

    func isUpgraded(_ host: String) -> Bool {
        if let target = checker.targetLevel { return (level[host] ?? .rtm) >= target }
        return installed[host]?.contains(package.id) == true
    }

    func cluster(_ host: String) -> Cluster? { checker.clusterOf(host) }

    func groupKey(_ step: Step) -> String? {
        guard let group = step.group else { return nil }
        if group == "cluster-group", let host = step.host, let cluster = cluster(host.lowercased()) {
            return "cluster-group@" + cluster.name.lowercased()
        }
        return group.lowercased()
    }

    func owns(_ host: String) -> [String] { owner.filter { $0.value == host }.map(\.key).sorted() }

    mutating func fail(_ step: Step, _ message: String) {
        problems.append("\(step.id) \(step.summary): \(message)")
    }

    mutating func run(order: [Step]) -> [String] {
        for step in order {
            apply(step)
            invariants(after: step)
            if problems.count > 5 { return problems }
        }
        finalChecks()
        return problems
    }

    mutating func apply(_ step: Step) {
        let host = step.host?.lowercased()
        switch step.action {
        case .approve: approved = true
        case .milestone: break
        case .backup:
            guard let host else { return }
            if quiesced.contains(host) { fail(step, "backup while the backup agent is stopped (quiesced)") }
            if !anyInstall {
                if let group = step.group {
                    backedUpBefore.insert("evs " + group.lowercased())
                } else {
                    backedUpBefore.insert(host)
                }
            } else if let group = step.group {
                if owner[group.lowercased()] != host {
                    fail(step, "backup of \(group) on \(host), which does not own it")
                }
                backedUpAfter.insert("evs " + group.lowercased())
            } else {
                if isUpgraded(host) { backedUpAfter.insert(host) }
            }
        case .exportSchemaMap: if let host { exported.insert(host) }
        case .quiesce:
            if let host {
                quiesced.insert(host)
                restarted.remove(host)
            }
        case .checkInstallers: break
        case .leavePool: if let host { outOfPool.insert(host) }
        case .rejoinPool:
            guard let host else { return }
            outOfPool.remove(host)
        case .stopClusterService:
            guard let host else { return }
            if !owns(host).isEmpty {
                fail(step, "stops the Cluster service while owning \(owns(host)) (unplanned failover)")
            }
            if cluster(host)?.nodes.first?.install.product == .exchange55 {
                fail(step, "Exchange 5.5: the cluster procedure does not stop the Cluster service (e55-active-first)")
            }
            clusterService[host] = false
        case .startClusterService: if let host { clusterService[host] = true }
        case .install: install(step)
        case .reboot:
            guard let host else { return }
            if !owns(host).isEmpty { fail(step, "restarts while owning \(owns(host)) (unplanned failover)") }
            if product[host] == .exchange55, step.package == nil, package.product == .exchange55,
                package.restart == .never
            {
                fail(step, "restart of an Exchange 5.5 server for a package that never restarts")
            }
            if clusterService[host] != nil { clusterService[host] = true }
            // Services set to start automatically come back with the restart.
            restarted.insert(host)
        case .moveGroup: move(step)
        case .resourcesOffline:
            guard let key = groupKey(step) else { return }
            if owner[key] != host { fail(step, "the group is not on \(host ?? "?")") }
            resources[key] = .kept
        case .upgradeVirtualServer:
            guard let key = groupKey(step), let host else { return }
            if !isServicePack {
                fail(step, "Upgrade Exchange Virtual Server in a hotfix rollout (e2003-hotfix-no-evs-upgrade)")
            }
            if owner[key] != host { fail(step, "the EVS is not on \(host)") }
            if !isUpgraded(host) { fail(step, "c1037b44: \(host) is not upgraded") }
            if resources[key] != .kept {
                fail(step, "c1037b44: more than IP Address, Network Name and Physical Disk are online")
            }
            // The EVS comes to its node's level.
            evsLevel[key] = level[host]
        case .resourcesOnline:
            guard let key = groupKey(step), let host else { return }
            if owner[key] != host { fail(step, "the EVS is not on \(host)") }
            if clusterService[host] != true { fail(step, "\(host)'s Cluster service is stopped") }
            if isServicePack, product[host] == .exchange2003, isUpgraded(host), let target = checker.targetLevel,
                (evsLevel[key] ?? .rtm) < target
            {
                fail(step, "event 1025: an EVS not upgraded comes online on upgraded \(host)")
            }
            resources[key] = .online
            if isUpgraded(host) { evsOnNew.insert(key) }
        case .updateComponent:
            guard let host, let component = step.component else { return }
            if !isUpgraded(host) { fail(step, "component updated before the server's own service pack") }
            if component == .adc, adcCustomMaps(host), !exported.contains(host) {
                fail(step, "ADC with customised maps updated before the schema maps were exported (adc-custom-maps)")
            }
            componentsDone[host, default: []].insert(component)
        case .performanceOptimizer:
            guard let host else { return }
            if !isUpgraded(host) { fail(step, "Performance Optimizer before the service pack") }
            optimized.insert(host)
        case .restoreServices:
            guard let host else { return }
            if !quiesced.contains(host) { fail(step, "restores services that were never stopped") }
            quiesced.remove(host)
        case .verifyVersion:
            if let host {
                if !isUpgraded(host) { fail(step, "version check before \(host) is upgraded") }
                if let target = checker.targetLevel, let p = product[host], step.expect != Builds.build(p, target) {
                    fail(
                        step,
                        "expects \(step.expect ?? "-"), but \(p.rawValue) \(target.rawValue) is \(Builds.build(p, target) ?? "-")"
                    )
                }
                verified.insert(host)
            } else if let key = groupKey(step) {
                if let target = checker.targetLevel, (evsLevel[key] ?? .rtm) < target, !evsOnNew.contains(key) {
                    fail(step, "version check of an EVS not upgraded")
                }
                verified.insert("evs " + key)
            }
        case .failoverTest:
            guard let key = groupKey(step), let cluster = checker.clusterOfEVS(key) else { return }
            let nodes = cluster.nodes.map { $0.name.lowercased() }
            if !nodes.allSatisfy(isUpgraded) || !nodes.allSatisfy({ clusterService[$0] == true }) {
                fail(step, "failover test before every node is upgraded and running the Cluster service")
            }
            if resources[key] != .online { fail(step, "failover test of an EVS that is not online") }
            failoverTested.insert(key)
        case .prepareSchema, .prepareAD, .prepareDomains, .waitReplication, .drainTransport, .startDagMaintenance,
            .redirectMessages, .serverOffline, .serverOnline, .stopDagMaintenance, .resumeTransport, .checkCopies,
            .checkWitness, .checkPendingReboot, .saveConfig, .restoreConfig, .rebalanceDatabases, .installDotNet,
            .healthCheck, .checkEdgeSync, .settle:
            fail(step, "an action of Exchange 2013 and later in a plan for \(package.id)")
        }
        if let host, step.action != .milestone { lastHostAction[host] = step.action }
    }

    func adcCustomMaps(_ host: String) -> Bool {
        checker.inventory.servers.first { $0.name.lowercased() == host }?.install.adcCustomMaps
            ?? checker.inventory.clusters.flatMap(\.nodes).first { $0.name.lowercased() == host }?.install.adcCustomMaps
            ?? false
    }

    mutating func install(_ step: Step) {
        guard let host = step.host?.lowercased(), let id = step.package else { return }
        let previous = lastHostAction[host]
        if !approved { fail(step, "install before the release notes were approved (release-notes)") }
        let needed = Set(checker.inventory.domainControllers.map { $0.lowercased() })
            .union(checker.inventory.servers.map { $0.name.lowercased() })
            .union(checker.inventory.clusters.flatMap(\.nodes).map { $0.name.lowercased() })
            .union(checker.inventory.clusters.flatMap(\.virtualServers).map { "evs " + $0.name.lowercased() })
        let missing = needed.subtracting(backedUpBefore)
        if !missing.isEmpty { fail(step, "install before backups of \(missing.sorted().prefix(3)) (backup-before)") }
        anyInstall = true
        if !quiesced.contains(host) || restarted.contains(host) {
            fail(step, "install without quiescing \(host) since its last restart (quiesce)")
        }
        if previous != .checkInstallers {
            fail(
                step,
                "install not right after check-installers (no-concurrent-installers), after \(previous?.rawValue ?? "nothing")"
            )
        }
        if installed[host, default: []].contains(id) { fail(step, "\(id) installed twice on \(host)") }
        if let cluster = cluster(host), cluster.nodes.first?.install.product != .exchange55 {
            if !owns(host).isEmpty { fail(step, "install on \(host) while it owns \(owns(host)) (e2003-node-empty)") }
            if clusterService[host] != false {
                fail(step, "install while the Cluster service runs on \(host) (cluster-stop-service)")
            }
            let others = cluster.nodes.map { $0.name.lowercased() }.filter { $0 != host && clusterService[$0] == false }
            if !others.isEmpty { fail(step, "another node of \(cluster.name) is down too (e2003-one-node-at-a-time)") }
        }
        if id == package.id {
            if !checker.expectedTargets.contains(host) { fail(step, "\(host) should be left alone") }
            if isExchangePackage, let p = package.product, p != .exchange55, !isFrontEnd(host) {
                let pending = checker.inventory.servers.filter {
                    $0.role == .frontEnd && checker.expectedTargets.contains($0.name.lowercased())
                        && !isUpgraded($0.name.lowercased())
                }
                if !pending.isEmpty {
                    fail(step, "back-end upgraded before front-end \(pending[0].name) (front-end-first)")
                }
            }
            if let server = checker.inventory.servers.first(where: { $0.name.lowercased() == host }),
                server.pool != nil,
                !outOfPool.contains(host)
            {
                fail(step, "install on a front-end still serving its pool")
            }
            if let target = checker.targetLevel {
                level[host] = target
                // Exchange 5.5 virtual servers run on their node's binaries.
                if product[host] == .exchange55 {
                    for (group, node) in owner where node == host && !group.hasPrefix("cluster-group@") {
                        evsLevel[group] = target
                    }
                }
            }
        } else if id == PackageCatalogue.kb831464.id {
            if product[host] != .exchange2003 || cluster(host) == nil {
                fail(step, "hotfix 831464 on a machine that is not an Exchange 2003 node")
            }
        }
        installed[host, default: []].append(id)
    }

    func isFrontEnd(_ host: String) -> Bool {
        checker.inventory.servers.contains { $0.name.lowercased() == host && $0.role == .frontEnd }
    }

    mutating func move(_ step: Step) {
        guard let key = groupKey(step), let from = step.host?.lowercased(), let to = step.to?.lowercased() else {
            return
        }
        if owner[key] != from { fail(step, "the group is on \(owner[key] ?? "?"), not \(from)") }
        if from == to { fail(step, "moves a group to where it is") }
        if clusterService[to] != true { fail(step, "\(to) does not run the Cluster service") }
        if cluster(from)?.name != cluster(to)?.name { fail(step, "moves a group between clusters") }
        let isEVS = !key.hasPrefix("cluster-group@")
        if isEVS {
            if cluster(from)?.nodes.first?.install.product == .exchange55 {
                fail(step, "Exchange 5.5: the Exchange group must not move (e55-active-first)")
            }
            if isExchangePackage, evsOnNew.contains(key), !isUpgraded(to) {
                fail(step, "an EVS that ran on an upgraded node moves to non-upgraded \(to) (e2003-no-move-back)")
            }
            if isServicePack, let target = checker.targetLevel, (evsLevel[key] ?? .rtm) >= target, !isUpgraded(to) {
                fail(step, "an upgraded EVS moves to a node below its level (e2003-no-move-back)")
            }
            if isExchangePackage, product[to] == .exchange2003, isUpgraded(to), !evsOnNew.contains(key),
                resources[key] != .kept,
                isServicePack, (evsLevel[key] ?? .rtm) < checker.targetLevel!
            {
                fail(
                    step,
                    "an EVS not upgraded moves to upgraded \(to) with more than IP Address, Network Name and Physical Disk online"
                )
            }
            let evsProduct = checker.clusterOfEVS(key)?.virtualServers.first { $0.name.lowercased() == key }?.product
            if product[to] == .exchange2003, evsProduct == .exchange2003, resources[key] == .online,
                (level[to] ?? .rtm) > (evsLevel[key] ?? .rtm)
            {
                fail(
                    step,
                    "\(key) at \(evsLevel[key]?.rawValue ?? "?") comes online on \(to) at \(level[to]?.rawValue ?? "?"): event 1025"
                )
            }
            if resources[key] == .online, isUpgraded(to), isExchangePackage {
                evsOnNew.insert(key)
                // Exchange 2000: the upgraded node upgrades the databases as it mounts them.
                if isServicePack, product[to] == .exchange2000, let target = checker.targetLevel {
                    evsLevel[key] = target
                }
            }
        }
        owner[key] = to
    }

    mutating func invariants(after step: Step) {
        for (group, node) in owner where clusterService[node] != true {
            problems.append("after \(step.id): \(group) is owned by \(node), whose Cluster service is stopped")
        }
        // Rule e2003-pool-together: a member rejoining must not make its pool serve two
        // service-pack levels at once (mixing that the inventory already had is not the plan's).
        guard step.action == .rejoinPool, isServicePack, package.product == .exchange2003, let pool = step.pool else {
            return
        }
        let serving = checker.inventory.servers.filter { $0.pool == pool && !outOfPool.contains($0.name.lowercased()) }
        if Set(serving.map { level[$0.name.lowercased()] ?? .rtm }).count > 1 {
            problems.append("after \(step.id): pool \(pool) serves mixed levels (e2003-pool-together)")
        }
    }

    mutating func finalChecks() {
        let targets = checker.expectedTargets
        for host in targets.sorted() {
            if !isUpgraded(host) && installed[host]?.contains(package.id) != true {
                problems.append("end: \(host) never got \(package.id)")
            }
            if isExchangePackage, !verified.contains(host) { problems.append("end: \(host)'s version never verified") }
            if isServicePack, checker.inventory.servers.contains(where: { $0.name.lowercased() == host }),
                !backedUpAfter.contains(host)
            {
                problems.append("end: \(host) not backed up after the service pack (backup-after)")
            }
            if isServicePack, product[host] == .exchange55, !optimized.contains(host) {
                problems.append("end: Performance Optimizer never ran on \(host)")
            }
            let components =
                (checker.inventory.servers.first { $0.name.lowercased() == host }?.install.components)
                ?? (checker.inventory.clusters.flatMap(\.nodes).first { $0.name.lowercased() == host }?.install
                    .components ?? [])
            if isServicePack, !Set(components).isSubset(of: componentsDone[host] ?? []) {
                problems.append("end: components of \(host) not updated separately")
            }
        }
        if !quiesced.isEmpty { problems.append("end: services left stopped on \(quiesced.sorted())") }
        if !outOfPool.isEmpty { problems.append("end: \(outOfPool.sorted()) left out of their pool") }
        for (node, running) in clusterService where !running {
            problems.append("end: Cluster service left stopped on \(node)")
        }
        for cluster in checker.inventory.clusters {
            let inScope = cluster.nodes.contains { targets.contains($0.name.lowercased()) }
            guard inScope else { continue }
            for evs in cluster.virtualServers {
                let key = evs.name.lowercased()
                if resources[key] != .online { problems.append("end: \(evs.name) is not online") }
                if isServicePack, package.product == .exchange2003, let target = checker.targetLevel,
                    (evsLevel[key] ?? .rtm) < target
                {
                    problems.append("end: \(evs.name) was never upgraded (e2003-nodes-then-evs)")
                }
                if isExchangePackage, !verified.contains("evs " + key) {
                    problems.append("end: \(evs.name)'s version never verified")
                }
                if isServicePack, !backedUpAfter.contains("evs " + key) {
                    problems.append("end: \(evs.name) not backed up after")
                }
                if cluster.nodes.first?.install.product != .exchange55, !failoverTested.contains(key) {
                    problems.append("end: \(evs.name) never failover-tested")
                }
            }
        }
    }
}

/// The checker compares names as lower-cased strings, on its own terms rather than the
/// planner's `HostName`.
extension HostName {
    func lowercased() -> String { key }
}
