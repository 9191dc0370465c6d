import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

/// Settle time (rule `mx-settle`): after a DAG member is back and its copies are healthy, the
/// next member waits the inventory's `settle:`.
@Suite("Settle time between DAG members")
struct SettleTests {
    static func inventory(_ organization: String?, dag: String? = nil) throws -> Inventory {
        var text = try String(contentsOfFile: Examples.path("mx-stretched-dag.yaml"), encoding: .utf8)
        if let organization {
            text = text.replacingOccurrences(of: "\ndags:", with: "\nsettle: \(organization)\ndags:")
        }
        if let dag {
            text = text.replacingOccurrences(of: "  - name: DAG1\n", with: "  - name: DAG1\n    settle: \(dag)\n")
        }
        return try InventoryLoader.parse(
            text: text, file: "settle.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    static func plan(_ inventory: Inventory) throws -> Plan {
        try Planner(
            inventory: inventory,
            package: try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
        ).plan()
    }

    @Test("a wait between members, none after the last; the checker passes it; the estimate grows by the waits")
    func betweenMembers() throws {
        let plain = try Self.plan(try Self.inventory(nil))
        let inventory = try Self.inventory("10m")
        let plan = try Self.plan(inventory)
        let waits = plan.steps.filter { $0.action == .settle }
        let members = inventory.dags.reduce(0) { $0 + $1.members.count }
        #expect(waits.count == members - inventory.dags.count)
        #expect(waits.allSatisfy { $0.rules == [.mxSettle] && $0.summary.hasSuffix("for 10 min") })
        let problems = PlanChecker(inventory: inventory, package: PackageCatalogue.modern[5], plan: plan)
            .violations(orders: 20, seed: 9)
        #expect(problems.isEmpty, "\(problems.prefix(4))")
        let windows = Dictionary(uniqueKeysWithValues: (plan.estimate?.dags ?? []).map { ($0.name, $0.windowSeconds) })
        for dag in plain.estimate?.dags ?? [] {
            let added = (inventory.dags.first { $0.name.spelling == dag.name }?.members.count ?? 1) - 1
            #expect(windows[dag.name] == dag.windowSeconds + added * 600, "\(dag.name)")
        }
        // In the plan's JSON as `seconds`, and read back.
        let text = JSONRenderer.render(plan)
        #expect(text.contains("\"seconds\" : 600"))
        #expect(try JSONRenderer.decode(text) == plan)
    }

    @Test("a DAG's own settle: wins over the organization's; a bad duration is located")
    func perDAG() throws {
        let plan = try Self.plan(try Self.inventory("10m", dag: "2m"))
        let waits = plan.steps.filter { $0.action == .settle }
        #expect(waits.allSatisfy { $0.summary.contains("for 2 min") })
        #expect {
            try Self.inventory("soon")
        } throws: { error in
            "\(error)".contains("settle.yaml:") && "\(error)".contains("settle 'soon'")
        }
    }
}
