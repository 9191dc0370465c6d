import Foundation
import Testing

/// A run that stops part way says what production is left in: the console, `baton status` and
/// the JSON end, each with the command that continues.
@Suite("What a stopped run leaves out of service")
struct LeftInProductionTests {
    /// A fresh folder whose twin of `example` has `fault` armed, and the run that it halts.
    static func halted(_ prefix: String, _ example: String, fault: String, _ arguments: String) throws -> (
        BatonProcess.UserFolder, BatonProcess.Result
    ) {
        let folder = try BatonProcess.UserFolder(prefix)
        _ = try folder.shell("baton lab init \(example)")
        _ = try folder.shell("baton lab fault \(fault)")
        let run = try folder.shell("baton run \(example) \(arguments)")
        #expect(run.status == 1)
        return (folder, run)
    }

    @Test(
        "a DAG member halted in maintenance: draining, in DAG maintenance, offline, agents paused; each with the step that brings it back"
    )
    func dagMember() throws {
        let (folder, run) = try Self.halted(
            "left-dag", "examples/mx-two-member-dag.yaml", fault: "bare-setup NW-EX1",
            "--package exchange-2016-cu23 --yes")
        defer { folder.remove() }
        let expected = [
            "NW-EX1 takes no new mail (HubTransport draining)",
            "NW-EX1 is in DAG maintenance mode (activation blocked, cluster node paused)",
            "NW-EX1 is offline (ServerWideOffline inactive)",
            "antivirus and other agents are paused on NW-EX1",
        ]
        #expect(run.stdout.contains("Out of service now, until the run goes on:"), "\(run.stdout.suffix(1200))")
        for line in expected { #expect(run.stdout.contains(line), "\(line)\n\(run.stdout.suffix(1200))") }
        #expect(run.stdout.contains("brings it back"))
        let status = try folder.shell("baton status run-1")
        #expect(
            status.stdout.contains("Out of service now, until the run goes on (baton resume run-1"), "\(status.stdout)")
        for line in expected { #expect(status.stdout.contains(line)) }
        let json = try folder.shell("baton status run-1 --format json")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let out = try #require(object["outOfService"] as? [String])
        #expect(out.count == 4, "\(out)")
        // Once resumed to the end, nothing is left out.
        _ = try folder.shell("baton lab fix bare-setup NW-EX1")
        #expect(try folder.shell("baton resume run-1 --yes").status == 0)
        let done = try folder.shell("baton status run-1").stdout
        #expect(!done.contains("Out of service now"), "\(done.prefix(600))")
    }

    @Test("an Exchange Virtual Server left offline by a failed upgrade is named, on KB 328839's cluster")
    func virtualServer() throws {
        let (folder, run) = try Self.halted(
            "left-evs", "examples/e2003-two-node-cluster.yaml", fault: "evs-upgrade-fails EVS1",
            "--package exchange-2003-sp2 --yes --format json")
        defer { folder.remove() }
        let end = try #require(
            run.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.last)
        let out = try #require(end["outOfService"] as? [String])
        #expect(out.contains { $0.hasPrefix("Exchange Virtual Server EVS1 is offline") }, "\(out)")
    }
}
