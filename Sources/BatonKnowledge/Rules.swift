/// The rule catalogue: every instruction of KB 328839, each defined exactly once here. Code
/// elsewhere refers to rules through these constants, so a misspelt id does not compile.
extension Rule.ID {
    // Every product line.
    public static let backupBefore = Self(rawValue: "backup-before")
    public static let releaseNotes = Self(rawValue: "release-notes")
    public static let backupAfter = Self(rawValue: "backup-after")
    public static let noUninstall = Self(rawValue: "no-uninstall")
    public static let quiesce = Self(rawValue: "quiesce")
    public static let noConcurrentInstallers = Self(rawValue: "no-concurrent-installers")
    public static let fileInUse = Self(rawValue: "file-in-use")
    public static let restartIfPrompted = Self(rawValue: "restart-if-prompted")
    public static let labFirst = Self(rawValue: "lab-first")
    // Exchange Server 2003.
    public static let e2003ADCSeparate = Self(rawValue: "e2003-adc-separate")
    public static let adcCustomMaps = Self(rawValue: "adc-custom-maps")
    public static let standalone = Self(rawValue: "standalone")
    public static let e2003FrontEndFirst = Self(rawValue: "e2003-front-end-first")
    public static let e2003PoolTogether = Self(rawValue: "e2003-pool-together")
    public static let clusterStopService = Self(rawValue: "cluster-stop-service")
    public static let e2003NodesThenEVS = Self(rawValue: "e2003-nodes-then-evs")
    public static let e2003OneNodeAtATime = Self(rawValue: "e2003-one-node-at-a-time")
    public static let e2003NodeEmpty = Self(rawValue: "e2003-node-empty")
    public static let e2003KB831464 = Self(rawValue: "e2003-w2k3-kb831464")
    public static let e2003EVSUpgrade = Self(rawValue: "e2003-evs-upgrade")
    public static let e2003HotfixNoEVSUpgrade = Self(rawValue: "e2003-hotfix-no-evs-upgrade")
    public static let e2003NoMoveBack = Self(rawValue: "e2003-no-move-back")
    public static let e2003MultiNode = Self(rawValue: "e2003-multi-node")
    public static let failoverTest = Self(rawValue: "failover-test")
    public static let verifyVersion = Self(rawValue: "verify-version")
    public static let e2003CleanInstallMigration = Self(rawValue: "e2003-clean-install-migration")
    public static let e2003Event1025 = Self(rawValue: "e2003-event-1025")
    public static let e2003C1037b44 = Self(rawValue: "e2003-c1037b44")
    public static let sbs = Self(rawValue: "sbs")
    // Exchange 2000 Server.
    public static let e2000ADCSeparate = Self(rawValue: "e2000-adc-separate")
    public static let e2000FrontEndFirst = Self(rawValue: "e2000-front-end-first")
    public static let e2000ActivePassive = Self(rawValue: "e2000-active-passive")
    public static let e2000ActiveActive = Self(rawValue: "e2000-active-active")
    // Exchange Server 5.5.
    public static let e55PerformanceOptimizer = Self(rawValue: "e55-performance-optimizer")
    public static let e55AddOnsSeparate = Self(rawValue: "e55-add-ons-separate")
    public static let e55Standalone = Self(rawValue: "e55-standalone")
    public static let e55ActiveFirst = Self(rawValue: "e55-active-first")
    // Where KB 328839 is silent: Baton's own judgement, said so in the text.
    public static let packageApplicability = Self(rawValue: "package-applicability")
    public static let rebalance = Self(rawValue: "rebalance-preferred-owners")
    public static let evsInPlaceUpgrade = Self(rawValue: "e2003-evs-in-place")
}

extension Rule {
    static let common = "Every product line (important notes repeated for 5.5, 2000 and 2003)"
    static let e2003 = "Microsoft Exchange Server 2003"
    static let e2003Cluster = "Microsoft Exchange Server 2003 › Clustered server"
    static let e2003Troubleshooting = "Microsoft Exchange Server 2003 › Troubleshooting"
    static let e2000 = "Exchange 2000 Server"
    static let e55 = "Microsoft Exchange Server 5.5"
    static let baton = "Baton (KB 328839 is silent)"

    /// Every rule Baton carries: KB 328839's in its order, then those of Exchange 2013 and later.
    public static let catalogue: [Rule] = kb328839 + modernExchange

    static let kb328839: [Rule] = [
        Rule(
            .backupBefore, .step, section: common,
            """
            Before the first install anywhere in the organization, back up every Exchange database and the system \
            state of every Exchange server (cluster nodes included) and of every domain controller. Rolling back a \
            service pack means uninstalling Exchange, reinstalling it at the old level and restoring these backups.
            """),
        Rule(
            .releaseNotes, .gate, section: common,
            """
            An operator confirms that the package's release notes were read before the first install. Release notes \
            may demand changes specific to an environment.
            """),
        Rule(
            .backupAfter, .step, section: common,
            """
            Service packs only: after a server (or a virtual server) reaches the new level, take a full backup of all \
            its databases. Online backups made at an earlier level cannot be restored onto the new level; Baton's \
            report marks the older backups as no longer restorable there.
            """),
        Rule(
            .noUninstall, .fact, section: common,
            """
            A service pack cannot be uninstalled. The only way back is: uninstall Exchange, reinstall at the original \
            level, restore databases and system state from the backups taken before (backup-before). Baton never \
            offers an undo; it prints this path in the plan and the report.
            """),
        Rule(
            .quiesce, .step, section: common,
            """
            Before installing on a server, stop file-level antivirus, backup agents, the SNMP service, monitoring \
            agents (server monitors, System Monitor) and any other service or program not needed: they can hold \
            files the installer must replace. After the server is done, start again what was stopped (KB 328839 \
            is silent on this; operators expect it).
            """),
        Rule(
            .noConcurrentInstallers, .check, section: common,
            """
            Just before installing, no other instance of setup, update or even xcopy may be running on that server: \
            they can block the package.
            """),
        Rule(
            .fileInUse, .diagnosis, section: common,
            """
            A hotfix log containing "FileInUse:: Added to Filelist:" means a running service or program held a file \
            and the hotfix may not have installed. Remedy: find and stop the program (see quiesce), then install again.
            """),
        Rule(
            .restartIfPrompted, .step, section: common,
            """
            Restart a server only when the installer asks for it (for example when it was run over a Terminal \
            Services session). A cluster node needs no restart unless prompted.
            """),
        Rule(
            .labFirst, .fact, section: common,
            """
            Test the package in a lab that mirrors production before deploying it. Baton's lab twin (a simulated copy \
            of the inventory) is how this is done.
            """),
        Rule(
            .e2003ADCSeparate, .step, section: e2003,
            """
            The service pack does not upgrade the Active Directory Connector (ADC). The ADC has its own setup in the \
            package's ADC\\I386 folder, even when the ADC runs on an Exchange server: every ADC host gets a separate \
            update step.
            """),
        Rule(
            .adcCustomMaps, .step, section: e2003,
            """
            If the ADC uses customised Local.map / Remote.map files, make the same customisations to the service \
            pack's versions before the ADC is upgraded, and export the msExchServer1SchemaMap and \
            msExchServer2SchemaMap attributes (with LDP) first as a safety copy. (Also Exchange 2000.)
            """),
        Rule(
            .standalone, .step, section: e2003,
            """
            A server that is not clustered (2000 and 2003): run the installer. Exchange services stop for a while; a \
            restart may be required.
            """),
        Rule(
            .e2003FrontEndFirst, .order, section: e2003,
            """
            In a front-end/back-end organization every front-end server is upgraded before any back-end server.
            """),
        Rule(
            .e2003PoolTogether, .order, section: e2003,
            """
            Front-end servers behind a load balancer are upgraded together: take all of them out of service, upgrade \
            each, then put them all back. Mobile clients get synchronization-key errors while some front-ends of one \
            pool run the new level and others the old one; minimise that mixed window.
            """),
        Rule(
            .clusterStopService, .order, section: e2003Cluster,
            """
            On a cluster node (2000 and 2003): before installing, move every group off the node, then stop the \
            Cluster service on it. No restart is needed unless prompted.
            """),
        Rule(
            .e2003NodesThenEVS, .order, section: e2003Cluster,
            """
            Upgrade the cluster nodes with the service pack's setup first; then upgrade each Exchange Virtual Server \
            (EVS) in Cluster Administrator.
            """),
        Rule(.e2003OneNodeAtATime, .order, section: e2003Cluster, "Upgrade one node of a cluster at a time."),
        Rule(
            .e2003NodeEmpty, .check, section: e2003Cluster,
            """
            The node being upgraded owns no EVS and not the cluster group. Moving the EVS away first keeps its users \
            served during the node's upgrade.
            """),
        Rule(
            .e2003KB831464, .step, section: e2003Cluster,
            """
            On Windows Server 2003 nodes, first install Windows hotfix 831464 (IIS 6.0 compression corruption causes \
            an access violation), then restart.
            """),
        Rule(
            .e2003EVSUpgrade, .order, section: e2003Cluster,
            """
            Once a node is upgraded (and restarted if prompted), for an EVS that will move to it: take all the EVS's \
            resources offline except the IP Address, Network Name and Physical Disk resources; start the Cluster \
            service on the upgraded node; move the EVS group to it; (service packs only) run "Upgrade Exchange \
            Virtual Server"; then bring the EVS's resources online.
            """),
        Rule(
            .e2003HotfixNoEVSUpgrade, .order, section: e2003Cluster,
            """
            For a hotfix, skip "Upgrade Exchange Virtual Server".
            """),
        Rule(
            .e2003NoMoveBack, .check, section: e2003Cluster,
            """
            Once an EVS is online on an upgraded node it cannot move to a node that has not been upgraded to the \
            same level.
            """),
        Rule(
            .e2003MultiNode, .order, section: e2003Cluster,
            """
            In clusters of more than two nodes repeat the procedure for every node and every EVS: a node is only \
            upgraded once it owns nothing.
            """),
        Rule(
            .failoverTest, .check, section: e2003Cluster,
            """
            After every node of a cluster is upgraded, verify that each EVS fails over from one node to another.
            """),
        Rule(
            .verifyVersion, .check, section: e2003Cluster,
            """
            Verify the version each server reports (Exchange System Manager: Servers, the server's Properties, \
            General tab), for example "Version 6.5 (Build 7226.6: Service Pack 1)" or "Version 6.5 (Build 7638.2: \
            Service Pack 2)".
            """),
        Rule(
            .e2003CleanInstallMigration, .refusal, section: e2003Cluster,
            """
            Moving a Windows 2000 cluster running Exchange 2000 to Windows Server 2003 with Exchange 2003 needs the \
            clean-install method (KB 842427), not a service pack; the virtual servers are upgraded before any service \
            pack is applied. Baton refuses to plan it as a service-pack rollout and says why.
            """),
        Rule(
            .e2003Event1025, .diagnosis, section: e2003Troubleshooting,
            """
            "Upgrade Exchange Virtual Server" is missing from the menu, the EVS's resources do not come online, and \
            the Application log has event 1025 from MSExchangeCluster ("the Exchange Virtual Server needs to be \
            upgraded before going online"). Cause: the node was evicted from the cluster and added back. Remedy: run \
            Exchange 2003 setup on that node and choose Reinstall.
            """),
        Rule(
            .e2003C1037b44, .diagnosis, section: e2003Troubleshooting,
            """
            "The version of Exchange on this computer does not match the version of Exchange on server 'NAME'", ID \
            c1037b44, when upgrading an EVS. Cause: the EVS's resources sit on a node not yet upgraded, or Cluster \
            Administrator runs on such a node. Remedy: the EVS is on an upgraded node; the System Attendant resource \
            is offline; only IP Address, Network Name and Physical Disk resources are online in the EVS group; the \
            Distributed Transaction Coordinator resource is online.
            """),
        Rule(
            .sbs, .step, section: "Small Business Server 2003, 2000 and 5.5",
            """
            Small Business Server carries a typical Exchange: no special ordering, just run the installer (a restart \
            may be needed, never for 5.5). SBS 2000 SP1 is one integrated setup that also brings Windows 2000 SP3 and \
            Exchange 2000 SP3.
            """),
        Rule(
            .e2000ADCSeparate, .step, section: e2000,
            """
            As for 2003: the ADC is upgraded by its own setup (ADC\\I386); before Exchange 2000 SP3 the ADC must be \
            configured per KB 316542 when maps are customised.
            """),
        Rule(
            .e2000FrontEndFirst, .order, section: e2000,
            """
            Upgrade every front-end before any back-end. Front-ends need not be upgraded at the same time. Outlook Web \
            Access clients download script files from the front-end: an old front-end's scripts break against an \
            upgraded back-end, while an upgraded front-end's scripts work against an old back-end.
            """),
        Rule(
            .e2000ActivePassive, .order, section: e2000,
            """
            Active/passive cluster: upgrade the passive node first; move the Exchange groups and the cluster group to \
            it (when it starts the Exchange resources it upgrades the databases if the package changes the store); \
            then upgrade the former active node, now passive. Stop the Cluster service before installing.
            """),
        Rule(
            .e2000ActiveActive, .order, section: e2000,
            """
            Active/active cluster: move every EVS and the cluster group onto one node (B); upgrade the freed node (A); \
            move every EVS and the cluster group to A (databases are upgraded when A starts them); upgrade B, now \
            idle. Afterwards Baton may move EVSs back to their preferred owners (KB 328839 is silent; operators expect \
            their load spread again), as a separate step.
            """),
        Rule(
            .e55PerformanceOptimizer, .step, section: e55,
            """
            Run Performance Optimizer after installing the service pack (KB 271824).
            """),
        Rule(
            .e55AddOnsSeparate, .step, section: e55,
            """
            The service pack does not update add-on components: Mailbox Manager (from ENG\\SERVER\\SUPPORT\\Mbmngr on \
            the service pack media) and the InterOrg Replication tool (from ENG\\SERVER\\SUPPORT\\EXCHSYNC) each need \
            their own update step.
            """),
        Rule(
            .e55Standalone, .step, section: e55,
            """
            Not clustered: run the installer; services stop for a while; no restart needed.
            """),
        Rule(
            .e55ActiveFirst, .order, section: e55,
            """
            Cluster: install on the active node first, and do not fail over or move the Exchange group to the other \
            node; then install on the passive node. Setup stops the Exchange services and restarts them afterwards: \
            users cannot connect in between, and Baton plans and reports that outage. KB 328839's general cluster box \
            (move groups, stop the Cluster service) is repeated in the 5.5 section, but the version's own procedure \
            wins.
            """),
        Rule(
            .packageApplicability, .fact, section: baton,
            """
            A package applies to every server and node of its product whose level is below the package's level \
            (service pack) or at least its required level (hotfix). Others are left alone and the plan's warnings \
            say why. (The inventory says so; KB 328839 assumes it.)
            """),
        Rule(
            .rebalance, .step, section: baton,
            """
            In an active/active cluster, once every node is upgraded and failover has been tested, move each EVS back \
            to its preferred owner (or the node that owned it before the rollout), so the load is spread again. KB \
            328839 is silent; operators expect it. Each move is a short outage of that EVS.
            """),
        Rule(
            .evsInPlaceUpgrade, .step, section: baton,
            """
            An EVS that is already on an upgraded node but still at the old level (its node was upgraded before this \
            rollout) is upgraded where it stands: its resources are taken offline except IP Address, Network Name \
            and Physical Disk, "Upgrade Exchange Virtual Server" runs, and it comes online again. KB 328839's \
            procedure assumes the EVS moves; this is the same sequence without the move.
            """),
    ]

    /// Looks a rule up by id.
    public static func named(_ id: Rule.ID) -> Rule? { catalogue.first { $0.id == id } }
}
