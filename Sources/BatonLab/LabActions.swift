import BatonKnowledge
import BatonModel
import BatonPlanner

extension LabTwin {
    mutating func backup(_ step: Step, _ key: String) -> LabOutcome {
        let host = hosts[key]!
        if host.stoppedByQuiesce.contains("backup-agent") {
            return failure("the backup agent on \(host.name) is stopped (quiesce): start it again first")
        }
        if let group = groupKey(step), let evs = groups[group] {
            guard evs.owner.lowercased() == key else {
                return failure("\(evs.name) is on \(evs.owner), not \(host.name)")
            }
            backupsBySubject[evs.name.lowercased(), default: []].append(
                LabBackup(subject: evs.name, what: ["databases"], product: evs.product, level: evs.level, at: clock))
            // Dismounted databases are copied as files: an offline backup, restorable all the same.
            let kind = evs.isOnline ? "online" : "offline (database files copied while dismounted)"
            return ok("full \(kind) backup of \(evs.name)'s databases at \(evs.level?.rawValue ?? "?")")
        }
        let what = step.what?.map(\.rawValue) ?? ["system-state"]
        backupsBySubject[key, default: []].append(
            LabBackup(subject: host.name, what: what, product: host.product, level: host.level, at: clock))
        return ok("backup of \(host.name) (\(what.joined(separator: ", ")))")
    }

    /// Stopping the Cluster service fails over every group the node owns: an unplanned
    /// failover when the plan forgot to move them (rule `cluster-stop-service`).
    mutating func stopClusterService(_ key: String) -> LabOutcome {
        guard hosts[key]!.cluster != nil else { return failure("\(hosts[key]!.name) is not a cluster node") }
        if hosts[key]!.product == .exchange55 {
            violate(.e55ActiveFirst, "the Cluster service was stopped on Exchange 5.5 node \(hosts[key]!.name)")
        }
        let owned = groupsOwned(by: key)
        hosts[key]!.running.remove("cluster")
        for group in owned {
            failOver(group, from: key, reason: "its Cluster service stopped", rule: .clusterStopService)
        }
        return ok(
            owned.isEmpty ? "Cluster service stopped" : "Cluster service stopped; \(owned.count) group(s) failed over")
    }

    /// Moves `group` to another running node as the cluster would on its own.
    mutating func failOver(_ group: String, from key: String, reason: String, rule: Rule.ID) {
        guard var moving = groups[group] else { return }
        let cluster = moving.cluster
        let candidates = hosts.values.filter {
            $0.cluster == cluster && $0.up && $0.running.contains("cluster") && $0.name.lowercased() != key
        }.sorted { $0.name < $1.name }
        let name = moving.name == clusterGroupName ? "the cluster group of \(cluster)" : moving.name
        accounting.unplannedFailovers.append("\(name) failed over from \(hosts[key]!.name): \(reason)")
        violate(rule, "\(name) failed over from \(hosts[key]!.name) because \(reason)")
        if let target = candidates.first(where: { moving.level == nil || ($0.level ?? .rtm) >= moving.level! })
            ?? candidates.first
        {
            moving.owner = target.name
            if moving.isVirtualServer, mustUpgradeBeforeOnline(moving, on: target) {
                for resource in moving.resources.keys where !LabGroup.kept.contains(resource) {
                    moving.resources[resource] = false
                }
                hosts[target.name.lowercased()]!.eventLog.append(event1025(moving.name, on: target.name))
            }
        } else {
            for resource in moving.resources.keys { moving.resources[resource] = false }
        }
        groups[group] = moving
    }

    mutating func install(_ step: Step, _ key: String) -> LabOutcome {
        let name = hosts[key]!.name
        guard let id = step.package, let package = packages.first(where: { $0.id.lowercased() == id.lowercased() })
        else {
            return failure("unknown package \(step.package ?? "?")")
        }
        guard !hosts[key]!.installerRunning else {
            return failure(
                "the package is blocked: another setup, update or xcopy is running on \(name)",
                rule: .noConcurrentInstallers)
        }
        guard hosts[key]!.freeDiskMB >= 600 else {
            return failure("setup stopped: not enough free disk space on \(name) (\(hosts[key]!.freeDiskMB) MB free)")
        }
        let isWindows = package.product.hasPrefix("windows")
        if !isWindows {
            guard hosts[key]!.product?.rawValue == package.product else {
                return failure(
                    "\(package.id) is for \(package.product); \(name) runs \(hosts[key]!.product?.rawValue ?? "no Exchange")"
                )
            }
        } else if hosts[key]!.os.rawValue != package.product {
            return failure("\(package.id) is for \(package.product); \(name) runs \(hosts[key]!.os.rawValue)")
        }
        let clustered = hosts[key]!.cluster != nil
        let exchange55 = hosts[key]!.product == .exchange55
        if clustered, !exchange55 {
            let owned = groupsOwned(by: key)
            guard owned.isEmpty else {
                return failure(
                    "setup refuses to run on \(name) while it owns \(owned.map { groups[$0]!.name }.joined(separator: ", ")): move its groups away first",
                    rule: .e2003NodeEmpty)
            }
            guard !hosts[key]!.running.contains("cluster") else {
                return failure(
                    "the Cluster service is running on \(name): stop it before installing", rule: .clusterStopService)
            }
        }
        if package.kind == .servicePack, let target = package.level, let level = hosts[key]!.level, level >= target {
            return ok("\(name) already runs \(level.rawValue): nothing to install", applied: false)
        }
        if package.kind == .hotfix, hosts[key]!.installed.contains(package.id) {
            return ok("\(package.id) is already installed on \(name)", applied: false)
        }
        if package.kind == .hotfix, !isWindows, let requires = package.requires, (hosts[key]!.level ?? .rtm) < requires
        {
            return failure(
                "\(package.id) requires \(requires.rawValue); \(name) runs \(hosts[key]!.level?.rawValue ?? "?")")
        }
        let interfering = hosts[key]!.running.subtracting(["cluster", "exchange"]).sorted()
        if consume(.fileInUse, key) || !interfering.isEmpty {
            let holder = interfering.first ?? "a monitoring agent"
            hosts[key]!.installerLog.append(
                "FileInUse:: Added to Filelist: C:\\Program Files\\Exchsrvr\\bin\\store.exe (held by \(holder))")
            if !interfering.isEmpty {
                violate(
                    .quiesce, "\(package.id) was installed on \(name) while \(interfering.joined(separator: ", ")) ran")
            }
            return failure(
                "the package may not have installed on \(name): its log says \"FileInUse:: Added to Filelist:\"; stop \(holder) and install again",
                rule: .fileInUse, duration: jittered(package.kind == .servicePack ? 20 * 60 : 5 * 60))
        }
        var applied = "installed \(package.id) on \(name)"
        switch (package.kind, isWindows) {
        case (.servicePack, _):
            let old = hosts[key]!.level
            hosts[key]!.level = package.level
            hosts[key]!.hotfixBuild = nil
            if exchange55 {
                // Exchange 5.5 virtual servers run their node's binaries.
                for group in groupsOwned(by: key) where groups[group]!.isVirtualServer {
                    groups[group]!.level = package.level
                }
            }
            markBackupsNotRestorable(subject: name, below: package.level)
            applied += " (\(old?.rawValue ?? "?") → \(package.level?.rawValue ?? "?"))"
        default:
            hosts[key]!.installed.append(package.id)
            if let build = package.build { hosts[key]!.hotfixBuild = build }
        }
        if !isWindows { hosts[key]!.evictedAndReadded = false }
        switch package.restart {
        case .always: hosts[key]!.pendingRestart = true
        case .never: break
        case .ifPrompted: hosts[key]!.pendingRestart = !exchange55 && nextRandom() % 4 == 0
        }
        if hosts[key]!.pendingRestart { applied += "; setup asks for a restart" }
        return ok(applied)
    }

    mutating func markBackupsNotRestorable(subject: String, below level: Level?) {
        guard let level else { return }
        let key = subject.lowercased()
        for index in backupsBySubject[key, default: []].indices {
            let backup = backupsBySubject[key]![index]
            if let taken = backup.level, taken < level, backup.what.contains("databases") {
                backupsBySubject[key]![index].restorable = false
            }
        }
    }

    /// A restart takes the host down and up again; services set to start automatically,
    /// the Cluster service included, run again afterwards.
    mutating func reboot(_ step: Step, _ key: String) -> LabOutcome {
        let name = hosts[key]!.name
        if step.when == .ifPrompted, !hosts[key]!.pendingRestart {
            var nothing = ok("no restart was requested on \(name)", applied: false)
            nothing.duration = 5
            return nothing
        }
        for group in groupsOwned(by: key) {
            failOver(group, from: key, reason: "it restarted while owning the group", rule: .restartIfPrompted)
        }
        hosts[key]!.pendingRestart = false
        if consume(.noReturnAfterRestart, key) {
            hosts[key]!.up = false
            hosts[key]!.running.remove("cluster")
            return failure(
                "\(name) did not come back within 20 minutes of its restart; check its console", duration: 20 * 60)
        }
        hosts[key]!.running.formUnion(hosts[key]!.stoppedByQuiesce)
        if hosts[key]!.cluster != nil { hosts[key]!.running.insert("cluster") }
        return ok("\(name) restarted and answers again")
    }

    /// Whether an EVS would meet event 1025 coming online on `node`: an Exchange 2003 EVS
    /// older than its upgraded node, or a node evicted and added back.
    func mustUpgradeBeforeOnline(_ evs: LabGroup, on node: LabHost) -> Bool {
        guard evs.product == .exchange2003, node.product == .exchange2003 else { return false }
        return node.evictedAndReadded || (node.level ?? .rtm) > (evs.level ?? .rtm)
    }

    func event1025(_ evs: String, on node: String) -> String {
        "Event ID 1025, MSExchangeCluster, on \(node): Exchange Virtual Server \(evs) needs to be upgraded before going online. In Cluster Administrator choose \"Upgrade Exchange Virtual Server\" from the resource's menu."
    }

    mutating func move(_ step: Step) -> LabOutcome {
        guard let key = groupKey(step), var group = groups[key] else {
            return failure("no group '\(step.group ?? "?")' in the twin")
        }
        guard let from = step.host, let to = step.to, let target = hosts[to.lowercased()] else {
            return failure("move-group needs a node to move to")
        }
        guard group.owner.lowercased() == from.lowercased() else {
            return failure("\(group.name) is on \(group.owner), not \(from)")
        }
        guard target.cluster == group.cluster else { return failure("\(to) is not a node of cluster \(group.cluster)") }
        guard target.up, target.running.contains("cluster") else {
            return failure("\(to) does not run the Cluster service: it cannot take \(group.name)")
        }
        if consume(.moveFails, group.name) {
            return failure("the move of \(group.name) to \(to) failed; it stays on \(from)")
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
            return failure(
                "the move of \(group.name) to \(to) did not complete (resources stuck in online pending); it stays on \(from)",
                duration: 30 * 60)
        }
        if group.isVirtualServer, group.product == target.product, let level = group.level,
            (target.level ?? .rtm) < level
        {
            return failure(
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
                hosts[to.lowercased()]!.eventLog.append(event1025(group.name, on: to))
                return failure(
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
        return ok("\(group.name) moved from \(from) to \(to)")
    }

    mutating func groupAction(_ step: Step) -> LabOutcome {
        guard let key = groupKey(step), var group = groups[key], group.isVirtualServer || step.action == .verifyVersion
        else {
            return failure("no virtual server '\(step.group ?? "?")' in the twin")
        }
        let ownerKey = group.owner.lowercased()
        if let host = step.host, host.lowercased() != ownerKey, step.action != .failoverTest {
            return failure("\(group.name) is on \(group.owner), not \(host)")
        }
        let node = hosts[ownerKey]!
        switch step.action {
        case .resourcesOffline:
            let keep = Set((step.keep ?? []).map(\.rawValue))
            for resource in group.resources.keys where !keep.contains(resource) { group.resources[resource] = false }
            groups[key] = group
            return ok("\(group.name): everything offline but \(keep.sorted().joined(separator: ", "))")
        case .upgradeVirtualServer:
            if node.evictedAndReadded {
                hosts[ownerKey]!.eventLog.append(event1025(group.name, on: node.name))
                return failure(
                    "\"Upgrade Exchange Virtual Server\" is missing from the menu on \(node.name): the node was evicted and added back; run Exchange setup on it and choose Reinstall",
                    rule: .e2003Event1025)
            }
            if consume(.evsUpgradeFails, group.name) || (node.level ?? .rtm) < (group.level ?? .rtm)
                || group.resources["system-attendant"] == true || !group.onlyKeptOnline
            {
                return failure(
                    "The version of Exchange on this computer does not match the version of Exchange on server '\(group.name)'. ID: c1037b44",
                    rule: .e2003C1037b44)
            }
            guard (node.level ?? .rtm) > (group.level ?? .rtm) else {
                return ok("\(group.name) already runs \(node.level?.rawValue ?? "?")", applied: false)
            }
            group.level = node.level
            groups[key] = group
            markBackupsNotRestorable(subject: group.name, below: node.level)
            return ok("\(group.name) upgraded to \(node.level?.rawValue ?? "?")")
        case .resourcesOnline:
            guard node.up, node.running.contains("cluster") else {
                return failure("\(node.name) does not run the Cluster service")
            }
            if mustUpgradeBeforeOnline(group, on: node) {
                hosts[ownerKey]!.eventLog.append(event1025(group.name, on: node.name))
                return failure(
                    "\(group.name)'s resources do not come online on \(node.name): event 1025 (the virtual server must be upgraded before going online)",
                    rule: .e2003Event1025)
            }
            for resource in group.resources.keys { group.resources[resource] = true }
            groups[key] = group
            return ok("\(group.name) online on \(node.name)")
        case .verifyVersion:
            let build = group.product.flatMap { product in group.level.flatMap { Builds.build(product, $0) } } ?? "none"
            guard build == step.expect else {
                return failure("\(group.name) reports build \(build), not \(step.expect ?? "?")", rule: .verifyVersion)
            }
            return ok("\(group.name) reports \(build)", applied: false)
        case .failoverTest:
            guard group.isOnline else { return failure("\(group.name) is not online: nothing to fail over") }
            let partner = hosts.values.filter {
                $0.cluster == group.cluster && $0.up && $0.running.contains("cluster")
                    && $0.name.lowercased() != ownerKey
                    && ($0.product != group.product || ($0.level ?? .rtm) >= (group.level ?? .rtm))
            }.min { $0.name < $1.name }
            guard let partner else {
                return failure(
                    "no other node of \(group.cluster) can take \(group.name): the failover test fails",
                    rule: .failoverTest)
            }
            if mustUpgradeBeforeOnline(group, on: partner) {
                return failure(
                    "\(group.name) does not come online on \(partner.name): event 1025", rule: .e2003Event1025)
            }
            return ok("\(group.name) failed over to \(partner.name) and back", applied: false)
        default:
            return failure("\(step.action.rawValue) is not a virtual-server action")
        }
    }

    /// Adds the action's duration to what users noticed during it: virtual servers offline
    /// before, after or because of it, pools serving mixed levels, Outlook Web Access broken.
    mutating func account(
        _ step: Step, duration: Double, offlineBefore: Set<String>, mixedBefore: Set<String>, brokenBefore: Bool,
        exchange55OnHost: [String]
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
            accounting.virtualServerOffline[group.name, default: 0] += duration
            accounting.recordOutage(of: group.name, from: clock, to: clock + duration)
        }
        let host = step.host.flatMap { hosts[$0.lowercased()] }
        for pool in mixedBefore where host?.pool == pool { accounting.poolMixedLevels[pool, default: 0] += duration }
        if brokenBefore, host?.product == .exchange2000 { accounting.outlookWebAccessBroken += duration }
    }

    /// The clusters a step acts on: its host's, its target node's, its group's.
    func touchedClusters(_ step: Step) -> Set<String> {
        var clusters = Set<String>()
        for name in [step.host, step.to].compactMap({ $0 }) {
            if let cluster = hosts[name.lowercased()]?.cluster { clusters.insert(cluster) }
        }
        if let key = groupKey(step), let group = groups[key] { clusters.insert(group.cluster) }
        return clusters
    }

    /// Re-evaluates what the step may have changed: its cluster's virtual servers, its host's
    /// pool and, for Exchange 2000 machines, Outlook Web Access.
    mutating func refresh(after step: Step) {
        let clusters = touchedClusters(step)
        if !clusters.isEmpty {
            for cluster in clusters { for key in clusterGroups[cluster] ?? [] { refreshAvailability(of: key) } }
        }
        if let host = step.host.flatMap({ hosts[$0.lowercased()] }) {
            if let pool = host.pool { refreshPool(pool) }
            let changesLevelOrService: Set<Action> = [.install, .reboot, .leavePool, .rejoinPool]
            if host.product == .exchange2000, changesLevelOrService.contains(step.action) { refreshOutlookWebAccess() }
        }
    }

    mutating func refreshAvailability(of key: String) {
        guard let group = groups[key], group.isVirtualServer else { return }
        let ownerUp = hosts[group.owner.lowercased()].map { $0.up && $0.running.contains("cluster") } ?? false
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
