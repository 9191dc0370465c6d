import Foundation
import Testing

/// The console as an administrator types at it: a typo gets the nearest word, a missing
/// package the ones that apply.
@Suite("Did you mean")
struct DidYouMeanTests {
    @Test(
        "a typo gets one suggestion, exit 2",
        arguments: [
            ("baton plna", "error: 'plna' is not a baton command; did you mean 'plan'?"),
            (
                "baton plan examples/contoso.yaml --package exhcange-2003-sp2",
                "unknown package 'exhcange-2003-sp2'; did you mean 'exchange-2003-sp2'?"
            ),
            ("baton lab fault bare-setp NW-EX1", "error: no fault kind 'bare-setp'; did you mean 'bare-setup'?"),
            ("baton lab fix move-blackot NW-EX1", "error: no fault kind 'move-blackot'; did you mean 'move-blackout'?"),
            ("baton rules mx-no-downgrad", "error: no rule 'mx-no-downgrad'; did you mean 'mx-no-downgrade'?"),
            ("baton status run-11", "error: no run 'run-11' in .baton; did you mean 'run-1'?"),
            ("baton lab show --twin defualt", "no lab twin 'defualt' in .baton; did you mean 'default'?"),
        ])
    func suggestion(_ line: String, _ expected: String) throws {
        let folder = try BatonProcess.UserFolder("did-you-mean")
        defer { folder.remove() }
        #expect(
            try folder.shell("baton run examples/mx-two-member-dag.yaml --package exchange-2016-cu23 --yes").status == 0
        )
        let result = try folder.shell(line)
        #expect(result.status == 2, "\(line): \(result.stderr)")
        #expect(result.stderr.contains(expected), "\(line): \(result.stderr)")
    }

    @Test("no --package: the packages that apply to the inventory, for every command that plans")
    func missingPackage() throws {
        let folder = try BatonProcess.UserFolder("missing-package")
        defer { folder.remove() }
        for command in ["plan", "check", "run", "commands", "quality", "lab rehearse"] {
            let result = try folder.shell("baton \(command) examples/mx-two-member-dag.yaml")
            #expect(result.status == 2, "\(command): \(result.stderr)")
            #expect(
                result.stderr.contains(
                    "error: give --package (or --to latest); these apply to examples/mx-two-member-dag.yaml: exchange-2016-cu23"),
                "\(command): \(result.stderr)")
        }
    }
}

/// Words that fit the organization: a DAG's, a security update's, a gate's.
@Suite("Words that fit the organization")
struct OrganizationWordsTests {
    @Test("a DAG organization's twin counts its databases, not cluster groups; a KB 328839 one its cluster groups")
    func labInit() throws {
        let folder = try BatonProcess.UserFolder("words-init")
        defer { folder.remove() }
        let dag = try folder.shell("baton lab init examples/mx-two-member-dag.yaml")
        #expect(dag.stdout.contains("4 machines, 2 databases in 1 DAG, seed 1"), "\(dag.stdout)")
        let cluster = try folder.shell("baton lab init examples/contoso.yaml --twin old")
        #expect(cluster.stdout.contains("2 cluster groups"), "\(cluster.stdout)")
    }

    @Test("a security update's version check names the build it expects and the build it found")
    func securityUpdateBuild() throws {
        let folder = try BatonProcess.UserFolder("words-su")
        defer { folder.remove() }
        let cu23 = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("examples/mx-two-member-dag.yaml"),
            encoding: .utf8
        ).replacingOccurrences(of: "level: cu22", with: "level: cu23")
        try cu23.write(toFile: folder.path + "/cu23.yaml", atomically: true, encoding: .utf8)
        let run = try folder.shell("baton run cu23.yaml --package exchange-2016-cu23-feb26-su --yes")
        #expect(run.status == 0, "\(run.stdout.suffix(500))")
        let report = try folder.shell("baton report run-1").stdout
        #expect(report.contains("NW-EX1 reports 15.1.2507.66"), "\(report)")
        #expect(!report.contains("Build 2507.6: CU23"), "\(report)")
    }

    @Test("a run that waits only for an approval is not told to fix anything; a failed step is retried, not recovered")
    func approvalAndRetry() throws {
        let folder = try BatonProcess.UserFolder("words-gate")
        defer { folder.remove() }
        let waiting = try folder.shell("baton run examples/sbs-2003.yaml --package exchange-2003-sp2 < /dev/null")
        #expect(waiting.status == 1)
        #expect(waiting.stdout.contains("Once approved: baton resume run-1"), "\(waiting.stdout)")
        #expect(!waiting.stdout.contains("Fix the cause"))
        _ = try folder.shell("baton lab init examples/mx-two-member-dag.yaml --twin dag")
        _ = try folder.shell("baton lab fault bare-setup NW-EX1 --twin dag")
        let halted = try folder.shell(
            "baton run examples/mx-two-member-dag.yaml --package exchange-2016-cu23 --twin dag --yes --json")
        #expect(halted.status == 1)
        // The version check that finds the old build is asked again: a retry, started once.
        let events = halted.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let failedStep = try #require(events.first { $0["event"] as? String == "failed" }?["step"] as? String)
        let ofIt = events.filter { $0["step"] as? String == failedStep }
        #expect(ofIt.filter { $0["event"] as? String == "started" }.count == 1, "\(ofIt)")
        #expect(ofIt.contains { $0["event"] as? String == "retrying" && $0["attempt"] as? Int == 2 }, "\(ofIt)")
        _ = try folder.shell("baton lab fix bare-setup NW-EX1 --twin dag")
        let resumed = try folder.shell("baton resume run-2 --yes --json")
        #expect(resumed.status == 0, "\(resumed.stdout.suffix(500))")
        #expect(resumed.stdout.contains(#""event":"retrying""#), "\(resumed.stdout.prefix(800))")
        #expect(!resumed.stdout.contains(#""event":"recovered""#), "\(resumed.stdout.prefix(800))")
    }
}

/// The twin's times: a rehearsal and the twin's history say the same start of each step.
@Suite("The twin's clock")
struct TwinClockTests {
    @Test("lab rehearse and lab show give each step the same start")
    func sameTimes() throws {
        let folder = try BatonProcess.UserFolder("twin-clock")
        defer { folder.remove() }
        let rehearsal = try folder.shell("baton lab rehearse examples/sbs-2003.yaml --package exchange-2003-sp2")
        #expect(rehearsal.status == 0)
        let show = try folder.shell("baton lab show").stdout
        // "+00:41:35  s3    ok  …" against "+00:41:35 s3  ok …": the time and the step.
        func starts(_ text: String) -> [String] {
            text.split(separator: "\n").filter { $0.hasPrefix("+") }.map {
                $0.split(separator: " ", omittingEmptySubsequences: true).prefix(2).joined(separator: " ")
            }
        }
        let rehearsed = starts(rehearsal.stdout)
        #expect(rehearsed.count == 10, "\(rehearsal.stdout)")
        #expect(rehearsed == starts(show), "\(rehearsal.stdout)\n\(show)")
    }
}

/// JSON as data: what a script reads.
@Suite("JSON as data")
struct JSONAsDataTests {
    @Test("baton run --format json prints only JSON lines, numbers as numbers, and ends with the run's end")
    func runLines() throws {
        let folder = try BatonProcess.UserFolder("json-lines")
        defer { folder.remove() }
        let halted = try folder.shell(
            "baton run examples/sbs-2003.yaml --package exchange-2003-sp2 --format json < /dev/null"
                + " | python3 -c 'import sys,json; [json.loads(l) for l in sys.stdin]; print(\"parsed\")'")
        #expect(halted.stdout == "parsed\n", "\(halted.stdout) \(halted.stderr)")
        let run = try folder.shell("baton run examples/contoso.yaml --package exchange-2003-sp2 --yes --twin c --json")
        #expect(run.status == 0)
        let lines = try run.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(lines.first?["event"] as? String == "run" && lines.first?["steps"] is Int)
        #expect(lines.last?["event"] as? String == "end" && lines.last?["state"] as? String == "completed")
        #expect(lines.contains { $0["event"] as? String == "started" && $0["attempt"] is Int })
        let diagnose = try folder.shell("baton diagnose examples/logs/KB831464.log --format json")
        let findings = try #require(
            try JSONSerialization.jsonObject(with: Data(diagnose.stdout.utf8)) as? [[String: Any]])
        #expect(findings.first?["line"] as? Int == 5)
    }
}

/// Completion that knows the domain: the generated bash script, run by bash as it completes.
@Suite("Shell completion")
struct CompletionTests {
    @Test("bash completes package ids, fault kinds, rule ids, and the runs and twins of the state directory")
    func bash() throws {
        let folder = try BatonProcess.UserFolder("completion")
        defer { folder.remove() }
        #expect(
            try folder.shell("baton run examples/contoso.yaml --package exchange-2003-sp2 --yes --twin blue").status
                == 0)
        #expect(try folder.shell("baton --generate-completion-script bash > baton.bash").status == 0)
        // As bash calls a completion function: the words so far, the word at the cursor, the one before.
        let script = """
            source baton.bash
            complete_line() {
                local -a words=("$@"); COMP_WORDS=("${words[@]}"); COMP_CWORD=$((${#words[@]} - 1))
                COMP_LINE="${words[*]}"; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
                _baton baton "${words[-1]}" "${words[-2]}"; echo "${COMPREPLY[*]}"
            }
            complete_line baton lab fault bare-se
            complete_line baton plan examples/contoso.yaml --package exchange-2016
            complete_line baton status run-
            complete_line baton rules mx-no-d
            complete_line baton lab show --twin b
            complete_line baton pl
            """
        try script.write(toFile: folder.path + "/complete.sh", atomically: true, encoding: .utf8)
        let result = try folder.shell("bash complete.sh")
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.count >= 6, "\(result.stdout) \(result.stderr)")
        guard lines.count >= 6 else { return }
        #expect(lines[0] == "bare-setup")
        #expect(lines[1] == "exchange-2016-cu23 exchange-2016-cu23-feb26-su")
        #expect(lines[2] == "run-1")
        #expect(lines[3] == "mx-no-downgrade")
        #expect(lines[4] == "blue")
        #expect(lines[5] == "plan")
        for shell in ["zsh", "fish"] {
            let generated = try folder.shell("baton --generate-completion-script \(shell)")
            #expect(generated.status == 0 && generated.stdout.contains("exchange-2016-cu23"), "\(shell)")
        }
    }
}
