/// The actions a plan step performs (docs/plan.md). Their names are a public format.
public enum Action: String, Sendable, Hashable, CaseIterable, Codable {
    case approve
    case backup
    case exportSchemaMap = "export-schema-map"
    case quiesce
    case checkInstallers = "check-installers"
    case leavePool = "leave-pool"
    case rejoinPool = "rejoin-pool"
    case moveGroup = "move-group"
    case stopClusterService = "stop-cluster-service"
    case startClusterService = "start-cluster-service"
    case install
    case reboot
    case resourcesOffline = "resources-offline"
    case upgradeVirtualServer = "upgrade-virtual-server"
    case resourcesOnline = "resources-online"
    case updateComponent = "update-component"
    case performanceOptimizer = "performance-optimizer"
    case restoreServices = "restore-services"
    case verifyVersion = "verify-version"
    case failoverTest = "failover-test"
    case milestone
}
