import BatonLab
import BatonModel

/// The twin as text for `baton lab show`.
struct LabReport {
    let twin: LabTwin

    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds)
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "+\(two(hours)):\(two(minutes)):\(two(secs))"
    }

    func text() -> String {
        var out =
            "Lab twin of \(twin.organization) (seed \(twin.seed)), virtual clock \(Self.clock(twin.clock))\n\n== machines ==\n"
        for host in twin.hosts.values.sorted(by: { $0.name < $1.name }) {
            let what =
                host.product.map { "\($0.rawValue) \(host.level?.rawValue ?? "?") (build \(host.build ?? "?"))" }
                ?? "domain controller"
            var line = "\(host.name.spelling.padded(14)) \(host.up ? "up  " : "DOWN") \(what)"
            if let cluster = host.cluster { line += ", node of \(cluster)" }
            if let pool = host.pool { line += ", pool \(pool) \(host.inPool ? "in service" : "OUT")" }
            if !host.running.isEmpty { line += "; running: \(host.running.sorted().joined(separator: ", "))" }
            if !host.stoppedByQuiesce.isEmpty { line += "; stopped: \(host.stoppedByQuiesce.joined(separator: ", "))" }
            if host.pendingRestart { line += "; restart pending" }
            if host.installerRunning { line += "; another installer running" }
            if host.evictedAndReadded { line += "; evicted and added back" }
            if host.freeDiskMB < 600 { line += "; disk full" }
            out += line + "\n"
            for entry in host.eventLog { out += "    event log: \(entry)\n" }
            for entry in host.installerLog { out += "    installer log: \(entry)\n" }
        }
        if !twin.groups.isEmpty {
            out += "\n== cluster groups ==\n"
            for group in twin.groups.values.sorted(by: { ($0.cluster, $0.name) < ($1.cluster, $1.name) }) {
                let level = group.level.map { " \($0.rawValue)" } ?? ""
                let offline = group.resources.filter { !$0.value }.map(\.key).sorted()
                let state = offline.isEmpty ? "online" : "offline: \(offline.joined(separator: ", "))"
                out += "\(group.cluster)/\(group.name)\(level) on \(group.owner): \(state)\n"
            }
        }
        if !twin.armedFaults.isEmpty {
            out += "\n== faults waiting ==\n" + twin.armedFaults.map { "\($0)\n" }.joined()
        }
        out += "\n== history ==\n"
        // The step column as wide as the longest "run/step" label, and a space after it.
        let width = twin.history.lazy.compactMap { $0.step?.rawValue.count }.max().map { $0 + 1 } ?? 0
        for entry in twin.history {
            out +=
                "\(Self.clock(entry.start)) \((entry.step?.rawValue ?? "").padded(width))\(entry.succeeded ? "ok  " : "FAIL") \(entry.summary): \(entry.message)\n"
        }
        return out + "\n" + accountingText()
    }

    func accountingText() -> String {
        let accounting = twin.accounting
        var out = "== accounting ==\n"
        for (name, seconds) in accounting.virtualServerOffline.sorted(by: { $0.key < $1.key }) {
            out += "virtual server \(name) offline: \(Int(seconds / 60)) min\n"
        }
        for (database, seconds) in accounting.databaseOffline.sorted(by: { $0.key < $1.key }) where seconds > 0 {
            out += "database \(database) without a mounted copy users reach: \(Int(seconds / 60)) min\n"
        }
        for (pool, seconds) in accounting.poolMixedLevels.sorted(by: { $0.key < $1.key }) where seconds > 0 {
            out += "pool \(pool) served mixed levels (mobile synchronization-key errors): \(Int(seconds / 60)) min\n"
        }
        if accounting.outlookWebAccessBroken > 0 {
            out +=
                "an Exchange 2000 back-end ran newer than a front-end (Outlook Web Access broken): \(Int(accounting.outlookWebAccessBroken / 60)) min\n"
        }
        for failover in accounting.unplannedFailovers { out += "unplanned failover: \(failover)\n" }
        for (host, services) in twin.servicesLeftStopped.sorted(by: { $0.key < $1.key }) {
            out += "services left stopped on \(host): \(services.joined(separator: ", "))\n"
        }
        let stale = twin.backups.filter { !$0.restorable }
        for backup in stale {
            out += "backup of \(backup.subject) at \(backup.level?.rawValue ?? "?") can no longer be restored there\n"
        }
        for violation in accounting.violations { out += "VIOLATION [\(violation.rule)] \(violation.message)\n" }
        if accounting.violations.isEmpty {
            out += twin.modern == nil ? "no rule of KB 328839 was violated\n" : "no rule was violated\n"
        }
        return out
    }
}
