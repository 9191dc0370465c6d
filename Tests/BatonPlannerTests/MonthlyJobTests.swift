import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

/// The monthly job (rule `mx-latest-update`, `canary`): every server to its own newest update in
/// one plan, checked against the catalogue and by the independent checker in random orders.
@Suite("The monthly job: --to latest, --to latest-cu, --limit")
struct MonthlyJobTests {
    static let example = "mx-monthly-mixed.yaml"

    /// What each server must install toward `target`, worked out here from the catalogue's
    /// wording alone: the newest security update (by build) built for the server's product and
    /// cumulative update, unless the server has it; with latest-cu, the product's newest
    /// cumulative update first when the server is below it. Exchange 2013 gets nothing.
    static func expectedRoutes(_ inventory: Inventory, _ catalogue: PackageCatalogue, latestCU: Bool) -> [String:
        [Package]]
    {
        func lower(_ a: String, _ b: String) -> Bool {
            a.split(separator: ".").map { Int($0)! }.lexicographicallyPrecedes(b.split(separator: ".").map { Int($0)! })
        }
        var routes: [String: [Package]] = [:]
        for server in inventory.servers
        where [.exchange2016, .exchange2019, .exchangeSE].contains(server.install.product) {
            var level = server.install.level
            var packages: [Package] = []
            if latestCU {
                let updates = catalogue.packages.filter {
                    $0.kind == .cumulativeUpdate && $0.product == server.install.product
                }
                if let newest = updates.max(by: { $0.level! < $1.level! }), level < newest.level! {
                    packages.append(newest)
                    level = newest.level!
                }
            }
            let built = catalogue.packages.filter {
                $0.kind == .securityUpdate && $0.product == server.install.product && $0.requires == level
            }
            if let newest = built.max(by: { lower($0.build!, $1.build!) }),
                !(packages.isEmpty && server.update?.lowercased() == newest.update?.lowercased())
            {
                packages.append(newest)
            }
            if !packages.isEmpty { routes[server.name.lowercased()] = packages }
        }
        return routes
    }

    /// Each host's install steps, in plan order, by lowercased name.
    static func installs(_ plan: Plan) -> [String: [PackageID]] {
        var installs: [String: [PackageID]] = [:]
        for step in plan.steps where step.action == .install {
            installs[step.host!.lowercased(), default: []].append(step.package!)
        }
        return installs
    }

    func check(latestCU: Bool, limit: String? = nil) throws -> (Inventory, Plan, [String: [Package]]) {
        let inventory = try Examples.load(Self.example)
        let catalogue = PackageCatalogue(inventory: inventory)
        let plan = try Planner.plan(
            inventory, to: latestCU ? .latestCumulativeUpdate : .latest, catalogue: catalogue,
            limit: try limit.map { try Limit($0, in: inventory) })
        var expected = Self.expectedRoutes(inventory, catalogue, latestCU: latestCU)
        if let limit {
            let scope = try Limit(limit, in: inventory).servers.map { $0.lowercased() }
            expected = expected.filter { scope.contains($0.key) }
        }
        #expect(Self.installs(plan) == expected.mapValues { $0.map(\.id) })
        let problems = PlanChecker(
            inventory: inventory, package: PackageCatalogue.modern.last!, plan: plan, expected: expected
        ).violations(orders: 25, seed: latestCU ? 11 : 7)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        return (inventory, plan, expected)
    }

    @Test(
        "--to latest: each server of 2016 CU23, 2019 CU14, 2019 CU15 and SE RTM gets exactly its own build's newest security update"
    )
    func latest() throws {
        let (_, plan, expected) = try check(latestCU: false)
        #expect(expected.count == 9)
        #expect(
            Set(expected.values.map { $0.map(\.id.spelling) }) == [
                ["exchange-2016-cu23-feb26-su"], ["exchange-2019-cu14-feb26-su"], ["exchange-2019-cu15-feb26-su"],
                ["exchange-se-rtm-feb26-su"],
            ])
        #expect(plan.target == "latest")
        #expect(
            plan.packages?.map(\.package.id.spelling) == [
                "exchange-2016-cu23-feb26-su", "exchange-2019-cu14-feb26-su", "exchange-2019-cu15-feb26-su",
                "exchange-se-rtm-feb26-su",
            ])
        // EDGE2 already has SE's February update: left alone, and the plan says why.
        #expect(
            plan.warnings.contains { $0.rule == .mxLatestUpdate && $0.message.contains("EDGE2 already have feb26-su") })
        // Security updates only: Active Directory is not prepared.
        #expect(!plan.steps.contains { $0.action == .prepareAD || $0.action == .prepareSchema })
    }

    @Test(
        "--to latest-cu: CU15 then its security update on the CU14 servers in one maintenance window; AD prepared once")
    func latestCumulativeUpdate() throws {
        let (_, plan, expected) = try check(latestCU: true)
        #expect(expected["mbx1"]?.map(\.id.spelling) == ["exchange-2019-cu15", "exchange-2019-cu15-feb26-su"])
        // One window per server: one server-offline, two installs, each followed by its restart.
        let mbx1 = plan.steps.filter { $0.host == "MBX1" }.map(\.action)
        #expect(mbx1.filter { $0 == .serverOffline }.count == 1)
        #expect(mbx1.filter { $0 == .install }.count == 2)
        #expect(plan.steps.filter { $0.action == .prepareAD }.count == 1)
    }

    @Test("--limit DAG1 keeps every ordering rule for the servers it keeps and names the rest")
    func canary() throws {
        let (_, plan, expected) = try check(latestCU: true, limit: "dag1")
        #expect(Set(expected.keys) == ["mbx1", "mbx2", "mbx3"])
        #expect(plan.limit == ["dag1"])
        // The CU still needs Active Directory prepared first, for the servers kept.
        #expect(plan.steps.contains { $0.action == .prepareAD })
        #expect(plan.warnings.contains { $0.rule == .canary && $0.message.contains("outside --limit dag1") })
    }

    @Test(
        "a canary, then a plan without --limit from the organization as the canary left it: every install once in total, both checked"
    )
    func canaryThenRest() throws {
        var inventory = try Examples.load(Self.example)
        let catalogue = PackageCatalogue(inventory: inventory)
        let full = Self.expectedRoutes(inventory, catalogue, latestCU: true)
        let (_, canary, _) = try check(latestCU: true, limit: "DAG1")
        // What the canary did, applied as the twin (or the servers) would then report it.
        for index in inventory.servers.indices {
            for id in Self.installs(canary)[inventory.servers[index].name.lowercased()] ?? [] {
                let package = try #require(catalogue.package(id))
                if package.kind == .cumulativeUpdate {
                    inventory.servers[index].install.level = package.level!
                    inventory.servers[index].update = nil
                } else {
                    inventory.servers[index].update = package.update
                }
            }
        }
        let rest = try Planner.plan(inventory, to: .latestCumulativeUpdate, catalogue: catalogue)
        let expected = Self.expectedRoutes(inventory, catalogue, latestCU: true)
        let problems = PlanChecker(
            inventory: inventory, package: PackageCatalogue.modern.last!, plan: rest, expected: expected
        ).violations(orders: 25, seed: 5)
        #expect(problems.isEmpty, "\(problems.prefix(5))")
        var total = Self.installs(canary)
        for (host, ids) in Self.installs(rest) { total[host, default: []] += ids }
        #expect(total == full.mapValues { $0.map(\.id) })
    }

    @Test("--limit role:edge leaves an Edge server whose site's mailbox servers still wait, saying why")
    func edgeWaits() throws {
        let inventory = try Examples.load(Self.example)
        let plan = try Planner.plan(
            inventory, to: .latest, catalogue: PackageCatalogue(inventory: inventory),
            limit: try Limit("role:edge", in: inventory))
        #expect(!plan.steps.contains { $0.action == .install })
        #expect(
            plan.warnings.contains {
                $0.rule == .canary && $0.message.contains("EDGE1 must wait for mailbox servers MBX1")
            })
    }

    @Test("--limit: an unknown DAG, site or role is refused with the nearest name")
    func unknownLimit() throws {
        let inventory = try Examples.load(Self.example)
        #expect(throws: Limit.Problems.self) { try Limit("DAG9", in: inventory) }
        // Every unknown term at once, each with its nearest name; the known one is no problem.
        let problems = #expect(throws: Limit.Problems.self) { try Limit("site:mian,role:egde,DAG1", in: inventory) }
        #expect(problems?.messages.count == 2)
        #expect(problems?.messages.first?.contains("did you mean 'MAIN'?") == true)
        #expect(problems?.messages.last?.contains("did you mean 'edge'?") == true)
    }

    @Test("a checker that expects other packages finds the plan wrong (it can fail)")
    func checkerCanFail() throws {
        let inventory = try Examples.load(Self.example)
        let catalogue = PackageCatalogue(inventory: inventory)
        let plan = try Planner.plan(inventory, to: .latest, catalogue: catalogue)
        var expected = Self.expectedRoutes(inventory, catalogue, latestCU: false)
        expected["mbx1"] = [catalogue.package("exchange-2019-cu15-feb26-su")!]
        let problems = PlanChecker(
            inventory: inventory, package: PackageCatalogue.modern.last!, plan: plan, expected: expected
        )
        .violations(orders: 3, seed: 1)
        #expect(problems.contains { $0.contains("needs exchange-2019-cu15-feb26-su next") })
    }

    @Test("a target's plan, limited and saved, is written by hand as Foundation writes it, and read back the same")
    func json() throws {
        let inventory = try Examples.load(Self.example)
        var plan = try Planner.plan(
            inventory, to: .latestCumulativeUpdate, catalogue: PackageCatalogue(inventory: inventory),
            limit: try Limit("DAG2,role:edge", in: inventory))
        plan.madeFrom = Plan.Source(
            inventory: "org.yaml", inventorySHA256: String(repeating: "a", count: 64), catalogue: "march.yaml",
            catalogueSHA256: String(repeating: "b", count: 64),
            builds: ["MBX4": "15.2.1748.10", "EDGE1": "15.2.1748.10"])
        plan.digest = String(repeating: "c", count: 64)
        let text = JSONRenderer.render(plan)
        let written = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? NSDictionary
        let reference =
            try JSONSerialization.jsonObject(with: Data(JSONRenderer.renderWithFoundation(plan).utf8)) as? NSDictionary
        #expect(written != nil && written == reference)
        #expect(try JSONRenderer.decode(text) == plan)
        #expect(text.contains("\"made-from\"") && text.contains("\"inventory-sha256\"") && text.contains("\"limit\""))
    }

    @Test(
        "a named release: --to feb26 is February's update for each build; a release the catalogue lacks leaves all alone"
    )
    func namedRelease() throws {
        let inventory = try Examples.load(Self.example)
        let catalogue = PackageCatalogue(inventory: inventory)
        let february = try Planner.plan(inventory, to: try #require(UpdateTarget("Feb26")), catalogue: catalogue)
        #expect(
            Self.installs(february) == Self.installs(try Planner.plan(inventory, to: .latest, catalogue: catalogue)))
        let march = try Planner.plan(inventory, to: try #require(UpdateTarget("mar26")), catalogue: catalogue)
        #expect(march.steps.isEmpty)
        #expect(march.warnings.contains { $0.message.contains("no mar26 security update") })
    }
}
