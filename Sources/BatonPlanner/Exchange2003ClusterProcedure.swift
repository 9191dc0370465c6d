import BatonPlan
import BatonKnowledge
import BatonModel

/// Exchange Server 2003 on a server cluster, as KB 328839's worked example does it for two
/// nodes and repeats it for more (rules `e2003-one-node-at-a-time`, `e2003-multi-node`):
///
/// 1. Windows Server 2003 nodes get hotfix 831464 first, then a restart.
/// 2. Move every virtual server and the cluster group off the node (`e2003-node-empty`).
/// 3. Stop the Cluster service on it (`cluster-stop-service`).
/// 4. Install the service pack; restart only if prompted.
/// 7. Take the EVS's resources offline except IP Address, Physical Disk and Network Name.
/// 8. Start the Cluster service on the upgraded node.
/// 9. Move the EVS to the upgraded node.
/// 11. Service packs only: "Upgrade Exchange Virtual Server" (`e2003-hotfix-no-evs-upgrade`).
/// 12. Bring the EVS online; it can no longer move to a node not yet upgraded.
/// 17. Test that every EVS fails over; 18. verify the version.
enum Exchange2003ClusterProcedure {
    static func policy(package: Package, cluster: Cluster) -> ClusterPolicy {
        let multiNode: [Rule.ID] = cluster.nodes.count > 2 ? [.e2003MultiNode] : []
        let servicePack = package.kind == .servicePack
        return ClusterPolicy(
            offlineBeforeMove: true,
            upgradeVirtualServer: servicePack,
            noMoveBack: true,
            vacateRules: [.clusterStopService, .e2003NodeEmpty] + multiNode,
            installRules: [.e2003OneNodeAtATime, .e2003NodesThenEVS, .clusterStopService] + multiNode,
            moveToUpgradedRules: [.e2003EVSUpgrade, .e2003NoMoveBack] + (servicePack ? [] : [.e2003HotfixNoEVSUpgrade]),
            moveToUpgradedEffect: servicePack
                ? "where it is upgraded with \"Upgrade Exchange Virtual Server\""
                : "(a hotfix needs no \"Upgrade Exchange Virtual Server\")")
    }
}
