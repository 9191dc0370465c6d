import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner

/// The independent checker's model of an Exchange 2013-and-later organization: it executes a
/// plan's steps in one order and reports every rule of the modern procedure a step breaks
/// (docs/plan.md, "Exchange 2013 and later"). It shares no code with the planner: which
/// servers the package is for, what Active Directory needs and where mail can go are worked
/// out here from the inventory and the package alone.
struct ModernSimulation {
    let checker: PlanChecker
    var problems: [String] = []

    enum Service { case inService, draining, inDAGMaintenance, offline }

    var service: [String: Service] = [:]
    var quiesced = Set<String>()
    var restartedSinceQuiesce = Set<String>()
    var lastHostAction: [String: Action] = [:]
    var rebootedWhileOffline = Set<String>()
    var installedHere = Set<String>()
    /// How many of its packages each server has installed.
    var installedCount: [String: Int] = [:]
    var rebootedAfterInstall = Set<String>()
    var verified = Set<String>()
    var configSaved = Set<String>()
    var configRestored = Set<String>()
    var approvedGates = Set<String>()
    var backedUp = Set<String>()
    var backedUpDatabasesOn = Set<String>()
    var anyChange = false
    var adPrepared: [ReplicationScope] = []
    var adReplicated: [ReplicationScope] = []
    var copiesChecked = Set<String>()
    var witnessChecked = Set<String>()
    var outOfPool = Set<String>()
    /// Where each database is mounted; nil while no copy is.
    var mounted: [String: String?] = [:]
    var rebalanced = Set<String>()
    var checkedAfterRebalance = Set<String>()
    var dotnetRaised = Set<String>()
    var dotnetAwaitingRestart = Set<String>()
    var healthBefore = Set<String>()
    var healthAfter = Set<String>()
    var edgeSynced = Set<String>()

    /// The lowest .NET Framework each product line's cumulative update in the catalogue takes
    /// (Microsoft's supportability matrix), kept here apart from the planner's table.
    static let dotnetNeeded: [Product: DotNetFramework] = [
        .exchange2013: .v472, .exchange2016: .v48, .exchange2019: .v48, .exchangeSE: .v48,
    ]

    init(checker: PlanChecker) {
        self.checker = checker
        for server in checker.inventory.servers { service[key(server.name)] = .inService }
        for database in checker.inventory.dags.flatMap(\.databases) {
            mounted[database.name] = key(database.active)
        }
    }

    var inventory: Inventory { checker.inventory }
    var package: Package { checker.package }

    /// What `host` must install, in order: the checker's own expectation for a plan toward a
    /// target, else the one package wherever it applies.
    func packages(_ host: String) -> [Package] {
        if let expected = checker.expected { return expected[host] ?? [] }
        return targets.contains(host) ? [package] : []
    }

    /// Whether `host` gets a cumulative update.
    func isCU(_ host: String) -> Bool { packages(host).contains { $0.kind == .cumulativeUpdate } }

    func key(_ name: HostName) -> String { name.lowercased() }

    func server(_ host: String) -> Server? { inventory.servers.first { $0.name.lowercased() == host } }

    func dag(of host: String) -> DatabaseAvailabilityGroup? {
        inventory.dags.first { $0.members.contains { $0.lowercased() == host } }
    }

    /// The servers the package is for, from its kind's wording: a cumulative update on every
    /// server of its product below its level (SE: Exchange 2019 at CU14 or CU15 too), a
    /// security update on every server at exactly the level it was built for and without it.
    var targets: Set<String> {
        if let expected = checker.expected { return Set(expected.keys) }
        var names = Set<String>()
        for server in inventory.servers {
            let install = server.install
            let applies: Bool
            switch package.kind {
            case .cumulativeUpdate:
                if package.product == .exchangeSE, install.product == .exchange2019 {
                    applies = install.level == .cu14 || install.level == .cu15
                } else {
                    applies = install.product == package.product && install.level < package.level!
                }
            case .securityUpdate:
                applies =
                    install.product == package.product && install.level == package.requires
                    && server.update?.lowercased() != package.update?.lowercased()
            default: applies = false
            }
            if applies { names.insert(key(server.name)) }
        }
        return names
    }

    /// Active Directory preparation the package needs, from the forest's and its versions.
    var neededPreparation: [ReplicationScope]? {
        let versions = targets.filter { server($0)?.role != .edge }.flatMap(packages).compactMap(\.adVersions)
        guard !versions.isEmpty else { return [] }
        let wanted = ADVersions(
            schema: versions.compactMap(\.schema).max(), organization: versions.compactMap(\.organization).max(),
            domain: versions.compactMap(\.domain).max())
        guard let forest = inventory.activeDirectory?.versions, let schema = forest.schema,
            let organization = forest.organization, let domain = forest.domain
        else { return nil }
        var needed: [ReplicationScope] = []
        if schema < wanted.schema! { needed.append(.schema) }
        if schema < wanted.schema! || organization < wanted.organization! { needed.append(.organization) }
        if domain < wanted.domain! { needed.append(.domains) }
        return needed
    }

    mutating func fail(_ step: Step, _ message: String) {
        problems.append("\(step.id) \(step.summary): \(message)")
    }

    mutating func run(order: [Step]) -> [String] {
        for step in order {
            apply(step)
            if problems.count > 5 { return problems }
        }
        finalChecks()
        return problems
    }

    mutating func beginChange(_ step: Step) {
        if !approvedGates.contains("release-notes") {
            fail(step, "a change before the release notes were approved (release-notes)")
        }
        let needed = Set(inventory.domainControllers.map(key)).union(
            inventory.servers.filter { $0.install.product.isModern }.map { key($0.name) })
        let missing = needed.subtracting(backedUp)
        if !missing.isEmpty {
            fail(step, "a change before backups of \(missing.sorted().prefix(3)) (mx-cu-backup-first)")
        }
        for database in inventory.dags.flatMap(\.databases)
        where !backedUpDatabasesOn.contains(key(database.active)) {
            fail(step, "a change before database \(database.name) was backed up (mx-cu-backup-first)")
            break
        }
        anyChange = true
    }

    mutating func apply(_ step: Step) {
        let host = step.host.map(key)
        switch step.action {
        case .approve:
            if let gate = step.gate { approvedGates.insert(gate) }
        case .milestone: break
        case .settle:
            // Rule mx-settle: a wait between members, with every member of the DAG in service.
            guard let dag = step.dag.map(key), let group = inventory.dags.first(where: { key($0.name) == dag }) else {
                return fail(step, "settles a DAG the inventory does not have")
            }
            if let out = group.members.map(key).first(where: { service[$0] != .inService }) {
                fail(step, "settles \(dag) while \(out) is out of service (mx-settle)")
            }
        case .backup:
            guard let host else { return }
            if anyChange { fail(step, "a backup after changes began is not the way back") }
            backedUp.insert(host)
            if step.what?.contains(.databases) == true { backedUpDatabasesOn.insert(host) }
        case .prepareSchema, .prepareAD, .prepareDomains:
            beginChange(step)
            let scope: ReplicationScope =
                step.action == .prepareSchema ? .schema : step.action == .prepareAD ? .organization : .domains
            if let previous = adPrepared.last, adReplicated.last != previous {
                fail(step, "prepares \(scope) before \(previous)'s change replicated (mx-ad-prep-replication)")
            }
            if scope == .organization, neededPreparation?.contains(.schema) == true, !adReplicated.contains(.schema) {
                fail(step, "/PrepareAD before the schema is prepared")
            }
            if step.action != .prepareDomains, let site = inventory.activeDirectory?.schemaMasterSite,
                let host, server(host)?.site != site
            {
                fail(step, "runs outside the schema master's site \(site) (mx-ad-prep-location)")
            }
            adPrepared.append(scope)
        case .waitReplication:
            guard let scope = step.replication else { return }
            if adPrepared.last != scope { fail(step, "waits for \(scope) replication that nothing started") }
            adReplicated.append(scope)
        case .checkCopies:
            guard let dag = step.dag.map(key) else { return }
            copiesChecked.insert(dag)
            if rebalanced.contains(dag) { checkedAfterRebalance.insert(dag) }
        case .checkWitness:
            if let dag = step.dag.map(key) { witnessChecked.insert(dag) }
        case .drainTransport: drain(step)
        case .startDagMaintenance: startMaintenance(step)
        case .redirectMessages:
            guard let host, let to = step.to.map(key) else { return }
            if service[host] != .inDAGMaintenance, service[host] != .draining {
                fail(step, "redirects mail from \(host), which is not draining")
            }
            if service[to] != .inService || server(to)?.role != .mailbox {
                fail(step, "hands mail to \(to), which is not a mailbox server in service")
            }
        case .serverOffline:
            guard let host else { return }
            let role = server(host)?.role
            if dag(of: host) != nil, service[host] != .inDAGMaintenance {
                fail(step, "ServerWideOffline before StartDagServerMaintenance (mx-dag-enter-order)")
            }
            if dag(of: host) == nil, role == .mailbox || role == .edge, service[host] != .draining {
                fail(step, "ServerWideOffline before its transport drained")
            }
            if role == .clientAccess, server(host)?.pool != nil, !outOfPool.contains(host) {
                fail(step, "taken offline while its load balancer still sends it clients (mx-2013-cas-maint)")
            }
            if role == .clientAccess {
                let pool = server(host)?.pool
                let others = inventory.servers.filter {
                    $0.role == .clientAccess && $0.pool == pool && key($0.name) != host
                        && service[key($0.name)] == .offline
                }
                if pool != nil, !others.isEmpty { fail(step, "two Client Access servers of pool \(pool!) out at once") }
            }
            service[host] = .offline
        case .reboot:
            guard let host else { return }
            if service[host] != .offline {
                fail(step, "restarts \(host) while it is in service (mx-dag-shutdown-not-lossless)")
            }
            witnessRestarts(step, host)
            dotnetAwaitingRestart.remove(host)
            if installedHere.contains(host) {
                rebootedAfterInstall.insert(host)
            } else {
                rebootedWhileOffline.insert(host)
            }
            restartedSinceQuiesce.insert(host)
        case .saveConfig:
            if let host {
                if installedHere.contains(host) { fail(step, "saves the configuration after the update overwrote it") }
                configSaved.insert(host)
            }
        case .restoreConfig:
            if let host {
                if !installedHere.contains(host) { fail(step, "restores the configuration before the update") }
                if !configSaved.contains(host) { fail(step, "restores a configuration never saved") }
                configRestored.insert(host)
            }
        case .quiesce:
            if let host {
                quiesced.insert(host)
                restartedSinceQuiesce.remove(host)
            }
        case .restoreServices:
            guard let host else { return }
            if !quiesced.contains(host) { fail(step, "restores services never stopped") }
            if installedCount[host, default: 0] < packages(host).count {
                fail(step, "starts the agents again before the update")
            }
            quiesced.remove(host)
        case .checkInstallers, .checkPendingReboot: break
        case .installDotNet:
            guard let host else { return }
            if service[host] != .offline { fail(step, "the .NET Framework installed while \(host) is in service (mx-dotnet-first)") }
            if installedHere.contains(host) { fail(step, "the .NET Framework installed after setup (mx-dotnet-first)") }
            if let version = step.dotnet,
                let product = packages(host).first(where: { $0.kind == .cumulativeUpdate })?.product,
                let needed = Self.dotnetNeeded[product],
                version < needed
            {
                fail(step, "installs .NET Framework \(version.rawValue), below the \(needed.rawValue) setup needs")
            }
            dotnetRaised.insert(host)
            dotnetAwaitingRestart.insert(host)
        case .healthCheck:
            guard let host else { return }
            if server(host)?.healthChecker == nil { fail(step, "HealthChecker on \(host), whose path the inventory does not give") }
            if !anyChange {
                healthBefore.insert(host)
            } else if installedHere.contains(host) {
                if service[host] != .inService { fail(step, "HealthChecker after the update while \(host) is still out of service") }
                healthAfter.insert(host)
            } else {
                fail(step, "HealthChecker on \(host) after changes began but before its update")
            }
        case .checkEdgeSync:
            guard let edge = step.edge.map(key) else { return }
            if server(edge)?.role != .edge { fail(step, "tests EdgeSync for \(edge), which is not an Edge server") }
            if let host, server(host)?.role != .mailbox { fail(step, "Test-EdgeSynchronization runs on \(host), not a Mailbox server") }
            if !installedHere.contains(edge) || service[edge] != .inService {
                fail(step, "tests EdgeSync before \(edge) is updated and back in service")
            }
            edgeSynced.insert(edge)
        case .install: install(step)
        case .verifyVersion:
            guard let host else { return }
            if !rebootedAfterInstall.contains(host) { fail(step, "checks the build before the restart after setup") }
            let done = installedCount[host, default: 0]
            let build = done > 0 && done <= packages(host).count ? packages(host)[done - 1].build : package.build
            if step.expect != build { fail(step, "expects \(step.expect ?? "-"), not \(build ?? "-")") }
            verified.insert(host)
        case .serverOnline:
            guard let host else { return }
            if service[host] != .offline { fail(step, "ServerWideOffline active on a server that was not offline") }
            if targets.contains(host), !verified.contains(host) || installedCount[host, default: 0] < packages(host).count {
                fail(step, "back in service before its build was verified (verify-version)")
            }
            if quiesced.contains(host) { fail(step, "back in service with its agents still paused") }
            if let files = server(host)?.customConfig, !files.isEmpty, isCU(host), !configRestored.contains(host) {
                fail(step, "back in service without its customised configuration (mx-cu-config-overwrite)")
            }
            service[host] =
                dag(of: host) != nil ? .inDAGMaintenance : server(host)?.role == .clientAccess ? .inService : .draining
        case .stopDagMaintenance:
            guard let host else { return }
            if service[host] != .inDAGMaintenance {
                fail(step, "StopDagServerMaintenance before ServerWideOffline active (mx-dag-exit-order)")
            }
            service[host] = .draining
            // Databases that could not move come back with the server.
            if let dag = dag(of: host) {
                for database in dag.databases
                where mounted[database.name] == .some(nil) && database.active.lowercased() == host {
                    mounted[database.name] = host
                }
            }
        case .resumeTransport:
            guard let host else { return }
            if service[host] != .draining { fail(step, "transport resumed before the server left maintenance mode") }
            service[host] = .inService
        case .leavePool:
            if let host { outOfPool.insert(host) }
        case .rejoinPool:
            guard let host else { return }
            if service[host] != .inService, server(host)?.role == .clientAccess {
                fail(step, "rejoins its pool while out of service")
            }
            outOfPool.remove(host)
        case .rebalanceDatabases:
            guard let dag = step.dag.map(key),
                let group = inventory.dags.first(where: { $0.name.lowercased() == dag })
            else { return }
            let pending = group.members.map(key).filter { targets.contains($0) && !installedHere.contains($0) }
            if !pending.isEmpty { fail(step, "rebalances \(dag) before \(pending) are updated") }
            for database in group.databases { mounted[database.name] = key(database.copies[0]) }
            rebalanced.insert(dag)
        case .exportSchemaMap, .moveGroup, .stopClusterService, .startClusterService, .resourcesOffline,
            .upgradeVirtualServer, .resourcesOnline, .updateComponent, .performanceOptimizer, .failoverTest:
            fail(step, "a KB 328839 action in a plan for \(package.id)")
        }
        if let host, step.action != .milestone { lastHostAction[host] = step.action }
    }

    /// A restart of the server that holds a DAG's file share witness takes the witness's vote
    /// away: a DAG that counts on it (an even number of members) must then keep a majority
    /// with the members it has in service. Worked out here from the votes alone: members plus
    /// the witness, a majority more than half, a member out of service from its drain to its
    /// transport's resumption.
    mutating func witnessRestarts(_ step: Step, _ host: String) {
        for dag in inventory.dags where dag.witness.map({ key($0.server) }) == host && dag.members.count % 2 == 0 {
            let votes = dag.members.count + 1
            let inService = dag.members.filter { service[key($0)] == .inService }.count
            if inService <= votes / 2 {
                let out = dag.members.filter { service[key($0)] != .inService }.map(key)
                fail(
                    step,
                    "restarts \(host), the witness of \(dag.name), while \(out) of it are out: \(inService) of \(votes) votes, no majority (mx-witness-restart)"
                )
            }
        }
    }

    mutating func drain(_ step: Step) {
        guard let host = step.host.map(key) else { return }
        if service[host] != .inService { fail(step, "drains a server already out of service") }
        let role = server(host)?.role
        if let dag = dag(of: host) {
            let name = key(dag.name)
            let out = dag.members.map(key).filter { $0 != host && service[$0] != .inService }
            if !out.isEmpty {
                fail(step, "\(out) of \(dag.name) still out: one member at a time (mx-one-member-at-a-time)")
            }
            if !copiesChecked.contains(name) {
                fail(step, "copies of \(dag.name) not checked healthy first (mx-copies-healthy)")
            }
            copiesChecked.remove(name)
        }
        if role == .edge {
            let site = server(host)?.site
            let pending = inventory.servers.filter {
                $0.role == .mailbox && targets.contains(key($0.name))
                    && (!installedHere.contains(key($0.name)) || service[key($0.name)] != .inService)
            }
            if !pending.isEmpty { fail(step, "Edge before mailbox server \(pending[0].name) is done (mx-edge-maint)") }
            let sameSite = inventory.servers.filter {
                $0.role == .edge && $0.site == site && key($0.name) != host && service[key($0.name)] != .inService
            }
            if !sameSite.isEmpty { fail(step, "two Edge servers of one site out at once (mx-edge-maint)") }
        }
        service[host] = .draining
    }

    mutating func startMaintenance(_ step: Step) {
        guard let host = step.host.map(key), let dag = dag(of: host) else {
            fail(step, "StartDagServerMaintenance on a server in no DAG")
            return
        }
        if service[host] != .draining {
            fail(step, "StartDagServerMaintenance before its transport drained (mx-dag-enter-order)")
        }
        if dag.usesWitness, dag.members.count > 1, !witnessChecked.contains(key(dag.name)) {
            fail(step, "\(dag.name) has an even number of members and its witness was not checked (mx-quorum)")
        }
        witnessChecked.remove(key(dag.name))
        let twoCopies = dag.databases.contains { $0.copies.count == 2 && $0.copies.contains { key($0) == host } }
        if twoCopies, step.overrideTwoCopies != true {
            fail(step, "a database with two copies needs -overrideMinimumTwoCopies (mx-startdag-two-copies)")
        }
        for database in dag.databases where mounted[database.name] == .some(host) {
            let target = database.copies.first {
                key($0) != host && !database.lagged.contains($0) && service[key($0)] == .inService
            }
            if let target {
                mounted[database.name] = key(target)
            } else {
                let movable = database.copies.contains { key($0) != host && !database.lagged.contains($0) }
                if movable { fail(step, "database \(database.name) is left without a mounted copy") }
                mounted[database.name] = .some(nil)
            }
        }
        service[host] = .inDAGMaintenance
    }

    mutating func install(_ step: Step) {
        guard let host = step.host.map(key), checker.expected != nil || step.package == package.id else { return }
        beginChange(step)
        if !targets.contains(host) { fail(step, "\(host) should be left alone") }
        let done = installedCount[host, default: 0]
        let mine = packages(host)
        guard done < mine.count else { return fail(step, "installed twice on \(host)") }
        let package = mine[done]
        if step.package != package.id {
            fail(step, "installs \(step.package ?? "-") on \(host), which needs \(package.id) next (mx-latest-update)")
        }
        let isCU = package.kind == .cumulativeUpdate
        let prepSite = inventory.activeDirectory?.schemaMasterSite
        let operatorPrepares =
            prepSite != nil
            && !inventory.servers.contains { $0.role == .mailbox && $0.install.product.isModern && $0.site == prepSite }
        if operatorPrepares, neededPreparation?.isEmpty == false {
            if !approvedGates.contains("active-directory-preparation") {
                fail(step, "install before an operator prepared Active Directory in \(prepSite!) (mx-ad-prep-location)")
            }
        } else if let needed = neededPreparation {
            for scope in needed where !adReplicated.contains(scope) && server(host)?.role != .edge {
                fail(step, "install before Active Directory's \(scope) preparation replicated (mx-ad-prep-when)")
            }
        } else if !approvedGates.contains("active-directory-versions") {
            fail(step, "install with the forest's versions unknown and unconfirmed (mx-ad-prep-when)")
        }
        if service[host] != .offline { fail(step, "setup runs while \(host) is in service (mx-dag-update-procedure)") }
        if isCU, let have = server(host)?.dotnet, let product = package.product,
            let needed = Self.dotnetNeeded[product], have < needed, !dotnetRaised.contains(host)
        {
            fail(step, "setup on .NET Framework \(have.rawValue), below \(needed.rawValue), with nothing raising it first (mx-dotnet-first)")
        }
        if dotnetAwaitingRestart.contains(host) {
            fail(step, "setup before the restart that finishes the .NET Framework (mx-dotnet-first)")
        }
        for database in inventory.dags.flatMap(\.databases) where mounted[database.name] == .some(host) {
            fail(step, "setup runs while \(database.name) is mounted on \(host)")
        }
        if isCU, !rebootedWhileOffline.contains(host) {
            fail(step, "no restart before the cumulative update (mx-cu-reboot-before)")
        }
        if isCU, let files = server(host)?.customConfig, !files.isEmpty, !configSaved.contains(host) {
            fail(step, "customised configuration not saved first (mx-cu-config-overwrite)")
        }
        if !quiesced.contains(host) || restartedSinceQuiesce.contains(host) {
            fail(step, "setup without pausing the agents since the last restart (mx-cu-av-disable)")
        }
        if lastHostAction[host] != .checkPendingReboot {
            fail(step, "setup not right after the pending-restart check (mx-readiness-reboot-pending)")
        }
        if server(host)?.role == .clientAccess {
            let site = server(host)?.site
            let pending = inventory.servers.filter {
                $0.role == .mailbox && $0.site == site && targets.contains(key($0.name))
                    && !installedHere.contains(key($0.name))
            }
            if !pending.isEmpty {
                fail(step, "Client Access before mailbox server \(pending[0].name) of its site (mx-order-sites)")
            }
        }
        installedHere.insert(host)
        installedCount[host] = done + 1
        rebootedAfterInstall.remove(host)
        verified.remove(host)
    }

    mutating func finalChecks() {
        for host in targets.sorted() {
            let mine = packages(host)
            if installedCount[host, default: 0] < mine.count {
                problems.append("end: \(host) never got \(mine[installedCount[host, default: 0]].id)")
            }
            if !verified.contains(host) { problems.append("end: \(host)'s build never verified") }
        }
        for (host, state) in service where state != .inService {
            problems.append("end: \(host) left out of service (\(state))")
        }
        if !quiesced.isEmpty { problems.append("end: agents left paused on \(quiesced.sorted())") }
        for host in targets.sorted() where server(host)?.healthChecker != nil {
            if !healthBefore.contains(host) { problems.append("end: \(host) had no HealthChecker before the first change (mx-healthchecker-pre-post)") }
            if !healthAfter.contains(host) { problems.append("end: \(host) had no HealthChecker after its update (mx-healthchecker-pre-post)") }
        }
        let mailboxes = inventory.servers.contains { $0.role == .mailbox && $0.install.product.isModern }
        for host in targets.sorted() where server(host)?.role == .edge && mailboxes && !edgeSynced.contains(host) {
            problems.append("end: \(host)'s EdgeSync never tested after its update (mx-edge-maint)")
        }
        if !outOfPool.isEmpty { problems.append("end: \(outOfPool.sorted()) left out of their pool") }
        for (database, host) in mounted where host == nil {
            problems.append("end: database \(database) is not mounted")
        }
        for dag in inventory.dags where dag.members.contains(where: { targets.contains(key($0)) }) {
            let name = key(dag.name)
            if !dag.autoRebalance, !checkedAfterRebalance.contains(name) {
                problems.append("end: \(dag.name) not rebalanced and checked (mx-dag-rebalance)")
            }
        }
    }
}
