import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import Foundation

/// Real hosts as a run's target: each step becomes a command of the host's profile, run over
/// OpenSSH or locally. A command's exit code says what happened (3010 and 1641: done, and a
/// restart is wanted); its output's end goes into the journal with the step. What this target
/// must remember across a controller crash (which hosts asked for a restart) it keeps in the
/// state directory, written durably before the journal hears of the step.
public actor RemoteTarget: Target {
    let inventory: Inventory
    let packages: PlanPackages
    let runner: any CommandRunner
    let statePath: String
    /// Hosts whose installer asked for a restart that has not happened yet.
    var pendingRestarts: Set<String>
    /// How often a restarting host is probed.
    let probeInterval: Duration
    /// How long one probe of a restarting host may take.
    let probeTimeout: Duration

    public init(
        inventory: Inventory, plan: Plan, stateDirectory: String, runner: (any CommandRunner)? = nil,
        probeInterval: Duration = .seconds(2), probeTimeout: Duration = .seconds(10)
    ) throws {
        self.probeTimeout = probeTimeout
        try Self.validate(inventory, plan)
        self.inventory = inventory
        packages = PlanPackages(plan)
        self.runner = runner ?? Self.runner(for: inventory, stateDirectory: stateDirectory)
        statePath = stateDirectory + "/remote.json"
        let saved = FileManager.default.contents(atPath: statePath).flatMap {
            try? JSONDecoder().decode([String].self, from: $0)
        }
        pendingRestarts = Set(saved ?? [])
        self.probeInterval = probeInterval
    }

    /// Every machine the plan acts on has a `hosts:` entry, and its profile a command for each
    /// of its actions: a missing one is found before the first step, not in the middle.
    public static func validate(_ inventory: Inventory, _ plan: Plan) throws(RemoteError) {
        var problems: [String] = []
        var missingHosts = Set<HostName>()
        for step in plan.steps where ![.approve, .milestone, .settle].contains(step.action) {
            guard let host = hostName(for: step, in: inventory) else {
                problems.append("\(step.id) \(step.summary): no node of its cluster is in hosts:")
                continue
            }
            guard let access = inventory.access(host) else {
                missingHosts.insert(host)
                continue
            }
            let profile = profile(for: access, in: inventory)
            let name = step.action == .reboot ? "restart" : step.action.rawValue
            if profile.commands[name] == nil {
                problems.append("profile \(profile.name) has no '\(name)' command, which \(step.id) on \(host) needs")
            }
            // Every command this step may run, rendered now: a value that cannot stand in a
            // command is found before the first step, not when its host's turn comes.
            let values = Self.values(step, "run-1", access, profile, package: PlanPackages(plan)[step], inventory: inventory)
            for command in [name, "probe", "restart", CommandProfileSpec.networkProbe] {
                do { _ = try profile.command(command, values) } catch {
                    problems.append("\(step.id) on \(host): \(error)")
                }
            }
            do { _ = try profile.check(step.action.rawValue, values) } catch {
                problems.append("\(step.id) on \(host): \(error)")
            }
            for (placeholder, advice) in CommandProfileSpec.required
            where values[placeholder]?.isEmpty ?? true
                && CommandProfileSpec.placeholders(in: profile.commands[name] ?? "").contains(placeholder)
            {
                problems.append("\(host) has no \(placeholder), which \(step.id) \(step.action.rawValue) needs: \(advice)")
            }
        }
        if !missingHosts.isEmpty {
            problems.insert(
                "no hosts: entry for \(missingHosts.sorted().joined(separator: ", ")), which the plan acts on", at: 0)
        }
        var seen = Set<String>()
        problems = problems.filter { seen.insert($0).inserted }
        guard problems.isEmpty else { throw RemoteError(problems) }
    }

    /// The machine a step runs on: its host, or for a step naming only a group (a failover
    /// test, a virtual server's version) a node of the group's cluster that Baton can reach.
    static func hostName(for step: Step, in inventory: Inventory) -> HostName? {
        if let host = step.host { return host }
        // A DAG's checks and rebalancing run on a member Baton can reach.
        if let dag = step.dag.flatMap({ name in inventory.dags.first { $0.name == name } }) {
            return dag.members.first { inventory.access($0) != nil } ?? dag.members.first
        }
        // Replication is watched from a mailbox server in the schema master's site.
        if step.action == .waitReplication {
            let site = inventory.activeDirectory?.schemaMasterSite
            let mailbox = inventory.servers.filter { $0.role == .mailbox && $0.install.product.isModern }
            let reachable = mailbox.filter { inventory.access($0.name) != nil }
            return (reachable.first { $0.site == site } ?? reachable.first ?? mailbox.first)?.name
        }
        guard let group = step.group,
            let cluster = inventory.clusters.first(where: { $0.virtualServers.contains { $0.name == group } })
        else { return nil }
        return cluster.nodes.map(\.name).first { inventory.access($0) != nil } ?? cluster.nodes.first?.name
    }

    /// Hosts with a shell profile get a long-lived shell session each; the others (PowerShell
    /// through cmd.exe) an ssh per command, over a shared connection. Hosts with a password
    /// logon ask `askpass` for it; every password of `secrets` is masked in what commands say.
    public static func runner(
        for inventory: Inventory, stateDirectory: String, secrets: LogonSecrets = .none, askpass: Askpass = .none
    ) -> any CommandRunner {
        var logons: [HostName: LogonSpec] = [:]
        for access in inventory.hosts { logons[access.host] = inventory.logon(for: access) }
        let ssh = OpenSSHRunner(
            settings: inventory.ssh, controlDirectory: controlDirectory(for: stateDirectory), logons: logons,
            askpass: askpass, hiddenVariables: secrets.hiddenVariables)
        let shellHosts = inventory.hosts.filter { profile(for: $0, in: inventory).kind == .shell }.map(\.host)
        return MaskingRunner(ShellSessions(fallback: ssh, shellHosts: Set(shellHosts)), secrets: secrets)
    }

    /// Runs `body` with a runner for `inventory`'s hosts, the passwords of `secrets` served to
    /// ssh for exactly as long as `body` runs.
    public static func withRunner<T>(
        for inventory: Inventory, stateDirectory: String, secrets: LogonSecrets,
        _ body: (any CommandRunner) async throws -> T
    ) async throws -> T {
        try await Askpass.serving(secrets, in: controlDirectory(for: stateDirectory)) { askpass in
            let runner = runner(for: inventory, stateDirectory: stateDirectory, secrets: secrets, askpass: askpass)
            do {
                let result = try await body(runner)
                await (runner as? MaskingRunner)?.close()
                return result
            } catch {
                await (runner as? MaskingRunner)?.close()
                throw error
            }
        }
    }

    /// The customised settings of `host` to apply again after its update, for
    /// `restore-config`: JSON in base64, so that any value stands in a command as one word.
    static func settings(of host: HostName, in inventory: Inventory) -> String {
        struct Entry: Encodable {
            var file: String
            var appSetting: String?
            var xpath: String?
            var value: String
        }
        let settings = inventory.servers.first { $0.name == host }?.customSettings ?? []
        guard !settings.isEmpty else { return "" }
        let entries = settings.map { setting -> Entry in
            switch setting.target {
            case .appSetting(let key): Entry(file: setting.file, appSetting: key, value: setting.value)
            case .xpath(let path): Entry(file: setting.file, xpath: path, value: setting.value)
            }
        }
        return ((try? JSONEncoder().encode(entries)) ?? Data()).base64EncodedString()
    }

    /// The machines `plan` acts on that the inventory says how to reach, in plan order.
    public static func hosts(of plan: Plan, in inventory: Inventory) -> [HostName] {
        var hosts: [HostName] = []
        for step in plan.steps where step.action != .settle {
            guard let host = hostName(for: step, in: inventory), inventory.access(host) != nil, !hosts.contains(host)
            else { continue }
            hosts.append(host)
        }
        return hosts
    }

    /// Another member of `host`'s DAG, preferably one Baton reaches, for the network probe to
    /// read; empty for a host in no DAG.
    static func peer(of host: HostName, in inventory: Inventory) -> String {
        guard let dag = inventory.dags.first(where: { $0.members.contains(host) }) else { return "" }
        let others = dag.members.filter { $0 != host }
        return (others.first { inventory.access($0) != nil } ?? others.first)?.spelling ?? ""
    }

    /// The host's profile: one of the inventory's, a built-in one it names, or by default
    /// `exchange-powershell` for Exchange 2013 and later and `windows-failover-cluster` otherwise.
    static func profile(for access: HostAccess, in inventory: Inventory) -> CommandProfile {
        let named = access.profile?.lowercased()
        if let spec = inventory.profiles.first(where: { $0.name.lowercased() == named }) { return CommandProfile(spec) }
        if let named, let builtIn = CommandProfileSpec.Kind(rawValue: named), builtIn != .shell {
            return CommandProfile(nil, default: builtIn)
        }
        // A domain controller of an organization of Exchange 2013 or later runs Windows Server
        // Backup like its Exchange servers.
        let modern =
            inventory.servers.first { $0.name == access.host }?.install.product.isModern
            ?? (inventory.domainControllers.contains(access.host)
                && inventory.servers.contains { $0.install.product.isModern })
        return CommandProfile(nil, default: modern ? .exchangePowerShell : .windowsFailoverCluster)
    }

    /// A short folder for ssh's control sockets (a socket path is limited to about 100 bytes).
    public static func controlDirectory(for stateDirectory: String) -> String {
        let absolute = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in absolute.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return "/tmp/baton-ssh-" + String(hash, radix: 36)
    }

    public func perform(_ step: Step, run: RunID) async throws -> StepResult {
        switch step.action {
        case .approve, .milestone:
            return StepResult(succeeded: true, message: "nothing to run on a host")
        case .settle:
            // Time passes on the controller; nothing runs on a host (rule mx-settle).
            guard case .settle(let dag, let seconds) = step.detail else { return StepResult(succeeded: true, message: "") }
            try await Task.sleep(for: .seconds(seconds))
            return StepResult(succeeded: true, message: "\(dag) settled for \(seconds) s")
        case .reboot:
            return try await restart(step, run: run)
        default:
            let (host, access, profile) = try resolve(step)
            guard let command = try render(profile.command(step.action.rawValue, values(step, run, access, profile)))
            else {
                return StepResult(
                    succeeded: false, message: "profile \(profile.name) has no \(step.action.rawValue) command")
            }
            let outcome = try await runner.run(command, on: access)
            if let reason = outcome.unreachable { return StepResult(succeeded: false, message: reason) }
            if outcome.asksForRestart {
                pendingRestarts.insert(host.key)
                try save()
            }
            return result(of: outcome, step)
        }
    }

    /// How a check of a state that settles is waited on: the host's profile says (Baton's
    /// defaults unless its `settle:` replaces them).
    public nonisolated func settle(for step: Step) -> SettleSpec? {
        guard let host = Self.hostName(for: step, in: inventory), let access = inventory.access(host) else {
            return nil
        }
        return Self.profile(for: access, in: inventory).settle[step.action.rawValue]
    }

    /// On resume, for a step that was in flight: a profile's check says whether it took
    /// effect; without one, only actions that change nothing count as done (they are simply
    /// run again), and anything else is run again only if its profile can tell.
    public func hasTakenEffect(_ step: Step, run: RunID) async throws -> Bool {
        switch step.action {
        case .approve, .milestone: return true
        // A settle cut short waits again, all of it.
        case .settle: return false
        case .reboot: return !pendingRestarts.contains(step.host?.key ?? "")
        default:
            let (_, access, profile) = try resolve(step)
            guard let check = try render(profile.check(step.action.rawValue, values(step, run, access, profile))) else {
                return false
            }
            let outcome = try await runner.run(check, on: access)
            return outcome.exitCode == 0
        }
    }

    // MARK: Restarts

    /// Restarts only when the step says always, or an installer on the host asked (rule
    /// `restart-if-prompted`); then waits for the host to go away and to answer again.
    func restart(_ step: Step, run: RunID) async throws -> StepResult {
        let (host, access, profile) = try resolve(step)
        let key = host.key
        guard step.when == .always || pendingRestarts.contains(key) else {
            return StepResult(succeeded: true, message: "no restart asked for: \(host) was not restarted")
        }
        let values = values(step, run, access, profile)
        guard let command = try render(profile.command("restart", values)),
            let probe = try render(profile.command("probe", values))
        else {
            return StepResult(succeeded: false, message: "profile \(profile.name) needs 'restart' and 'probe' commands")
        }
        let issued = try await runner.run(command, on: access)
        if let exit = issued.exitCode, exit != 0, issued.unreachable == nil {
            return StepResult(
                succeeded: false, message: "the restart command failed (exit \(exit)): \(issued.output.tail)")
        }
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(profile.restartTimeout)
        // Gone first (a probe that still answers may come before the restart begins), then
        // back; a host that answers throughout the wait for its going is taken as restarted
        // too quickly to see, and checked once more after it.
        var wentAway = false
        let goneBy = min(deadline, clock.now + .seconds(max(5, profile.restartTimeout / 4)))
        while clock.now < goneBy {
            if await answers(probe, on: access) != true {
                wentAway = true
                break
            }
            try await Task.sleep(for: probeInterval)
        }
        while clock.now < deadline {
            if await answers(probe, on: access) == true {
                pendingRestarts.remove(key)
                try save()
                return StepResult(
                    succeeded: true,
                    message: "\(host) restarted and answers again" + (wentAway ? "" : " (it never seemed to go away)"))
            }
            try await Task.sleep(for: probeInterval)
        }
        return StepResult(
            succeeded: false,
            message:
                "\(host) did not answer within \(profile.restartTimeout) s of its restart: check its console, then resume the run"
        )
    }

    /// Whether the host answers `probe` within `probeTimeout`: true, false (it answered no, or
    /// cannot be reached), or nil (no answer in time: a session to a host that went away can
    /// hang; it is ended, and the next probe opens a new one).
    func answers(_ probe: String, on access: HostAccess) async -> Bool? {
        let runner = runner
        return await within(probeTimeout) {
            (try? await runner.run(probe, on: access)).map { $0.exitCode == 0 } ?? false
        }
    }

    // MARK: Parts

    func resolve(_ step: Step) throws -> (HostName, HostAccess, CommandProfile) {
        guard let host = Self.hostName(for: step, in: inventory), let access = inventory.access(host) else {
            throw RemoteError(["\(step.id) \(step.summary): no hosts: entry to reach it by"])
        }
        return (host, access, Self.profile(for: access, in: inventory))
    }

    func values(_ step: Step, _ run: RunID, _ access: HostAccess, _ profile: CommandProfile) -> [String: String] {
        Self.values(step, run, access, profile, package: packages[step], inventory: inventory)
    }

    /// What a step's templates are filled with: the step's fields, the host it runs on, and
    /// the plan's package (its build for an install; its media, product and kind for setup).
    static func values(
        _ step: Step, _ run: RunID, _ access: HostAccess, _ profile: CommandProfile, package: Plan.PackageSummary,
        inventory: Inventory
    ) -> [String: String] {
        var values = profile.values(for: step, run: run, address: access.destination)
        if values["host"]?.isEmpty ?? true { values["host"] = access.host.spelling }
        if step.action == .install, values["build"] == nil { values["build"] = package.build }
        if values["package"] == nil { values["package"] = package.id.spelling }
        // The server's own product (its maintenance differs by version: UMCallRouter on 2013
        // and 2016, no PauseClusterNode on 2013), which a plan toward a target (`--to`) does
        // not share across its servers; the package's for a machine outside the inventory.
        values["product"] =
            inventory.servers.first { $0.name == access.host }?.install.product.rawValue ?? package.product
        values["kind"] = package.kind.rawValue
        values["peer"] = peer(of: HostName(values["host"] ?? ""), in: inventory)
        values["backup-target"] = access.backupTarget ?? ""
        values["prerequisites"] = access.prerequisites ?? ""
        values["health-checker"] = inventory.servers.first { $0.name == access.host }?.healthChecker ?? ""
        values["services"] = access.quiesceServices.joined(separator: ",")
        values["setup-switches"] =
            step.action == .install && package.kind == .cumulativeUpdate
            ? inventory.servers.first { $0.name == access.host }?.extendedProtection?.setupSwitch ?? "" : ""
        values["settings"] = step.action == .restoreConfig ? settings(of: access.host, in: inventory) : ""
        // Setup's steps know the package's build (the licence switch its setup takes), and the
        // replication wait the Active Directory versions it brings.
        if [.prepareSchema, .prepareAD, .prepareDomains].contains(step.action), values["build"] == nil {
            values["build"] = package.build
        }
        let versions =
            step.action == .waitReplication
            ? PackageCatalogue(inventory: inventory).package(package.id)?.adVersions : nil
        values["schema-version"] = versions?.schema.map(String.init) ?? ""
        values["organization-version"] = versions?.organization.map(String.init) ?? ""
        values["domain-version"] = versions?.domain.map(String.init) ?? ""
        let ownPackage = step.package == nil || step.package == package.id
        values["installer"] =
            ownPackage && package.kind == .securityUpdate ? "\(values["package"] ?? package.id.spelling).msp" : "Setup.exe"
        return values
    }

    func render(_ command: @autoclosure () throws -> String?) throws -> String? {
        do { return try command() } catch { throw RemoteError(["\(error)"]) }
    }

    func result(of outcome: CommandOutcome, _ step: Step) -> StepResult {
        let said = outcome.output.tail
        if outcome.asksForRestart {
            return StepResult(
                succeeded: true,
                message: "done; the installer asks for a restart (exit \(outcome.exitCode ?? 0)). \(said)",
                output: outcome.output)
        }
        if outcome.succeeded {
            return StepResult(succeeded: true, message: said.isEmpty ? "done" : said, output: outcome.output)
        }
        let rule = Diagnosis.findings(in: outcome.output).first?.rule
        return StepResult(
            succeeded: false, message: "exit \(outcome.exitCode ?? -1): \(said.isEmpty ? "no output" : said)",
            rule: rule,
            output: outcome.output)
    }

    func save() throws {
        let data = try JSONEncoder().encode(pendingRestarts.sorted())
        do { try DurableFile.replace(statePath, with: data) } catch { throw RemoteError([error.description]) }
    }
}

/// Why a run cannot go to real hosts, every problem at once.
public struct RemoteError: Error, Sendable, CustomStringConvertible {
    public var problems: [String]
    public init(_ problems: [String]) { self.problems = problems }
    public var description: String { problems.joined(separator: "\n") }
}

extension String {
    /// The last lines of command output, for a one-line message in the journal.
    var tail: String {
        let lines = split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return lines.suffix(3).joined(separator: " / ")
    }
}

/// Masks every password of a run in what its commands say (their output and why they could
/// not run), before anything keeps or shows it.
struct MaskingRunner: CommandRunner {
    let base: any CommandRunner
    let secrets: LogonSecrets

    init(_ base: any CommandRunner, secrets: LogonSecrets) {
        self.base = base
        self.secrets = secrets
    }

    func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome {
        var outcome = try await base.run(command, on: access)
        outcome.output = secrets.masked(outcome.output)
        outcome.unreachable = outcome.unreachable.map(secrets.masked)
        return outcome
    }

    /// Ends the shell sessions the run opened.
    func close() async { await (base as? ShellSessions)?.close() }
}
