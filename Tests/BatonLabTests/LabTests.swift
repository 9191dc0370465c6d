import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

@testable import BatonLab

enum LabFixture {
    static let examples = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("examples")

    static func inventory(_ name: String) throws -> Inventory {
        try InventoryLoader.load(
            path: examples.appendingPathComponent(name).path, reservedPackageIDs: PackageCatalogue.builtInIDs)
    }

    static func plan(_ inventory: Inventory, _ packageID: PackageID) throws -> Plan {
        try Planner(
            inventory: inventory, package: try #require(PackageCatalogue(inventory: inventory).package(packageID))
        ).plan()
    }

    /// Performs the plan's steps in creation order (a topological order), stopping at the
    /// first failure; returns the failed step and outcome, if any.
    @discardableResult
    /// Performs the plan's steps in order as the engine would: a check of a state that settles
    /// is asked again, the twin's clock passing, until it passes or its timeout (Baton's
    /// defaults; `waiting: false` asks once). The first failure, or nil.
    static func rehearse(_ plan: Plan, on twin: inout LabTwin, waiting: Bool = true) -> (Step, LabOutcome)? {
        twin.rehearse(plan.steps, waiting: waiting)
    }

    static func step(
        _ action: Action, host: HostName? = nil, group: HostName? = nil, to: HostName? = nil, package: PackageID? = nil,
        keep: [ResourceType]? = nil, when: RestartPolicy? = nil, expect: String? = nil
    ) -> Step {
        // A backup without `what` covers the system state, as the lab's default.
        guard
            let detail = StepDetail(
                action, host: host, group: group, to: to, package: package, what: [.systemState], keep: keep,
                when: when, expect: expect)
        else {
            Issue.record("a \(action.rawValue) step needs more fields")
            return Step(.milestone(name: "incomplete"), rules: [], why: "test")
        }
        return Step(detail, rules: [], why: "test")
    }
}

@Suite("The lab twin")
struct LabTwinTests {
    typealias F = LabFixture

    @Test("KB 328839's two-node worked example succeeds step by step")
    func workedExample() throws {
        let inventory = try F.inventory("e2003-two-node-cluster.yaml")
        let plan = try F.plan(inventory, "exchange-2003-sp2")
        var twin = LabTwin(inventory: inventory, seed: 42)
        let failed = F.rehearse(plan, on: &twin)
        #expect(failed == nil, "\(failed.map { "\($0.0.id) \($0.0.summary): \($0.1.message)" } ?? "")")
        #expect(twin.hosts["node1"]?.level == .sp2 && twin.hosts["node2"]?.level == .sp2)
        #expect(twin.groups["evs1"]?.level == .sp2 && twin.groups["evs1"]?.isOnline == true)
        #expect(twin.accounting.violations.isEmpty, "\(twin.accounting.violations)")
        #expect(twin.accounting.unplannedFailovers.isEmpty)
        #expect(twin.servicesLeftStopped.isEmpty)
        #expect(twin.history.count == plan.steps.count)
        #expect(twin.appliedInstalls.values.allSatisfy { $0 == 1 })
        #expect(twin.appliedInstalls.count == 4)
        let offline = twin.accounting.virtualServerOffline["EVS1"] ?? 0
        #expect(offline > 0 && offline < 3600)
        // Backups taken at SP1 can no longer be restored onto EVS1 at SP2; the one taken after can.
        let evsBackups = twin.backups.filter { $0.subject == "EVS1" }
        #expect(evsBackups.first?.restorable == false)
        #expect(evsBackups.last?.restorable == true && evsBackups.last?.level == .sp2)
    }

    @Test("every example plan runs on its twin with no rule violated")
    func everyExample() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: F.examples.path).filter {
            $0.hasSuffix(".yaml")
        }
        for name in names.sorted() {
            let inventory = try F.inventory(name)
            for package in PackageCatalogue(inventory: inventory).packages {
                guard let plan = try? Planner(inventory: inventory, package: package).plan() else { continue }
                var twin = LabTwin(inventory: inventory, seed: 7)
                let mixedBefore = twin.mixedPools
                let failed = F.rehearse(plan, on: &twin)
                #expect(
                    failed == nil,
                    "\(name) \(package.id): \(failed.map { "\($0.0.id) \($0.0.summary): \($0.1.message)" } ?? "")")
                #expect(twin.accounting.violations.isEmpty, "\(name) \(package.id): \(twin.accounting.violations)")
                #expect(twin.accounting.unplannedFailovers.isEmpty, "\(name) \(package.id)")
                #expect(
                    // A plan never makes a pool serve mixed levels; a pool mixed before the rollout
                    // (mixed.yaml's) is the inventory's doing.
                    twin.accounting.poolMixedLevels.allSatisfy { $0.value == 0 || mixedBefore.contains($0.key) },
                    "\(name) \(package.id): \(twin.accounting.poolMixedLevels)")
                #expect(twin.accounting.outlookWebAccessBroken == 0, "\(name) \(package.id)")
            }
        }
    }

    @Test(
        "the twin's downtime per virtual server agrees with the plan's estimate",
        arguments: [
            "mixed.yaml", "e2003-multi-node-cluster.yaml", "e2000-active-active.yaml", "contoso.yaml",
        ])
    func downtimeAgreesWithEstimate(_ name: String) throws {
        let inventory = try F.inventory(name)
        let package: PackageID = name.hasPrefix("e2000") ? "exchange-2000-sp3" : "exchange-2003-sp2"
        let plan = try F.plan(inventory, package)
        var twin = LabTwin(inventory: inventory, seed: 11)
        #expect(F.rehearse(plan, on: &twin) == nil)
        for estimate in plan.estimate?.virtualServers ?? [] where estimate.downtimeSeconds > 0 {
            let measured = twin.accounting.virtualServerOffline[estimate.name] ?? 0
            let ratio = measured / Double(estimate.downtimeSeconds)
            #expect(
                ratio > 0.6 && ratio < 1.5,
                "\(name) \(estimate.name): twin \(Int(measured)) s, estimate \(estimate.downtimeSeconds) s")
        }
    }

    @Test("a pool already serving two levels stops when its old members leave, and never again")
    func mixedPoolEnds() throws {
        let inventory = try F.inventory("mixed.yaml")
        var twin = LabTwin(inventory: inventory, seed: 7)
        #expect(twin.mixedPools == ["owa"])
        var mixedAfterLeaving: [StepID] = []
        var left = false
        for step in try F.plan(inventory, "exchange-2003-sp2").steps {
            #expect(twin.perform(step).succeeded)
            if step.action == .leavePool { left = true }
            if left, step.action != .leavePool, !twin.mixedPools.isEmpty { mixedAfterLeaving.append(step.id) }
        }
        #expect(left && mixedAfterLeaving.isEmpty, "still mixed after \(mixedAfterLeaving)")
        #expect(twin.mixedPools.isEmpty)
    }

    @Test("the same seed gives the same history; another seed other times")
    func deterministic() throws {
        let inventory = try F.inventory("contoso.yaml")
        let plan = try F.plan(inventory, "exchange-2003-sp2")
        var first = LabTwin(inventory: inventory, seed: 3), second = LabTwin(inventory: inventory, seed: 3)
        var other = LabTwin(inventory: inventory, seed: 4)
        F.rehearse(plan, on: &first)
        F.rehearse(plan, on: &second)
        F.rehearse(plan, on: &other)
        #expect(first == second)
        #expect(first.clock != other.clock)
    }

    @Test("the twin survives the controller: saved and loaded atomically")
    func persistence() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-lab-\(UUID().uuidString)")
            .path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let inventory = try F.inventory("mixed.yaml")
        var twin = LabTwin(inventory: inventory, seed: 9)
        F.rehearse(try F.plan(inventory, "exchange-2003-sp2"), on: &twin)
        let store = LabStore(directory: directory)
        try await store.save(twin)
        #expect(try await store.load() == twin)
        #expect(!FileManager.default.fileExists(atPath: directory + "/lab.json.tmp"))
        await #expect(throws: LabError.self) { try await LabStore(directory: directory + "/nothing").load() }
    }
}

@Suite("The lab twin fails as KB 328839 says real servers do")
struct LabFailureTests {
    typealias F = LabFixture

    func twoNode() throws -> LabTwin { LabTwin(inventory: try F.inventory("e2003-two-node-cluster.yaml"), seed: 1) }

    /// NODE1 emptied, stopped, quiesced and upgraded to SP2, its Cluster service started again.
    func withNode1Upgraded() throws -> LabTwin {
        var twin = try twoNode()
        for step in [
            F.step(.moveGroup, host: "NODE1", group: clusterGroupName, to: "NODE2"),
            F.step(.stopClusterService, host: "NODE1"),
            F.step(.quiesce, host: "NODE1"), F.step(.install, host: "NODE1", package: "exchange-2003-sp2"),
            F.step(.reboot, host: "NODE1", when: .ifPrompted), F.step(.startClusterService, host: "NODE1"),
        ] {
            #expect(twin.perform(step).succeeded, "\(step.summary)")
        }
        return twin
    }

    @Test("Upgrade Exchange Virtual Server on a node not yet upgraded: c1037b44")
    func c1037b44OnOldNode() throws {
        var twin = try twoNode()
        #expect(
            twin.perform(F.step(.resourcesOffline, host: "NODE2", group: "EVS1", keep: ResourceType.allCases)).succeeded
        )
        twin.groups["evs1"]!.level = .sp2
        let outcome = twin.perform(F.step(.upgradeVirtualServer, host: "NODE2", group: "EVS1"))
        #expect(!outcome.succeeded && outcome.message.contains("c1037b44") && outcome.rule == .e2003C1037b44)
    }

    @Test("Upgrade Exchange Virtual Server with System Attendant online: c1037b44")
    func c1037b44SystemAttendant() throws {
        var twin = try withNode1Upgraded()
        #expect(
            twin.perform(F.step(.resourcesOffline, host: "NODE2", group: "EVS1", keep: ResourceType.allCases)).succeeded
        )
        #expect(twin.perform(F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1")).succeeded)
        twin.groups["evs1"]!.resources["system-attendant"] = true
        let outcome = twin.perform(F.step(.upgradeVirtualServer, host: "NODE1", group: "EVS1"))
        #expect(outcome.message.contains("does not match the version of Exchange on server 'EVS1'. ID: c1037b44"))
        #expect(twin.groups["evs1"]!.level == .sp1)
    }

    @Test("an EVS not upgraded moved online to an upgraded node: event 1025")
    func event1025() throws {
        var twin = try withNode1Upgraded()
        let outcome = twin.perform(F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1"))
        #expect(!outcome.succeeded && outcome.rule == .e2003Event1025)
        #expect(twin.hosts["node1"]!.eventLog.last?.contains("Event ID 1025, MSExchangeCluster") == true)
        #expect(twin.groups["evs1"]!.isOnline == false)
        // KB 328839's sequence recovers it: upgrade, then online.
        #expect(twin.perform(F.step(.upgradeVirtualServer, host: "NODE1", group: "EVS1")).succeeded)
        #expect(twin.perform(F.step(.resourcesOnline, host: "NODE1", group: "EVS1")).succeeded)
        #expect(twin.groups["evs1"]!.isOnline && twin.groups["evs1"]!.level == .sp2)
    }

    @Test("installing with antivirus running: FileInUse in the hotfix log, and the install did not take")
    func fileInUse() throws {
        var twin = LabTwin(inventory: try F.inventory("e2003-standalone.yaml"), seed: 1)
        let outcome = twin.perform(F.step(.install, host: "MAIL", package: "exchange-2003-sp2"))
        #expect(!outcome.succeeded && outcome.rule == .fileInUse)
        #expect(twin.hosts["mail"]!.installerLog.last?.hasPrefix("FileInUse:: Added to Filelist:") == true)
        #expect(twin.hosts["mail"]!.level == .rtm)
        #expect(twin.accounting.violations.contains { $0.rule == "quiesce" })
        #expect(twin.perform(F.step(.quiesce, host: "MAIL")).succeeded)
        #expect(twin.perform(F.step(.install, host: "MAIL", package: "exchange-2003-sp2")).succeeded)
        #expect(twin.hosts["mail"]!.level == .sp2)
    }

    @Test("an injected FileInUse happens once; resuming after it goes through")
    func fileInUseFault() throws {
        var twin = LabTwin(inventory: try F.inventory("sbs-2003.yaml"), seed: 1)
        try twin.inject(LabFault(.fileInUse, "SBS"))
        #expect(twin.perform(F.step(.quiesce, host: "SBS")).succeeded)
        #expect(twin.perform(F.step(.install, host: "SBS", package: "exchange-2003-sp2")).rule == .fileInUse)
        #expect(twin.perform(F.step(.install, host: "SBS", package: "exchange-2003-sp2")).succeeded)
    }

    @Test("another installer running blocks the check and the install")
    func installerRunning() throws {
        var twin = try twoNode()
        try twin.inject(LabFault(.installerRunning, "NODE1"))
        #expect(twin.perform(F.step(.checkInstallers, host: "NODE1")).rule == .noConcurrentInstallers)
        _ = twin.perform(F.step(.moveGroup, host: "NODE1", group: clusterGroupName, to: "NODE2"))
        _ = twin.perform(F.step(.stopClusterService, host: "NODE1"))
        let outcome = twin.perform(F.step(.install, host: "NODE1", package: "exchange-2003-sp2"))
        #expect(!outcome.succeeded && outcome.message.contains("blocked"))
    }

    @Test("installing on a node that owns a group, or runs the Cluster service, is an error")
    func installOnBusyNode() throws {
        var twin = try twoNode()
        #expect(twin.perform(F.step(.install, host: "NODE2", package: "exchange-2003-sp2")).rule == .e2003NodeEmpty)
        #expect(twin.perform(F.step(.install, host: "NODE1", package: "exchange-2003-sp2")).rule == .e2003NodeEmpty)
        _ = twin.perform(F.step(.moveGroup, host: "NODE1", group: clusterGroupName, to: "NODE2"))
        #expect(twin.perform(F.step(.install, host: "NODE1", package: "exchange-2003-sp2")).rule == .clusterStopService)
        #expect(twin.hosts["node1"]!.level == .sp1)
    }

    @Test("an upgraded EVS cannot move to an older node")
    func noMoveBack() throws {
        var twin = try withNode1Upgraded()
        for step in [
            F.step(.resourcesOffline, host: "NODE2", group: "EVS1", keep: ResourceType.allCases),
            F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1"),
            F.step(.upgradeVirtualServer, host: "NODE1", group: "EVS1"),
            F.step(.resourcesOnline, host: "NODE1", group: "EVS1"),
        ] { #expect(twin.perform(step).succeeded) }
        let outcome = twin.perform(F.step(.moveGroup, host: "NODE1", group: "EVS1", to: "NODE2"))
        #expect(!outcome.succeeded && outcome.rule == .e2003NoMoveBack)
        #expect(twin.groups["evs1"]!.owner == "NODE1")
    }

    @Test("stopping the Cluster service on a node that owns groups fails them over, recorded as unplanned")
    func unplannedFailover() throws {
        var twin = try twoNode()
        #expect(twin.perform(F.step(.stopClusterService, host: "NODE2")).succeeded)
        #expect(twin.groups["evs1"]!.owner == "NODE1")
        #expect(twin.accounting.unplannedFailovers.count == 1)
        #expect(twin.accounting.violations.contains { $0.rule == "cluster-stop-service" })
    }

    @Test("a restart takes the host down and up; one that never comes back fails the step")
    func restarts() throws {
        var twin = LabTwin(inventory: try F.inventory("e2003-standalone.yaml"), seed: 1)
        #expect(twin.perform(F.step(.reboot, host: "MAIL", when: .ifPrompted)).applied == false)
        #expect(twin.perform(F.step(.reboot, host: "MAIL", when: .always)).succeeded)
        try twin.inject(LabFault(.noReturnAfterRestart, "MAIL"))
        let outcome = twin.perform(F.step(.reboot, host: "MAIL", when: .always))
        #expect(!outcome.succeeded && outcome.message.contains("did not come back"))
        #expect(twin.hosts["mail"]!.up == false)
        #expect(!twin.perform(F.step(.quiesce, host: "MAIL")).succeeded)
    }

    @Test("Exchange 2000: an upgraded node upgrades the databases as it mounts them")
    func exchange2000StoreUpgrade() throws {
        var twin = LabTwin(inventory: try F.inventory("e2000-active-passive.yaml"), seed: 1)
        for step in [
            F.step(.stopClusterService, host: "NODEB"), F.step(.install, host: "NODEB", package: "exchange-2000-sp3"),
            F.step(.startClusterService, host: "NODEB"), F.step(.moveGroup, host: "NODEA", group: "EVS1", to: "NODEB"),
        ] { #expect(twin.perform(step).succeeded, "\(step.summary)") }
        #expect(twin.groups["evs1"]!.level == .sp3 && twin.groups["evs1"]!.isOnline)
    }

    @Test("Exchange 2000: a back-end newer than a front-end is Outlook Web Access breakage")
    func outlookWebAccess() throws {
        var twin = LabTwin(inventory: try F.inventory("e2000-front-back.yaml"), seed: 1)
        #expect(twin.perform(F.step(.install, host: "BE2", package: "exchange-2000-sp3")).succeeded)
        _ = twin.perform(F.step(.checkInstallers, host: "BE1"))
        #expect(twin.accounting.outlookWebAccessBroken > 0)
    }

    @Test("a node evicted and added back: Upgrade Exchange Virtual Server is missing, event 1025; Reinstall fixes it")
    func evicted() throws {
        var twin = try withNode1Upgraded()
        try twin.inject(LabFault(.evicted, "NODE1"))
        _ = twin.perform(F.step(.resourcesOffline, host: "NODE2", group: "EVS1", keep: ResourceType.allCases))
        #expect(twin.perform(F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1")).succeeded)
        let outcome = twin.perform(F.step(.upgradeVirtualServer, host: "NODE1", group: "EVS1"))
        #expect(outcome.rule == .e2003Event1025 && outcome.message.contains("missing from the menu"))
        #expect(twin.hosts["node1"]!.eventLog.last?.contains("1025") == true)
    }

    @Test("a full disk stops setup; a failing or hanging move leaves the group where it was")
    func diskAndMoves() throws {
        var twin = try twoNode()
        try twin.inject(LabFault(.diskFull, "NODE1"))
        _ = twin.perform(F.step(.moveGroup, host: "NODE1", group: clusterGroupName, to: "NODE2"))
        _ = twin.perform(F.step(.stopClusterService, host: "NODE1"))
        #expect(
            twin.perform(F.step(.install, host: "NODE1", package: "exchange-2003-sp2")).message.contains(
                "not enough free disk"))
        _ = twin.perform(F.step(.startClusterService, host: "NODE1"))
        try twin.inject(LabFault(.moveFails, "EVS1"))
        #expect(!twin.perform(F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1")).succeeded)
        #expect(twin.groups["evs1"]!.owner == "NODE2" && twin.groups["evs1"]!.isOnline)
        try twin.inject(LabFault(.moveHangs, "EVS1"))
        let hung = twin.perform(F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1"))
        #expect(!hung.succeeded && hung.duration >= 1800 && twin.groups["evs1"]!.owner == "NODE2")
        #expect(twin.perform(F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1")).succeeded)
    }

    @Test("an injected EVS upgrade failure gives c1037b44 once")
    func evsUpgradeFault() throws {
        var twin = try withNode1Upgraded()
        try twin.inject(LabFault(.evsUpgradeFails, "EVS1"))
        _ = twin.perform(F.step(.resourcesOffline, host: "NODE2", group: "EVS1", keep: ResourceType.allCases))
        _ = twin.perform(F.step(.moveGroup, host: "NODE2", group: "EVS1", to: "NODE1"))
        #expect(twin.perform(F.step(.upgradeVirtualServer, host: "NODE1", group: "EVS1")).rule == .e2003C1037b44)
        #expect(twin.perform(F.step(.upgradeVirtualServer, host: "NODE1", group: "EVS1")).succeeded)
    }

    @Test("fault files are read with located errors")
    func faultFile() throws {
        let faults = try LabFaultFile.parse(
            "faults:\n  - {kind: file-in-use, host: NODE1}\n  - {kind: move-fails, group: EVS1}\n", file: "f.yaml")
        #expect(faults == [LabFault(.fileInUse, "NODE1"), LabFault(.moveFails, "EVS1")])
        do {
            _ = try LabFaultFile.parse(
                "faults:\n  - {kind: meteor, host: NODE1}\n  - {kind: move-fails, host: EVS1}\n", file: "f.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.errors.map(\.location.line) == [2, 3])
        }
        // Read as inventories are: YAML mistakes and keys given twice are located too.
        for (text, line, message) in [
            ("faults:\n  - {kind: file-in-use, host: NODE1\n", 3, "YAML syntax"),
            ("faults:\n  - {kind: file-in-use, kind: move-fails, host: NODE1}\n", 2, "duplicate key 'kind'"),
        ] {
            do {
                _ = try LabFaultFile.parse(text, file: "f.yaml")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.errors.first?.location.line == line, "\(error.errors)")
                #expect(error.errors.first?.message.contains(message) == true, "\(error.errors)")
            }
        }
    }
}

@Suite("Outages on the twin's clock")
struct OutageTests {
    @Test("touching intervals join; apart, they stay two; their total is the accounted downtime")
    func intervals() {
        var accounting = LabAccounting()
        accounting.recordOutage(of: "EVS1", from: 10, to: 20)
        accounting.recordOutage(of: "EVS1", from: 20, to: 35)
        accounting.recordOutage(of: "EVS1", from: 50, to: 60)
        #expect(accounting.outages["EVS1"] == [LabInterval(start: 10, end: 35), LabInterval(start: 50, end: 60)])
    }

    @Test("a twin saved before outages were kept still loads")
    func olderTwins() throws {
        let json = """
            {"virtualServerOffline":{"EVS1":60},"poolMixedLevels":{},"outlookWebAccessBroken":0,
             "unplannedFailovers":[],"violations":[]}
            """
        let accounting = try JSONDecoder().decode(LabAccounting.self, from: Data(json.utf8))
        #expect(accounting.virtualServerOffline["EVS1"] == 60)
        #expect(accounting.outages.isEmpty)
    }

    @Test("a full plan's outages add up to each virtual server's downtime")
    func outagesMatchDowntime() throws {
        let inventory = SyntheticOrganization.make(servers: 10, clusters: 3)
        let package = try #require(PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" })
        let plan = try Planner(inventory: inventory, package: package).plan()
        var twin = LabTwin(inventory: inventory)
        for step in plan.steps { #expect(twin.perform(step).succeeded, "\(step.summary)") }
        #expect(!twin.accounting.outages.isEmpty)
        for (name, offline) in twin.accounting.virtualServerOffline {
            let total = (twin.accounting.outages[name] ?? []).reduce(0) { $0 + $1.end - $1.start }
            #expect(abs(total - offline) < 0.001, "\(name)")
        }
    }
}

@Suite("The twin's saved state")
struct LabStateFileTests {
    @Test("a machine's services and components are typed and saved by name, as the twin's files always were")
    func namesOnDisk() throws {
        var host = LabHost(name: "EX1", product: .exchange2003, level: .sp1, os: .windows2003)
        host.running = [.cluster, .interfering(.backupAgent), .interfering(.antivirus)]
        host.stoppedByQuiesce = [.interfering(.snmp)]
        host.components = [.adc: .sp1]
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let text = String(decoding: try encoder.encode(host), as: UTF8.self)
        #expect(text.contains(#""running":["antivirus","backup-agent","cluster"]"#), "\(text)")
        #expect(text.contains(#""stoppedByQuiesce":["snmp"]"#) && text.contains(#""components":{"adc":"sp1"}"#), "\(text)")
        #expect(try JSONDecoder().decode(LabHost.self, from: Data(text.utf8)) == host)
        let unknown = text.replacingOccurrences(of: #""snmp""#, with: #""telnet""#)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(LabHost.self, from: Data(unknown.utf8)) }
    }
}
