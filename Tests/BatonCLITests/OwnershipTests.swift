import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// One owner per run: real `baton` processes on one state directory, racing, killed, paused
/// and interrupted. Every install happens once, whoever touches the run.
@Suite("One owner per run")
struct OwnershipTests {
    static let contoso = ["examples/contoso.yaml", "--package", "exchange-2003-sp2"]

    @Test("two baton run started together: one drives, the other is refused naming the owner")
    func twoRunsTogether() async throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let arguments = ["run"] + Self.contoso + ["--state", state, "--yes", "--speed", "2000"]
        let first = try BackgroundBaton(arguments)
        let second = try BackgroundBaton(arguments)
        let results = [await first.wait(), await second.wait()]
        #expect(results.filter { $0 == 0 }.count == 1, "\(first.output) \(second.output)")
        let refused = results[0] == 0 ? second : first
        #expect(results.contains(1), "the refused one exits 1: \(refused.output)")
        #expect(refused.output.contains("driven by process"), "\(refused.output)")
        #expect(!refused.output.contains("cannot replace"))
        try Self.expectEveryInstallOnce(state)
    }

    @Test("baton resume while the owner lives is refused; kill -9, status says interrupted, resume completes")
    func resumeWhileOwnerLivesThenAfterKill() async throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        // Slow enough that it cannot finish while the test looks at it, however loaded the machine.
        let owner = try BackgroundBaton(
            ["run"] + Self.contoso + ["--state", state, "--yes", "--speed", "20", "--json"])
        try await owner.waitFor("\"event\":\"started\"")
        let resume = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(resume.status == 1, "\(resume.stdout) \(resume.stderr)")
        #expect(resume.stderr.contains("run-1 is being driven by process \(owner.pid)"), "\(resume.stderr)")
        #expect(resume.stderr.contains("last heartbeat"))
        let live = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        #expect(try Self.state(of: live.stdout) == "running")

        kill(owner.pid, SIGKILL)
        _ = await owner.wait()
        let status = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        #expect(try Self.state(of: status.stdout) == "interrupted", "\(status.stdout)")
        let text = try await BatonProcess.finish(["status", "--state", state])
        #expect(text.stdout.contains("interrupted"), "\(text.stdout)")
        // The API and the metrics say the same.
        let server = try await ServeProcess(state: state)
        let runs = try await server.call(.GET, "/api/runs").json as? [[String: Any]] ?? []
        #expect(runs.first?["state"] as? String == "interrupted", "\(runs)")
        #expect((runs.first?["owner"] as? [String: Any])?["live"] as? Bool == false)
        let metrics = try await server.call(.GET, "/metrics").body
        #expect(metrics.contains("baton_runs{state=\"interrupted\"} 1"), "\(metrics.prefix(600))")
        server.stop()
        let resumed = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(resumed.status == 0, "\(resumed.stdout.suffix(800)) \(resumed.stderr)")
        try Self.expectEveryInstallOnce(state)
    }

    @Test("an owner paused past its lease loses the run: it applies nothing more and says so")
    func pausedOwnerIsFenced() async throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let owner = try BackgroundBaton(
            ["run"] + Self.contoso + ["--state", state, "--yes", "--speed", "100", "--json", "--lease-expiry", "2"])
        try await owner.waitFor("\"event\":\"started\"")
        kill(owner.pid, SIGSTOP)
        try await Task.sleep(for: .seconds(4))
        let other = try BackgroundBaton(["resume", "run-1", "--state", state, "--yes", "--speed", "400"])
        // The paused owner wakes once the other has taken the run over, however long that
        // takes on a busy machine.
        for _ in 0..<1200 {
            let status = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
            let object = try? JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any]
            if (object?["owner"] as? [String: Any])?["pid"] as? Int == Int(other.pid) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        kill(owner.pid, SIGCONT)
        let paused = await owner.wait()
        #expect(paused == 1, "\(owner.output)")
        #expect(owner.output.contains("no longer owns run-1"), "\(owner.output)")
        #expect(await other.wait() == 0, "\(other.output.suffix(800))")
        try Self.expectEveryInstallOnce(state)
    }

    @Test("SIGINT during an install: the install finishes, the run is halted, resume completes")
    func interruptLetsTheInstallFinish() async throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let owner = try BackgroundBaton(
            ["run"] + Self.contoso + ["--state", state, "--yes", "--speed", "100", "--json"])
        try await owner.waitFor("\"event\":\"started\"", "\"summary\":\"install ")
        kill(owner.pid, SIGINT)
        #expect(await owner.wait() == 1, "\(owner.output)")
        #expect(owner.output.contains("baton resume run-1"), "\(owner.output)")
        // It says what it waits for: the install under way, on its host.
        #expect(owner.output.contains("still running to finish:"), "\(owner.output)")
        #expect(owner.output.contains(" install exchange-2003-sp2 on "), "\(owner.output)")
        let status = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        #expect(try Self.state(of: status.stdout) == "halted", "\(status.stdout)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(!steps.contains { $0["state"] as? String == "running" })
        #expect(
            steps.contains { ($0["action"] as? String) == "install" && $0["state"] as? String == "succeeded" },
            "the install under way finished")
        let resumed = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(resumed.status == 0, "\(resumed.stdout.suffix(800)) \(resumed.stderr)")
        try Self.expectEveryInstallOnce(state)
    }

    @Test("abort of a run nobody drives brings its virtual server back online; the run is then finished")
    func abortUndrivenRun() throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let example = "examples/e2003-two-node-cluster.yaml"
        #expect(try BatonProcess.run(["lab", "init", example, "--state", state]).status == 0)
        #expect(try BatonProcess.run(["lab", "fault", "evs-upgrade-fails", "EVS1", "--state", state]).status == 0)
        let run = try BatonProcess.run(["run", example, "--package", "exchange-2003-sp2", "--state", state, "--yes"])
        #expect(run.status == 1 && run.stdout.contains("c1037b44"), "\(run.stdout)")
        #expect(try Self.onlineState(of: "EVS1", in: state) == false, "the failed upgrade left EVS1 offline")
        let abort = try BatonProcess.run(["abort", "run-1", "--state", state])
        #expect(abort.status == 0 && abort.stdout.contains("online again"), "\(abort.stdout)\(abort.stderr)")
        #expect(try Self.onlineState(of: "EVS1", in: state) == true)
        let status = try BatonProcess.run(["status", "run-1", "--state", state, "--format", "json"])
        #expect(try Self.state(of: status.stdout) == "aborted")
        #expect(try BatonProcess.run(["resume", "run-1", "--state", state]).status == 1)
    }

    static func onlineState(of group: String, in state: String) throws -> Bool? {
        let show = try BatonProcess.run(["lab", "show", "--state", state, "--format", "json"])
        let twin = try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any]
        let groups = twin?["groups"] as? [String: [String: Any]] ?? [:]
        let resources = groups[group.lowercased()]?["resources"] as? [String: Bool]
        return resources.map { $0.values.allSatisfy { $0 } }
    }

    @Test("--yes approvals are recorded; a finished run cannot be approved, aborted or resumed")
    func honestAuditTrail() throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let run = try BatonProcess.run(["run"] + Self.contoso + ["--state", state, "--yes"])
        #expect(run.status == 0, "\(run.stdout.suffix(500))")
        let report = try BatonProcess.run(["report", "run-1", "--state", state, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let approvals = try #require(object["approvals"] as? [[String: String]])
        #expect(approvals.first?["gate"] == "release-notes" && approvals.first?["how"] == "--yes", "\(approvals)")

        let approve = try BatonProcess.run(["approve", "run-1", "release-notes", "--by", "alice", "--state", state])
        #expect(approve.status == 1 && approve.stderr.contains("completed"), "\(approve.stderr)")
        #expect(try BatonProcess.run(["abort", "run-1", "--state", state]).status == 1)
        #expect(try BatonProcess.run(["resume", "run-1", "--state", state]).status == 1)
        let after = try BatonProcess.run(["report", "run-1", "--state", state, "--format", "json"])
        let again = try #require(try JSONSerialization.jsonObject(with: Data(after.stdout.utf8)) as? [String: Any])
        #expect(again["state"] as? String == "completed")
        #expect((again["approvals"] as? [Any])?.count == approvals.count)
    }

    @Test("a second approval of a gate is refused and the first approver stays")
    func approvalsAreAppendOnly() throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let first = try BatonProcess.run([
            "run", "examples/sbs-2003.yaml", "--package", "exchange-2003-sp2", "--state", state,
        ])
        #expect(first.status == 1)
        #expect(
            try BatonProcess.run(["approve", "run-1", "release-notes", "--by", "alice", "--state", state]).status == 0)
        let second = try BatonProcess.run(["approve", "run-1", "release-notes", "--by", "mallory", "--state", state])
        #expect(second.status == 1 && second.stderr.contains("alice"), "\(second.stderr)")
        #expect(try BatonProcess.run(["resume", "run-1", "--state", state]).status == 0)
        let report = try BatonProcess.run(["report", "run-1", "--state", state, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let approvals = try #require(object["approvals"] as? [[String: String]])
        #expect(approvals.map { $0["by"] } == ["alice"])
        #expect(approvals.first?["how"] == "baton approve")
    }

    @Test("baton run and baton serve race for the same run and the same twin")
    func commandLineAndServerRace() async throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let server = try await ServeProcess(state: state)
        defer { server.stop() }
        let operatorToken = try server.token("operator", name: "olga")
        let inventory = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("examples/contoso.yaml"), encoding: .utf8)
        let started = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: ["package": "exchange-2003-sp2", "inventory": inventory, "speed": "200", "approveAll": true])
        #expect(started.status == 201, "\(started.body)")
        try await server.waitForSucceeded(2)

        let resume = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(resume.status == 1 && resume.stderr.contains("being driven by process"), "\(resume.stderr)")
        let second = try await BatonProcess.finish(["run"] + Self.contoso + ["--state", state, "--yes"])
        #expect(second.status == 1, "\(second.stdout) \(second.stderr)")
        #expect(second.stderr.contains("lab twin") && second.stderr.contains("run-1"), "\(second.stderr)")

        let end = try await server.events(of: "run-1", within: .seconds(600)) { $0.last?.name == "end" }
        #expect(end.last?.data.contains("completed") == true, "\(end.suffix(3))")
        try Self.expectEveryInstallOnce(state)
    }

    @Test("the API refuses to resume, or to start a run on the same twin, while baton run drives")
    func serverDefersToTheCommandLine() async throws {
        let state = BatonProcess.temporaryPath("baton-own")
        defer { try? FileManager.default.removeItem(atPath: state) }
        // Slow enough that it cannot finish while the server starts and is asked, however loaded
        // the machine; ended by kill -9 and a resume below.
        let owner = try BackgroundBaton(
            ["run"] + Self.contoso + ["--state", state, "--yes", "--speed", "20", "--json"])
        try await owner.waitFor("\"event\":\"succeeded\"")
        let server = try await ServeProcess(state: state)
        defer { server.stop() }
        let operatorToken = try server.token("operator", name: "olga")
        let resume = try await server.call(.POST, "/api/runs/run-1/resume", token: operatorToken)
        #expect(resume.status == 409 && resume.body.contains("process \(owner.pid)"), "\(resume.body)")
        let another = try await server.call(
            .POST, "/api/runs", token: operatorToken,
            body: ["package": "exchange-2003-sp2", "inventoryPath": "examples/contoso.yaml", "approveAll": true])
        #expect(another.status == 409 && another.body.contains("run-1"), "\(another.body)")
        let runs = try await server.call(.GET, "/api/runs").json as? [[String: Any]] ?? []
        #expect(runs.count == 1 && runs.first?["state"] as? String == "running", "\(runs)")
        server.stop()
        kill(owner.pid, SIGKILL)
        _ = await owner.wait()
        let resumed = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(resumed.status == 0, "\(resumed.stdout.suffix(800)) \(resumed.stderr)")
        try Self.expectEveryInstallOnce(state)
    }

    // MARK: Helpers

    static func state(of json: String) throws -> String? {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
        return object?["state"] as? String
    }

    /// The twin's history: every install applied exactly once, and no virtual server offline.
    static func expectEveryInstallOnce(
        _ state: String, journal: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let show = try BatonProcess.run(
            ["lab", "show", "--state", state, "--format", "json"] + (journal.map { ["--journal", $0] } ?? []))
        let twin = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let history = try #require(twin["history"] as? [[String: Any]])
        var installs: [String: Int] = [:]
        for entry in history where entry["action"] as? String == "install" && entry["applied"] as? Bool == true {
            installs[entry["summary"] as? String ?? "", default: 0] += 1
        }
        #expect(!installs.isEmpty, sourceLocation: sourceLocation)
        #expect(
            installs.values.allSatisfy { $0 == 1 }, "installed twice: \(installs.filter { $0.value > 1 })",
            sourceLocation: sourceLocation)
        let groups = twin["groups"] as? [String: [String: Any]] ?? [:]
        for (name, group) in groups where group["isVirtualServer"] as? Bool == true {
            let resources = group["resources"] as? [String: Bool] ?? [:]
            #expect(resources.values.allSatisfy { $0 }, "\(name) left offline", sourceLocation: sourceLocation)
        }
    }
}

/// A `baton` process in the background whose output (stdout and stderr together) can be
/// watched while it runs.
final class BackgroundBaton: @unchecked Sendable {
    let process = Process()
    let file: URL

    init(_ arguments: [String]) throws {
        file = URL(fileURLWithPath: BatonProcess.temporaryPath("baton-bg") + ".log")
        _ = FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        process.executableURL = BatonProcess.executable
        process.currentDirectoryURL = BatonProcess.packageRoot
        process.arguments = arguments
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.launchSerially()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(at: file)
    }

    var pid: Int32 { process.processIdentifier }

    var output: String { (try? String(contentsOf: file, encoding: .utf8)) ?? "" }

    /// Waits (up to two minutes) until a line of the output holds every one of `texts`.
    func waitFor(_ texts: String..., limit: Duration = .seconds(120)) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline {
            if output.split(separator: "\n").contains(where: { line in texts.allSatisfy { line.contains($0) } }) {
                return
            }
            guard process.ending == nil else { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ServeError(description: "never printed \(texts): \(output.suffix(800))")
    }

    /// Waits for the process to end; returns its exit status.
    func wait() async -> Int32 {
        await process.ended().status
    }
}
