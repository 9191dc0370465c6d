import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Synchronization
import Testing

@testable import BatonRemote

/// A host that answers as the test scripts: commands are matched by a part of their text.
final class ScriptedHosts: CommandRunner, @unchecked Sendable {
    let log = Mutex<[(host: String, command: String)]>([])
    let answer: @Sendable (String, String) -> CommandOutcome

    init(answer: @escaping @Sendable (_ host: String, _ command: String) -> CommandOutcome) {
        self.answer = answer
    }

    func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome {
        log.withLock { $0.append((access.host.spelling, command)) }
        return answer(access.host.spelling, command)
    }

    var commands: [String] { log.withLock { $0.map(\.command) } }
}

/// A host whose probe answers as `answer` says for the n-th probe, nil meaning never (until
/// the caller gives up and cancels); every other command succeeds.
final class HangingProbe: CommandRunner, @unchecked Sendable {
    let answer: @Sendable (Int) -> CommandOutcome?
    let counter: @Sendable () -> Int

    init(answer: @escaping @Sendable (Int) -> CommandOutcome?, counter: @escaping @Sendable () -> Int) {
        self.answer = answer
        self.counter = counter
    }

    func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome {
        guard command == "probe" else { return CommandOutcome(exitCode: 0, output: "ok") }
        if let outcome = answer(counter()) { return outcome }
        try await Task.sleep(for: .seconds(3600))
        return CommandOutcome(exitCode: 0, output: "")
    }
}

enum RemoteFixture {
    static let inventoryText = """
        organization: litware
        domain-controllers: [DC1]
        servers:
          - name: MAIL
            product: exchange-2003
            level: sp1
            os: windows-2003
        profiles:
          lab:
            kind: shell
            commands:
              probe: "probe"
              restart: "restart {{host}}"
              backup: "backup {{what}}"
              quiesce: "quiesce"
              check-installers: "check-installers"
              install: "install {{package}} {{build}}"
              verify-version: "verify {{build}}"
              restore-services: "restore"
            checks:
              install: "installed? {{build}}"
        hosts:
          DC1: {address: 127.0.0.1, via: local, profile: lab}
          MAIL: {address: 192.0.2.7, port: 2222, user: admin, profile: lab}
        """

    static func load(_ text: String = inventoryText) throws -> (Inventory, Plan) {
        let inventory = try InventoryLoader.parse(
            text: text, file: "remote.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        return (inventory, try Planner(inventory: inventory, package: package).plan())
    }

    static func state() -> String { NSTemporaryDirectory() + "baton-remote-\(UUID().uuidString)" }
}

@Suite("Command profiles")
struct CommandProfileTests {
    @Test("the Windows profile renders PowerShell as -EncodedCommand, with the step's values in it")
    func windowsRendering() throws {
        let profile = CommandProfile(nil)
        var step = Step(.moveGroup(group: "EVS1", from: "NODE2", to: "NODE1"), rules: [.e2003EVSUpgrade], why: "")
        step.id = "s7"
        let command = try #require(
            try profile.command("move-group", profile.values(for: step, run: "run-1", address: "n2")))
        #expect(command.hasPrefix("powershell -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand "))
        let script = try Self.decode(command)
        #expect(script.contains("cluster group 'EVS1' /moveto:NODE1"))
        #expect(!script.contains("{{"))

        var clusterGroup = step
        clusterGroup.detail = .moveGroup(group: clusterGroupName, from: "NODE2", to: "NODE1")
        let moved = try Self.decode(
            try #require(try profile.command("move-group", profile.values(for: clusterGroup, run: "r", address: "n2"))))
        #expect(moved.contains("cluster group 'Cluster Group' /moveto:NODE1"))

        let verify = Step(.verifyVersion(.host("MAIL"), expect: "6.5.7638.2"), rules: [.verifyVersion], why: "")
        let verifyScript = try Self.decode(
            try #require(try profile.command("verify-version", profile.values(for: verify, run: "r", address: "m"))))
        #expect(verifyScript.contains("-ne '6.5.7638.2'"))
        #expect(verifyScript.contains("store.exe"))
        for action in Action.allCases where ![.approve, .milestone, .reboot].contains(action) && !action.isModernOnly {
            #expect(profile.commands[action.rawValue] != nil, "no Windows command for \(action.rawValue)")
        }
        #expect(profile.commands["restart"] != nil && profile.commands["probe"] != nil)
    }

    @Test("a value that is not a plain name is never put into a command")
    func injection() throws {
        let profile = CommandProfile(
            CommandProfileSpec(
                name: "x", kind: .shell, commands: ["install": "install {{package}}"],
                location: SourceLocation(file: "f", line: 1, column: 1)))
        #expect(throws: ProfileError.self) { try profile.command("install", ["package": "kb1; rm -rf /"]) }
        let rendered = try profile.command("install", ["package": "kb123456"])
        #expect(rendered == "install kb123456")
    }

    @Test("ssh gets BatchMode, strict host keys, a shared connection and the inventory's port and user")
    func sshArguments() {
        let runner = OpenSSHRunner(settings: SSHSettings(config: "/etc/baton/ssh_config"), controlDirectory: "/tmp/cm")
        let access = HostAccess(
            host: "MAIL", address: "192.0.2.7", via: .ssh, user: "admin", port: 2222,
            location: SourceLocation(file: "f", line: 1, column: 1))
        let arguments = runner.arguments("hostname", on: access)
        #expect(arguments.prefix(7) == ["ssh", "-F", "/etc/baton/ssh_config", "-p", "2222", "-l", "admin"])
        #expect(arguments.contains("BatchMode=yes") && arguments.contains("StrictHostKeyChecking=yes"))
        #expect(arguments.contains("ControlPath=/tmp/cm/%C"))
        #expect(arguments.suffix(3) == ["--", "192.0.2.7", "hostname"])
        let local = HostAccess(host: "DC1", via: .local, location: access.location)
        #expect(runner.arguments("hostname", on: local) == ["/bin/sh", "-c", "hostname"])
    }

    @Test("ssh's own failures become advice; a remote command's failure stays the command's")
    func connectionFailures() {
        let access = HostAccess(
            host: "MAIL", address: "192.0.2.7", via: .ssh, port: 2222,
            location: SourceLocation(file: "f", line: 1, column: 1))
        let refused = OpenSSHRunner.connectionFailure(
            "ssh: connect to host 192.0.2.7 port 2222: Connection refused", access)
        #expect(refused?.hasPrefix("cannot reach MAIL (192.0.2.7:2222): connection refused") == true)
        let spoofed = OpenSSHRunner.connectionFailure(
            "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.", access)
        #expect(spoofed?.contains("does not match known_hosts") == true)
        #expect(
            OpenSSHRunner.connectionFailure("Permission denied (publickey).", access)?.contains("refused the login")
                == true)
        #expect(OpenSSHRunner.connectionFailure("setup.exe is running", access) == nil)
    }
}

@Suite("The remote target")
struct RemoteTargetTests {
    @Test("a restart only when asked for (exit 3010 reaches Linux as 194), then gone and back")
    func restartOnlyWhenAsked() async throws {
        let (inventory, plan) = try RemoteFixture.load()
        let probes = Mutex(0)
        let hosts = ScriptedHosts { _, command in
            if command.hasPrefix("install") { return CommandOutcome(exitCode: 194, output: "") }
            if command == "probe" {
                // Answers, goes away twice, answers again.
                let count = probes.withLock { value -> Int in
                    value += 1; return value
                }
                return CommandOutcome(
                    exitCode: [2, 3].contains(count) ? nil : 0, output: "",
                    unreachable: [2, 3].contains(count) ? "down" : nil)
            }
            return CommandOutcome(exitCode: 0, output: "ok")
        }
        let target = try RemoteTarget(
            inventory: inventory, plan: plan, stateDirectory: RemoteFixture.state(), runner: hosts,
            probeInterval: .milliseconds(1))
        let reboot = try #require(plan.steps.first { $0.action == .reboot && $0.host == "MAIL" })
        // Before the install asked, the restart is skipped.
        let skipped = try await target.perform(reboot, run: "r")
        #expect(skipped.succeeded && skipped.message.contains("no restart asked for"))
        #expect(!hosts.commands.contains("restart MAIL"))

        let install = try #require(plan.steps.first { $0.action == .install && $0.host == "MAIL" })
        let installed = try await target.perform(install, run: "r")
        #expect(installed.succeeded && installed.message.contains("asks for a restart"))
        #expect(hosts.commands.last == "install exchange-2003-sp2 6.5.7638.2")
        #expect(try await target.hasTakenEffect(reboot, run: "r") == false)

        let restarted = try await target.perform(reboot, run: "r")
        #expect(restarted.succeeded, "\(restarted.message)")
        #expect(restarted.message == "MAIL restarted and answers again")
        #expect(hosts.commands.contains("restart MAIL"))
        #expect(try await target.hasTakenEffect(reboot, run: "r"))
    }

    // A hang would last the hour the probe sleeps; five minutes leave room for a test process
    // whose threads every other suite keeps busy.
    @Test(
        "a probe that never answers (a session to a host that went away) does not hang the restart",
        .timeLimit(.minutes(5)))
    func hungProbe() async throws {
        let (inventory, plan) = try RemoteFixture.load()
        let probes = Mutex(0)
        let hosts = HangingProbe { count in
            // The first probe after the restart hangs; then the host is down once, then back.
            count == 1
                ? nil
                : count == 2
                    ? CommandOutcome(exitCode: nil, output: "", unreachable: "down")
                    : CommandOutcome(exitCode: 0, output: "")
        } counter: {
            probes.withLock { value -> Int in
                value += 1
                return value
            }
        }
        let target = try RemoteTarget(
            inventory: inventory, plan: plan, stateDirectory: RemoteFixture.state(), runner: hosts,
            probeInterval: .milliseconds(1), probeTimeout: .milliseconds(200))
        var reboot = try #require(plan.steps.first { $0.action == .reboot && $0.host == "MAIL" })
        reboot.detail = .reboot(host: "MAIL", when: .always)
        let restarted = try await target.perform(reboot, run: "r")
        #expect(restarted.succeeded, "\(restarted.message)")
        #expect(probes.withLock { $0 } >= 3)
    }

    @Test("the pending restart survives the controller: a new target over the same state still knows")
    func pendingRestartIsDurable() async throws {
        let (inventory, plan) = try RemoteFixture.load()
        let state = RemoteFixture.state()
        let hosts = ScriptedHosts { _, command in
            CommandOutcome(exitCode: command.hasPrefix("install") ? 194 : 0, output: "")
        }
        let install = try #require(plan.steps.first { $0.action == .install })
        let reboot = try #require(plan.steps.first { $0.action == .reboot })
        _ = try await RemoteTarget(inventory: inventory, plan: plan, stateDirectory: state, runner: hosts).perform(
            install, run: "r")
        let again = try RemoteTarget(inventory: inventory, plan: plan, stateDirectory: state, runner: hosts)
        #expect(try await again.hasTakenEffect(reboot, run: "r") == false)
    }

    @Test("on resume, an install is checked on the host and not repeated when the host reports the build")
    func resumeAsksTheHost() async throws {
        let (inventory, plan) = try RemoteFixture.load()
        let installed = Mutex(false)
        let hosts = ScriptedHosts { _, command in
            if command.hasPrefix("installed?") {
                return CommandOutcome(exitCode: installed.withLock { $0 } ? 0 : 1, output: "")
            }
            return CommandOutcome(exitCode: 0, output: "")
        }
        let target = try RemoteTarget(
            inventory: inventory, plan: plan, stateDirectory: RemoteFixture.state(), runner: hosts)
        let install = try #require(plan.steps.first { $0.action == .install })
        #expect(try await target.hasTakenEffect(install, run: "r") == false)
        installed.withLock { $0 = true }
        #expect(try await target.hasTakenEffect(install, run: "r"))
        #expect(hosts.commands.last == "installed? 6.5.7638.2")
        // Without a check, a step that was in flight is done again.
        let quiesce = try #require(plan.steps.first { $0.action == .quiesce })
        #expect(try await target.hasTakenEffect(quiesce, run: "r") == false)
    }

    @Test("a failing command fails its step with its exit code and output's end; a known failure names its rule")
    func failures() async throws {
        let (inventory, plan) = try RemoteFixture.load()
        let hosts = ScriptedHosts { _, command in
            command.hasPrefix("install")
                ? CommandOutcome(exitCode: 1, output: "copying files\nFileInUse:: Added to Filelist: store.exe\n")
                : CommandOutcome(exitCode: 0, output: "")
        }
        let target = try RemoteTarget(
            inventory: inventory, plan: plan, stateDirectory: RemoteFixture.state(), runner: hosts)
        let install = try #require(plan.steps.first { $0.action == .install })
        let result = try await target.perform(install, run: "r")
        #expect(!result.succeeded)
        #expect(result.message.hasPrefix("exit 1: copying files / FileInUse:: Added to Filelist: store.exe"))
        #expect(result.rule == .fileInUse)
        #expect(result.output?.contains("FileInUse") == true)
    }

    @Test("every host and command a plan needs is there before anything runs, or every gap is named")
    func validation() throws {
        let text = RemoteFixture.inventoryText.replacingOccurrences(of: "      quiesce: \"quiesce\"\n", with: "")
            .replacingOccurrences(of: "  DC1: {address: 127.0.0.1, via: local, profile: lab}\n", with: "")
        let (inventory, plan) = try RemoteFixture.load(text)
        let quiesce = try #require(plan.steps.first { $0.action == .quiesce }).id
        #expect {
            try RemoteTarget.validate(inventory, plan)
        } throws: { error in
            let problems = (error as? RemoteError)?.problems ?? []
            return problems.first == "no hosts: entry for DC1, which the plan acts on"
                && problems.contains("profile lab has no 'quiesce' command, which \(quiesce) on MAIL needs")
        }
    }
}

@Suite("profiles: and ssh: in the inventory")
struct ProfileInventoryTests {
    @Test("unknown placeholders, kinds, commands and profiles are located errors, all at once")
    func errors() {
        let text = """
            organization: o
            servers:
              - {name: MAIL, product: exchange-2003, level: sp1, os: windows-2003}
            profiles:
              p:
                kind: shel
              q:
                kind: shell
                commands:
                  install: "install {{pakage}}"
                  instal: "x"
            ssh:
              connect-timeout: 0
            hosts:
              MAIL: {profile: nope}
            """
        do {
            _ = try InventoryLoader.parse(text: text, file: "bad.yaml")
            Issue.record("loaded")
        } catch {
            let lines = error.errors.map(\.description)
            #expect(lines.contains { $0.hasPrefix("bad.yaml:6:") && $0.contains("kind 'shel'") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("bad.yaml:10:") && $0.contains("unknown placeholder '{{pakage}}'") })
            #expect(lines.contains { $0.hasPrefix("bad.yaml:11:") && $0.contains("did you mean 'install'") })
            #expect(lines.contains { $0.hasPrefix("bad.yaml:13:") && $0.contains("connect-timeout") })
            #expect(lines.contains { $0.hasPrefix("bad.yaml:15:") && $0.contains("profile 'nope'") })
        }
    }
}

extension CommandProfileTests {
    static func decode(_ command: String) throws -> String {
        let encoded = try #require(command.split(separator: " ").last)
        let bytes = try #require(Data(base64Encoded: String(encoded)))
        var units: [UInt16] = []
        for index in stride(from: 0, to: bytes.count, by: 2) {
            units.append(UInt16(bytes[index]) | UInt16(bytes[index + 1]) << 8)
        }
        return String(decoding: units, as: UTF16.self)
    }
}

@Suite("Shell sessions never leave a caller waiting")
struct ShellSessionTests {
    static let access = HostAccess(
        host: "H", via: .ssh, location: SourceLocation(file: "t", line: 1, column: 1))

    /// The body's answer, or nil when it gave none within `limit` of starting. The limit counts
    /// from when the body first runs, not from when it was asked to: on a machine busy with
    /// every other suite the body's task may wait a long time for a thread, which says nothing
    /// about the session. A hang fails the test rather than the suite.
    static func within<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async -> T) async -> T? {
        let result = Mutex<T?>(nil)
        let started = Mutex<ContinuousClock.Instant?>(nil)
        Task {
            started.withLock { $0 = .now }
            let value = await body()
            result.withLock { $0 = value }
        }
        while true {
            if let value = result.withLock({ $0 }) { return value }
            if let start = started.withLock({ $0 }), ContinuousClock.now > start + limit {
                return result.withLock { $0 }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    @Test("a session whose program cannot start answers its command as unreachable")
    func programMissing() async {
        let session = ShellSession(access: Self.access)
        await session.start(arguments: ["/nonexistent/ssh-client"], environment: .inherit)
        let outcome = await Self.within(.seconds(90)) { await session.run("true") }
        #expect(outcome?.unreachable != nil)
    }

    @Test(
        "a session that never answers: the caller that gives up has its answer at once, and the next command gets a new session"
    )
    func callerGivesUp() async {
        let session = ShellSession(access: Self.access)
        // A "shell" that reads nothing and never answers.
        await session.start(arguments: ["sleep", "30"], environment: .inherit)
        let outcome = await Self.within(.seconds(90)) {
            let running = Task { await session.run("true") }
            try? await Task.sleep(for: .milliseconds(200))
            running.cancel()
            return await running.value
        }
        #expect(outcome?.unreachable?.contains("no answer in time") == true)
        let next = await Self.within(.seconds(90)) { await session.run("true") }
        #expect(next?.unreachable == "the session ended")
    }
}

@Suite("The exchange-powershell profile")
struct ExchangePowerShellTests {
    /// An example of Exchange 2013 or later with every machine reachable over OpenSSH and no
    /// profile named, so each gets the built-in exchange-powershell.
    static func plan(_ example: String, _ packageID: String) throws -> (Inventory, Plan) {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/\(example)").path
        var text = try String(contentsOfFile: path, encoding: .utf8)
        let loaded = try InventoryLoader.load(path: path, reservedPackageIDs: PackageCatalogue.builtInIDs)
        let names = loaded.servers.map(\.name) + loaded.domainControllers
        text += "\nhosts:\n" + names.map { "  \($0): {address: \($0.key).example, user: administrator, backup-target: 'E:'}\n" }.joined()
        let inventory = try InventoryLoader.parse(
            bytes: Array(text.utf8), file: example, reservedPackageIDs: PackageCatalogue.builtInIDs)
        let package = try #require(PackageCatalogue(inventory: inventory).package(PackageID(packageID)))
        return (inventory, try Planner(inventory: inventory, package: package).plan())
    }

    static func script(_ step: Step, _ inventory: Inventory, _ plan: Plan) throws -> String {
        let host = try #require(RemoteTarget.hostName(for: step, in: inventory))
        let access = try #require(inventory.access(host))
        let profile = RemoteTarget.profile(for: access, in: inventory)
        #expect(profile.kind == .exchangePowerShell)
        let name = step.action == .reboot ? "restart" : step.action.rawValue
        let values = RemoteTarget.values(step, "run-1", access, profile, package: plan.package, inventory: inventory)
        let command = try #require(try profile.command(name, values))
        return try CommandProfileTests.decode(command)
    }

    @Test(
        "every example's plan renders on its hosts: a command for each step, every value filled",
        arguments: [
            ("mx-stretched-dag.yaml", "exchange-2019-cu15"), ("mx-two-member-dag.yaml", "exchange-2016-cu23"),
            ("mx-2013-split-roles.yaml", "exchange-2013-cu23"), ("mx-standalone-to-se.yaml", "exchange-se-rtm"),
            ("mx-multi-dag-monthly-su.yaml", "exchange-2019-cu15-feb26-su"),
        ])
    func everyStepRenders(_ example: String, _ packageID: String) throws {
        let (inventory, plan) = try Self.plan(example, packageID)
        try RemoteTarget.validate(inventory, plan)
        for step in plan.steps where step.action != .approve && step.action != .milestone {
            let script = try Self.script(step, inventory, plan)
            #expect(!script.contains("{{"), "\(step.id) \(step.summary)")
        }
    }

    @Test("maintenance mode in Microsoft's words, the two-copy override, the media's own setup and the licence switch")
    func commands() throws {
        let (inventory, plan) = try Self.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        func script(_ action: Action) throws -> String {
            let step = try #require(plan.steps.first { $0.action == action })
            return try Self.script(step, inventory, plan)
        }
        #expect(try script(.drainTransport).contains("-Component HubTransport -State Draining -Requester Maintenance"))
        let start = try script(.startDagMaintenance)
        #expect(start.contains("StartDagServerMaintenance.ps1") && start.contains("'true' -eq 'true'"))
        #expect(
            start.contains("$parameters.overrideMinimumTwoCopies = $true")
                && start.contains("DatabaseCopyAutoActivationPolicy"))
        #expect(start.contains("if ('exchange-2016' -ne 'exchange-2013') { $parameters.PauseClusterNode = $true }"))
        let redirect = try script(.redirectMessages)
        #expect(redirect.contains("$target = (Get-ExchangeServer 'NW-EX2' -ErrorAction Stop).Fqdn"))
        #expect(redirect.contains("Redirect-Message -Server $env:COMPUTERNAME -Target $target"))
        #expect(try script(.serverOffline).contains("ServerWideOffline -State Inactive -Requester Maintenance"))
        #expect(try script(.checkCopies).contains("Get-MailboxDatabaseCopyStatus"))
        #expect(try script(.checkWitness).contains("Test-ReplicationHealth -Identity $env:COMPUTERNAME"))
        #expect(try script(.stopDagMaintenance).contains("StopDagServerMaintenance.ps1"))
        #expect(try script(.rebalanceDatabases).contains("-DagName 'NW-DAG' -BalanceDbsByActivationPreference"))
        #expect(try script(.saveConfig).contains("'web.config'.Split(',')"))
        let install = try script(.install)
        #expect(install.contains(#"C:\Baton\packages\exchange-2016-cu23\Setup.exe"#))
        #expect(install.contains("/Mode:Upgrade $license") && install.contains("_DiagnosticDataOFF"))
        #expect(install.contains("$media = if ('15.1.2507.6' -ne '') { [version]'15.1.2507.6' }"))
        #expect(try script(.prepareSchema).contains("/PrepareSchema $license"))
        #expect(
            try script(.verifyVersion).contains(
                "(Get-Command ExSetup.exe -ErrorAction Stop).FileVersionInfo.FileVersion"))
        #expect(try script(.verifyVersion).contains("[version]'15.1.2507.6'"))

        let (suInventory, suPlan) = try Self.plan("mx-multi-dag-monthly-su.yaml", "exchange-2019-cu15-feb26-su")
        let suInstall = try #require(suPlan.steps.first { $0.action == .install })
        let su = try Self.script(suInstall, suInventory, suPlan)
        #expect(su.contains(#"C:\Baton\packages\exchange-2019-cu15-feb26-su\exchange-2019-cu15-feb26-su.msp"#))
        #expect(
            su.contains("msiexec.exe -ArgumentList '/update'")
                && su.contains("'security-update' -eq 'cumulative-update'"))
        let (oldInventory, oldPlan) = try Self.plan("mx-2013-split-roles.yaml", "exchange-2013-cu23")
        let oldInstall = try #require(oldPlan.steps.first { $0.action == .install })
        let old = try Self.script(oldInstall, oldInventory, oldPlan)
        #expect(old.contains("[version]'15.0.1497.2'"), "an Exchange 2013 setup takes the plain switch by its build")
    }

    @Test(
        "what the expert found, as rendered: -PauseClusterNode from 2016 on, lagged copies, the target's FQDN, the quorum, UMCallRouter, replication read per domain controller"
    )
    func expertFindings() throws {
        func script(_ example: String, _ package: String, _ action: Action, _ nth: Int = 0) throws -> String {
            let (inventory, plan) = try Self.plan(example, package)
            let steps = plan.steps.filter { $0.action == action }
            return try Self.script(try #require(steps.dropFirst(nth).first), inventory, plan)
        }
        // StartDagServerMaintenance.ps1 of Exchange 2013 has no -PauseClusterNode.
        let start2013 = try script("mx-2013-split-roles.yaml", "exchange-2013-cu23", .startDagMaintenance)
        #expect(start2013.contains("if ('exchange-2013' -ne 'exchange-2013') { $parameters.PauseClusterNode = $true }"))
        #expect(!start2013.contains("-PauseClusterNode"), "never passed as a literal switch")
        let start2019 = try script("mx-stretched-dag.yaml", "exchange-2019-cu15", .startDagMaintenance)
        #expect(start2019.contains("if ('exchange-2019' -ne 'exchange-2013') { $parameters.PauseClusterNode = $true }"))

        // A lagged copy's replay queue is not a failure; its status and copy queue still are.
        for action in [Action.checkCopies] {
            let copies = try script("mx-stretched-dag.yaml", "exchange-2019-cu15", action)
            #expect(copies.contains("$database.ReplayLagTimes"))
            #expect(copies.contains("($_.ReplayQueueLength -gt 100 -and -not $lagged[$_.Name])"))
            #expect(copies.contains("$_.CopyQueueLength -gt 10"))
        }
        #expect(ExchangePowerShell.probes["probe-copies"]?.contains("-and -not $lagged[$_.Name]") == true)

        // Unified Messaging's call router drains on 2013 and 2016; 2019 has none.
        let drain2016 = try script("mx-two-member-dag.yaml", "exchange-2016-cu23", .drainTransport)
        #expect(drain2016.contains("if ('exchange-2016' -in 'exchange-2013','exchange-2016') { Set-ServerComponentState $env:COMPUTERNAME -Component UMCallRouter -State Draining"))
        let resume2016 = try script("mx-two-member-dag.yaml", "exchange-2016-cu23", .resumeTransport)
        #expect(resume2016.contains("-Component UMCallRouter -State Active"))

        // The quorum as the DAG sees it, not a ping.
        let witness = try script("mx-two-member-dag.yaml", "exchange-2016-cu23", .checkWitness)
        #expect(witness.contains("'ClusterService','QuorumGroup','FileShareQuorum'") && !witness.contains("Test-Connection"))

        // Replication: each scope read on every domain controller against the package's version.
        for (nth, scope, version) in [(0, "schema", "15334"), (1, "organization", "16223"), (2, "domains", "13243")] {
            let wait = try script("mx-two-member-dag.yaml", "exchange-2016-cu23", .waitReplication, nth)
            #expect(wait.contains("$scope = '\(scope)'"), "\(scope)")
            #expect(wait.contains("schema = '15334'; organization = '16223'; domains = '13243'"))
            #expect(wait.contains("foreach ($controller in $domain.DomainControllers)") && wait.contains("does not answer"))
            #expect(!wait.contains("repadmin"), "\(version)")
        }
        // The databases' own folders are backed up, to the host's target, and Exchange's record
        // of the full backup is read back.
        let backup = try script("mx-two-member-dag.yaml", "exchange-2016-cu23", .backup, 1)
        #expect(backup.contains("$target = 'E:'") && !backup.contains("backup-target.txt"))
        #expect(backup.contains("Split-Path ([string]$_.EdbFilePath); [string]$_.LogFolderPath"))
        #expect(backup.contains(#""-include:$($folders -join ',')" -allCritical -vssFull"#))
        #expect(backup.contains("$_.LastFullBackup -lt $started"))
        // Quiesce stops the host's named services (or Baton's list) and says what it stopped,
        // then checks Microsoft's antivirus exclusions where Defender can tell.
        let quiesce = try script("mx-two-member-dag.yaml", "exchange-2016-cu23", .quiesce)
        #expect(quiesce.contains("$named = ''") && quiesce.contains("McShield|"))
        #expect(quiesce.contains("stopped nothing: none of Baton's list runs here"))
        #expect(quiesce.contains("Get-MpPreference") && quiesce.contains("antivirus exclusions not checked"))
        // The queues drain before setup: only shadow and poison queues may hold messages.
        let redirect = try script("mx-two-member-dag.yaml", "exchange-2016-cu23", .redirectMessages)
        #expect(redirect.contains("Get-Queue -Server $env:COMPUTERNAME") && redirect.contains("AddMinutes(15)"))
    }

    @Test("restore-config applies the named settings again, never the old file: each read, shown and set; a setting the update removed fails")
    func restoreSettings() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/mx-two-member-dag.yaml").path
        let text = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
            of: "custom-config: [web.config]",
            with: #"custom-config: [EdgeTransport.exe.config, {file: 'FrontEnd\HttpProxy\owa\web.config', settings: [{app-setting: LogonFormat, value: 'CORP\user'}, {xpath: '/configuration/system.web/httpRuntime/@maxRequestLength', value: "65536 'quoted'"}]}]"#)
            + "\nhosts:\n" + ["NWDC1", "NW-EX1", "NW-EX2", "NW-EDGE"].map { "  \($0): {address: \($0).example, backup-target: 'E:'}\n" }.joined()
        let inventory = try InventoryLoader.parse(
            bytes: Array(text.utf8), file: "settings.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
        let server = try #require(inventory.servers.first { $0.name == "NW-EX1" })
        #expect(server.customConfig == ["EdgeTransport.exe.config", "web.config"])
        #expect(server.customSettings.count == 2)
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2016-cu23"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        try RemoteTarget.validate(inventory, plan)
        let step = try #require(plan.steps.first { $0.action == .restoreConfig })
        let restore = try Self.script(step, inventory, plan)
        #expect(!restore.contains("Copy-Item"), "the old file is never copied over the new one")
        let encoded = try #require(restore.split(separator: "\n").first { $0.hasPrefix("$encoded = '") })
            .dropFirst("$encoded = '".count).dropLast()
        let decoded = try JSONSerialization.jsonObject(with: try #require(Data(base64Encoded: String(encoded))))
        let settings = try #require(decoded as? [[String: String]])
        #expect(settings.first == ["file": #"FrontEnd\HttpProxy\owa\web.config"#, "appSetting": "LogonFormat", "value": #"CORP\user"#])
        #expect(settings.last?["xpath"] == "/configuration/system.web/httpRuntime/@maxRequestLength")
        #expect(settings.last?["value"] == "65536 'quoted'", "any value travels, as base64")
        #expect(restore.contains("is gone after the update") && restore.contains("$xml.Save($path)"))
        #expect(restore.contains("Compare-Object"), "a saved file without named settings is compared")

        for (bad, says) in [
            ("{file: web.config, settings: [{app-setting: A}]}", "needs 'value'"),
            ("{file: web.config, settings: [{app-setting: A, xpath: /a, value: b}]}", "exactly one of app-setting"),
            ("{settings: []}", "needs 'file'"),
        ] {
            let broken = text.replacingOccurrences(of: "EdgeTransport.exe.config, {file", with: "\(bad), {file")
            do {
                _ = try InventoryLoader.parse(
                    bytes: Array(broken.utf8), file: "settings.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
                Issue.record("\(bad) was accepted")
            } catch { #expect("\(error)".contains("settings.yaml:15:") && "\(error)".contains(says), "\(bad): \(error)") }
        }
    }

    @Test("a host without a backup-target is named before anything runs; a target that is not a volume or a share is refused")
    func backupTarget() throws {
        let (inventory, plan) = try Self.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        var without = inventory
        without.hosts = inventory.hosts.map { access in
            var access = access
            if access.host == "NW-EX2" { access.backupTarget = nil }
            return access
        }
        do {
            try RemoteTarget.validate(without, plan)
            Issue.record("accepted")
        } catch {
            #expect(error.problems.contains { $0.hasPrefix("NW-EX2 has no backup-target, which s4 backup needs") }, "\(error.problems)")
            #expect(error.problems.count == 1)
        }
        var quoted = inventory
        quoted.hosts = inventory.hosts.map { access in
            var access = access
            access.backupTarget = "E:'; Remove-Item C:\\ -Recurse; '"
            return access
        }
        #expect(throws: RemoteError.self) { try RemoteTarget.validate(quoted, plan) }
        var share = inventory
        share.hosts = inventory.hosts.map { access in
            var access = access
            access.backupTarget = #"\\backup01\exchange$"#.replacingOccurrences(of: "$", with: "")
            return access
        }
        try RemoteTarget.validate(share, plan)
    }

    @Test("extended-protection: skip puts /DoNotEnableEP on that server's setup, and only there")
    func extendedProtectionSwitch() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/mx-stretched-dag.yaml").path
        let names = ["DC1", "DC2", "MBX1", "MBX2", "MBX3", "MBX4", "EDGE1", "EDGE2"]
        let text = try String(contentsOfFile: path, encoding: .utf8)
            .replacingOccurrences(of: "level: cu14", with: "level: cu13")
            .replacingOccurrences(
                of: "{name: MBX2, product: exchange-2019, level: cu13,",
                with: "{name: MBX2, product: exchange-2019, level: cu13, extended-protection: skip,")
            + "\nhosts:\n" + names.map { "  \($0): {address: \($0).example, backup-target: 'E:'}\n" }.joined()
        let inventory = try InventoryLoader.parse(
            bytes: Array(text.utf8), file: "ep.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        func install(_ host: HostName) throws -> String {
            try Self.script(try #require(plan.steps.first { $0.action == .install && $0.host == host }), inventory, plan)
        }
        #expect(try install("MBX2").contains("$extendedProtection = '/DoNotEnableEP'"))
        #expect(try install("MBX1").contains("$extendedProtection = ''"))
    }

    @Test("the licence switch follows the package's build: a custom Exchange 2016 CU21 gets the plain switch's build")
    func licenceByBuild() throws {
        let text = """
            organization: litware
            domain-controllers: [DC1]
            active-directory: {schema-master-site: HQ, domains: [litware.com], schema-version: 15333, organization-version: 16222, domain-version: 13242}
            sites: [{name: HQ, internet-facing: true}]
            servers:
              - {name: EX1, product: exchange-2016, level: cu20, os: windows-2016, site: HQ}
            packages:
              - {id: cu21, product: exchange-2016, kind: cumulative-update, level: cu21, build: 15.1.2308.8,
                 ad-versions: {schema: 15334, organization: 16222, domain: 13242}}
            hosts:
              EX1: {address: ex1.litware.com}
              DC1: {address: dc1.litware.com}
            """
        let inventory = try InventoryLoader.parse(
            text: text, file: "cu21.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
        let package = try #require(PackageCatalogue(inventory: inventory).package("cu21"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        let install = try Self.script(try #require(plan.steps.first { $0.action == .install }), inventory, plan)
        // 15.1.2308 is below CU22's 15.1.2375, where the _DiagnosticData switches begin.
        #expect(install.contains("$media = if ('15.1.2308.8' -ne '') { [version]'15.1.2308.8' }"))
        #expect(install.contains("($media.Minor -eq 1 -and $media.Build -ge 2375)"))
        let prepare = try Self.script(try #require(plan.steps.first { $0.action == .prepareSchema }), inventory, plan)
        #expect(prepare.contains("[version]'15.1.2308.8'"), "setup's Active Directory steps know the build too")
    }

    @Test("on resume, a check per maintenance step says whether it took effect")
    func checks() throws {
        let (inventory, plan) = try Self.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        let step = try #require(plan.steps.first { $0.action == .startDagMaintenance })
        let host = try #require(step.host)
        let access = try #require(inventory.access(host))
        let profile = RemoteTarget.profile(for: access, in: inventory)
        let values = RemoteTarget.values(step, "run-1", access, profile, package: plan.package, inventory: inventory)
        let rendered = try #require(try profile.check("start-dag-maintenance", values))
        let check = try CommandProfileTests.decode(rendered)
        #expect(check.contains("DatabaseCopyAutoActivationPolicy -ne 'Blocked'"))
        for action in [
            "install", "server-offline", "server-online", "stop-dag-maintenance", "drain-transport", "resume-transport",
        ] {
            #expect(profile.checks[action] != nil, "\(action)")
        }
    }

    @Test("baton check probes each server: build, pending restart, services, components, copies, execution policy")
    func probes() async throws {
        let (inventory, plan) = try Self.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        // Each server answers each probe by its script: NW-EX2 has a restart pending and
        // Group Policy sets its execution policy; everything else is ready.
        let hosts = ScriptedHosts { host, command in
            guard command.contains("-EncodedCommand"), let script = try? CommandProfileTests.decode(command) else {
                return CommandOutcome(exitCode: 0, output: host)
            }
            if host == "NW-EX2", script.contains("RebootPending") {
                return CommandOutcome(exitCode: 1, output: "a restart is pending: component servicing")
            }
            if host == "NW-EX2", script.contains("Get-ExecutionPolicy -List") {
                return CommandOutcome(
                    exitCode: 1, output: "Group Policy sets the execution policy: MachinePolicy RemoteSigned")
            }
            return CommandOutcome(exitCode: 0, output: "ready")
        }
        let results = await RemotePreflight(inventory: inventory, plan: plan, runner: hosts).run()
        let servers = inventory.servers.map(\.name.spelling)
        for server in servers {
            for probe in RemotePreflight.probes {
                #expect(
                    results.contains { $0.subject == server && $0.check == probe.check }, "\(server) \(probe.check)")
            }
        }
        #expect(results.filter { $0.check == "build" }.count == servers.count, "domain controllers are not probed")
        #expect(RemotePreflight.probes.map(\.command) == CommandProfileSpec.readinessProbes)
        let failed = results.filter { $0.status == .fail }
        #expect(failed.map(\.check).sorted() == ["execution-policy", "pending-reboot"], "\(failed)")
        #expect(failed.allSatisfy { $0.subject == "NW-EX2" })
        #expect(failed.first { $0.check == "pending-reboot" }?.rule == .mxReadinessRebootPending)
        #expect(failed.first { $0.check == "execution-policy" }?.rule == .mxExecutionPolicyGPO)
        // The build probe compares with the build the inventory says the server is at now.
        let scripts = try hosts.commands.filter { $0.contains("-EncodedCommand") }.map(CommandProfileTests.decode)
        let build = try #require(scripts.first { $0.contains("the inventory says") })
        let server = try #require(inventory.servers.first)
        #expect(build.contains("[version]'\(Builds.build(server.install.product, server.install.level)!)'"))
        #expect(
            scripts.contains { $0.contains("Get-ServerComponentState $env:COMPUTERNAME") && $0.contains("Requester") })
        #expect(scripts.contains { $0.contains("StartType -eq 'Disabled'") })
        #expect(scripts.contains { $0.contains("Get-MailboxDatabaseCopyStatus -Server $env:COMPUTERNAME") })
    }
}
