import Foundation
import Testing

@Suite("The baton command line")
struct CommandLineTests {
    static let examples =
        ((try? FileManager.default.contentsOfDirectory(
            atPath: BatonProcess.packageRoot.appendingPathComponent("examples").path)) ?? []).filter {
            $0.hasSuffix(".yaml")
        }.sorted()

    @Test("the README's main job prints a plan with phases, reasons and an estimate")
    func mainJob() throws {
        let result = try BatonProcess.run(["plan", "examples/contoso.yaml", "--package", "exchange-2003-sp2"])
        #expect(result.status == 0, "\(result.stderr)")
        for text in [
            "== prepare ==", "== pool owa ==", "== cluster EXCL1 ==", "why: ", "rules: ", "== estimate ==",
            "== rollback ==",
            "upgrade-virtual-server EVS1", "Virtual server EVS1 offline",
        ] {
            #expect(result.stdout.contains(text), "missing \(text)")
        }
        #expect(result.stderr.isEmpty)
    }

    @Test("every example renders in every format", arguments: examples)
    func everyFormat(_ example: String) throws {
        for format in ["text", "json", "markdown", "dot", "mermaid"] {
            let result = try BatonProcess.run([
                "plan", "examples/\(example)", "--package", "exchange-2003-sp2", "--format", format,
            ])
            if example == "e2003-migration.yaml" {
                #expect(result.status == 3)
                continue
            }
            #expect(result.status == 0, "\(example) \(format): \(result.stderr)")
            #expect(!result.stdout.isEmpty)
        }
    }

    @Test("JSON follows the plan format and is byte-for-byte deterministic")
    func json() throws {
        let first = try BatonProcess.run([
            "plan", "examples/mixed.yaml", "--package", "exchange-2003-sp2", "--format", "json",
        ])
        let second = try BatonProcess.run([
            "plan", "examples/mixed.yaml", "--package", "exchange-2003-sp2", "--format", "json",
        ])
        #expect(first.status == 0)
        #expect(first.stdout == second.stdout)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
        #expect(object["format"] as? String == "baton-plan/1")
        #expect(object["organization"] as? String == "mixed")
        let package = try #require(object["package"] as? [String: Any])
        #expect(package["build"] as? String == "6.5.7638.2")
        let steps = try #require(object["steps"] as? [[String: Any]])
        var ids = Set<String>()
        for step in steps {
            let id = try #require(step["id"] as? String)
            #expect(ids.insert(id).inserted)
            #expect(step["action"] is String)
            #expect((step["after"] as? [String])?.allSatisfy(ids.contains) == true)
            #expect((step["rules"] as? [String])?.isEmpty == false)
            #expect((step["why"] as? String)?.isEmpty == false)
        }
        #expect(object["warnings"] is [[String: Any]])
        #expect((object["estimate"] as? [String: Any])?["makespan-seconds"] is Int)
    }

    @Test("Graphviz draws the DOT output")
    func dotDraws() throws {
        guard let dot = BatonProcess.which("dot") else {
            Issue.record("no Graphviz to draw the plan with: apt-get install graphviz (scripts/test.sh does)")
            return
        }
        let plan = try BatonProcess.run([
            "plan", "examples/mixed.yaml", "--package", "exchange-2003-sp2", "--format", "dot",
        ])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("baton-\(UUID().uuidString).dot")
        try plan.stdout.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: dot)
        process.arguments = ["-Tsvg", "-o", "/dev/null", file.path]
        try process.launchSerially()
        #expect(process.waitForEnding().status == 0)
    }

    @Test("Mermaid output declares every step and every dependency")
    func mermaid() throws {
        let json = try BatonProcess.run([
            "plan", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--format", "json",
        ])
        let mermaid = try BatonProcess.run([
            "plan", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--format", "mermaid",
        ])
        #expect(mermaid.stdout.hasPrefix("flowchart TD\n"))
        let steps = try #require(
            (try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])?["steps"]
                as? [[String: Any]])
        for step in steps {
            let id = step["id"] as! String
            #expect(mermaid.stdout.contains("    \(id)[") || mermaid.stdout.contains("    \(id){{"))
            for before in step["after"] as! [String] { #expect(mermaid.stdout.contains("  \(before) --> \(id)\n")) }
        }
    }

    @Test("a broken inventory: every problem as FILE:LINE:COLUMN on stderr, exit 2, nothing on stdout")
    func badInventory() throws {
        let file = "Tests/BatonModelTests/Fixtures/many-errors.yaml"
        let result = try BatonProcess.run(["plan", file, "--package", "exchange-2003-sp2"])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count >= 16)
        let pattern = try Regex(#"^.+many-errors\.yaml:\d+:\d+: error: .+$"#)
        #expect(lines.allSatisfy { $0.wholeMatch(of: pattern) != nil }, "\(result.stderr)")
    }

    @Test(
        "bad arguments exit 2 without a stack trace",
        arguments: [
            ["plan"], ["plan", "examples/contoso.yaml"],
            ["plan", "examples/contoso.yaml", "--package", "exchange-2003-sp9"],
            ["plan", "examples/contoso.yaml", "--package", "exchange-2003-sp2", "--format", "xml"], ["frobnicate"],
            ["plan", "/nonexistent.yaml", "--package", "exchange-2003-sp2"], ["rules", "no-such-rule"],
        ])
    func badArguments(_ arguments: [String]) throws {
        let result = try BatonProcess.run(arguments)
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.contains("error"))
        #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
    }

    @Test("a migration is refused with exit 3, naming the rule")
    func refused() throws {
        let result = try BatonProcess.run(["plan", "examples/e2003-migration.yaml", "--package", "exchange-2003-sp2"])
        #expect(result.status == 3)
        #expect(result.stderr.contains("e2003-clean-install-migration"))
        #expect(result.stdout.isEmpty)
    }

    @Test("help and version exit 0")
    func help() throws {
        #expect(try BatonProcess.run(["--help"]).status == 0)
        #expect(try BatonProcess.run(["plan", "--help"]).stdout.contains("--package"))
        #expect(try BatonProcess.run(["--version"]).status == 0)
    }

    @Test("baton rules lists every rule and explains one")
    func rules() throws {
        let list = try BatonProcess.run(["rules"])
        #expect(list.status == 0)
        for id in ["backup-before", "e2003-node-empty", "e2000-active-active", "e55-active-first", "e2003-c1037b44"] {
            #expect(list.stdout.contains(id))
        }
        let one = try BatonProcess.run(["rules", "e2003-c1037b44"])
        #expect(one.stdout.contains("Distributed Transaction Coordinator"))
        #expect(one.stdout.contains("Troubleshooting"))
    }

    @Test("baton packages lists the built-in catalogue and an inventory's own")
    func packages() throws {
        let builtIn = try BatonProcess.run(["packages"])
        for id in ["exchange-5.5-sp4", "exchange-2000-sp3", "exchange-2003-sp2", "windows-2003-kb831464"] {
            #expect(builtIn.stdout.contains(id))
        }
        #expect(try BatonProcess.run(["packages", "examples/mixed.yaml"]).stdout.contains("kb912345"))
    }

    @Test("a generated organization plans end to end")
    func generatedInventory() throws {
        let generated = try BatonProcess.run(["generate-inventory", "--servers", "30", "--clusters", "3"])
        #expect(generated.status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "baton-generated-\(UUID().uuidString).yaml")
        try generated.stdout.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let plan = try BatonProcess.run(["plan", file.path, "--package", "exchange-2003-sp2"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("== cluster CL2 =="))
        #expect(try BatonProcess.run(["generate-inventory", "--servers", "-1"]).status == 2)
    }
}

@Suite("baton diagnose")
struct DiagnoseCommandTests {
    @Test("finds known failures in files: rule, cause and remedy, exit 1")
    func files() throws {
        let result = try BatonProcess.run([
            "diagnose", "Tests/BatonLabTests/Fixtures/KB831464.log", "Tests/BatonLabTests/Fixtures/event-1025.txt",
        ])
        #expect(result.status == 1)
        #expect(result.stdout.contains("KB831464.log:5: file-in-use"))
        #expect(result.stdout.contains("event-1025.txt:2: e2003-event-1025"))
        #expect(result.stdout.contains("remedy: run Exchange 2003 setup on that node and choose Reinstall"))
    }

    @Test("nothing known: exit 0; an unreadable file: exit 2")
    func cleanAndMissing() throws {
        #expect(try BatonProcess.run(["diagnose", "Tests/BatonLabTests/Fixtures/clean.log"]).status == 0)
        #expect(try BatonProcess.run(["diagnose", "/nonexistent.log"]).status == 2)
    }

    @Test("JSON output lists each finding")
    func json() throws {
        let result = try BatonProcess.run(["diagnose", "--json", "Tests/BatonLabTests/Fixtures/application-log.csv"])
        let list = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(list.map { $0["rule"] as? String } == ["e2003-event-1025"] && list.first?["line"] is Int)
    }
}
