import Foundation
import Testing

@Suite("baton run, status, approve, abort, report")
struct RunCommandTests {
    func stateDirectory() -> String {
        BatonProcess.temporaryPath("baton-run")
    }

    @Test("every example runs to completion on its twin")
    func everyExample() throws {
        let examples =
            ((try? FileManager.default.contentsOfDirectory(
                atPath: BatonProcess.packageRoot.appendingPathComponent("examples").path)) ?? []).filter {
                $0.hasSuffix(".yaml")
            }
        for example in examples.sorted() where example != "e2003-migration.yaml" {
            let state = stateDirectory()
            defer { try? FileManager.default.removeItem(atPath: state) }
            let result = try BatonProcess.run(
                ["run", "examples/\(example)"] + PlanGoldenTests.request(for: example) + [
                    "--state", state, "--yes", "--parallel", "8", "--lab",
                ])
            #expect(result.status == 0, "\(example): \(result.stdout.suffix(500))")
            let clean = example.hasPrefix("mx-") ? "no rule was violated" : "no rule of KB 328839 was violated"
            #expect(result.stdout.contains(clean), "\(example)")
        }
    }

    @Test("a DAG run's report: each database where it is mounted, and every server that did not leave maintenance")
    func dagReport() throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let done = try BatonProcess.run([
            "run", "examples/mx-two-member-dag.yaml", "--package", "exchange-2016-cu23", "--state", state, "--yes",
            "--fresh-lab",
        ])
        #expect(done.status == 0, "\(done.stdout.suffix(600))")
        let report = try BatonProcess.run(["report", "run-1", "--state", state, "--format", "json"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let databases = try #require(json["databases"] as? [[String: Any]])
        #expect(databases.map { $0["name"] as? String } == ["MBXDB1", "MBXDB2"])
        #expect(databases.allSatisfy { $0["mountedOn"] as? String == $0["preferred"] as? String })
        #expect((json["outOfService"] as? [String])?.isEmpty == true)
        #expect((json["rollback"] as? [String])?.first?.contains("mx-cu-no-uninstall") == true)

        // Halted in the middle of a member's maintenance: the report says it is still out.
        let halted = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: halted) }
        #expect(
            try BatonProcess.run(["lab", "init", "examples/mx-two-member-dag.yaml", "--state", halted]).status == 0)
        #expect(try BatonProcess.run(["lab", "fault", "installer-running", "NW-EX1", "--state", halted]).status == 0)
        let stopped = try BatonProcess.run([
            "run", "examples/mx-two-member-dag.yaml", "--package", "exchange-2016-cu23", "--state", halted, "--yes",
        ])
        #expect(stopped.status == 1)
        let out = try BatonProcess.run(["report", "run-1", "--state", halted])
        #expect(
            out.stdout.contains("== left out of service ==") && out.stdout.contains("NW-EX1: offline"), "\(out.stdout)")
    }

    @Test("a gate waits for approval; the approval is audited in the report")
    func approvalAudit() throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        let first = try BatonProcess.run([
            "run", "examples/sbs-2003.yaml", "--package", "exchange-2003-sp2", "--state", state,
        ])
        #expect(first.status == 1 && first.stdout.contains("waiting for approval: baton approve run-1 release-notes"))
        #expect(try BatonProcess.run(["approve", "run-1", "no-such-gate", "--state", state]).status == 2)
        #expect(
            try BatonProcess.run(["approve", "run-1", "release-notes", "--by", "alice", "--state", state]).status == 0)
        #expect(try BatonProcess.run(["resume", "run-1", "--state", state]).status == 0)
        let report = try BatonProcess.run(["report", "run-1", "--state", state, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let approvals = try #require(object["approvals"] as? [[String: String]])
        #expect(approvals.first?["by"] == "alice" && approvals.first?["gate"] == "release-notes")
        let machines = try #require(object["machines"] as? [[String: Any]])
        #expect(
            machines.contains {
                $0["name"] as? String == "SBS" && $0["before"] as? String == "6.5.7226.6"
                    && $0["after"] as? String == "6.5.7638.2"
            })
        for format in ["text", "markdown", "html"] {
            let rendered = try BatonProcess.run(["report", "run-1", "--state", state, "--format", format])
            #expect(rendered.status == 0 && rendered.stdout.contains("6.5.7638.2") && rendered.stdout.contains("alice"))
        }
    }

    @Test("status lists runs and shows steps as the issue's JSON; an aborted run is finished")
    func statusAndAbort() throws {
        let state = stateDirectory()
        defer { try? FileManager.default.removeItem(atPath: state) }
        _ = try BatonProcess.run(["run", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--state", state])
        let status = try BatonProcess.run(["status", "run-1", "--state", state, "--format", "json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        #expect(object["run"] as? String == "run-1" && object["state"] as? String == "halted")
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(
            steps.allSatisfy { $0["id"] != nil && $0["action"] != nil && $0["state"] != nil && $0["attempts"] != nil })
        #expect(try BatonProcess.run(["abort", "run-1", "--state", state]).status == 0)
        #expect(try BatonProcess.run(["status", "--state", state]).stdout.contains("aborted"))
        let resume = try BatonProcess.run(["resume", "run-1", "--state", state, "--yes"])
        #expect(resume.status == 1 && resume.stderr.contains("run run-1 is aborted already"), "\(resume.stderr)")
        #expect(try BatonProcess.run(["resume", "no-such-run", "--state", state]).status == 2)
    }
}

@Suite("Progress on a terminal")
struct ProgressDisplayTests {
    @Test("on a terminal, a run shows a progress display; piped, plain lines")
    func terminal() throws {
        guard let script = BatonProcess.which("script") else {
            Issue.record("no 'script' for a pseudo-terminal: apt-get install bsdutils (scripts/test.sh does)")
            return
        }
        let state = BatonProcess.temporaryPath("baton-tty")
        defer { try? FileManager.default.removeItem(atPath: state) }
        let command =
            "\(BatonProcess.executable.path) run examples/e2003-standalone.yaml --package exchange-2003-sp2 --yes --speed 5000 --state \(state)"
        let onTerminal = try BatonProcess.run(["__exec", script, "-qc", command, "/dev/null"])
        #expect(onTerminal.stdout.contains("\u{1B}[2K"))
        // The stand-alone example's plan has 11 steps: the display counts up to all of them.
        #expect(onTerminal.stdout.contains("] 11/11 steps, "), "\(onTerminal.stdout.suffix(300))")
        #expect(onTerminal.stdout.contains(" s elapsed"), "\(onTerminal.stdout.suffix(300))")
        #expect(onTerminal.stdout.contains("[##############################] "))
        let piped = try BatonProcess.run([
            "run", "examples/e2003-standalone.yaml", "--package", "exchange-2003-sp2", "--yes", "--state", state + "-2",
        ])
        defer { try? FileManager.default.removeItem(atPath: state + "-2") }
        #expect(!piped.stdout.contains("\u{1B}["))
    }
}
