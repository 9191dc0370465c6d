/// Builds large, realistic organizations for benchmarks and scale tests: Exchange 2003
/// front-ends in load-balanced pools, back-ends (some with an ADC), and a mix of two-node
/// active/passive, two-node active/active and four-node N+1 clusters.
public enum SyntheticOrganization {
    /// An organization of `servers` stand-alone servers and `clusters` clusters, all at
    /// Exchange 2003 SP1 so that `exchange-2003-sp2` applies everywhere.
    public static func make(servers serverCount: Int, clusters clusterCount: Int) -> Inventory {
        let here = SourceLocation(file: "synthetic", line: 1, column: 1)
        var inventory = Inventory(organization: "synthetic-\(serverCount)-\(clusterCount)", file: "synthetic")
        inventory.domainControllers = (0..<max(2, serverCount / 500)).map { "DC\($0)" }
        for index in 0..<serverCount {
            let frontEnd = index % 10 == 0
            let adc = !frontEnd && index % 50 == 1
            inventory.servers.append(
                Server(
                    name: "EX\(index)",
                    install: ExchangeInstall(
                        product: .exchange2003, level: .sp1, os: .windows2003, components: adc ? [.adc] : [],
                        adcCustomMaps: adc && index % 100 == 1, running: index % 2 == 0 ? [.antivirus] : []),
                    role: frontEnd ? .frontEnd : .backEnd, pool: frontEnd ? "pool\(index / 50)" : nil, location: here))
        }
        for index in 0..<clusterCount {
            let shape = index % 3
            let nodeCount = shape == 2 ? 4 : 2
            let nodes = (0..<nodeCount).map {
                ClusterNode(
                    name: "CL\(index)N\($0)",
                    install: ExchangeInstall(product: .exchange2003, level: .sp1, os: .windows2003), location: here)
            }
            let evsCount = shape == 0 ? 1 : (shape == 1 ? 2 : 3)
            let evs = (0..<evsCount).map {
                VirtualServer(
                    name: "CL\(index)EVS\($0)", owner: nodes[$0].name, preferredOwner: nodes[$0].name,
                    product: .exchange2003,
                    level: .sp1, location: here)
            }
            inventory.clusters.append(
                Cluster(
                    name: "CL\(index)", mode: shape == 1 ? .activeActive : .activePassive, nodes: nodes,
                    clusterGroupOwner: nodes[0].name, virtualServers: evs, location: here))
        }
        return inventory
    }

    /// The same organization as inventory YAML (docs/inventory.md), for end-to-end timings of the
    /// command line.
    public static func yaml(servers: Int, clusters: Int) -> String {
        let inventory = make(servers: servers, clusters: clusters)
        var out =
            "organization: \(inventory.organization)\ndomain-controllers: [\(inventory.domainControllers.joined(separator: ", "))]\nservers:\n"
        for server in inventory.servers {
            let install = server.install
            out +=
                "  - {name: \(server.name), product: \(install.product.rawValue), level: \(install.level.rawValue), os: \(install.os.rawValue), role: \(server.role.rawValue)"
            if let pool = server.pool { out += ", pool: \(pool)" }
            if !install.components.isEmpty {
                out += ", components: [\(install.components.map(\.rawValue).joined(separator: ", "))]"
            }
            if install.adcCustomMaps { out += ", adc-custom-maps: true" }
            if !install.running.isEmpty {
                out += ", running: [\(install.running.map(\.rawValue).joined(separator: ", "))]"
            }
            out += "}\n"
        }
        out += inventory.clusters.isEmpty ? "" : "clusters:\n"
        for cluster in inventory.clusters {
            out +=
                "  - name: \(cluster.name)\n    product: exchange-2003\n    level: sp1\n    os: windows-2003\n    mode: \(cluster.mode.rawValue)\n"
            out +=
                "    nodes: [\(cluster.nodes.map(\.name).joined(separator: ", "))]\n    cluster-group: \(cluster.clusterGroupOwner)\n    virtual-servers:\n"
            for evs in cluster.virtualServers {
                out +=
                    "      - {name: \(evs.name), owner: \(evs.owner), preferred-owner: \(evs.preferredOwner ?? evs.owner)}\n"
            }
        }
        return out
    }
}

extension SyntheticOrganization {
    /// An Exchange 2019 CU14 organization of `dagCount` DAGs of four members over three sites,
    /// each DAG with five databases of four copies, plus one Edge server per Internet-facing
    /// site, for the modern planner's benchmarks and scale tests.
    public static func modern(dags dagCount: Int) -> Inventory {
        let here = SourceLocation(file: "synthetic", line: 1, column: 1)
        var inventory = Inventory(organization: "synthetic-dags-\(dagCount)", domainControllers: ["DC1", "DC2"])
        inventory.sites = [
            Site(name: "HQ", internetFacing: true, location: here),
            Site(name: "EDGE-SITE", internetFacing: true, location: here),
            Site(name: "BRANCH", internetFacing: false, location: here),
        ]
        inventory.activeDirectory = ActiveDirectoryInfo(
            schemaMasterSite: "HQ", domains: ["synthetic.example"],
            versions: ADVersions(schema: 17003, organization: 16762, domain: 13243), location: here)
        let sites = ["HQ", "EDGE-SITE", "BRANCH"]
        for index in 0..<dagCount {
            let members = (0..<4).map { HostName("DAG\(index)M\($0)") }
            for (position, member) in members.enumerated() {
                var server = Server(
                    name: member,
                    install: ExchangeInstall(
                        product: .exchange2019, level: .cu14, os: .windows2022, running: [.antivirus]),
                    role: .mailbox, location: here)
                server.site = sites[(index + position / 2) % sites.count]
                inventory.servers.append(server)
            }
            let databases = (0..<5).map { number in
                let copies = (0..<4).map { members[(number + $0) % 4] }
                return MailboxDatabase(
                    name: "DAG\(index)DB\(number)", copies: copies, active: copies[0], lagged: [], location: here)
            }
            inventory.dags.append(
                DatabaseAvailabilityGroup(
                    name: HostName("DAG\(index)"), members: members,
                    witness: Witness(server: HostName("FSW\(index)"), site: "HQ"), autoRebalance: index % 2 == 0,
                    databases: databases, location: here))
        }
        for site in ["HQ", "EDGE-SITE"] {
            for number in 0..<2 {
                var edge = Server(
                    name: HostName("\(site)-EDGE\(number)"),
                    install: ExchangeInstall(product: .exchange2019, level: .cu14, os: .windows2022), role: .edge,
                    location: here)
                edge.site = site
                inventory.servers.append(edge)
            }
        }
        return inventory
    }

    /// The same organization as inventory YAML (docs/modern-exchange.md).
    public static func modernYAML(dags: Int) -> String {
        let inventory = modern(dags: dags)
        var out = "organization: \(inventory.organization)\ndomain-controllers: [DC1, DC2]\n"
        out +=
            "active-directory: {schema-master-site: HQ, domains: [synthetic.example], schema-version: 17003, organization-version: 16762, domain-version: 13243}\n"
        out += "sites:\n"
        for site in inventory.sites { out += "  - {name: \(site.name), internet-facing: \(site.internetFacing)}\n" }
        out += "servers:\n"
        for server in inventory.servers {
            out +=
                "  - {name: \(server.name), product: exchange-2019, level: cu14, os: windows-2022, role: \(server.role.rawValue), site: \(server.site ?? "HQ")\(server.install.running.isEmpty ? "" : ", running: [antivirus]")}\n"
        }
        out += "dags:\n"
        for dag in inventory.dags {
            out += "  - name: \(dag.name)\n    members: [\(dag.members.joined(separator: ", "))]\n"
            out += "    witness: {server: \(dag.witness?.server.spelling ?? "FSW"), site: HQ}\n"
            out += "    auto-rebalance: \(dag.autoRebalance)\n    databases:\n"
            for database in dag.databases {
                out += "      - {name: \(database.name), copies: [\(database.copies.joined(separator: ", "))]}\n"
            }
        }
        return out
    }
}
