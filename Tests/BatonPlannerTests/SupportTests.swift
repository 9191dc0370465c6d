import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

@Suite("Support status and the catalogue's security updates")
struct SupportTests {
    @Test("a plan for Exchange 2016 or 2019 says they are past extended support; one for SE does not")
    func warning() throws {
        let (_, _, old) = try Examples.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        let warning = try #require(old.warnings.first { $0.rule == .mxSupportStatus })
        #expect(warning.message.contains("exchange-2019 is past extended support since 2025-10-14"))
        let (_, _, se) = try Examples.plan("mx-standalone-to-se.yaml", "exchange-se-rtm")
        #expect(!se.warnings.contains { $0.rule == .mxSupportStatus })
        #expect(Support.isSupported(.exchangeSE) && !Support.isSupported(.exchange2016))
    }

    @Test("2019 CU14 has its own security update (15.2.1544.39), and a security update's backups say why")
    func cu14SecurityUpdate() throws {
        let package = try #require(PackageCatalogue().package("exchange-2019-cu14-feb26-su"))
        #expect(package.build == "15.2.1544.39" && package.requires == .cu14 && package.kind == .securityUpdate)
        let (_, _, plan) = try Examples.plan("mx-multi-dag-monthly-su.yaml", "exchange-2019-cu15-feb26-su")
        let backup = try #require(plan.steps.first { $0.action == .backup && $0.why.contains("tested, before anything changes") })
        #expect(backup.why.contains("a security update can be uninstalled") && !backup.why.contains("no undo"))
        let (_, _, cu) = try Examples.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        #expect(cu.steps.contains { $0.action == .backup && $0.why.contains("a cumulative update has no undo") })
    }
}

@Suite("A site's only Edge server")
struct LoneEdgeTests {
    @Test("a site whose only Edge server is updated gets a warning, and the drain says what really happens; two Edge servers cover each other")
    func loneEdge() throws {
        let (_, _, lone) = try Examples.plan("mx-two-member-dag.yaml", "exchange-2016-cu23")
        #expect(lone.warnings.contains { $0.rule == .mxEdgeMaintenance && $0.message.hasPrefix("NW-EDGE is the only Edge server of site MAIN") })
        let drain = try #require(lone.steps.first { $0.action == .drainTransport && $0.host == "NW-EDGE" })
        #expect(drain.why.contains("waits in the senders' queues") && !drain.why.contains("other Edge servers take it"))
        let (_, _, pair) = try Examples.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        #expect(!pair.warnings.contains { $0.message.contains("only Edge server") })
        #expect(pair.steps.filter { $0.action == .drainTransport && ["EDGE1", "EDGE2"].contains($0.host?.spelling ?? "") }.allSatisfy { $0.why.contains("other Edge servers take it") })
    }
}

@Suite("Extended Protection on the way to Exchange 2019 CU14 and later")
struct ExtendedProtectionTests {
    static func inventory(_ edit: (String) -> String = { $0 }) throws -> Inventory {
        let text = try String(contentsOf: Examples.directory.appendingPathComponent("mx-stretched-dag.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "level: cu14", with: "level: cu13")
        return try InventoryLoader.parse(
            bytes: Array(edit(text).utf8), file: "ep.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    static func plan(_ inventory: Inventory, _ id: PackageID = "exchange-2019-cu15") throws -> Plan {
        let package = try #require(PackageCatalogue(inventory: inventory).package(id))
        return try Planner(inventory: inventory, package: package).plan()
    }

    @Test("CU13 to CU15: a gate names the servers and what to confirm; Edge servers are not among them")
    func gate() throws {
        let plan = try Self.plan(try Self.inventory())
        let gate = try #require(plan.steps.first { $0.gate == Gate.extendedProtection })
        #expect(gate.rules == [.mxExtendedProtection])
        #expect(gate.why.contains("MBX1, MBX2, MBX3, MBX4") && !gate.why.contains("EDGE"))
        #expect(gate.why.contains("offloads or bridges TLS"))
        // Nothing changes before it is approved: it joins the release notes and the backups.
        #expect(plan.steps.contains { $0.action == .milestone && $0.after.contains(gate.id) })
        // From CU14 on, setup has already switched it on: no gate.
        let (_, _, fromCU14) = try Examples.plan("mx-stretched-dag.yaml", "exchange-2019-cu15")
        #expect(!fromCU14.steps.contains { $0.gate == Gate.extendedProtection })
    }

    @Test("extended-protection: skip on every server removes the gate; an Exchange 2003 server cannot say it")
    func skip() throws {
        let skipped = try Self.inventory {
            $0.replacingOccurrences(of: "site: HQ, custom-config", with: "site: HQ, extended-protection: skip, custom-config")
                .replacingOccurrences(of: "site: HQ, running", with: "site: HQ, extended-protection: skip, running")
                .replacingOccurrences(of: "site: DR, running", with: "site: DR, extended-protection: front-end-ews-only, running")
        }
        #expect(skipped.servers.filter { $0.role != .edge }.allSatisfy { $0.extendedProtection != nil })
        #expect(!(try Self.plan(skipped)).steps.contains { $0.gate == Gate.extendedProtection })
        #expect(ExtendedProtectionChoice.frontEndEWSOnly.setupSwitch == "/DoNotEnableEP_FEEWS")

        let text = """
            organization: o
            servers:
              - {name: A, product: exchange-2003, level: sp1, os: windows-2003, extended-protection: skip}
              - {name: B, product: exchange-2019, level: cu13, os: windows-2022, extended-protection: sometimes}
            """
        do {
            _ = try InventoryLoader.parse(text: text, file: "bad.yaml", reservedPackageIDs: PackageCatalogue.builtInIDs)
            Issue.record("accepted")
        } catch {
            #expect("\(error)".contains("bad.yaml:3:") && "\(error)".contains("is for Exchange 2013 and later"))
            #expect("\(error)".contains("bad.yaml:4:") && "\(error)".contains("'sometimes' is not one of: skip, front-end-ews-only"))
        }
    }
}
