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

    @Test("baton run killed with SIGKILL at random instants; baton resume completes every time")
    func killAndResume() async throws {
        var generator = SystemRandomNumberGenerator()
        var interrupted = 0
        for attempt in 0..<Self.kills {
            let state = BatonProcess.temporaryPath("baton-crash")
            defer { try? FileManager.default.removeItem(atPath: state) }
            let run = [
                "run", "examples/mixed.yaml", "--package", "exchange-2003-sp2", "--state", state, "--run", "r", "--yes",
            ]
            let delay = Duration.milliseconds(Int64.random(in: 0...1200, using: &generator))
            if try await BatonProcess.kill(run + ["--speed", "40000"], once: state + "/journal.sqlite", after: delay) {
                interrupted += 1
            }

            var resumed = try BatonProcess.run(["resume", "r", "--state", state, "--yes"])
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
            let status = try BatonProcess.run(["status", "r", "--state", state, "--format", "json"])
            let record = try #require(
                try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
            #expect(record["state"] as? String == "completed")

            let show = try BatonProcess.run(["lab", "show", "--state", state, "--format", "json"])
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
        }
        #expect(interrupted > 0, "no kill landed while the run was going")
    }
}
