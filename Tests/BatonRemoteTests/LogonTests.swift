import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

@testable import BatonRemote

#if canImport(Glibc)
    import Glibc
#endif

/// An inventory whose two Exchange servers log on as `CORP\baton`, its password read as
/// `source` says (a line of YAML).
enum LogonFixture {
    static func text(_ source: String) -> String {
        """
        organization: litware
        domain-controllers: [DC1]
        active-directory:
          schema-master-site: HQ
          domains: [litware.com]
          schema-version: 17003
          organization-version: 16762
          domain-version: 13243
        sites:
          - {name: HQ, internet-facing: true}
        servers:
          - {name: EX1, product: exchange-2019, level: cu14, os: windows-2022, site: HQ}
          - {name: EX2, product: exchange-2019, level: cu14, os: windows-2022, site: HQ}
        dags:
          - name: DAG1
            members: [EX1, EX2]
            witness: {server: FS1, site: HQ}
            databases:
              - {name: DB1, copies: [EX1, EX2]}
        logons:
          corp:
            user: CORP\\baton
            \(source)
        hosts:
          DC1: {address: dc1.corp.example}
          EX1: {address: ex1.corp.example, logon: corp}
          EX2: {address: ex2.corp.example, logon: corp}
        """
    }

    static func inventory(_ source: String) throws -> Inventory {
        try InventoryLoader.parse(text: text(source), file: "logons.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    /// A folder of this test's own, with `password` in `name` at `mode`.
    static func file(_ password: String, mode: mode_t = 0o600) throws -> String {
        let directory = NSTemporaryDirectory() + "baton-logon-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/password"
        try Data(password.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return path
    }

    static func problems(_ source: String, environment: [String: String] = [:], limit: Duration = .seconds(30))
        async throws -> [String]
    {
        let inventory = try inventory(source)
        do {
            _ = try await LogonSecrets.read(for: inventory, environment: environment, commandLimit: limit)
            return []
        } catch {
            return error.problems
        }
    }
}

@Suite("Logons: where a password comes from")
struct LogonSecretTests {
    @Test("an owner-only file, a variable the inventory names, or a command's first line; read once, masked")
    func sources() async throws {
        let path = try LogonFixture.file("Pa55 word!\nignored second line\n")
        let fromFile = try await LogonSecrets.read(for: try LogonFixture.inventory("password-file: \(path)"))
        let inventory = try LogonFixture.inventory("password-file: \(path)")
        let logon = try #require(inventory.logons.first)
        #expect(fromFile.secret(for: logon)?.text == "Pa55 word!")
        #expect("\(try #require(fromFile.secret(for: logon)))" == "********", "printing a password prints a mask")
        #expect(fromFile.masked("echo Pa55 word! twice: Pa55 word!") == "echo ******** twice: ********")

        let fromVariable = try await LogonSecrets.read(
            for: try LogonFixture.inventory("password-env: CORP_BATON_PASSWORD"),
            environment: ["CORP_BATON_PASSWORD": "from-env"])
        #expect(fromVariable.secret(for: logon)?.text == "from-env")
        #expect(fromVariable.hiddenVariables == ["CORP_BATON_PASSWORD"], "no program Baton starts inherits it")

        let fromCommand = try await LogonSecrets.read(
            for: try LogonFixture.inventory("password-command: printf 'from-command\\n'"))
        #expect(fromCommand.secret(for: logon)?.text == "from-command")
    }

    @Test("a file others can read, a missing variable, a failing command: located errors, all at once")
    func badSources() async throws {
        let open = try LogonFixture.file("secret", mode: 0o644)
        let openProblems = try await LogonFixture.problems("password-file: \(open)")
        #expect(openProblems.count == 1)
        #expect(openProblems.first?.hasPrefix("logons.yaml:21:3: error: logon corp: ") == true, "\(openProblems)")
        #expect(openProblems.first?.contains("can be read by others (mode 644): chmod 600") == true)
        #expect(openProblems.first?.contains("secret") == false, "the error never quotes the password")

        let theirs = try LogonFixture.file("secret")
        chown(theirs, 65534, 65534)
        if getuid() == 0 {
            let theirsProblems = try await LogonFixture.problems("password-file: \(theirs)")
            #expect(theirsProblems.first?.contains("belongs to uid 65534") == true, "\(theirsProblems)")
        }
        let missing = try await LogonFixture.problems("password-file: /nonexistent/baton-password")
        #expect(missing.first?.contains("cannot read the password file /nonexistent/baton-password") == true)

        let unset = try await LogonFixture.problems("password-env: CORP_BATON_PASSWORD")
        #expect(unset.first?.contains("the environment variable CORP_BATON_PASSWORD (password-env) is not set") == true)

        let failing = try await LogonFixture.problems("password-command: echo 'vault sealed' >&2; exit 3")
        #expect(failing.first?.contains("failed (exited(3)): vault sealed") == true, "\(failing)")
        let empty = try await LogonFixture.problems("password-command: 'true'")
        #expect(empty.first?.contains("gave an empty password") == true, "\(empty)")
    }

    @Test("a password command that hangs is stopped at its limit, with everything it started")
    func hangingCommand() async throws {
        let pidFile = NSTemporaryDirectory() + "baton-hang-\(UUID().uuidString)"
        let problems = try await LogonFixture.problems(
            "password-command: sleep 300 & echo $! > \(pidFile); wait", limit: .seconds(1))
        #expect(problems.first?.contains("gave no password within 1 s and was stopped") == true, "\(problems)")
        let pid = try #require(
            Int32((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        // The command's own child is gone too: the whole session was killed.
        var gone = false
        for _ in 0..<100 where !gone {
            gone = kill(pid, 0) != 0
            if !gone { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(gone, "sleep \(pid) outlived its password command")
    }

    @Test("the inventory: one source, a user, known names; each a located error, all at once")
    func inventoryErrors() throws {
        let text = """
            organization: litware
            servers:
              - {name: EX1, product: exchange-2019, level: cu14, os: windows-2022, role: mailbox}
              - {name: EX2, product: exchange-2019, level: cu14, os: windows-2022, role: mailbox}
            ssh: {logon: nowhere}
            logons:
              both: {user: a, password-file: /x, password-env: X}
              none: {user: a}
              nouser: {password-env: X}
              badvar: {user: a, password-env: "X Y"}
              pw: {user: 'CORP\\baton', password: hunter2}
            profiles:
              p: {kind: exchange-powershell, logon: missing}
            hosts:
              EX1: {logon: none2, user: b}
              EX2: {via: local, logon: both, profile: p}
            """
        do {
            _ = try InventoryLoader.parse(text: text, file: "bad.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
            Issue.record("accepted")
        } catch {
            let said = "\(error)"
            for expected in [
                "bad.yaml:7:9: error: logon both needs exactly one of password-file, password-env or password-command (found password-file, password-env)",
                "bad.yaml:8:9: error: logon none needs exactly one",
                "bad.yaml:9:11: error: logon nouser needs 'user'",
                "bad.yaml:10:35: error: password-env names an environment variable",
                "bad.yaml:11:38: error: logon pw: a password is never written in the inventory",
                "bad.yaml:13:3: error: profile p names logon 'missing', which is not in logons:",
                "bad.yaml:16:28: error: host EX2 runs its commands on the controller (via: local): it has no logon",
                "bad.yaml:15:3: error: host EX1 names logon 'none2', which is not in logons:",
                "bad.yaml:5:14: error: ssh names logon 'nowhere'",
            ] {
                #expect(said.contains(expected), "\(expected)\n\(said)")
            }
            #expect(!said.contains("hunter2"), "an error never quotes a value that may be a password")
            #expect(!said.contains("names logon 'both'"), "a logon with a problem is still known by name")
            #expect(said.split(separator: "\n").count == 9, "\(said)")
        }
    }

    @Test("a logon is a controller power: it reads the controller's files, variables or commands")
    func controllerPower() throws {
        let inventory = try LogonFixture.inventory("password-env: X")
        #expect(inventory.controllerPowers.map(\.key) == ["logons.corp"])
        #expect(inventory.controllerPowers.first?.description.hasPrefix("logons.yaml:21:3: error: 'logons.corp'") == true)
    }
}

@Suite("Logons: how ssh gets the password")
struct AskpassTests {
    @Test("ssh is told to use the password alone, once, on a connection of its own; the password is not in its arguments")
    func arguments() throws {
        let inventory = try LogonFixture.inventory("password-env: X")
        var logons: [HostName: LogonSpec] = [:]
        for access in inventory.hosts { logons[access.host] = inventory.logon(for: access) }
        let runner = OpenSSHRunner(
            settings: inventory.ssh, controlDirectory: "/tmp/baton-ssh-test", logons: logons,
            askpass: Askpass(helper: "/usr/bin/baton", sockets: ["corp": "/tmp/baton-ssh-test/askpass-1"]))
        let ex1 = runner.arguments("hostname", on: try #require(inventory.access("EX1")))
        #expect(ex1.contains("CORP\\baton"))
        for option in [
            "BatchMode=no", "PubkeyAuthentication=no", "GSSAPIAuthentication=no", "NumberOfPasswordPrompts=1",
            "PreferredAuthentications=keyboard-interactive,password", "ControlPath=/tmp/baton-ssh-test/%C-password",
            "StrictHostKeyChecking=yes",
        ] {
            #expect(ex1.contains(option), "\(option): \(ex1)")
        }
        let dc = runner.arguments("hostname", on: try #require(inventory.access("DC1")))
        #expect(dc.contains("BatchMode=yes") && dc.contains("ControlPath=/tmp/baton-ssh-test/%C"))
        #expect(!dc.contains("CORP\\baton"), "a host without a logon keeps its key logon")
    }

    @Test("the socket serves the password while the run lives, only to this user, and is gone after")
    func serving() async throws {
        let path = try LogonFixture.file("served-secret")
        let inventory = try LogonFixture.inventory("password-file: \(path)")
        let secrets = try await LogonSecrets.read(for: inventory)
        let directory = "/tmp/baton-test-\(UInt32.random(in: 0...UInt32.max))"
        let socket = try await Askpass.serving(secrets, in: directory, helper: "/bin/false") { askpass in
            let socket = try #require(askpass.socket(for: "CORP"))
            var info = stat()
            #expect(stat(directory, &info) == 0 && info.st_mode & 0o777 == 0o700)
            #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600)
            let fetched = await Askpass.fetch(socket)
            #expect(fetched.map { String(decoding: $0, as: UTF8.self) } == "served-secret")
            return socket
        }
        #expect(!FileManager.default.fileExists(atPath: socket), "the socket is removed with the run")
        #expect(await Askpass.fetch(socket) == nil)
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test("a folder for the sockets that another user could enter is refused")
    func sharedFolder() throws {
        let directory = "/tmp/baton-test-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chmod(directory, 0o777)
        #expect(throws: RemoteError.self) { try OpenSSHRunner.privateDirectory(directory) }
        chmod(directory, 0o700)
        try OpenSSHRunner.privateDirectory(directory)
    }

    @Test("Baton answers ssh's password prompt, never a new password, a passphrase or a yes/no question")
    func prompts() {
        for prompt in ["baton@ex1.corp.example's password: ", "(CORP\\baton@ex1) Password:", "Password:"] {
            #expect(Askpass.isPasswordPrompt(prompt), "\(prompt)")
        }
        for prompt in [
            "Enter passphrase for key '/root/.ssh/id_ed25519': ", "New password: ", "Retype new password: ",
            "Are you sure you want to continue connecting (yes/no/[fingerprint])? ", "Your password has expired:",
        ] {
            #expect(!Askpass.isPasswordPrompt(prompt), "\(prompt)")
        }
    }

    @Test("what a command says is masked before it is kept: its output and why it could not run")
    func masking() async throws {
        let path = try LogonFixture.file("leaky-secret")
        let inventory = try LogonFixture.inventory("password-file: \(path)")
        let secrets = try await LogonSecrets.read(for: inventory)
        let echoing = ScriptedHosts { _, command in
            CommandOutcome(exitCode: 1, output: "said leaky-secret", unreachable: "refused leaky-secret")
        }
        let outcome = try await MaskingRunner(echoing, secrets: secrets).run(
            "x", on: try #require(inventory.access("EX1")))
        #expect(outcome.output == "said ********" && outcome.unreachable == "refused ********")
    }
}

@Suite("Logons: the network probe")
struct NetworkProbeTests {
    @Test("every host reads Active Directory; a DAG member also reads another member, by name")
    func rendered() async throws {
        let (inventory, plan) = try ExchangePowerShellTests.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        let hosts = ScriptedHosts { _, _ in CommandOutcome(exitCode: 0, output: "ready") }
        let results = await RemotePreflight(inventory: inventory, plan: plan, runner: hosts).run()
        let network = results.filter { $0.check == "network" }
        #expect(Set(network.map(\.subject)) == Set(RemoteTarget.hosts(of: plan, in: inventory).map(\.spelling)))
        let scripts = try hosts.commands.filter { $0.contains("-EncodedCommand") }.map(CommandProfileTests.decode)
            .filter { $0.contains("ms-Exch-Schema-Version-Pt") }
        #expect(scripts.count == network.count)
        #expect(scripts.allSatisfy { $0.contains("[ADSI]\"LDAP://CN=ms-Exch-Schema-Version-Pt,$schema\"") })
        #expect(scripts.contains { $0.contains("$peer = 'NW-EX2'") }, "NW-EX1 reads NW-EX2")
        #expect(scripts.contains { $0.contains("$peer = 'NW-EX1'") }, "NW-EX2 reads NW-EX1")
        #expect(scripts.contains { $0.contains("$peer = ''") }, "a domain controller reads Active Directory only")
        #expect(scripts.allSatisfy { $0.contains("Get-MailboxDatabaseCopyStatus -Server $peer") })
    }

    @Test("a key logon that cannot reach the network fails in the administrator's words, with the rule")
    func keyLogonFails() async throws {
        let (inventory, plan) = try ExchangePowerShellTests.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        let hosts = ScriptedHosts { host, command in
            guard let script = try? CommandProfileTests.decode(command), script.contains("ms-Exch-Schema-Version-Pt")
            else { return CommandOutcome(exitCode: 0, output: "ready") }
            return CommandOutcome(
                exitCode: 1, output: "CORP\\baton cannot read Active Directory from this session: An operations error occurred.")
        }
        let failed = await RemotePreflight(inventory: inventory, plan: plan, runner: hosts).proveNetwork()
        #expect(failed.count == RemoteTarget.hosts(of: plan, in: inventory).count)
        #expect(failed.allSatisfy { $0.rule == .windowsNetworkLogon })
        #expect(
            failed.allSatisfy {
                $0.detail.hasPrefix("an SSH key logon on Windows carries no network credentials")
                    && $0.detail.contains("An operations error occurred")
            }, "\(failed)")
        #expect(Rule.named(.windowsNetworkLogon) != nil)
    }

    @Test("a password the first host refuses is not tried on the others")
    func refusedOnce() async throws {
        let path = try LogonFixture.file("wrong")
        let inventory = try LogonFixture.inventory("password-file: \(path)")
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        let hosts = ScriptedHosts { host, _ in
            host == "DC1"
                ? CommandOutcome(exitCode: 0, output: "ready")
                : CommandOutcome(exitCode: nil, output: "", unreachable: "\(host) refused", passwordRefused: true)
        }
        let failed = await RemotePreflight(inventory: inventory, plan: plan, runner: hosts).proveNetwork()
        let tried = Set(hosts.log.withLock { $0.map(\.host) })
        #expect(tried.intersection(["EX1", "EX2"]).count == 1, "one host of the logon was tried: \(tried)")
        #expect(failed.contains { $0.detail.hasPrefix("not tried: ") && $0.detail.contains("could lock CORP\\baton out") })
    }
}
