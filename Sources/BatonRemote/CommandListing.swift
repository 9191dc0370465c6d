import BatonModel
import BatonPlan

/// One command Baton would type on a host, shown before anything runs (`baton commands`):
/// the review an administrator brings to a change board.
public struct RenderedCommand: Sendable, Hashable, Codable {
    /// What the command is for.
    public enum Role: String, Sendable, Hashable, Codable, CaseIterable {
        /// The step's own command.
        case command
        /// What a resume asks first: whether the step already took effect.
        case check
        /// A probe: whether the host answers, reaches the network, is ready; a restart waits on `probe`.
        case probe
        /// What a `reboot` step runs.
        case restart
    }

    /// The language of `text`.
    public enum Language: String, Sendable, Hashable, Codable {
        case powershell, sh
    }

    /// The step's id, or `preflight` for the probes `baton check` and a run ask first.
    public var step: String
    /// The step's action, or the probe's name.
    public var action: String
    public var host: String
    public var profile: String
    public var role: Role
    public var language: Language
    /// The command as the host's shell reads it (PowerShell is sent as `-EncodedCommand`; this
    /// is the script it carries).
    public var text: String
    /// For a check of a state that settles: asked again every `interval` seconds for up to
    /// `timeout` seconds until it passes.
    public var settle: SettleSpec?
}

extension RemoteTarget {
    /// Every command `plan` may run, rendered with its values, host by host (in the order the
    /// plan first reaches each) and on each host in plan order: the probes asked before
    /// anything, then each step's command, its check and, for a restart, the probe that waits
    /// for the host. Connects nowhere. An inventory without `hosts:` is shown with the built-in
    /// profiles its machines would get. Throws every value that cannot stand in a command.
    public static func commands(of plan: Plan, in inventory: Inventory) throws(RemoteError) -> [RenderedCommand] {
        let inventory = inventory.hosts.isEmpty ? withBuiltInHosts(inventory) : inventory
        try validate(inventory, plan)
        var byHost: [HostName: [RenderedCommand]] = [:]
        var order: [HostName] = []
        var problems: [String] = []
        func add(_ host: HostName, _ rendered: RenderedCommand) {
            if byHost[host] == nil { order.append(host) }
            byHost[host, default: []].append(rendered)
        }
        let preflight = RemotePreflight(inventory: inventory, plan: plan, runner: NoHosts())
        let packages = PlanPackages(plan)
        for step in plan.steps where ![.approve, .milestone, .settle].contains(step.action) {
            guard let host = hostName(for: step, in: inventory), let access = inventory.access(host) else { continue }
            let profile = profile(for: access, in: inventory)
            let language: RenderedCommand.Language = profile.kind == .shell ? .sh : .powershell
            func render(_ name: String, _ role: RenderedCommand.Role, step id: String, check: Bool = false,
                _ values: [String: String]) {
                do {
                    let template = check ? profile.checks[name] : profile.commands[name]
                    guard let template else { return }
                    add(
                        host,
                        RenderedCommand(
                            step: id, action: name, host: host.spelling, profile: profile.name, role: role,
                            language: language, text: try profile.render(template, values)))
                } catch {
                    problems.append("\(id) \(name) on \(host): \(error)")
                }
            }
            if byHost[host] == nil {
                let values = preflight.values(host, access)
                let exchange = RemotePreflight.runsExchange(host, in: inventory)
                for name in ["probe", CommandProfileSpec.networkProbe, Action.checkInstallers.rawValue]
                    + (exchange ? CommandProfileSpec.readinessProbes : [])
                {
                    render(name, .probe, step: "preflight", values)
                }
            }
            let values = Self.values(step, "RUN", access, profile, package: packages[step], inventory: inventory)
            if step.action == .reboot {
                render("restart", .restart, step: step.id.rawValue, values)
                render("probe", .probe, step: step.id.rawValue, values)
            } else {
                render(step.action.rawValue, .command, step: step.id.rawValue, values)
                if let spec = profile.settle[step.action.rawValue], var last = byHost[host]?.popLast(),
                    last.role == .command
                {
                    last.settle = spec
                    byHost[host]?.append(last)
                }
                render(step.action.rawValue, .check, step: step.id.rawValue, check: true, values)
            }
        }
        guard problems.isEmpty else { throw RemoteError(problems) }
        return order.flatMap { byHost[$0] ?? [] }
    }

    /// The inventory with a `hosts:` entry (its name as its address, the built-in profile) for
    /// every machine: what `baton commands` shows for an inventory that reaches none yet.
    static func withBuiltInHosts(_ inventory: Inventory) -> Inventory {
        var copy = inventory
        let names =
            inventory.domainControllers + inventory.servers.map(\.name)
            + inventory.clusters.flatMap { $0.nodes.map(\.name) }
        var seen = Set<HostName>()
        copy.hosts = names.filter { seen.insert($0).inserted }.map {
            var access = HostAccess(host: $0, via: .ssh, location: SourceLocation(file: inventory.file, line: 1, column: 1))
            access.backupTarget = "BACKUP_TARGET"
            access.prerequisites = "PREREQUISITES"
            return access
        }
        return copy
    }
}

/// A runner for rendering only: it reaches no host.
struct NoHosts: CommandRunner {
    func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome {
        CommandOutcome(exitCode: nil, output: "", unreachable: "not connected: commands are only shown")
    }
}
