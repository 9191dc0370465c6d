import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import PropertyBased
import Synchronization
import Testing

@Suite("Planner on KB 328839's topologies")
struct PlannerTests {
    /// Every example with every built-in package of its products (and its own packages),
    /// executed in many orders by the independent checker.
    @Test("every example plan is safe in every order the checker tries", arguments: Examples.all)
    func examplesAreSafe(_ name: String) throws {
        let inventory = try Examples.load(name)
        let catalogue = PackageCatalogue(inventory: inventory)
        var planned = 0
        for package in catalogue.packages {
            let plan: Plan
            do {
                plan = try Planner(inventory: inventory, package: package).plan()
            } catch {
                #expect(
                    [.e2003CleanInstallMigration, .mxSECoexistenceBlock].contains(error.rule),
                    "\(name) \(package.id): \(error)")
                continue
            }
            planned += 1
            let problems = PlanChecker(inventory: inventory, package: package, plan: plan).violations(
                orders: 25, seed: 7)
            #expect(problems.isEmpty, "\(name) with \(package.id): \(problems.prefix(5))")
        }
        #expect(planned > 0 || name == "e2003-migration.yaml")
    }

    @Test("KB 328839's two-node example follows its numbered steps")
    func workedExample() throws {
        let (_, _, plan) = try Examples.plan("e2003-two-node-cluster.yaml", "exchange-2003-sp2")
        let cluster = plan.steps.filter { $0.phase.hasPrefix("cluster") }.map(\.action)
        // Step 1 (hotfix 831464 and restart) comes before the node's Exchange install, and
        // each EVS move onto an upgraded node is wrapped in offline / upgrade / online.
        let expected: [Action] = [
            .moveGroup, .stopClusterService, .quiesce, .checkInstallers, .install, .reboot, .stopClusterService,
            .quiesce, .checkInstallers, .install, .reboot, .startClusterService, .verifyVersion, .restoreServices,
            .resourcesOffline, .moveGroup, .upgradeVirtualServer, .resourcesOnline,
        ]
        #expect(Array(cluster.prefix(expected.count)) == expected)
        let kb = try #require(plan.steps.first { $0.package == "windows-2003-kb831464" })
        let sp = try #require(plan.steps.first { $0.package == "exchange-2003-sp2" && $0.host == kb.host })
        #expect(Int(kb.id.rawValue.dropFirst())! < Int(sp.id.rawValue.dropFirst())!)
        #expect(plan.steps.contains { $0.action == .failoverTest && $0.group == "EVS1" })
        #expect(plan.steps.contains { $0.action == .verifyVersion && $0.group == "EVS1" && $0.expect == "6.5.7638.2" })
    }

    @Test("a hotfix on an Exchange 2003 cluster skips Upgrade Exchange Virtual Server")
    func hotfixSkipsEVSUpgrade() throws {
        var inventory = try Examples.load("e2003-two-node-cluster.yaml")
        inventory.packages = [
            Package(
                id: "kb1", target: .exchange(.exchange2003), kind: .hotfix, requires: .sp1, restart: .ifPrompted,
                changesStore: false)
        ]
        let package = inventory.packages[0]
        let plan = try Planner(inventory: inventory, package: package).plan()
        #expect(!plan.steps.contains { $0.action == .upgradeVirtualServer })
        #expect(plan.steps.contains { $0.action == .resourcesOnline && $0.rules.contains(.e2003HotfixNoEVSUpgrade) })
        #expect(!plan.steps.contains { $0.action == .backup && $0.rules.contains(.backupAfter) })
        #expect(PlanChecker(inventory: inventory, package: package, plan: plan).violations(orders: 20, seed: 1).isEmpty)
    }

    @Test("every front-end upgrades before any back-end, and a pool leaves and rejoins together")
    func frontEndsFirst() throws {
        let (_, _, plan) = try Examples.plan("e2003-front-end-pool.yaml", "exchange-2003-sp2")
        let milestone = try #require(plan.steps.first { $0.name == "all front-ends upgraded" })
        #expect(milestone.rules == [.e2003FrontEndFirst])
        for step in plan.steps where step.action == .quiesce && (step.host?.spelling ?? "").hasPrefix("MBX") {
            #expect(step.after == [milestone.id])
        }
        let leaves = plan.steps.filter { $0.action == .leavePool }
        #expect(leaves.count == 3)
        let out = try #require(plan.steps.first { $0.name == "pool web out of service" })
        #expect(Set(out.after) == Set(leaves.map(\.id)))
        #expect(plan.estimate?.pools.first?.fullyOutSeconds ?? 0 > 0)
    }

    @Test("a pool member already at the new level keeps serving while the others upgrade")
    func poolMemberAtLevelStays() throws {
        let (inventory, package, plan) = try Examples.plan("mixed.yaml", "exchange-2003-sp2")
        #expect(!plan.steps.contains { $0.action == .leavePool && $0.host == "FE3" })
        #expect(plan.steps.filter { $0.action == .leavePool }.count == 2)
        #expect(plan.estimate?.pools.first { $0.name == "owa" }?.fullyOutSeconds == 0)
        #expect(PlanChecker(inventory: inventory, package: package, plan: plan).violations(orders: 30, seed: 3).isEmpty)
    }

    @Test("Exchange 5.5 clusters install on the active node first and never move the group")
    func exchange55Cluster() throws {
        let (_, _, plan) = try Examples.plan("e55-cluster.yaml", "exchange-5.5-sp4")
        #expect(
            !plan.steps.contains { $0.action == .moveGroup || $0.action == .stopClusterService || $0.action == .reboot }
        )
        let installs = plan.steps.filter { $0.action == .install }.compactMap(\.host)
        #expect(installs == ["ALPHA", "BETA"])
        #expect(plan.steps.filter { $0.action == .performanceOptimizer }.count == 2)
        #expect(plan.warnings.contains { $0.rule == .e55ActiveFirst && $0.message.contains("EXCH55 is unavailable") })
        #expect(plan.estimate?.virtualServers.first?.downtimeSeconds ?? 0 >= 40 * 60)
    }

    @Test("Exchange 5.5 add-ons are updated separately and no server restarts")
    func exchange55AddOns() throws {
        let (_, _, plan) = try Examples.plan("e55-standalone.yaml", "exchange-5.5-sp4")
        let components = plan.steps.filter { $0.action == .updateComponent }.compactMap(\.component)
        #expect(Set(components) == [.mailboxManager, .interorgReplication])
        #expect(!plan.steps.contains { $0.action == .reboot })
        #expect(plan.steps.contains { $0.action == .install && $0.host == "SBS45" && $0.rules == [.sbs] })
    }

    @Test("the ADC gets its own update, after its schema maps are exported")
    func adcSeparate() throws {
        let (_, _, plan) = try Examples.plan("contoso.yaml", "exchange-2003-sp2")
        let export = try #require(plan.steps.first { $0.action == .exportSchemaMap && $0.host == "BE1" })
        let update = try #require(plan.steps.first { $0.action == .updateComponent && $0.component == .adc })
        #expect(update.after == [export.id])
        #expect(update.rules == [.e2003ADCSeparate])
    }

    @Test("an Exchange 2000 ADC with customised maps: KB 316542 before SP3 (rule e2000-adc-separate)")
    func exchange2000ADCMaps() throws {
        let (_, _, plan) = try Examples.plan("e2000-front-back.yaml", "exchange-2000-sp3")
        let export = try #require(plan.steps.first { $0.action == .exportSchemaMap && $0.host == "BE1" })
        #expect(export.rules == [.adcCustomMaps, .e2000ADCSeparate])
        #expect(export.why.contains("KB 316542"))
        let update = try #require(plan.steps.first { $0.action == .updateComponent && $0.host == "BE1" })
        #expect(update.rules == [.e2000ADCSeparate] && update.after == [export.id])
    }

    @Test("Exchange 2000 active/passive: the passive node first, then every group moves to it")
    func exchange2000ActivePassive() throws {
        let (_, _, plan) = try Examples.plan("e2000-active-passive.yaml", "exchange-2000-sp3")
        let installs = plan.steps.filter { $0.action == .install }.compactMap(\.host)
        #expect(installs == ["NODEB", "NODEA"])
        let firstInstall = plan.steps.firstIndex { $0.action == .install }!
        #expect(!plan.steps[..<firstInstall].contains { $0.action == .moveGroup })
        let moves = plan.steps.filter { $0.action == .moveGroup }
        #expect(Set(moves.compactMap(\.group)) == ["EVS1", clusterGroupName])
        #expect(moves.allSatisfy { $0.to == "NODEB" })
        #expect(!plan.steps.contains { $0.action == .upgradeVirtualServer || $0.action == .resourcesOffline })
    }

    @Test("Exchange 2000 active/active ends with the virtual servers back on their preferred owners")
    func exchange2000ActiveActive() throws {
        let (inventory, package, plan) = try Examples.plan("e2000-active-active.yaml", "exchange-2000-sp3")
        let last = plan.steps.filter { $0.action == .moveGroup && $0.rules.contains(.rebalance) }
        #expect(!last.isEmpty)
        #expect(last.allSatisfy { $0.rules.contains(.e2000ActiveActive) })
        var owner = Dictionary(uniqueKeysWithValues: inventory.clusters[0].virtualServers.map { ($0.name, $0.owner) })
        for move in plan.steps where move.action == .moveGroup && move.group != clusterGroupName {
            owner[move.group!] = move.to
        }
        #expect(owner == ["EVS1": "NODEA", "EVS2": "NODEB"])
        #expect(PlanChecker(inventory: inventory, package: package, plan: plan).violations(orders: 30, seed: 5).isEmpty)
    }

    @Test("a virtual server of an older product than its nodes is refused (exit 3 rule)")
    func migrationRefused() throws {
        #expect(throws: PlanRefusal.self) { try Examples.plan("e2003-migration.yaml", "exchange-2003-sp2") }
        do {
            _ = try Examples.plan("e2003-migration.yaml", "exchange-2003-sp2")
        } catch let refusal as PlanRefusal {
            #expect(refusal.rule == .e2003CleanInstallMigration)
        }
    }

    @Test("every plan with steps says how to rehearse it first (rule lab-first)")
    func labFirst() throws {
        let (_, _, plan) = try Examples.plan("contoso.yaml", "exchange-2003-sp2")
        #expect(plan.warnings.contains { $0.rule == .labFirst && $0.message.contains("baton lab rehearse") })
        let (_, _, empty) = try Examples.plan("e55-cluster.yaml", "exchange-2003-sp2")
        #expect(!empty.warnings.contains { $0.rule == .labFirst })
    }

    @Test("nothing to install gives a plan with no steps and a warning saying why")
    func nothingToDo() throws {
        let (_, _, plan) = try Examples.plan("e55-cluster.yaml", "exchange-2003-sp2")
        #expect(plan.steps.isEmpty)
        #expect(plan.warnings.contains { $0.rule == .packageApplicability && $0.message.contains("no steps") })
    }

    @Test("servers already at the target level are left alone, with a warning")
    func alreadyAtLevel() throws {
        let (_, _, plan) = try Examples.plan("mixed.yaml", "exchange-2003-sp2")
        #expect(!plan.steps.contains { $0.action == .install && ["FE3", "BE2", "B3"].contains($0.host ?? "") })
        #expect(plan.warnings.contains { $0.message.contains("BE2") && $0.message.contains("already run sp2") })
    }

    @Test("backups before cover every server, node, virtual server and domain controller; the gate too")
    func backupsBefore() throws {
        let (inventory, _, plan) = try Examples.plan("mixed.yaml", "exchange-2003-sp2")
        let ready = try #require(plan.steps.first { $0.name == "ready to install" })
        let before = plan.steps.filter { $0.phase == "prepare" && $0.action == .backup }
        let hosts = Set(before.filter { $0.group == nil }.compactMap(\.host))
        let expected = Set(
            inventory.domainControllers + inventory.servers.map(\.name)
                + inventory.clusters.flatMap(\.nodes).map(\.name))
        #expect(hosts == expected)
        #expect(Set(before.compactMap(\.group)) == Set(inventory.clusters.flatMap(\.virtualServers).map(\.name)))
        #expect(ready.after.contains("s1"))
        // SBS1 is both a domain controller and a server: one backup covering both.
        #expect(before.filter { $0.host == "SBS1" && $0.group == nil }.count == 1)
    }

    @Test("the same inventory and package give the same JSON bytes")
    func deterministic() throws {
        let first = PlanFormat.json.render(try Examples.plan("mixed.yaml", "exchange-2003-sp2").2)
        let second = PlanFormat.json.render(try Examples.plan("mixed.yaml", "exchange-2003-sp2").2)
        #expect(first == second)
        let decoded = try JSONRenderer.decode(first)
        #expect(decoded.format == "baton-plan/1")
        #expect(decoded == (try Examples.plan("mixed.yaml", "exchange-2003-sp2").2))
    }

    @Test("text needing escapes anywhere, at every length, is written as Foundation's JSONEncoder writes it")
    func jsonWriterEscapes() throws {
        var plan = try Examples.plan("mixed.yaml", "exchange-2003-sp2").2
        let specials: [Character] = ["\"", "\\", "\n", "\t", "\u{01}", "\u{1F}", "/", "é", "\u{7F}", " "]
        // Seeded, so a failing case can be replayed.
        var generator = Xoshiro(seed: (2026, 11, 29, 1))
        for index in plan.steps.indices {
            let length = index % 40
            var text = String(repeating: "a", count: length)
            if length > 0, index % 3 != 0 {
                let at = text.index(text.startIndex, offsetBy: Int.random(in: 0..<length, using: &generator))
                text.replaceSubrange(at...at, with: String(specials[index % specials.count]))
            }
            plan.steps[index].why = text
        }
        let fast = PlanFormat.json.render(plan)
        let reference = JSONRenderer.renderWithFoundation(plan)
        let a = try JSONSerialization.jsonObject(with: Data(fast.utf8)) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: Data(reference.utf8)) as? NSDictionary
        #expect(a != nil && a == b)
        #expect(try JSONRenderer.decode(fast) == plan)
    }

    /// What `baton plan --format json` writes, collected: a long plan's steps are written on two
    /// threads in batches and handed on in order.
    static func written(_ plan: Plan, batch: Int? = nil) -> (text: String, pieces: Int) {
        let collected = Mutex<(bytes: [UInt8], pieces: Int)>(([], 0))
        JSONRenderer.write(plan, batch: batch) { piece in
            collected.withLock {
                $0.bytes += piece
                $0.pieces += 1
            }
        }
        return collected.withLock { (String(decoding: $0.bytes, as: UTF8.self), $0.pieces) }
    }

    @Test(
        "the plan written on two threads, in batches of any size, is the document rendered whole",
        arguments: Examples.all)
    func writtenInBatches(_ name: String) throws {
        let inventory = try Examples.load(name)
        for package in PackageCatalogue(inventory: inventory).packages {
            guard let plan = try? Planner(inventory: inventory, package: package).plan() else { continue }
            let whole = PlanFormat.json.render(plan)
            // From one step a batch to more than half the plan (written on one thread).
            for batch in [1, 2, 3, 7, plan.steps.count / 2 + 1] {
                let written = Self.written(plan, batch: batch)
                #expect(written.text == whole, "\(name) \(package.id), batches of \(batch)")
                // The document before the steps, each batch, and what follows.
                if plan.steps.count >= 2 * batch {
                    #expect(written.pieces == 2 + (plan.steps.count + batch - 1) / batch, "\(name) \(package.id)")
                }
            }
        }
    }

    @Test("a large plan is written on two threads in megabyte batches, byte for byte as rendered whole")
    func writtenLarge() throws {
        let inventory = SyntheticOrganization.make(servers: 1_000, clusters: 100)
        let package = PackageCatalogue.builtIn.first { $0.id == "exchange-2003-sp2" }!
        let plan = try Planner(inventory: inventory, package: package).plan()
        let written = Self.written(plan)
        #expect(plan.steps.count > 4 * 2048)
        #expect(written.pieces > 4)
        #expect(written.text == PlanFormat.json.render(plan))
    }

    @Test("the JSON writer and Foundation's JSONEncoder give the same document", arguments: Examples.all)
    func jsonWriterAgrees(_ name: String) throws {
        let inventory = try Examples.load(name)
        for package in PackageCatalogue(inventory: inventory).packages {
            guard let plan = try? Planner(inventory: inventory, package: package).plan() else { continue }
            let fast = PlanFormat.json.render(plan)
            let reference = JSONRenderer.renderWithFoundation(plan)
            let a = try JSONSerialization.jsonObject(with: Data(fast.utf8)) as? NSDictionary
            let b = try JSONSerialization.jsonObject(with: Data(reference.utf8)) as? NSDictionary
            #expect(a != nil && a == b, "\(name) \(package.id)")
            #expect(try JSONRenderer.decode(fast) == plan)
        }
    }
}
