import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

/// An Exchange 2019 CU13 organization going to CU15: .NET Framework first where the inventory's
/// is too old, the Extended Protection gate, HealthChecker around each server, EdgeSync after
/// the Edge server (rules `mx-dotnet-first`, `mx-prerequisites`, `mx-extended-protection`,
/// `mx-healthchecker-pre-post`, `mx-edge-maint`).
@Suite("Prerequisites, health checks and EdgeSync in the plan")
struct PrerequisitesTests {
    static func inventory(ex1: String = "dotnet: 4.7.2", ex2: String = "", edge: String = "") throws -> Inventory {
        try InventoryLoader.parse(
            text: """
                organization: fabrikam
                domain-controllers: [FBDC1]
                active-directory: {schema-version: 17003, organization-version: 16761, domain-version: 13243}
                sites: [{name: HQ, internet-facing: true}]
                servers:
                  - {name: FB-EX1, product: exchange-2019, level: cu13, os: windows-2022, site: HQ, health-checker: 'C:\\Scripts\\HealthChecker.ps1', \(ex1)}
                  - {name: FB-EX2, product: exchange-2019, level: cu13, os: windows-2019, site: HQ, health-checker: 'C:\\Scripts\\HealthChecker.ps1'\(ex2.isEmpty ? "" : ", \(ex2)")}
                  - {name: FB-EDGE, product: exchange-2019, level: cu13, os: windows-2019, role: edge, site: HQ\(edge.isEmpty ? "" : ", \(edge)")}
                dags:
                  - name: FB-DAG
                    members: [FB-EX1, FB-EX2]
                    witness: {server: FB-FS1, site: HQ}
                    databases:
                      - {name: FBDB1, copies: [FB-EX1, FB-EX2]}
                """, file: "fabrikam.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    static func plan(_ inventory: Inventory) throws -> (Plan, Package) {
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2019-cu15"))
        return (try Planner(inventory: inventory, package: package).plan(), package)
    }

    @Test("CU13 to CU15: .NET Framework 4.8.1 first on FB-EX1, inside maintenance with its restart; the checker finds the order sound")
    func dotnetFirst() throws {
        let inventory = try Self.inventory()
        let (plan, package) = try Self.plan(inventory)
        let steps = plan.steps.filter { $0.host == "FB-EX1" }
        let dotnet = try #require(steps.firstIndex { $0.action == .installDotNet })
        #expect(steps[dotnet].dotnet == .v481 && steps[dotnet].rules == [.mxDotNetFirst])
        #expect(steps[dotnet].why.contains("runs .NET Framework 4.7.2") && steps[dotnet].why.contains("4.8 or later"))
        let offline = try #require(steps.firstIndex { $0.action == .serverOffline })
        let install = try #require(steps.firstIndex { $0.action == .install })
        #expect(offline < dotnet && dotnet < install)
        #expect(steps[dotnet + 1].action == .reboot && steps[dotnet + 1].rules == [.mxDotNetFirst])
        // FB-EX2 says nothing of its .NET Framework: probed by baton check, no step.
        #expect(!plan.steps.contains { $0.action == .installDotNet && $0.host == "FB-EX2" })
        #expect(PlanChecker(inventory: inventory, package: package, plan: plan).violations(orders: 20, seed: 5).isEmpty)
        // On Windows Server 2019 the newest the matrix allows is 4.8.
        let older = try Self.inventory(ex1: "dotnet: 4.8", ex2: "dotnet: 4.7.2")
        let raised = try Self.plan(older).0.steps.filter { $0.action == .installDotNet }
        #expect(raised.map(\.host) == ["FB-EX2"] && raised.first?.dotnet == .v48)
    }

    @Test("the checker catches setup before the .NET Framework, or before its restart")
    func checkerCatchesOrder() throws {
        let inventory = try Self.inventory()
        let (plan, package) = try Self.plan(inventory)
        var dropped = plan
        CheckerSelfTests.drop(&dropped) { $0.action == .installDotNet }
        let problems = PlanChecker(inventory: inventory, package: package, plan: dropped).violations(orders: 5, seed: 1)
        #expect(problems.contains { $0.contains("mx-dotnet-first") }, "\(problems.prefix(3))")
    }

    @Test("a missing Visual C++ runtime is named in the plan's warnings")
    func visualC() throws {
        let (plan, _) = try Self.plan(try Self.inventory(ex2: "visual-c++: [2012]"))
        #expect(plan.warnings.contains { $0.rule == .mxPrerequisites && $0.message.contains("FB-EX2 lacks the Visual C++ 2013 runtime") })
    }

    @Test("HealthChecker before anything changes and after each server; EdgeSync tested after the Edge server")
    func healthAndEdgeSync() throws {
        let inventory = try Self.inventory()
        let (plan, package) = try Self.plan(inventory)
        let health = plan.steps.filter { $0.action == .healthCheck }
        #expect(health.count == 4, "two servers, before and after")
        #expect(health.filter { $0.phase == "prepare" }.count == 2)
        let sync = try #require(plan.steps.first { $0.action == .checkEdgeSync })
        #expect(sync.edge == "FB-EDGE" && ["FB-EX1", "FB-EX2"].contains(sync.host ?? ""))
        #expect(PlanChecker(inventory: inventory, package: package, plan: plan).violations(orders: 20, seed: 9).isEmpty)
        var noSync = plan
        CheckerSelfTests.drop(&noSync) { $0.action == .checkEdgeSync || ($0.action == .healthCheck && $0.phase != "prepare") }
        let problems = PlanChecker(inventory: inventory, package: package, plan: noSync).violations(orders: 3, seed: 1)
        #expect(problems.contains { $0.contains("EdgeSync never tested") })
        #expect(problems.contains { $0.contains("no HealthChecker after its update") })
    }

    @Test("the site's only Edge server: Internet mail stops from its drain to its resume, in the estimate")
    func loneEdgeOutage() throws {
        let (plan, _) = try Self.plan(try Self.inventory())
        let inbound = try #require(plan.estimate?.inboundMail)
        #expect(inbound.map(\.name) == ["FB-EDGE"] && inbound[0].downtimeSeconds > 60 * 60)
        #expect(PlanFormat.text.render(plan).contains("Internet mail through FB-EDGE, its site's only Edge server, stops: "))
        #expect(PlanFormat.json.render(plan).contains("\"inbound-mail\""))
    }

    @Test("the Extended Protection gate for CU13 to CU15; extended-protection: skip on both removes it")
    func extendedProtection() throws {
        let (plan, _) = try Self.plan(try Self.inventory())
        #expect(plan.steps.contains { $0.gate == Gate.extendedProtection })
        let skipped = try Self.inventory(
            ex1: "dotnet: 4.7.2, extended-protection: skip", ex2: "extended-protection: front-end-ews-only")
        #expect(!(try Self.plan(skipped).0.steps.contains { $0.gate == Gate.extendedProtection }))
    }

    @Test("a bad dotnet or visual-c++ value is an inventory error naming the line")
    func badValues() {
        #expect {
            _ = try Self.inventory(ex1: "dotnet: 4.5", ex2: "visual-c++: [2010]")
        } throws: { error in
            let text = "\(error)"
            return text.contains("fabrikam.yaml:6") && text.contains("fabrikam.yaml:7") && text.contains("4.8.1")
        }
    }
}
