import Foundation
import Testing

/// The monthly job as an administrator runs it: one plan for a mixed organization, a
/// catalogue added between releases, a saved plan run as reviewed, and a canary first.
@Suite("The monthly job at the command line")
struct MonthlyJobCLITests {
    static let example = "examples/mx-monthly-mixed.yaml"

    /// A March security update for Exchange 2019 CU15 that the built-in catalogue lacks.
    static let march = """
        packages:
          - id: exchange-2019-cu15-mar26-su
            product: exchange-2019
            kind: security-update
            requires: cu15
            build: 15.2.1748.50
            update: mar26-su
        """

    @Test("the twin rehearses --to latest-cu to completion with each server at its expected build")
    func rehearsal() throws {
        let folder = try BatonProcess.UserFolder("monthly-rehearsal")
        defer { folder.remove() }
        let run = try folder.shell("baton run \(Self.example) --to latest-cu --yes")
        #expect(run.status == 0, "\(run.stdout.suffix(800)) \(run.stderr)")
        let report = try folder.shell("baton report run-1").stdout
        let after = Dictionary(
            uniqueKeysWithValues: report.split(separator: "\n").compactMap { line -> (String, String)? in
                let columns = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
                guard columns.count == 4, columns[3] == "up" else { return nil }
                return (columns[0], columns[2])
            })
        #expect(
            after == [
                "MBX1": "15.2.1748.43", "MBX2": "15.2.1748.43", "MBX3": "15.2.1748.43", "MBX4": "15.2.1748.43",
                "MBX5": "15.2.1748.43", "EDGE1": "15.2.1748.43", "SE1": "15.2.2562.37", "SE2": "15.2.2562.37",
                "EDGE2": "15.2.2562.17", "LEGACY16": "15.1.2507.66",
            ], "\(report.prefix(1500))")
        #expect(report.contains("no rule was violated"), "\(report.suffix(600))")
    }

    @Test("the commands of a plan toward a target: each server's maintenance for its own version, each install its own package")
    func commands() throws {
        let folder = try BatonProcess.UserFolder("monthly-commands")
        defer { folder.remove() }
        let legacy = try folder.shell("baton commands \(Self.example) --to latest --host LEGACY16")
        #expect(legacy.status == 0, "\(legacy.stderr)")
        // Exchange 2016 drains its UMCallRouter too; 2019 has none.
        #expect(legacy.stdout.contains("if ('exchange-2016' -in 'exchange-2013','exchange-2016')"))
        #expect(legacy.stdout.contains(#"C:\Baton\packages\exchange-2016-cu23-feb26-su\exchange-2016-cu23-feb26-su.msp"#))
        #expect(legacy.stdout.contains("LEGACY16 reports build $build, not 15.1.2507.66"))
        let mbx1 = try folder.shell("baton commands \(Self.example) --to latest --host MBX1").stdout
        #expect(mbx1.contains("if ('exchange-2019' -in 'exchange-2013','exchange-2016')"))
        #expect(mbx1.contains("exchange-2019-cu14-feb26-su.msp") && !mbx1.contains("exchange-2016-cu23-feb26-su"))
    }

    @Test("--limit DAG1, then a run without it: every install once in total, on the twin")
    func canaryThenRest() throws {
        let folder = try BatonProcess.UserFolder("monthly-canary")
        defer { folder.remove() }
        let canary = try folder.shell("baton run \(Self.example) --to latest --limit DAG1 --yes")
        #expect(canary.status == 0, "\(canary.stdout.suffix(600)) \(canary.stderr)")
        let rest = try folder.shell("baton run \(Self.example) --to latest --yes")
        #expect(rest.status == 0, "\(rest.stdout.suffix(600)) \(rest.stderr)")
        #expect(rest.stderr.contains("already runs another build than \(Self.example) says on MBX1, MBX2, MBX3"))
        var installs: [String: Int] = [:]
        for line in (canary.stdout + rest.stdout).split(separator: "\n") where line.contains(" succeeded install ") {
            let host = line.split(separator: " ").drop { $0 != "on" }.dropFirst().first.map { String($0.dropLast()) }
            installs[host ?? "?", default: 0] += 1
        }
        #expect(installs.count == 9, "\(installs)")
        #expect(installs.values.allSatisfy { $0 == 1 }, "\(installs)")
    }

    @Test("a catalogue file adds a package the day it ships; one with errors is located, every problem at once, exit 2")
    func catalogue() throws {
        let folder = try BatonProcess.UserFolder("monthly-catalogue")
        defer { folder.remove() }
        try Self.march.write(toFile: folder.path + "/march.yaml", atomically: true, encoding: .utf8)
        let shown = try folder.shell("baton packages \(Self.example) --to latest --catalogue march.yaml")
        #expect(shown.status == 0)
        #expect(
            shown.stdout.contains("MBX4") && shown.stdout.contains("exchange-2019-cu15-mar26-su"), "\(shown.stdout)")
        let viaEnvironment = try folder.shell("BATON_CATALOGUE=march.yaml baton plan \(Self.example) --to latest")
        #expect(
            viaEnvironment.stdout.contains(
                "exchange-2019-cu15-mar26-su (security-update, build 15.2.1748.50): MBX4, MBX5, EDGE1"))
        let broken = """
            packages:
              - id: exchange-2019-cu15-mar26-su
                product: exchange-2091
                kind: security-update
                requires: cu15
              - id: exchange-2019-cu15
                product: exchange-2019
                kind: cumulative-update
                level: cu15
                colour: blue
            """
        try broken.write(toFile: folder.path + "/broken.yaml", atomically: true, encoding: .utf8)
        let refused = try folder.shell("baton plan \(Self.example) --to latest --catalogue broken.yaml")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("broken.yaml:3:14: error: product 'exchange-2091'"), "\(refused.stderr)")
        #expect(
            refused.stderr.contains("broken.yaml:6:5:") && refused.stderr.contains("built-in package"),
            "\(refused.stderr)")
        #expect(refused.stderr.contains("broken.yaml:10:5:") && refused.stderr.contains("colour"), "\(refused.stderr)")
    }

    @Test(
        "a saved plan runs as saved, and is refused after a change to the inventory, the catalogue, a build, or a hand edit"
    )
    func savedPlan() throws {
        let folder = try BatonProcess.UserFolder("monthly-saved")
        defer { folder.remove() }
        let shell = folder.shell
        try FileManager.default.copyItem(
            atPath: BatonProcess.packageRoot.appendingPathComponent(Self.example).path,
            toPath: folder.path + "/org.yaml")
        try Self.march.write(toFile: folder.path + "/march.yaml", atomically: true, encoding: .utf8)
        let saved = try shell("baton plan org.yaml --to latest --catalogue march.yaml --limit DAG2 --out plan.json")
        #expect(saved.status == 0 && saved.stdout.contains("sha256:"), "\(saved.stderr)")
        let digest = try #require(saved.stdout.split(separator: ":").dropFirst(2).first?.prefix(64))
        let text = try String(contentsOfFile: folder.path + "/plan.json", encoding: .utf8)

        // The inventory changed.
        try (try String(contentsOfFile: folder.path + "/org.yaml", encoding: .utf8) + "# edited\n").write(
            toFile: folder.path + "/org.yaml", atomically: true, encoding: .utf8)
        var refused = try shell("baton run plan.json --yes")
        #expect(refused.status == 3)
        #expect(
            refused.stderr.contains("the inventory org.yaml has changed since the plan was made"), "\(refused.stderr)")
        try FileManager.default.removeItem(atPath: folder.path + "/org.yaml")
        try FileManager.default.copyItem(
            atPath: BatonProcess.packageRoot.appendingPathComponent(Self.example).path,
            toPath: folder.path + "/org.yaml")

        // The catalogue changed.
        try Self.march.replacingOccurrences(of: "15.2.1748.50", with: "15.2.1748.51").write(
            toFile: folder.path + "/march.yaml", atomically: true, encoding: .utf8)
        refused = try shell("baton run plan.json --yes")
        #expect(refused.status == 3)
        #expect(refused.stderr.contains("the catalogue march.yaml has changed"), "\(refused.stderr)")
        try Self.march.write(toFile: folder.path + "/march.yaml", atomically: true, encoding: .utf8)

        // Edited by hand: a step's action.
        try text.replacingOccurrences(of: "\"drain-transport\"", with: "\"server-offline\"").write(
            toFile: folder.path + "/edited.json", atomically: true, encoding: .utf8)
        refused = try shell("baton run edited.json --yes")
        #expect(refused.status == 2)
        #expect(
            refused.stderr.contains("edited.json: error: step s") && refused.stderr.contains("differs"),
            "\(refused.stderr)")
        // Edited by hand: a reason, with the digest left as it was.
        try text.replacingOccurrences(of: "before the first change", with: "whenever").write(
            toFile: folder.path + "/reworded.json", atomically: true, encoding: .utf8)
        refused = try shell("baton run reworded.json --yes")
        #expect(refused.status == 2, "\(refused.stderr)")

        // A server's build on the twin is not the one the plan was made for.
        #expect(try shell("baton lab init org.yaml").status == 0)
        #expect(try shell("baton run org.yaml --to latest --limit MBX4 --yes").status == 0)
        refused = try shell("baton run plan.json --yes")
        #expect(refused.status == 3)
        #expect(
            refused.stderr.contains("MBX4 runs 15.2.1748.43 now; the plan was made for 15.2.1748.10"),
            "\(refused.stderr)")

        // As saved, on a fresh twin: it waits at its gate, whose approval names the plan's
        // digest; it runs, and the report names its digest.
        let waiting = try shell("baton run plan.json --fresh-lab --run reviewed")
        #expect(waiting.status == 1, "\(waiting.stdout.suffix(600)) \(waiting.stderr)")
        let approved = try shell("baton approve reviewed release-notes --by alice")
        #expect(
            approved.stdout.contains("approved by alice, for the saved plan sha256:\(digest)"), "\(approved.stdout)")
        let ran = try shell("baton resume reviewed")
        #expect(ran.status == 0, "\(ran.stdout.suffix(600)) \(ran.stderr)")
        #expect(try shell("baton report reviewed").stdout.contains("The saved plan sha256:\(digest)"))
    }
}
