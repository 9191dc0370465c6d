import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

/// Rule `mx-witness-restart`: a server that holds a two-member DAG's file share witness and is
/// itself updated never restarts while a member of that DAG is out.
@Suite("Quorum across DAGs")
struct WitnessQuorumTests {
    /// An Exchange 2019 DAG of `members` members whose witness is `witness`, plus `extra` servers.
    static func inventory(witness: String, extra: String, members: Int = 2) throws -> Inventory {
        let names = (1...members).map { "M\($0)" }
        let text = """
            organization: litware
            domain-controllers: [LDC1]
            active-directory: {schema-master-site: HQ, domains: [litware.local], schema-version: 17003, organization-version: 16762, domain-version: 13243}
            sites:
              - {name: HQ, internet-facing: true}
            servers:
            \(names.map { "  - {name: \($0), product: exchange-2019, level: cu14, os: windows-2022, site: HQ}" }.joined(separator: "\n"))
            \(extra)
            dags:
              - name: DAG1
                members: [\(names.joined(separator: ", "))]
                witness: {server: \(witness), site: HQ}
                databases:
                  - {name: DB1, copies: [M1, M2]}
                  - {name: DB2, copies: [M2, M1]}
            """
        return try InventoryLoader.parse(text: text, file: "litware.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    /// The same organization's plan without the orders of rule `mx-witness-restart`: the
    /// witnesses moved to servers no plan updates. Only the steps that carried the rule differ.
    static func withoutWitnessOrder(_ plan: Plan, _ inventory: Inventory, _ package: Package) throws -> Plan {
        let unsafe = try Planner(inventory: inventory.witnessesElsewhere, package: package).plan()
        #expect(unsafe.steps.count == plan.steps.count)
        for (safe, other) in zip(plan.steps, unsafe.steps) where safe.after != other.after {
            #expect(safe.rules.contains(.mxWitnessRestart), "\(safe.id) \(safe.summary)")
            #expect(Set(other.after).isStrictSubset(of: Set(safe.after)), "\(safe.id)")
        }
        return unsafe
    }

    @Test("crossed witnesses: each DAG's witness server is updated wholly before or after that DAG, in every order")
    func crossed() throws {
        let (inventory, package, plan) = try Examples.plan("mx-crossed-witnesses.yaml", "exchange-2019-cu15")
        let ordered = plan.steps.filter { $0.rules.contains(.mxWitnessRestart) }
        // B1's drain waits for DAGA's last member (B1 holds DAGA's witness) and for A1's update
        // (A1 holds DAGB's witness, and B1 is DAGB's first member): one step, both reasons.
        #expect(ordered.map(\.summary) == ["drain-transport on B1"], "\(ordered.map(\.summary))")
        let why = ordered.first?.why ?? ""
        #expect(why.contains("B1 holds DAGA's file share witness") && why.contains("A1 holds DAGB's file share witness"), "\(why)")
        let checker = PlanChecker(inventory: inventory, package: package, plan: plan)
        #expect(checker.violations(orders: 60, seed: 11).isEmpty)

        let unsafe = try Self.withoutWitnessOrder(plan, inventory, package)
        #expect(unsafe.steps.map(\.after) != plan.steps.map(\.after), "the order was taken out")
        let problems = PlanChecker(inventory: inventory, package: package, plan: unsafe).violations(
            orders: 60, seed: 11)
        #expect(problems.contains { $0.contains("mx-witness-restart") }, "\(problems.prefix(5))")
    }

    @Test("a witness on a stand-alone mailbox server that is updated")
    func standaloneWitness() throws {
        // U1, already at CU15, takes S1's mail, so S1 need not wait for the DAG: side by side
        // but for the witness.
        let inventory = try Self.inventory(
            witness: "S1",
            extra: """
                  - {name: S1, product: exchange-2019, level: cu14, os: windows-2022, site: HQ}
                  - {name: U1, product: exchange-2019, level: cu15, os: windows-2022, site: HQ}
                """)
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        #expect(plan.steps.contains { $0.rules.contains(.mxWitnessRestart) })
        let checker = PlanChecker(inventory: inventory, package: package, plan: plan)
        #expect(checker.violations(orders: 60, seed: 3).isEmpty)
        let unsafe = PlanChecker(inventory: inventory, package: package, plan: try Self.withoutWitnessOrder(plan, inventory, package))
        #expect(unsafe.violations(orders: 60, seed: 3).contains { $0.contains("mx-witness-restart") })
    }

    @Test("a witness on an Exchange 2013 Client Access server that is updated")
    func clientAccessWitness() throws {
        let text = """
            organization: adatum
            domain-controllers: [ADC1]
            active-directory: {schema-master-site: LONDON, domains: [adatum.com], schema-version: 15312, organization-version: 16131, domain-version: 13236}
            sites:
              - {name: LONDON, internet-facing: true}
            servers:
              - {name: CAS1, product: exchange-2013, level: cu22, os: windows-2012-r2, role: client-access, site: LONDON}
              - {name: MBX1, product: exchange-2013, level: cu22, os: windows-2012-r2, site: LONDON}
              - {name: MBX2, product: exchange-2013, level: cu22, os: windows-2012-r2, site: LONDON}
            dags:
              - name: DAG-A
                members: [MBX1, MBX2]
                witness: {server: CAS1, site: LONDON}
                databases:
                  - {name: DB-A1, copies: [MBX1, MBX2]}
            """
        let inventory = try InventoryLoader.parse(
            text: text, file: "adatum.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2013-cu23"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        // Client Access servers go after the site's mailbox servers: CAS1 restarts once the
        // whole DAG is back, by the order the plan already has.
        let checker = PlanChecker(inventory: inventory, package: package, plan: plan)
        #expect(checker.violations(orders: 60, seed: 5).isEmpty)
        let casReboot = try #require(plan.steps.firstIndex { $0.action == .reboot && $0.host == "CAS1" })
        let lastMember = try #require(plan.steps.lastIndex { $0.action == .resumeTransport && $0.host?.spelling.hasPrefix("MBX") == true })
        #expect(lastMember < casReboot)
    }

    @Test("baton quality's figure for what the orders cost: the crossed DAGs, no longer side by side")
    func orderCost() throws {
        let (inventory, package, plan) = try Examples.plan("mx-crossed-witnesses.yaml", "exchange-2019-cu15")
        let quality = PlanQuality(plan: plan, inventory: inventory, parallel: 4, batchSizes: [])
        let cost = try #require(
            PlanQuality.witnessOrderCost(
                plan: plan, inventory: inventory, package: package, parallel: 4, makespan: quality.makespan))
        #expect(cost > 0, "\(cost)")
        let (plain, plainPackage, plainPlan) = try Examples.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        #expect(
            PlanQuality.witnessOrderCost(
                plan: plainPlan, inventory: plain, package: plainPackage, parallel: 4, makespan: 0) == nil)
    }

    @Test("a stand-alone witness that already waits for the DAG (its mail goes to a member): the reason, no extra edge")
    func alreadyOrdered() throws {
        let inventory = try Self.inventory(
            witness: "S1", extra: "  - {name: S1, product: exchange-2019, level: cu14, os: windows-2022, site: HQ}")
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
        let plan = try Planner(inventory: inventory, package: package).plan()
        let ordered = plan.steps.filter { $0.rules.contains(.mxWitnessRestart) }
        #expect(ordered.map(\.summary) == ["drain-transport on S1"], "\(ordered.map(\.summary))")
        let elsewhere = try Planner(inventory: inventory.witnessesElsewhere, package: package).plan()
        #expect(plan.steps.map(\.after) == elsewhere.steps.map(\.after), "no edge the plan did not have")
        #expect(PlanChecker(inventory: inventory, package: package, plan: plan).violations(orders: 60, seed: 3).isEmpty)
    }

    @Test("a witness on a server the plan leaves alone, or on a four-member DAG, adds no order")
    func noOrderNeeded() throws {
        let untouched = try Self.inventory(
            witness: "S1", extra: "  - {name: S1, product: exchange-2019, level: cu15, os: windows-2022, site: HQ}")
        let fourMembers = try Self.inventory(
            witness: "S1", extra: "  - {name: S1, product: exchange-2019, level: cu14, os: windows-2022, site: HQ}",
            members: 4)
        for inventory in [untouched, fourMembers] {
            let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
            let plan = try Planner(inventory: inventory, package: package).plan()
            #expect(!plan.steps.contains { $0.rules.contains(.mxWitnessRestart) })
            #expect(PlanChecker(inventory: inventory, package: package, plan: plan).violations(orders: 30, seed: 9).isEmpty)
        }
        // The four-member DAG's witness restarts, with the DAG side by side: three of five votes
        // remain while a member is out, and the checker, which counts votes, agrees.
        let plan = try Planner(
            inventory: fourMembers,
            package: try #require(PackageCatalogue(inventory: fourMembers).package("exchange-2019-cu15"))
        ).plan()
        #expect(plan.steps.contains { $0.action == .reboot && $0.host == "S1" })
    }
}
