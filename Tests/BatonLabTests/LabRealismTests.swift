import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

private typealias F = LabFixture

/// The twin where real servers take time or refuse: replication reaching each domain
/// controller, queues draining, lagged copies' replay queues, setup's prerequisites,
/// HealthChecker and EdgeSync.
@Suite("The twin fails where production would")
struct LabRealismTests {
    static func organization(ex1: String = "", ex2: String = "") throws -> Inventory {
        try InventoryLoader.parse(
            text: """
                organization: fabrikam
                domain-controllers: [FBDC1, FBDC2]
                active-directory: {schema-version: 17003, organization-version: 16761, domain-version: 13243}
                sites: [{name: HQ, internet-facing: true}]
                servers:
                  - {name: FB-EX1, product: exchange-2019, level: cu13, os: windows-2022, site: HQ\(ex1)}
                  - {name: FB-EX2, product: exchange-2019, level: cu13, os: windows-2019, site: HQ\(ex2)}
                  - {name: FB-EDGE, product: exchange-2019, level: cu13, os: windows-2019, role: edge, site: HQ}
                dags:
                  - name: FB-DAG
                    members: [FB-EX1, FB-EX2]
                    witness: {server: FB-FS1, site: HQ}
                    databases:
                      - {name: FBDB1, copies: [FB-EX1, FB-EX2]}
                      - {name: FBDB2, copies: [FB-EX2, FB-EX1], lagged: [FB-EX1]}
                """, file: "fabrikam.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    @Test("replication reaches each domain controller minutes after /PrepareAD; the wait asks until it has")
    func replicationTakesTime() throws {
        let inventory = try Self.organization()
        let plan = try F.plan(inventory, "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 11)
        let failed = F.rehearse(plan, on: &twin)
        #expect(failed == nil, "\(failed.map { "\($0.0.summary): \($0.1.message)" } ?? "")")
        let polls = twin.history.filter { $0.action == "wait-replication" && !$0.succeeded }
        #expect(!polls.isEmpty && polls.allSatisfy { $0.message.contains("has not received the organization change yet") })
        #expect(twin.accounting.violations.isEmpty, "\(twin.accounting.violations)")
        // The same plan asked once: the twin stops at the wait, as servers would.
        var hasty = LabTwin(inventory: inventory, seed: 11)
        let stopped = try #require(F.rehearse(plan, on: &hasty, waiting: false))
        #expect(stopped.0.action == .waitReplication && stopped.1.rule == .mxADPrepReplication)
    }

    @Test("dc-unreachable: the wait for replication names the controller until it is fixed; then the run completes")
    func controllerUnreachable() throws {
        let inventory = try Self.organization()
        let plan = try F.plan(inventory, "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 11)
        #expect(throws: LabError.self) { try twin.inject(LabFault(.dcUnreachable, "FB-EX1")) }
        try twin.inject(LabFault(.dcUnreachable, "FBDC2"))
        let stopped = try #require(F.rehearse(plan, on: &twin))
        #expect(stopped.0.action == .waitReplication && stopped.1.rule == .mxADPrepReplication)
        #expect(stopped.1.message.contains("FBDC2 does not answer"), "\(stopped.1.message)")
        try twin.fix(LabFault(.dcUnreachable, "FBDC2"))
        let rest = plan.steps.drop { $0.id != stopped.0.id }
        #expect(twin.rehearse(Array(rest)) == nil)
    }

    @Test("queues drain over time after Redirect-Message; queue-stuck holds one past the 15 minutes")
    func queues() throws {
        let inventory = try Self.organization()
        let plan = try F.plan(inventory, "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 11)
        #expect(F.rehearse(plan, on: &twin) == nil)
        let redirects = twin.history.filter { $0.action == "redirect-messages" }
        #expect(!redirects.isEmpty && redirects.allSatisfy { $0.succeeded && $0.message.contains("message(s) queued on") && $0.end > $0.start + 15 })
        #expect(twin.modern?.servers.values.allSatisfy { $0.queued == nil } == true, "a queue left behind after the rollout")
        var stuck = LabTwin(inventory: inventory, seed: 11)
        try stuck.inject(LabFault(.queueStuck, "FB-EX1"))
        let stopped = try #require(F.rehearse(plan, on: &stuck))
        #expect(stopped.0.action == .redirectMessages && stopped.0.host == "FB-EX1")
        #expect(stopped.1.message.contains("did not drain within 15 minutes"), "\(stopped.1.message)")
        try stuck.fix(LabFault(.queueStuck, "FB-EX1"))
        #expect(stuck.perform(stopped.0).succeeded)
    }

    @Test("a lagged copy's replay queue is held by its lag, and the copy check says so without failing")
    func laggedCopies() throws {
        let inventory = try Self.organization()
        let plan = try F.plan(inventory, "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 11)
        #expect(F.rehearse(plan, on: &twin) == nil)
        let checks = twin.history.filter { $0.action == "check-copies" && $0.succeeded }
        #expect(!checks.isEmpty && checks.allSatisfy { $0.message.contains("FBDB2\\FB-EX1") && $0.message.contains("held by their lag") })
    }

    @Test("setup refuses a .NET Framework below the update's need, in its own words; the plan's .NET step prevents it")
    func dotnet() throws {
        let told = try Self.organization(ex1: ", dotnet: 4.7.2")
        let plan = try F.plan(told, "exchange-2019-cu15")
        var twin = LabTwin(inventory: told, seed: 11)
        let failed = F.rehearse(plan, on: &twin)
        #expect(failed == nil, "\(failed.map { "\($0.0.summary): \($0.1.message)" } ?? "")")
        #expect(twin.modern?.servers["FB-EX1"]?.dotnet == .v481)
        #expect(twin.accounting.violations.isEmpty, "\(twin.accounting.violations)")
        // The same server with a plan made from an inventory that did not say: setup stops.
        let unsaid = try F.plan(try Self.organization(), "exchange-2019-cu15")
        var old = LabTwin(inventory: told, seed: 11)
        let stopped = try #require(F.rehearse(unsaid, on: &old))
        #expect(stopped.0.action == .install && stopped.0.host == "FB-EX1" && stopped.1.rule == .mxPrerequisites)
        #expect(stopped.1.message.contains("This computer requires .NET Framework 4.8"), "\(stopped.1.message)")
        // baton check on that twin says so before anything runs.
        let results = Preflight(twin: LabTwin(inventory: told, seed: 11), plan: unsaid).run()
        #expect(results.contains { $0.check == "prerequisites" && $0.status == .fail && $0.subject == "FB-EX1" })
        let planned = Preflight(twin: LabTwin(inventory: told, seed: 11), plan: plan).run()
        #expect(planned.contains { $0.check == "prerequisites" && $0.status == .warn && $0.detail.contains("the plan installs 4.8.1 first") })
    }

    @Test("a missing Visual C++ runtime: baton check fails on it and setup refuses")
    func visualC() throws {
        let inventory = try Self.organization(ex2: ", visual-c++: [2012]")
        let plan = try F.plan(inventory, "exchange-2019-cu15")
        let results = Preflight(twin: LabTwin(inventory: inventory, seed: 11), plan: plan).run()
        #expect(results.contains { $0.check == "prerequisites" && $0.status == .fail && $0.detail.contains("Visual C++ 2013") })
        var twin = LabTwin(inventory: inventory, seed: 11)
        let stopped = try #require(F.rehearse(plan, on: &twin))
        #expect(stopped.0.host == "FB-EX2" && stopped.1.rule == .mxPrerequisites && stopped.1.message.contains("Visual C++ 2013"))
    }

    @Test("HealthChecker on the twin: a pending restart fails the check before anything changes; after the update it passes")
    func healthChecker() throws {
        let inventory = try Self.organization(ex1: ", health-checker: 'C:\\Scripts\\HealthChecker.ps1'")
        let plan = try F.plan(inventory, "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 11)
        #expect(F.rehearse(plan, on: &twin) == nil)
        #expect(twin.history.filter { $0.action == "health-check" && $0.succeeded }.count == 2)
        var pending = LabTwin(inventory: inventory, seed: 11)
        pending.hosts["FB-EX1"]?.pendingRestart = true
        let stopped = try #require(F.rehearse(plan, on: &pending))
        #expect(stopped.0.action == .healthCheck && stopped.1.message.contains("Server Pending Reboot"))
    }

    @Test("EdgeSync is tested from a Mailbox server once the Edge server is back")
    func edgeSync() throws {
        let inventory = try Self.organization()
        let plan = try F.plan(inventory, "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 11)
        #expect(F.rehearse(plan, on: &twin) == nil)
        let sync = try #require(twin.history.first { $0.action == "check-edge-sync" })
        #expect(sync.succeeded && sync.message.contains("FB-EDGE SyncStatus Normal"))
        var down = LabTwin(inventory: inventory, seed: 11)
        let step = try #require(plan.steps.first { $0.action == .checkEdgeSync })
        down.hosts["FB-EDGE"]?.up = false
        #expect(!down.perform(step).succeeded)
    }
}
