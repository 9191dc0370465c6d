import BatonPlan
import BatonKnowledge
import BatonModel

/// How a rolling cluster upgrade differs between product lines and packages: which steps
/// surround a virtual server's move to an upgraded node, and which rules explain them.
struct ClusterPolicy {
    /// Take the EVS's resources offline (keeping IP Address, Network Name and Physical Disk)
    /// before it moves to an upgraded node, and bring them online after (Exchange 2003).
    var offlineBeforeMove: Bool
    /// Run "Upgrade Exchange Virtual Server" after the move (Exchange 2003 service packs).
    var upgradeVirtualServer: Bool
    /// Once on an upgraded node, an EVS never moves back to an older one.
    var noMoveBack: Bool
    /// Rules behind emptying a node before its install.
    var vacateRules: [Rule.ID]
    /// Rules behind installing on a node.
    var installRules: [Rule.ID]
    /// Rules behind moving a virtual server onto an upgraded node.
    var moveToUpgradedRules: [Rule.ID]
    /// What the move onto an upgraded node does, for the step's `why`.
    var moveToUpgradedEffect: String
}
