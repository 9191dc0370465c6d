import Foundation
import Testing

/// `baton commands`: what each host would be told, shown before anything runs; every
/// PowerShell text parsed by the tree-sitter PowerShell grammar.
@Suite("baton commands")
struct CommandsTests {
    /// Every example with every package of its products that plans: the commands of each.
    static func listings() async throws -> [(example: String, package: String, json: String)] {
        let examples = try FileManager.default.contentsOfDirectory(
            atPath: BatonProcess.packageRoot.appendingPathComponent("examples").path
        ).filter { $0.hasSuffix(".yaml") && $0 != "e2003-migration.yaml" }.sorted()
        var listings: [(String, String, String)] = []
        for example in examples {
            let path = "examples/\(example)"
            let text = try String(
                contentsOf: BatonProcess.packageRoot.appendingPathComponent(path), encoding: .utf8)
            let packages = try await BatonProcess.finish(["packages", path]).stdout.split(separator: "\n").dropFirst()
                .compactMap { line -> String? in
                    let columns = line.split(separator: " ", omittingEmptySubsequences: true)
                    guard columns.count > 1, text.contains("product: \(columns[1])") || columns[1].hasPrefix("windows")
                    else { return nil }
                    return String(columns[0])
                }
            for package in packages {
                let listed = try await BatonProcess.finish(["commands", path, "--package", package, "--format", "json"])
                // A package the planner refuses for this organization (exit 3) has no commands.
                guard listed.status != 3 else { continue }
                #expect(listed.status == 0, "\(example) \(package): \(listed.stderr)")
                listings.append((example, package, listed.stdout))
            }
        }
        return listings
    }

    /// `scripts/check-powershell.py` over the listings: its report (texts parsed, problems,
    /// each command's parameters).
    static func parse(_ listings: [String]) throws -> [String: Any] {
        let directory = BatonProcess.temporaryPath("commands")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var files: [String] = []
        for (index, listing) in listings.enumerated() {
            let file = "\(directory)/\(index).json"
            try listing.write(toFile: file, atomically: true, encoding: .utf8)
            files.append(file)
        }
        let script = BatonProcess.packageRoot.appendingPathComponent("scripts/check-powershell.py").path
        let parsed = try BatonProcess.run(["__exec", "/usr/bin/env", "python3", script] + files)
        guard parsed.status == 0 else {
            throw ServeError(
                description:
                    "the PowerShell grammar did not run (scripts/test.sh installs it: python3 -m pip install tree-sitter tree-sitter-powershell): \(parsed.stderr)"
            )
        }
        return try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as? [String: Any] ?? [:]
    }

    /// The Exchange cmdlets Baton calls and the parameters Microsoft documents for each (beyond
    /// the common parameters), each from its page under
    /// https://learn.microsoft.com/powershell/module/exchangepowershell/.
    static let documented: [String: (parameters: Set<String>, source: String)] = [
        "Set-ServerComponentState": (["-Identity", "-Component", "-State", "-Requester", "-Confirm", "-DomainController", "-TimeoutInSeconds", "-WhatIf"], "set-servercomponentstate"),
        "Get-ServerComponentState": (["-Identity", "-Component", "-DomainController"], "get-servercomponentstate"),
        "Get-MailboxDatabaseCopyStatus": (["-Identity", "-Server", "-Active", "-ConnectionStatus", "-DomainController", "-ExtendedErrorInfo", "-Local", "-UseServerCache"], "get-mailboxdatabasecopystatus"),
        "Get-MailboxServer": (["-Identity", "-DomainController", "-Status"], "get-mailboxserver"),
        "Get-MailboxDatabase": (["-Identity", "-Server", "-DomainController", "-DumpsterStatistics", "-IncludeCorrupted", "-IncludePreExchange2013", "-Status"], "get-mailboxdatabase"),
        "Get-DatabaseAvailabilityGroup": (["-Identity", "-DomainController", "-Status"], "get-databaseavailabilitygroup"),
        "Get-ExchangeServer": (["-Identity", "-Domain", "-DomainController", "-Status"], "get-exchangeserver"),
        "Redirect-Message": (["-Server", "-Target", "-Confirm", "-DomainController", "-WhatIf"], "redirect-message"),
        "Get-Queue": (["-Identity", "-Server", "-Filter", "-Exclude", "-Include", "-ResultSize", "-SortOrder", "-BookmarkIndex", "-BookmarkObject", "-IncludeBookmark", "-ReturnPageInfo", "-SearchForward"], "get-queue"),
        "Test-EdgeSynchronization": (["-ExcludeRecipientTest", "-FullCompareMode", "-MaxReportSize", "-MonitoringContext", "-TargetServer", "-VerifyRecipient", "-Confirm", "-DomainController", "-WhatIf"], "test-edgesynchronization"),
        "Test-ReplicationHealth": (["-Identity", "-ActiveDirectoryTimeout", "-DatabaseAvailabilityGroup", "-DomainController", "-MonitoringContext", "-OutputObjects", "-TransientEventSuppressionWindow"], "test-replicationhealth"),
    ]

    /// PowerShell's common parameters (about_CommonParameters).
    static let common: Set<String> = [
        "-ErrorAction", "-ErrorVariable", "-WarningAction", "-WarningVariable", "-Verbose", "-Debug", "-OutVariable",
        "-OutBuffer", "-InformationAction", "-InformationVariable", "-PipelineVariable",
    ]

    @Test("every PowerShell command of every example and package parses, and calls Exchange cmdlets as documented")
    func everyCommandParses() async throws {
        let listings = try await Self.listings()
        #expect(listings.count >= 20, "\(listings.map { "\($0.example) \($0.package)" })")
        let report = try Self.parse(listings.map(\.json))
        let texts = report["texts"] as? Int ?? 0
        #expect(texts > 1000, "\(texts) PowerShell texts parsed")
        let problems = report["problems"] as? [[String: Any]] ?? []
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        let called = report["commands"] as? [String: [String]] ?? [:]
        for (cmdlet, parameters) in called where cmdlet.contains("-") {
            guard let documented = Self.documented[cmdlet] else {
                #expect(!cmdlet.hasPrefix("Get-Mailbox") && !cmdlet.contains("Exchange"), "\(cmdlet) has no row")
                continue
            }
            let unknown = Set(parameters).subtracting(documented.parameters).subtracting(Self.common)
            #expect(unknown.isEmpty, "\(cmdlet) given \(unknown.sorted()), not in \(documented.source)")
        }
        #expect(called["Redirect-Message"] != nil && called["Test-ReplicationHealth"] != nil)
        #expect(called["Test-EdgeSynchronization"] != nil && called["Import-Clixml"] != nil && called["Start-Process"] != nil)
    }

    @Test("a template with an unclosed brace or quote fails the grammar")
    func brokenTemplate() async throws {
        let text = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("examples/mx-two-member-dag.yaml"),
            encoding: .utf8)
        var listings: [String] = []
        for broken in [#"if ($x { 'unclosed brace'"#, #"Write-Output 'unclosed quote"#] {
            let path = BatonProcess.temporaryPath("broken") + ".yaml"
            try (text + """
                profiles:
                  broken:
                    kind: exchange-powershell
                    commands:
                      drain-transport: "\(broken.replacingOccurrences(of: "\"", with: "\\\""))"
                hosts:
                  NW-EX1: {address: nw-ex1.example, profile: broken, backup-target: 'E:'}
                  NW-EX2: {address: nw-ex2.example, backup-target: 'E:'}
                  NW-EDGE: {address: nw-edge.example, backup-target: 'E:'}
                  NWDC1: {address: nwdc1.example, backup-target: '\\\\backup01\\dc'}

                """).write(toFile: path, atomically: true, encoding: .utf8)
            let listed = try await BatonProcess.finish([
                "commands", path, "--package", "exchange-2016-cu23", "--format", "json", "--step", "s15",
            ])
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains("\"drain-transport\""), "\(listed.stdout.prefix(400))")
            listings.append(listed.stdout)
        }
        let report = try Self.parse(listings)
        let problems = report["problems"] as? [[String: Any]] ?? []
        let files = Set(problems.compactMap { $0["file"] as? String })
        #expect(files.count == 2, "both broken templates are caught: \(problems)")
        #expect(problems.allSatisfy { $0["action"] as? String == "drain-transport" })
    }

    @Test("JSON and text, host by host; --host and --step narrow; an inventory without hosts gets the built-in profiles")
    func shapes() async throws {
        let json = try await BatonProcess.finish([
            "commands", "examples/mx-two-member-dag.yaml", "--package", "exchange-2016-cu23", "--format", "json",
        ])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let listed = try #require(object?["commands"] as? [[String: Any]])
        let commands = listed.map { $0.compactMapValues { $0 as? String } }
        let fields: Set<String> = ["step", "action", "host", "profile", "role", "language", "text"]
        #expect(commands.allSatisfy { Set($0.keys) == fields })
        // A check of a state that settles says how it is waited on: Baton's defaults here.
        let waits = listed.filter { $0["settle"] != nil }
        #expect(!waits.isEmpty && waits.allSatisfy { ["check-copies", "wait-replication", "check-witness"].contains($0["action"] as? String) })
        #expect((waits.first { $0["action"] as? String == "check-copies" }?["settle"] as? [String: Int]) == ["interval": 30, "timeout": 1800])
        #expect(Set(commands.map { $0["role"]! }) == ["command", "check", "probe", "restart"])
        #expect(Set(commands.map { $0["profile"]! }) == ["exchange-powershell"])
        #expect(Set(commands.map { $0["language"]! }) == ["powershell"])
        // Host by host: each host's commands together, the hosts in the order the plan reaches them.
        var hosts: [String] = []
        for command in commands where hosts.last != command["host"] { hosts.append(command["host"]!) }
        #expect(hosts.count == Set(hosts).count, "\(hosts)")
        #expect(commands.first?["step"] == "preflight")

        let one = try await BatonProcess.finish([
            "commands", "examples/mx-two-member-dag.yaml", "--package", "exchange-2016-cu23", "--host", "nw-ex2",
            "--step", "s34",
        ])
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.stdout.hasPrefix("# NW-EX2 (profile exchange-powershell)"), "\(one.stdout.prefix(200))")
        #expect(one.stdout.contains("## s34 drain-transport: command (powershell)"))
        #expect(one.stdout.contains("    Set-ServerComponentState $env:COMPUTERNAME -Component HubTransport"))
        #expect(one.stdout.contains("## s34 drain-transport: check (powershell)"))

        let shell = try await BatonProcess.finish([
            "commands", "examples/pacemaker-shell-profile.yaml", "--package", "exchange-2003-sp2", "--format", "json",
        ])
        #expect(shell.status == 0 && shell.stdout.contains("\"language\" : \"sh\""), "\(shell.stderr)")

        for (option, value) in [("--host", "NOSUCH"), ("--step", "s9999")] {
            let bad = try await BatonProcess.finish([
                "commands", "examples/mx-two-member-dag.yaml", "--package", "exchange-2016-cu23", option, value,
            ])
            #expect(bad.status == 2, "\(option): \(bad.stdout.prefix(200))")
        }
    }
}
