import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonRuns
import BatonStore
import Foundation
import Testing

/// Every fault of the lab twin on every machine or virtual server it can hit, in whole runs:
/// the run completes (the fault never met an action) or halts with the failure named; after
/// the operator's fix, resume completes; never a rule of KB 328839 broken, a virtual server left
/// offline or an install applied twice. Two example organizations in CI;
/// `BATON_FAULT_SWEEP=all` sweeps every example.
@Suite("Fault sweep")
struct FaultSweepTests {
    static let examples =
        ProcessInfo.processInfo.environment["BATON_FAULT_SWEEP"] == "all"
        ? ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).filter {
            $0.hasSuffix(".yaml") && $0 != "e2003-migration.yaml"
        }.sorted()
        : ["contoso.yaml", "e2000-active-active.yaml", "mx-two-member-dag.yaml"]

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples")

    @Test("every fault on every target halts safely or passes; after the fix, resume completes", arguments: examples)
    func sweep(_ example: String) async throws {
        let inventory = try InventoryLoader.load(
            path: Self.directory.appendingPathComponent(example).path, reservedPackageIDs: PackageCatalogue.builtInIDs)
        let modern = [
            "mx-stretched-dag.yaml": "exchange-2019-cu15", "mx-two-member-dag.yaml": "exchange-2016-cu23",
            "mx-2013-split-roles.yaml": "exchange-2013-cu23", "mx-standalone-to-se.yaml": "exchange-se-rtm",
            "mx-multi-dag-monthly-su.yaml": "exchange-2019-cu15-feb26-su",
            "mx-se-with-2013-left.yaml": "exchange-2019-cu15-feb26-su", "mx-cu13-to-cu15.yaml": "exchange-2019-cu15",
            "mx-crossed-witnesses.yaml": "exchange-2019-cu15", "mx-monthly-mixed.yaml": "exchange-2019-cu15",
        ]
        let packageID =
            modern[example]
            ?? (example.hasPrefix("e2000")
                ? "exchange-2000-sp3" : example.hasPrefix("e55") ? "exchange-5.5-sp4" : "exchange-2003-sp2")
        let package = try #require(PackageCatalogue(inventory: inventory).package(PackageID(packageID)))
        // The monthly example is planned toward a target, as its administrators would.
        let plan =
            example == "mx-monthly-mixed.yaml"
            ? try Planner.plan(inventory, to: .latestCumulativeUpdate, catalogue: PackageCatalogue(inventory: inventory))
            : try Planner(inventory: inventory, package: package).plan()
        let pristine = LabTwin(inventory: inventory)
        let hosts = pristine.hosts.values.filter { $0.product != nil }.map(\.name).sorted()
        let groups = pristine.groups.values.filter(\.isVirtualServer).map(\.name).sorted()
        let witnesses = Set(pristine.modern?.dags.values.compactMap(\.witness) ?? []).sorted()
        let controllers = pristine.hosts.values.filter { $0.product == nil }.map(\.name).sorted()
        var runs = 0, halted = 0
        // Faults of Exchange 2013 and later go to those servers only.
        for kind in LabFault.Kind.allCases where !kind.isModernOnly || modern[example] != nil {
            let targets =
                switch kind.shape.target {
                case .virtualServer: groups
                case .witness: witnesses
                case .domainController: controllers
                case .host, .modernServer: hosts
                }
            for target in targets {
                runs += 1
                let directory = NSTemporaryDirectory() + "baton-sweep-\(UUID().uuidString)"
                defer { try? FileManager.default.removeItem(atPath: directory) }
                let journal = try SQLiteJournal(path: directory + "/journal.sqlite")
                let service = RunService(journal: journal, stateDirectory: directory)
                let store = service.store
                let fault = LabFault(kind, target)
                let owned = try await service.start(
                    .init(
                        inventory: inventory, package: package, plan: plan, id: "r", target: .lab, freshLab: true,
                        faults: [fault], by: "sweep"))
                let options = EngineOptions(approveAll: true, timeouts: [.moveGroup: .seconds(5)])
                let context = "\(example): \(fault)"
                // A session that cannot reach the network halts the run before its first step
                // (fault key-logon): nothing failed, because nothing ran.
                var problems: [String] = []
                var outcome: RunService.Outcome?
                do {
                    outcome = try await service.drive(owned, speed: .instant, options: options, approvedBy: "sweep")
                } catch {
                    guard case .preflightFailed(let found) = error else { throw error }
                    problems = found
                }
                let unproven = !problems.isEmpty
                if unproven {
                    #expect(problems.allSatisfy { $0.contains("no network credentials") }, "\(context): \(problems)")
                    #expect(try journal.run("r")?.state == .halted, "\(context)")
                    #expect(try journal.steps(of: "r").allSatisfy { $0.state == .pending }, "\(context): a step ran")
                }
                let first = outcome?.state ?? .halted
                if first == .halted {
                    halted += 1
                    let failed = try journal.steps(of: "r").filter { $0.state == .failed }
                    #expect(unproven || !failed.isEmpty, "\(context): halted with nothing failed")
                    #expect(failed.allSatisfy { !$0.message.isEmpty }, "\(context)")
                    var twin = try await store.load()
                    // Conditions hold until fixed, and a host that did not come back must be
                    // brought back; events have passed.
                    if kind.needsOperator { try twin.fix(fault) }
                    try await store.save(twin)
                    outcome = try await service.drive(
                        try service.resume("r", by: "sweep"), speed: .instant, options: options, approvedBy: "sweep")
                } else {
                    #expect(first == .completed, "\(context)")
                }
                let final = outcome?.state
                let twin = try #require(outcome?.twin)
                let failures = try journal.steps(of: "r").filter { $0.state == .failed }.map(\.message)
                #expect(final == .completed, "\(context): \(failures)")
                #expect(twin.accounting.violations.isEmpty, "\(context): \(twin.accounting.violations)")
                let offline = twin.groups.values.filter { $0.isVirtualServer && !$0.isOnline }.map(\.name)
                #expect(offline.isEmpty, "\(context): \(offline) offline")
                if let modern = twin.modern {
                    let dismounted = modern.databases.values.filter { $0.mounted == nil }.map(\.name)
                    #expect(dismounted.isEmpty, "\(context): \(dismounted) dismounted")
                    let out = modern.servers.filter { !$0.value.inService }.map(\.key)
                    #expect(out.isEmpty, "\(context): \(out) left out of service")
                }
                let installs = twin.history.filter { $0.action == "install" && $0.applied }.compactMap(\.step)
                #expect(installs.count == Set(installs).count, "\(context): an install applied twice")
            }
        }
        #expect(runs > 0 && halted > 0, "\(example): \(runs) runs, \(halted) halted")
    }
}
