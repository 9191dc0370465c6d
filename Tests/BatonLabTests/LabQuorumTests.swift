import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

/// The twin counts each DAG's votes: a DAG left without a majority dismounts its databases,
/// and the outage is a violation, whatever caused it.
@Suite("The twin counts votes")
struct LabQuorumTests {
    typealias F = LabFixture

    /// The plan's steps in a topological order that takes the ready step of the phase least
    /// advanced so far: side-by-side chains advance in step, as the engine runs them.
    static func interleaved(_ plan: Plan) -> Plan {
        var done = Set<StepID>(), order: [Step] = [], perPhase: [String: Int] = [:]
        var left = plan.steps
        while !left.isEmpty {
            let ready = left.indices.filter { left[$0].after.allSatisfy(done.contains) }
            guard let pick = ready.min(by: { (perPhase[left[$0].phase, default: 0], $0) < (perPhase[left[$1].phase, default: 0], $1) })
            else { break }
            let step = left.remove(at: pick)
            perPhase[step.phase, default: 0] += 1
            done.insert(step.id)
            order.append(step)
        }
        var reordered = plan
        reordered.steps = order
        return reordered
    }

    @Test("crossed witnesses rehearse with no dismount; without the plan's order a DAG loses quorum")
    func crossed() throws {
        let inventory = try F.inventory("mx-crossed-witnesses.yaml")
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        var twin = LabTwin(inventory: inventory, seed: 7)
        #expect(F.rehearse(Self.interleaved(plan), on: &twin) == nil)
        #expect(twin.accounting.violations.isEmpty, "\(twin.accounting.violations)")
        #expect(twin.modern?.databases.values.allSatisfy { $0.mounted != nil } == true)

        // The same plan without the order (the witnesses planned as if elsewhere; the planner
        // tests show that only the order differs), run with the DAGs side by side.
        let unsafe = try Planner(inventory: inventory.witnessesElsewhere, package: package).plan()
        var broken = LabTwin(inventory: inventory, seed: 7)
        _ = F.rehearse(Self.interleaved(unsafe), on: &broken)
        let lost = broken.accounting.violations.filter { $0.rule == Rule.ID.mxWitnessRestart.rawValue }
        #expect(!lost.isEmpty, "\(broken.accounting.violations)")
        #expect(lost.first?.message.contains("lost quorum") == true && lost.first?.message.contains("dismounted") == true)
    }

    @Test("witness-down: check-witness stops the run before a member goes out; a member out meanwhile dismounts")
    func witnessDown() throws {
        let inventory = try F.inventory("mx-two-member-dag.yaml")
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2016-cu23"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        var twin = LabTwin(inventory: inventory, seed: 7)
        #expect(throws: LabError.self) { try twin.inject(LabFault(.witnessDown, "NW-EX1")) }
        try twin.inject(LabFault(.witnessDown, "NW-FS1"))
        let stopped = try #require(F.rehearse(plan, on: &twin))
        #expect(stopped.0.action == .checkWitness, "\(stopped.0.summary)")
        #expect(stopped.1.message.contains("NW-FS1") && stopped.1.rule == .mxQuorum, "\(stopped.1.message)")
        #expect(twin.accounting.violations.isEmpty)

        // The witness goes down after its check passed: the member out leaves 1 of 3 votes.
        var late = LabTwin(inventory: inventory, seed: 7)
        let entering = try #require(plan.steps.firstIndex { $0.action == .startDagMaintenance })
        let failed = late.rehearse(Array(plan.steps[..<entering]))
        #expect(failed == nil, "\(failed.map { "\($0.0.summary): \($0.1.message)" } ?? "")")
        try late.inject(LabFault(.witnessDown, "NW-FS1"))
        #expect(late.perform(plan.steps[entering]).succeeded)
        #expect(late.accounting.violations.contains { $0.rule == Rule.ID.mxQuorum.rawValue && $0.message.contains("NW-DAG lost quorum") })
        #expect(late.modern?.databases.values.allSatisfy { $0.mounted == nil } == true)
        try late.fix(LabFault(.witnessDown, "NW-FS1"))
        _ = late.perform(plan.steps.first { $0.action == .checkCopies }!)
        #expect(late.modern?.databases.values.allSatisfy { $0.mounted != nil } == true, "mounted again with quorum back")
    }

    @Test("key-logon: the twin's network probe fails for that server, and its steps that leave it fail; fixed, it passes")
    func keyLogon() throws {
        let inventory = try F.inventory("mx-two-member-dag.yaml")
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2016-cu23"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        var twin = LabTwin(inventory: inventory, seed: 7)
        #expect(Preflight.network(twin, plan).isEmpty)
        #expect(throws: LabError.self) { try twin.inject(LabFault(.keyLogon, "NWDC1")) }
        try twin.inject(LabFault(.keyLogon, "NW-EX2"))

        let failed = Preflight.network(twin, plan)
        #expect(failed.map(\.subject) == ["NW-EX2"])
        #expect(failed.first?.rule == .windowsNetworkLogon)
        #expect(failed.first?.detail.hasPrefix("an SSH key logon on Windows carries no network credentials") == true)
        let checked = Preflight(twin: twin, plan: plan, maximumBackupAge: 86400).run()
        #expect(checked.contains { $0.check == "network" && $0.subject == "NW-EX2" && $0.status == .fail })

        // Past the probe, the first step that leaves NW-EX2 fails as the real one would, with
        // NW-EX1's maintenance done: StartDagServerMaintenance.ps1 cannot reach the DAG.
        var rehearsed = twin
        let (step, outcome) = try #require(F.rehearse(plan, on: &rehearsed))
        #expect(step.host == "NW-EX2" && step.action == .startDagMaintenance, "\(step.summary)")
        #expect(outcome.rule == .windowsNetworkLogon)
        #expect(rehearsed.modern?.servers["NW-EX2"]?.inDAGMaintenance == false)

        try twin.fix(LabFault(.keyLogon, "NW-EX2"))
        #expect(Preflight.network(twin, plan).isEmpty)
        #expect(F.rehearse(plan, on: &twin) == nil)
    }
}
