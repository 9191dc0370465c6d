import Foundation
import Testing

/// Test hosts: one real OpenSSH server per host on a loopback port (scripts/test-hosts.sh).
struct TestHosts {
    let directory: String
    var ports: [String: Int] = [:]

    static var available: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/sshd") }

    init(_ names: [String]) throws {
        guard Self.available else {
            throw ServeError(
                description:
                    "no OpenSSH server for the test hosts: apt-get install openssh-server (scripts/test.sh does)")
        }
        directory = BatonProcess.temporaryPath("hosts")
        let started = try script(["start", directory] + names)
        guard started.status == 0 else { throw ServeError(description: "test hosts did not start: \(started.stderr)") }
        for line in started.stdout.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let port = Int(parts[1]) { ports[String(parts[0])] = port }
        }
    }

    static let scriptPath = BatonProcess.packageRoot.appendingPathComponent("scripts/test-hosts.sh").path

    func script(_ arguments: [String]) throws -> BatonProcess.Result {
        try BatonProcess.run(
            ["__exec", Self.scriptPath] + arguments)
    }

    func stop(_ name: String? = nil) { _ = try? script(["stop", directory] + (name.map { [$0] } ?? [])) }
    func restart(_ name: String) throws { _ = try script(["restart", directory, name]) }

    func root(_ name: String) -> String { "\(directory)/\(name)/root" }

    func file(_ name: String, _ file: String) -> String {
        (try? String(contentsOfFile: root(name) + "/" + file, encoding: .utf8)) ?? ""
    }

    func touch(_ name: String, _ file: String) {
        _ = FileManager.default.createFile(atPath: root(name) + "/" + file, contents: Data())
    }

    func sshdPID(_ name: String) -> String {
        (try? String(contentsOfFile: "\(directory)/\(name)/sshd.pid", encoding: .utf8)) ?? ""
    }

    /// A password logon of the test hosts: a local account and where its password is read
    /// (a line of YAML, such as `password-env: VAR`).
    struct Logon {
        var user: String
        var source: String
    }

    /// The profile's network probe, standing for Windows's: a session reaches the network only
    /// when it logged on with a password (sshd's ExposeAuthInfo names the method), as a key
    /// logon on Windows OpenSSH carries no network credentials.
    static let networkProbe =
        #"probe-network: 'if grep -Eq "^(password|keyboard-interactive)" "$SSH_USER_AUTH" 2>/dev/null; then echo "logged on as $(id -un) with a password: Active Directory answers"; else echo "logged on with $(cut -d " " -f 1 "$SSH_USER_AUTH" 2>/dev/null): Active Directory refuses the session"; exit 1; fi'"#

    /// `example` with the test hosts' ssh configuration, a shell profile `files` whose
    /// commands are `commands` (with the probe and a restart that really restarts the host's
    /// sshd; with `network`, the network probe) and whose checks are `checks`, and a `hosts:`
    /// entry per test host. With `logon`, the hosts log on with that account's password (a
    /// restart is then asked of `watchRestarts`: the account cannot stop a root sshd).
    func inventory(
        example: String, commands: String, checks: String, file: String, network: Bool = false, logon: Logon? = nil,
        settle: String = ""
    ) throws -> String {
        let script = Self.scriptPath
        var text = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("examples/\(example)"), encoding: .utf8)
        let restart =
            logon == nil
            ? "\"setsid sh -c 'sleep 1; exec \(script) restart \(directory) {{host}}' >/dev/null 2>&1 </dev/null &\""
            : "'touch \"$HOST_ROOT/.restart\"'"
        text += """

            ssh:
              config: \(directory)/ssh_config
              connect-timeout: 5

            """
        if let logon {
            text += "logons:\n  corp:\n    user: \(logon.user)\n    \(logon.source)\n"
        }
        text += """
            profiles:
              files:
                kind: shell
                restart-timeout: 60
            \(logon == nil ? "" : "    logon: corp\n")\(settle)    commands:
                  probe: 'test -d "$HOST_ROOT"'
                  restart: \(restart)

            """
        if network { text += "      \(Self.networkProbe)\n" }
        text += commands + "    checks:\n" + checks + "hosts:\n"
        for (name, port) in ports.sorted(by: { $0.key < $1.key }) {
            text += "  \(name): {address: 127.0.0.1, port: \(port), via: ssh, profile: files}\n"
        }
        let path = directory + "/" + file
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// The example inventory with a shell profile whose commands change files in each host's
    /// folder (`quiesce` also prints the host's `said` file, as a command that echoes what it
    /// was given would).
    func inventory(from example: String, network: Bool = false, logon: Logon? = nil) throws -> String {
        func log(_ line: String) -> String { "'echo \"\(line)\" >> \"$HOST_ROOT/actions.log\"'" }
        return try inventory(
            example: example,
            commands: """
                      backup: \(log("backup {{what}} {{group}}"))
                      export-schema-map: \(log("export-schema-map"))
                      quiesce: 'echo quiesce >> "$HOST_ROOT/actions.log"; cat "$HOST_ROOT/said" 2>/dev/null; true'
                      check-installers: 'if [ -e "$HOST_ROOT/installer-running" ]; then echo "setup.exe is running"; exit 1; fi'
                      probe-pending-reboot: 'if [ -e "$HOST_ROOT/reboot-pending" ]; then echo "a restart is pending: component servicing"; exit 1; fi; echo "no restart pending"'
                      leave-pool: \(log("leave-pool {{pool}}"))
                      rejoin-pool: \(log("rejoin-pool {{pool}}"))
                      move-group: \(log("move-group {{group}} {{to}}"))
                      stop-cluster-service: \(log("stop-cluster-service"))
                      start-cluster-service: \(log("start-cluster-service"))
                      install: 'echo "install {{package}}" >> "$HOST_ROOT/actions.log"; if [ -n "{{build}}" ]; then echo "{{build}}" > "$HOST_ROOT/version"; fi; if [ -e "$HOST_ROOT/ask-restart" ]; then rm "$HOST_ROOT/ask-restart"; exit 194; fi'
                      resources-offline: \(log("resources-offline {{group}} {{keep}}"))
                      upgrade-virtual-server: \(log("upgrade-virtual-server {{group}}"))
                      resources-online: \(log("resources-online {{group}}"))
                      update-component: \(log("update-component {{component}}"))
                      restore-services: \(log("restore-services"))
                      verify-version: 'v=$(cat "$HOST_ROOT/version" 2>/dev/null); if [ "$v" != "{{build}}" ]; then echo "reports $v, not {{build}}"; exit 1; fi; echo "reports $v"'
                      failover-test: \(log("failover-test {{group}}"))

                """,
            checks: """
                      install: 'grep -qx "{{build}}" "$HOST_ROOT/version"'

                """, file: "inventory.yaml", network: network, logon: logon)
    }

    /// A local account `user` with a fresh password (set through standard input, never an
    /// argument), owning every host's folder; returns the password.
    func logonUser(_ user: String) throws -> String {
        let password = "Pw-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20)
        let made = try BatonProcess.run(["__exec", Self.scriptPath, "user", directory, user], stdin: password + "\n")
        guard made.status == 0 else { throw ServeError(description: "no test account \(user): \(made.stderr)") }
        return String(password)
    }

    /// Restarts each host whose folder asks for it (`.restart`), as root, until cancelled.
    func watchRestarts() -> Task<Void, Never> {
        let names = Array(ports.keys)
        return Task {
            while !Task.isCancelled {
                for name in names where FileManager.default.fileExists(atPath: root(name) + "/.restart") {
                    try? FileManager.default.removeItem(atPath: root(name) + "/.restart")
                    _ = try? await BatonProcess.finish([
                        "__exec", Self.scriptPath,
                        "restart", directory, name,
                    ])
                }
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    /// `mx-two-member-dag.yaml` with a shell profile that keeps each server's maintenance state
    /// as files (draining, in DAG maintenance, offline), refuses setup on a server still in
    /// service, and logs every action of every host in order to one file (`all.log`) so that
    /// the test can see what happened before what. `save-config` also prints the host's
    /// `said` file, as a command that echoes what it was given would.
    func dagInventory(network: Bool = false, logon: Logon? = nil, checkCopies: String? = nil, settle: String = "")
        throws -> String
    {
        func log(_ action: String, _ then: String = "") -> String {
            "'echo \"{{host}} \(action)\" >> \"\(directory)/all.log\"\(then)'"
        }
        func mark(_ action: String, _ file: String, set: Bool) -> String {
            log(action, set ? "; touch \"$HOST_ROOT/\(file)\"" : "; rm -f \"$HOST_ROOT/\(file)\"")
        }
        return try inventory(
            example: "mx-two-member-dag.yaml",
            commands: """
                      backup: \(log("backup {{what}}"))
                      prepare-schema: \(log("prepare-schema"))
                      prepare-ad: \(log("prepare-ad"))
                      prepare-domains: \(log("prepare-domains {{domains}}"))
                      wait-replication: \(log("wait-replication"))
                      check-copies: \(checkCopies ?? log("check-copies {{dag}}"))
                      check-witness: \(log("check-witness {{dag}}"))
                      check-edge-sync: \(log("check-edge-sync {{edge}}"))
                      drain-transport: \(mark("drain-transport", "draining", set: true))
                      start-dag-maintenance: \(mark("start-dag-maintenance {{dag}}", "dag-maintenance", set: true))
                      redirect-messages: \(log("redirect-messages {{to}}"))
                      server-offline: \(mark("server-offline", "offline", set: true))
                      save-config: \(log("save-config {{files}}", "; echo saved > \"$HOST_ROOT/config-saved\"; cat \"$HOST_ROOT/said\" 2>/dev/null; true"))
                      quiesce: \(log("quiesce"))
                      check-installers: \(log("check-installers"))
                      check-pending-reboot: 'if [ -e "$HOST_ROOT/reboot-pending" ]; then echo "a restart is pending"; exit 1; fi'
                      install: 'if [ ! -e "$HOST_ROOT/offline" ] || [ ! -e "$HOST_ROOT/draining" ]; then echo "setup refused: {{host}} is in service"; exit 1; fi; echo "{{host}} install {{package}}" >> "\(directory)/all.log"; echo "{{package}}" > "$HOST_ROOT/package"'
                      verify-version: 'if [ ! -s "$HOST_ROOT/package" ]; then echo "reports the old build"; exit 1; fi; echo "reports {{build}}"'
                      restore-config: 'test -e "$HOST_ROOT/config-saved" && echo "{{host}} restore-config {{files}}" >> "\(directory)/all.log"'
                      restore-services: \(log("restore-services"))
                      server-online: \(mark("server-online", "offline", set: false))
                      stop-dag-maintenance: \(mark("stop-dag-maintenance {{dag}}", "dag-maintenance", set: false))
                      resume-transport: \(mark("resume-transport", "draining", set: false))
                      rebalance-databases: \(log("rebalance-databases {{dag}}"))

                """,
            checks: """
                      install: 'grep -qx "{{package}}" "$HOST_ROOT/package"'

                """, file: "dag-inventory.yaml", network: network, logon: logon, settle: settle)
    }
}

@Suite("Real hosts over OpenSSH", .serialized)
struct RemoteHostsTests {
    @Test("check, then a whole plan through the shell profile: files change on every host, restarts are real")
    func wholePlan() async throws {
        let hosts = try TestHosts(["DC1", "DC2", "FE1", "FE2", "BE1", "NODE1", "NODE2"])
        defer { hosts.stop() }
        let inventory = try hosts.inventory(from: "contoso.yaml")
        let state = BatonProcess.temporaryPath("remote-state")
        hosts.touch("FE1", "ask-restart")
        let fe2PID = hosts.sshdPID("FE2"), fe1PID = hosts.sshdPID("FE1"), node1PID = hosts.sshdPID("NODE1")

        // A readiness probe of the profile, on each Exchange server: BE1 waits for a restart.
        hosts.touch("BE1", "reboot-pending")
        let pending = try await BatonProcess.finish([
            "check", inventory, "--package", "exchange-2003-sp2", "--state", state,
        ])
        #expect(pending.status == 1, "\(pending.stdout)\(pending.stderr)")
        func probe(_ host: String) -> Substring? {
            pending.stdout.split(separator: "\n").first { $0.contains("pending-reboot") && $0.contains(" \(host) ") }
        }
        #expect(probe("BE1")?.hasPrefix("FAIL") == true && probe("BE1")?.contains("a restart is pending") == true)
        #expect(probe("FE1")?.hasPrefix("PASS") == true, "\(pending.stdout)")
        #expect(probe("DC1") == nil, "domain controllers are not probed")
        try FileManager.default.removeItem(atPath: hosts.root("BE1") + "/reboot-pending")

        let check = try await BatonProcess.finish([
            "check", inventory, "--package", "exchange-2003-sp2", "--state", state,
        ])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("PASS    reachable"))

        let run = try await BatonProcess.finish([
            "run", inventory, "--package", "exchange-2003-sp2", "--state", state, "--yes",
        ])
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\(run.stderr)")
        #expect(run.stdout.contains("on its real hosts"))
        #expect(run.stdout.contains("completed"))

        for name in ["FE1", "FE2", "BE1", "NODE1", "NODE2"] {
            #expect(hosts.file(name, "version") == "6.5.7638.2\n", "\(name)")
            let log = hosts.file(name, "actions.log").split(separator: "\n")
            #expect(log.filter { $0 == "install exchange-2003-sp2" }.count == 1, "\(name): \(log)")
            #expect(log.first?.hasPrefix("backup") == true, "\(name) is backed up first")
        }
        #expect(hosts.file("DC1", "actions.log").contains("backup system-state"))
        #expect(hosts.file("NODE1", "actions.log").contains("install windows-2003-kb831464"))
        #expect(hosts.file("NODE1", "actions.log").contains("move-group EVS1 NODE1") == false)
        #expect(hosts.file("NODE2", "actions.log").contains("move-group EVS1 NODE1"))
        // FE1's installer asked for a restart and hotfix 831464 always restarts: real sshd
        // restarts. FE2 asked for none and was left alone.
        #expect(hosts.sshdPID("FE1") != fe1PID)
        #expect(hosts.sshdPID("NODE1") != node1PID)
        #expect(hosts.sshdPID("FE2") == fe2PID)

        let report = try await BatonProcess.finish(["report", "run-1", "--state", state])
        // Each machine's version check, in the host's own words.
        let checks = report.stdout.split(separator: "\n").filter { $0.contains("reports 6.5.7638.2") }
        for name in ["FE1", "FE2", "BE1", "NODE1", "NODE2"] {
            #expect(checks.contains { $0.split(separator: " ").contains(Substring(name)) }, "\(name): \(checks)")
        }
        #expect(report.stdout.contains("real hosts"))

        // A report is evidence: another run on the same hosts leaves run-1's unchanged.
        let json = try await BatonProcess.finish(["report", "run-1", "--state", state, "--format", "json"])
        let second = try await BatonProcess.finish([
            "run", inventory, "--package", "windows-2003-kb831464", "--state", state, "--yes",
        ])
        #expect(second.status == 0, "\(second.stdout.suffix(1500))\(second.stderr)")
        #expect(try await BatonProcess.finish(["report", "run-1", "--state", state]).stdout == report.stdout)
        #expect(
            try await BatonProcess.finish(["report", "run-1", "--state", state, "--format", "json"]).stdout
                == json.stdout)
    }

    @Test(
        "a DAG rollout logged on with a password: one member at a time in maintenance, every install once, none left, the password nowhere"
    )
    func dagRollout() async throws {
        let hosts = try TestHosts(["NWDC1", "NW-EX1", "NW-EX2", "NW-EDGE"])
        defer { hosts.stop() }
        let password = try hosts.logonUser("baton-dag")
        let inventory = try hosts.dagInventory(
            network: true, logon: .init(user: "baton-dag", source: "password-env: BATON_TEST_DAG_PASSWORD"))
        let state = BatonProcess.temporaryPath("remote-dag-state")
        let servers = ["NW-EX1", "NW-EX2", "NW-EDGE"]
        let pids = servers.map { hosts.sshdPID($0) }
        let restarts = hosts.watchRestarts()
        defer { restarts.cancel() }
        // A command that prints what it was given: NW-EX1's save-config says the password.
        try (password + "\n").write(toFile: hosts.root("NW-EX1") + "/said", atomically: true, encoding: .utf8)

        let started = try BatonProcess.start(
            ["run", inventory, "--package", "exchange-2016-cu23", "--state", state, "--yes"],
            environment: ["BATON_TEST_DAG_PASSWORD": password])
        // While it runs: no process's command line holds the password, nor the environment of
        // any process but Baton's own (whose administrator put it there).
        var seen: [String] = []
        while started.process.ending == nil {
            seen += LeakScan.processes(holding: password, except: started.process.processIdentifier)
            try await Task.sleep(for: .milliseconds(50))
        }
        let run = started.result(started.process.ending!)
        #expect(seen.isEmpty, "\(Set(seen))")
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\(run.stderr)")
        #expect(
            run.stdout.contains("on its real hosts") && run.stdout.contains("completed"), "\(run.stdout.suffix(2000))")

        // The password is in no output, report, JSON document or journal file.
        let status = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        #expect(status.stdout.contains("********"), "the echoed password is kept masked: \(status.stdout.prefix(500))")
        var outputs = [run.stdout, run.stderr, status.stdout]
        for format in ["text", "json", "html"] {
            outputs.append(try await BatonProcess.finish(["report", "run-1", "--state", state, "--format", format]).stdout)
        }
        #expect(outputs.allSatisfy { !$0.contains(password) })
        #expect(LeakScan.files(under: state, holding: password).isEmpty)
        let log =
            (try? String(contentsOfFile: hosts.directory + "/all.log", encoding: .utf8))?.split(separator: "\n")
            .map(String.init) ?? []
        func at(_ line: String) -> Int? { log.firstIndex(of: line) }
        for name in servers {
            #expect(log.filter { $0 == "\(name) install exchange-2016-cu23" }.count == 1, "\(name): \(log)")
            let install = try #require(at("\(name) install exchange-2016-cu23"))
            // Out of service around its update, and back in service after it.
            for before in ["drain-transport", "server-offline"] {
                #expect(try #require(at("\(name) \(before)")) < install, "\(name) \(before)")
            }
            for after in ["server-online", "resume-transport"] {
                #expect(try #require(at("\(name) \(after)")) > install, "\(name) \(after)")
            }
            for marker in ["draining", "offline", "dag-maintenance"] {
                #expect(
                    !FileManager.default.fileExists(atPath: hosts.root(name) + "/" + marker), "\(name) left \(marker)")
            }
        }
        // The DAG's members one at a time: the second enters maintenance after the first left it.
        let firstOut = try #require(at("NW-EX1 stop-dag-maintenance NW-DAG"))
        let secondIn = try #require(at("NW-EX2 start-dag-maintenance NW-DAG"))
        #expect(firstOut < secondIn, "\(log)")
        #expect(try #require(at("NW-EX1 prepare-schema")) < (at("NW-EX1 install exchange-2016-cu23") ?? 0))
        #expect(log.contains("NW-EX1 restore-config web.config"), "the saved web.config is applied again")
        // Every restart was a real one: each server's sshd was started again.
        for (name, pid) in zip(servers, pids) { #expect(hosts.sshdPID(name) != pid, "\(name) restarted") }

        // Resumed after the end, nothing is done again.
        let again = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(again.status == 1, "a completed run is not resumed: \(again.stdout)\(again.stderr)")
        let after = (try? String(contentsOfFile: hosts.directory + "/all.log", encoding: .utf8)) ?? ""
        #expect(after.split(separator: "\n").count == log.count)
    }

    @Test(
        "copies that settle: each copy check answers 'initializing' twice, then healthy, and the run waits; one that never settles fails after its timeout, and resume waits again"
    )
    func copiesSettle() async throws {
        let hosts = try TestHosts(["NWDC1", "NW-EX1", "NW-EX2", "NW-EDGE"])
        defer { hosts.stop() }
        // Per step: two answers of "initializing", then healthy, unless the host says never.
        let check =
            #"'n=$(cat "$HOST_ROOT/checks-{{step}}" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$HOST_ROOT/checks-{{step}}"; if [ -e "$HOST_ROOT/never-settles" ] || [ $n -le 2 ]; then echo "MBXDB1\{{host}}: Initializing, copy queue 12"; exit 1; fi; echo "every copy of {{dag}} is healthy"'"#
        let inventory = try hosts.dagInventory(
            checkCopies: check, settle: "    settle:\n      check-copies: {interval: 1s, timeout: 5s}\n")
        let state = BatonProcess.temporaryPath("remote-settle")
        let arguments = ["--package", "exchange-2016-cu23", "--state", state, "--yes"]

        let commands = try await BatonProcess.finish(["commands", inventory, "--package", "exchange-2016-cu23", "--step", "s13"])
        #expect(commands.stdout.contains("## s13 check-copies: command (sh), asked every 1 s for up to 5 s until it passes"), "\(commands.stdout.prefix(400))")

        hosts.touch("NW-EX1", "never-settles")
        let stuck = try await BatonProcess.finish(["run", inventory] + arguments)
        #expect(stuck.status == 1, "\(stuck.stdout.suffix(1500))")
        #expect(stuck.stdout.contains("did not settle within 5 s; the last answer: exit 1: MBXDB1\\NW-EX1: Initializing"), "\(stuck.stdout.suffix(1500))")
        let asked = Int(hosts.file("NW-EX1", "checks-s13").trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        #expect((4...6).contains(asked), "asked every second for five seconds: \(asked)")

        // The copies settle; the resumed run waits again, and goes on.
        try FileManager.default.removeItem(atPath: hosts.root("NW-EX1") + "/never-settles")
        try FileManager.default.removeItem(atPath: hosts.root("NW-EX1") + "/checks-s13")
        let resumed = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(resumed.status == 0, "\(resumed.stdout.suffix(1500))")
        let status = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        let settled = status.stdout.components(separatedBy: "settled after").count - 1
        let copySteps = status.stdout.components(separatedBy: "\"action\" : \"check-copies\"").count - 1
        #expect(copySteps >= 4 && settled == copySteps, "every copy check waited: \(settled) of \(copySteps)")
    }

    @Test("an unreachable host, a wrong host key and a failing command each halt the run cleanly; resume goes on")
    func failures() async throws {
        let hosts = try TestHosts(["DC1", "MAIL"])
        defer { hosts.stop() }
        let inventory = try hosts.inventory(from: "e2003-standalone.yaml")
        let state = BatonProcess.temporaryPath("remote-failures")
        let arguments = ["--package", "exchange-2003-sp2", "--state", state, "--yes"]

        // Unreachable: MAIL's sshd is down.
        hosts.stop("MAIL")
        let down = try await BatonProcess.finish(["run", inventory] + arguments)
        #expect(down.status == 1)
        #expect(down.stdout.contains("cannot reach MAIL (127.0.0.1:\(hosts.ports["MAIL"]!))"), "\(down.stdout)")
        #expect(down.stdout.contains("baton resume run-1"))
        let checked = try await BatonProcess.finish([
            "check", inventory, "--package", "exchange-2003-sp2", "--state", state,
        ])
        #expect(checked.status == 1)
        #expect(checked.stdout.contains("FAIL    reachable"))

        // A failing command: another installer runs on MAIL.
        try hosts.restart("MAIL")
        hosts.touch("MAIL", "installer-running")
        let busy = try await BatonProcess.finish(["resume", "run-1"] + arguments.dropFirst(2))
        #expect(busy.status == 1)
        #expect(busy.stdout.contains("setup.exe is running"), "\(busy.stdout)")
        #expect(!hosts.file("MAIL", "actions.log").contains("install "))

        // A wrong host key: MAIL was "rebuilt" with a new key.
        try FileManager.default.removeItem(atPath: hosts.root("MAIL") + "/installer-running")
        let key = "\(hosts.directory)/MAIL/host_key"
        try FileManager.default.removeItem(atPath: key)
        try FileManager.default.removeItem(atPath: key + ".pub")
        _ = try await BatonProcess.finish(["__exec", "/usr/bin/ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key])
        try hosts.restart("MAIL")
        let spoofed = try await BatonProcess.finish(["resume", "run-1"] + arguments.dropFirst(2))
        #expect(spoofed.status == 1)
        #expect(spoofed.stdout.contains("host key of MAIL"), "\(spoofed.stdout)")
        #expect(spoofed.stdout.contains("known_hosts"))

        // The operator checks the new key and trusts it; the run completes, MAIL installed once.
        let known = "\(hosts.directory)/known_hosts"
        let lines = try String(contentsOfFile: known, encoding: .utf8).split(separator: "\n").filter {
            !$0.hasPrefix("[127.0.0.1]:\(hosts.ports["MAIL"]!) ")
        }
        let newKey = try String(contentsOfFile: key + ".pub", encoding: .utf8).split(separator: " ").prefix(2)
            .joined(separator: " ")
        try (lines.joined(separator: "\n") + "\n[127.0.0.1]:\(hosts.ports["MAIL"]!) \(newKey)\n").write(
            toFile: known, atomically: true, encoding: .utf8)
        let done = try await BatonProcess.finish(["resume", "run-1"] + arguments.dropFirst(2))
        #expect(done.status == 0, "\(done.stdout.suffix(2000))")
        let log = hosts.file("MAIL", "actions.log").split(separator: "\n")
        #expect(log.filter { $0 == "install exchange-2003-sp2" }.count == 1)
        #expect(hosts.file("MAIL", "version") == "6.5.7638.2\n")
    }

    @Test("a plan the hosts cannot carry out is refused before anything runs, every problem listed")
    func incompleteConfiguration() async throws {
        let hosts = try TestHosts(["MAIL"])
        defer { hosts.stop() }
        let inventory = try hosts.inventory(from: "e2003-standalone.yaml")
        let text = try String(contentsOfFile: inventory, encoding: .utf8).replacingOccurrences(
            of: "      quiesce: ", with: "      # quiesce: ")
        try text.write(toFile: inventory, atomically: true, encoding: .utf8)
        let state = BatonProcess.temporaryPath("remote-incomplete")
        let result = try await BatonProcess.finish([
            "run", inventory, "--package", "exchange-2003-sp2", "--state", state, "--yes",
        ])
        #expect(result.status == 2)
        #expect(result.stderr.contains("no hosts: entry for DC1"), "\(result.stderr)")
        #expect(result.stderr.contains("profile files has no 'quiesce' command"))
        #expect(!FileManager.default.fileExists(atPath: hosts.root("MAIL") + "/actions.log"))
    }
}

@Suite("Real hosts through the API", .serialized)
struct RemoteHostsAPITests {
    /// Test hosts named `names`, the standalone example's inventory reaching them, a server
    /// over a fresh state directory and an admin's token: the inventory brings its own shell
    /// profile and ssh_config, which only an admin may give the server inline.
    static func serve(_ names: [String]) async throws -> (TestHosts, String, ServeProcess, String) {
        let hosts = try TestHosts(names)
        let inventory = try String(
            contentsOfFile: try hosts.inventory(from: "e2003-standalone.yaml"), encoding: .utf8)
        let server = try await ServeProcess(state: BatonProcess.temporaryPath("remote-api"))
        return (hosts, inventory, server, try server.token("admin", name: "adam"))
    }

    @Test("a run started through the API goes to the inventory's real hosts; its gate is approved through the API")
    func runThroughTheAPI() async throws {
        let (hosts, inventory, server, adminToken) = try await Self.serve(["DC1", "MAIL"])
        defer {
            server.stop()
            hosts.stop()
        }
        let approver = try server.token("approver", name: "anna")

        let started = try await server.call(
            .POST, "/api/runs", token: adminToken, body: ["package": "exchange-2003-sp2", "inventory": inventory])
        #expect(started.status == 201, "\(started.body)")
        #expect(started.object["target"] as? String == "hosts", "\(started.body)")
        try await server.waitForGate("release-notes", of: "run-1")
        #expect(!hosts.file("MAIL", "actions.log").contains("install "), "nothing installs before the gate")
        let approved = try await server.call(
            .POST, "/api/runs/run-1/approvals", token: approver, body: ["gate": "release-notes"])
        #expect(approved.status == 201, "\(approved.body)")
        let end = try await server.events(of: "run-1", within: .seconds(300)) { $0.last?.name == "end" }
        #expect(end.last?.data.contains("completed") == true, "\(end.suffix(3)) \(server.log.suffix(2000))")
        let log = hosts.file("MAIL", "actions.log").split(separator: "\n")
        #expect(log.filter { $0 == "install exchange-2003-sp2" }.count == 1, "\(log)")
        #expect(hosts.file("MAIL", "version") == "6.5.7638.2\n")
        let report = try await server.call(.GET, "/api/runs/run-1/report")
        let approvals = report.object["approvals"] as? [[String: String]] ?? []
        #expect(approvals.first?["by"] == "anna" && approvals.first?["how"] == "api", "\(approvals)")
    }

    @Test("a run through the API on hosts that cannot carry it out is refused before anything runs")
    func refusedBeforeAnythingRuns() async throws {
        let (hosts, inventory, server, adminToken) = try await Self.serve(["MAIL"])
        defer {
            server.stop()
            hosts.stop()
        }
        let refused = try await server.call(
            .POST, "/api/runs", token: adminToken, body: ["package": "exchange-2003-sp2", "inventory": inventory])
        #expect(refused.status == 400, "\(refused.body)")
        #expect(refused.body.contains("no hosts: entry for DC1"), "\(refused.body)")
        let rehearsal = try await server.call(
            .POST, "/api/runs", token: adminToken,
            body: ["package": "exchange-2003-sp2", "inventory": inventory, "lab": true, "approveAll": true])
        #expect(rehearsal.status == 201, "\(rehearsal.body)")
        #expect(rehearsal.object["target"] as? String == "lab")
    }
}

/// Looks for a password where it must never be.
enum LeakScan {
    /// Processes whose command line, or whose environment (but `except`'s), holds `secret`.
    static func processes(holding secret: String, except: Int32) -> [String] {
        let needle = Array(secret.utf8)
        var found: [String] = []
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for pid in entries where Int32(pid) != nil {
            if let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"), contains(Array(line), needle) {
                found.append("/proc/\(pid)/cmdline")
            }
            if Int32(pid) != except, let environment = FileManager.default.contents(atPath: "/proc/\(pid)/environ"),
                contains(Array(environment), needle)
            {
                found.append("/proc/\(pid)/environ")
            }
        }
        return found
    }

    /// Files under `directory` (the journal, the state) that hold `secret`.
    static func files(under directory: String, holding secret: String) -> [String] {
        let needle = Array(secret.utf8)
        let files = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String } ?? []
        return files.filter { file in
            FileManager.default.contents(atPath: directory + "/" + file).map { contains(Array($0), needle) } ?? false
        }
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, haystack.count >= needle.count else { return false }
        return (0...(haystack.count - needle.count)).contains { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
    }
}
