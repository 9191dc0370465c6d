import BatonKnowledge
import BatonModel
import BatonPlan

extension LabTwin {
    /// Every machine's and virtual server's build now.
    public var builds: [String: String] {
        var builds: [String: String] = [:]
        for host in hosts.values { builds[host.name.spelling] = host.build ?? "-" }
        for group in groups.values where group.isVirtualServer {
            builds[group.name.spelling] =
                group.product.flatMap { product in group.level.flatMap { Builds.build(product, $0) } } ?? "-"
        }
        return builds
    }
}

extension LabTwin {
    /// How this twin differs from one made from `inventory`: the organization, machines and
    /// virtual servers, each named. Empty when the twin is the inventory's (whatever levels a
    /// rollout has brought it to since).
    public func differences(from inventory: Inventory) -> [String] {
        let expected = LabTwin(inventory: inventory)
        var differences: [String] = []
        if organization != expected.organization {
            differences.append("it is a twin of \(organization), not \(expected.organization)")
        }
        func compare(_ what: String, _ have: Set<HostName>, _ want: Set<HostName>) {
            let missing = want.subtracting(have).sorted(), extra = have.subtracting(want).sorted()
            if !missing.isEmpty {
                differences.append("\(what) \(missing.joined(separator: ", ")) of the inventory are not in it")
            }
            if !extra.isEmpty {
                differences.append("\(what) \(extra.joined(separator: ", ")) in it are not in the inventory")
            }
        }
        compare("machines", Set(hosts.values.map(\.name)), Set(expected.hosts.values.map(\.name)))
        func virtualServers(_ twin: LabTwin) -> Set<HostName> {
            Set(twin.groups.values.filter(\.isVirtualServer).map(\.name))
        }
        compare("virtual servers", virtualServers(self), virtualServers(expected))
        return differences
    }
}

extension LabTwin {
    /// Why this twin cannot stand for `inventory`, for a person, with how to make it anew;
    /// nil when it can.
    public func refusal(for inventory: Inventory, in store: LabStore) -> String? {
        let differences = differences(from: inventory)
        guard !differences.isEmpty else { return nil }
        return "\(store.place) was made from another inventory: "
            + differences.joined(separator: "; ")
            + ". Make it anew with 'baton lab init \(inventory.file) --force\(store.options)' (or 'baton run … --fresh-lab')"
    }
}

extension LabTwin {
    /// Adds the packages of `catalogue` this twin does not know yet (a catalogue file's, added
    /// since the twin was made): a package is knowledge, not the twin's state, so a rehearsal of
    /// a new security update needs no fresh twin.
    public mutating func learn(_ catalogue: PackageCatalogue) {
        let known = Set(packages.map(\.id))
        for package in catalogue.packages where !known.contains(package.id) {
            packages.append(Plan.PackageSummary(package))
            guard package.product?.isModern == true else { continue }
            if let ad = package.adVersions {
                modern?.packageAD[package.id] = LabADVersions(
                    schema: ad.schema ?? 0, organization: ad.organization ?? 0, domain: ad.domain ?? 0)
            }
            if let update = package.update { modern?.packageUpdates[package.id] = update }
        }
    }
}

extension LabTwin {
    /// `inventory` with each Exchange 2013-and-later server's product, level and security
    /// update as this twin has them now, and the servers that differ: what earlier rehearsals
    /// already did counts, so a canary (`--limit`) followed by a run without it installs
    /// everything once (rule `canary`).
    public func current(_ inventory: Inventory) -> (inventory: Inventory, updated: [HostName]) {
        var inventory = inventory
        var updated: [HostName] = []
        for index in inventory.servers.indices {
            let server = inventory.servers[index]
            guard server.install.product.isModern, let host = hosts[server.name], let product = host.product,
                let level = host.level, let state = modern?.servers[server.name]
            else { continue }
            let update = state.update
            guard product != server.install.product || level != server.install.level
                || update?.lowercased() != server.update?.lowercased()
            else { continue }
            inventory.servers[index].install.product = product
            inventory.servers[index].install.level = level
            inventory.servers[index].update = update
            updated.append(server.name)
        }
        return (inventory, updated)
    }
}
