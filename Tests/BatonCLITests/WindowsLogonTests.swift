import Foundation
import Testing

/// The test hosts stand for Windows: a session reaches the network (the profile's network
/// probe passes) only when it logged on with a password.
@Suite("A Windows logon on real sshd hosts", .serialized)
struct WindowsLogonTests {
    static let package = ["--package", "exchange-2016-cu23"]

    /// The run's record, as `baton status RUN --format json` gives it.
    static func status(_ state: String) async throws -> String {
        try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"]).stdout
    }

    @Test("a key logon fails the network probe in baton check and before the first step of baton run; nothing runs")
    func keyLogon() async throws {
        let hosts = try TestHosts(["NWDC1", "NW-EX1", "NW-EX2", "NW-EDGE"])
        defer { hosts.stop() }
        let inventory = try hosts.dagInventory(network: true)
        let state = BatonProcess.temporaryPath("logon-key")

        let check = try await BatonProcess.finish(["check", inventory] + Self.package + ["--state", state])
        #expect(check.status == 1, "\(check.stdout)\(check.stderr)")
        let network = check.stdout.split(separator: "\n").filter { $0.contains(" network ") }
        #expect(network.count == 4, "\(check.stdout)")
        #expect(
            network.allSatisfy {
                $0.hasPrefix("FAIL")
                    && $0.contains("an SSH key logon on Windows carries no network credentials")
                    && $0.contains("logged on with publickey")
            }, "\(network)")

        // baton check ran its read-only probes; the run must add nothing to what the hosts did.
        let checked = hosts.file("NWDC1", "../../all.log")
        let run = try await BatonProcess.finish(["run", inventory] + Self.package + ["--state", state, "--yes"])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stderr.contains("an SSH key logon on Windows carries no network credentials"), "\(run.stderr)")
        #expect(hosts.file("NWDC1", "../../all.log") == checked, "nothing ran")
        let status = try await Self.status(state)
        #expect(status.contains("\"state\" : \"halted\""), "the run is not left running: \(status.prefix(800))")
        #expect(!status.contains("\"succeeded\""), "no step ran")
    }

    @Test("a wrong password: one host is tried, its refusal names it, the others are not tried, nothing runs")
    func wrongPassword() async throws {
        let hosts = try TestHosts(["NWDC1", "NW-EX1", "NW-EX2", "NW-EDGE"])
        defer { hosts.stop() }
        _ = try hosts.logonUser("baton-logon")
        let file = hosts.directory + "/wrong-password"
        try "not-the-password\n".write(toFile: file, atomically: true, encoding: .utf8)
        chmod(file, 0o600)
        let inventory = try hosts.dagInventory(
            network: true, logon: .init(user: "baton-logon", source: "password-file: \(file)"))
        let state = BatonProcess.temporaryPath("logon-wrong")

        let check = try await BatonProcess.finish(["check", inventory] + Self.package + ["--state", state])
        #expect(check.status == 1)
        let refused = check.stdout.split(separator: "\n").filter { $0.contains("refused the password of baton-logon") }
        let notTried = check.stdout.split(separator: "\n").filter { $0.contains("not tried: ") }
        #expect(refused.count == 1 && notTried.count == 3, "\(check.stdout)")

        let run = try await BatonProcess.finish(["run", inventory] + Self.package + ["--state", state, "--yes"])
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(
            run.stderr.contains("refused the password of baton-logon (logon corp, password-file \(file))"),
            "\(run.stderr)")
        #expect(run.stderr.contains("could lock baton-logon out"))
        #expect(!run.stderr.contains("not-the-password"))
        #expect(hosts.file("NWDC1", "../../all.log").isEmpty)
        let status = try await Self.status(state)
        #expect(status.contains("\"state\" : \"halted\""), "the run is not left running: \(status.prefix(800))")
        #expect(!status.contains("\"succeeded\""), "no step ran")
    }

    @Test("a password file others can read, a variable not set, a command that fails: exit 2 before anything")
    func badSources() async throws {
        let hosts = try TestHosts(["NWDC1", "NW-EX1", "NW-EX2", "NW-EDGE"])
        defer { hosts.stop() }
        let open = hosts.directory + "/open-password"
        try "secret\n".write(toFile: open, atomically: true, encoding: .utf8)
        chmod(open, 0o644)
        let cases: [(source: String, says: String)] = [
            ("password-file: \(open)", "can be read by others (mode 644): chmod 600 \(open)"),
            ("password-env: BATON_TEST_UNSET_PASSWORD", "the environment variable BATON_TEST_UNSET_PASSWORD"),
            ("password-command: 'echo vault sealed >&2; exit 4'", "failed (exited(4)): vault sealed"),
        ]
        for (source, says) in cases {
            let inventory = try hosts.dagInventory(network: true, logon: .init(user: "baton-logon", source: source))
            let state = BatonProcess.temporaryPath("logon-source")
            for command in ["check", "run"] {
                let result = try await BatonProcess.finish(
                    [command, inventory] + Self.package + ["--state", state] + (command == "run" ? ["--yes"] : []))
                #expect(result.status == 2, "\(command) \(source): \(result.stdout)\(result.stderr)")
                #expect(
                    result.stderr.contains("dag-inventory.yaml:") && result.stderr.contains(": error: logon corp: ")
                        && result.stderr.contains(says), "\(command) \(source): \(result.stderr)")
            }
            let status = try await BatonProcess.finish(["status", "run-1", "--state", state])
            #expect(status.status == 2, "no run was recorded: \(status.stdout)")
        }
        #expect(hosts.file("NWDC1", "../../all.log").isEmpty)
    }

    @Test("through the API: the run logs on with a password; the server's log and answers never hold it")
    func throughTheAPI() async throws {
        let hosts = try TestHosts(["DC1", "MAIL"])
        defer { hosts.stop() }
        let password = try hosts.logonUser("baton-logon")
        try (password + "\n").write(toFile: hosts.root("MAIL") + "/said", atomically: true, encoding: .utf8)
        _ = try hosts.inventory(
            from: "e2003-standalone.yaml", network: true,
            logon: .init(user: "baton-logon", source: "password-env: BATON_TEST_API_PASSWORD"))
        let restarts = hosts.watchRestarts()
        defer { restarts.cancel() }
        // The inventory reads a variable of the server's: it comes from the server's own folder.
        let server = try await ServeProcess(
            state: BatonProcess.temporaryPath("logon-api"), inventories: hosts.directory,
            environment: ["BATON_TEST_API_PASSWORD": password])
        defer { server.stop() }
        let admin = try server.token("admin", name: "adam")
        let started = try await server.call(
            .POST, "/api/runs", token: admin,
            body: ["package": "exchange-2003-sp2", "inventoryPath": "inventory.yaml", "approveAll": true])
        #expect(started.status == 201, "\(started.body)")
        let serverPID = server.process.processIdentifier
        let scan = Task {
            var seen: [String] = []
            while !Task.isCancelled {
                seen += LeakScan.processes(holding: password, except: serverPID)
                try? await Task.sleep(for: .milliseconds(50))
            }
            return seen
        }
        var state = ""
        for _ in 0..<1500 where !["completed", "halted", "aborted"].contains(state) {
            try await Task.sleep(for: .milliseconds(200))
            let run = try? await server.call(.GET, "/api/runs/run-1", token: admin)
            state = run?.object["state"] as? String ?? state
        }
        scan.cancel()
        let seen = await scan.value
        #expect(state == "completed", "\(server.log.suffix(2000))")
        // A pooled connection the server has just closed can fail once: ask again.
        let end =
            try? await server.events(of: "run-1", within: .seconds(60)) { $0.last?.name == "end" }
        var events = end ?? []
        if end == nil { events = try await server.events(of: "run-1", within: .seconds(60)) { $0.last?.name == "end" } }
        #expect(seen.isEmpty, "\(Set(seen))")
        #expect(hosts.file("MAIL", "actions.log").split(separator: "\n").filter { $0 == "install exchange-2003-sp2" }.count == 1)
        #expect(events.last?.data.contains("completed") == true)
        var answers = [server.log, events.map(\.data).joined()]
        for path in ["/api/runs", "/api/runs/run-1", "/api/runs/run-1/report", "/api/runs/run-1/report?format=html"] {
            answers.append(try await server.call(.GET, path, token: admin).body)
        }
        #expect(answers[3].contains("********"), "the echoed password is kept masked")
        #expect(answers.allSatisfy { !$0.contains(password) })
        #expect(LeakScan.files(under: server.state, holding: password).isEmpty)
    }
}
