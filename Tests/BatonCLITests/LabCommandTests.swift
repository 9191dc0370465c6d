import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite("baton lab")
struct LabCommandTests {
    func stateDirectory() -> String {
        BatonProcess.temporaryPath("baton-lab-cli")
    }

    @Test("init, rehearse and show KB 328839's worked example")
    func rehearseWorkedExample() throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let created = try BatonProcess.run([
            "lab", "init", "examples/e2003-two-node-cluster.yaml", "--state", state, "--seed", "3",
        ])
        #expect(created.status == 0, "\(created.stderr)")
        let again = try BatonProcess.run(["lab", "init", "examples/e2003-two-node-cluster.yaml", "--state", state])
        #expect(again.status == 2 && again.stderr.contains("--force"))
        let rehearsal = try BatonProcess.run([
            "lab", "rehearse", "examples/e2003-two-node-cluster.yaml", "--package", "exchange-2003-sp2", "--state",
            state,
        ])
        #expect(rehearsal.status == 0, "\(rehearsal.stderr)")
        #expect(
            rehearsal.stdout.contains("upgrade-virtual-server EVS1 on NODE2: EVS1 upgraded to sp2")
                || rehearsal.stdout.contains("EVS1 upgraded to sp2"))
        #expect(rehearsal.stdout.contains("no rule of KB 328839 was violated"))
        let show = try BatonProcess.run(["lab", "show", "--state", state])
        #expect(show.stdout.contains("NODE1") && show.stdout.contains("6.5.7638.2"))
        #expect(show.stdout.contains("can no longer be restored"))
        let json = try BatonProcess.run(["lab", "show", "--state", state, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect((object["history"] as? [Any])?.isEmpty == false)
    }

    @Test("an injected fault stops the rehearsal with KB 328839's message and remedy, exit 1")
    func faultStopsRehearsal() throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        _ = try BatonProcess.run(["lab", "init", "examples/contoso.yaml", "--state", state])
        let faults = state + "-faults.yaml"
        try "faults:\n  - {kind: file-in-use, host: BE1}\n".write(toFile: faults, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: faults) }
        #expect(try BatonProcess.run(["lab", "fault", "--file", faults, "--state", state]).status == 0)
        let rehearsal = try BatonProcess.run([
            "lab", "rehearse", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--state", state,
        ])
        #expect(rehearsal.status == 1)
        #expect(rehearsal.stdout.contains("FileInUse:: Added to Filelist:"))
        #expect(rehearsal.stdout.contains("Rule file-in-use"))
        #expect(try BatonProcess.run(["lab", "show", "--state", state]).stdout.contains("installer log: FileInUse"))
    }

    @Test(
        "bad fault requests exit 2",
        arguments: [["lab", "fault", "meteor", "NODE1"], ["lab", "fault", "evicted", "NOSUCH"], ["lab", "fault"]])
    func badFaults(_ arguments: [String]) throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        _ = try BatonProcess.run(["lab", "init", "examples/e2003-two-node-cluster.yaml", "--state", state])
        #expect(try BatonProcess.run(arguments + ["--state", state]).status == 2)
    }

    @Test("showing a twin that does not exist says how to make one, exit 2")
    func noTwin() throws {
        let result = try BatonProcess.run(["lab", "show", "--state", stateDirectory()])
        #expect(result.status == 2 && result.stderr.contains("baton lab init"))
    }
}

@Suite("The lab twin survives kill -9")
struct LabCrashTests {
    @Test("killed at random instants, the twin's state is always whole and readable")
    func killNine() async throws {
        var partial = 0
        for attempt in 0..<5 {
            let state = BatonProcess.temporaryPath("baton-lab-kill")
            defer { try? FileManager.default.removeItem(atPath: state) }
            _ = try await BatonProcess.kill(
                [
                    "lab", "rehearse", "examples/mixed.yaml", "--package", "exchange-2003-sp2", "--state", state,
                    "--speed", "10000",
                ],
                once: state + "/lab.json", after: .milliseconds(40 + 90 * attempt))
            let show = try BatonProcess.run(["lab", "show", "--state", state, "--format", "json"])
            guard show.status == 0 else {
                #expect(show.stderr.contains("no lab twin"), "attempt \(attempt): \(show.stderr)")
                continue
            }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(show.stdout.utf8)) as? [String: Any])
            let history = try #require(object["history"] as? [[String: Any]])
            // Entries are numbered 1, 2, 3… with no gap: each action was saved whole.
            #expect(history.enumerated().allSatisfy { ($0.element["sequence"] as? Int) == $0.offset + 1 })
            if !history.isEmpty, history.count < 100 { partial += 1 }
        }
        #expect(partial > 0, "no kill landed in the middle of the rehearsal")
    }
}

@Suite("baton check")
struct CheckCommandTests {
    @Test("a healthy twin passes (exit 0); an installer running fails (exit 1) and JUnit says so")
    func check() throws {
        let state = BatonProcess.temporaryPath("baton-check")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let healthy = try BatonProcess.run([
            "check", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--state", state,
        ])
        #expect(healthy.status == 0, "\(healthy.stdout)")
        #expect(healthy.stdout.contains("0 failed"))
        _ = try BatonProcess.run(["lab", "init", "examples/contoso.yaml", "--state", state])
        _ = try BatonProcess.run(["lab", "fault", "installer-running", "NODE1", "--state", state])
        let junit = state + "/check.xml"
        let blocked = try BatonProcess.run([
            "check", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--state", state, "--junit", junit,
        ])
        #expect(blocked.status == 1)
        #expect(blocked.stdout.contains("FAIL    installers"))
        let xml = try String(contentsOfFile: junit, encoding: .utf8)
        #expect(xml.contains("failures=\"1\"") && xml.contains("<failure message=\"another setup"))
        // Well formed, as a real XML parser reads it.
        let python = try #require(BatonProcess.which("python3"), "python3 parses the JUnit file")
        let parse = Process()
        parse.executableURL = URL(fileURLWithPath: python)
        parse.arguments = [
            "-c",
            "import sys, xml.etree.ElementTree as E; r = E.parse(sys.argv[1]).getroot(); sys.exit(0 if r.tag == 'testsuite' else 1)",
            junit,
        ]
        try parse.launchSerially()
        #expect(parse.waitForEnding().status == 0)
    }

}
