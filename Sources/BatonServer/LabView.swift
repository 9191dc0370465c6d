import BatonLab
import BatonModel

/// The lab twin as the dashboard draws it (`GET /api/lab`): machines by tier, pools, and
/// clusters with their nodes and groups, who owns what now, and each virtual server's
/// outages on the twin's clock.
struct LabView: Encodable, Sendable {
    struct Machine: Encodable, Sendable {
        var name: HostName
        var product, level, build, role, pool: String?
        var cluster: HostName?
        var up, inPool, pendingRestart: Bool
        var running: [String]
        /// Exchange 2013 and later: in service, transport draining, in DAG maintenance or offline.
        var service: String?
    }

    struct Database: Encodable, Sendable {
        var name: String
        var copies: [HostName]
        var lagged: [HostName]
        /// Where it is mounted now; absent while dismounted.
        var mounted: HostName?
        var offlineSeconds: Double
    }

    struct DAG: Encodable, Sendable {
        var name: HostName
        var members: [HostName]
        var witness: HostName?
        var databases: [Database]
    }

    struct Group: Encodable, Sendable {
        var name, owner: HostName
        var virtualServer, online: Bool
        var level: String?
        var resources: [String: Bool]
        var offlineSeconds: Double
        var outages: [LabInterval]
    }

    struct Cluster: Encodable, Sendable {
        var name: HostName
        var nodes: [HostName]
        var groups: [Group]
    }

    struct Pool: Encodable, Sendable {
        var name: String
        var members: [HostName]
        var mixedLevels: Bool
        var mixedSeconds: Double
    }

    var organization: String
    var clock: Double
    var machines: [Machine]
    var clusters: [Cluster]
    var pools: [Pool]
    /// Exchange 2013 and later: each DAG with its databases and where each is mounted.
    var dags: [DAG]?
    var unplannedFailovers: [String]
    var violations: [LabViolation]

    init(_ twin: LabTwin) {
        organization = twin.organization
        clock = twin.clock
        let hosts = twin.hosts.values.sorted { $0.name.spelling < $1.name.spelling }
        machines = hosts.map {
            Machine(
                name: $0.name, product: $0.product?.rawValue, level: $0.level?.rawValue, build: $0.build,
                role: $0.role?.rawValue ?? ($0.product == nil ? "domain-controller" : nil), pool: $0.pool,
                cluster: $0.cluster, up: $0.up, inPool: $0.inPool, pendingRestart: $0.pendingRestart,
                running: $0.running.sorted().map(\.rawValue), service: twin.modern?.servers[$0.name]?.state)
        }
        let groups = twin.groups.values.sorted {
            ($0.isVirtualServer ? 1 : 0, $0.name.spelling) < ($1.isVirtualServer ? 1 : 0, $1.name.spelling)
        }
        clusters = Set(hosts.compactMap(\.cluster)).sorted { $0.spelling < $1.spelling }.map { cluster in
            Cluster(
                name: cluster, nodes: hosts.filter { $0.cluster == cluster }.map(\.name),
                groups: groups.filter { $0.cluster == cluster }.map {
                    Group(
                        name: $0.name, owner: $0.owner, virtualServer: $0.isVirtualServer, online: $0.isOnline,
                        level: $0.level?.rawValue, resources: $0.resources,
                        offlineSeconds: twin.accounting.virtualServerOffline[$0.name.spelling] ?? 0,
                        outages: twin.accounting.outages[$0.name.spelling] ?? [])
                })
        }
        pools = Set(hosts.compactMap(\.pool)).sorted().map { pool in
            Pool(
                name: pool, members: hosts.filter { $0.pool == pool }.map(\.name),
                mixedLevels: twin.mixedPools.contains(pool), mixedSeconds: twin.accounting.poolMixedLevels[pool] ?? 0)
        }
        dags = twin.modern.map { state in
            state.dags.values.sorted { $0.name.spelling < $1.name.spelling }.map { dag in
                DAG(
                    name: dag.name, members: dag.members, witness: dag.witness,
                    databases: state.databases.values.filter { $0.dag == dag.name }.sorted { $0.name < $1.name }.map {
                        Database(
                            name: $0.name, copies: $0.copies, lagged: $0.lagged, mounted: $0.mounted,
                            offlineSeconds: twin.accounting.databaseOffline[$0.name] ?? 0)
                    })
            }
        }
        unplannedFailovers = twin.accounting.unplannedFailovers
        violations = twin.accounting.violations
    }

}
