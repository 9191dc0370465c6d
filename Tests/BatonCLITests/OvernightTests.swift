import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Overnight runs at the command line: a run that must wait for its maintenance window says so
/// (its progress and `baton status`), stops cleanly when asked, and halts outside the window
/// when told to.
@Suite("Overnight runs at the command line")
struct OvernightTests {
    static let example = "examples/mx-two-member-dag.yaml"
    /// Friday 10:00 UTC: the window "Sat 22:00-Sun 04:00 Europe/Berlin" opens 35 hours later.
    static let friday = "2026-12-04T10:00:00Z"

    @Test("waiting for the window: the progress and baton status say until when; Ctrl-C stops the wait")
    func waits() async throws {
        let state = BatonProcess.temporaryPath("overnight")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let owner = try BackgroundBaton([
            "run", Self.example, "--package", "exchange-2016-cu23", "--state", state, "--yes", "--fresh-lab",
            "--speed", "200", "--window", "Sat 22:00-Sun 04:00 Europe/Berlin", "--rehearse-at", Self.friday,
        ])
        try await owner.waitFor("waiting for a maintenance window until 2026-12-05T21:00:00Z")
        #expect(owner.output.contains("waits for the next maintenance window, at 2026-12-05 22:00:00 Europe/Berlin"))
        let status = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(
            (object["waitingForWindow"] as? String)?.hasPrefix(
                "waiting for a maintenance window until 2026-12-05T21:00:00Z") == true, "\(status.stdout.prefix(600))")
        let text = try await BatonProcess.finish(["status", "run-1", "--state", state])
        #expect(
            text.stdout.contains("Waiting for a maintenance window until 2026-12-05T21:00:00Z"),
            "\(text.stdout.prefix(600))")
        kill(owner.pid, SIGINT)
        #expect(await owner.wait() == 1, "\(owner.output.suffix(600))")
        let after = try await BatonProcess.finish(["status", "run-1", "--state", state, "--format", "json"])
        #expect(after.stdout.contains("\"state\" : \"halted\""), "\(after.stdout.prefix(400))")
    }

    @Test("--halt-outside-window: nothing changes, the run halts naming when the window opens")
    func halts() async throws {
        let state = BatonProcess.temporaryPath("overnight-halt")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let run = try await BatonProcess.finish([
            "run", Self.example, "--package", "exchange-2016-cu23", "--state", state, "--yes", "--fresh-lab",
            "--window", "Sat 22:00-Sun 04:00 Europe/Berlin", "--rehearse-at", Self.friday, "--halt-outside-window",
        ])
        #expect(run.status == 1)
        #expect(run.stdout.contains("Run run-1 halted"), "\(run.stdout.suffix(800))")
        let status = try await BatonProcess.finish(["status", "run-1", "--state", state])
        #expect(status.stdout.contains("outside its maintenance window"), "\(status.stdout.prefix(1200))")
        #expect(status.stdout.contains("2026-12-05 22:00:00 Europe/Berlin"))
        #expect(!status.stdout.contains("Out of service now"))
        let bad = try await BatonProcess.finish([
            "run", Self.example, "--package", "exchange-2016-cu23", "--state", state, "--window",
            "Sat 22:00 Mars/Olympus",
        ])
        #expect(bad.status != 0 && bad.stderr.contains("--window"), "\(bad.stderr)")
    }
}
