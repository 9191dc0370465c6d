import BatonTestSupport
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The engine's promise: a controller killed at any instant resumes exactly where it
/// stopped, nothing applied twice, no virtual server left without an online owner.
@Suite("Crash and resume")
struct CrashResumeTests {
    /// A few kills in CI; `BATON_CRASH_KILLS=1000 swift test --filter CrashResume` for a long run.
    static let kills = Int(ProcessInfo.processInfo.environment["BATON_CRASH_KILLS"] ?? "") ?? 6

    @Test(
        "baton run killed with SIGKILL at random instants; baton resume completes every time",
        arguments: ["sqlite", "postgres"])
    func killAndResume(_ backend: String) async throws {
        try await crashAndResume("examples/mixed.yaml", package: "exchange-2003-sp2", backend: backend)
    }

    @Test(
        "a DAG rollout killed at random instants: every CU once, no server left in maintenance, every database mounted")
    func killAndResumeADAG() async throws {
        try await crashAndResume("examples/mx-two-member-dag.yaml", package: "exchange-2016-cu23", backend: "sqlite")
    }

    func crashAndResume(_ example: String, package: String, backend: String) async throws {
        var generator = SystemRandomNumberGenerator()
        var interrupted = 0
        let server = backend == "postgres" ? try PostgresServer.shared() : nil
        for attempt in 0..<Self.kills {
            let state = BatonProcess.temporaryPath("baton-crash")
            defer { try? FileManager.default.removeItem(atPath: state) }
            // With PostgreSQL the journal and the twin are in a database of their own.
            let journal = try server.map { ["--journal", try $0.newDatabase()] } ?? []
            let run =
                [
                    "run", example, "--package", package, "--state", state, "--run", "r", "--yes",
                ] + journal
            let delay = Duration.milliseconds(Int64.random(in: 0...1200, using: &generator))
            // SQLite: the delay counts from the journal's first write; PostgreSQL: from the start.
            let once = server == nil ? state + "/journal.sqlite" : "/"
            if try await BatonProcess.kill(run + ["--speed", "10000"], once: once, after: delay) {
                interrupted += 1
            }

            var resumed = try BatonProcess.run(["resume", "r", "--state", state, "--yes"] + journal)
            if resumed.status == 2, resumed.stderr.contains("no run 'r'") {
                // Killed before the run was recorded (one transaction): nothing started, so
                // the operator simply runs it again.
                resumed = try BatonProcess.run(run)
            }
            if resumed.status == 1, resumed.stderr.contains("run r is completed already") {
                // Killed after the run completed: a finished run is not resumed.
                resumed.status = 0
            }
            #expect(resumed.status == 0, "attempt \(attempt): \(resumed.stdout.suffix(600)) \(resumed.stderr)")
            let status = try BatonProcess.run(["status", "r", "--state", state, "--format", "json"] + journal)
            let record = try #require(
                try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            #expect(record["state"] as? String == "completed")

            let show = try BatonProcess.run(["lab", "show", "--state", state, "--format", "json"] + journal)
            let twin = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            let history = try #require(twin["history"] as? [[String: Any]])
            var installs: [String: Int] = [:]
            for entry in history where entry["action"] as? String == "install" && entry["applied"] as? Bool == true {
                installs[entry["summary"] as! String, default: 0] += 1
            }
            #expect(!installs.isEmpty)
            #expect(
                installs.values.allSatisfy { $0 == 1 },
                "attempt \(attempt): installed twice: \(installs.filter { $0.value > 1 })")
            let groups = try #require(twin["groups"] as? [String: [String: Any]])
            for (name, group) in groups where group["isVirtualServer"] as? Bool == true {
                let resources = group["resources"] as? [String: Bool] ?? [:]
                #expect(resources.values.allSatisfy { $0 }, "attempt \(attempt): \(name) left offline")
            }
            let accounting = try #require(twin["accounting"] as? [String: Any])
            #expect(
                (accounting["violations"] as? [Any])?.isEmpty == true,
                "attempt \(attempt): \(accounting["violations"] ?? "")")
            #expect((accounting["unplannedFailovers"] as? [Any])?.isEmpty == true)
            if let modern = twin["modern"] as? [String: Any] {
                for (name, server) in modern["servers"] as? [String: [String: Any]] ?? [:] {
                    for flag in ["inDAGMaintenance", "draining", "offline"] {
                        #expect(server[flag] as? Bool == false, "attempt \(attempt): \(name) left \(flag)")
                    }
                }
                let databases = modern["databases"] as? [String: [String: Any]] ?? [:]
                #expect(!databases.isEmpty)
                for (name, database) in databases {
                    #expect(database["mounted"] is String, "attempt \(attempt): \(name) left unmounted")
                }
            }
        }
        #expect(interrupted > 0, "no kill landed while the run was going")
    }
}
