/// Builds an `Inventory` from a YAML tree, checking each value where it stands and then the
/// references between them (names, owners, levels). Collects every problem; returns nil
/// when there was any.
struct InventoryReader {
    var fields: YAMLFields
    let reservedPackageIDs: Set<PackageID>
    /// Where each name was first declared, for duplicate and reference checks.
    var declared: [HostName: (kind: NameKind, location: SourceLocation)] = [:]
    /// The inventory's sites, read before the servers that name them.
    var sites: [Site] = []

    enum NameKind: Equatable {
        case domainController, server, cluster, node(cluster: HostName), virtualServer(cluster: HostName), dag

        var noun: String {
            switch self {
            case .domainController: "a domain controller"
            case .server: "a server"
            case .cluster: "a cluster"
            case .node(let cluster): "a node of cluster \(cluster)"
            case .virtualServer(let cluster): "a virtual server of cluster \(cluster)"
            case .dag: "a database availability group"
            }
        }
    }

    init(file: String, reservedPackageIDs: Set<PackageID>) {
        fields = YAMLFields(file: file)
        self.reservedPackageIDs = reservedPackageIDs
    }

    static let topLevelKeys = [
        "organization", "domain-controllers", "servers", "clusters", "packages", "hosts", "durations", "profiles",
        "ssh", "active-directory", "sites", "dags", "order", "logons", "settle", "windows", "window-margin",
        "notify", "dashboard",
    ]
    static let profileKeys = ["kind", "commands", "checks", "restart-timeout", "logon", "settle"]
    static let profileCommandKeys = Action.allCases.map(\.rawValue) + CommandProfileSpec.extraCommands
    static let sshKeys = ["config", "connect-timeout", "logon"]
    static let serverKeys = [
        "name", "product", "level", "os", "role", "pool", "edition", "components", "adc-custom-maps", "running",
        "installed", "site", "update", "custom-config", "extended-protection", "dotnet", "visual-c++", "health-checker",
    ]
    static let clusterKeys = ["name", "product", "level", "os", "mode", "nodes", "cluster-group", "virtual-servers"]
    static let nodeKeys = ["name", "product", "level", "os", "components", "adc-custom-maps", "running", "installed"]
    static let virtualServerKeys = ["name", "owner", "preferred-owner", "level", "product"]
    static let packageKeys = [
        "id", "product", "kind", "requires", "level", "restart", "changes-store", "build", "update", "ad-versions",
    ]
    static let hostKeys = [
        "address", "via", "user", "port", "profile", "logon", "backup-target", "quiesce-services", "prerequisites",
    ]
    /// Keys of `durations:`: every action, and the two kinds of install separately.
    static let durationKeys =
        Action.allCases.map(\.rawValue) + [
            "install-service-pack", "install-hotfix", "install-cumulative-update", "install-security-update",
        ]

    mutating func read(_ root: YAMLNode) -> Inventory? {
        guard let top = fields.mapping(root, "the inventory", allowed: Self.topLevelKeys) else { return nil }
        var organization: String?
        if let node = top["organization"] {
            organization = fields.name(node, "organization")
        } else {
            fields.fail(root, "missing required key 'organization'")
        }
        let domainControllers = top["domain-controllers"].map { readDomainControllers($0) } ?? []
        sites = top["sites"].map { readSites($0) } ?? []
        let servers = top["servers"].map { readServers($0) } ?? []
        let activeDirectory = top["active-directory"].map { readActiveDirectory($0, sites: sites) }
        let dags = top["dags"].map { readDAGs($0, servers: servers, sites: sites) } ?? []
        let siteOrder = top["order"].map { readOrder($0, sites: sites) }
        let clusters = top["clusters"].map { readClusters($0) } ?? []
        let packages = top["packages"].map { readPackages($0) } ?? []
        let hosts = top["hosts"].map { readHosts($0) } ?? []
        let durations = top["durations"].map { readDurations($0) } ?? [:]
        let profiles = top["profiles"].map { readProfiles($0) } ?? []
        let ssh = top["ssh"].map { readSSH($0) } ?? SSHSettings()
        let logons = top["logons"].map { readLogons($0) } ?? (logons: [], names: [])
        checkProfilesNamed(hosts, profiles)
        var sshLogon: YAMLNode?
        if case .mapping(let map)? = top["ssh"] { sshLogon = map["logon"] }
        checkLogonsNamed(hosts, profiles, (ssh.logon, sshLogon), logons)
        guard let organization, fields.errors.isEmpty else { return nil }
        var inventory = Inventory(
            organization: organization, domainControllers: domainControllers, servers: servers, clusters: clusters,
            packages: packages, hosts: hosts, durations: durations, file: fields.file)
        inventory.profiles = profiles
        inventory.ssh = ssh
        inventory.logons = logons.logons
        inventory.activeDirectory = activeDirectory ?? nil
        inventory.sites = sites
        inventory.dags = dags
        inventory.siteOrder = siteOrder ?? nil
        inventory.settle = top["settle"].flatMap { readSettleTime($0) }
        inventory.windows = top["windows"].map { readWindows($0, sites: sites, dags: dags) } ?? []
        inventory.windowMargin = top["window-margin"].flatMap { node -> Int? in
            guard let text = fields.string(node, "window-margin") else { return nil }
            guard let seconds = DurationText.seconds(text) else {
                fields.fail(node, "window-margin '\(text)' is not a duration such as 15m, 90s or 1h")
                return nil
            }
            return seconds
        }
        inventory.notify = top["notify"].map { readNotify($0) } ?? []
        inventory.notifyLocation = top["notify"].map { fields.location($0) }
        inventory.dashboard = top["dashboard"].flatMap { readDashboard($0) }
        guard fields.errors.isEmpty else { return nil }
        return inventory
    }

    // MARK: Names

    /// Records a name, failing on a clash. Names are unique across the whole file,
    /// compared case-insensitively; only a domain controller may also be listed as a server
    /// (Small Business Server runs Exchange on its domain controller).
    mutating func declare(_ name: HostName, _ kind: NameKind, at node: YAMLNode) {
        let key = name
        if let earlier = declared[key] {
            let sbs = [earlier.kind, kind].contains(.domainController) && [earlier.kind, kind].contains(.server)
            if sbs { return }
            var message = "the name '\(name)' is already used by \(earlier.kind.noun) at line \(earlier.location.line)"
            if case .node = earlier.kind, case .node = kind { message += "; a node belongs to one cluster" }
            message += " (names are compared case-insensitively)"
            fields.fail(node, message)
            return
        }
        declared[key] = (kind, fields.location(node))
    }

    // MARK: Sections

    mutating func readDomainControllers(_ node: YAMLNode) -> [HostName] {
        guard let items = fields.list(node, "domain-controllers") else { return [] }
        return items.compactMap { item in
            guard let name = fields.hostName(item, "a domain controller's name") else { return nil }
            declare(name, .domainController, at: item)
            return name
        }
    }

    mutating func readServers(_ node: YAMLNode) -> [Server] {
        guard let items = fields.list(node, "servers") else { return [] }
        return items.compactMap { readServer($0) }
    }

    mutating func readServer(_ node: YAMLNode) -> Server? {
        guard let map = fields.mapping(node, "a server", allowed: Self.serverKeys) else { return nil }
        guard let nameNode = required(map, "name", in: "a server"), let name = fields.hostName(nameNode, "name") else {
            return nil
        }
        declare(name, .server, at: nameNode)
        let what = "server \(name)"
        let install = readInstall(map, what: what, inherited: nil)
        let modern = install?.product.isModern ?? false
        let role = map["role"].flatMap { fields.choice($0, "role") as Role? } ?? (modern ? .mailbox : .standalone)
        let edition = map["edition"].flatMap { fields.choice($0, "edition") as Edition? } ?? .standard
        let pool = map["pool"].flatMap { fields.name($0, "pool") }
        let modernKeys = readModernServerKeys(map, what: what, product: install?.product)
        if let install, install.product.isModern || [.mailbox, .edge, .clientAccess].contains(role) {
            if !install.product.roles.contains(role), let node = map["role"] {
                let roles = install.product.roles.map(\.rawValue).joined(separator: ", ")
                fields.fail(
                    node,
                    "\(what): role '\(role.rawValue)' is not one of \(roles), the roles of \(install.product.rawValue)")
            }
        } else if let install {
            if role != .standalone, !install.product.hasFrontEnds, let node = map.keyNode("role") {
                fields.fail(
                    node,
                    "\(what): front-end and back-end servers exist from Exchange 2000 on, not in \(install.product.rawValue)"
                )
            }
            if edition == .conferencing, install.product != .exchange2000, let node = map.keyNode("edition") {
                fields.fail(node, "\(what): the conferencing edition exists only for exchange-2000")
            }
        }
        if pool != nil, role != .frontEnd, role != .clientAccess, let node = map.keyNode("pool") {
            fields.fail(node, "\(what): only front-end servers sit in a load-balancing pool; set 'role: front-end'")
        }
        guard let install else { return nil }
        var server = Server(
            name: name, install: install, role: role, pool: pool, edition: edition, location: fields.location(node))
        (server.site, server.update, server.customConfig, server.customSettings) = modernKeys
        if let choice = map["extended-protection"] {
            if install.product.isModern {
                server.extendedProtection = fields.choice(choice, "extended-protection")
            } else {
                fields.fail(choice, "\(what): 'extended-protection' is for Exchange 2013 and later, not \(install.product.rawValue)")
            }
        }
        readPrerequisites(map, what: what, into: &server)
        return server
    }

    /// Product, level, OS and the optional per-machine keys, inheriting from `inherited` (a
    /// cluster's values) where a key is absent.
    mutating func readInstall(_ map: Mapping, what: String, inherited: ExchangeInstall?) -> ExchangeInstall? {
        let product: Product? = map["product"].map { fields.choice($0, "product") } ?? inherited?.product
        let level: Level? = map["level"].map { fields.choice($0, "level") } ?? inherited?.level
        let os: OperatingSystem? = map["os"].map { fields.choice($0, "os") } ?? inherited?.os
        if inherited == nil {
            for key in ["product", "level", "os"] where map[key] == nil {
                fields.fail(map.node, "\(what): missing required key '\(key)'")
            }
        }
        let components: [Component] = map["components"].map { readList($0, "components") } ?? []
        let running: [InterferingService] = map["running"].map { readList($0, "running") } ?? []
        let installed: [PackageID] =
            map["installed"].flatMap { fields.list($0, "installed") }?
            .compactMap { fields.name($0, "an installed package id").map { PackageID($0) } } ?? []
        let customMaps = map["adc-custom-maps"].flatMap { fields.bool($0, "adc-custom-maps") } ?? false
        if customMaps, !components.contains(.adc), let node = map.keyNode("adc-custom-maps") {
            fields.fail(node, "\(what): adc-custom-maps is set but 'adc' is not among its components")
        }
        guard let product, let level, let os else { return nil }
        if !product.levels.contains(level) {
            fields.fail(
                map["level"] ?? map.node,
                "\(what): \(product.rawValue) has no level '\(level.rawValue)'; it has \(product.levels.map(\.rawValue).joined(separator: ", "))"
            )
        }
        if !product.operatingSystems.contains(os) {
            fields.fail(
                map["os"] ?? map["product"] ?? map.node,
                "\(what): \(product.rawValue) does not run on \(os.rawValue); it runs on \(product.operatingSystems.map(\.rawValue).joined(separator: ", "))"
            )
        }
        for component in components where !component.products.contains(product) {
            fields.fail(
                map["components"] ?? map.node,
                "\(what): component '\(component.rawValue)' is upgraded with \(component.products.map(\.rawValue).joined(separator: " or ")) service packs, not \(product.rawValue)"
            )
        }
        return ExchangeInstall(
            product: product, level: level, os: os, components: components, adcCustomMaps: customMaps,
            running: running, installed: installed)
    }

    mutating func readList<Value: RawRepresentable & CaseIterable & Hashable>(_ node: YAMLNode, _ what: String)
        -> [Value]
    where Value.RawValue == String {
        guard let items = fields.list(node, what) else { return [] }
        var values: [Value] = []
        for item in items {
            guard let value: Value = fields.choice(item, "an entry of \(what)") else { continue }
            if values.contains(value) {
                fields.fail(item, "'\(value.rawValue)' is listed twice in \(what)")
            } else {
                values.append(value)
            }
        }
        return values
    }

    mutating func readClusters(_ node: YAMLNode) -> [Cluster] {
        guard let items = fields.list(node, "clusters") else { return [] }
        return items.compactMap { readCluster($0) }
    }

    mutating func readCluster(_ node: YAMLNode) -> Cluster? {
        guard let map = fields.mapping(node, "a cluster", allowed: Self.clusterKeys) else { return nil }
        guard let nameNode = required(map, "name", in: "a cluster"), let name = fields.hostName(nameNode, "name") else {
            return nil
        }
        declare(name, .cluster, at: nameNode)
        let what = "cluster \(name)"
        let mode = map["mode"].flatMap { fields.choice($0, "mode") as ClusterMode? } ?? .activePassive
        let defaults = readInstall(map, what: what, inherited: nil)
        if let product = defaults?.product, product.isModern {
            fields.fail(
                map["product"] ?? map.node,
                "\(what): \(product.rawValue) has no shared-disk clusters; describe its database availability group under dags:"
            )
        }
        var nodes: [ClusterNode] = []
        if let nodesNode = required(map, "nodes", in: what), let items = fields.list(nodesNode, "nodes") {
            for item in items {
                if let clusterNode = readNode(item, cluster: name, defaults: defaults) { nodes.append(clusterNode) }
            }
            if items.count < 2 {
                fields.fail(
                    nodesNode,
                    "\(what) needs at least two nodes: a node's virtual servers must move to another node while it is upgraded (rule e2003-node-empty)"
                )
            }
        }
        let groupOwnerNode = required(map, "cluster-group", in: what)
        let groupOwner = groupOwnerNode.flatMap { fields.hostName($0, "cluster-group") }
        let nodeNames = nodes.map(\.name)
        if let groupOwner, let groupOwnerNode, !nodeNames.isEmpty {
            checkIsNode(groupOwner, nodeNames, at: groupOwnerNode, "cluster-group", cluster: name)
        }
        var virtualServers: [VirtualServer] = []
        if let list = map["virtual-servers"].flatMap({ fields.list($0, "virtual-servers") }) {
            for item in list {
                if let evs = readVirtualServer(item, cluster: name, defaults: defaults, nodes: nodes) {
                    virtualServers.append(evs)
                }
            }
        }
        guard defaults != nil, let groupOwner else { return nil }
        let canonicalOwner = nodes.first { $0.name == groupOwner }?.name ?? groupOwner
        return Cluster(
            name: name, mode: mode, nodes: nodes, clusterGroupOwner: canonicalOwner, virtualServers: virtualServers,
            location: fields.location(node))
    }

    mutating func readNode(_ node: YAMLNode, cluster: HostName, defaults: ExchangeInstall?) -> ClusterNode? {
        if case .scalar = node {
            guard let name = fields.hostName(node, "a node's name") else { return nil }
            declare(name, .node(cluster: cluster), at: node)
            guard let defaults else { return nil }
            return ClusterNode(name: name, install: defaults, location: fields.location(node))
        }
        guard let map = fields.mapping(node, "a node", allowed: Self.nodeKeys) else { return nil }
        guard let nameNode = required(map, "name", in: "a node"), let name = fields.hostName(nameNode, "name") else {
            return nil
        }
        declare(name, .node(cluster: cluster), at: nameNode)
        guard let defaults else { return nil }
        let inherited = ExchangeInstall(product: defaults.product, level: defaults.level, os: defaults.os)
        guard let install = readInstall(map, what: "node \(name)", inherited: inherited) else { return nil }
        return ClusterNode(name: name, install: install, location: fields.location(node))
    }

    mutating func readVirtualServer(
        _ node: YAMLNode, cluster: HostName, defaults: ExchangeInstall?, nodes: [ClusterNode]
    )
        -> VirtualServer?
    {
        guard let map = fields.mapping(node, "a virtual server", allowed: Self.virtualServerKeys) else { return nil }
        guard let nameNode = required(map, "name", in: "a virtual server"),
            let name = fields.hostName(nameNode, "name")
        else { return nil }
        declare(name, .virtualServer(cluster: cluster), at: nameNode)
        let what = "virtual server \(name)"
        let nodeNames = nodes.map(\.name)
        var owner: HostName?
        if let ownerNode = required(map, "owner", in: what), let value = fields.hostName(ownerNode, "owner") {
            owner = checkIsNode(value, nodeNames, at: ownerNode, "owner", cluster: cluster)
        }
        var preferred: HostName?
        if let preferredNode = map["preferred-owner"], let value = fields.hostName(preferredNode, "preferred-owner") {
            preferred = checkIsNode(value, nodeNames, at: preferredNode, "preferred-owner", cluster: cluster)
        }
        let product: Product? = map["product"].map { fields.choice($0, "product") } ?? defaults?.product
        let level: Level? = map["level"].map { fields.choice($0, "level") } ?? defaults?.level
        guard let product, let level, let owner, let defaults else { return nil }
        if !product.levels.contains(level) {
            fields.fail(map["level"] ?? node, "\(what): \(product.rawValue) has no level '\(level.rawValue)'")
        }
        if product.generation > defaults.product.generation {
            fields.fail(
                map["product"] ?? node,
                "\(what) cannot run \(product.rawValue) on nodes of \(defaults.product.rawValue)")
        }
        return VirtualServer(
            name: name, owner: owner, preferredOwner: preferred, product: product, level: level,
            location: fields.location(node))
    }

    /// The node's name as the cluster spells it, or nil with an error when it is not a node.
    @discardableResult
    mutating func checkIsNode(
        _ name: HostName, _ nodes: [HostName], at node: YAMLNode, _ key: String, cluster: HostName
    )
        -> HostName?
    {
        if let match = nodes.first(where: { $0 == name }) { return match }
        fields.fail(
            node,
            "\(key) '\(name)' is not a node of cluster \(cluster) (its nodes: \(nodes.joined(separator: ", ")))"
        )
        return nil
    }

    /// A catalogue file: `packages:` and nothing else.
    mutating func readCatalogue(_ root: YAMLNode) -> [Package] {
        guard let top = fields.mapping(root, "the catalogue", allowed: ["packages"]) else { return [] }
        guard let node = top["packages"] else {
            fields.fail(root, "missing required key 'packages'")
            return []
        }
        return readPackages(node)
    }

    mutating func readPackages(_ node: YAMLNode) -> [Package] {
        guard let items = fields.list(node, "packages") else { return [] }
        var seen: [PackageID: Int] = [:]
        var packages: [Package] = []
        for item in items {
            guard let package = readPackage(item) else { continue }
            let key = package.id
            if reservedPackageIDs.contains(key) {
                fields.fail(item, "package id '\(package.id)' is a built-in package; choose another id")
            } else if let line = seen[key] {
                fields.fail(item, "package id '\(package.id)' is already declared at line \(line)")
            } else {
                seen[key] = fields.location(item).line
                packages.append(package)
            }
        }
        return packages
    }

    mutating func readPackage(_ node: YAMLNode) -> Package? {
        guard let map = fields.mapping(node, "a package", allowed: Self.packageKeys) else { return nil }
        let id = required(map, "id", in: "a package").flatMap { fields.name($0, "id") }.map { PackageID($0) }
        let what = "package \(id ?? "?")"
        var target: PackageTarget?
        if let productNode = required(map, "product", in: what), let text = fields.string(productNode, "product") {
            if let product = Product(rawValue: text.lowercased()) {
                target = .exchange(product)
            } else if let os = OperatingSystem(rawValue: text.lowercased()) {
                target = .windows(os)
            } else {
                let all = Product.allCases.map(\.rawValue) + OperatingSystem.allCases.map(\.rawValue)
                fields.fail(productNode, "product '\(text)' is not one of: \(all.joined(separator: ", "))")
            }
        }
        let kind = required(map, "kind", in: what).flatMap { fields.choice($0, "kind") as PackageKind? }
        let requires = map["requires"].flatMap { fields.choice($0, "requires") as Level? }
        let level = map["level"].flatMap { fields.choice($0, "level") as Level? }
        let restart = map["restart"].flatMap { fields.choice($0, "restart") as RestartPolicy? } ?? .ifPrompted
        let changesStore = map["changes-store"].flatMap { fields.bool($0, "changes-store") } ?? false
        let build = map["build"].flatMap { fields.string($0, "build") }
        let update = map["update"].flatMap { fields.name($0, "update") }
        let adVersions = map["ad-versions"].flatMap { readADVersions($0, "ad-versions") }
        guard let id, let target, let kind else { return nil }
        let product: Product? = if case .exchange(let product) = target { product } else { nil }
        if kind == .cumulativeUpdate || kind == .securityUpdate {
            checkModernPackage(map, what: what, kind: kind, product: product, level: level, requires: requires)
            return Package(
                id: id, target: target, kind: kind, level: kind == .cumulativeUpdate ? level : nil,
                requires: kind == .securityUpdate ? requires : nil, restart: .always, changesStore: false,
                build: build, update: kind == .securityUpdate ? (update ?? id.spelling) : nil, adVersions: adVersions,
                location: fields.location(node))
        }
        for key in ["update", "ad-versions"] {
            if let keyNode = map.keyNode(key) {
                fields.fail(
                    keyNode, "\(what): '\(key)' is for cumulative and security updates of Exchange 2013 and later")
            }
        }
        if kind == .servicePack {
            if level == nil {
                fields.fail(map.node, "\(what): a service pack needs 'level', the level it brings servers to")
            }
            if let level, let product, !product.levels.contains(level) || level == .rtm {
                fields.fail(map["level"]!, "\(what): \(product.rawValue) has no service pack '\(level.rawValue)'")
            }
            if map["requires"] != nil, let key = map.keyNode("requires") {
                fields.fail(
                    key, "\(what): 'requires' is for hotfixes; a service pack applies to every server below its level")
            }
        } else {
            if map["level"] != nil, let key = map.keyNode("level") {
                fields.fail(
                    key,
                    "\(what): 'level' is for service packs; a hotfix names the lowest level it installs on with 'requires'"
                )
            }
            if let requires, let product, !product.levels.contains(requires) {
                fields.fail(map["requires"]!, "\(what): \(product.rawValue) has no level '\(requires.rawValue)'")
            }
        }
        return Package(
            id: id, target: target, kind: kind, level: kind == .servicePack ? level : nil,
            requires: kind == .hotfix ? (requires ?? .rtm) : nil, restart: restart, changesStore: changesStore,
            build: build, location: fields.location(node))
    }

    mutating func readHosts(_ node: YAMLNode) -> [HostAccess] {
        guard case .mapping(let mapping) = node else {
            fields.fail(node, "hosts must be a mapping from a machine's name to how to reach it")
            return []
        }
        var hosts: [HostAccess] = []
        for (keyNode, value) in mapping.pairs {
            guard let name = fields.hostName(keyNode, "a host name") else { continue }
            guard let kind = declared[name]?.kind else {
                fields.fail(
                    keyNode, "host '\(name)' is not a server, cluster node or domain controller of this inventory")
                continue
            }
            if case .cluster = kind {
                fields.fail(keyNode, "'\(name)' is a cluster; list how to reach each of its nodes instead")
                continue
            }
            if case .virtualServer = kind {
                fields.fail(keyNode, "'\(name)' is a virtual server; Baton reaches its nodes, not the virtual server")
                continue
            }
            guard let map = fields.mapping(value, "host \(name)", allowed: Self.hostKeys) else { continue }
            let via = map["via"].flatMap { fields.choice($0, "via") as HostAccess.Transport? } ?? .ssh
            let address = map["address"].flatMap { fields.string($0, "address") }
            let user = map["user"].flatMap { fields.string($0, "user") }
            let port = map["port"].flatMap { fields.integer($0, "port", in: 1...65535) }
            let profile = map["profile"].flatMap { fields.name($0, "profile") }
            let logon = map["logon"].flatMap { fields.name($0, "logon") }
            if logon != nil, via == .local, let node = map["logon"] {
                fields.fail(node, "host \(name) runs its commands on the controller (via: local): it has no logon")
            }
            var access = HostAccess(
                host: name, address: address, via: via, user: user, port: port, profile: profile, logon: logon,
                location: fields.location(keyNode))
            access.backupTarget = map["backup-target"].flatMap { fields.string($0, "backup-target") }
            access.prerequisites = map["prerequisites"].flatMap { fields.string($0, "prerequisites") }
            access.quiesceServices =
                map["quiesce-services"].flatMap { fields.list($0, "quiesce-services") }?.compactMap { node in
                    guard let name = fields.string(node, "a service name") else { return nil }
                    guard name.unicodeScalars.allSatisfy({ $0.isNameCharacter || $0 == "*" }), !name.hasPrefix("-") else {
                        fields.fail(node, "'\(name.prefix(40))' is not a service name: letters, digits, '.', '_', '-' and '*'")
                        return nil
                    }
                    return name
                } ?? []
            hosts.append(access)
        }
        return hosts
    }

    /// `profiles:`: name → kind, command templates, checks. Every `{{placeholder}}` must be
    /// one Baton fills in, so a typo fails here rather than on a host mid-rollout.
    mutating func readProfiles(_ node: YAMLNode) -> [CommandProfileSpec] {
        guard case .mapping(let mapping) = node else {
            fields.fail(node, "profiles must be a mapping from a profile's name to its commands")
            return []
        }
        var profiles: [CommandProfileSpec] = []
        for (keyNode, value) in mapping.pairs {
            guard let name = fields.name(keyNode, "a profile name") else { continue }
            if CommandProfileSpec.builtInNames.contains(name.lowercased()) {
                fields.fail(keyNode, "'\(name)' is Baton's built-in profile; give yours another name")
                continue
            }
            guard let map = fields.mapping(value, "profile \(name)", allowed: Self.profileKeys) else { continue }
            guard let kindNode = map["kind"] else {
                fields.fail(
                    value, "profile \(name) needs 'kind' (shell, windows-failover-cluster or exchange-powershell)")
                continue
            }
            guard let kind = fields.choice(kindNode, "kind") as CommandProfileSpec.Kind? else { continue }
            let commands = map["commands"].map { templates($0, "commands of profile \(name)") } ?? [:]
            let checks = map["checks"].map { templates($0, "checks of profile \(name)") } ?? [:]
            if kind == .shell, commands.isEmpty {
                fields.fail(value, "a shell profile needs 'commands': a template for each action its hosts perform")
            }
            let timeout = map["restart-timeout"].flatMap { fields.integer($0, "restart-timeout", in: 1...86400) }
            var profile = CommandProfileSpec(
                name: name, kind: kind, commands: commands, checks: checks, restartTimeout: timeout ?? 900,
                logon: map["logon"].flatMap { fields.name($0, "logon") }, location: fields.location(keyNode))
            profile.settle = map["settle"].map { readSettle($0, profile: name) } ?? [:]
            profiles.append(profile)
        }
        return profiles
    }

    /// A profile's `settle:`: per check whose state settles, `interval` and `timeout` as
    /// durations (30s, 10m, 1h).
    mutating func readSettle(_ node: YAMLNode, profile: String) -> [String: SettleSpec] {
        let checks = SettleSpec.defaults.keys.sorted()
        guard let map = fields.mapping(node, "settle of profile \(profile)", allowed: checks) else { return [:] }
        var settle: [String: SettleSpec] = [:]
        for entry in map.entries {
            guard let values = fields.mapping(entry.value, "settle of \(entry.name)", allowed: ["interval", "timeout"])
            else { continue }
            let standard = SettleSpec.defaults[entry.name]!
            func seconds(_ key: String, _ fallback: Int) -> Int {
                guard let node = values[key] else { return fallback }
                guard let text = fields.string(node, key) else { return fallback }
                guard let seconds = DurationText.seconds(text), seconds >= 1, seconds <= 86400 else {
                    fields.fail(node, "\(key) of \(entry.name) '\(text.prefix(40))' is not a duration from 1s to 24h, such as 30s or 10m")
                    return fallback
                }
                return seconds
            }
            let spec = SettleSpec(
                interval: seconds("interval", standard.interval), timeout: seconds("timeout", standard.timeout))
            if spec.interval > spec.timeout {
                fields.fail(entry.value, "the interval of \(entry.name) is longer than its timeout")
            }
            settle[entry.name] = spec
        }
        return settle
    }

    mutating func templates(_ node: YAMLNode, _ what: String) -> [String: String] {
        guard let map = fields.mapping(node, what, allowed: Self.profileCommandKeys) else { return [:] }
        var templates: [String: String] = [:]
        for entry in map.entries {
            let key = entry.name
            guard let template = fields.string(entry.value, "the \(key) command") else { continue }
            for placeholder in CommandProfileSpec.placeholders(in: template)
            where !CommandProfileSpec.placeholders.contains(placeholder) {
                fields.fail(
                    entry.value,
                    "unknown placeholder '{{\(placeholder)}}' in the \(key) command; Baton fills in: \(CommandProfileSpec.placeholders.sorted().joined(separator: ", "))"
                )
            }
            templates[key] = template
        }
        return templates
    }

    mutating func readSSH(_ node: YAMLNode) -> SSHSettings {
        guard let map = fields.mapping(node, "ssh", allowed: Self.sshKeys) else { return SSHSettings() }
        return SSHSettings(
            config: map["config"].flatMap { fields.string($0, "config") },
            connectTimeout: map["connect-timeout"].flatMap { fields.integer($0, "connect-timeout", in: 1...600) } ?? 10,
            configLocation: map["config"].map { fields.location($0) },
            logon: map["logon"].flatMap { fields.name($0, "logon") })
    }

    /// A host's profile is Baton's built-in one or one of `profiles:`.
    mutating func checkProfilesNamed(_ hosts: [HostAccess], _ profiles: [CommandProfileSpec]) {
        let known = Set(profiles.map { $0.name.lowercased() }).union(CommandProfileSpec.builtInNames)
        for host in hosts {
            guard let profile = host.profile, !known.contains(profile.lowercased()) else { continue }
            fields.fail(
                host.location,
                "host \(host.host) names profile '\(profile)', which is neither built in (\(CommandProfileSpec.builtInName)) nor in profiles:"
            )
        }
    }

    mutating func readDurations(_ node: YAMLNode) -> [String: Int] {
        guard let map = fields.mapping(node, "durations", allowed: Self.durationKeys) else { return [:] }
        var durations: [String: Int] = [:]
        for entry in map.entries {
            let key = entry.name
            guard let text = fields.string(entry.value, "duration of \(key)") else { continue }
            if let seconds = DurationText.seconds(text) {
                durations[key] = seconds
            } else {
                fields.fail(
                    entry.value,
                    "duration of \(key) '\(text)' is not a duration such as 45m, 90s, 1h30m or 20 (minutes)")
            }
        }
        return durations
    }

    mutating func required(_ map: Mapping, _ key: String, in what: String) -> YAMLNode? {
        if let value = map[key] { return value }
        fields.fail(map.node, "\(what): missing required key '\(key)'")
        return nil
    }
}

/// Parses the duration strings of `durations:`: "45m", "90s", "1h30m", or a bare number of
/// minutes, capped at a week so sums cannot overflow.
public enum DurationText {
    public static func seconds(_ text: String) -> Int? {
        if let minutes = Int(text), (0...10_080).contains(minutes) { return minutes * 60 }
        var total = 0, number = "", sawUnit = false
        for character in text {
            if character.isASCII, character.isNumber {
                number.append(character)
                guard number.count <= 6 else { return nil }
                continue
            }
            guard let value = Int(number) else { return nil }
            switch character {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            default: return nil
            }
            number = ""
            sawUnit = true
        }
        guard number.isEmpty, sawUnit, total <= 7 * 24 * 3600 else { return nil }
        return total
    }
}
