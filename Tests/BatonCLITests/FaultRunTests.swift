import Foundation
import Testing

@Suite("Runs meeting injected faults")
struct FaultRunTests {
    /// Each fault of the lab twin: the run halts with a clear message (and KB 328839's rule
    /// where there is one); after the operator's fix, resume completes with no rule broken.
    @Test(
        "the run halts with the right message; after the fix, resume completes",
        arguments: [
            ("file-in-use", "BE1", "FileInUse:: Added to Filelist:", false),
            ("installer-running", "NODE2", "another setup, update or xcopy is running", true),
            ("disk-full", "FE1", "not enough free disk space", true),
            // B3 already runs SP2, so no install of this rollout reinstalls it: the eviction bites.
            ("evicted", "mixed.yaml:B3", "missing from the menu", true),
            ("move-fails", "EVS1", "the move of EVS1", false),
            ("move-hangs", "EVS1", "did not complete", false),
            ("evs-upgrade-fails", "EVS1", "c1037b44", false),
            ("no-return-after-restart", "NODE1", "did not come back", true),
        ])
    func faultThenResume(_ kind: String, _ where: String, _ message: String, _ needsFix: Bool) throws {
        let parts = `where`.split(separator: ":").map(String.init)
        let (example, target) =
            parts.count == 2 ? ("examples/" + parts[0], parts[1]) : ("examples/contoso.yaml", parts[0])
        let state = BatonProcess.temporaryPath("baton-fault")
        defer { try? FileManager.default.removeItem(atPath: state) }
        _ = try BatonProcess.run(["lab", "init", example, "--state", state])
        #expect(try BatonProcess.run(["lab", "fault", kind, target, "--state", state]).status == 0)
        let first = try BatonProcess.run(["run", example, "--package", "exchange-2003-sp2", "--state", state, "--yes"])
        #expect(first.status == 1, "\(kind): \(first.stdout.suffix(400))")
        #expect(first.stdout.contains(message), "\(kind): \(first.stdout.suffix(800))")
        #expect(first.stdout.contains("baton resume run-1"))
        if needsFix {
            #expect(try BatonProcess.run(["lab", "fix", kind, target, "--state", state]).status == 0)
        }
        let resumed = try BatonProcess.run(["resume", "run-1", "--state", state, "--yes"])
        #expect(resumed.status == 0, "\(kind): \(resumed.stdout.suffix(800))")
        #expect(resumed.stdout.contains("no rule of KB 328839 was violated"), "\(kind): \(resumed.stdout.suffix(800))")
    }

    /// A server reached with a key logon: its session cannot reach the network. The twin fails
    /// where a real rollout would, before anything changes: check names it, the run halts before
    /// its first step, and once the logon is fixed the same run completes.
    @Test("key-logon: baton check and the run's first step stop on it; fixed, the run completes")
    func keyLogon() async throws {
        let example = "examples/mx-two-member-dag.yaml"
        let state = BatonProcess.temporaryPath("baton-key-logon")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let package = ["--package", "exchange-2016-cu23", "--state", state]
        _ = try await BatonProcess.finish(["lab", "init", example, "--state", state])
        #expect(try await BatonProcess.finish(["lab", "fault", "key-logon", "NW-EX2", "--state", state]).status == 0)
        let check = try await BatonProcess.finish(["check", example] + package)
        #expect(check.status == 1)
        #expect(
            check.stdout.contains("FAIL    network") && check.stdout.contains("an SSH key logon on Windows"),
            "\(check.stdout.suffix(800))")
        let first = try await BatonProcess.finish(["run", example] + package + ["--yes"])
        #expect(first.status == 1, "\(first.stdout.suffix(400))")
        #expect(first.stderr.contains("network NW-EX2: an SSH key logon on Windows carries no network credentials"))
        let status = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        #expect(status.stdout.contains("\"state\" : \"halted\"") && !status.stdout.contains("\"succeeded\""))
        #expect(try await BatonProcess.finish(["lab", "fix", "key-logon", "NW-EX2", "--state", state]).status == 0)
        let resumed = try await BatonProcess.finish(["resume", "run-1", "--state", state, "--yes"])
        #expect(resumed.status == 0, "\(resumed.stdout.suffix(800))")
    }

    /// A twin taken to Exchange SE, then asked for 2019 CU15's security update: setup refuses
    /// to go back, and baton check says the twin no longer runs what the inventory says.
    @Test("a downgrade is refused on the twin, and baton check names each machine that drifted from the inventory")
    func downgradeAndDrift() async throws {
        let example = "examples/mx-standalone-to-se.yaml"
        let state = BatonProcess.temporaryPath("baton-downgrade")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let se = try await BatonProcess.finish(["run", example, "--package", "exchange-se-rtm", "--state", state, "--yes"])
        #expect(se.status == 0, "\(se.stdout.suffix(600))")

        let su = "exchange-2019-cu15-feb26-su"
        let check = try await BatonProcess.finish(["check", example, "--package", su, "--state", state])
        #expect(check.status == 1, "\(check.stdout)")
        let drift = check.stdout.split(separator: "\n").filter { $0.hasPrefix("FAIL") && $0.contains(" drift ") }
        #expect(!drift.isEmpty, "\(check.stdout)")
        #expect(
            drift.allSatisfy {
                $0.contains("runs exchange-se rtm (15.2.2562.17); the inventory says exchange-2019 cu15 (15.2.1748.10)")
            }, "\(drift)")

        let back = try await BatonProcess.finish(["run", example, "--package", su, "--state", state, "--yes"])
        #expect(back.status == 1, "\(back.stdout.suffix(600))")
        #expect(back.stdout.contains("newer than \(su)'s 15.2.1748.43; setup does not take a server back to an earlier build"), "\(back.stdout.suffix(1200))")
        #expect(back.stdout.contains("mx-no-downgrade"), "the rule is named")
        let shown = try await BatonProcess.finish(["lab", "show", "--state", state])
        #expect(shown.stdout.contains("TS-EX1         up   exchange-se rtm (build 15.2.2562.17)"), "nothing went back: \(shown.stdout.prefix(600))")
    }
}
