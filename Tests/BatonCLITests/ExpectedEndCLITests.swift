import Foundation
import Testing

/// Time left, as `baton run` shows it: once half the steps are done, the expected end is within
/// a tenth of the run's real length of its real end, on twin rehearsals at speed.
@Suite("Expected end of a run")
struct ExpectedEndCLITests {
    @Test(
        "once half the steps are done, the expected end is within 10 % of the real end",
        arguments: [("mixed.yaml", "exchange-2003-sp2"), ("mx-stretched-dag.yaml", "exchange-2019-cu15")])
    func withinATenth(_ example: String, _ package: String) async throws {
        let state = BatonProcess.temporaryPath("expected-end")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let run = try await BatonProcess.finish([
            "run", "examples/\(example)", "--package", package, "--yes", "--fresh-lab", "--speed", "1500", "--state",
            state, "--format", "json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let progress = run.stdout.split(separator: "\n").compactMap { line -> [String: Any]? in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                object["event"] as? String == "progress"
            else { return nil }
            return object
        }
        #expect(progress.count >= 9, "\(run.stdout.suffix(800))")
        let half = try #require(
            progress.first { ($0["done"] as? Int ?? 0) * 2 >= ($0["total"] as? Int ?? 1) })
        let last = try #require(progress.last)
        #expect(last["done"] as? Int == last["total"] as? Int)
        let realEnd = try #require(last["elapsedSeconds"] as? Double)
        let expected =
            try #require(half["elapsedSeconds"] as? Double) + (try #require(half["remainingSeconds"] as? Double))
        #expect(abs(expected - realEnd) <= 0.1 * realEnd, "expected \(expected) s, ended at \(realEnd) s: \(progress)")
    }
}
