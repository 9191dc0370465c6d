import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner

/// What the twin answers for one action.
public struct LabOutcome: Sendable, Hashable {
    public var succeeded: Bool
    /// What happened, in the words a real server would use where KB 328839 gives them.
    public var message: String
    /// Virtual seconds the action took.
    public var duration: Double
    /// The rule whose failure this is, when KB 328839 knows it.
    public var rule: Rule.ID?
    /// Whether the action changed anything.
    public var applied: Bool

    static func ok(_ message: String, applied: Bool = true) -> LabOutcome {
        LabOutcome(succeeded: true, message: message, duration: 0, rule: nil, applied: applied)
    }

    static func failure(_ message: String, rule: Rule.ID? = nil, duration: Double = 0) -> LabOutcome {
        LabOutcome(succeeded: false, message: message, duration: duration, rule: rule, applied: false)
    }
}

/// A simulated copy of an organization that behaves as KB 328839 says real Exchange servers
/// and clusters do, failures included (rule `lab-first`). Deterministic for a given seed:
/// the same actions in the same order give the same times, restarts and outcomes.
public struct LabTwin: Sendable, Codable, Hashable {
    public var organization: String
    public var hosts: [HostName: LabHost] = [:]
    /// Virtual servers by name, cluster groups by `clusterGroupKey`.
    public var groups: [HostName: LabGroup] = [:]
    /// The packages it can install: the built-in catalogue and the inventory's own.
    public var packages: [Plan.PackageSummary] = []
    /// Backups by subject (host or virtual server).
    public var backupsBySubject: [HostName: [LabBackup]] = [:]
    /// Virtual servers offline now, kept up to date as actions touch their clusters.
    @SortedWhenSaved public var offlineVirtualServers: Set<HostName> = []
    /// Exchange 2003 pools serving two levels now.
    @SortedWhenSaved public var mixedPools: Set<String> = []
    /// Whether an Exchange 2000 back-end runs newer than a front-end in service now.
    public var outlookWebAccessBroken = false
    /// Indexes fixed at creation: each pool's members and each cluster's groups (keys).
    var poolMembers: [String: [HostName]] = [:]
    /// Each cluster's groups, keyed by the cluster's name as the inventory spells it.
    var clusterGroups: [String: [HostName]] = [:]
    public var history: [LabHistoryEntry] = []
    public var accounting = LabAccounting()
    /// Exchange 2013 and later: DAGs, databases, maintenance states; nil otherwise.
    public var modern: LabModernState?
    /// Events armed to happen once (see `LabFault`).
    public var armedFaults: [LabFault] = []
    /// Virtual seconds since the twin was made.
    public var clock: Double = 0
    public var seed: UInt64
    var random: UInt64

    /// A twin of `inventory`, every machine up and running what the inventory says.
    public init(inventory: Inventory, seed: UInt64 = 1) {
        organization = inventory.organization
        self.seed = seed
        random = seed
        for dc in inventory.domainControllers {
            hosts[dc] = LabHost(name: dc, product: nil, level: nil, os: .windows2003)
        }
        for server in inventory.servers {
            var host = LabHost(
                name: server.name, product: server.install.product, level: server.install.level, os: server.install.os)
            host.role = server.role
            host.pool = server.pool
            apply(server.install, to: &host)
            hosts[server.name] = host
        }
        for cluster in inventory.clusters {
            for node in cluster.nodes {
                var host = LabHost(
                    name: node.name, product: node.install.product, level: node.install.level, os: node.install.os)
                host.cluster = cluster.name
                host.role = .backEnd
                apply(node.install, to: &host)
                host.running.insert(.cluster)
                hosts[node.name] = host
            }
            groups[clusterGroupKey(cluster.name)] = LabGroup(
                name: clusterGroupName, cluster: cluster.name, isVirtualServer: false, owner: cluster.clusterGroupOwner,
                product: nil, level: nil,
                resources: ["ip-address": true, "network-name": true, "quorum": true, "msdtc": true])
            for evs in cluster.virtualServers {
                var group = LabGroup(
                    name: evs.name, cluster: cluster.name, isVirtualServer: true, owner: evs.owner,
                    product: evs.product,
                    level: evs.level,
                    resources: Dictionary(uniqueKeysWithValues: LabGroup.virtualServerResources.map { ($0, true) }))
                settle(&group)
                groups[evs.name] = group
            }
        }
        packages = PackageCatalogue(inventory: inventory).packages.map(Plan.PackageSummary.init)
        modern = LabModernState(inventory: inventory)
        for (key, host) in hosts { if let pool = host.pool { poolMembers[pool, default: []].append(key) } }
        for (key, group) in groups { clusterGroups[group.cluster.spelling, default: []].append(key) }
        poolMembers = poolMembers.mapValues { $0.sorted() }
        clusterGroups = clusterGroups.mapValues { $0.sorted() }
        for key in groups.keys { refreshAvailability(of: key) }
        for pool in Set(hosts.values.compactMap(\.pool)) { refreshPool(pool) }
        refreshOutlookWebAccess()
    }

    /// Every backup taken, oldest first.
    public var backups: [LabBackup] {
        backupsBySubject.values.flatMap { $0 }.sorted { ($0.at, $0.subject) < ($1.at, $1.subject) }
    }

    /// Makes a virtual server's state one a real cluster could be in: an Exchange 2000 EVS
    /// mounted on a newer node has had its databases upgraded; an Exchange 5.5 EVS runs its
    /// node's binaries; an Exchange 2003 EVS older than its node cannot be online (event 1025).
    private mutating func settle(_ group: inout LabGroup) {
        guard let node = hosts[group.owner], node.product == group.product, let nodeLevel = node.level
        else { return }
        switch group.product {
        case .exchange2000: group.level = max(group.level ?? .rtm, nodeLevel)
        case .exchange55: group.level = nodeLevel
        case .exchange2003 where nodeLevel > (group.level ?? .rtm):
            for resource in group.resources.keys where !LabGroup.kept.contains(resource) {
                group.resources[resource] = false
            }
            hosts[group.owner]?.eventLog.append(Self.event1025(group.name, on: node.name))
        default: break
        }
    }

    private func apply(_ install: ExchangeInstall, to host: inout LabHost) {
        host.running = Set(install.running.filter { $0 != .installer }.map(LabService.interfering))
        host.installerRunning = install.running.contains(.installer)
        host.installed = install.installed
        host.adcCustomMaps = install.adcCustomMaps
        for component in install.components { host.components[component] = install.level }
    }

    func clusterGroupKey(_ cluster: HostName) -> HostName { "cluster-group@\(cluster.key)" }

    // MARK: Faults

    /// Injects a fault: a condition takes hold now, an event waits for its action.
    public mutating func inject(_ fault: LabFault) throws(LabError) {
        let key = fault.target
        if fault.kind == .witnessDown {
            guard modern?.dags.values.contains(where: { $0.witness == key }) == true else {
                throw LabError.notWitness(fault.target)
            }
            let down = (modern?.witnessesDown ?? []).union([key])
            modern?.witnessesDown = down
            return
        }
        if fault.kind == .dcUnreachable {
            guard modern != nil, let host = hosts[key], host.product == nil else {
                throw LabError.notDomainController(fault.target)
            }
            let unreachable = (modern?.unreachableControllers ?? []).union([key])
            modern?.unreachableControllers = unreachable
            return
        }
        if fault.kind.isModernOnly, modern?.servers[key] == nil {
            throw LabError.notModern(kind: fault.kind.rawValue, host: fault.target)
        }
        if fault.kind.targetsGroup {
            guard groups[key] != nil else { throw LabError.unknownVirtualServer(fault.target) }
        } else {
            guard hosts[key] != nil else { throw LabError.unknownHost(fault.target) }
        }
        switch fault.kind {
        case .evicted: hosts[key]?.evictedAndReadded = true
        case .installerRunning: hosts[key]?.installerRunning = true
        case .diskFull: hosts[key]?.freeDiskMB = 20
        case .servicesDisabled: modern?.servers[key]?.servicesDisabled = true
        case .keyLogon: modern?.servers[key]?.keyLogon = true
        case .queueStuck: modern?.servers[key]?.queueStuck = true
        default: armedFaults.append(fault)
        }
    }

    /// Fixes a fault: ends a condition (the installer finished, disk freed, setup's Reinstall
    /// run on the evicted node) or disarms an event that has not happened yet.
    public mutating func fix(_ fault: LabFault) throws(LabError) {
        let key = fault.target
        switch fault.kind {
        case .witnessDown:
            guard modern?.witnessesDown?.contains(key) == true else { throw LabError.notWitness(fault.target) }
            modern?.witnessesDown?.remove(key)
            if modern?.witnessesDown?.isEmpty == true { modern?.witnessesDown = nil }
        case .servicesDisabled:
            guard modern?.servers[key] != nil else { throw LabError.unknownHost(fault.target) }
            modern?.servers[key]?.servicesDisabled = nil
        case .keyLogon:
            guard modern?.servers[key] != nil else { throw LabError.unknownHost(fault.target) }
            modern?.servers[key]?.keyLogon = nil
        case .queueStuck:
            guard modern?.servers[key] != nil else { throw LabError.unknownHost(fault.target) }
            modern?.servers[key]?.queueStuck = nil
        case .dcUnreachable:
            guard modern?.unreachableControllers?.contains(key) == true else {
                throw LabError.notDomainController(fault.target)
            }
            modern?.unreachableControllers?.remove(key)
            if modern?.unreachableControllers?.isEmpty == true { modern?.unreachableControllers = nil }
        case .suNotElevated:
            // Installed again from an elevated prompt (or, not met yet, disarmed).
            guard modern?.servers[key] != nil else { throw LabError.unknownHost(fault.target) }
            armedFaults.removeAll { $0 == fault }
            modern?.servers[key]?.webError500 = nil
        case .bareSetup:
            // The media's own setup run (or, not met yet, disarmed): the update lands.
            guard let server = modern?.servers[key] else { throw LabError.unknownHost(fault.target) }
            armedFaults.removeAll { $0 == fault }
            if let upgrade = server.upgradeNotRun {
                hosts[key]?.product = upgrade.product
                hosts[key]?.level = upgrade.level
                hosts[key]?.hotfixBuild = nil
                modern?.servers[key]?.update = nil
                modern?.servers[key]?.upgradeNotRun = nil
            }
        case .evicted, .installerRunning, .diskFull:
            guard var host = hosts[key] else { throw LabError.unknownHost(fault.target) }
            switch fault.kind {
            case .evicted: host.evictedAndReadded = false
            case .installerRunning: host.installerRunning = false
            default: host.freeDiskMB = 4096
            }
            hosts[key] = host
        case .noReturnAfterRestart:
            guard var host = hosts[key] else { throw LabError.unknownHost(fault.target) }
            armedFaults.removeAll { $0 == fault }
            if !host.up {
                host.up = true
                if host.cluster != nil { host.running.insert(.cluster) }
                hosts[key] = host
                for group in groups(ofCluster: host.cluster) { refreshAvailability(of: group) }
            }
        default:
            armedFaults.removeAll { $0 == fault }
        }
    }

    /// Takes an armed event for `target`, if there is one.
    mutating func consume(_ kind: LabFault.Kind, _ target: HostName) -> Bool {
        guard let index = armedFaults.firstIndex(where: { $0.kind == kind && $0.target == target }) else {
            return false
        }
        armedFaults.remove(at: index)
        return true
    }

    // MARK: Time

    /// The next pseudo-random number (SplitMix64): the twin's only source of chance.
    mutating func nextRandom() -> UInt64 {
        var generator = SplitMix64(seed: random)
        defer { random = generator.state }
        return generator.next()
    }

    /// A duration around `base` seconds, ±15 %.
    mutating func jittered(_ base: Double) -> Double {
        guard base > 0 else { return 0 }
        let unit = Double(nextRandom() % 10_000) / 10_000
        return (base * (0.85 + 0.3 * unit)).rounded()
    }

    func baseDuration(_ step: Step) -> Double {
        if step.action == .install {
            let package = packages.first { $0.id == step.package }
            switch package?.kind {
            case .servicePack: return 40 * 60
            case .cumulativeUpdate: return 90 * 60
            case .securityUpdate: return 25 * 60
            default: return package?.product.hasPrefix("windows") == true ? 5 * 60 : 10 * 60
            }
        }
        if step.action == .reboot { return 6 * 60 }
        return Double(ActionDurations.defaults[step.action.rawValue] ?? 60)
    }

    // MARK: Performing

    /// Performs one plan step: checks what a real system would check, changes the twin as the
    /// real action would, advances the clock and accounts for what users noticed.
    public mutating func perform(_ step: Step) -> LabOutcome {
        let offlineBefore = offlineVirtualServers
        let mixedBefore = mixedPools
        let brokenBefore = outlookWebAccessBroken
        // Exchange 5.5 setup stops the services of the virtual servers its node owns.
        var ownerBefore: [HostName] = []
        if case .install(let host, _) = step.detail, hosts[host]?.product == .exchange55 {
            ownerBefore = groupsOwned(by: host).filter { groups[$0]?.isVirtualServer == true }
        }
        // Before the step: a fault injected or fixed since the last one changes the votes.
        countVotes(restarting: nil)
        var outcome = act(step)
        if outcome.duration == 0 { outcome.duration = jittered(baseDuration(step)) }
        refresh(after: step)
        countVotes(restarting: step.action == .reboot && outcome.succeeded ? step.host : nil)
        account(
            step, duration: outcome.duration, offlineBefore: offlineBefore, mixedBefore: mixedBefore,
            brokenBefore: brokenBefore, exchange55OnHost: ownerBefore)
        accountDatabases(duration: outcome.duration)
        history.append(
            LabHistoryEntry(
                sequence: history.count + 1, step: step.id.rawValue.isEmpty ? nil : step.id,
                action: step.action.rawValue,
                host: step.host, group: step.group, package: step.package, summary: step.summary, start: clock,
                end: clock + outcome.duration, succeeded: outcome.succeeded,
                applied: outcome.applied, message: outcome.message))
        clock += outcome.duration
        return outcome
    }

    /// Performs `steps` in order as the engine would, without a journal: a check of a state
    /// that settles is asked again, the twin's clock passing, until it passes or its timeout
    /// (Baton's defaults; `waiting: false` asks once). The first failure, or nil.
    public mutating func rehearse(_ steps: [Step], waiting: Bool = true) -> (Step, LabOutcome)? {
        for step in steps {
            var outcome = perform(step)
            if waiting, let wait = SettleSpec.defaults[step.action.rawValue] {
                var waited = 0
                while !outcome.succeeded, waited + wait.interval <= wait.timeout {
                    pass(Double(wait.interval))
                    waited += wait.interval
                    outcome = perform(step)
                }
            }
            if !outcome.succeeded { return (step, outcome) }
        }
        return nil
    }

    /// Time passing with nothing done (a wait for copies to settle): databases down meanwhile
    /// are accounted for as during an action.
    public mutating func pass(_ seconds: Double) {
        accountDatabases(duration: seconds)
        clock += seconds
    }

    mutating func violate(_ rule: Rule.ID, _ message: String) {
        accounting.violations.append(LabViolation(rule: rule.rawValue, message: message, at: clock))
    }

    /// The group a step names: an EVS, or the cluster group of the host's cluster.
    func groupKey(_ step: Step) -> HostName? {
        guard let group = step.group else { return nil }
        if group == clusterGroupName, let host = step.host, let cluster = hosts[host]?.cluster {
            return clusterGroupKey(cluster)
        }
        return group
    }

    func groupsOwned(by host: HostName) -> [HostName] {
        guard let cluster = hosts[host]?.cluster else { return [] }
        return groups(ofCluster: cluster).filter { groups[$0]?.owner == host }.sorted()
    }

    func groups(ofCluster cluster: HostName?) -> [HostName] {
        cluster.flatMap { clusterGroups[$0.spelling] } ?? []
    }

    mutating func act(_ step: Step) -> LabOutcome {
        if isModern(step), let outcome = actModern(step) { return outcome }
        switch step.detail {
        case .approve(let gate): return .ok("gate \(gate) approved")
        case .milestone(let name): return .ok(name, applied: false)
        case .failoverTest, .verifyVersion(.virtualServer, _): return groupAction(step)
        default: break
        }
        guard let name = step.host, let host = hosts[name] else {
            return .failure("no host '\(step.host?.spelling ?? "?")' in the twin")
        }
        guard host.up else { return .failure("\(name) does not answer: it is down") }
        switch step.detail {
        case .backup: return backup(step, name)
        case .stopClusterService: return stopClusterService(name)
        case .install(_, let package): return install(package, on: name)
        case .reboot(_, let when): return reboot(name, when: when)
        case .moveGroup: return move(step)
        case .resourcesOffline, .upgradeVirtualServer, .resourcesOnline: return groupAction(step)
        default:
            var changed = host
            let outcome = act(step.detail, on: &changed)
            hosts[name] = changed
            return outcome
        }
    }

    /// The actions that change only the machine they run on.
    mutating func act(_ detail: StepDetail, on host: inout LabHost) -> LabOutcome {
        let hostName = host.name
        switch detail {
        case .exportSchemaMap:
            guard host.components[.adc] != nil else {
                return .failure("\(hostName) runs no Active Directory Connector")
            }
            host.schemaMapsExported = true
            return .ok("msExchServer1SchemaMap and msExchServer2SchemaMap exported with LDP")
        case .quiesce:
            let stopping = host.running.subtracting([.cluster]).sorted()
            host.running.subtract(stopping)
            host.stoppedByQuiesce = Array(Set(host.stoppedByQuiesce + stopping)).sorted()
            return .ok(
                stopping.isEmpty ? "nothing interfering was running" : "stopped \(stopping.joined(separator: ", "))",
                applied: !stopping.isEmpty)
        case .checkInstallers:
            guard !host.installerRunning else {
                return .failure(
                    "another setup, update or xcopy is running on \(hostName): it can block the package; wait for it or end it",
                    rule: .noConcurrentInstallers)
            }
            return .ok("no other installer running", applied: false)
        case .leavePool(_, let pool):
            host.inPool = false
            return .ok("\(hostName) left pool \(pool)")
        case .rejoinPool(_, let pool):
            host.inPool = true
            return .ok("\(hostName) serves pool \(pool) again")
        case .startClusterService:
            guard host.cluster != nil else { return .failure("\(hostName) is not a cluster node") }
            let was = host.running.contains(.cluster)
            host.running.insert(.cluster)
            return .ok(was ? "the Cluster service was already running" : "Cluster service started", applied: !was)
        case .updateComponent(_, let component):
            guard host.components[component] != nil else {
                return .failure("\(hostName) has no \(component.rawValue)")
            }
            if component == .adc, host.adcCustomMaps, !host.schemaMapsExported {
                violate(.adcCustomMaps, "the ADC on \(hostName) was upgraded before its schema maps were exported")
            }
            host.components[component] = host.level
            return .ok("\(component.rawValue) upgraded with its own setup to \(host.level?.rawValue ?? "?")")
        case .performanceOptimizer:
            guard host.product == .exchange55 else {
                return .failure("Performance Optimizer is an Exchange 5.5 tool")
            }
            return .ok("Performance Optimizer tuned \(hostName)")
        case .restoreServices:
            let restoring = host.stoppedByQuiesce
            host.running.formUnion(restoring)
            host.stoppedByQuiesce = []
            return .ok(
                restoring.isEmpty ? "nothing to start again" : "started \(restoring.joined(separator: ", "))",
                applied: !restoring.isEmpty)
        case .verifyVersion(_, let expect):
            let build = host.build ?? "none"
            if build != expect, let upgrade = modern?.servers[hostName]?.upgradeNotRun {
                return .failure(
                    "\(hostName) reports build \(build), not \(expect): setup.exe ran the copy installed in V15\\Bin (on the PATH) instead of the media's, and \(upgrade.product.rawValue) \(upgrade.level.rawValue) was not installed; run the media's setup as .\\setup.exe or D:\\setup.exe /Mode:Upgrade from an elevated prompt",
                    rule: .mxCURunDotSetup)
            }
            guard build == expect else {
                return .failure("\(hostName) reports build \(build), not \(expect)", rule: .verifyVersion)
            }
            if modern?.servers[hostName]?.webError500 == true {
                return .failure(
                    "\(hostName) reports build \(build), but https://\(hostName)/owa and /ecp answer HTTP 500 (Could not load file or assembly 'Microsoft.Exchange.Common'): the security update was installed without elevation; install it again from an elevated prompt and restart",
                    rule: .mxSUNonElevatedHTTP500)
            }
            // A service pack's or cumulative update's build as Exchange shows it; a security
            // update's or hotfix's own build as it is (the level's display version would name
            // the build before it and read like a failure).
            let shown =
                host.hotfixBuild == nil
                ? host.product.flatMap { product in host.level.flatMap { Builds.displayVersion(product, $0) } } : nil
            return .ok("\(hostName) reports \(shown ?? build)", applied: false)
        // Every other action is the twin's elsewhere: on a group, across machines (`act(_:)`), or
        // Exchange 2013 and later's (`actModern`); named here so that a new action does not
        // compile until the twin says what it does.
        case .approve, .backup, .moveGroup, .stopClusterService, .install, .reboot, .resourcesOffline,
            .upgradeVirtualServer, .resourcesOnline, .failoverTest, .milestone, .prepareSchema, .prepareAD,
            .prepareDomains, .waitReplication, .drainTransport, .startDagMaintenance, .redirectMessages,
            .serverOffline, .serverOnline, .stopDagMaintenance, .resumeTransport, .checkCopies, .checkWitness,
            .checkPendingReboot, .saveConfig, .restoreConfig, .rebalanceDatabases, .installDotNet, .healthCheck,
            .checkEdgeSync, .settle:
            return .failure("\(detail.action.rawValue) is not an action the twin performs on \(hostName) alone")
        }
    }
}

/// A request the twin cannot take (an unknown host, a broken state file), each case with what
/// a caller needs to tell it apart.
public enum LabError: Error, Sendable, CustomStringConvertible {
    /// No such twin yet: where it was looked for ("lab twin 'blue' in .baton") and the
    /// command that makes it.
    /// `nearest` is the kept twin nearest the name asked for, when one is near (a typo).
    case noTwin(what: String, create: String, others: [TwinName] = [], nearest: TwinName? = nil)
    /// The twin's file cannot be read, or is not a twin.
    case unreadable(path: String, reason: String)
    case unwritable(directory: String, reason: String)
    case unknownHost(HostName)
    case unknownVirtualServer(HostName)
    /// A fault of Exchange 2013 and later named for another machine.
    case notModern(kind: String, host: HostName)
    /// `witness-down` names a server that is no DAG's file share witness.
    case notWitness(HostName)
    /// The twin was made from another inventory: why, and what to do.
    case otherInventory(String)
    /// `dc-unreachable` names a machine that is not a domain controller of a modern organization.
    case notDomainController(HostName)

    public var description: String {
        switch self {
        case .noTwin(let what, let create, let others, let nearest):
            "no \(what)" + (nearest.map { "; did you mean '\($0)'? Or" } ?? ":") + " create one with '\(create)'"
                + (others.isEmpty ? "" : " (twins kept there: \(others.joined(separator: ", ")); name one with --twin)")
        case .unreadable(let path, let reason): "\(path) is not a lab twin Baton can read: \(reason)"
        case .unwritable(let directory, let reason): "cannot write the lab twin to \(directory): \(reason)"
        case .unknownHost(let name): "no host '\(name)' in the twin"
        case .unknownVirtualServer(let name): "no virtual server '\(name)' in the twin"
        case .notModern(let kind, let host):
            "\(kind) is a fault of Exchange 2013 and later servers; \(host) is not one in the twin"
        case .notWitness(let name): "\(name) is not the file share witness of any DAG in the twin"
        case .otherInventory(let reason): reason
        case .notDomainController(let name):
            "\(name) is not a domain controller of an organization of Exchange 2013 or later in the twin"
        }
    }
}

extension LabTwin {
    /// Every install the twin applied, per host and package: the crash tests' exactly-once proof.
    public var appliedInstalls: [String: Int] {
        history.filter { $0.action == "install" && $0.applied }.reduce(into: [:]) { $0[$1.summary, default: 0] += 1 }
    }

    /// Services that `quiesce` stopped and nothing started again.
    public var servicesLeftStopped: [String: [String]] {
        hosts.values.filter { !$0.stoppedByQuiesce.isEmpty }.reduce(into: [:]) {
            $0[$1.name.spelling] = $1.stoppedByQuiesce.map(\.rawValue)
        }
    }
}
