import Foundation
/// Exchange 2013 and later: sites, Active Directory, database availability groups, and what a
/// server of theirs adds (docs/inventory.md).
extension InventoryReader {
    static let siteKeys = ["name", "internet-facing"]
    static let activeDirectoryKeys = [
        "schema-master-site", "domains", "schema-version", "organization-version", "domain-version",
    ]
    static let dagKeys = ["name", "members", "witness", "auto-rebalance", "databases", "settle"]
    static let witnessKeys = ["server", "site"]
    static let databaseKeys = ["name", "copies", "active", "lagged"]
    static let adVersionKeys = ["schema", "organization", "domain"]
    static let customFileKeys = ["file", "settings"]
    static let settingKeys = ["app-setting", "xpath", "value"]

    /// `site`, `update` and `custom-config` of a server; they exist from Exchange 2013 on.
    mutating func readModernServerKeys(_ map: Mapping, what: String, product: Product?)
        -> (site: String?, update: String?, customConfig: [String], settings: [ConfigSetting])
    {
        var site: String?
        if let siteNode = map["site"], let name = fields.name(siteNode, "site") {
            site = self.site(name, at: siteNode, in: sites, for: what)
        }
        let update = map["update"].flatMap { fields.name($0, "update") }
        var customConfig: [String] = []
        var settings: [ConfigSetting] = []
        for item in map["custom-config"].flatMap({ fields.list($0, "custom-config") }) ?? [] {
            guard case .mapping = item else {
                if let name = fields.string(item, "a customised file") { customConfig.append(name) }
                continue
            }
            guard let entry = fields.mapping(item, "a customised file", allowed: Self.customFileKeys),
                let path = entry["file"].flatMap({ fields.string($0, "file") })
            else {
                if case .mapping(let raw) = item, raw["file"] == nil { fields.fail(item, "a customised file needs 'file': its path under the Exchange install folder") }
                continue
            }
            // The saved copy is found by the file's name; its settings by its whole path.
            let name = String(path.split(whereSeparator: { $0 == "\\" || $0 == "/" }).last ?? Substring(path))
            if !customConfig.contains(name) { customConfig.append(name) }
            for node in entry["settings"].flatMap({ fields.list($0, "settings") }) ?? [] {
                guard let setting = fields.mapping(node, "a setting of \(path)", allowed: Self.settingKeys) else { continue }
                let value = setting["value"].flatMap { fields.string($0, "value") }
                if setting["value"] == nil { fields.fail(node, "a setting of \(path) needs 'value': what to apply again") }
                let key = setting["app-setting"].flatMap { fields.string($0, "app-setting") }
                let xpath = setting["xpath"].flatMap { fields.string($0, "xpath") }
                guard (key == nil) != (xpath == nil) else {
                    fields.fail(node, "a setting of \(path) names exactly one of app-setting (an appSettings key) or xpath")
                    continue
                }
                guard let value else { continue }
                settings.append(
                    ConfigSetting(
                        file: path, target: key.map { .appSetting($0) } ?? .xpath(xpath ?? ""), value: value,
                        location: fields.location(node)))
            }
        }
        if let product, !product.isModern {
            for key in ["site", "update", "custom-config"] {
                if let node = map.keyNode(key) {
                    fields.fail(node, "\(what): '\(key)' is for Exchange 2013 and later, not \(product.rawValue)")
                }
            }
        }
        if update != nil, let product, product.isModern, map["level"] == nil, let node = map.keyNode("update") {
            fields.fail(node, "\(what): an update is installed on a cumulative update; give 'level' too")
        }
        return (site, update, customConfig, settings)
    }

    /// `dotnet`, `visual-c++` and `health-checker` of a server of Exchange 2013 and later: what
    /// it has of setup's prerequisites (absent: probed on a real host), and where
    /// CSS-Exchange's HealthChecker.ps1 is on it.
    mutating func readPrerequisites(_ map: Mapping, what: String, into server: inout Server) {
        let keys = ["dotnet", "visual-c++", "health-checker"]
        guard server.install.product.isModern else {
            for key in keys {
                if let node = map.keyNode(key) {
                    fields.fail(node, "\(what): '\(key)' is for Exchange 2013 and later, not \(server.install.product.rawValue)")
                }
            }
            return
        }
        server.dotnet = map["dotnet"].flatMap { fields.choice($0, "dotnet") }
        if let node = map["visual-c++"] {
            let runtimes: [VisualCRuntime] = readList(node, "visual-c++")
            server.visualCRuntimes = Set(runtimes)
        }
        server.healthChecker = map["health-checker"].flatMap { fields.string($0, "health-checker") }
    }

    mutating func readSites(_ node: YAMLNode) -> [Site] {
        guard let items = fields.list(node, "sites") else { return [] }
        var sites: [Site] = []
        for item in items {
            guard let map = fields.mapping(item, "a site", allowed: Self.siteKeys),
                let nameNode = required(map, "name", in: "a site"), let name = fields.name(nameNode, "name")
            else { continue }
            if let earlier = sites.first(where: { $0.name.lowercased() == name.lowercased() }) {
                fields.fail(nameNode, "site '\(name)' is already declared at line \(earlier.location.line)")
                continue
            }
            let internetFacing = map["internet-facing"].flatMap { fields.bool($0, "internet-facing") } ?? false
            sites.append(Site(name: name, internetFacing: internetFacing, location: fields.location(item)))
        }
        return sites
    }

    /// The site named at `node`, as declared; an error when it is not.
    mutating func site(_ name: String, at node: YAMLNode, in sites: [Site], for what: String) -> String? {
        if let site = sites.first(where: { $0.name.lowercased() == name.lowercased() }) { return site.name }
        let known = sites.isEmpty ? "no sites are declared" : "sites: \(sites.map(\.name).joined(separator: ", "))"
        fields.fail(node, "\(what): site '\(name)' is not declared under sites: (\(known))")
        return nil
    }

    mutating func readActiveDirectory(_ node: YAMLNode, sites: [Site]) -> ActiveDirectoryInfo? {
        guard let map = fields.mapping(node, "active-directory", allowed: Self.activeDirectoryKeys) else { return nil }
        var schemaMasterSite: String?
        if let siteNode = map["schema-master-site"], let name = fields.name(siteNode, "schema-master-site") {
            schemaMasterSite = site(name, at: siteNode, in: sites, for: "active-directory")
        }
        let domains =
            map["domains"].flatMap { fields.list($0, "domains") }?.compactMap { fields.name($0, "a domain") } ?? []
        let versions = ADVersions(
            schema: map["schema-version"].flatMap { fields.integer($0, "schema-version", in: 0...1_000_000) },
            organization: map["organization-version"].flatMap {
                fields.integer($0, "organization-version", in: 0...1_000_000)
            },
            domain: map["domain-version"].flatMap { fields.integer($0, "domain-version", in: 0...1_000_000) })
        return ActiveDirectoryInfo(
            schemaMasterSite: schemaMasterSite, domains: domains, versions: versions, location: fields.location(node))
    }

    mutating func readADVersions(_ node: YAMLNode, _ what: String) -> ADVersions? {
        guard let map = fields.mapping(node, what, allowed: Self.adVersionKeys) else { return nil }
        return ADVersions(
            schema: map["schema"].flatMap { fields.integer($0, "schema", in: 0...1_000_000) },
            organization: map["organization"].flatMap { fields.integer($0, "organization", in: 0...1_000_000) },
            domain: map["domain"].flatMap { fields.integer($0, "domain", in: 0...1_000_000) })
    }

    mutating func readOrder(_ node: YAMLNode, sites: [Site]) -> [String]? {
        guard let items = fields.list(node, "order") else { return nil }
        var order: [String] = []
        for item in items {
            guard let name = fields.name(item, "a site"), let site = site(name, at: item, in: sites, for: "order")
            else { continue }
            if order.contains(site) {
                fields.fail(item, "order: site '\(site)' is listed twice")
            } else {
                order.append(site)
            }
        }
        return order
    }

    mutating func readDAGs(_ node: YAMLNode, servers: [Server], sites: [Site]) -> [DatabaseAvailabilityGroup] {
        guard let items = fields.list(node, "dags") else { return [] }
        var memberOf: [HostName: HostName] = [:]
        var databaseNames: [String: Int] = [:]
        var dags: [DatabaseAvailabilityGroup] = []
        for item in items {
            guard
                let dag = readDAG(
                    item, servers: servers, sites: sites, memberOf: &memberOf, databaseNames: &databaseNames)
            else { continue }
            dags.append(dag)
        }
        return dags
    }

    mutating func readDAG(
        _ node: YAMLNode, servers: [Server], sites: [Site], memberOf: inout [HostName: HostName],
        databaseNames: inout [String: Int]
    ) -> DatabaseAvailabilityGroup? {
        guard let map = fields.mapping(node, "a database availability group", allowed: Self.dagKeys),
            let nameNode = required(map, "name", in: "a database availability group"),
            let name = fields.hostName(nameNode, "name")
        else { return nil }
        declare(name, .dag, at: nameNode)
        let what = "DAG \(name)"
        var members: [HostName] = []
        if let membersNode = required(map, "members", in: what), let items = fields.list(membersNode, "members") {
            for item in items {
                guard let member = fields.hostName(item, "a member") else { continue }
                guard let server = servers.first(where: { $0.name == member }) else {
                    fields.fail(item, "\(what): member '\(member)' is not a server of this inventory")
                    continue
                }
                if !server.install.product.isModern || server.role != .mailbox {
                    fields.fail(
                        item,
                        "\(what): member \(server.name) is a \(server.install.product.rawValue) \(server.role.rawValue) server; DAG members are mailbox servers of Exchange 2013 or later"
                    )
                    continue
                }
                if let other = memberOf[server.name] {
                    fields.fail(
                        item,
                        "\(what): \(server.name) is already a member of DAG \(other); a server belongs to one DAG")
                    continue
                }
                if members.contains(server.name) {
                    fields.fail(item, "\(what): \(server.name) is listed twice")
                    continue
                }
                memberOf[server.name] = name
                members.append(server.name)
            }
            let products = Set(members.compactMap { member in servers.first { $0.name == member }?.install.product })
            if products.count > 1 {
                fields.fail(
                    membersNode,
                    "\(what): members run \(products.map(\.rawValue).sorted().joined(separator: " and ")); a DAG's members run one product"
                )
            }
        }
        var witness: Witness?
        if let witnessNode = map["witness"],
            let witnessMap = fields.mapping(witnessNode, "witness", allowed: Self.witnessKeys),
            let serverNode = required(witnessMap, "server", in: "\(what)'s witness"),
            let server = fields.hostName(serverNode, "server")
        {
            if members.contains(server) {
                fields.fail(serverNode, "\(what): the witness \(server) cannot be one of its members")
            }
            let witnessSite = witnessMap["site"].flatMap { siteNode in
                fields.name(siteNode, "site").flatMap { site($0, at: siteNode, in: sites, for: "\(what)'s witness") }
            }
            witness = Witness(server: server, site: witnessSite)
        }
        let autoRebalance = map["auto-rebalance"].flatMap { fields.bool($0, "auto-rebalance") } ?? false
        var databases: [MailboxDatabase] = []
        if let list = map["databases"].flatMap({ fields.list($0, "databases") }) {
            for item in list {
                guard let database = readDatabase(item, dag: what, members: members) else { continue }
                if let line = databaseNames[database.name.lowercased()] {
                    fields.fail(item, "database \(database.name) is already declared at line \(line)")
                    continue
                }
                databaseNames[database.name.lowercased()] = database.location.line
                databases.append(database)
            }
        }
        return DatabaseAvailabilityGroup(
            name: name, members: members, witness: witness, autoRebalance: autoRebalance, databases: databases,
            location: fields.location(node), settle: map["settle"].flatMap { readSettleTime($0) })
    }

    mutating func readDatabase(_ node: YAMLNode, dag: String, members: [HostName]) -> MailboxDatabase? {
        guard let map = fields.mapping(node, "a database", allowed: Self.databaseKeys),
            let nameNode = required(map, "name", in: "a database"), let name = fields.name(nameNode, "name")
        else { return nil }
        let what = "database \(name) of \(dag)"
        func copy(_ item: YAMLNode, _ role: String) -> HostName? {
            guard let server = fields.hostName(item, role) else { return nil }
            guard let member = members.first(where: { $0 == server }) else {
                fields.fail(item, "\(what): \(role) \(server) is not a member of the DAG")
                return nil
            }
            return member
        }
        var copies: [HostName] = []
        if let copiesNode = required(map, "copies", in: what), let items = fields.list(copiesNode, "copies") {
            for item in items {
                guard let member = copy(item, "copy") else { continue }
                if copies.contains(member) {
                    fields.fail(item, "\(what): \(member) holds one copy, not two")
                } else {
                    copies.append(member)
                }
            }
            if items.isEmpty { fields.fail(copiesNode, "\(what) needs at least one copy") }
        }
        var active = copies.first
        if let activeNode = map["active"], let server = fields.hostName(activeNode, "active") {
            if let copy = copies.first(where: { $0 == server }) {
                active = copy
            } else {
                fields.fail(activeNode, "\(what): the active copy \(server) is not among its copies")
            }
        }
        var lagged: [HostName] = []
        if let laggedNode = map["lagged"], let items = fields.list(laggedNode, "lagged") {
            for item in items {
                guard let server = fields.hostName(item, "a lagged copy") else { continue }
                guard let copy = copies.first(where: { $0 == server }) else {
                    fields.fail(item, "\(what): the lagged copy \(server) is not among its copies")
                    continue
                }
                if copy == active { fields.fail(item, "\(what): the active copy \(copy) cannot be a lagged copy") }
                lagged.append(copy)
            }
        }
        guard let active else { return nil }
        return MailboxDatabase(
            name: name, copies: copies, active: active, lagged: lagged, location: fields.location(node))
    }

    /// A cumulative update brings a modern product to `level`; a security update names the
    /// cumulative update it was built for with `requires`.
    mutating func checkModernPackage(
        _ map: Mapping, what: String, kind: PackageKind, product: Product?, level: Level?, requires: Level?
    ) {
        guard let product, product.isModern else {
            fields.fail(
                map["product"] ?? map.node,
                "\(what): \(kind.rawValue)s are for exchange-2013, exchange-2016, exchange-2019 and exchange-se")
            return
        }
        let (needed, other) = kind == .cumulativeUpdate ? ("level", "requires") : ("requires", "level")
        let value = kind == .cumulativeUpdate ? level : requires
        if let key = map.keyNode(other) {
            fields.fail(key, "\(what): a \(kind.rawValue) takes '\(needed)', not '\(other)'")
        }
        guard let value else {
            let meaning =
                kind == .cumulativeUpdate ? "the cumulative update it brings" : "the cumulative update it is for"
            fields.fail(map.node, "\(what): a \(kind.rawValue) needs '\(needed)', \(meaning)")
            return
        }
        if !product.levels.contains(value) || !value.isCumulativeUpdate && !(product == .exchangeSE && value == .rtm) {
            fields.fail(
                map[needed] ?? map.node, "\(what): \(product.rawValue) has no cumulative update '\(value.rawValue)'")
        }
    }

    /// `settle: 10m`: how long a DAG waits after a member is back before the next leaves.
    mutating func readSettleTime(_ node: YAMLNode) -> Int? {
        guard let text = fields.string(node, "settle") else { return nil }
        guard let seconds = DurationText.seconds(text) else {
            fields.fail(node, "settle '\(text)' is not a duration such as 10m, 90s, 1h or 20 (minutes)")
            return nil
        }
        return seconds
    }
}

extension InventoryReader {
    static let windowKeys = ["days", "start", "end", "time-zone", "sites", "dags"]

    /// `windows:`: weekly maintenance windows, each `{days: [sat], start: "22:00", end:
    /// "04:00", time-zone: Europe/Berlin}`, for the organization or its `sites` and `dags`.
    mutating func readWindows(_ node: YAMLNode, sites: [Site], dags: [DatabaseAvailabilityGroup])
        -> [MaintenanceWindow]
    {
        guard let items = fields.list(node, "windows") else { return [] }
        var windows: [MaintenanceWindow] = []
        for item in items {
            guard let map = fields.mapping(item, "a maintenance window", allowed: Self.windowKeys) else { continue }
            var days: [Weekday] = []
            if let list = required(map, "days", in: "a maintenance window").flatMap({ fields.list($0, "days") }) {
                for dayNode in list {
                    guard let text = fields.string(dayNode, "a day") else { continue }
                    if let day = Weekday(name: text) {
                        days.append(day)
                    } else {
                        fields.fail(dayNode, "'\(text)' is not a day of the week (mon, tue, wed, thu, fri, sat, sun)")
                    }
                }
            }
            func time(_ key: String) -> Int? {
                guard let node = required(map, key, in: "a maintenance window"), let text = fields.string(node, key)
                else { return nil }
                guard let minutes = MaintenanceWindow.minutes(of: text) else {
                    fields.fail(node, "\(key) '\(text)' is not a time such as 22:00")
                    return nil
                }
                return minutes
            }
            let start = time("start"), end = time("end")
            var zone: TimeZone?
            if let node = required(map, "time-zone", in: "a maintenance window"),
                let name = fields.string(node, "time-zone")
            {
                zone = TimeZone(identifier: name)
                if zone == nil {
                    fields.fail(node, "time-zone '\(name)' is not an IANA time zone (Europe/Berlin, America/New_York, UTC)")
                }
            }
            var windowSites: [String] = []
            if let list = map["sites"].flatMap({ fields.list($0, "sites") }) {
                for siteNode in list {
                    guard let name = fields.name(siteNode, "a site"),
                        let found = site(name, at: siteNode, in: sites, for: "a maintenance window")
                    else { continue }
                    windowSites.append(found)
                }
            }
            var windowDAGs: [HostName] = []
            if let list = map["dags"].flatMap({ fields.list($0, "dags") }) {
                for dagNode in list {
                    guard let name = fields.name(dagNode, "a DAG") else { continue }
                    guard let dag = dags.first(where: { $0.name == HostName(name) }) else {
                        fields.fail(
                            dagNode,
                            "a maintenance window names DAG '\(name)', which dags: does not declare"
                                + Spelling.didYouMean(name, among: dags.map(\.name.spelling)))
                        continue
                    }
                    windowDAGs.append(dag.name)
                }
            }
            guard let start, let end, let zone, !days.isEmpty else { continue }
            let minutes = end > start ? end - start : end + 1440 - start
            windows.append(
                MaintenanceWindow(
                    days: days, start: start, minutes: minutes, timeZone: zone, sites: windowSites, dags: windowDAGs,
                    location: fields.location(item)))
        }
        return windows
    }
}
