import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlanner

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
    }

    public func run() async -> [CheckResult] {
        var results: [CheckResult] = []
        do { try RemoteTarget.validate(inventory, plan) } catch {
            results += error.problems.map {
                CheckResult(status: .fail, check: "configuration", subject: inventory.file, detail: $0)
            }
        }
        var hosts: [HostName] = []
        for step in plan.steps {
            guard let host = RemoteTarget.hostName(for: step, in: inventory), inventory.access(host) != nil,
                !hosts.contains(host)
            else { continue }
            hosts.append(host)
        }
        let targets = hosts
        let checked = await withTaskGroup(of: (Int, [CheckResult]).self) { group in
            var found: [(Int, [CheckResult])] = []
            for (index, host) in targets.enumerated() {
                if index >= width, let done = await group.next() { found.append(done) }
                group.addTask { (index, await self.check(host)) }
            }
            for await done in group { found.append(done) }
            return found.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
        return results + checked
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
    ]

    /// The build the inventory says a modern server is at now, for `probe-build`.
    func currentBuild(_ host: HostName) -> String {
        guard let install = inventory.servers.first(where: { $0.name == host })?.install, install.product.isModern
        else {
            return ""
        }
        return Builds.build(install.product, install.level) ?? ""
    }

    func check(_ host: HostName) async -> [CheckResult] {
        guard let access = inventory.access(host) else { return [] }
        let profile = RemoteTarget.profile(for: access, in: inventory)
        let values = [
            "host": host.spelling, "address": access.destination, "step": "check", "run": "check",
            "build": currentBuild(host),
        ]
        do {
            guard let probe = try profile.command("probe", values) else {
                return [
                    CheckResult(
                        status: .fail, check: "reachable", subject: host,
                        detail: "profile \(profile.name) has no probe command")
                ]
            }
            let answer = try await runner.run(probe, on: access)
            if let reason = answer.unreachable {
                return [CheckResult(status: .fail, check: "reachable", subject: host, detail: reason)]
            }
            guard answer.exitCode == 0 else {
                return [
                    CheckResult(
                        status: .fail, check: "reachable", subject: host,
                        detail: "the probe failed (exit \(answer.exitCode ?? -1)): \(answer.output.tail)")
                ]
            }
            var results = [CheckResult(status: .pass, check: "reachable", subject: host, detail: "answers")]
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
            // Readiness is asked of Exchange servers, not of domain controllers.
            let exchange =
                inventory.servers.contains { $0.name == host }
                || inventory.clusters.contains { $0.nodes.contains { $0.name == host } }
            for probe in Self.probes where exchange {
                guard let command = try profile.command(probe.command, values) else { continue }
                let outcome = try await runner.run(command, on: access)
                let detail = outcome.unreachable ?? outcome.output.tail
                results.append(
                    CheckResult(
                        status: outcome.exitCode == 0 ? .pass : .fail, check: probe.check, subject: host,
                        detail: detail.isEmpty ? "exit \(outcome.exitCode ?? -1)" : detail,
                        rule: outcome.exitCode == 0 ? nil : probe.rule))
            }
            return results
        } catch {
            return [CheckResult(status: .fail, check: "reachable", subject: host, detail: "\(error)")]
        }
    }
}
