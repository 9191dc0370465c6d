import Foundation
import Testing

/// What a newcomer meets first: a twin that matches the inventory, output that is data, and
/// messages that say one thing once.
@Suite("A newcomer's first hour")
struct NewcomerTests {
    func stateDirectory() -> String {
        BatonProcess.temporaryPath("baton-newcomer")
    }

    @Test("check and run against a twin of another inventory stop with exit 2, saying what differs")
    func mismatchedTwin() throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        #expect(
            try BatonProcess.run(["lab", "init", "examples/e2003-two-node-cluster.yaml", "--state", state]).status == 0)
        for command in ["check", "run"] {
            let result = try BatonProcess.run(
                [command, "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--state", state]
                    + (command == "run" ? ["--yes"] : []))
            #expect(result.status == 2, "\(command): \(result.stdout)\(result.stderr)")
            #expect(result.stderr.contains("made from another inventory"), "\(result.stderr)")
            #expect(result.stderr.contains("BE1, DC2, FE1, FE2 of the inventory are not in it"), "\(result.stderr)")
            #expect(result.stderr.contains("baton lab init examples/contoso.yaml --force"))
            #expect(!result.stdout.contains("passed"), "nothing reported as checked")
        }
        let fresh = try BatonProcess.run([
            "run", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--state", state, "--yes", "--fresh-lab",
        ])
        #expect(fresh.status == 0)
    }

    @Test("the twin's history names hosts, virtual servers and packages as data")
    func historyAsData() throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        _ = try BatonProcess.run([
            "run", "examples/e2003-two-node-cluster.yaml", "--package", "exchange-2003-sp2", "--state", state, "--yes",
        ])
        let show = try BatonProcess.run(["lab", "show", "--state", state, "--format", "json"])
        let twin = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
        let history = try #require(twin["history"] as? [[String: Any]])
        let installs = history.filter { $0["action"] as? String == "install" && $0["applied"] as? Bool == true }
        #expect(Set(installs.compactMap { $0["host"] as? String }).isSuperset(of: ["NODE1", "NODE2"]), "\(installs)")
        #expect(installs.contains { $0["package"] as? String == "exchange-2003-sp2" })
        #expect(history.contains { $0["group"] as? String == "EVS1" })
    }

    @Test("diagnose of a missing file says so once")
    func diagnoseMissingFile() throws {
        let result = try BatonProcess.run(["diagnose", "nosuch.log"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("nosuch.log:1:1: error: cannot read the file"))
        #expect(!result.stdout.contains("No known failure recognised"))
    }
}
