import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan

/// Checks, before a rollout, what KB 328839 says must hold, against the twin: machines
/// answering, no other installer running, disk space, virtual servers online, no node that
/// was evicted and added back, and (as warnings, since the plan takes care of them) the
/// services quiesce will stop, hotfix 831464, schema-map exports and backup age.
public struct Preflight: Sendable {
    public let twin: LabTwin
    public let plan: Plan
    /// Backups older than this (virtual seconds) do not count as fresh.
    public let maximumBackupAge: Double
    /// The inventory the plan was made from: each server the plan updates must run what it
    /// says (rule `inventory-drift`). Nil skips that check.
    public let inventory: Inventory?

    public init(twin: LabTwin, plan: Plan, maximumBackupAge: Double = 24 * 3600, inventory: Inventory? = nil) {
        self.twin = twin
        self.plan = plan
        self.maximumBackupAge = maximumBackupAge
        self.inventory = inventory
        cumulativeUpdates = plan.cumulativeUpdates()
    }

    /// The cumulative update each server gets.
    let cumulativeUpdates: [HostName: Plan.PackageSummary]

    /// Each server the plan installs on runs, in the twin, the product and level the inventory
    /// says; a difference is named, machine by machine (rule `inventory-drift`).
    func drift(installing: Set<HostName>) -> [CheckResult] {
        guard let inventory else { return [] }
        var said: [HostName: ExchangeInstall] = [:]
        for server in inventory.servers { said[server.name] = server.install }
        for cluster in inventory.clusters { for node in cluster.nodes { said[node.name] = node.install } }
        return installing.sorted().compactMap { name in
            guard let install = said[name], let host = twin.hosts[name] else { return nil }
            guard host.product != install.product || host.level != install.level else { return nil }
            let runs = "\(host.product?.rawValue ?? "?") \(host.level?.rawValue ?? "?")\(host.build.map { " (\($0))" } ?? "")"
            let says = "\(install.product.rawValue) \(install.level.rawValue)\(Builds.build(install.product, install.level).map { " (\($0))" } ?? "")"
            return CheckResult(
                status: .fail, check: "drift", subject: name,
                detail:
                    "runs \(runs); the inventory says \(says): update the inventory, or rehearse on a fresh twin (--fresh-lab)",
                rule: .inventoryDrift)
        }
    }

    public func run() -> [CheckResult] {
        var results: [CheckResult] = []
        let installing = Set(plan.steps.filter { $0.action == .install }.compactMap(\.host))
        let backedUp = Set(
            plan.steps.filter { $0.action == .backup && $0.rules.contains(.backupBefore) }.compactMap {
                $0.group ?? $0.host
            })
        for key in (installing.union(backedUp)).sorted() {
            if let host = twin.hosts[key] {
                results += checks(host, installs: installing.contains(key))
            }
            if backedUp.contains(key) { results.append(backupAge(key)) }
        }
        let clusters = Set(installing.compactMap { twin.hosts[$0]?.cluster })
        for group in twin.groups.values.sorted(by: { $0.name.spelling < $1.name.spelling })
        where group.isVirtualServer && clusters.contains(group.cluster) {
            let offline = group.resources.filter { !$0.value }.map(\.key).sorted()
            results.append(
                offline.isEmpty
                    ? CheckResult(
                        status: .pass, check: "online", subject: group.name, detail: "online on \(group.owner)")
                    : CheckResult(
                        status: .fail, check: "online", subject: group.name,
                        detail:
                            "offline (\(offline.joined(separator: ", "))) on \(group.owner): bring it online first; look for event 1025",
                        rule: .e2003Event1025))
        }
        return drift(installing: installing) + results + modernChecks(installing: installing)
            + Self.network(twin, plan)
    }

    /// The twin's answer to the network probe: a server the plan acts on that is reached with
    /// a key logon (fault `key-logon`) fails it, as a Windows session without network
    /// credentials does (rule `windows-network-logon`). Only failures.
    public static func network(_ twin: LabTwin, _ plan: Plan) -> [CheckResult] {
        var seen = Set<HostName>()
        return plan.steps.compactMap(\.host).filter { seen.insert($0).inserted }.compactMap { host in
            guard twin.modern?.servers[host]?.keyLogon == true else { return nil }
            return CheckResult(
                status: .fail, check: "network", subject: host,
                detail: "\(Rule.keyLogonFinding(host.spelling)). The probe said: Active Directory refused the session",
                rule: .windowsNetworkLogon)
        }
    }

    /// Exchange 2013 and later: each server to update in service with no restart pending and
    /// its services startable; each DAG's databases mounted with every copy's server up; and
    /// Active Directory against the package's versions.
    func modernChecks(installing: Set<HostName>) -> [CheckResult] {
        guard let state = twin.modern else { return [] }
        var results: [CheckResult] = []
        for name in installing.sorted() {
            guard let server = state.servers[name], let host = twin.hosts[name] else { continue }
            results.append(
                host.pendingRestart
                    ? CheckResult(
                        status: .fail, check: "pending restart", subject: host.name,
                        detail: "a restart is pending: setup's readiness checks will stop; restart it first",
                        rule: .mxReadinessRebootPending)
                    : CheckResult(
                        status: .pass, check: "pending restart", subject: host.name, detail: "none",
                        rule: .mxReadinessRebootPending))
            if let result = prerequisites(host, server) { results.append(result) }
            if server.servicesDisabled == true {
                results.append(
                    CheckResult(
                        status: .fail, check: "services", subject: host.name,
                        detail:
                            "Exchange services are disabled after an earlier failed update: run ServiceControl.ps1 AfterPatch",
                        rule: .mxServicesDisabled))
            }
            if !server.inService {
                results.append(
                    CheckResult(
                        status: .warn, check: "maintenance", subject: host.name,
                        detail: "already out of service (draining, in maintenance or offline) before the rollout",
                        rule: .mxDAGUpdateProcedure))
            }
        }
        for dag in state.dags.values.sorted(by: { $0.name.spelling < $1.name.spelling })
        where dag.members.contains(where: installing.contains) {
            let problems = state.databases.values.filter { $0.dag == dag.name }.sorted { $0.name < $1.name }.compactMap
            {
                database -> String? in
                guard let mounted = database.mounted else { return "\(database.name) is dismounted" }
                let down = database.copies.filter { twin.hosts[$0]?.up != true }
                if twin.hosts[mounted]?.up != true || !down.isEmpty {
                    return "\(database.name) has a copy on a server that does not answer"
                }
                return nil
            }
            results.append(
                CheckResult(
                    status: problems.isEmpty ? .pass : .fail, check: "database copies", subject: dag.name,
                    detail: problems.isEmpty ? "every copy healthy" : problems.joined(separator: "; "),
                    rule: .mxCopiesHealthy))
        }
        let preparing = PlanPackages(plan)[Step(.waitReplication(.schema), rules: [], why: "")].id
        if let wanted = state.packageAD[preparing],
            installing.contains(where: { twin.hosts[$0]?.role != .edge })
        {
            let have = state.activeDirectory
            let behind =
                have.schema < wanted.schema || have.organization < wanted.organization
                || have.domain < wanted.domain
            let prepares = plan.steps.contains { [.prepareSchema, .prepareAD, .prepareDomains].contains($0.action) }
            results.append(
                CheckResult(
                    status: behind && !prepares ? .fail : behind ? .warn : .pass, check: "Active Directory",
                    subject: HostName(twin.organization),
                    detail: behind
                        ? "at \(have.schema)/\(have.organization)/\(have.domain), \(preparing) needs \(wanted.schema)/\(wanted.organization)/\(wanted.domain)"
                            + (prepares ? ": the plan prepares it first" : "")
                        : "at \(have.schema)/\(have.organization)/\(have.domain): prepared for \(preparing)",
                    rule: .mxADPrepWhen))
        }
        return results
    }

    /// Rule `mx-prerequisites`: the .NET Framework and Visual C++ runtimes the plan's
    /// cumulative update needs on `host`; a .NET Framework the plan raises first only warns.
    func prerequisites(_ host: LabHost, _ server: LabModernServer) -> CheckResult? {
        let package = cumulativeUpdates[host.name] ?? plan.package
        guard let gaps = PrerequisiteGaps(package, host, server) else { return nil }
        let needs = gaps.needs
        let missing = gaps.missingRuntimes
        let raised = plan.steps.contains { $0.action == .installDotNet && $0.host == host.name }
        let behind = gaps.dotnetBelow != nil
        var problems: [String] = []
        if !missing.isEmpty {
            problems.append("no Visual C++ \(missing.map(\.rawValue).joined(separator: " or ")) runtime: install it before the rollout")
        }
        if behind, !raised {
            problems.append(".NET Framework \(server.dotnet?.rawValue ?? "?"), below the \(needs.dotnet.rawValue) that \(package.id) needs")
        }
        if !problems.isEmpty {
            return CheckResult(
                status: .fail, check: "prerequisites", subject: host.name, detail: problems.joined(separator: "; "),
                rule: .mxPrerequisites)
        }
        return CheckResult(
            status: behind ? .warn : .pass, check: "prerequisites", subject: host.name,
            detail: behind
                ? ".NET Framework \(server.dotnet?.rawValue ?? "?"), below \(needs.dotnet.rawValue): the plan installs \(needs.dotnetToInstall.rawValue) first"
                : ".NET Framework \(server.dotnet?.rawValue ?? "at or above \(needs.dotnet.rawValue)") and the Visual C++ \(needs.runtimes.map(\.rawValue).joined(separator: " and ")) runtimes",
            rule: behind ? .mxDotNetFirst : .mxPrerequisites)
    }

    func checks(_ host: LabHost, installs: Bool) -> [CheckResult] {
        var results: [CheckResult] = []
        let name = host.name
        results.append(
            host.up
                ? CheckResult(status: .pass, check: "reachable", subject: name, detail: "answers")
                : CheckResult(
                    status: .fail, check: "reachable", subject: name,
                    detail: "does not answer: start it or fix its network"))
        guard installs else { return results }
        results.append(
            host.installerRunning
                ? CheckResult(
                    status: .fail, check: "installers", subject: name,
                    detail: "another setup, update or xcopy is running: wait for it or end it",
                    rule: .noConcurrentInstallers)
                : CheckResult(
                    status: .pass, check: "installers", subject: name, detail: "no other installer running",
                    rule: .noConcurrentInstallers))
        results.append(
            host.freeDiskMB < 600
                ? CheckResult(
                    status: .fail, check: "disk", subject: name,
                    detail: "\(host.freeDiskMB) MB free; a service pack needs about 600 MB")
                : CheckResult(status: .pass, check: "disk", subject: name, detail: "\(host.freeDiskMB) MB free"))
        let interfering = host.running.subtracting([.cluster]).sorted()
        results.append(
            interfering.isEmpty
                ? CheckResult(
                    status: .pass, check: "interfering services", subject: name, detail: "none running", rule: .quiesce)
                : CheckResult(
                    status: .warn, check: "interfering services", subject: name,
                    detail: "\(interfering.joined(separator: ", ")) running: the plan stops them before installing",
                    rule: .quiesce))
        if host.cluster != nil {
            results.append(
                host.running.contains(.cluster)
                    ? CheckResult(
                        status: .pass, check: "cluster node", subject: name, detail: "Cluster service running")
                    : CheckResult(
                        status: .fail, check: "cluster node", subject: name,
                        detail: "Cluster service stopped: start it so virtual servers can move",
                        rule: .clusterStopService))
            if host.evictedAndReadded {
                results.append(
                    CheckResult(
                        status: .fail, check: "cluster node", subject: name,
                        detail: "evicted and added back: run Exchange setup and choose Reinstall before the rollout",
                        rule: .e2003Event1025))
            }
            if host.product == .exchange2003, host.os == .windows2003,
                !host.installed.contains(PackageCatalogue.kb831464.id)
            {
                results.append(
                    CheckResult(
                        status: .warn, check: "hotfix 831464", subject: name,
                        detail: "not installed: the plan installs it first",
                        rule: .e2003KB831464))
            }
        }
        if host.adcCustomMaps {
            results.append(
                host.schemaMapsExported
                    ? CheckResult(
                        status: .pass, check: "ADC schema maps", subject: name, detail: "exported", rule: .adcCustomMaps
                    )
                    : CheckResult(
                        status: .warn, check: "ADC schema maps", subject: name,
                        detail: "not exported yet: the plan exports them before the ADC update", rule: .adcCustomMaps))
        }
        return results
    }

    func backupAge(_ subject: HostName) -> CheckResult {
        let name = twin.hosts[subject]?.name ?? twin.groups[subject]?.name ?? subject
        guard let last = twin.backupsBySubject[subject]?.max(by: { $0.at < $1.at }),
            twin.clock - last.at <= maximumBackupAge
        else {
            return CheckResult(
                status: .warn, check: "backup", subject: name,
                detail:
                    "no backup in the last \(Int(maximumBackupAge / 3600)) h: the plan takes one before any install",
                rule: .backupBefore)
        }
        return CheckResult(
            status: .pass, check: "backup", subject: name,
            detail: "backed up \(Int((twin.clock - last.at) / 60)) min ago", rule: .backupBefore)
    }
}
