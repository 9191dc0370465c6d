import BatonPlan
import BatonKnowledge
import BatonModel

/// Plans a cumulative or security update of Exchange 2013, 2016, 2019 or SE across an
/// organization (docs/plan.md, "Exchange 2013 and later"):
/// - prepare: the release-notes gate and the backups, then Active Directory's preparation when
///   the package needs it, joined by a milestone every install waits for;
/// - the sites in tiers (Internet-facing first, or the inventory's `order:`): in each tier
///   every DAG is one chain, one member at a time in maintenance mode, side by side with the
///   other DAGs and the stand-alone mailbox servers; Exchange 2013 Client Access servers after
///   the tier's mailbox servers, one at a time per pool;
/// - Edge servers after every mailbox server, one per site at a time.
struct ModernPlanner {
    let inventory: Inventory
    /// The package the plan is named by: its one package, or the target's principal one.
    let package: Package
    let product: Product
    let servers: [HostName: Server]
    let dags: [HostName: DatabaseAvailabilityGroup]
    let tiers: [Tier]
    /// What each server installs, in order.
    var installs: [HostName: [Package]]
    /// Every package the plan installs, in the catalogue's order.
    var packages: [Package]
    /// Servers left alone, each with its reason and rule, in the inventory's order.
    var leftAlone: [(name: HostName, reason: String, rule: Rule.ID)]
    /// A canary's scope, when the plan has one.
    var limit: Limit?
    /// What the plan is for, in its text: the package's id, or the packages of a target.
    var label: String
    let target: UpdateTarget?

    /// A plan of one package, on every server it applies to.
    init(inventory: Inventory, package: Package, product: Product) {
        self.inventory = inventory
        self.package = package
        self.product = product
        target = nil
        servers = Self.byName(inventory)
        dags = Self.dagsByMember(inventory)
        tiers = Self.tiers(of: inventory)
        packages = [package]
        label = package.id.spelling
        var installs: [HostName: [Package]] = [:]
        var leftAlone: [(name: HostName, reason: String, rule: Rule.ID)] = []
        for server in inventory.servers {
            let verdict = Self.verdict(server, package: package, product: product)
            if verdict == .applies {
                installs[server.name] = [package]
            } else {
                let (reason, rule) = Self.reason(verdict, server, package: package, product: product)
                leftAlone.append((server.name, reason, rule))
            }
        }
        self.installs = installs
        self.leftAlone = leftAlone
    }

    /// A plan toward `target`: each server its own packages (rule `mx-latest-update`).
    init(inventory: Inventory, catalogue: PackageCatalogue, target: UpdateTarget, principal: Package) {
        self.inventory = inventory
        self.target = target
        servers = Self.byName(inventory)
        dags = Self.dagsByMember(inventory)
        tiers = Self.tiers(of: inventory)
        var installs: [HostName: [Package]] = [:]
        var leftAlone: [(name: HostName, reason: String, rule: Rule.ID)] = []
        for server in inventory.servers {
            switch catalogue.route(server, to: target) {
            case .install(let packages): installs[server.name] = packages
            case .leftAlone(let reason, let rule): leftAlone.append((server.name, reason, rule))
            }
        }
        let used = Set(installs.values.joined().map(\.id))
        packages = catalogue.packages.filter { used.contains($0.id) }
        package = packages.last ?? principal
        product = package.product ?? .exchangeSE
        label = packages.isEmpty ? target.description : packages.map(\.id.spelling).joined(separator: ", ")
        self.installs = installs
        self.leftAlone = leftAlone
    }

    static func byName(_ inventory: Inventory) -> [HostName: Server] {
        Dictionary(inventory.servers.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func dagsByMember(_ inventory: Inventory) -> [HostName: DatabaseAvailabilityGroup] {
        var dags: [HostName: DatabaseAvailabilityGroup] = [:]
        for dag in inventory.dags { for member in dag.members { dags[member] = dag } }
        return dags
    }

    /// Rule `canary`: only the servers `limit` names are updated, and of those an Edge or
    /// Exchange 2013 Client Access server only when no mailbox server it must wait for is left
    /// out with an update still to come.
    mutating func restrict(to limit: Limit) {
        self.limit = limit
        var outside: Set<HostName> = []
        for server in inventory.servers where installs[server.name] != nil && !limit.servers.contains(server.name) {
            installs[server.name] = nil
            outside.insert(server.name)
        }
        var waiting: [(HostName, [HostName])] = []
        for server in inventory.servers where installs[server.name] != nil {
            guard server.role == .edge || server.role == .clientAccess else { continue }
            let first = inventory.servers.filter {
                $0.role == .mailbox && outside.contains($0.name)
                    && (server.site == nil ? server.role == .edge : $0.site == server.site)
            }.map(\.name)
            guard !first.isEmpty else { continue }
            installs[server.name] = nil
            waiting.append((server.name, first))
        }
        let terms = limit.terms.joined(separator: ",")
        let outsideNames = inventory.servers.map(\.name).filter(outside.contains)
        var added: [(name: HostName, reason: String, rule: Rule.ID)] = outsideNames.map {
            ($0, "are outside --limit \(terms): a later run without --limit updates them", .canary)
        }
        for (name, first) in waiting {
            let shown = first.prefix(4).map(\.spelling).joined(separator: ", ") + (first.count > 4 ? " and \(first.count - 4) more" : "")
            added.append(
                (name, "must wait for mailbox servers \(shown), which --limit \(terms) leaves out: a later run without --limit updates them in order", .canary))
        }
        leftAlone = added + leftAlone
        let used = Set(installs.values.joined().map(\.id))
        packages = packages.filter { used.contains($0.id) }
        if target != nil {
            label = packages.isEmpty ? (target?.description ?? label) : packages.map(\.id.spelling).joined(separator: ", ")
        }
    }

    /// The packages `server` installs, in order; empty when it is left alone.
    func packages(of server: Server) -> [Package] { installs[server.name] ?? [] }

    func applies(_ server: Server) -> Bool { installs[server.name] != nil }

    /// Whether the plan brings in a cumulative update anywhere.
    var hasCumulativeUpdate: Bool { packages.contains { $0.kind == .cumulativeUpdate } }

    // MARK: Which servers

    enum Verdict: Equatable {
        case applies
        case otherProduct
        case alreadyAtLevel(Level)
        case alreadyInstalled
        /// A security update built for another cumulative update.
        case otherCumulativeUpdate(Level)
        /// Exchange SE goes in place only over 2019 CU14 or CU15.
        case needsCumulativeUpdateFirst(Level)
    }

    static func verdict(_ server: Server, package: Package, product: Product) -> Verdict {
        let install = server.install
        switch package.kind {
        case .cumulativeUpdate:
            guard let level = package.level else { return .otherProduct }
            if product == .exchangeSE, install.product == .exchange2019 {
                return [.cu14, .cu15].contains(install.level) ? .applies : .needsCumulativeUpdateFirst(.cu14)
            }
            guard install.product == product else { return .otherProduct }
            return install.level < level ? .applies : .alreadyAtLevel(install.level)
        case .securityUpdate:
            guard install.product == product, let requires = package.requires else { return .otherProduct }
            guard install.level == requires else {
                return install.level < requires
                    ? .needsCumulativeUpdateFirst(requires) : .otherCumulativeUpdate(install.level)
            }
            return server.update?.lowercased() == package.update?.lowercased() ? .alreadyInstalled : .applies
        case .servicePack, .hotfix:
            return .otherProduct
        }
    }

    // MARK: The plan

    func plan() throws(PlanRefusal) -> Plan {
        try refuse()
        var builder = PlanBuilder(machines: inventory.servers.count)
        let durations = ActionDurations(overrides: inventory.durations)
        let servers = inventory.servers.filter(applies)
        warnLeftAlone(&builder)
        var products: [Product] = []
        for product in packages.compactMap(\.product) where !products.contains(product) { products.append(product) }
        for product in products where product.isModern && !Support.isSupported(product) {
            builder.warn(
                .mxSupportStatus,
                "\(product.rawValue) is \(Support.status(product)); Microsoft's path forward is Exchange Server Subscription Edition."
            )
        }
        guard !servers.isEmpty else {
            builder.warn(
                .packageApplicability,
                "Nothing in \(inventory.organization) needs \(target.map { "--to \($0)" } ?? label): the plan has no steps.")
            return made([], builder, durations)
        }
        try checkQuorum(servers)
        let inScope = Set(servers.map(\.name))
        let ready = prepare(&builder)
        let prepared = prepareActiveDirectory(after: ready, servers: servers, &builder)

        var mailboxDone: [StepID] = []
        var start = prepared
        for (index, tier) in tiers.enumerated() {
            builder.phase = tier.phase
            var tierMailbox: [StepID] = []
            // A DAG belongs to the first tier holding one of its members.
            for dag in inventory.dags where dag.members.map(tierIndex).min() == index {
                guard dag.members.contains(where: inScope.contains) else { continue }
                builder.phase = "DAG \(dag.name)"
                tierMailbox += updateDAG(dag, inScope: inScope, after: start, &builder)
            }
            builder.phase = tier.phase
            let standalone = servers.filter {
                $0.role == .mailbox && dags[$0.name] == nil && tier.contains($0)
            }
            if !standalone.isEmpty {
                tierMailbox = updateStandaloneMailboxes(
                    standalone, inScope: inScope, after: start, dagChains: tierMailbox, &builder)
            }
            mailboxDone += tierMailbox
            let clientAccess = servers.filter { $0.role == .clientAccess && tier.contains($0) }
            var tierEnds = tierMailbox
            if !clientAccess.isEmpty {
                let after =
                    tierMailbox.isEmpty
                    ? start
                    : builder.join(
                        "\(tier.label) mailbox servers updated", tierMailbox, rules: [.mxOrderSites],
                        why: "Within a site, mailbox servers go before Exchange 2013 Client Access servers.")
                tierEnds = after
                tierEnds += updateClientAccess(clientAccess, after: after, &builder)
            }
            if index < tiers.count - 1, !tierEnds.isEmpty {
                builder.phase = tier.phase
                start = builder.join(
                    "\(tier.label) updated", tierEnds, rules: [.mxOrderSites],
                    why: "Sites go in tiers: \(tier.label) before the next.")
            }
        }
        let edges = servers.filter { $0.role == .edge }
        if !edges.isEmpty {
            builder.phase = "edge"
            let after =
                mailboxDone.isEmpty
                ? prepared
                : builder.join(
                    "all mailbox servers updated", mailboxDone, rules: [.mxEdgeMaintenance],
                    why: "Edge servers go after every mailbox server they are subscribed to.")
            _ = updateEdges(edges, after: after, &builder)
        }
        orderWitnessRestarts(inScope: inScope, &builder)
        return made(builder.steps, builder, durations)
    }

    /// The plan of `steps`, with what a plan toward a target adds.
    func made(_ steps: [Step], _ builder: PlanBuilder, _ durations: ActionDurations) -> Plan {
        var plan = Plan(
            organization: inventory.organization, package: .init(package), steps: steps, warnings: builder.warnings,
            estimate: ModernEstimate.compute(plan: steps, inventory: inventory, packages: packages, durations: durations))
        plan.limit = limit?.terms
        guard let target else { return plan }
        plan.target = target.description
        plan.package = summary(of: target)
        plan.packages = packages.map { package in
            Plan.Assignment(
                package: .init(package),
                servers: inventory.servers.filter { server in packages(of: server).contains { $0.id == package.id } }.map(\.name))
        }
        return plan
    }

    /// What a target's plan names as its package: the target, and what its packages share.
    func summary(of target: UpdateTarget) -> Plan.PackageSummary {
        var summary = Plan.PackageSummary(package)
        summary.id = PackageID(target.description)
        let products = Set(packages.map(\.target.rawValue))
        summary.product = products.count == 1 ? products.first! : "exchange"
        summary.kind = hasCumulativeUpdate ? .cumulativeUpdate : .securityUpdate
        summary.level = nil
        summary.requires = nil
        summary.build = nil
        summary.restart = .always
        return summary
    }

    /// Rule `mx-witness-restart`: a DAG whose file share witness is on an Exchange server this
    /// plan updates (and so restarts) must not lose its witness's vote while one of its members
    /// is out, when the members left could not keep a majority without it (two members, two
    /// votes of three). The witness server's whole update goes before the DAG's first member
    /// leaves service, or after its last member is back: whichever the plan already built
    /// first. Blocks of different DAGs, and of stand-alone and Client Access servers, are built
    /// one after another, so the witness's block lies wholly before or wholly after the DAG's.
    func orderWitnessRestarts(inScope: Set<HostName>, _ builder: inout PlanBuilder) {
        let out: Set<Action> = [.backup, .prepareSchema, .prepareAD, .prepareDomains]
        var blocks: [HostName: ClosedRange<Int>] = [:]
        for (index, step) in builder.steps.enumerated() where !out.contains(step.action) {
            guard let host = step.host, inScope.contains(host) else { continue }
            let number = index + 1
            blocks[host] = blocks[host].map { min($0.lowerBound, number)...max($0.upperBound, number) } ?? number...number
        }
        for dag in inventory.dags where dag.usesWitness {
            guard let witness = dag.witness?.server, let restarts = blocks[witness] else { continue }
            let votes = dag.members.count + 1
            // With one member out and the witness restarting: does the rest keep a majority?
            guard dag.members.count - 1 <= votes / 2 else { continue }
            let members = dag.members.compactMap { blocks[$0] }
            guard let first = members.map(\.lowerBound).min(), let last = members.map(\.upperBound).max() else {
                continue
            }
            if restarts.lowerBound > last {
                builder.order(
                    restarts.lowerBound, after: last, rule: .mxWitnessRestart,
                    why:
                        "It waits for the last member of \(dag.name) to be back: \(witness) holds \(dag.name)'s file share witness, and its restart while a member is out would leave \(dag.name) with \(dag.members.count - 1) of \(votes) votes, no quorum.")
            } else if restarts.upperBound < first {
                builder.order(
                    first, after: restarts.upperBound, rule: .mxWitnessRestart,
                    why:
                        "It waits for \(witness) to be updated and back: \(witness) holds \(dag.name)'s file share witness, and its restart while a member is out would leave \(dag.name) with \(dag.members.count - 1) of \(votes) votes, no quorum.")
            }
        }
    }

    /// Rule `mx-se-coexistence-block`: SE setup refuses an organization with Exchange 2013.
    func refuse() throws(PlanRefusal) {
        guard let package = packages.first(where: { $0.product == .exchangeSE }) else { return }
        let old = inventory.servers.filter { $0.install.product == .exchange2013 }.map(\.name)
        guard !old.isEmpty else { return }
        throw PlanRefusal(
            rule: .mxSECoexistenceBlock,
            message: """
                \(package.id) cannot be installed while the organization still has Exchange 2013 servers \
                (\(old.joined(separator: ", "))): Exchange SE setup refuses to. Decommission them first.
                """)
    }

    /// Rule `mx-quorum`: with one member out, the rest of each DAG (and its witness, for an
    /// even number of members) must keep a majority.
    func checkQuorum(_ servers: [Server]) throws(PlanRefusal) {
        let inScope = Set(servers.map(\.name))
        for dag in inventory.dags where dag.members.contains(where: inScope.contains) && dag.members.count > 1 {
            if dag.usesWitness, dag.witness == nil {
                throw PlanRefusal(
                    rule: .mxQuorum,
                    message: """
                        DAG \(dag.name) has \(dag.members.count) members and no witness in the inventory: with one \
                        member out, the others hold \(dag.members.count - 1) of \(dag.members.count) votes, not a \
                        majority. Add its file share witness (witness: {server: …}).
                        """)
            }
        }
    }

    // MARK: Prepare

    /// Servers that this cumulative update takes from below Exchange 2019 CU14 to CU14 or
    /// later (or SE), where setup switches Extended Protection on, and for which the inventory
    /// did not choose (`extended-protection`). Edge servers have no client access to protect.
    func extendedProtectionServers() -> [HostName] {
        inventory.servers.filter { server in
            extendedProtectionPackage(server) != nil && server.role != .edge && server.extendedProtection == nil
                && server.install.product == .exchange2019 && server.install.level < .cu14
        }.map(\.name)
    }

    /// The cumulative update that takes `server` to Exchange 2019 CU14 or later, or SE.
    func extendedProtectionPackage(_ server: Server) -> Package? {
        packages(of: server).first { package in
            guard package.kind == .cumulativeUpdate, let target = package.product else { return false }
            return target == .exchangeSE || (target == .exchange2019 && (package.level ?? .rtm) >= .cu14)
        }
    }

    /// The release-notes gate and rule `mx-cu-backup-first`: domain controllers, then every
    /// Exchange server of the product line with the databases whose active copy it holds.
    func prepare(_ builder: inout PlanBuilder) -> [StepID] {
        builder.phase = "prepare"
        let gate = builder.add(
            Step(
                .approve(gate: Gate.releaseNotes), rules: [.releaseNotes],
                why:
                    "Read the release notes of \(label) before the first change: they may demand changes for this environment."
            ), after: [])
        var backups: [StepID] = []
        var mounted: [HostName: [String]] = [:]
        for database in inventory.dags.flatMap(\.databases) {
            mounted[database.active, default: []].append(database.name)
        }
        for dc in inventory.domainControllers where servers[dc] == nil {
            backups.append(
                builder.add(
                    Step(
                        .backup(host: dc, what: [.systemState]), rules: [.mxCUBackupFirst],
                        why: "Active Directory's way back: the domain controller's system state before the package."),
                    after: []))
        }
        for server in inventory.servers where server.install.product.isModern {
            let active = mounted[server.name] ?? []
            let what: [BackupItem] = active.isEmpty ? [.systemState] : [.databases, .systemState]
            let databases = active.isEmpty ? "" : " and the databases mounted on it (\(active.joined(separator: ", ")))"
            backups.append(
                builder.add(
                    Step(
                        .backup(host: server.name, what: what), rules: [.mxCUBackupFirst],
                        why: "\(server.name)'s system state\(databases), tested, before anything changes: "
                            + (!hasCumulativeUpdate
                                ? "a security update can be uninstalled, but one that fails midway can leave the server unable to start its services, and the backup is the way back."
                                : "a cumulative update has no undo.")
                    ), after: []))
        }
        var gates = [gate]
        // After the server's backup, which runs on it too.
        for server in inventory.servers where server.healthChecker != nil && applies(server) {
            let backup = builder.steps.last { $0.action == .backup && $0.host == server.name }.map { [$0.id] } ?? []
            gates.append(
                builder.add(
                    Step(
                        .healthCheck(host: server.name), rules: [.mxHealthCheckerPrePost],
                        why:
                            "HealthChecker on \(server.name) before anything changes: no restart pending, a supported .NET Framework, not in maintenance."
                    ), after: backup))
        }
        let protected = extendedProtectionServers()
        if !protected.isEmpty {
            let switching = Set(protected.compactMap { servers[$0].flatMap(extendedProtectionPackage)?.id })
            let names = packages.filter { switching.contains($0.id) }.map(\.id.spelling).joined(separator: ", ")
            gates.append(
                builder.add(
                    Step(
                        .approve(gate: Gate.extendedProtection), rules: [.mxExtendedProtection],
                        why:
                            "\(names) switches Extended Protection on for \(protected.map(\.spelling).joined(separator: ", ")) (Exchange 2019 CU14 and later do). Confirm that no load balancer offloads or bridges TLS for them and that hybrid and your other configurations support it (Microsoft Learn, Configure Windows Extended Protection in Exchange Server), or set extended-protection: skip on a server to keep it off."
                    ), after: []))
        }
        return builder.join(
            "ready to update", gates + backups, rules: [.mxCUBackupFirst, .releaseNotes],
            why: "Nothing changes anywhere before the release notes are read and every backup is taken.")
    }

    /// Rules `mx-ad-prep-when`, `mx-ad-prep-replication`, `mx-ad-prep-location`.
    func prepareActiveDirectory(after ready: [StepID], servers: [Server], _ builder: inout PlanBuilder) -> [StepID] {
        // The newest versions any cumulative update of the plan needs, from a server that is
        // not an Edge server: preparing with the newest media prepares for the older ones too.
        let preparing = servers.filter { $0.role != .edge }.flatMap(packages(of:)).filter { $0.adVersions != nil }
        guard
            let package = preparing.max(by: {
                ($0.adVersions?.schema ?? 0, $0.adVersions?.organization ?? 0, $0.adVersions?.domain ?? 0)
                    < ($1.adVersions?.schema ?? 0, $1.adVersions?.organization ?? 0, $1.adVersions?.domain ?? 0)
            }), var wanted = package.adVersions
        else { return ready }
        for other in preparing.compactMap(\.adVersions) {
            wanted = ADVersions(
                schema: max(wanted.schema ?? 0, other.schema ?? 0),
                organization: max(wanted.organization ?? 0, other.organization ?? 0),
                domain: max(wanted.domain ?? 0, other.domain ?? 0))
        }
        let forest = inventory.activeDirectory?.versions ?? ADVersions(schema: nil, organization: nil, domain: nil)
        builder.phase = "active directory"
        guard forest.isKnown, let schema = forest.schema, let organization = forest.organization,
            let domain = forest.domain
        else {
            let id = builder.add(
                Step(
                    .approve(gate: Gate.activeDirectoryVersions), rules: [.mxADPrepWhen],
                    why:
                        "The inventory does not give the forest's Exchange versions: confirm they are at least schema \(wanted.schema ?? 0), organization \(wanted.organization ?? 0) and domain \(wanted.domain ?? 0), or prepare Active Directory with \(package.id)'s media first."
                ), after: ready)
            return [id]
        }
        let needSchema = schema < (wanted.schema ?? 0)
        let needOrganization = needSchema || organization < (wanted.organization ?? 0)
        let needDomains = domain < (wanted.domain ?? 0)
        guard needSchema || needOrganization || needDomains else {
            builder.warn(
                .mxADPrepWhen,
                "Active Directory already has \(package.id)'s versions (schema \(schema), organization \(organization), domain \(domain)): no preparation is needed."
            )
            return ready
        }
        let site = inventory.activeDirectory?.schemaMasterSite
        let candidates = inventory.servers.filter { $0.role == .mailbox && $0.install.product.isModern }
        let inSite = candidates.first { site != nil && $0.site == site }
        if let site, inSite == nil {
            // No Exchange server to run setup from where it must run: an operator does it.
            let steps = [
                needSchema ? "/PrepareSchema" : nil, needOrganization ? "/PrepareAD" : nil,
                needDomains ? "/PrepareAllDomains" : nil,
            ].compactMap { $0 }
            let id = builder.add(
                Step(
                    .approve(gate: Gate.activeDirectoryPreparation), rules: [.mxADPrepWhen, .mxADPrepLocation],
                    why:
                        "No Exchange server of the inventory is in the schema master's site \(site): from a domain-joined machine there, run \(steps.joined(separator: ", then ")) with \(package.id)'s media, waiting for replication after each, then approve."
                ), after: ready)
            return [id]
        }
        let host = (inSite ?? candidates.first ?? servers[0]).name
        let whereText =
            site.map { "\(host), in the schema master's site \($0)," }
            ?? "\(host) (the inventory names no schema master site: it must be in the schema master's domain and site),"
        var chain = Chain(after: ready)
        if needSchema {
            chain.then(
                Step(
                    .prepareSchema(host: host), rules: [.mxADPrepWhen, .mxADPrepLocation],
                    why:
                        "The forest's schema is at \(schema), \(package.id) needs \(wanted.schema ?? 0): \(whereText) runs setup /PrepareSchema from the package's media."
                ), in: &builder)
            chain.then(
                Step(
                    .waitReplication(.schema), rules: [.mxADPrepReplication],
                    why: "The schema change reaches every domain controller before the next step."), in: &builder)
        }
        if needOrganization {
            chain.then(
                Step(
                    .prepareAD(host: host), rules: [.mxADPrepWhen, .mxADPrepLocation],
                    why:
                        "The organization is at \(organization), \(package.id) needs \(wanted.organization ?? 0): \(whereText) runs setup /PrepareAD."
                ), in: &builder)
            chain.then(
                Step(
                    .waitReplication(.organization), rules: [.mxADPrepReplication],
                    why: "The organization's change reaches every domain controller before the domains are prepared."),
                in: &builder)
        }
        guard needDomains else { return chain.tail }
        let domains = inventory.activeDirectory?.domains ?? []
        chain.then(
            Step(
                .prepareDomains(host: host, domains: domains), rules: [.mxADPrepWhen],
                why:
                    "Every domain's Microsoft Exchange System Objects reach \(wanted.domain ?? 0) (now \(domain)): setup /PrepareAllDomains."
            ), in: &builder)
        chain.then(
            Step(
                .waitReplication(.domains), rules: [.mxADPrepReplication],
                why: "The domains' changes reach every domain controller before the first server is updated."),
            in: &builder)
        return chain.tail
    }

    // MARK: Sites

    /// A group of sites updated side by side; tiers go one after another (rule `mx-order-sites`).
    struct Tier {
        var names: [String]
        /// Holds the servers with no site.
        var includesUnnamed: Bool

        var label: String { names.isEmpty ? "servers without a site" : "site " + names.joined(separator: ", ") }
        var phase: String { names.isEmpty ? "servers" : "site " + names.joined(separator: ", ") }

        func contains(_ server: Server?) -> Bool {
            guard let server else { return false }
            guard let site = server.site else { return includesUnnamed }
            return names.contains(site)
        }
    }

    /// Internet-facing sites first, then the others, then servers with no site; or the
    /// inventory's `order:`, one site per tier, then every other site together.
    static func tiers(of inventory: Inventory) -> [Tier] {
        let all = inventory.sites.map(\.name)
        var tiers: [Tier]
        if let order = inventory.siteOrder {
            tiers = order.map { Tier(names: [$0], includesUnnamed: false) }
            let rest = all.filter { !order.contains($0) }
            tiers.append(Tier(names: rest, includesUnnamed: true))
        } else {
            let facing = inventory.sites.filter(\.internetFacing).map(\.name)
            let other = inventory.sites.filter { !$0.internetFacing }.map(\.name)
            tiers = facing.isEmpty ? [] : [Tier(names: facing, includesUnnamed: false)]
            tiers.append(Tier(names: other, includesUnnamed: true))
        }
        return tiers
    }

    func server(_ name: HostName) -> Server? { servers[name] }

    /// The tier a server's site is in (after the last for a server not in the inventory).
    func tierIndex(_ name: HostName) -> Int { tiers.firstIndex { $0.contains(server(name)) } ?? tiers.count }

    /// The order of a DAG's members: by their sites' tiers, then the inventory's order.
    func orderedMembers(_ dag: DatabaseAvailabilityGroup) -> [HostName] {
        return dag.members.enumerated().sorted { a, b in
            (tierIndex(a.element), a.offset) < (tierIndex(b.element), b.offset)
        }.map(\.element)
    }

    // MARK: Servers

    /// Rules `mx-dag-update-procedure`, `mx-one-member-at-a-time`, `mx-copies-healthy`,
    /// `mx-quorum`, `mx-startdag-two-copies`, `mx-dag-rebalance`: the whole DAG is one chain.
    func updateDAG(
        _ dag: DatabaseAvailabilityGroup, inScope: Set<HostName>, after start: [StepID], _ builder: inout PlanBuilder
    ) -> [StepID] {
        var chain = Chain(after: start)
        var checked = false
        let settle = dag.settle ?? inventory.settle ?? 0
        var previous: HostName?
        for member in orderedMembers(dag) where inScope.contains(member) {
            guard let server = server(member) else { continue }
            // Rule `mx-settle`: the member just back runs a while before this one leaves.
            if let previous, settle > 0 {
                chain.then(
                    Step(
                        .settle(dag: dag.name, seconds: settle), rules: [.mxSettle],
                        why:
                            "\(previous) is back and its copies are healthy; \(dag.name) settles for \(humanDuration(settle)) before \(member) leaves service (settle: in the inventory)."
                    ), in: &builder)
            }
            previous = member
            // The copy check after the previous member is the check before this one: once
            // between two members is enough.
            if !checked {
                chain.then(
                    Step(
                        .checkCopies(dag: dag.name), rules: [.mxCopiesHealthy],
                        why:
                            "Every copy in \(dag.name) is healthy (queues near zero, content index healthy) before \(member) goes into maintenance."
                    ), in: &builder)
            }
            if dag.usesWitness, let witness = dag.witness {
                chain.then(
                    Step(
                        .checkWitness(dag: dag.name), rules: [.mxQuorum],
                        why:
                            "\(dag.name) has \(dag.members.count) members: with \(member) out, quorum rests on the witness \(witness.server), which must answer."
                    ), in: &builder)
            }
            let twoCopies = dag.databases(on: member).filter { $0.copies.count == 2 }.map(\.name)
            warnSingleCopies(dag, member, &builder)
            let peers = dag.members.filter { $0 != member }.compactMap { self.server($0) }
            let target =
                Self.nearest(peers, to: server)
                ?? Self.nearest(mailboxServers.filter { !inScope.contains($0.name) }, to: server)
            chain.then(
                Step(
                    .drainTransport(host: member),
                    rules: [.mxDAGUpdateProcedure, .mxDAGEnterOrder, .mxOneMemberAtATime],
                    why: "\(member) stops taking new mail (HubTransport draining) and restarts its transport service."),
                in: &builder)
            let override =
                twoCopies.isEmpty
                ? "" : "; -overrideMinimumTwoCopies, as \(twoCopies.joined(separator: ", ")) have two copies"
            chain.then(
                Step(
                    .startDagMaintenance(host: member, dag: dag.name, overrideTwoCopies: !twoCopies.isEmpty),
                    rules: twoCopies.isEmpty
                        ? [.mxDAGUpdateProcedure, .mxDAGEnterOrder]
                        : [.mxDAGUpdateProcedure, .mxDAGEnterOrder, .mxStartDagTwoCopies],
                    why:
                        "StartDagServerMaintenance.ps1 blocks activation on \(member), pauses its cluster node and moves its active databases to healthy copies\(override)."
                ), in: &builder)
            if let target {
                chain.then(
                    Step(
                        .redirectMessages(host: member, to: target), rules: [.mxDAGUpdateProcedure, .mxDAGEnterOrder],
                        why: "Mail still queued on \(member) goes to \(target) rather than waiting out the update."),
                    in: &builder)
            }
            chain.then(
                Step(
                    .serverOffline(host: member), rules: [.mxDAGUpdateProcedure, .mxDAGEnterOrder],
                    why: "ServerWideOffline inactive: \(member) is in maintenance mode and serves nothing."),
                in: &builder)
            update(server, chain: &chain, &builder)
            chain.then(
                Step(
                    .serverOnline(host: member), rules: [.mxDAGUpdateProcedure, .mxDAGExitOrder],
                    why: "ServerWideOffline active again, the first step out of maintenance mode."), in: &builder)
            chain.then(
                Step(
                    .stopDagMaintenance(host: member, dag: dag.name), rules: [.mxDAGUpdateProcedure, .mxDAGExitOrder],
                    why: "StopDagServerMaintenance.ps1 resumes the cluster node and lets \(member)'s copies activate."),
                in: &builder)
            chain.then(
                Step(
                    .resumeTransport(host: member),
                    rules: [.mxDAGUpdateProcedure, .mxDAGExitOrder, .mxOneMemberAtATime],
                    why: "HubTransport active and the transport service restarted: \(member) takes mail again."),
                in: &builder)
            checkHealth(server, chain: &chain, &builder)
            chain.then(
                Step(
                    .checkCopies(dag: dag.name), rules: [.mxCopiesHealthy],
                    why:
                        "\(member)'s copies have caught up (queues near zero) before anything else in \(dag.name) moves."
                ),
                in: &builder)
            checked = true
        }
        if !dag.autoRebalance {
            chain.then(
                Step(
                    .rebalanceDatabases(dag: dag.name), rules: [.mxDAGRebalance],
                    why:
                        "Every member is done: RedistributeActiveDatabases.ps1 puts each database of \(dag.name) back on its preferred copy."
                ), in: &builder)
            chain.then(
                Step(
                    .checkCopies(dag: dag.name), rules: [.mxCopiesHealthy, .mxDAGRebalance],
                    why: "After rebalancing, every copy in \(dag.name) is healthy and mounted where it should be."),
                in: &builder)
        } else {
            builder.warn(
                .mxDAGRebalance,
                "DAG \(dag.name) rebalances its databases on its own (auto-rebalance): the plan does not run RedistributeActiveDatabases.ps1."
            )
        }
        return chain.tail
    }

    /// Rule `mx-startdag-two-copies`: a database no other copy can take over is down while its
    /// only server is worked on.
    func warnSingleCopies(_ dag: DatabaseAvailabilityGroup, _ member: HostName, _ builder: inout PlanBuilder) {
        for database in dag.databases(on: member) where database.active == member {
            let others = database.copies.filter { $0 != member && !database.lagged.contains($0) }
            guard others.isEmpty else { continue }
            let why = database.copies.count == 1 ? "it has a single copy" : "its other copies are lagged"
            builder.warn(
                .mxStartDagTwoCopies,
                "Database \(database.name) cannot move off \(member) (\(why)): its users lose access while \(member) is updated; the estimate shows for how long."
            )
        }
    }

    /// Of `candidates`, one in `server`'s site if there is one, else the first.
    static func nearest(_ candidates: [Server], to server: Server) -> HostName? {
        (candidates.first { $0.site == server.site && $0.name != server.name }
            ?? candidates.first { $0.name != server.name })?.name
    }

    var mailboxServers: [Server] {
        inventory.servers.filter { $0.role == .mailbox && $0.install.product.isModern }
    }

    /// Rule `mx-standalone-mbx`: a tier's stand-alone mailbox servers one at a time, each
    /// handing its queued mail to a mailbox server in service: one this plan does not touch,
    /// else another of them (never in maintenance at the same time), else a DAG member, and
    /// then only once the tier's DAGs are done.
    func updateStandaloneMailboxes(
        _ servers: [Server], inScope: Set<HostName>, after start: [StepID], dagChains: [StepID],
        _ builder: inout PlanBuilder
    ) -> [StepID] {
        let untouched = mailboxServers.filter { !inScope.contains($0.name) }
        let needsDAGs =
            untouched.isEmpty && servers.count == 1 && dags.keys.contains { inScope.contains($0) }
        var chain = Chain(after: needsDAGs && !dagChains.isEmpty ? dagChains : start)
        for server in servers {
            let target =
                Self.nearest(untouched, to: server) ?? Self.nearest(servers, to: server)
                ?? Self.nearest(mailboxServers, to: server)
            updateStandaloneMailbox(server, redirectingTo: target, chain: &chain, &builder)
        }
        return needsDAGs ? chain.tail : chain.tail + dagChains
    }

    func updateStandaloneMailbox(
        _ server: Server, redirectingTo target: HostName?, chain: inout Chain, _ builder: inout PlanBuilder
    ) {
        let host = server.name
        chain.then(
            Step(
                .drainTransport(host: host), rules: [.mxStandaloneMailbox],
                why: "\(host) stops taking new mail before its update."), in: &builder)
        if let target {
            chain.then(
                Step(
                    .redirectMessages(host: host, to: target), rules: [.mxStandaloneMailbox],
                    why: "Mail still queued on \(host) goes to \(target)."), in: &builder)
        }
        chain.then(
            Step(
                .serverOffline(host: host), rules: [.mxStandaloneMailbox],
                why: "\(host) is in no DAG, so its databases cannot move: they are down until it is back online."),
            in: &builder)
        update(server, chain: &chain, &builder)
        chain.then(
            Step(
                .serverOnline(host: host), rules: [.mxStandaloneMailbox],
                why: "\(host) serves its mailboxes again."), in: &builder)
        chain.then(
            Step(
                .resumeTransport(host: host), rules: [.mxStandaloneMailbox],
                why: "\(host) takes mail again."), in: &builder)
        checkHealth(server, chain: &chain, &builder)
        let databases = inventory.dags.isEmpty ? "" : " (it is in no DAG)"
        builder.warn(
            .mxStandaloneMailbox,
            "\(host)'s databases are down while it is updated\(databases); the estimate shows for how long.")
    }

    /// `servers` grouped by `key`, groups in the order their first member appears.
    static func grouped(_ servers: [Server], by key: (Server) -> String) -> [(String, [Server])] {
        var groups: [String: [Server]] = [:]
        var order: [String] = []
        for server in servers {
            let name = key(server)
            if groups[name] == nil { order.append(name) }
            groups[name, default: []].append(server)
        }
        return order.map { ($0, groups[$0] ?? []) }
    }

    /// Rule `mx-2013-cas-maint`: one at a time per pool, pools side by side.
    func updateClientAccess(_ servers: [Server], after start: [StepID], _ builder: inout PlanBuilder) -> [StepID] {
        var ends: [StepID] = []
        for (pool, members) in Self.grouped(servers, by: { $0.pool ?? "site \($0.site ?? "-")" }) {
            builder.phase = "client access \(pool)"
            var chain = Chain(after: start)
            for server in members {
                let host = server.name
                if let name = server.pool {
                    chain.then(
                        Step(
                            .leavePool(host: host, pool: name), rules: [.mx2013CASMaintenance],
                            why: "\(host) leaves load balancer \(name) alone; the other members keep serving."),
                        in: &builder)
                }
                chain.then(
                    Step(
                        .serverOffline(host: host), rules: [.mx2013CASMaintenance],
                        why: "ServerWideOffline inactive: health probes take \(host) out of service."), in: &builder)
                update(server, chain: &chain, &builder)
                chain.then(
                    Step(
                        .serverOnline(host: host), rules: [.mx2013CASMaintenance],
                        why: "\(host) answers clients again."), in: &builder)
                if let name = server.pool {
                    chain.then(
                        Step(
                            .rejoinPool(host: host, pool: name), rules: [.mx2013CASMaintenance],
                            why: "\(host) serves \(name) again before the next member leaves."), in: &builder)
                }
                checkHealth(server, chain: &chain, &builder)
            }
            ends += chain.tail
        }
        return ends
    }

    /// Rule `mx-edge-maint`: one per site at a time, sites side by side.
    func updateEdges(_ servers: [Server], after start: [StepID], _ builder: inout PlanBuilder) -> [StepID] {
        var ends: [StepID] = []
        for (site, members) in Self.grouped(servers, by: { $0.site ?? "-" }) {
            builder.phase = site == "-" ? "edge" : "edge \(site)"
            var chain = Chain(after: start)
            // The site's Edge servers as the inventory has them, updated or not: with one, the
            // site takes no Internet mail while it is out.
            let siteEdges = inventory.servers.filter { $0.role == .edge && ($0.site ?? "-") == site }
            for server in members {
                let host = server.name
                let alone = siteEdges.count == 1
                if alone {
                    builder.warn(
                        .mxEdgeMaintenance,
                        "\(host) is the only Edge server\(site == "-" ? "" : " of site \(site)"): Internet mail that comes in through it stops from its drain to its resume (sending servers queue and retry); schedule it in a quiet hour, or point MX at another site meanwhile."
                    )
                }
                chain.then(
                    Step(
                        .drainTransport(host: host), rules: [.mxEdgeMaintenance],
                        why: alone
                            ? "\(host) stops accepting mail; it is the only Edge server\(site == "-" ? "" : " of \(site)"), so Internet mail through it waits in the senders' queues until it resumes."
                            : "\(host) stops accepting mail; the site's other Edge servers take it meanwhile."),
                    in: &builder)
                chain.then(
                    Step(
                        .serverOffline(host: host), rules: [.mxEdgeMaintenance],
                        why: "\(host) is out of service for its update."), in: &builder)
                update(server, chain: &chain, &builder)
                chain.then(
                    Step(
                        .serverOnline(host: host), rules: [.mxEdgeMaintenance],
                        why: "\(host) is in service again."), in: &builder)
                chain.then(
                    Step(
                        .resumeTransport(host: host), rules: [.mxEdgeMaintenance],
                        why: "\(host) accepts mail again before the next Edge server of its site goes."), in: &builder)
                checkHealth(server, chain: &chain, &builder)
            }
            ends += chain.tail
        }
        // Test-EdgeSynchronization runs on a Mailbox server: one Edge server after another, so
        // that sites updated side by side do not test from the same server at once.
        var sync = Chain(after: ends)
        builder.phase = "edge"
        for server in servers {
            guard let mailbox = Self.nearest(mailboxServers, to: server) else { continue }
            sync.then(
                Step(
                    .checkEdgeSync(host: mailbox, edge: server.name), rules: [.mxEdgeMaintenance],
                    why:
                        "Test-EdgeSynchronization on \(mailbox): \(server.name)'s subscription synchronizes again (recipients, connectors, configuration) after its update."
                ), in: &builder)
        }
        return sync.tail
    }

    /// The update itself, between entering and leaving maintenance: restarts, saved
    /// configuration, paused antivirus, readiness checks, setup or the .msp, the build check;
    /// for a server with two packages (a cumulative update, then its security update), both in
    /// the one window, each after its own checks and followed by its own restart.
    func update(_ server: Server, chain: inout Chain, _ builder: inout PlanBuilder) {
        let host = server.name
        let mine = packages(of: server)
        let savesConfig = mine.contains { $0.kind == .cumulativeUpdate } && !server.customConfig.isEmpty
        for (index, package) in mine.enumerated() {
            let cu = package.kind == .cumulativeUpdate
            if cu {
                chain.then(
                    Step(
                        .reboot(host: host, when: .always), rules: [.mxCUUpdateRebootBefore],
                        why: "A restart before the cumulative update clears any restart still pending."), in: &builder)
                prerequisites(server, package, chain: &chain, &builder)
                if !server.customConfig.isEmpty {
                    chain.then(
                        Step(
                            .saveConfig(host: host, files: server.customConfig), rules: [.mxCUConfigOverwrite],
                            why:
                                "The cumulative update overwrites \(server.customConfig.joined(separator: ", ")): keep a copy."
                        ), in: &builder)
                }
            }
            let running = server.install.running.filter { $0 != .installer }.map(\.rawValue)
            let listed = running.isEmpty ? "" : " (\(running.joined(separator: ", ")) running now)"
            chain.then(
                Step(
                    .quiesce(host: host), rules: [.mxCUAVDisable],
                    why: index == 0
                        ? "Antivirus and other agents pause while setup replaces files\(listed)."
                        : "The restart started the agents again: they pause again for \(package.id)."), in: &builder)
            chain.then(
                Step(
                    .checkInstallers(host: host), rules: [.noConcurrentInstallers],
                    why: "Another installer running on \(host) would block setup."), in: &builder)
            chain.then(
                Step(
                    .checkPendingReboot(host: host), rules: [.mxReadinessRebootPending],
                    why: "Setup's readiness checks stop on a pending restart."), in: &builder)
            let inPlace = package.product == .exchangeSE && server.install.product == .exchange2019
            let how =
                cu
                ? "the media's setup /Mode:Upgrade with the licence switch, elevated\(inPlace ? ", upgrading Exchange 2019 in place to SE" : "")"
                : "the .msp from an elevated prompt"
            let after = index > 0 ? ", after \(mine[index - 1].id)" : ""
            chain.then(
                Step(
                    .install(host: host, package: package.id),
                    rules: (cu
                        ? [.mxCUCommandLine, .mxCULicenseSwitch] + (inPlace ? [.mxSEInPlace] : [])
                        : [.mxSUElevated, .mxSUCUSpecific]) + (target != nil ? [.mxLatestUpdate] : []),
                    why: "\(host) is out of service: install \(package.id) with \(how)\(after)."), in: &builder)
            chain.then(
                Step(
                    .reboot(host: host, when: .always), rules: cu ? [.mxCUUpdateRebootAfter] : [.mxSUReboot],
                    why: "A restart finishes the update; only in maintenance mode is it safe."), in: &builder)
            if let build = package.build {
                chain.then(
                    Step(
                        .verifyVersion(.host(host), expect: build), rules: [.verifyVersion],
                        why: index < mine.count - 1
                            ? "ExSetup.exe on \(host) reports \(build) before \(mine[index + 1].id) goes on."
                            : "ExSetup.exe on \(host) reports \(build) before the server goes back into service."),
                    in: &builder)
            }
        }
        if savesConfig {
            chain.then(
                Step(
                    .restoreConfig(host: host, files: server.customConfig), rules: [.mxCUConfigOverwrite],
                    why: "Apply the saved customisations again."), in: &builder)
        }
        chain.then(
            Step(
                .restoreServices(host: host), rules: [.mxCUAVDisable],
                why: "Start again the agents paused for setup."), in: &builder)
    }

    /// Rule `mx-dotnet-first`: where the inventory says the server runs a .NET Framework older
    /// than the cumulative update needs, the newer one goes in first, inside the maintenance
    /// window, with its restart. Missing Visual C++ runtimes are named (rule `mx-prerequisites`):
    /// setup would stop on them only after the server was taken out of service.
    func prerequisites(_ server: Server, _ package: Package, chain: inout Chain, _ builder: inout PlanBuilder) {
        guard let needs = PrerequisiteNeeds.of(package, role: server.role, os: server.install.os) else { return }
        let host = server.name
        if let missing = server.visualCRuntimes.map({ Set(needs.runtimes).subtracting($0).sorted() }), !missing.isEmpty {
            builder.warn(
                .mxPrerequisites,
                "\(host) lacks the Visual C++ \(missing.map(\.rawValue).joined(separator: " and ")) runtime\(missing.count > 1 ? "s" : "") that \(package.id) needs: install \(missing.count > 1 ? "them" : "it") before the rollout, or setup's prerequisite analysis stops after \(host) was taken out of service."
            )
        }
        guard let have = server.dotnet, have < needs.dotnet else { return }
        chain.then(
            Step(
                .installDotNet(host: host, version: needs.dotnetToInstall), rules: [.mxDotNetFirst],
                why:
                    "\(host) runs .NET Framework \(have.rawValue); \(package.id) needs \(needs.dotnet.rawValue) or later: install \(needs.dotnetToInstall.rawValue) first, in maintenance mode."
            ), in: &builder)
        chain.then(
            Step(
                .reboot(host: host, when: .always), rules: [.mxDotNetFirst],
                why: "The .NET Framework finishes installing at the restart, before setup runs."), in: &builder)
    }

    /// Rule `mx-healthchecker-pre-post`: HealthChecker on a server the inventory gives its path
    /// for, once the server is back in service.
    func checkHealth(_ server: Server, chain: inout Chain, _ builder: inout PlanBuilder) {
        guard server.healthChecker != nil else { return }
        chain.then(
            Step(
                .healthCheck(host: server.name), rules: [.mxHealthCheckerPrePost],
                why:
                    "HealthChecker on \(server.name) after its update: the package's build, no restart pending, no component left in maintenance."
            ), in: &builder)
    }

    // MARK: Warnings

    func warnLeftAlone(_ builder: inout PlanBuilder) {
        var groups: [String: (names: [HostName], rule: Rule.ID)] = [:]
        var order: [String] = []
        for (name, reason, rule) in leftAlone {
            if groups[reason] == nil { order.append(reason) }
            groups[reason, default: ([], rule)].names.append(name)
        }
        for reason in order {
            guard let group = groups[reason] else { continue }
            builder.warnLeftAlone(group.names, reason, rule: group.rule)
        }
    }

    /// Why a plan of one package leaves a server alone, and the rule that says so.
    static func reason(_ verdict: Verdict, _ server: Server, package: Package, product: Product) -> (String, Rule.ID) {
        switch verdict {
        case .applies: return ("", .packageApplicability)
        case .otherProduct:
            return ("run \(server.install.product.rawValue), which \(package.id) is not for", .packageApplicability)
        case .alreadyAtLevel(let level):
            return ("already run \(level.rawValue), at or above \(package.id)", .packageApplicability)
        case .alreadyInstalled:
            return ("already have \(package.update ?? package.id.spelling) installed", .packageApplicability)
        case .otherCumulativeUpdate(let level):
            let suited = PackageCatalogue.modern.first {
                $0.kind == .securityUpdate && $0.product == product && $0.requires == level
            }
            return (
                "run \(level.rawValue), and \(package.id) installs only on \(package.requires?.rawValue ?? "its cumulative update")"
                    + (suited.map { "; they need \($0.id)" } ?? ""), .mxSUCUSpecific
            )
        case .needsCumulativeUpdateFirst(let level):
            let first = PackageCatalogue.modern.first {
                $0.kind == .cumulativeUpdate && $0.level == level
                    && $0.product == (product == .exchangeSE ? .exchange2019 : product)
            }
            return (
                "run \(server.install.level.rawValue), below \(level.rawValue), which \(package.id) needs; they need \(first?.id.spelling ?? level.rawValue) first",
                .packageApplicability
            )
        }
    }
}
