import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan

/// `baton check` against real hosts: the configuration is complete (every machine the plan
/// acts on has a way in and a command for each of its actions), each host answers over its
/// transport with the expected host key, no other installer runs there (rule
/// `no-concurrent-installers`), and each of the profile's readiness probes passes (`probes`:
/// the built-in `exchange-powershell` profile has them all; any profile may define them).
/// Hosts are checked side by side.
public struct RemotePreflight: Sendable {
    public let inventory: Inventory
    public let plan: Plan
    public let runner: any CommandRunner
    /// Hosts checked at once.
    public var width = 32

    public init(inventory: Inventory, plan: Plan, runner: any CommandRunner) {
        self.inventory = inventory
        self.plan = plan
        self.runner = runner
        cumulativeUpdates = plan.cumulativeUpdates()
    }

    /// The cumulative update each server gets.
    let cumulativeUpdates: [HostName: Plan.PackageSummary]

    public func run() async -> [CheckResult] {
        var results: [CheckResult] = []
        do { try RemoteTarget.validate(inventory, plan) } catch {
            results += error.problems.map {
                CheckResult(status: .fail, check: "configuration", subject: inventory.file, detail: $0)
            }
        }
        return results + (await eachHost(RemoteTarget.hosts(of: plan, in: inventory)) { await self.check($0) })
    }

    /// Before a run's first step (and its resumption): the network probe of every host the
    /// plan acts on whose profile has one. Only its failures.
    public func proveNetwork() async -> [CheckResult] {
        await eachHost(RemoteTarget.hosts(of: plan, in: inventory)) { host in
            guard let access = inventory.access(host) else { return Checked([]) }
            let profile = RemoteTarget.profile(for: access, in: inventory)
            do { return try await network(host, access, profile, values(host, access)) } catch {
                return Checked([CheckResult(status: .fail, check: "network", subject: host, detail: "\(error)")])
            }
        }.filter { $0.status == .fail }
    }

    /// `check` on every host, `width` at a time, results in host order. A password logon is
    /// tried on one host alone first: when that host refuses it, the logon's other hosts are
    /// not tried, since a wrong password tried on every server locks the account out.
    func eachHost(_ hosts: [HostName], _ check: @escaping @Sendable (HostName) async -> Checked) async
        -> [CheckResult]
    {
        var found: [HostName: [CheckResult]] = [:]
        var firsts: [HostName] = []
        var seen = Set<String>()
        for host in hosts {
            guard let logon = inventory.access(host).flatMap(inventory.logon(for:)) else { continue }
            if seen.insert(logon.name.lowercased()).inserted { firsts.append(host) }
        }
        var refused: [String: HostName] = [:]
        for host in firsts {
            let checked = await check(host)
            found[host] = checked.results
            if checked.refused, let access = inventory.access(host),
                let logon = inventory.logon(for: access)
            {
                refused[logon.name.lowercased()] = host
            }
        }
        var rest: [HostName] = []
        for host in hosts where found[host] == nil {
            if let access = inventory.access(host), let logon = inventory.logon(for: access),
                let first = refused[logon.name.lowercased()]
            {
                found[host] = [
                    CheckResult(
                        status: .fail, check: "reachable", subject: host,
                        detail:
                            "not tried: \(first) refused the password of logon \(logon.name), and trying it on more servers could lock \(logon.user) out"
                    )
                ]
            } else {
                rest.append(host)
            }
        }
        let width = width
        let checked = await withTaskGroup(of: (HostName, [CheckResult]).self) { group in
            var done: [(HostName, [CheckResult])] = []
            for (index, host) in rest.enumerated() {
                if index >= width, let next = await group.next() { done.append(next) }
                group.addTask { (host, await check(host).results) }
            }
            for await next in group { done.append(next) }
            return done
        }
        for (host, results) in checked { found[host] = results }
        return hosts.flatMap { found[$0] ?? [] }
    }

    /// A readiness probe: the profile's command of that name succeeds when the host is ready,
    /// and prints what it found either way.
    public struct Probe: Sendable {
        /// The command's name in a profile, and the check's name in the results.
        public var command: String
        public var check: String
        public var rule: Rule.ID?
    }

    /// The probes `baton check` runs on each Exchange server whose profile has them, in this
    /// order.
    public static let probes: [Probe] = [
        Probe(command: "probe-build", check: "build", rule: nil),
        Probe(command: "probe-pending-reboot", check: "pending-reboot", rule: .mxReadinessRebootPending),
        Probe(command: "probe-services", check: "services", rule: .mxServicesDisabled),
        Probe(command: "probe-components", check: "components", rule: .mxFailedUpdateComponents),
        Probe(command: "probe-copies", check: "copies", rule: .mxCopiesHealthy),
        Probe(command: "probe-execution-policy", check: "execution-policy", rule: .mxExecutionPolicyGPO),
        Probe(command: "probe-prerequisites", check: "prerequisites", rule: .mxPrerequisites),
    ]

    /// The build the inventory says a modern server is at now, for `probe-build`.
    func currentBuild(_ host: HostName) -> String {
        guard let install = inventory.servers.first(where: { $0.name == host })?.install, install.product.isModern
        else {
            return ""
        }
        return Builds.build(install.product, install.level) ?? ""
    }

    /// Whether `host` runs Exchange: readiness is asked of Exchange servers, not of domain
    /// controllers.
    static func runsExchange(_ host: HostName, in inventory: Inventory) -> Bool {
        inventory.servers.contains { $0.name == host }
            || inventory.clusters.contains { $0.nodes.contains { $0.name == host } }
    }

    /// What a probe's template is filled with.
    func values(_ host: HostName, _ access: HostAccess) -> [String: String] {
        let needs = needs(host)
        return [
            "host": host.spelling, "address": access.destination, "step": "check", "run": "check",
            "build": currentBuild(host), "peer": RemoteTarget.peer(of: host, in: inventory),
            "package": plan.package.id.spelling,
            "dotnet-release": needs.map { String($0.dotnet.release) } ?? "",
            "runtimes": needs?.runtimes.map(\.rawValue).joined(separator: ",") ?? "",
        ]
    }

    /// What the plan's package needs on `host` before setup (rule `mx-prerequisites`).
    func needs(_ host: HostName) -> PrerequisiteNeeds? {
        guard let server = inventory.servers.first(where: { $0.name == host }) else { return nil }
        // The cumulative update the server gets, if any; a plan of one package, that package.
        let package = cumulativeUpdates[host] ?? plan.package
        return PrerequisiteNeeds.of(
            package.kind, Product(rawValue: package.product), role: server.role, os: server.install.os)
    }

    /// The profile's network probe (rule `windows-network-logon`): the session reads Active
    /// Directory and, on a DAG member, another member. Nothing when the profile has none.
    func network(_ host: HostName, _ access: HostAccess, _ profile: CommandProfile, _ values: [String: String])
        async throws -> Checked
    {
        guard let command = try profile.command(CommandProfileSpec.networkProbe, values) else { return Checked([]) }
        let outcome = try await runner.run(command, on: access)
        if let reason = outcome.unreachable {
            return Checked(
                [CheckResult(status: .fail, check: "network", subject: host, detail: reason)],
                refused: outcome.passwordRefused)
        }
        let said = outcome.output.tail
        guard outcome.exitCode != 0 else {
            return Checked([
                CheckResult(
                    status: .pass, check: "network", subject: host, detail: said.isEmpty ? "reaches the network" : said)
            ])
        }
        let detail =
            inventory.logon(for: access) == nil
            ? "\(Rule.keyLogonFinding(host.spelling)). The probe said: \(said.isEmpty ? "exit \(outcome.exitCode ?? -1)" : said)"
            : "the session of logon \(inventory.logon(for: access)?.name ?? "") cannot reach the network from \(host): \(said.isEmpty ? "exit \(outcome.exitCode ?? -1)" : said)"
        return Checked([
            CheckResult(status: .fail, check: "network", subject: host, detail: detail, rule: .windowsNetworkLogon)
        ])
    }

    /// One host's results, and whether it refused its logon's password.
    struct Checked: Sendable {
        var results: [CheckResult]
        var refused = false
        init(_ results: [CheckResult], refused: Bool = false) {
            self.results = results
            self.refused = refused
        }
    }

    func check(_ host: HostName) async -> Checked {
        guard let access = inventory.access(host) else { return Checked([]) }
        let profile = RemoteTarget.profile(for: access, in: inventory)
        let values = values(host, access)
        do {
            guard let probe = try profile.command("probe", values) else {
                return Checked([
                    CheckResult(
                        status: .fail, check: "reachable", subject: host,
                        detail: "profile \(profile.name) has no probe command")
                ])
            }
            let answer = try await runner.run(probe, on: access)
            if let reason = answer.unreachable {
                return Checked(
                    [CheckResult(status: .fail, check: "reachable", subject: host, detail: reason)],
                    refused: answer.passwordRefused)
            }
            guard answer.exitCode == 0 else {
                return Checked([
                    CheckResult(
                        status: .fail, check: "reachable", subject: host,
                        detail: "the probe failed (exit \(answer.exitCode ?? -1)): \(answer.output.tail)")
                ])
            }
            var results = [CheckResult(status: .pass, check: "reachable", subject: host, detail: "answers")]
            results += try await network(host, access, profile, values).results
            if let installers = try profile.command(Action.checkInstallers.rawValue, values) {
                let outcome = try await runner.run(installers, on: access)
                results.append(
                    outcome.exitCode == 0
                        ? CheckResult(
                            status: .pass, check: "installers", subject: host, detail: "no other installer runs")
                        : CheckResult(
                            status: .fail, check: "installers", subject: host,
                            detail: outcome.unreachable ?? outcome.output.tail, rule: .noConcurrentInstallers))
            }
            for probe in Self.probes where Self.runsExchange(host, in: inventory) {
                guard let command = try profile.command(probe.command, values) else { continue }
                let outcome = try await runner.run(command, on: access)
                let detail = outcome.unreachable ?? outcome.output.tail
                results.append(
                    CheckResult(
                        status: outcome.exitCode == 0 ? .pass : .fail, check: probe.check, subject: host,
                        detail: detail.isEmpty ? "exit \(outcome.exitCode ?? -1)" : detail,
                        rule: outcome.exitCode == 0 ? nil : probe.rule))
            }
            return Checked(results)
        } catch {
            return Checked([CheckResult(status: .fail, check: "reachable", subject: host, detail: "\(error)")])
        }
    }
}
