import BatonKnowledge
import BatonModel
import BatonPlan

extension LabTwin {
    mutating func backup(_ step: Step, _ key: HostName) -> LabOutcome {
        guard let host = hosts[key] else { return .failure("no host '\(key)' in the twin") }
        if host.stoppedByQuiesce.contains(.interfering(.backupAgent)) {
            return .failure("the backup agent on \(host.name) is stopped (quiesce): start it again first")
        }
        if let group = groupKey(step), let evs = groups[group] {
            guard evs.owner == key else {
                return .failure("\(evs.name) is on \(evs.owner), not \(host.name)")
            }
            backupsBySubject[evs.name, default: []].append(
                LabBackup(subject: evs.name, what: ["databases"], product: evs.product, level: evs.level, at: clock))
            // Dismounted databases are copied as files: an offline backup, restorable all the same.
            let kind = evs.isOnline ? "online" : "offline (database files copied while dismounted)"
            return .ok("full \(kind) backup of \(evs.name)'s databases at \(evs.level?.rawValue ?? "?")")
        }
        let what = step.what?.map(\.rawValue) ?? ["system-state"]
        backupsBySubject[key, default: []].append(
            LabBackup(subject: host.name, what: what, product: host.product, level: host.level, at: clock))
        return .ok("backup of \(host.name) (\(what.joined(separator: ", ")))")
    }

    /// Stopping the Cluster service fails over every group the node owns: an unplanned
    /// failover when the plan forgot to move them (rule `cluster-stop-service`).
    mutating func stopClusterService(_ key: HostName) -> LabOutcome {
        guard hosts[key]?.cluster != nil else { return .failure("\(key) is not a cluster node") }
        if hosts[key]?.product == .exchange55 {
            violate(.e55ActiveFirst, "the Cluster service was stopped on Exchange 5.5 node \(key)")
        }
        let owned = groupsOwned(by: key)
        hosts[key]?.running.remove(.cluster)
        for group in owned {
            failOver(group, from: key, reason: "its Cluster service stopped", rule: .clusterStopService)
        }
        return .ok(
            owned.isEmpty ? "Cluster service stopped" : "Cluster service stopped; \(owned.count) group(s) failed over")
    }

    /// Moves `group` to another running node as the cluster would on its own.
    mutating func failOver(_ group: HostName, from key: HostName, reason: String, rule: Rule.ID) {
        guard var moving = groups[group] else { return }
        let cluster = moving.cluster
        let candidates = hosts.values.filter {
            $0.cluster == cluster && $0.up && $0.running.contains(.cluster) && $0.name != key
        }.sorted { $0.name.spelling < $1.name.spelling }
        let name = moving.name == clusterGroupName ? "the cluster group of \(cluster)" : moving.name.spelling
        let from = hosts[key]?.name ?? key
        accounting.unplannedFailovers.append("\(name) failed over from \(from): \(reason)")
        violate(rule, "\(name) failed over from \(from) because \(reason)")
        if let target = candidates.first(where: { node in moving.level.map { (node.level ?? .rtm) >= $0 } ?? true })
            ?? candidates.first
        {
            moving.owner = target.name
            if moving.isVirtualServer, mustUpgradeBeforeOnline(moving, on: target) {
                for resource in moving.resources.keys where !LabGroup.kept.contains(resource) {
                    moving.resources[resource] = false
                }
                hosts[target.name]?.eventLog.append(Self.event1025(moving.name, on: target.name))
            }
        } else {
            for resource in moving.resources.keys { moving.resources[resource] = false }
        }
        groups[group] = moving
    }

    mutating func install(_ id: PackageID, on key: HostName) -> LabOutcome {
        guard var host = hosts[key] else { return .failure("no host '\(key)' in the twin") }
        defer { hosts[key] = host }
        let name = host.name
        guard let package = packages.first(where: { $0.id == id }) else {
            return .failure("unknown package \(id)")
        }
        guard !host.installerRunning else {
            return .failure(
                "the package is blocked: another setup, update or xcopy is running on \(name)",
                rule: .noConcurrentInstallers)
        }
        guard host.freeDiskMB >= 600 else {
            return .failure("setup stopped: not enough free disk space on \(name) (\(host.freeDiskMB) MB free)")
        }
        let isWindows = package.product.hasPrefix("windows")
        if !isWindows {
            guard host.product?.rawValue == package.product else {
                return .failure(
                    "\(package.id) is for \(package.product); \(name) runs \(host.product?.rawValue ?? "no Exchange")"
                )
            }
        } else if host.os.rawValue != package.product {
            return .failure("\(package.id) is for \(package.product); \(name) runs \(host.os.rawValue)")
        }
        let clustered = host.cluster != nil
        let exchange55 = host.product == .exchange55
        if clustered, !exchange55 {
            let owned = groupsOwned(by: key)
            guard owned.isEmpty else {
                return .failure(
                    "setup refuses to run on \(name) while it owns \(owned.map { groups[$0]?.name ?? $0 }.joined(separator: ", ")): move its groups away first",
                    rule: .e2003NodeEmpty)
            }
            guard !host.running.contains(.cluster) else {
                return .failure(
                    "the Cluster service is running on \(name): stop it before installing", rule: .clusterStopService)
            }
        }
        if package.kind == .servicePack, let target = package.level, let level = host.level, level >= target {
            return .ok("\(name) already runs \(level.rawValue): nothing to install", applied: false)
        }
        if package.kind == .hotfix, host.installed.contains(package.id) {
            return .ok("\(package.id) is already installed on \(name)", applied: false)
        }
        if package.kind == .hotfix, !isWindows, let requires = package.requires, (host.level ?? .rtm) < requires {
            return .failure(
                "\(package.id) requires \(requires.rawValue); \(name) runs \(host.level?.rawValue ?? "?")")
        }
        let interfering = host.running.subtracting([.cluster]).sorted()
        if consume(.fileInUse, key) || !interfering.isEmpty {
            let holder = interfering.first?.rawValue ?? "a monitoring agent"
            host.installerLog.append(
                "FileInUse:: Added to Filelist: C:\\Program Files\\Exchsrvr\\bin\\store.exe (held by \(holder))")
            if !interfering.isEmpty {
                violate(
                    .quiesce, "\(package.id) was installed on \(name) while \(interfering.joined(separator: ", ")) ran")
            }
            return .failure(
                "the package may not have installed on \(name): its log says \"FileInUse:: Added to Filelist:\"; stop \(holder) and install again",
                rule: .fileInUse, duration: jittered(package.kind == .servicePack ? 20 * 60 : 5 * 60))
        }
        var applied = "installed \(package.id) on \(name)"
        switch (package.kind, isWindows) {
        case (.servicePack, _):
            let old = host.level
            host.level = package.level
            host.hotfixBuild = nil
            if exchange55 {
                // Exchange 5.5 virtual servers run their node's binaries.
                for group in groupsOwned(by: key) where groups[group]?.isVirtualServer == true {
                    groups[group]?.level = package.level
                }
            }
            markBackupsNotRestorable(subject: name, below: package.level)
            applied += " (\(old?.rawValue ?? "?") → \(package.level?.rawValue ?? "?"))"
        default:
            host.installed.append(package.id)
            if let build = package.build { host.hotfixBuild = build }
        }
        if !isWindows { host.evictedAndReadded = false }
        switch package.restart {
        case .always: host.pendingRestart = true
        case .never: break
        case .ifPrompted: host.pendingRestart = !exchange55 && nextRandom() % 4 == 0
        }
        if host.pendingRestart { applied += "; setup asks for a restart" }
        return .ok(applied)
    }

    mutating func markBackupsNotRestorable(subject: HostName, below level: Level?) {
        guard let level, var backups = backupsBySubject[subject] else { return }
        for index in backups.indices {
            if let taken = backups[index].level, taken < level, backups[index].what.contains("databases") {
                backups[index].restorable = false
            }
        }
        backupsBySubject[subject] = backups
    }

    /// A restart takes the host down and up again; services set to start automatically,
    /// the Cluster service included, run again afterwards.
    mutating func reboot(_ key: HostName, when: RestartPolicy) -> LabOutcome {
        guard var host = hosts[key] else { return .failure("no host '\(key)' in the twin") }
        defer { hosts[key] = host }
        let name = host.name
        if when == .ifPrompted, !host.pendingRestart {
            var nothing = LabOutcome.ok("no restart was requested on \(name)", applied: false)
            nothing.duration = 5
            return nothing
        }
        for group in groupsOwned(by: key) {
            failOver(group, from: key, reason: "it restarted while owning the group", rule: .restartIfPrompted)
        }
        host.pendingRestart = false
        if consume(.noReturnAfterRestart, key) {
            host.up = false
            host.running.remove(.cluster)
            return .failure(
                "\(name) did not come back within 20 minutes of its restart; check its console", duration: 20 * 60)
        }
        host.running.formUnion(host.stoppedByQuiesce)
        if host.cluster != nil { host.running.insert(.cluster) }
        return .ok("\(name) restarted and answers again")
    }

    /// Whether an EVS would meet event 1025 coming online on `node`: an Exchange 2003 EVS
    /// older than its upgraded node, or a node evicted and added back.
    func mustUpgradeBeforeOnline(_ evs: LabGroup, on node: LabHost) -> Bool {
        guard evs.product == .exchange2003, node.product == .exchange2003 else { return false }
        return node.evictedAndReadded || (node.level ?? .rtm) > (evs.level ?? .rtm)
    }

    static func event1025(_ evs: HostName, on node: HostName) -> String {
        "Event ID 1025, MSExchangeCluster, on \(node): Exchange Virtual Server \(evs) needs to be upgraded before going online. In Cluster Administrator choose \"Upgrade Exchange Virtual Server\" from the resource's menu."
    }

    mutating func move(_ step: Step) -> LabOutcome {
        guard case .moveGroup(_, let from, let to) = step.detail, let key = groupKey(step), var group = groups[key]
        else {
            return .failure("no group '\(step.group?.spelling ?? "?")' in the twin")
        }
        guard let target = hosts[to] else { return .failure("no node '\(to)' in the twin") }
        guard group.owner == from else {
            return .failure("\(group.name) is on \(group.owner), not \(from)")
        }
        guard target.cluster == group.cluster else {
            return .failure("\(to) is not a node of cluster \(group.cluster)")
        }
        guard target.up, target.running.contains(.cluster) else {
            return .failure("\(to) does not run the Cluster service: it cannot take \(group.name)")
        }
        if consume(.moveFails, group.name) {
            return .failure("the move of \(group.name) to \(to) failed; it stays on \(from)")
        }
        if consume(.moveHangs, group.name) {
            // Only resources that were online are left pending; a group taken down to its
            // kept resources for an upgrade stays down.
            let online = group.resources.filter { !LabGroup.kept.contains($0.key) }.contains { $0.value }
            for resource in group.resources.keys where !LabGroup.kept.contains(resource) {
                group.resources[resource] = false
            }
            group.pendingOnline = online ? true : nil
            groups[key] = group
            return .failure(
                "the move of \(group.name) to \(to) did not complete (resources stuck in online pending); it stays on \(from)",
                duration: 30 * 60)
        }
        if group.isVirtualServer, group.product == target.product, let level = group.level,
            (target.level ?? .rtm) < level
        {
            return .failure(
                "\(group.name) runs \(level.rawValue) and cannot move to \(to), which runs \(target.level?.rawValue ?? "?")",
                rule: .e2003NoMoveBack)
        }
        if group.isVirtualServer, group.product == .exchange55 {
            violate(.e55ActiveFirst, "the Exchange group \(group.name) was moved in an Exchange 5.5 cluster")
        }
        group.owner = target.name
        if group.isVirtualServer {
            let wasOnline =
                group.pendingOnline == true
                || group.resources.filter { !LabGroup.kept.contains($0.key) }.contains { $0.value }
            if wasOnline, mustUpgradeBeforeOnline(group, on: target) {
                for resource in group.resources.keys where !LabGroup.kept.contains(resource) {
                    group.resources[resource] = false
                }
                groups[key] = group
                hosts[to]?.eventLog.append(Self.event1025(group.name, on: to))
                return .failure(
                    "\(group.name) moved to \(to) but its resources do not come online: event 1025 (it must be upgraded first)",
                    rule: .e2003Event1025)
            }
            if group.pendingOnline == true {
                for resource in group.resources.keys { group.resources[resource] = true }
                group.pendingOnline = nil
            }
            if wasOnline, group.product == .exchange2000, let level = target.level, level > (group.level ?? .rtm) {
                group.level = level
                markBackupsNotRestorable(subject: group.name, below: level)
            }
        }
        groups[key] = group
        return .ok("\(group.name) moved from \(from) to \(to)")
    }

    mutating func groupAction(_ step: Step) -> LabOutcome {
        guard let key = groupKey(step), var group = groups[key], group.isVirtualServer || step.action == .verifyVersion
        else {
            return .failure("no virtual server '\(step.group?.spelling ?? "?")' in the twin")
        }
        let ownerKey = group.owner
        if let host = step.host, host != ownerKey, step.action != .failoverTest {
            return .failure("\(group.name) is on \(group.owner), not \(host)")
        }
        guard let node = hosts[ownerKey] else { return .failure("no host '\(ownerKey)' in the twin") }
        switch step.action {
        case .resourcesOffline:
            let keep = Set((step.keep ?? []).map(\.rawValue))
            for resource in group.resources.keys where !keep.contains(resource) { group.resources[resource] = false }
            groups[key] = group
            return .ok("\(group.name): everything offline but \(keep.sorted().joined(separator: ", "))")
        case .upgradeVirtualServer:
            if node.evictedAndReadded {
                hosts[ownerKey]?.eventLog.append(Self.event1025(group.name, on: node.name))
                return .failure(
                    "\"Upgrade Exchange Virtual Server\" is missing from the menu on \(node.name): the node was evicted and added back; run Exchange setup on it and choose Reinstall",
                    rule: .e2003Event1025)
            }
            if consume(.evsUpgradeFails, group.name) || (node.level ?? .rtm) < (group.level ?? .rtm)
                || group.resources["system-attendant"] == true || !group.onlyKeptOnline
            {
                return .failure(
                    "The version of Exchange on this computer does not match the version of Exchange on server '\(group.name)'. ID: c1037b44",
                    rule: .e2003C1037b44)
            }
            guard (node.level ?? .rtm) > (group.level ?? .rtm) else {
                return .ok("\(group.name) already runs \(node.level?.rawValue ?? "?")", applied: false)
            }
            group.level = node.level
            groups[key] = group
            markBackupsNotRestorable(subject: group.name, below: node.level)
            return .ok("\(group.name) upgraded to \(node.level?.rawValue ?? "?")")
        case .resourcesOnline:
            guard node.up, node.running.contains(.cluster) else {
                return .failure("\(node.name) does not run the Cluster service")
            }
            if mustUpgradeBeforeOnline(group, on: node) {
                hosts[ownerKey]?.eventLog.append(Self.event1025(group.name, on: node.name))
                return .failure(
                    "\(group.name)'s resources do not come online on \(node.name): event 1025 (the virtual server must be upgraded before going online)",
                    rule: .e2003Event1025)
            }
            for resource in group.resources.keys { group.resources[resource] = true }
            groups[key] = group
            return .ok("\(group.name) online on \(node.name)")
        case .verifyVersion:
            let build = group.product.flatMap { product in group.level.flatMap { Builds.build(product, $0) } } ?? "none"
            guard build == step.expect else {
                return .failure("\(group.name) reports build \(build), not \(step.expect ?? "?")", rule: .verifyVersion)
            }
            return .ok("\(group.name) reports \(build)", applied: false)
        case .failoverTest:
            guard group.isOnline else { return .failure("\(group.name) is not online: nothing to fail over") }
            let partner = hosts.values.filter {
                $0.cluster == group.cluster && $0.up && $0.running.contains(.cluster)
                    && $0.name != ownerKey
                    && ($0.product != group.product || ($0.level ?? .rtm) >= (group.level ?? .rtm))
            }.min { $0.name.spelling < $1.name.spelling }
            guard let partner else {
                return .failure(
                    "no other node of \(group.cluster) can take \(group.name): the failover test fails",
                    rule: .failoverTest)
            }
            if mustUpgradeBeforeOnline(group, on: partner) {
                return .failure(
                    "\(group.name) does not come online on \(partner.name): event 1025", rule: .e2003Event1025)
            }
            return .ok("\(group.name) failed over to \(partner.name) and back", applied: false)
        default:
            return .failure("\(step.action.rawValue) is not a virtual-server action")
        }
    }

    /// Adds the action's duration to what users noticed during it: virtual servers offline
    /// before, after or because of it, pools serving mixed levels, Outlook Web Access broken.
    mutating func account(
        _ step: Step, duration: Double, offlineBefore: Set<HostName>, mixedBefore: Set<String>, brokenBefore: Bool,
        exchange55OnHost: [HostName]
    ) {
        guard duration > 0 else { return }
        // A cluster's steps form one chain, so a virtual server's downtime is the time its own
        // cluster's actions take while it is offline; other machines' work runs beside it.
        let clusters = touchedClusters(step)
        var down = offlineBefore.union(offlineVirtualServers).union(exchange55OnHost).filter {
            groups[$0].map { clusters.contains($0.cluster) } ?? false
        }
        if step.action == .moveGroup || step.action == .failoverTest, let key = groupKey(step),
            groups[key]?.isVirtualServer == true
        {
            down.insert(key)
        }
        for key in down {
            guard let group = groups[key] else { continue }
            accounting.virtualServerOffline[group.name.spelling, default: 0] += duration
            accounting.recordOutage(of: group.name.spelling, from: clock, to: clock + duration)
        }
        let host = step.host.flatMap { hosts[$0] }
        for pool in mixedBefore where host?.pool == pool { accounting.poolMixedLevels[pool, default: 0] += duration }
        if brokenBefore, host?.product == .exchange2000 { accounting.outlookWebAccessBroken += duration }
    }

    /// The clusters a step acts on: its host's, its target node's, its group's.
    func touchedClusters(_ step: Step) -> Set<HostName> {
        var clusters = Set<HostName>()
        for name in [step.host, step.to].compactMap({ $0 }) {
            if let cluster = hosts[name]?.cluster { clusters.insert(cluster) }
        }
        if let key = groupKey(step), let group = groups[key] { clusters.insert(group.cluster) }
        return clusters
    }

    /// Re-evaluates what the step may have changed: its cluster's virtual servers, its host's
    /// pool and, for Exchange 2000 machines, Outlook Web Access.
    mutating func refresh(after step: Step) {
        let clusters = touchedClusters(step)
        if !clusters.isEmpty {
            for cluster in clusters { for key in groups(ofCluster: cluster) { refreshAvailability(of: key) } }
        }
        if let host = step.host.flatMap({ hosts[$0] }) {
            if let pool = host.pool { refreshPool(pool) }
            let changesLevelOrService: Set<Action> = [.install, .reboot, .leavePool, .rejoinPool]
            if host.product == .exchange2000, changesLevelOrService.contains(step.action) { refreshOutlookWebAccess() }
        }
    }

    mutating func refreshAvailability(of key: HostName) {
        guard let group = groups[key], group.isVirtualServer else { return }
        let ownerUp = hosts[group.owner].map { $0.up && $0.running.contains(.cluster) } ?? false
        if group.isOnline && ownerUp { offlineVirtualServers.remove(key) } else { offlineVirtualServers.insert(key) }
    }

    /// Mobile clients' synchronization-key errors are an Exchange 2003 front-end matter
    /// (rule `e2003-pool-together`); Exchange 2000 pools may run mixed levels.
    mutating func refreshPool(_ pool: String) {
        let serving = (poolMembers[pool] ?? []).compactMap { hosts[$0] }.filter {
            $0.inPool && $0.up && $0.product == .exchange2003
        }
        if Set(serving.map(\.build)).count > 1 { mixedPools.insert(pool) } else { mixedPools.remove(pool) }
    }

    /// An old front-end's scripts break against an upgraded back-end (rule `e2000-front-end-first`).
    mutating func refreshOutlookWebAccess() {
        let frontEnds = hosts.values.filter {
            $0.product == .exchange2000 && $0.role == .frontEnd && $0.inPool && $0.up
        }
        let backEnds = hosts.values.filter { $0.product == .exchange2000 && $0.role == .backEnd }
        if let oldest = frontEnds.compactMap(\.level).min(), let newest = backEnds.compactMap(\.level).max() {
            outlookWebAccessBroken = newest > oldest
        } else {
            outlookWebAccessBroken = false
        }
    }
}
