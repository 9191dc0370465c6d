import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlanner

/// `baton check` against real hosts: the configuration is complete (every machine the plan
/// acts on has a way in and a command for each of its actions), each host answers over its
/// transport with the expected host key, and no other installer runs there (rule
/// `no-concurrent-installers`). Hosts are checked side by side.
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

    func check(_ host: HostName) async -> [CheckResult] {
        guard let access = inventory.access(host) else { return [] }
        let profile = RemoteTarget.profile(for: access, in: inventory)
        let values = ["host": host.spelling, "address": access.destination, "step": "check", "run": "check"]
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
            return results
        } catch {
            return [CheckResult(status: .fail, check: "reachable", subject: host, detail: "\(error)")]
        }
    }
}
