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
    // Exchange 2013 and later (docs/plan.md).
    case prepareSchema = "prepare-schema"
    case prepareAD = "prepare-ad"
    case prepareDomains = "prepare-domains"
    case waitReplication = "wait-replication"
    case drainTransport = "drain-transport"
    case startDagMaintenance = "start-dag-maintenance"
    case redirectMessages = "redirect-messages"
    case serverOffline = "server-offline"
    case serverOnline = "server-online"
    case stopDagMaintenance = "stop-dag-maintenance"
    case resumeTransport = "resume-transport"
    case checkCopies = "check-copies"
    case checkWitness = "check-witness"
    case checkPendingReboot = "check-pending-reboot"
    case saveConfig = "save-config"
    case restoreConfig = "restore-config"
    case rebalanceDatabases = "rebalance-databases"
    /// Raises the .NET Framework to what the cumulative update needs (rule `mx-dotnet-first`).
    case installDotNet = "install-dotnet"
    /// CSS-Exchange's HealthChecker.ps1 on the server (rule `mx-healthchecker-pre-post`).
    case healthCheck = "health-check"
    /// Test-EdgeSynchronization from a Mailbox server for an updated Edge server (rule `mx-edge-maint`).
    case checkEdgeSync = "check-edge-sync"
    /// Waits the DAG's settle time after a member is back, before the next leaves (rule `mx-settle`).
    case settle
}

extension Action {
    /// The actions of Exchange 2013 and later, which KB 328839's product lines never use.
    public var isModernOnly: Bool {
        switch self {
        case .prepareSchema, .prepareAD, .prepareDomains, .waitReplication, .drainTransport, .startDagMaintenance,
            .redirectMessages, .serverOffline, .serverOnline, .stopDagMaintenance, .resumeTransport, .checkCopies,
            .checkWitness, .checkPendingReboot, .saveConfig, .restoreConfig, .rebalanceDatabases, .installDotNet,
            .healthCheck, .checkEdgeSync, .settle:
            true
        default: false
        }
    }
}

/// What `wait-replication` waits for: the change of one preparation step to reach every
/// domain controller.
public enum ReplicationScope: String, Sendable, Hashable, CaseIterable, Codable {
    case schema, organization, domains
}
