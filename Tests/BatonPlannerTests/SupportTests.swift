import BatonKnowledge
import BatonModel
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
