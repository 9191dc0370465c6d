import BatonKnowledge
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import Testing

@Suite("Names, ids and a step's fields as types")
struct StepTypesTests {
    @Test("a host name equals and hashes ignoring case, keeps its spelling, and is one key in JSON")
    func hostNames() throws {
        let upper: HostName = "NODE1", lower: HostName = "node1"
        #expect(upper == lower)
        #expect(Set([upper, lower]).count == 1)
        #expect([upper: 1][lower] == 1)
        #expect("\(lower)" == "node1" && upper.spelling == "NODE1")
        #expect(!(upper < lower) && !(lower < upper))
        #expect(HostName("EVS1") != HostName("EVS2"))

        // Ordered as their lower-case forms are, whatever their length or characters.
        let names = [
            "mail-2", "MAIL-10", "Mail-1", "a", "A.B", "z_", "Z", "mailbox-server-in-the-west-17",
            "MAILBOX-SERVER-IN-THE-WEST-2",
            "Ärzte", "ärzte-2", "\u{212A}ELVIN", "kelvin",
            // A combining accent after ASCII letters sorts as the letter it makes ("é" after "f").
            "mail-e\u{301}", "MAIL-\u{E9}", "mail-f", "mail-e",
        ].map { HostName($0) }
        for a in names {
            for b in names {
                #expect((a == b) == (a.key == b.key), "\(a) == \(b)")
                #expect((a < b) == (a.key < b.key), "\(a) < \(b)")
                if a == b { #expect(a.hashValue == b.hashValue, "\(a) and \(b) hash alike") }
            }
        }
        #expect(HostName("\u{212A}ELVIN") == HostName("kelvin") && HostName("ÄRZTE") == HostName("ärzte"))

        let encoded = String(decoding: try JSONEncoder().encode([upper: "up"]), as: UTF8.self)
        #expect(encoded == #"{"node1":"up"}"#)
        let decoded = try JSONDecoder().decode([HostName: String].self, from: Data(#"{"Node1":"up"}"#.utf8))
        #expect(decoded[upper] == "up")
        #expect(String(decoding: try JSONEncoder().encode(upper), as: UTF8.self) == #""NODE1""#)
    }

    @Test("the inventory's spelling reaches the plan; another spelling of a node is the same node")
    func spellingInThePlan() throws {
        let inventory = try InventoryLoader.parse(
            bytes: Array(
                """
                organization: spelled
                clusters:
                  - name: Excl1
                    product: exchange-2003
                    level: sp1
                    os: windows-2003
                    nodes: [Node1, Node2]
                    cluster-group: NODE1
                    virtual-servers:
                      - {name: Evs1, owner: node2}
                """.utf8), file: "spelled.yaml")
        let cluster = try #require(inventory.clusters.first)
        #expect(cluster.clusterGroupOwner.spelling == "Node1")
        #expect(cluster.virtualServers[0].owner.spelling == "Node2")
        let package = try #require(PackageCatalogue(inventory: inventory).package("exchange-2003-sp2"))
        let json = PlanFormat.json.render(try Planner(inventory: inventory, package: package).plan())
        #expect(json.contains(#""host" : "Node2""#) && json.contains(#""group" : "Evs1""#))
        #expect(!json.contains(#""NODE1""#) && !json.contains(#""node2""#))
    }

    @Test("a step cannot lack a field its action needs", arguments: Action.allCases)
    func requiredFields(_ action: Action) {
        let complete = StepDetail(
            action, host: "H", group: "G", to: "T", package: "p", what: [.databases], gate: "g", pool: "pool",
            component: .adc, keep: [], when: .always, expect: "1", name: "n", dag: "D", domains: ["d"], files: ["f"],
            overrideTwoCopies: true, replication: .schema, dotnet: .v48, edge: "E", seconds: 600)
        #expect(complete?.action == action)
        #expect(StepDetail(action) == nil, "\(action.rawValue) with no fields at all")
    }

    @Test("a stored plan whose install has no package is refused when read, naming the action")
    func decodeRefusesMissingField() throws {
        let (_, _, plan) = try Examples.plan("contoso.yaml", "exchange-2003-sp2")
        let json = PlanFormat.json.render(plan)
        let damaged = json.replacingOccurrences(of: #""package" : "exchange-2003-sp2","#, with: "")
        #expect(damaged != json)
        #expect {
            try JSONRenderer.decode(damaged)
        } throws: { error in
            "\(error)".contains("a install step lacks a field its action needs")
        }
    }

    @Test("every step's payload survives the plan's JSON for every example", arguments: Examples.all)
    func roundTrip(_ name: String) throws {
        let inventory = try Examples.load(name)
        for package in PackageCatalogue(inventory: inventory).packages {
            guard let plan = try? Planner(inventory: inventory, package: package).plan() else { continue }
            let decoded = try JSONRenderer.decode(PlanFormat.json.render(plan))
            #expect(decoded.steps.map(\.detail) == plan.steps.map(\.detail), "\(name) \(package.id)")
        }
    }
}
