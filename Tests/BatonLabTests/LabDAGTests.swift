import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

@Suite("The lab twin of a DAG organization")
struct LabDAGTests {
    typealias F = LabFixture

    static func plan(_ example: String, _ packageID: PackageID) throws -> (Inventory, Plan) {
        let inventory = try F.inventory(example)
        let package = try #require(PackageCatalogue(inventory: inventory).package(packageID))
        return (inventory, try Planner(inventory: inventory, package: package).plan())
    }

    @Test("a cumulative update through a stretched DAG: every database stays mounted, every server reports CU15")
    func stretchedDAG() throws {
        let (inventory, plan) = try Self.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 3)
        #expect(F.rehearse(plan, on: &twin) == nil)
        #expect(twin.accounting.violations.isEmpty)
        #expect(twin.accounting.databaseOffline.values.allSatisfy { $0 == 0 })
        #expect(twin.hosts.values.filter { $0.product == .exchange2019 }.allSatisfy { $0.build == "15.2.1748.10" })
        let databases = try #require(twin.modern?.databases)
        // Rebalanced: each database back on its preferred copy.
        #expect(databases.values.allSatisfy { $0.mounted == $0.copies.first })
        #expect(twin.modern?.servers.values.allSatisfy(\.inService) == true)
    }

    @Test("StartDagServerMaintenance refuses a member holding a two-copy database without the override")
    func twoCopyRefusal() throws {
        let (inventory, plan) = try Self.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        var twin = LabTwin(inventory: inventory, seed: 3)
        var broken = plan
        let index = try #require(broken.steps.firstIndex { $0.action == .startDagMaintenance })
        broken.steps[index].detail = .startDagMaintenance(host: "NW-EX1", dag: "NW-DAG", overrideTwoCopies: false)
        let failed = try #require(F.rehearse(broken, on: &twin))
        #expect(failed.0.action == .startDagMaintenance && failed.1.rule == .mxStartDagTwoCopies)
        #expect(failed.1.message.contains("-overrideMinimumTwoCopies"))
    }

    @Test("setup with a database still mounted, and a restart outside maintenance mode, are violations")
    func skippedMaintenance() throws {
        let (inventory, plan) = try Self.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 3)
        let skipped = plan.steps.filter {
            $0.host == "MBX1"
                && [.startDagMaintenance, .serverOffline, .drainTransport, .redirectMessages].contains($0.action)
        }.map(\.id)
        for step in plan.steps where !skipped.contains(step.id) { _ = twin.perform(step) }
        let rules = Set(twin.accounting.violations.map(\.rule))
        #expect(rules.contains(Rule.ID.mxDAGUpdateProcedure.rawValue))
        #expect(rules.contains(Rule.ID.mxDAGShutdownNotLossless.rawValue))
    }

    @Test("a security update meets the installer's refusal on another cumulative update")
    func securityUpdateOnOtherCU() throws {
        let inventory = try F.inventory("mx-stretched-dag.yaml")
        var twin = LabTwin(inventory: inventory, seed: 3)
        let outcome = twin.perform(F.step(.install, host: "MBX1", package: "exchange-2019-cu15-feb26-su"))
        #expect(!outcome.succeeded && outcome.rule == .mxSUCUSpecific)
        #expect(outcome.message.contains("The upgrade patch cannot be installed"))
    }

    @Test(
        "faults of Exchange 2013 and later stop the run with the message an administrator would see",
        arguments: [
            (LabFault.Kind.moveBlackout, Action.startDagMaintenance, "AmDbMoveMoveSuppressedBlackoutException"),
            (.functionalRequester, .serverOnline, "requester Functional"),
            (.servicesDisabled, .install, "Cannot start the service Microsoft Exchange Service Host"),
            (.prepareADWrongSite, .prepareAD, "isn't in the same domain and site as the schema master"),
            (.replicationPending, .waitReplication, "has not received the schema change yet"),
        ])
    func modernFaults(_ kind: LabFault.Kind, _ action: Action, _ message: String) throws {
        let (inventory, plan) = try Self.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        var twin = LabTwin(inventory: inventory, seed: 3)
        try twin.inject(LabFault(kind, "NW-EX1"))
        // Asked once: the wait for replication would outlast a change not received yet.
        let failed = try #require(F.rehearse(plan, on: &twin, waiting: kind != .replicationPending))
        #expect(failed.0.action == action && (failed.0.host == "NW-EX1" || action == .waitReplication))
        #expect(failed.1.message.contains(message), "\(failed.1.message)")
        #expect(throws: LabError.self) { try twin.inject(LabFault(kind, "NWDC1")) }
        if !kind.isEvent { try twin.fix(LabFault(kind, "NW-EX1")) }
        // Done again after the fix (or once the event has passed), the step succeeds.
        #expect(twin.perform(failed.0).succeeded)
    }

    @Test(
        "copies resynchronize after a member returns: the rehearsal completes only because the copy check waits; slow-resync outlasts the wait"
    )
    func copiesSettle() throws {
        for (example, package): (String, PackageID) in [
            ("mx-stretched-dag.yaml", "exchange-2019-cu15"), ("mx-multi-dag-monthly-su.yaml", "exchange-2019-cu15-feb26-su"),
        ] {
            let (inventory, plan) = try Self.plan(example, package)
            var waiting = LabTwin(inventory: inventory, seed: 3)
            #expect(F.rehearse(plan, on: &waiting) == nil, "\(example)")
            #expect(waiting.accounting.violations.isEmpty, "\(example): \(waiting.accounting.violations)")
            let polls = waiting.history.filter { $0.action == "check-copies" && !$0.succeeded }
            #expect(!polls.isEmpty && polls.allSatisfy { $0.message.contains("Resynchronizing") || $0.message.contains("Initializing") }, "\(example)")
            // Waiting turned off, the twin stops where servers would: at the first check of a
            // state that takes time (Active Directory replication for the cumulative update,
            // which prepares it; a member's copies for the security update).
            var hasty = LabTwin(inventory: inventory, seed: 3)
            let failed = try #require(F.rehearse(plan, on: &hasty, waiting: false), "\(example)")
            let expected: (Action, Rule.ID) =
                plan.steps.contains { $0.action == .waitReplication }
                ? (.waitReplication, .mxADPrepReplication) : (.checkCopies, .mxCopiesHealthy)
            #expect(failed.0.action == expected.0 && failed.1.rule == expected.1, "\(failed.0.summary): \(failed.1.message)")
        }
        let (inventory, plan) = try Self.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        var slow = LabTwin(inventory: inventory, seed: 3)
        try slow.inject(LabFault(.slowResync, "NW-EX1"))
        let failed = try #require(F.rehearse(plan, on: &slow))
        #expect(failed.0.action == .checkCopies && failed.1.message.contains("NW-EX1 is Initializing"), "\(failed.1.message)")
        // Hours later the copies have caught up, and the check passes.
        slow.pass(4 * 3600)
        #expect(slow.perform(failed.0).succeeded)
    }

    @Test("a security update installed without elevation: it says it succeeded, the version check finds HTTP 500")
    func nonElevatedSecurityUpdate() throws {
        let (inventory, plan) = try Self.plan("mx-multi-dag-monthly-su.yaml", "exchange-2019-cu15-feb26-su")
        var twin = LabTwin(inventory: inventory, seed: 3)
        let install = try #require(plan.steps.first { $0.action == .install })
        let host = try #require(install.host)
        try twin.inject(LabFault(.suNotElevated, host))
        let failed = try #require(F.rehearse(plan, on: &twin))
        #expect(failed.0.action == .verifyVersion && failed.0.host == host, "\(failed.0.summary)")
        #expect(failed.1.rule == .mxSUNonElevatedHTTP500 && failed.1.message.contains("HTTP 500"))
        #expect(twin.history.contains { $0.action == "install" && $0.host == host && $0.succeeded })
        try twin.fix(LabFault(.suNotElevated, host))
        #expect(twin.perform(failed.0).succeeded)
    }

    @Test(
        "a cumulative update started as a bare setup.exe: it says it succeeded, the version check finds the old build")
    func bareSetup() throws {
        let (inventory, plan) = try Self.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        var twin = LabTwin(inventory: inventory, seed: 3)
        let install = try #require(plan.steps.first { $0.action == .install })
        let host = try #require(install.host)
        let before = try #require(twin.hosts[host]?.build)
        try twin.inject(LabFault(.bareSetup, host))
        let failed = try #require(F.rehearse(plan, on: &twin))
        #expect(failed.0.action == .verifyVersion && failed.0.host == host, "\(failed.0.summary)")
        #expect(failed.1.rule == .mxCURunDotSetup, "\(failed.1.message)")
        #expect(failed.1.message.contains("reports build \(before)") && failed.1.message.contains(".\\setup.exe"))
        // `baton diagnose` recognises the message, pasted.
        #expect(Diagnosis.findings(in: failed.1.message).map(\.rule) == [.mxCURunDotSetup])
        #expect(twin.history.contains { $0.action == "install" && $0.host == host && $0.succeeded })
        // Nothing was upgraded: the server still runs what it ran, and no other server was touched.
        #expect(twin.hosts[host]?.build == before)
        try twin.fix(LabFault(.bareSetup, host))
        #expect(twin.perform(failed.0).succeeded)
        // The rest of the rollout goes through, and the server ends on the update's build.
        var rest = plan
        rest.steps = Array(plan.steps.drop { $0.id != failed.0.id }.dropFirst())
        #expect(F.rehearse(rest, on: &twin) == nil)
        #expect(
            twin.hosts[host]?.build != before && twin.accounting.violations.isEmpty, "\(twin.accounting.violations)")
    }

    @Test("preflight of a DAG organization: pending restart, disabled services, copies, Active Directory")
    func preflight() throws {
        let (inventory, plan) = try Self.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        var twin = LabTwin(inventory: inventory, seed: 3)
        let clean = Preflight(twin: twin, plan: plan).run()
        #expect(!clean.contains { $0.status == .fail })
        #expect(
            clean.contains { $0.check == "Active Directory" && $0.status == .warn && $0.detail.contains("prepares it") }
        )
        #expect(clean.contains { $0.check == "database copies" && $0.subject == "DAG1" && $0.status == .pass })
        try twin.inject(LabFault(.servicesDisabled, "MBX2"))
        twin.hosts["MBX3"]?.pendingRestart = true
        twin.hosts["MBX4"]?.up = false
        let found = Preflight(twin: twin, plan: plan).run().filter { $0.status == .fail }
        #expect(found.contains { $0.rule == .mxServicesDisabled && $0.subject == "MBX2" })
        #expect(found.contains { $0.rule == .mxReadinessRebootPending && $0.subject == "MBX3" })
        #expect(found.contains { $0.rule == .mxCopiesHealthy && $0.detail.contains("does not answer") })
    }

    @Test("a stand-alone server's databases are counted as down while it is out of service")
    func standaloneOutage() throws {
        let (inventory, plan) = try Self.plan("mx-standalone-to-se.yaml", "exchange-se-rtm")
        var twin = LabTwin(inventory: inventory, seed: 3)
        #expect(F.rehearse(plan, on: &twin) == nil)
        #expect(twin.hosts["TS-EX1"]?.product == .exchangeSE && twin.hosts["TS-EX1"]?.build == "15.2.2562.17")
        #expect(twin.accounting.violations.isEmpty)
    }
}
