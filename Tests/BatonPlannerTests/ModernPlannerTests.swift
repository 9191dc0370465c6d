import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import PropertyBased
import Testing

@Suite("Exchange 2013 and later: DAGs, sites and Edge servers")
struct ModernPlannerTests {
    typealias Mutation = (inout Plan) -> Void

    func violations(_ mutate: Mutation, example: String, package: PackageID) throws -> [String] {
        let (inventory, pkg, plan) = try Examples.plan(example, package)
        var broken = plan
        mutate(&broken)
        return PlanChecker(inventory: inventory, package: pkg, plan: broken).violations(orders: 10, seed: 3)
    }

    static let stretched = "mx-stretched-dag.yaml"

    // MARK: The checker fails broken plans

    @Test("two members of one DAG in maintenance at once")
    func twoMembersAtOnce() throws {
        let found = try violations(
            { plan in
                // MBX2's chain no longer waits for MBX1's: both may be out together.
                let drain = plan.steps.firstIndex { $0.action == .drainTransport && $0.host == "MBX2" }!
                let firstCheck = plan.steps.first { $0.action == .checkCopies }!
                plan.steps[drain].after = firstCheck.after
            }, example: Self.stretched, package: "exchange-2019-cu15")
        #expect(found.contains { $0.contains("one member at a time") || $0.contains("may run at once") })
    }

    @Test("setup while the member is still in service")
    func setupInService() throws {
        let found = try violations(
            { CheckerSelfTests.drop(&$0) { $0.action == .serverOffline && $0.host == "MBX3" } },
            example: Self.stretched, package: "exchange-2019-cu15")
        #expect(found.contains { $0.contains("in service") })
    }

    @Test("no StartDagServerMaintenance: a database stays mounted on the server setup runs on")
    func noDAGMaintenance() throws {
        let found = try violations(
            { CheckerSelfTests.drop(&$0) { $0.action == .startDagMaintenance && $0.host == "MBX1" } },
            example: Self.stretched, package: "exchange-2019-cu15")
        #expect(found.contains { $0.contains("mx-dag-enter-order") || $0.contains("mounted on") })
    }

    @Test("a database with two copies without the override")
    func twoCopyOverride() throws {
        let found = try violations(
            { plan in
                let index = plan.steps.firstIndex { $0.overrideTwoCopies == true }!
                guard case .startDagMaintenance(let host, let dag, _) = plan.steps[index].detail else { return }
                plan.steps[index].detail = .startDagMaintenance(host: host, dag: dag, overrideTwoCopies: false)
            }, example: Self.stretched, package: "exchange-2019-cu15")
        #expect(found.contains { $0.contains("mx-startdag-two-copies") })
    }

    @Test("no copy-health check before a member")
    func noCopyCheck() throws {
        let found = try violations(
            { CheckerSelfTests.drop(&$0) { $0.action == .checkCopies } }, example: "mx-two-member-dag.yaml",
            package: "exchange-2016-cu23")
        #expect(found.contains { $0.contains("mx-copies-healthy") })
    }

    @Test("no witness check in a two-member DAG")
    func noWitnessCheck() throws {
        let found = try violations(
            { CheckerSelfTests.drop(&$0) { $0.action == .checkWitness } }, example: "mx-two-member-dag.yaml",
            package: "exchange-2016-cu23")
        #expect(found.contains { $0.contains("mx-quorum") })
    }

    @Test("Active Directory not prepared before the first install")
    func noPreparation() throws {
        let found = try violations(
            { CheckerSelfTests.drop(&$0) { $0.action == .prepareAD || $0.action == .waitReplication } },
            example: Self.stretched, package: "exchange-2019-cu15")
        #expect(found.contains { $0.contains("mx-ad-prep-when") })
    }

    @Test("an Edge server before the mailbox servers, and two Edge servers of a site at once")
    func edgeOrder() throws {
        let early = try violations(
            { plan in
                let ready = plan.steps.first { $0.name == "ready to update" }!.id
                let drain = plan.steps.firstIndex { $0.action == .drainTransport && $0.host == "EDGE1" }!
                plan.steps[drain].after = [ready]
            }, example: Self.stretched, package: "exchange-2019-cu15")
        #expect(early.contains { $0.contains("mx-edge-maint") || $0.contains("may run at once") })
    }

    @Test("no restart before a cumulative update, no saved configuration, no maintenance exit")
    func missingSteps() throws {
        let reboot = try violations(
            { plan in
                let install = plan.steps.first { $0.action == .install && $0.host == "MBX1" }!
                let before = plan.steps.last {
                    $0.action == .reboot && $0.host == "MBX1"
                        && Int($0.id.rawValue.dropFirst())! < Int(install.id.rawValue.dropFirst())!
                }!
                CheckerSelfTests.drop(&plan) { $0.id == before.id }
            }, example: Self.stretched, package: "exchange-2019-cu15")
        #expect(reboot.contains { $0.contains("mx-cu-reboot-before") })
        let config = try violations(
            { CheckerSelfTests.drop(&$0) { $0.action == .saveConfig } }, example: Self.stretched,
            package: "exchange-2019-cu15")
        #expect(config.contains { $0.contains("mx-cu-config-overwrite") || $0.contains("never saved") })
        let exit = try violations(
            { CheckerSelfTests.drop(&$0) { $0.action == .stopDagMaintenance && $0.host == "MBX4" } },
            example: Self.stretched, package: "exchange-2019-cu15")
        #expect(exit.contains { $0.contains("out of service") || $0.contains("maintenance") })
    }

    // MARK: What plans contain

    @Test("a DAG member's steps follow Microsoft's documented order, the update inside maintenance mode")
    func memberOrder() throws {
        let (_, _, plan) = try Examples.plan(Self.stretched, "exchange-2019-cu15")
        let mbx1 = plan.steps.filter { $0.host == "MBX1" && $0.phase == "DAG DAG1" }.map(\.action)
        #expect(
            mbx1 == [
                .drainTransport, .startDagMaintenance, .redirectMessages, .serverOffline, .reboot, .saveConfig,
                .quiesce,
                .checkInstallers, .checkPendingReboot, .install, .reboot, .verifyVersion, .restoreConfig,
                .restoreServices, .serverOnline, .stopDagMaintenance, .resumeTransport,
            ])
        // Internet-facing HQ's members before DR's, then rebalancing and a last check.
        let order = plan.steps.filter { $0.action == .drainTransport && $0.phase == "DAG DAG1" }.compactMap(\.host)
        #expect(order == ["MBX1", "MBX2", "MBX3", "MBX4"])
        let dagSteps = plan.steps.filter { $0.phase == "DAG DAG1" }.map(\.action)
        #expect(dagSteps.suffix(2) == [.rebalanceDatabases, .checkCopies])
        // Redirected within the DAG, to a member of the same site.
        #expect(plan.steps.first { $0.action == .redirectMessages && $0.host == "MBX3" }?.to == "MBX4")
        // CU14 to CU15 raises only the organization's version: /PrepareAD, no schema.
        #expect(plan.steps.contains { $0.action == .prepareAD } && !plan.steps.contains { $0.action == .prepareSchema })
    }

    @Test("a security update goes only on its cumulative update and says which package the others need")
    func securityUpdateApplicability() throws {
        let (_, _, plan) = try Examples.plan("mx-multi-dag-monthly-su.yaml", "exchange-2019-cu15-feb26-su")
        let installed = Set(plan.steps.filter { $0.action == .install }.compactMap(\.host))
        #expect(!installed.contains("W-MBX6") && installed.contains("W-MBX5") && installed.count == 13)
        #expect(plan.warnings.contains { $0.rule == .mxSUCUSpecific || $0.message.contains("W-MBX6") })
        #expect(plan.warnings.contains { $0.message.contains("exchange-2019-cu15 first") })
        #expect(
            !plan.steps.contains {
                $0.action == .prepareAD || $0.action == .reboot && $0.rules.contains(.mxCUUpdateRebootBefore)
            })
        // Auto-rebalancing DAG1: no RedistributeActiveDatabases; DAG2 rebalances.
        #expect(plan.steps.filter { $0.action == .rebalanceDatabases }.compactMap(\.dag) == ["DAG2"])
        // Two Internet-facing sites side by side, then WEST; Edge pairs one at a time per site.
        let edges = plan.steps.filter { $0.action == .drainTransport && $0.phase.hasPrefix("edge") }
        #expect(Set(edges.map(\.phase)) == ["edge NORTH", "edge SOUTH"])
    }

    @Test("two-copy databases get the override; the two-member DAG checks its witness")
    func twoMemberDAG() throws {
        let (_, _, plan) = try Examples.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        let starts = plan.steps.filter { $0.action == .startDagMaintenance }
        #expect(starts.count == 2 && starts.allSatisfy { $0.overrideTwoCopies == true })
        #expect(plan.steps.filter { $0.action == .checkWitness }.count == 2)
        let json = PlanFormat.json.render(plan)
        #expect(json.contains(#""override-two-copies" : true"#) && json.contains(#""dag" : "NW-DAG""#))
        // All three preparation steps: every version is below CU23's.
        let prep = plan.steps.filter {
            [.prepareSchema, .prepareAD, .prepareDomains, .waitReplication].contains($0.action)
        }
        #expect(
            prep.map(\.action) == [
                .prepareSchema, .waitReplication, .prepareAD, .waitReplication, .prepareDomains, .waitReplication,
            ])
    }

    @Test("Exchange 2013: Client Access servers one at a time after the site's mailbox servers")
    func clientAccess() throws {
        let (_, _, plan) = try Examples.plan("mx-2013-split-roles.yaml", "exchange-2013-cu23")
        let cas = plan.steps.filter { $0.phase == "client access owa-lb" }.map(\.action)
        #expect(cas.first == .leavePool && cas.last == .rejoinPool)
        #expect(cas.filter { $0 == .install }.count == 2)
        // No witness check: three members vote among themselves.
        #expect(!plan.steps.contains { $0.action == .checkWitness })
    }

    @Test("Exchange SE in place over 2019 CU15: the database outage is estimated; refused beside Exchange 2013")
    func subscriptionEdition() throws {
        let (_, _, plan) = try Examples.plan("mx-standalone-to-se.yaml", "exchange-se-rtm")
        #expect(plan.steps.contains { $0.action == .install && $0.rules.contains(.mxSEInPlace) })
        let outage = try #require(plan.estimate?.databases?.first)
        #expect(outage.name == "databases on TS-EX1" && outage.downtimeSeconds > 90 * 60)
        #expect(plan.warnings.contains { $0.message.contains("no preparation is needed") })
        #expect(throws: PlanRefusal.self) { try Examples.plan("mx-2013-split-roles.yaml", "exchange-se-rtm") }
        do {
            _ = try Examples.plan("mx-2013-split-roles.yaml", "exchange-se-rtm")
        } catch let refusal as PlanRefusal {
            #expect(refusal.rule == .mxSECoexistenceBlock && refusal.message.contains("CAS1"))
        }
    }

    @Test("a database no other copy can take is down while its server is updated; the others lose nothing")
    func databaseDowntime() throws {
        let (_, _, plan) = try Examples.plan(Self.stretched, "exchange-2019-cu15")
        #expect(plan.estimate?.databases?.allSatisfy { $0.downtimeSeconds == 0 } == true)
        let window = try #require(plan.estimate?.dags?.first)
        #expect(window.name == "DAG1" && window.members == 4 && window.windowSeconds > 4 * 3600)

        var inventory = try Examples.load(Self.stretched)
        inventory.dags[0].databases.append(
            MailboxDatabase(
                name: "ARCHIVE", copies: ["MBX2"], active: "MBX2", lagged: [],
                location: SourceLocation(file: "t", line: 1, column: 1)))
        let package = try #require(PackageCatalogue.modern.first { $0.id == "exchange-2019-cu15" })
        let withSingle = try Planner(inventory: inventory, package: package).plan()
        let archive = try #require(withSingle.estimate?.databases?.first { $0.name == "ARCHIVE" })
        #expect(archive.downtimeSeconds > 90 * 60)
        #expect(withSingle.warnings.contains { $0.rule == .mxStartDagTwoCopies && $0.message.contains("ARCHIVE") })
        let problems = PlanChecker(inventory: inventory, package: package, plan: withSingle).violations(
            orders: 10, seed: 5)
        #expect(problems.isEmpty, "\(problems.prefix(3))")
    }

    @Test("the inventory's order: of sites replaces Internet-facing first")
    func siteOrder() throws {
        var inventory = try Examples.load("mx-multi-dag-monthly-su.yaml")
        let package = try #require(PackageCatalogue.modern.first { $0.id == "exchange-2019-cu15-feb26-su" })
        let byDefault = try Planner(inventory: inventory, package: package).plan()
        let drains = { (plan: Plan) in plan.steps.filter { $0.action == .drainTransport }.compactMap(\.host?.spelling) }
        // By default the Internet-facing NORTH and SOUTH go first: DAG1 (first member in NORTH)
        // before DAG2, which is all in WEST.
        #expect(drains(byDefault).first?.hasPrefix("N-") == true)
        inventory.siteOrder = ["WEST", "SOUTH"]
        let ordered = try Planner(inventory: inventory, package: package).plan()
        // WEST first: both DAGs have a member there, so both start at once, WEST's members first.
        #expect(drains(ordered).first?.hasPrefix("W-") == true)
        #expect(ordered.steps.contains { $0.name == "site WEST updated" })
        let dag1First = try #require(
            ordered.steps.first { $0.action == .drainTransport && $0.dag == nil && $0.phase == "DAG DAG1" })
        #expect(dag1First.host?.spelling.hasPrefix("W-") == true)
        let problems = PlanChecker(inventory: inventory, package: package, plan: ordered).violations(
            orders: 10, seed: 9)
        #expect(problems.isEmpty, "\(problems.prefix(3))")
    }

    @Test("an even DAG without a witness is refused: one member out would lose quorum")
    func quorumRefusal() throws {
        var inventory = try Examples.load("mx-two-member-dag.yaml")
        inventory.dags[0].witness = nil
        let package = try #require(PackageCatalogue.modern.first { $0.id == "exchange-2016-cu23" })
        #expect {
            try Planner(inventory: inventory, package: package).plan()
        } throws: { error in
            (error as? PlanRefusal)?.rule == .mxQuorum
        }
    }

    // MARK: Inventories

    @Test("every inconsistency of a DAG inventory is located, all at once")
    func locatedErrors() throws {
        let text = """
            organization: broken
            sites:
              - {name: HQ}
            servers:
              - {name: A, product: exchange-2019, level: cu14, os: windows-2022, site: HQ}
              - {name: B, product: exchange-2019, level: cu14, os: windows-2022, site: NOWHERE}
              - {name: C, product: exchange-2019, level: cu14, os: windows-2022, role: client-access}
              - {name: E, product: exchange-2019, level: cu14, os: windows-2022, role: edge}
              - {name: OLD, product: exchange-2003, level: sp1, os: windows-2003, update: feb26-su}
            dags:
              - name: D1
                members: [A, E]
                databases:
                  - {name: DB1, copies: [A, Z], active: Q}
              - name: D2
                members: [A]
            """
        #expect {
            try InventoryLoader.parse(bytes: Array(text.utf8), file: "broken.yaml")
        } throws: { error in
            let text = "\(error)"
            let expected = [
                "broken.yaml:6:", "site 'NOWHERE' is not declared",
                "broken.yaml:7:", "role 'client-access' is not one of mailbox, edge",
                "broken.yaml:9:", "'update' is for Exchange 2013 and later",
                "broken.yaml:12:", "member E is a exchange-2019 edge server",
                "broken.yaml:14:", "copy Z is not a member of the DAG", "the active copy Q is not among its copies",
                "broken.yaml:16:", "A is already a member of DAG D1",
            ]
            return expected.allSatisfy { text.contains($0) }
        }
    }

    // MARK: Random organizations

    /// A random organization of DAGs and servers over a few sites, for the property below.
    static func organization(
        dags dagCount: Int, members: [Int], standalone: Int, edges: Int, copies: [Int], seed: UInt64
    )
        -> Inventory
    {
        var rng = SplitMix64(seed: seed)
        let here = SourceLocation(file: "random", line: 1, column: 1)
        var inventory = Inventory(organization: "random", domainControllers: ["DC1"])
        inventory.sites = [
            Site(name: "S1", internetFacing: true, location: here),
            Site(name: "S2", internetFacing: false, location: here),
        ]
        inventory.activeDirectory = ActiveDirectoryInfo(
            schemaMasterSite: "S1", domains: ["example.com"],
            versions: ADVersions(schema: 17003, organization: 16762, domain: 13243), location: here)
        func server(_ name: String, role: Role) -> Server {
            var server = Server(
                name: HostName(name),
                install: ExchangeInstall(
                    product: .exchange2019, level: .cu14, os: .windows2022,
                    running: rng.next() % 2 == 0 ? [.antivirus] : []),
                role: role, location: here)
            server.site = rng.next() % 3 == 0 ? "S2" : "S1"
            if rng.next() % 4 == 0 { server.customConfig = ["web.config"] }
            return server
        }
        for d in 0..<dagCount {
            let count = members[d % members.count]
            let names = (0..<count).map { HostName("D\(d)M\($0)") }
            inventory.servers += names.map { server($0.spelling, role: .mailbox) }
            let databases = (0..<count).map { index -> MailboxDatabase in
                let copyCount = min(count, copies[(d + index) % copies.count])
                let held = (0..<copyCount).map { names[(index + $0) % count] }
                let lagged = copyCount > 2 && rng.next() % 3 == 0 ? [held.last!] : []
                return MailboxDatabase(
                    name: "DB\(d)-\(index)", copies: held, active: held[0], lagged: lagged, location: here)
            }
            inventory.dags.append(
                DatabaseAvailabilityGroup(
                    name: HostName("DAG\(d)"), members: names,
                    witness: count % 2 == 0 ? Witness(server: HostName("FSW\(d)"), site: "S1") : nil,
                    autoRebalance: rng.next() % 2 == 0, databases: databases, location: here))
        }
        inventory.servers += (0..<standalone).map { server("SA\($0)", role: .mailbox) }
        inventory.servers += (0..<edges).map { server("EDGE\($0)", role: .edge) }
        return inventory
    }

    @Test("random DAG organizations: every plan safe in every order the checker tries")
    func randomOrganizations() async {
        await propertyCheck(
            count: 60,
            input: Gen.int(in: 0...4), Gen.int(in: 0...3), Gen.int(in: 0...3), Gen.int(in: 0...1_000_000)
        ) { dags, standalone, edges, seed in
            let inventory = Self.organization(
                dags: dags, members: [2, 3, 4, 5], standalone: standalone, edges: edges, copies: [1, 2, 3],
                seed: UInt64(seed))
            for package in PackageCatalogue.modern
            where package.product == .exchange2019 || package.product == .exchangeSE {
                guard let plan = try? Planner(inventory: inventory, package: package).plan() else {
                    Issue.record("no plan for \(package.id) (seed \(seed))")
                    continue
                }
                let problems = PlanChecker(inventory: inventory, package: package, plan: plan).violations(
                    orders: 8, seed: UInt64(seed))
                #expect(problems.isEmpty, "\(package.id) seed \(seed): \(problems.prefix(3))")
                // The lab twin, a second model, agrees: the plan runs through and breaks nothing.
                var twin = LabTwin(inventory: inventory, seed: UInt64(seed))
                if let (step, outcome) = twin.rehearse(plan.steps) {
                    Issue.record("\(package.id) seed \(seed): \(step.id) \(step.summary): \(outcome.message)")
                }
                #expect(twin.accounting.violations.isEmpty, "\(package.id) seed \(seed): \(twin.accounting.violations)")
            }
        }
    }
}
