import BatonPlan
import BatonKnowledge
import BatonModel

/// The procedure for an Exchange server that is not clustered (rules `standalone`,
/// `e55-standalone`, `sbs`), wrapped in the steps every install needs: quiesce, the
/// concurrent-installer check, a restart only when prompted, the separate component
/// updates, version verification and restoring what was stopped.
struct ServerProcedure {
    let package: Package
    let applicability: Applicability

    /// The rule that says how this server is upgraded.
    func installRule(_ server: Server) -> Rule.ID {
        if server.edition == .smallBusinessServer { return .sbs }
        return server.install.product == .exchange55 ? .e55Standalone : .standalone
    }

    /// Quiesce through restore-services on one server; returns the id of the last step.
    func upgrade(_ server: Server, after: [StepID], builder: inout PlanBuilder) -> [StepID] {
        var chain = Chain(after: after)
        let host = server.name
        let install = server.install
        HostSteps.quiesceAndCheck(host, install, chain: &chain, builder: &builder)
        let why =
            switch installRule(server) {
            case .sbs: "Small Business Server carries a typical Exchange: no special ordering, just run the installer."
            case .e55Standalone:
                "A server that is not clustered just runs the installer; its Exchange services stop for a while."
            default: "A server that is not clustered just runs the installer; its Exchange services stop for a while."
            }
        chain.then(
            Step(.install(host: host, package: package.id), rules: [installRule(server)], why: why), in: &builder)
        HostSteps.restart(host, install, package: package, clustered: false, chain: &chain, builder: &builder)
        HostSteps.afterInstall(host, install, applicability: applicability, chain: &chain, builder: &builder)
        return chain.tail
    }
}

/// Steps shared by stand-alone servers and cluster nodes.
enum HostSteps {
    /// Rule `quiesce` and rule `no-concurrent-installers`, just before an install.
    static func quiesceAndCheck(
        _ host: HostName, _ install: ExchangeInstall, chain: inout Chain, builder: inout PlanBuilder
    ) {
        let interfering = install.running.filter { $0 != .installer }.map(\.rawValue)
        let listed = interfering.isEmpty ? "" : " (\(interfering.joined(separator: ", ")) running now)"
        chain.then(
            Step(
                .quiesce(host: host), rules: [.quiesce],
                why: "Antivirus, backup agents, SNMP and monitors can hold files the installer must replace\(listed)."),
            in: &builder)
        checkInstallers(host, install, chain: &chain, builder: &builder)
    }

    static func checkInstallers(
        _ host: HostName, _ install: ExchangeInstall, chain: inout Chain, builder: inout PlanBuilder
    ) {
        chain.then(
            Step(
                .checkInstallers(host: host), rules: [.noConcurrentInstallers],
                why: "Another setup, update or xcopy running on the server can block the package."), in: &builder)
    }

    /// A restart step as the package's policy and the product require (rule
    /// `restart-if-prompted`). Exchange 5.5 servers do not restart for their service packs.
    static func restart(
        _ host: HostName, _ install: ExchangeInstall, package: Package, clustered: Bool, chain: inout Chain,
        builder: inout PlanBuilder
    ) {
        guard package.restart != .never else { return }
        if install.product == .exchange55 {
            // KB 328839: Exchange 5.5 needs no restart (rules `e55-standalone`, `sbs`), and on a
            // cluster a restart would fail the Exchange group over, which `e55-active-first`
            // forbids. A custom package that asks for one is told so instead.
            builder.warn(
                .e55Standalone,
                "\(package.id) asks for a restart (\(package.restart.rawValue)), but Exchange 5.5 servers need none and Baton plans none on \(host); restart it by hand in a maintenance window if its release notes insist."
            )
            return
        }
        let why =
            package.restart == .always
            ? "This package always needs a restart to take effect."
            : clustered
                ? "A cluster node needs no restart unless the installer asks for it; restart only then."
                : "Restart only if the installer asks (for example when it ran over a Terminal Services session)."
        chain.then(
            Step(.reboot(host: host, when: package.restart), rules: [.restartIfPrompted], why: why), in: &builder)
    }

    /// The ADC and 5.5 add-ons (own setups), Performance Optimizer, the version check and
    /// the restart of what `quiesce` stopped.
    static func afterInstall(
        _ host: HostName, _ install: ExchangeInstall, applicability: Applicability, chain: inout Chain,
        builder: inout PlanBuilder
    ) {
        if applicability.isServicePack {
            for component in install.components {
                componentUpdate(
                    host, component, install, package: applicability.package, chain: &chain, builder: &builder)
            }
            if install.product == .exchange55 {
                chain.then(
                    Step(
                        .performanceOptimizer(host: host), rules: [.e55PerformanceOptimizer],
                        why: "Exchange 5.5 needs Performance Optimizer run again after a service pack (KB 271824)."),
                    in: &builder)
            }
        }
        if applicability.isExchangePackage,
            let expect = applicability.expectedBuild(install.product, from: install.level)
        {
            chain.then(
                Step(
                    .verifyVersion(.host(host), expect: expect), rules: [.verifyVersion],
                    why: "Confirm the server reports build \(expect) before anything depends on it."), in: &builder)
        }
        chain.then(
            Step(
                .restoreServices(host: host), rules: [.quiesce],
                why: "Start again the services and programs that were stopped for the install."), in: &builder)
    }

    static func componentUpdate(
        _ host: HostName, _ component: Component, _ install: ExchangeInstall, package: Package, chain: inout Chain,
        builder: inout PlanBuilder
    ) {
        switch component {
        case .adc:
            let rule: Rule.ID = install.product == .exchange2000 ? .e2000ADCSeparate : .e2003ADCSeparate
            if install.adcCustomMaps {
                // Exchange 2000 SP3 also wants the ADC configured per KB 316542 first.
                let toSP3 = install.product == .exchange2000 && package.level == .sp3
                chain.then(
                    Step(
                        .exportSchemaMap(host: host),
                        rules: toSP3 ? [.adcCustomMaps, .e2000ADCSeparate] : [.adcCustomMaps],
                        why:
                            "Customised Local.map/Remote.map: export msExchServer1SchemaMap and msExchServer2SchemaMap as a safety copy, and carry the customisations into the new map files"
                            + (toSP3 ? "; before SP3, configure the ADC as KB 316542 describes." : ".")),
                    in: &builder)
            }
            chain.then(
                Step(
                    .updateComponent(host: host, component: .adc), rules: [rule],
                    why:
                        "The service pack does not upgrade the Active Directory Connector; it has its own setup in ADC\\I386."
                ),
                in: &builder)
        case .mailboxManager:
            chain.then(
                Step(
                    .updateComponent(host: host, component: .mailboxManager), rules: [.e55AddOnsSeparate],
                    why:
                        "The service pack does not update Mailbox Manager; run its setup from ENG\\SERVER\\SUPPORT\\Mbmngr."
                ),
                in: &builder)
        case .interorgReplication:
            chain.then(
                Step(
                    .updateComponent(host: host, component: .interorgReplication), rules: [.e55AddOnsSeparate],
                    why:
                        "The service pack does not update the InterOrg Replication tool; run its setup from ENG\\SERVER\\SUPPORT\\EXCHSYNC."
                ),
                in: &builder)
        }
    }

    /// What ends a cluster's upgrade for each virtual server: rule `verify-version` (when
    /// `expect` gives the build it should show, and `tool` where an administrator sees it),
    /// then, for a service pack, rule `backup-after` on the node that owns it, one backup at
    /// a time per node. Returns the ends to wait for (`tail` when there is nothing to add).
    static func virtualServerTail(
        _ servers: [(name: HostName, owner: HostName, expect: String?)], tool: String, isServicePack: Bool,
        after tail: [StepID], builder: inout PlanBuilder
    ) -> [StepID] {
        var ends: [StepID] = []
        var lastBackupOn: [HostName: StepID] = [:]
        for server in servers {
            var last = tail
            if let expect = server.expect {
                last = [
                    builder.add(
                        Step(
                            .verifyVersion(.virtualServer(server.name), expect: expect), rules: [.verifyVersion],
                            why: "\(tool) should show \(server.name) at build \(expect)."), after: last)
                ]
            }
            if isServicePack {
                let node = server.owner
                let previous = lastBackupOn[node].map { [$0] } ?? []
                let id = backupAfter(host: server.owner, group: server.name, after: last + previous, builder: &builder)
                lastBackupOn[node] = id
                last = [id]
            }
            ends += last
        }
        return ends.isEmpty ? tail : ends
    }

    /// Rule `backup-after`: online backups from the old level cannot be restored onto the new one.
    @discardableResult
    static func backupAfter(
        host: HostName, group: HostName? = nil, after: [StepID], builder: inout PlanBuilder
    ) -> StepID {
        let subject = group.map { "virtual server \($0)" } ?? host
        return builder.add(
            Step(
                .backup(host: host, group: group, what: [.databases]), rules: [.backupAfter],
                why:
                    "Backups taken before the service pack cannot be restored onto \(subject) at its new level: take a full one now."
            ),
            after: after)
    }
}
