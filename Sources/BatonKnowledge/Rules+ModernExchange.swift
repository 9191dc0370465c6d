/// Exchange 2013, 2016, 2019 and Subscription Edition: cumulative updates (CUs) and security
/// updates (SUs) across database availability groups (DAGs), sites and Edge servers. Each
/// rule says where it comes from; what administrators commonly do, or what Baton infers where
/// Microsoft is silent, is marked so and is Baton's default.
extension Rule.ID {
    public static let mxCUBackupFirst = Self(rawValue: "mx-cu-backup-first")
    public static let mxADPrepWhen = Self(rawValue: "mx-ad-prep-when")
    public static let mxADPrepReplication = Self(rawValue: "mx-ad-prep-replication")
    public static let mxADPrepLocation = Self(rawValue: "mx-ad-prep-location")
    public static let mxSECoexistenceBlock = Self(rawValue: "mx-se-coexistence-block")
    public static let mxSEInPlace = Self(rawValue: "mx-se-inplace")
    public static let mxSUCUSpecific = Self(rawValue: "mx-su-cu-specific")
    public static let mxDAGUpdateProcedure = Self(rawValue: "mx-dag-update-procedure")
    public static let mxDAGEnterOrder = Self(rawValue: "mx-dag-enter-order")
    public static let mxDAGExitOrder = Self(rawValue: "mx-dag-exit-order")
    public static let mxDAGShutdownNotLossless = Self(rawValue: "mx-dag-shutdown-not-lossless")
    public static let mxOneMemberAtATime = Self(rawValue: "mx-one-member-at-a-time")
    public static let mxCopiesHealthy = Self(rawValue: "mx-copies-healthy")
    public static let mxQuorum = Self(rawValue: "mx-quorum")
    public static let mxWitnessRestart = Self(rawValue: "mx-witness-restart")
    public static let mxStartDagTwoCopies = Self(rawValue: "mx-startdag-two-copies")
    public static let mxCUUpdateRebootBefore = Self(rawValue: "mx-cu-reboot-before")
    public static let mxCUUpdateRebootAfter = Self(rawValue: "mx-cu-reboot-after")
    public static let mxSUReboot = Self(rawValue: "mx-su-reboot")
    public static let mxCUConfigOverwrite = Self(rawValue: "mx-cu-config-overwrite")
    public static let mxCUAVDisable = Self(rawValue: "mx-cu-av-disable")
    public static let mxReadinessRebootPending = Self(rawValue: "mx-readiness-reboot-pending")
    public static let mxCUCommandLine = Self(rawValue: "mx-cu-cmdline")
    public static let mxCULicenseSwitch = Self(rawValue: "mx-cu-license-switch-diag")
    public static let mxCURunDotSetup = Self(rawValue: "mx-cu-run-dot-setup")
    public static let mxSUElevated = Self(rawValue: "mx-su-elevated")
    public static let mxStandaloneMailbox = Self(rawValue: "mx-standalone-mbx")
    public static let mx2013CASMaintenance = Self(rawValue: "mx-2013-cas-maint")
    public static let mxEdgeMaintenance = Self(rawValue: "mx-edge-maint")
    public static let mxOrderSites = Self(rawValue: "mx-order-sites")
    public static let mxDAGRebalance = Self(rawValue: "mx-dag-rebalance")
    public static let mxCUNoUninstall = Self(rawValue: "mx-cu-no-uninstall")
    public static let mxSUUninstall = Self(rawValue: "mx-su-uninstall")
    public static let mxHealthCheckerPrePost = Self(rawValue: "mx-healthchecker-pre-post")
    public static let mxDotNetFirst = Self(rawValue: "mx-dotnet-first")
    public static let mxPrerequisites = Self(rawValue: "mx-prerequisites")
    // Failures recognised in setup logs and error text (`baton diagnose`).
    public static let mxServicesDisabled = Self(rawValue: "mx-services-disabled-after-failure")
    public static let mxFailedUpdateComponents = Self(rawValue: "mx-failed-update-components")
    public static let mxPrepareADWrongSite = Self(rawValue: "mx-prepad-wrong-site")
    public static let mxPrepareADWellKnownObject = Self(rawValue: "mx-prepad-wellknown-object")
    public static let mxSU1603 = Self(rawValue: "mx-su-1603-perms")
    public static let mxSUInterimUpdate = Self(rawValue: "mx-su-iu-conflict")
    public static let mxSUNonElevatedHTTP500 = Self(rawValue: "mx-su-nonelevated-owa500")
    public static let mxExecutionPolicyGPO = Self(rawValue: "mx-exec-policy-gpo")
    public static let mxMoveBlackout = Self(rawValue: "mx-startdag-move-blackout")

    // How Baton logs on to Windows.
    public static let windowsNetworkLogon = Self(rawValue: "windows-network-logon")
    // What runs against what the inventory says.
    public static let mxNoDowngrade = Self(rawValue: "mx-no-downgrade")
    public static let inventoryDrift = Self(rawValue: "inventory-drift")
    public static let mxSupportStatus = Self(rawValue: "mx-support-status")
    public static let mxExtendedProtection = Self(rawValue: "mx-extended-protection")
    // The monthly job.
    public static let mxLatestUpdate = Self(rawValue: "mx-latest-update")
    public static let savedPlan = Self(rawValue: "saved-plan")
    public static let canary = Self(rawValue: "canary")
    // Overnight runs.
    public static let mxSettle = Self(rawValue: "mx-settle")
}

extension Rule {
    /// What Baton says of a Windows host whose session cannot reach the network after a key
    /// logon (rule `windows-network-logon`), on real hosts and on the twin alike.
    public static func keyLogonFinding(_ host: String) -> String {
        "an SSH key logon on Windows carries no network credentials: Active Directory and the other DAG members cannot be reached from \(host). Give it a logon with the account's password (logons:, docs/remote.md, Logging on to Windows), or use Kerberos with delegation"
    }

    static let installCU = "Microsoft: Install the latest Cumulative Update for Exchange Server"
    static let manageDAGs = "Microsoft: Manage database availability groups › Performing maintenance on DAG members"
    static let prepareAD = "Microsoft: Prepare Active Directory and domains for Exchange Server"
    static let fixUpdates = "Microsoft: Fix failed Exchange Server updates"
    static let upgradeToSE = "Microsoft: Upgrade to Exchange Server SE"
    static let witnessServer =
        "Microsoft: Database availability groups › Witness server; Plan for high availability and site resilience › Witness server requirements"
    static let startDagScript = "Microsoft: StartDagServerMaintenance.ps1 as Exchange ships it"
    static let win32OpenSSH =
        "Microsoft's OpenSSH for Windows (PowerShell/Win32-OpenSSH): issue #518, a key logon has no network credentials by design; #1047; #2202, Kerberos with delegation"
    static let community = "Administrators' common practice (Baton's default; the inventory may change it)"
    static let inferred = "Baton (inferred where Microsoft is silent; the inventory may change it)"

    static let modernExchange: [Rule] = [
        Rule(
            .mxCUBackupFirst, .step, source: .microsoft, section: installCU,
            """
            Before the first change (Active Directory preparation or an install): a tested backup of every domain \
            controller's system state, of every mailbox database (one copy each) and of every Exchange server.
            """),
        Rule(
            .mxADPrepWhen, .gate, source: .microsoft, section: prepareAD,
            """
            When the package's Active Directory versions (schema rangeUpper, organization objectVersion, domain \
            objectVersion) are above the forest's, prepare the forest before any server: /PrepareSchema, then \
            /PrepareAD, then /PrepareAllDomains, each from the package's media. When they are not, no preparation \
            is needed and the plan says why; when the inventory does not give the forest's versions, an operator \
            confirms them at a gate.
            """),
        Rule(
            .mxADPrepReplication, .order, source: .microsoft, section: prepareAD,
            """
            After each preparation step, wait for Active Directory replication to every domain controller before the \
            next step or the first server upgrade (check with repadmin).
            """),
        Rule(
            .mxADPrepLocation, .check, source: .microsoft, section: prepareAD,
            """
            Run /PrepareSchema and /PrepareAD on a domain-joined 64-bit machine in the same domain and Active \
            Directory site as the schema master; otherwise setup reports that organization-level objects have not \
            been created.
            """),
        Rule(
            .mxSECoexistenceBlock, .refusal, source: .microsoft, section: upgradeToSE,
            """
            Exchange Server SE setup refuses to install into an organization that still contains Exchange 2013 \
            servers: Baton refuses the plan (exit 3) until they are decommissioned.
            """),
        Rule(
            .mxSEInPlace, .fact, source: .microsoft, section: upgradeToSE,
            """
            Exchange Server SE RTM installs in place over Exchange 2019 CU14 or CU15 with the same procedure as a \
            cumulative update (setup /Mode:Upgrade, maintenance mode for DAG members). Exchange 2016 moves to SE \
            only by migration to new servers.
            """),
        Rule(
            .mxSUCUSpecific, .fact, source: .microsoft, section: fixUpdates,
            """
            A security update installs only on the cumulative update it was built for ("The upgrade patch cannot be \
            installed by the Windows Installer service"). Servers at another cumulative update are left alone, and \
            the plan names the package they need first.
            """),
        Rule(
            .mxDAGUpdateProcedure, .step, source: .microsoft, section: manageDAGs,
            """
            A DAG member is updated, and restarted, only inside maintenance mode: drain transport, \
            StartDagServerMaintenance.ps1, Redirect-Message to another mailbox server, ServerWideOffline inactive; \
            then the update; then ServerWideOffline active, StopDagServerMaintenance.ps1, transport active again.
            """),
        Rule(
            .mxDAGEnterOrder, .order, source: .microsoft, section: manageDAGs,
            """
            Maintenance mode is entered in the documented order: HubTransport draining (and the transport service \
            restarted), StartDagServerMaintenance.ps1 -PauseClusterNode, Redirect-Message, ServerWideOffline \
            inactive with requester Maintenance.
            """),
        Rule(
            .mxDAGExitOrder, .order, source: .microsoft, section: manageDAGs,
            """
            Maintenance mode is left in the reverse order: ServerWideOffline active, StopDagServerMaintenance.ps1, \
            HubTransport active and the transport service restarted; then every component reads Active.
            """),
        Rule(
            .mxDAGShutdownNotLossless, .fact, source: .microsoft, section: manageDAGs,
            """
            Shutting down or restarting a DAG member without a switchover first does not guarantee lossless \
            activation of its databases elsewhere: restart members only in maintenance mode.
            """),
        Rule(
            .mxOneMemberAtATime, .order, source: .community, section: community,
            """
            At most one member of a DAG is in maintenance (from draining its transport to resuming it) at any \
            moment; different DAGs proceed side by side. Two members in maintenance can make \
            StartDagServerMaintenance.ps1 move databases to the other one and reduce copies and quorum.
            """),
        Rule(
            .mxCopiesHealthy, .check, source: .community, section: community,
            """
            Before a member enters maintenance, and after it leaves, every database copy of its DAG is healthy: \
            status Healthy or Mounted, copy and replay queues near zero, content index healthy \
            (Get-MailboxDatabaseCopyStatus). The next member waits for that.
            """),
        Rule(
            .mxExtendedProtection, .gate, source: .microsoft,
            section: "Microsoft: Configure Windows Extended Protection in Exchange Server",
            """
            Exchange Server 2019 CU14 and later (and SE) switch Extended Protection on during setup. Before a \
            server below CU14 takes it, confirm that no load balancer offloads or bridges TLS for it, that hybrid \
            and the documented configurations are supported, or keep it off for that server \
            (extended-protection: skip, setup's /DoNotEnableEP; front-end-ews-only, /DoNotEnableEP_FEEWS).
            """),
        Rule(
            .mxSupportStatus, .fact, source: .microsoft, section: "Microsoft: the lifecycle pages of Exchange Server 2013, 2016, 2019 and Subscription Edition",
            """
            Exchange 2013 left support on 2023-04-11; Exchange 2016 and 2019 left extended support on 2025-10-14, \
            after which their updates come only through the Extended Security Update program; Exchange Server \
            Subscription Edition follows the Modern Lifecycle Policy. A plan for an unsupported product says so.
            """),
        Rule(
            .mxNoDowngrade, .check, source: .baton, section: inferred,
            """
            Exchange setup upgrades a server; it never takes one back to an earlier build. A package whose build \
            is lower than the server's fails there, whatever the inventory says: Microsoft documents no way back \
            but removing Exchange and installing the earlier build (and restoring the databases).
            """),
        Rule(
            .mxLatestUpdate, .fact, source: .microsoft, section: installCU,
            """
            Security updates are built for one cumulative update each and are cumulative: the newest one built for \
            a server's product and cumulative update carries the fixes of the earlier ones. With --to latest each \
            server gets exactly that one; with --to latest-cu it first goes to its product's newest cumulative \
            update, then that update's newest security update, in one maintenance window. Servers already current, \
            of a product that no longer gets updates, or at a build no update is built for are left alone, each \
            named with its reason.
            """),
        Rule(
            .savedPlan, .check, source: .baton, section: inferred,
            """
            A saved plan (baton plan --out) runs exactly as reviewed: it carries the SHA-256 of its inventory, its \
            catalogue and itself, and the builds it was made for. Running it is refused (exit 3) when the inventory, \
            the catalogue or a server's build found before the first step differs, and (exit 2) when the file was \
            edited.
            """),
        Rule(
            .canary, .fact, source: .baton, section: inferred,
            """
            A canary plan (--limit) updates only the DAGs, sites, roles or servers named and keeps every ordering \
            rule among them: Active Directory is prepared if any server kept needs it, and an Edge server still \
            waits for the mailbox servers of its site. A later plan without --limit does what is left, because \
            servers already current are left alone.
            """),
        Rule(
            .inventoryDrift, .check, source: .baton, section: inferred,
            """
            Before a rollout, each server runs the build the inventory says. A difference (a server updated by \
            hand, a rehearsal twin left at a later build) means the plan was made for an organization that no \
            longer exists: update the inventory, or start the rehearsal from a fresh twin.
            """),
        Rule(
            .windowsNetworkLogon, .check, source: .microsoft, section: win32OpenSSH,
            """
            A logon to Windows OpenSSH with a key carries no network credentials: the session cannot read Active \
            Directory or reach the other DAG members, so setup's /PrepareAD and /Mode:Upgrade, \
            StartDagServerMaintenance.ps1 and Move-ActiveMailboxDatabase fail once a server is half out of \
            service. Log on with the account's password (or Kerberos with delegation), and prove, before anything \
            changes, that each session reads Active Directory and another DAG member.
            """),
        Rule(
            .mxQuorum, .check, source: .microsoft, section: manageDAGs,
            """
            A member is taken out only if the rest of the DAG keeps a majority of votes: with an even number of \
            members the file share witness votes and must be reachable throughout (check-witness); a DAG whose \
            members could not keep quorum is refused.
            """),
        Rule(
            .mxWitnessRestart, .order, source: .microsoft, section: witnessServer,
            """
            A DAG with an even number of members counts its file share witness as a vote. When the witness is on \
            an Exchange server that is itself updated (Microsoft recommends an Exchange server outside the DAG), \
            that server restarts; while it does, a DAG of two members with one member out holds one vote of three \
            and loses quorum: every database dismounts. The witness server's update goes wholly before that DAG's \
            first member leaves service, or wholly after its last member is back.
            """),
        Rule(
            .mxStartDagTwoCopies, .step, source: .microsoft, section: startDagScript,
            """
            StartDagServerMaintenance.ps1 refuses while a database would be left with fewer than two healthy copies: \
            a member holding a copy of a database with exactly two copies enters maintenance with \
            -overrideMinimumTwoCopies. A database with a single copy cannot move: the plan warns and counts its \
            outage.
            """),
        Rule(
            .mxCUUpdateRebootBefore, .step, source: .microsoft, section: installCU,
            """
            Restart the server before a cumulative update, so no restart from an earlier installation is pending.
            """),
        Rule(
            .mxCUUpdateRebootAfter, .step, source: .microsoft, section: installCU,
            """
            Restart the server after a cumulative update finishes.
            """),
        Rule(
            .mxSUReboot, .step, source: .microsoft, section: fixUpdates,
            """
            Restart the server after a security update: it restarts services and may leave files in use.
            """),
        Rule(
            .mxCUConfigOverwrite, .step, source: .microsoft, section: installCU,
            """
            A cumulative update overwrites customised Exchange and IIS configuration files (web.config, \
            EdgeTransport.exe.config, custom OWA pages): save them before and apply them again after.
            """),
        Rule(
            .mxCUAVDisable, .step, source: .microsoft, section: installCU,
            """
            Pause antivirus and other file-scanning agents while setup runs, and start them again afterwards.
            """),
        Rule(
            .mxReadinessRebootPending, .check, source: .microsoft, section: fixUpdates,
            """
            Setup's readiness checks stop on a pending restart (PendingFileRenameOperations, component servicing, \
            Windows Update): check just before setup that none is pending.
            """),
        Rule(
            .mxCUCommandLine, .step, source: .microsoft, section: installCU,
            """
            A cumulative update installs unattended with the media's setup: Setup.exe /Mode:Upgrade and the licence \
            switch, from an elevated prompt.
            """),
        Rule(
            .mxCULicenseSwitch, .fact, source: .microsoft, section: installCU,
            """
            From Exchange 2019 CU11 and 2016 CU22 on, unattended setup needs \
            /IAcceptExchangeServerLicenseTerms_DiagnosticDataON or _DiagnosticDataOFF; Exchange 2013 CU23 keeps \
            /IAcceptExchangeServerLicenseTerms.
            """),
        Rule(
            .mxCURunDotSetup, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            Typing setup.exe in PowerShell can run the installed copy in V15\\Bin instead of the media's: setup \
            "succeeds" and nothing is upgraded. Always run .\\setup.exe or the media's full path.
            """),
        Rule(
            .mxSUElevated, .step, source: .microsoft, section: fixUpdates,
            """
            A security update (.msp) installs from an elevated prompt; installed without elevation it leaves files \
            not updated and Outlook on the web answering HTTP 500.
            """),
        Rule(
            .mxStandaloneMailbox, .step, source: .baton, section: inferred,
            """
            A mailbox server outside a DAG: drain its transport, redirect its queued mail to another mailbox server \
            if there is one, ServerWideOffline inactive, update, ServerWideOffline active, transport active. Its \
            databases cannot move, so they are down meanwhile and the estimate says for how long.
            """),
        Rule(
            .mx2013CASMaintenance, .step, source: .community, section: community,
            """
            Exchange 2013 Client Access servers behind a load balancer are updated one at a time: out of the load \
            balancer, ServerWideOffline inactive, update, active, back in. Clients are served fine by Client Access \
            servers of different cumulative updates, and a pool must never be empty.
            """),
        Rule(
            .mxEdgeMaintenance, .step, source: .community, section: community,
            """
            Edge Transport servers are drained, taken offline, updated and brought back one per site at a time, so \
            inbound mail keeps a path, and after every mailbox server; they need no Active Directory preparation.
            """),
        Rule(
            .mxOrderSites, .order, source: .community, section: community,
            """
            Internet-facing sites first, then the others; within a site, mailbox servers before Exchange 2013 Client \
            Access servers; Edge servers last. An inventory's order: lists the sites in the order it wants instead.
            """),
        Rule(
            .mxSettle, .order, source: .community, section: community,
            """
            After a DAG member is back in service and its copies are healthy, many administrators let it run a \
            while before the next member leaves (logs replayed, content indexes caught up, clients reconnected, a \
            problem given time to show). settle: 10m, for the organization or per DAG, makes the next member wait \
            that long; the plan and its estimate show the wait.
            """),
        Rule(
            .mxDAGRebalance, .step, source: .microsoft, section: manageDAGs,
            """
            When every member of a DAG is done, put each database back on its preferred copy \
            (RedistributeActiveDatabases.ps1 -BalanceDbsByActivationPreference), unless the DAG rebalances on its \
            own (auto-rebalance); then check the copies again.
            """),
        Rule(
            .mxCUNoUninstall, .fact, source: .microsoft, section: installCU,
            """
            A cumulative update cannot be uninstalled: uninstalling removes Exchange from the server. The way back \
            is to rebuild the server (setup /Mode:RecoverServer) and restore or reseed its databases.
            """),
        Rule(
            .mxSUUninstall, .fact, source: .microsoft, section: fixUpdates,
            """
            A security update can be uninstalled from Installed Updates (from an elevated context), which returns the \
            server to the cumulative update's build.
            """),
        Rule(
            .mxServicesDisabled, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            A failed or interrupted cumulative or security update can leave the Exchange services stopped and \
            disabled ("Cannot start the service Microsoft Exchange Service Host"). Rename C:\\ExchangeSetupLogs, run \
            V15\\Bin\\ServiceControl.ps1 AfterPatch, start the services, then run the media's setup /Mode:Upgrade again.
            """),
        Rule(
            .mxFailedUpdateComponents, .diagnosis, source: .microsoft, section: manageDAGs,
            """
            A failed update can leave server components Inactive under the requester "Functional": set \
            ServerWideOffline, Monitoring and RecoveryActionsEnabled Active with -Requester Functional.
            """),
        Rule(
            .mxPrepareADWrongSite, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            "Organization-level objects haven't been created … the local computer isn't in the same domain and site \
            as the schema master": run /PrepareAD from a machine in the schema master's domain and site (netdom \
            query fsmo finds it), then wait for replication.
            """),
        Rule(
            .mxPrepareADWellKnownObject, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            Setup or /PrepareAD fails because an otherWellKnownObjects entry points to an invalid or deleted object: \
            run SetupAssist.ps1 -OtherWellKnownObjects, import the file it writes, and run /PrepareAD again.
            """),
        Rule(
            .mxSU1603, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            A security update fails with error 1603 and insufficient privileges on owa\\auth: start the stopped \
            services and retry as a local administrator; check the folder's permissions and inheritance.
            """),
        Rule(
            .mxSUInterimUpdate, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            "This Interim Update is incompatible with the current configuration": uninstall the earlier Interim \
            Update from Installed Updates, then install the security update.
            """),
        Rule(
            .mxSUNonElevatedHTTP500, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            Outlook on the web or the admin center answers HTTP 500 ("Could not load file or assembly \
            Microsoft.Exchange.Common") after a security update: it was installed without elevation. Install it \
            again from an elevated prompt and restart.
            """),
        Rule(
            .mxExecutionPolicyGPO, .diagnosis, source: .microsoft, section: fixUpdates,
            """
            Setup's readiness check fails when Group Policy sets the PowerShell execution policy \
            (MachinePolicy or UserPolicy): it must be Undefined for those scopes while setup runs.
            """),
        Rule(
            .mxMoveBlackout, .diagnosis, source: .microsoft, section: startDagScript,
            """
            AmDbMoveMoveSuppressedBlackoutException: database moves are suppressed for a while after recent moves; \
            wait a few minutes and run StartDagServerMaintenance.ps1 again.
            """),
        Rule(
            .mxHealthCheckerPrePost, .check, source: .microsoft, section: fixUpdates,
            """
            Run HealthChecker before (supportability, .NET, pending restart, maintenance state) and after (the build \
            is the package's, no server left in maintenance).
            """),
        Rule(
            .mxDotNetFirst, .order, source: .microsoft, section: "Microsoft: Exchange Server supportability matrix; Fix failed Exchange Server updates",
            """
            When the cumulative update needs a newer .NET Framework than the server runs, install that .NET \
            Framework first, with the server in maintenance mode, restart it, then install the cumulative update; \
            only the versions the supportability matrix lists for the update are supported.
            """),
        Rule(
            .mxPrerequisites, .check, source: .microsoft, section: "Microsoft: Exchange Server prerequisites; Exchange Server supportability matrix",
            """
            Setup's prerequisite analysis stops on a server without the .NET Framework its cumulative update \
            needs (MinimumFrameworkNotInstalled) or without the Visual C++ 2012 runtime (every server) and 2013 \
            runtime (Mailbox servers); it stops after the server was drained and taken offline. Check them \
            before the rollout.
            """),
    ]
}
