import BatonPlan
import BatonKnowledge
import BatonModel

/// Exchange 2000 Server on a cluster (rules `e2000-active-passive`, `e2000-active-active`):
/// upgrade a node that owns nothing (the passive one, or the one freed by moving every group
/// onto its partner), stop its Cluster service first, then move the Exchange groups and the
/// cluster group onto it; the upgraded node upgrades the databases as it starts them. Then
/// upgrade the node just emptied. There is no "Upgrade Exchange Virtual Server" in 2000.
enum Exchange2000ClusterProcedure {
    static func policy(package: Package, cluster: Cluster) -> ClusterPolicy {
        let mode: Rule.ID = cluster.mode == .activeActive ? .e2000ActiveActive : .e2000ActivePassive
        return ClusterPolicy(
            offlineBeforeMove: false,
            upgradeVirtualServer: false,
            noMoveBack: true,
            vacateRules: [mode, .clusterStopService],
            installRules: [mode, .clusterStopService],
            moveToUpgradedRules: [mode],
            moveToUpgradedEffect: package.changesStore
                ? "which upgrades its databases as it starts its Exchange resources"
                : "which runs the new level")
    }
}

/// A Windows prerequisite hotfix (831464) rolled out on its own: nodes are emptied one at a
/// time and restarted, but a virtual server may move between nodes freely, since Exchange's
/// own level does not change.
enum WindowsHotfixClusterProcedure {
    static func policy(package: Package, cluster: Cluster) -> ClusterPolicy {
        ClusterPolicy(
            offlineBeforeMove: false, upgradeVirtualServer: false, noMoveBack: false,
            vacateRules: [.clusterStopService, .e2003NodeEmpty, .e2003KB831464],
            installRules: [.e2003KB831464, .clusterStopService],
            moveToUpgradedRules: [.clusterStopService, .e2003NodeEmpty], moveToUpgradedEffect: "")
    }
}
