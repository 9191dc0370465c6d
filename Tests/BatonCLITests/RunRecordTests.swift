import Foundation
import Testing

/// The run record as a change board reads it: a finished run's report never changes, every
/// failed attempt stays in it, and a run with nothing to do says so.
@Suite("A record you can trust")
struct RunRecordTests {
    static let example = "examples/mx-two-member-dag.yaml"

    @Test("a finished run's report is the same after another run on the same twin, in every format")
    func reportIsEvidence() throws {
        let folder = try BatonProcess.UserFolder("run-record")
        defer { folder.remove() }
        let shell = folder.shell
        #expect(try shell("baton run \(Self.example) --package exchange-2016-cu23 --yes").status == 0)
        let formats = ["text", "markdown", "html", "json"]
        let before = try formats.map { try shell("baton report run-1 --format \($0)").stdout }
        // The same organization a month later: every server at CU23, its security update next.
        let cu23 = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent(Self.example), encoding: .utf8
        ).replacingOccurrences(of: "level: cu22", with: "level: cu23")
        try cu23.write(toFile: folder.path + "/cu23.yaml", atomically: true, encoding: .utf8)
        let second = try shell("baton run cu23.yaml --package exchange-2016-cu23-feb26-su --yes")
        #expect(second.status == 0, "\(second.stdout.suffix(600))")
        let after = try formats.map { try shell("baton report run-1 --format \($0)").stdout }
        for (index, format) in formats.enumerated() {
            #expect(before[index] == after[index], "\(format) changed")
        }
        #expect(before[0].contains("15.1.2507.6") && !before[0].contains("15.1.2507.66"), "\(before[0].prefix(1200))")
        // The second run's own report has the security update's build.
        #expect(try shell("baton report run-2").stdout.contains("15.1.2507.66"))
    }

    @Test("every failed attempt stays in the report with its rule and what came after, also once resumed past")
    func failuresStay() throws {
        let folder = try BatonProcess.UserFolder("run-failures")
        defer { folder.remove() }
        let shell = folder.shell
        _ = try shell("baton lab init \(Self.example)")
        _ = try shell("baton lab fault bare-setup NW-EX1")
        #expect(try shell("baton run \(Self.example) --package exchange-2016-cu23 --yes").status == 1)
        _ = try shell("baton lab fix bare-setup NW-EX1")
        _ = try shell("baton lab fault move-blackout NW-EX2")
        #expect(try shell("baton resume run-1 --yes").status == 1)
        let completed = try shell("baton resume run-1 --yes")
        #expect(completed.status == 0, "\(completed.stdout.suffix(600))")
        let report = try shell("baton report run-1 --format json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let failures = try #require(object["failures"] as? [[String: Any]])
        #expect(failures.compactMap { $0["rule"] as? String } == ["mx-cu-run-dot-setup", "mx-startdag-move-blackout"])
        #expect(failures.map { $0["subject"] as? String } == ["NW-EX1", "NW-EX2"])
        for failure in failures {
            #expect((failure["attempt"] as? Int ?? 0) >= 1)
            #expect((failure["at"] as? String)?.hasPrefix("20") == true)
            let then = failure["then"] as? String ?? ""
            #expect(then.contains("resumed by ") && then.contains("the step succeeded later"), "\(then)")
        }
        let text = try shell("baton report run-1").stdout
        #expect(text.contains("== failures ==") && text.contains("mx-startdag-move-blackout"), "\(text.prefix(1500))")
    }

    @Test("a run with nothing to do says so, with the plan's reasons")
    func nothingToDo() throws {
        let folder = try BatonProcess.UserFolder("run-nothing")
        defer { folder.remove() }
        let run = try folder.shell("baton run \(Self.example) --package exchange-2016-cu23-feb26-su --yes")
        #expect(run.status == 0)
        #expect(run.stdout.contains("nothing to do: Left alone: NW-EX1, NW-EX2, NW-EDGE run cu22"), "\(run.stdout)")
        #expect(!run.stdout.contains("completed; \n"))
        let json = try folder.shell("baton report run-1 --format json").stdout
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect((object["nothingToDo"] as? [String])?.isEmpty == false)
    }
}
