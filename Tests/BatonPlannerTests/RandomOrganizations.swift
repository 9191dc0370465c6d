import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation
import PropertyBased
import Testing

/// A random organization's shape, drawn by PropertyBased generators; `inventory` builds it.
struct ServerShape: Sendable, CustomStringConvertible {
    var role: Int, pool: Int, level: Int, newOS: Bool, extras: Int
    var description: String { "server(role \(role), pool \(pool), level \(level), extras \(extras))" }
}

struct ClusterShape: Sendable, CustomStringConvertible {
    var nodes: Int, virtualServers: Int, owners: Int, activeActive: Bool, upgradedNodes: Int
    var description: String {
        "cluster(\(nodes) nodes, \(virtualServers) EVS, owners \(owners), aa \(activeActive), upgraded \(upgradedNodes))"
    }
}

struct OrganizationShape: Sendable, CustomStringConvertible {
    var product: Product
    var servers: [ServerShape]
    var clusters: [ClusterShape]
    var packageChoice: Int
    var description: String { "\(product.rawValue) package \(packageChoice): \(servers) \(clusters)" }

    /// The inventory this shape describes, and the package to roll out.
    func build() -> (Inventory, Package) {
        let levels = product.levels
        let base = levels[0]
        let os = product.operatingSystems
        var inventory = Inventory(organization: "random", domainControllers: ["DC1"])
        for (index, shape) in servers.enumerated() {
            let role: Role = product == .exchange55 ? .standalone : [.standalone, .frontEnd, .backEnd][shape.role % 3]
            let components: [Component] =
                shape.extras & 1 == 0 ? [] : (product == .exchange55 ? [.mailboxManager] : [.adc])
            let install = ExchangeInstall(
                product: product, level: levels[shape.level % (levels.count - 1)],
                os: shape.newOS ? os.last! : os.first!,
                components: components, adcCustomMaps: components == [.adc] && shape.extras & 2 != 0,
                running: shape.extras & 4 != 0 ? [.antivirus, .snmp] : [])
            let pool = role == .frontEnd && shape.pool > 0 ? "pool\(shape.pool)" : nil
            inventory.servers.append(
                Server(
                    name: "S\(index)", install: install, role: role, pool: pool,
                    edition: shape.extras & 8 != 0 && role == .standalone ? .smallBusinessServer : .standard,
                    location: SourceLocation(file: "random", line: 1, column: 1)))
        }
        for (index, shape) in clusters.enumerated() {
            let nodes = (0..<shape.nodes).map { n in
                ClusterNode(
                    name: "C\(index)N\(n)",
                    install: ExchangeInstall(
                        product: product, level: n < shape.upgradedNodes % shape.nodes ? levels.last! : base,
                        os: os.last!),
                    location: SourceLocation(file: "random", line: 1, column: 1))
            }
            var owners = shape.owners
            let evs = (0..<min(shape.virtualServers, shape.nodes)).map { e in
                defer { owners /= shape.nodes }
                let owner = nodes[owners % shape.nodes].name
                let ownerLevel = nodes[owners % shape.nodes].install.level
                return VirtualServer(
                    name: "C\(index)EVS\(e)", owner: owner, preferredOwner: nodes[e % shape.nodes].name,
                    product: product,
                    level: product == .exchange55 ? ownerLevel : base,
                    location: SourceLocation(file: "random", line: 1, column: 1))
            }
            inventory.clusters.append(
                Cluster(
                    name: "C\(index)", mode: shape.activeActive ? .activeActive : .activePassive, nodes: nodes,
                    clusterGroupOwner: nodes[shape.owners % shape.nodes].name, virtualServers: evs,
                    location: SourceLocation(file: "random", line: 1, column: 1)))
        }
        let hotfix = Package(
            id: "hotfix", target: .exchange(product), kind: .hotfix, requires: base, restart: .ifPrompted,
            changesStore: false)
        inventory.packages = [hotfix]
        let candidates =
            PackageCatalogue.builtIn.filter { $0.product == product } + [hotfix]
            + (product == .exchange2003 ? [PackageCatalogue.kb831464] : [])
        return (inventory, candidates[packageChoice % candidates.count])
    }
}

/// How many random organizations each property tries: a few hundred in CI, more with
/// `BATON_PROPERTY_CASES=20000 swift test` for a long run.
let propertyCases = Int(ProcessInfo.processInfo.environment["BATON_PROPERTY_CASES"] ?? "") ?? 300

enum Shapes {
    static let server = zip(Gen.int(in: 0...2), Gen.int(in: 0...2), Gen.int(in: 0...3), Gen.bool, Gen.int(in: 0...15))
        .map { ServerShape(role: $0, pool: $1, level: $2, newOS: $3, extras: $4) }
    static let cluster = zip(
        Gen.int(in: 2...5), Gen.int(in: 0...4), Gen.int(in: 0...10_000), Gen.bool, Gen.int(in: 0...4)
    )
    .map { ClusterShape(nodes: $0, virtualServers: $1, owners: $2, activeActive: $3, upgradedNodes: $4) }
    static let organization = zip(
        Gen.element(of: Product.allCases.filter { !$0.isModern }), server.array(of: 0...7), cluster.array(of: 0...3),
        Gen.int(in: 0...9)
    ).map { OrganizationShape(product: $0 ?? .exchange2003, servers: $1, clusters: $2, packageChoice: $3) }
}

@Suite("Plans for random organizations")
struct RandomOrganizationTests {
    @Test("every plan is safe in random orders, or refused for a stated rule")
    func safeOrRefused() async {
        await propertyCheck(count: propertyCases, input: Shapes.organization) { shape in
            let (inventory, package) = shape.build()
            do {
                let plan = try Planner(inventory: inventory, package: package).plan()
                let problems = PlanChecker(inventory: inventory, package: package, plan: plan).violations(
                    orders: 8, seed: 11)
                #expect(problems.isEmpty, "\(shape) with \(package.id): \(problems.prefix(4))")
                // The lab twin, a second model of KB 328839, must agree: the plan runs through.
                var twin = LabTwin(inventory: inventory, seed: 5)
                for step in plan.steps {
                    let outcome = twin.perform(step)
                    guard outcome.succeeded else {
                        Issue.record(
                            "\(shape) with \(package.id): \(step.id) \(step.summary) failed on the twin: \(outcome.message)"
                        )
                        break
                    }
                }
                #expect(
                    twin.accounting.violations.isEmpty, "\(shape) with \(package.id): \(twin.accounting.violations)")
            } catch let refusal as PlanRefusal {
                #expect([Rule.ID.e2003NoMoveBack, .e2003CleanInstallMigration].contains(refusal.rule), "\(refusal)")
            } catch {
                Issue.record("unexpected error \(error)")
            }
        }
    }

    @Test("plans grow linearly with the organization")
    func linearSize() async {
        await propertyCheck(count: propertyCases / 3, input: Shapes.organization) { shape in
            let (inventory, package) = shape.build()
            guard let plan = try? Planner(inventory: inventory, package: package).plan() else { return }
            let machines =
                inventory.exchangeHostCount + inventory.domainControllers.count
                + inventory.clusters.reduce(0) { $0 + $1.virtualServers.count }
            let edges = plan.steps.reduce(0) { $0 + $1.after.count }
            #expect(plan.steps.count <= 40 * machines + 10)
            #expect(edges <= 2 * plan.steps.count + machines)
        }
    }

    @Test("the same organization and package always give the same plan")
    func deterministic() async {
        await propertyCheck(count: 50, input: Shapes.organization) { shape in
            let (inventory, package) = shape.build()
            let first = try? Planner(inventory: inventory, package: package).plan()
            let second = try? Planner(inventory: inventory, package: package).plan()
            #expect(first.map(PlanFormat.json.render) == second.map(PlanFormat.json.render))
        }
    }
}
