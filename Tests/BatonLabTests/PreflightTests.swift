import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Testing

@Suite("Preflight checks")
struct PreflightTests {
    func results(_ example: String, _ package: PackageID, prepare: (inout LabTwin) throws -> Void = { _ in }) throws
        -> [CheckResult]
    {
        let inventory = try LabFixture.inventory(example)
        var twin = LabTwin(inventory: inventory, seed: 1)
        try prepare(&twin)
        return Preflight(twin: twin, plan: try LabFixture.plan(inventory, package)).run()
    }

    @Test("a healthy organization has no failure; what the plan handles is a warning")
    func healthy() throws {
        let found = try results("contoso.yaml", "exchange-2003-sp2")
        #expect(!found.contains { $0.status == .fail })
        #expect(found.contains { $0.status == .warn && $0.check == "interfering services" && $0.subject == "FE1" })
        #expect(found.contains { $0.status == .warn && $0.check == "hotfix 831464" })
        #expect(found.contains { $0.status == .warn && $0.check == "ADC schema maps" && $0.subject == "BE1" })
        #expect(found.contains { $0.check == "backup" && $0.subject == "DC1" })
    }

    @Test(
        "what blocks a rollout fails",
        arguments: [
            (LabFault.Kind.installerRunning, "NODE1", "installers"), (.diskFull, "BE1", "disk"),
            (.evicted, "NODE2", "cluster node"),
        ])
    func blockers(_ kind: LabFault.Kind, _ target: String, _ check: String) throws {
        let target = HostName(target)
        let found = try results("contoso.yaml", "exchange-2003-sp2") { try $0.inject(LabFault(kind, target)) }
        #expect(found.contains { $0.status == .fail && $0.check == check && $0.subject == target.spelling })
    }

    @Test("a host down and a virtual server offline fail")
    func downAndOffline() throws {
        let found = try results("contoso.yaml", "exchange-2003-sp2") { twin in
            twin.hosts["fe2"]!.up = false
            _ = twin.perform(LabFixture.step(.resourcesOffline, host: "NODE2", group: "EVS1", keep: []))
        }
        #expect(found.contains { $0.status == .fail && $0.check == "reachable" && $0.subject == "FE2" })
        #expect(
            found.contains {
                $0.status == .fail && $0.check == "online" && $0.subject == "EVS1" && $0.rule == .e2003Event1025
            })
    }

    @Test("a fresh backup passes")
    func freshBackup() throws {
        let found = try results("e2003-standalone.yaml", "exchange-2003-sp2") { twin in
            _ = twin.perform(LabFixture.step(.backup, host: "MAIL"))
        }
        #expect(found.contains { $0.status == .pass && $0.check == "backup" && $0.subject == "MAIL" })
    }
}
