import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner

/// The twin's model of Exchange 2013 and later: database availability groups and where each
/// database is mounted, each server's transport, ServerWideOffline and DAG maintenance state,
/// the configuration saved around a cumulative update, and Active Directory's versions.
/// Absent (nil) in twins of KB 328839's product lines, so their files stay as they were.
public struct LabModernState: Sendable, Codable, Hashable {
    public var dags: [HostName: LabDAG] = [:]
    public var databases: [String: LabDatabase] = [:]
    public var servers: [HostName: LabModernServer] = [:]
    public var activeDirectory = LabADVersions()
    /// The Active Directory versions each package brings the forest to, by package id.
    public var packageAD: [PackageID: LabADVersions] = [:]
    /// Security updates' short names, by package id.
    public var packageUpdates: [PackageID: String] = [:]
    /// File share witnesses that do not answer (fault `witness-down`); nil for none.
    public var witnessesDown: Set<HostName>?
    /// DAGs without a majority of votes now; nil for none.
    public var withoutQuorum: Set<HostName>?
    /// Databases a loss of quorum dismounted, and where they were mounted: they mount there
    /// again once the DAG has its majority back; nil for none.
    public var dismountedByQuorum: [String: HostName]?
    /// When the last Active Directory preparation's change reaches each domain controller, on
    /// the twin's clock (one to five minutes after it, each its own); nil when nothing waits.
    public var replicationArrives: [HostName: Double]?
    /// Domain controllers that do not answer (fault `dc-unreachable`); nil for none.
    public var unreachableControllers: Set<HostName>?
}

public struct LabADVersions: Sendable, Codable, Hashable {
    public var schema = 0
    public var organization = 0
    public var domain = 0
}

public struct LabDAG: Sendable, Codable, Hashable {
    public var name: HostName
    public var members: [HostName]
    public var witness: HostName?
}

public struct LabDatabase: Sendable, Codable, Hashable {
    public var name: String
    public var dag: HostName
    /// Activation-preference order.
    public var copies: [HostName]
    public var lagged: [HostName]
    /// Where it is mounted now; nil while dismounted.
    public var mounted: HostName?
}

public struct LabModernServer: Sendable, Codable, Hashable {
    /// HubTransport draining (no new mail taken).
    public var draining = false
    /// ServerWideOffline inactive.
    public var offline = false
    /// StartDagServerMaintenance.ps1 ran and StopDagServerMaintenance.ps1 has not.
    public var inDAGMaintenance = false
    public var update: String?
    public var configSaved = false
    public var site: String?
    /// A failed update left the Exchange services stopped and disabled (fault `services-disabled`).
    public var servicesDisabled: Bool?
    /// Reached with an SSH key logon, whose session has no network credentials (fault
    /// `key-logon`, rule `windows-network-logon`).
    public var keyLogon: Bool?
    /// The twin's clock when this member's copies, Initializing then Resynchronizing since it
    /// left DAG maintenance, are healthy again; nil when they are.
    public var resynchronizedAt: Double?
    /// A security update installed without elevation: Outlook on the web and the ECP answer
    /// HTTP 500 (fault `su-not-elevated`).
    public var webError500: Bool?
    /// A cumulative update started as a bare `setup.exe`, which ran the installed copy and
    /// upgraded nothing (fault `bare-setup`): what the media would have installed.
    public var upgradeNotRun: LabUpgrade?
    /// The .NET Framework it runs and the Visual C++ runtimes it has, as the inventory says;
    /// nil for what it does not say (then the twin takes it as what any update needs).
    public var dotnet: DotNetFramework?
    public var visualCRuntimes: Set<VisualCRuntime>?
    /// Messages in its transport queues when it was drained, still to leave; nil when empty.
    public var queued: Int?
    /// A message that never leaves its queue (fault `queue-stuck`).
    public var queueStuck: Bool?

    /// Serving clients and taking mail.
    public var inService: Bool { !draining && !offline && !inDAGMaintenance }

    /// In service, draining, in DAG maintenance or offline, as an administrator says it.
    public var state: String {
        if offline { return "offline" }
        if inDAGMaintenance { return "in DAG maintenance" }
        return draining ? "transport draining" : "in service"
    }
}

/// What a package needs on a server of the twin and what it lacks of it (rule
/// `mx-prerequisites`): what setup refuses and `baton check` reports, worked out once.
struct PrerequisiteGaps {
    var needs: PrerequisiteNeeds
    /// The .NET Framework the server runs, when below the need.
    var dotnetBelow: DotNetFramework?
    var missingRuntimes: [VisualCRuntime]

    /// Nil for a package that needs nothing checked.
    init?(_ package: Plan.PackageSummary, _ host: LabHost, _ server: LabModernServer) {
        guard
            let needs = PrerequisiteNeeds.of(
                package.kind, Product(rawValue: package.product), role: host.role ?? .mailbox, os: host.os)
        else { return nil }
        self.needs = needs
        dotnetBelow = server.dotnet.flatMap { $0 < needs.dotnet ? $0 : nil }
        missingRuntimes = server.visualCRuntimes.map { have in needs.runtimes.filter { !have.contains($0) } } ?? []
    }
}

/// A product at a level: what a cumulative update brings.
public struct LabUpgrade: Sendable, Codable, Hashable {
    public var product: Product
    public var level: Level
}

extension LabModernState {
    init?(inventory: Inventory) {
        let modern = inventory.servers.filter { $0.install.product.isModern }
        guard !modern.isEmpty else { return nil }
        for server in modern {
            var modern = LabModernServer(update: server.update, site: server.site)
            modern.dotnet = server.dotnet
            modern.visualCRuntimes = server.visualCRuntimes
            servers[server.name] = modern
        }
        for dag in inventory.dags {
            dags[dag.name] = LabDAG(name: dag.name, members: dag.members, witness: dag.witness?.server)
            for database in dag.databases {
                databases[database.name] = LabDatabase(
                    name: database.name, dag: dag.name, copies: database.copies, lagged: database.lagged,
                    mounted: database.active)
            }
        }
        for package in PackageCatalogue(inventory: inventory).packages where package.product?.isModern == true {
            if let ad = package.adVersions {
                packageAD[package.id] = LabADVersions(
                    schema: ad.schema ?? 0, organization: ad.organization ?? 0, domain: ad.domain ?? 0)
            }
            if let update = package.update { packageUpdates[package.id] = update }
        }
        if let versions = inventory.activeDirectory?.versions, versions.isKnown {
            activeDirectory = LabADVersions(
                schema: versions.schema ?? 0, organization: versions.organization ?? 0, domain: versions.domain ?? 0)
        } else {
            // Not in the inventory: the plan asks an operator to confirm them, so the twin
            // takes them as already prepared.
            for versions in packageAD.values {
                activeDirectory.schema = max(activeDirectory.schema, versions.schema)
                activeDirectory.organization = max(activeDirectory.organization, versions.organization)
                activeDirectory.domain = max(activeDirectory.domain, versions.domain)
            }
        }
    }
}

extension LabTwin {
    /// Counts each DAG's votes after a step (rules `mx-quorum`, `mx-witness-restart`): one per
    /// member in service (a member in maintenance counts as out, since its own restarts fall
    /// in that time), and for an even number of members one for the witness unless it does not
    /// answer or its server is the one restarting now. A DAG left with no majority dismounts
    /// every database, and the twin records the outage as a violation, whatever caused it.
    mutating func countVotes(restarting: HostName?) {
        guard var state = modern else { return }
        defer { modern = state }
        for dag in state.dags.values.sorted(by: { $0.name < $1.name }) where dag.members.count > 1 {
            let voting = dag.members.filter { member in
                hosts[member]?.up == true && member != restarting
                    && state.servers[member].map { !$0.inDAGMaintenance && !$0.offline } ?? true
            }
            var votes = dag.members.count
            var up = voting.count
            var witnessState = ""
            if dag.members.count % 2 == 0, let witness = dag.witness {
                votes += 1
                let down = state.witnessesDown?.contains(witness) == true
                let restartingNow = witness == restarting
                let hostDown = hosts[witness].map { !$0.up } ?? false
                if down || restartingNow || hostDown {
                    witnessState = restartingNow ? ", its witness \(witness) restarting" : ", its witness \(witness) not answering"
                } else {
                    up += 1
                }
            }
            guard up <= votes / 2 else {
                if state.withoutQuorum?.remove(dag.name) != nil {
                    // The majority is back: the databases mount again where they were.
                    for (name, host) in state.dismountedByQuorum ?? [:] where state.databases[name]?.dag == dag.name {
                        state.databases[name]?.mounted = host
                        state.dismountedByQuorum?[name] = nil
                    }
                    if state.dismountedByQuorum?.isEmpty == true { state.dismountedByQuorum = nil }
                    if state.withoutQuorum?.isEmpty == true { state.withoutQuorum = nil }
                }
                continue
            }
            guard state.withoutQuorum?.contains(dag.name) != true else { continue }
            state.withoutQuorum = (state.withoutQuorum ?? []).union([dag.name])
            var dismounted: [String] = []
            for (name, database) in state.databases where database.dag == dag.name {
                guard let mounted = database.mounted else { continue }
                state.dismountedByQuorum = (state.dismountedByQuorum ?? [:]).merging([name: mounted]) { $1 }
                state.databases[name]?.mounted = nil
                dismounted.append(name)
            }
            let outMembers = dag.members.filter { !voting.contains($0) }.map(\.spelling).joined(separator: ", ")
            violate(
                restarting != nil && restarting == dag.witness ? .mxWitnessRestart : .mxQuorum,
                "\(dag.name) lost quorum (\(up) of \(votes) votes: \(outMembers) out\(witnessState)): \(dismounted.sorted().joined(separator: ", ")) dismounted"
            )
        }
    }

    /// Whether `step` is one of the actions of Exchange 2013 and later, or acts on such a server.
    func isModern(_ step: Step) -> Bool {
        guard modern != nil else { return false }
        if case .approve(let gate) = step.detail { return gate == Gate.activeDirectoryPreparation }
        return step.action.isModernOnly || step.host.map { modern?.servers[$0] != nil } == true
    }

    /// The versions the package media of the organization's product lines bring the forest to.
    func mediaVersions(_ state: LabModernState) -> LabADVersions {
        let products = Set(hosts.values.compactMap { $0.product?.rawValue })
        var wanted = state.activeDirectory
        for package in packages where products.contains(package.product) || package.product == "exchange-se" {
            guard let versions = state.packageAD[package.id] else { continue }
            wanted.schema = max(wanted.schema, versions.schema)
            wanted.organization = max(wanted.organization, versions.organization)
            wanted.domain = max(wanted.domain, versions.domain)
        }
        return wanted
    }

    /// Actions whose commands reach Active Directory or another server: setup's Active
    /// Directory work, the replication check, the maintenance scripts (they move databases and
    /// pause the cluster node), Redirect-Message and the copy checks.
    static let leavesTheServer: Set<Action> = [
        .prepareSchema, .prepareAD, .prepareDomains, .waitReplication, .startDagMaintenance, .stopDagMaintenance,
        .redirectMessages, .checkCopies, .rebalanceDatabases,
    ]

    /// The actions of Exchange 2013 and later, with the preconditions and messages an
    /// administrator would meet.
    mutating func actModern(_ step: Step) -> LabOutcome? {
        guard var state = modern else { return nil }
        defer { modern = state }
        if let host = step.host, state.servers[host]?.keyLogon == true, Self.leavesTheServer.contains(step.action) {
            return .failure(Rule.keyLogonFinding(host.spelling), rule: .windowsNetworkLogon)
        }
        if let outcome = actOnOrganization(step, &state) { return outcome }
        return actOnServer(step, &state)
    }

    /// The steps of Exchange 2013 and later that concern the organization rather than one
    /// server: Active Directory, replication, a DAG's copies, witness and balance.
    mutating func actOnOrganization(_ step: Step, _ state: inout LabModernState) -> LabOutcome? {
        switch step.detail {
        case .approve(let gate) where gate == Gate.activeDirectoryPreparation:
            // An operator prepared Active Directory by hand where setup must run.
            state.activeDirectory = mediaVersions(state)
            return .ok("gate \(gate) approved: Active Directory was prepared by an operator")
        case .prepareSchema, .prepareAD, .prepareDomains:
            guard let host = step.host, hosts[host]?.up == true else {
                return .failure("\(step.host?.spelling ?? "?") does not answer")
            }
            if step.action == .prepareAD, consume(.prepareADWrongSite, host) {
                return .failure(
                    "Setup encountered a problem while validating the state of Active Directory: Organization-level objects haven't been created, and the local computer isn't in the same domain and site as the schema master. Run /PrepareAD on \(host) once it is in the schema master's site, or from a computer there",
                    rule: .mxPrepareADWrongSite)
            }
            let wanted = mediaVersions(state)
            switch step.action {
            case .prepareSchema: state.activeDirectory.schema = max(state.activeDirectory.schema, wanted.schema)
            case .prepareAD:
                state.activeDirectory.organization = max(state.activeDirectory.organization, wanted.organization)
                state.activeDirectory.domain = max(state.activeDirectory.domain, wanted.domain)
            default: state.activeDirectory.domain = max(state.activeDirectory.domain, wanted.domain)
            }
            // The change reaches each domain controller a while after setup ends: one to five
            // minutes here, each controller its own (real forests take minutes to hours).
            var outcome = LabOutcome.ok(
                "setup \(step.action == .prepareSchema ? "/PrepareSchema" : step.action == .prepareAD ? "/PrepareAD" : "/PrepareAllDomains") completed on \(host)"
            )
            outcome.duration = jittered(baseDuration(step))
            var arrives: [HostName: Double] = [:]
            for controller in domainControllers {
                arrives[controller] = clock + outcome.duration + 60 + Double(nextRandom() % 241)
            }
            state.replicationArrives = arrives.isEmpty ? nil : arrives
            return outcome
        case .waitReplication(let scope):
            // Armed on the server that prepares Active Directory; met at the next wait.
            if let index = armedFaults.firstIndex(where: { $0.kind == .replicationPending }) {
                armedFaults.remove(at: index)
                let controller =
                    hosts.values.filter { $0.product == nil }.map(\.name).sorted().last?.spelling
                    ?? "a domain controller"
                return .failure(
                    "repadmin /replsummary: \(controller) has not received the \(scope.rawValue) change yet (largest delta over 15 minutes); wait, then resume",
                    rule: .mxADPrepReplication)
            }
            let now = clock
            let unreachable = (state.unreachableControllers ?? []).sorted()
            if let controller = unreachable.first {
                return .failure(
                    "repadmin /replsummary: \(controller) does not answer (1722: The RPC server is unavailable); the \(scope.rawValue) change cannot reach it. Bring it back or remove it from the forest, then resume",
                    rule: .mxADPrepReplication)
            }
            let waiting = (state.replicationArrives ?? [:]).filter { $0.value > now }.sorted { $0.key < $1.key }
            if let (controller, at) = waiting.first {
                return .failure(
                    "\(controller) has not received the \(scope.rawValue) change yet (about \(Int(at - now)) s to go)\(waiting.count > 1 ? ", nor have \(waiting.count - 1) other domain controller(s)" : "")",
                    rule: .mxADPrepReplication)
            }
            return .ok("the \(scope.rawValue) change reached every domain controller", applied: false)
        case .checkCopies(let dag):
            let now = clock
            let unhealthy = state.databases.values.filter { $0.dag == dag }.sorted { $0.name < $1.name }.compactMap {
                database -> String? in
                guard let mounted = database.mounted else { return "\(database.name) is dismounted" }
                if let catching = database.copies.first(where: { (state.servers[$0]?.resynchronizedAt ?? 0) > now }) {
                    let left = Int((state.servers[catching]?.resynchronizedAt ?? now) - now)
                    return "\(database.name)\\\(catching) is \(left > 240 ? "Initializing" : "Resynchronizing") (about \(left) s of logs to replay)"
                }
                if hosts[mounted]?.up != true { return "\(database.name)'s mounted copy on \(mounted) does not answer" }
                let down = database.copies.filter { hosts[$0]?.up != true }
                return down.isEmpty ? nil : "\(database.name)'s copy on \(down[0]) is not healthy (its server is down)"
            }
            guard unhealthy.isEmpty else {
                return .failure(
                    "Get-MailboxDatabaseCopyStatus: \(unhealthy.joined(separator: "; ")); wait for the copies to catch up",
                    rule: .mxCopiesHealthy)
            }
            // A lagged copy holds its replay queue by design (ReplayLagTime): thousands of logs,
            // which the check must not count against it.
            let lagged = state.databases.values.filter { $0.dag == dag }.sorted { $0.name < $1.name }.flatMap {
                database in database.lagged.map { "\(database.name)\\\($0) \(Self.laggedReplayQueue(database.name, $0)) logs" }
            }
            return .ok(
                "every copy in \(dag) is healthy; copy queues are empty"
                    + (lagged.isEmpty
                        ? " and replay queues near zero"
                        : "; replay queues near zero but on the lagged copies (\(lagged.joined(separator: ", ")), held by their lag)"),
                applied: false)
        case .settle(let dag, let seconds):
            // Time passes: the member just back resynchronizes its copies meanwhile.
            var outcome = LabOutcome.ok(
                "\(dag) settled for \(humanDuration(seconds)) before its next member leaves service", applied: false)
            outcome.duration = Double(seconds)
            return outcome
        case .checkWitness(let dag):
            guard let witness = state.dags[dag]?.witness else {
                return .failure("\(dag) has no file share witness", rule: .mxQuorum)
            }
            if state.witnessesDown?.contains(witness) == true || hosts[witness].map({ !$0.up }) == true {
                return .failure(
                    "Test-ReplicationHealth: FileShareQuorum failed: the file share witness \(witness) of \(dag) does not answer; with a member out, \(dag) would lose quorum. Bring the witness back, then resume",
                    rule: .mxQuorum)
            }
            return .ok("the file share witness \(witness) answers", applied: false)
        case .rebalanceDatabases(let dag):
            var moved = 0
            for (name, database) in state.databases where database.dag == dag {
                let current = state
                let preferred = database.copies.first { servesCopies($0, current) }
                if let preferred, preferred != database.mounted {
                    state.databases[name]?.mounted = preferred
                    moved += 1
                }
            }
            return .ok("RedistributeActiveDatabases.ps1 moved \(moved) database(s) of \(dag) to their preferred copies")
        default:
            return nil
        }
    }

    /// The steps of Exchange 2013 and later that act on one server.
    mutating func actOnServer(_ step: Step, _ state: inout LabModernState) -> LabOutcome? {
        guard let host = step.host, var server = state.servers[host], let machine = hosts[host] else {
            return nil
        }
        defer { state.servers[host] = server }
        guard machine.up else { return .failure("\(host) does not answer: it is down") }
        switch step.detail {
        case .drainTransport:
            server.draining = true
            server.queued = 20 + Int(nextRandom() % 181)
            return .ok("HubTransport on \(host) is draining; the transport service restarted")
        case .startDagMaintenance(_, let dag, let override):
            if consume(.moveBlackout, host) {
                return .failure(
                    "StartDagServerMaintenance.ps1 on \(host): An Active Manager operation failed. Error: AmDbMoveMoveSuppressedBlackoutException; wait a few minutes and run it again",
                    rule: .mxMoveBlackout)
            }
            let others = (state.dags[dag]?.members ?? []).filter {
                $0 != host && state.servers[$0]?.inDAGMaintenance == true
            }
            if !others.isEmpty {
                violate(.mxOneMemberAtATime, "\(host) entered maintenance while \(others[0]) of \(dag) was in it")
            }
            let held = state.databases.values.filter { $0.copies.contains(host) }
            if !override, let two = held.first(where: { $0.copies.count == 2 }) {
                return .failure(
                    "StartDagServerMaintenance.ps1: critical resources remain on \(host) (\(two.name) would be left with one copy); it rolled back. Run it with -overrideMinimumTwoCopies",
                    rule: .mxStartDagTwoCopies)
            }
            var moves: [String] = []
            for database in held.sorted(by: { $0.name < $1.name }) where database.mounted == host {
                let target = database.copies.first {
                    $0 != host && !database.lagged.contains($0) && servesCopies($0, state)
                }
                if let target {
                    state.databases[database.name]?.mounted = target
                    moves.append("\(database.name) → \(target)")
                }
            }
            server.inDAGMaintenance = true
            return .ok(
                "activation blocked on \(host), cluster node paused"
                    + (moves.isEmpty ? "" : "; moved \(moves.joined(separator: ", "))"))
        case .redirectMessages(_, let to):
            guard let target = state.servers[to], hosts[to]?.up == true, target.inService else {
                return .failure("Redirect-Message: \(to) is not a mailbox server in service")
            }
            let queued = server.queued ?? 0
            if server.queueStuck == true {
                var outcome = LabOutcome.failure(
                    "the queues did not drain within 15 minutes: \(host)\\Submission 1 (a message whose next hop does not answer); look at Get-Queue and Get-Message on \(host), then resume",
                    rule: .mxDAGUpdateProcedure)
                outcome.duration = 15 * 60
                return outcome
            }
            // The queues drain at a few messages a second once redirected.
            var outcome = LabOutcome.ok(
                "redirected to \(to); the \(queued) message(s) queued on \(host) left in \(queued / 3 + 15) s")
            outcome.duration = Double(queued / 3 + 15)
            server.queued = nil
            return outcome
        case .serverOffline:
            server.offline = true
            return .ok("ServerWideOffline is Inactive on \(host) (requester Maintenance)")
        case .serverOnline:
            if consume(.functionalRequester, host) {
                return .failure(
                    "ServerWideOffline on \(host) stays Inactive: requester Functional holds it after the update; set it Active with -Requester Functional (and Monitoring, RecoveryActionsEnabled)",
                    rule: .mxFailedUpdateComponents)
            }
            server.offline = false
            return .ok("ServerWideOffline is Active on \(host)")
        case .stopDagMaintenance:
            server.inDAGMaintenance = false
            // Its copies catch up on the logs they missed: five to seven minutes here (fault
            // slow-resync: four hours), as a real member's copies are Initializing, then
            // Resynchronizing, for a while after it returns.
            let catchUp = consume(.slowResync, host) ? 4 * 3600.0 : 300 + Double(nextRandom() % 121)
            server.resynchronizedAt = clock + catchUp
            // A database nothing could take over mounts again on its own server.
            for (name, database) in state.databases where database.mounted == nil && database.copies.contains(host) {
                state.databases[name]?.mounted = host
            }
            return .ok("StopDagServerMaintenance.ps1: \(host)'s cluster node resumed and its copies may activate")
        case .resumeTransport:
            // Taking mail again, nothing is held back: an Edge server's queue, never redirected,
            // delivers on its own.
            server.draining = false
            server.queued = nil
            return .ok("HubTransport on \(host) is Active; the transport service restarted")
        case .checkPendingReboot:
            guard !machine.pendingRestart else {
                return .failure(
                    "a restart from an earlier installation is pending on \(host): setup's readiness checks will stop (RebootPending); restart it first",
                    rule: .mxReadinessRebootPending)
            }
            return .ok("no restart pending on \(host)", applied: false)
        case .saveConfig(_, let files):
            server.configSaved = true
            return .ok("saved \(files.joined(separator: ", ")) from \(host)")
        case .restoreConfig(_, let files):
            guard server.configSaved else { return .failure("nothing saved from \(host) to restore") }
            return .ok("re-applied \(files.joined(separator: ", ")) on \(host)")
        case .install(_, let id):
            return installModern(id, on: host, server: &server, state: &state)
        case .installDotNet(_, let version):
            if server.inService {
                violate(.mxDotNetFirst, ".NET Framework \(version.rawValue) was installed on \(host) while it was in service")
            }
            guard server.dotnet.map({ $0 < version }) ?? false else {
                return .ok(".NET Framework \(version.rawValue) or later is already installed on \(host)", applied: false)
            }
            server.dotnet = version
            hosts[host]?.pendingRestart = true
            return .ok(".NET Framework \(version.rawValue) installed on \(host); the restart finishes it")
        case .healthCheck:
            var found: [String] = []
            if machine.pendingRestart { found.append("Server Pending Reboot: True") }
            if !server.inService { found.append("Component: \(server.offline ? "ServerWideOffline" : server.inDAGMaintenance ? "HighAvailability" : "HubTransport") Inactive (\(server.state))") }
            // HealthChecker shows a .NET Framework other than the recommended one in yellow, a
            // warning: the prerequisites probe and setup are what stop on it.
            guard found.isEmpty else {
                return .failure("HealthChecker on \(host): \(found.joined(separator: "; "))", rule: .mxHealthCheckerPrePost)
            }
            return .ok(
                "HealthChecker finds no pending restart and no inactive component on \(host)",
                applied: false)
        case .checkEdgeSync(_, let edge):
            guard let target = state.servers[edge], hosts[edge]?.up == true, target.inService else {
                return .failure(
                    "Test-EdgeSynchronization on \(host): \(edge) is not synchronized (\(hosts[edge]?.up == true ? state.servers[edge]?.state ?? "unknown" : "it does not answer"))",
                    rule: .mxEdgeMaintenance)
            }
            return .ok("Test-EdgeSynchronization on \(host): \(edge) SyncStatus Normal", applied: false)
        case .reboot(_, let when):
            let mounted = state.databases.values.filter { $0.mounted == host && movable($0, from: host) }
            if !mounted.isEmpty, state.dags.values.contains(where: { $0.members.contains(host) }),
                !server.inDAGMaintenance
            {
                violate(
                    .mxDAGShutdownNotLossless,
                    "\(host) restarted outside maintenance mode with \(mounted.map(\.name).sorted().joined(separator: ", ")) mounted"
                )
                for database in mounted {
                    let target = database.copies.first { $0 != host && servesCopies($0, state) }
                    state.databases[database.name]?.mounted = target
                }
            }
            modern = state
            return reboot(host, when: when)
        default:
            return nil
        }
    }

    /// The organization's domain controllers: the twin's machines that run no Exchange.
    var domainControllers: [HostName] { hosts.values.filter { $0.product == nil }.map(\.name).sorted() }

    /// A lagged copy's replay queue: the logs its lag holds back, steady for a given copy.
    static func laggedReplayQueue(_ database: String, _ host: HostName) -> Int {
        let sum = (database + host.spelling).unicodeScalars.reduce(0) { $0 &* 31 &+ Int($1.value) }
        return 2_000 + abs(sum % 4_000)
    }

    /// Rule `mx-prerequisites`: what setup's prerequisite analysis says of a server that lacks
    /// what `package` needs, in setup's words (MinimumFrameworkNotInstalled); nil when it has
    /// it all, or the inventory did not say.
    func missingPrerequisites(_ package: Plan.PackageSummary, on host: LabHost, _ server: LabModernServer) -> String? {
        guard let gaps = PrerequisiteGaps(package, host, server) else { return nil }
        if let have = gaps.dotnetBelow {
            return "Prerequisite Analysis FAILED on \(host.name): This computer requires .NET Framework \(gaps.needs.dotnet.rawValue) (it runs \(have.rawValue); readiness check MinimumFrameworkNotInstalled). Install it, restart, then run setup again"
        }
        if let missing = gaps.missingRuntimes.first {
            return "Prerequisite Analysis FAILED on \(host.name): the Visual C++ \(missing.rawValue) Redistributable Package (x64) is not installed. Install it, then run setup again"
        }
        return nil
    }

    /// Whether `database` has a copy other than on `host` that may be activated.
    func movable(_ database: LabDatabase, from host: HostName) -> Bool {
        database.copies.contains { $0 != host && !database.lagged.contains($0) }
    }

    /// A server that can hold a mounted copy: up, and neither in maintenance nor offline.
    func servesCopies(_ name: HostName, _ state: LabModernState) -> Bool {
        hosts[name]?.up == true && state.servers[name].map { !$0.inDAGMaintenance && !$0.offline } ?? false
    }

    mutating func installModern(
        _ id: PackageID, on host: HostName, server: inout LabModernServer, state: inout LabModernState
    ) -> LabOutcome {
        guard var machine = hosts[host], let package = packages.first(where: { $0.id == id })
        else { return .failure("unknown package \(id)") }
        defer { hosts[host] = machine }
        guard !machine.installerRunning else {
            return .failure(
                "setup cannot start: another installation is running on \(host)", rule: .noConcurrentInstallers)
        }
        guard server.servicesDisabled != true else {
            return .failure(
                "setup failed on \(host): Cannot start the service Microsoft Exchange Service Host (its start type is Disabled); rename C:\\ExchangeSetupLogs, run ServiceControl.ps1 AfterPatch, then run setup again",
                rule: .mxServicesDisabled)
        }
        guard !machine.pendingRestart else {
            return .failure(
                "setup's readiness check RebootPending failed on \(host): restart it first",
                rule: .mxReadinessRebootPending)
        }
        // A database no other copy can take is down meanwhile (the plan warns of it); one that
        // could have moved is not.
        let mounted = state.databases.values.filter { $0.mounted == host && movable($0, from: host) }.map(\.name)
            .sorted()
        if !mounted.isEmpty, state.dags.values.contains(where: { $0.members.contains(host) }) {
            violate(.mxDAGUpdateProcedure, "setup ran on \(host) with \(mounted.joined(separator: ", ")) mounted")
        }
        if server.inService {
            violate(.mxDAGUpdateProcedure, "setup ran on \(host) while it was in service")
        }
        let interfering = machine.running.subtracting([.cluster]).sorted()
        if !interfering.isEmpty {
            violate(
                .mxCUAVDisable,
                "\(package.id) was installed on \(host) while \(interfering.joined(separator: ", ")) ran")
        }
        if let wanted = state.packageAD[package.id], machine.role != .edge,
            state.activeDirectory.schema < wanted.schema || state.activeDirectory.organization < wanted.organization
        {
            return .failure(
                "setup stopped: Active Directory is not prepared for \(package.id) (schema \(state.activeDirectory.schema), organization \(state.activeDirectory.organization)); run /PrepareSchema and /PrepareAD first",
                rule: .mxADPrepWhen)
        }
        if package.kind == .cumulativeUpdate, let missing = missingPrerequisites(package, on: machine, server) {
            return .failure(missing, rule: .mxPrerequisites)
        }
        if let running = machine.build, let media = package.build, Builds.isLower(media, than: running) {
            return .failure(
                "setup stopped on \(host): it runs \(machine.product?.rawValue ?? "?") \(machine.level?.rawValue ?? "?") (build \(running)), newer than \(package.id)'s \(media); setup does not take a server back to an earlier build",
                rule: .mxNoDowngrade)
        }
        var applied = "installed \(package.id) on \(host)"
        switch package.kind {
        case .cumulativeUpdate:
            let product = Product(rawValue: package.product)
            if let level = package.level, let product {
                if machine.product == product, let current = machine.level, current >= level {
                    return .ok("\(host) already runs \(current.rawValue): nothing to install", applied: false)
                }
                if consume(.bareSetup, host) {
                    // The installed V15\Bin\Setup.exe answers the command line and exits with
                    // success; nothing is upgraded (rule mx-cu-run-dot-setup).
                    server.upgradeNotRun = LabUpgrade(product: product, level: level)
                    return .ok("setup.exe on \(host) finished without error (the copy installed in V15\\Bin ran)")
                }
                applied +=
                    " (\(machine.product?.rawValue ?? "?") \(machine.level?.rawValue ?? "?") → \(product.rawValue) \(level.rawValue))"
                machine.product = product
                machine.level = level
                machine.hotfixBuild = nil
                server.update = nil
            }
        case .securityUpdate:
            guard let requires = package.requires, machine.level == requires else {
                return .failure(
                    "The upgrade patch cannot be installed by the Windows Installer service because the program to be upgraded may be missing, or the upgrade patch may update a different version of the program (\(host) runs \(machine.level?.rawValue ?? "?"))",
                    rule: .mxSUCUSpecific)
            }
            if let update = state.packageUpdates[package.id], server.update == update {
                return .ok("\(update) is already installed on \(host)", applied: false)
            }
            machine.hotfixBuild = package.build
            server.update = state.packageUpdates[package.id]
            if consume(.suNotElevated, host) {
                // The installer reports success; files it could not replace without elevation
                // break the web applications (rule mx-su-nonelevated-owa500).
                server.webError500 = true
                applied += " from a prompt that was not elevated"
            }
        default:
            return .failure("\(package.id) is not an update of Exchange 2013 or later")
        }
        machine.pendingRestart = true
        return .ok(applied + "; setup asks for a restart")
    }

    /// Adds `duration` to every database without a mounted copy its users can reach.
    mutating func accountDatabases(duration: Double) {
        guard let state = modern, duration > 0 else { return }
        for database in state.databases.values {
            let reachable =
                database.mounted.map { name in
                    hosts[name]?.up == true && state.servers[name].map { !$0.offline } ?? false
                } ?? false
            if !reachable { accounting.databaseOffline[database.name, default: 0] += duration }
        }
    }
}
