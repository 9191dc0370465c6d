import BatonEngine
import BatonKnowledge
import BatonModel
import BatonPlan
import Foundation

/// What happened in a run, for the change record: versions before and after, downtime,
/// failovers, checks, backups, approvals and the way back.
public struct RunReport: Sendable, Codable {
    public struct Machine: Sendable, Codable { var name, before, after: String; var up: Bool }
    public struct VirtualServer: Sendable, Codable {
        var name, before, after, owner: String; var online: Bool; var offlineMinutes: Int
    }
    public struct StepLine: Sendable, Codable { var step, subject, state, message: String }
    /// One failed attempt of a step, kept when a later attempt succeeded: when, the message and
    /// the rule behind it, and what came after (who resumed the run, how the step ended).
    public struct Failure: Sendable, Codable {
        var step, subject, state, message, at: String
        var attempt: Int
        var rule: String?
        var then: String
    }
    public struct Backup: Sendable, Codable { var subject, level, contents: String; var restorable: Bool }
    /// Exchange 2013 and later: where a database is mounted at the end, its preferred copy
    /// (the same once rebalanced) and its minutes without a mounted copy users could reach.
    public struct Database: Sendable, Codable {
        var name, mountedOn, preferred: String
        var offlineMinutes: Int
    }
    /// Who approved a gate (the `--by` or token name, and the operating-system user), how
    /// (`--yes`, `terminal`, `baton approve`, `api`) and when.
    public struct Approval: Sendable, Codable { public var gate, by, how, user, at: String }
    /// Something a person did to the run: started, resumed or aborted it.
    public struct AuditEntry: Sendable, Codable { public var action, by, at: String }

    public var run, organization, package, state: String
    /// The package's id (`package` describes it for a person).
    public var packageId: String
    public var steps: [String: Int]
    public var machines: [Machine]
    public var virtualServers: [VirtualServer]
    /// Every failed attempt, in the order they happened, also those a resume got past.
    public var failures: [Failure]
    /// The plan's reasons when it had nothing to do (no server needed the package); nil
    /// otherwise.
    public var nothingToDo: [String]?
    public var versionChecks: [StepLine]
    public var failoverTests: [StepLine]
    public var unplannedFailovers: [String]
    /// What else users noticed: pools serving mixed levels, Outlook Web Access broken,
    /// services left stopped.
    public var userImpact: [String]
    public var backups: [Backup]
    /// Exchange 2013 and later: each database of the DAGs.
    public var databases: [Database]
    /// Exchange 2013 and later: servers not back in service at the end (draining, in
    /// maintenance mode or offline), each with its state; empty when every one left
    /// maintenance mode.
    public var outOfService: [String]
    public var approvals: [Approval]
    /// Who started, resumed and aborted the run, and when.
    public var audit: [AuditEntry]
    public var violations: [String]
    public var rollback: [String]
    /// A saved plan's SHA-256 (`baton plan … --out`): the run ran exactly that plan, and its
    /// approvals are of it; nil for a plan made when the run started.
    public var planDigest: String?
    /// `lab` when the lab twin watched the run (and so accounts for machines, downtime and
    /// rule violations), `hosts` when real hosts carried it out.
    public var target: String

    public init(
        record: RunRecord, plan: Plan, steps: [StepRecord], transitions: [Transition] = [],
        approvals: [ApprovalRecord], audit: [(action: String, by: String, at: Double)] = [], twin: LabTwin?
    ) {
        // Real hosts: what the twin would tell (builds, owners, downtime, backups) is known
        // only from the steps' own messages (version checks, failover tests, failures).
        target = twin == nil ? "hosts" : "lab"
        let twin = twin ?? LabTwin(inventory: Inventory(organization: record.organization))
        run = record.id.rawValue
        organization = record.organization
        package = plan.headline
        planDigest = plan.digest
        packageId = record.package.spelling
        state = record.state.rawValue
        self.steps = Dictionary(grouping: steps, by: \.state.rawValue).mapValues(\.count)
        let byID = Dictionary(uniqueKeysWithValues: plan.steps.map { ($0.id, $0) })
        machines = twin.hosts.values.filter { $0.product != nil }.sorted { $0.name.spelling < $1.name.spelling }.map {
            Machine(
                name: $0.name.spelling, before: record.before[$0.name.spelling] ?? "-", after: $0.build ?? "-",
                up: $0.up)
        }
        virtualServers = twin.groups.values.filter(\.isVirtualServer).sorted { $0.name.spelling < $1.name.spelling }.map
        { group in
            VirtualServer(
                name: group.name.spelling, before: record.before[group.name.spelling] ?? "-",
                after: group.product.flatMap { product in group.level.flatMap { Builds.build(product, $0) } } ?? "-",
                owner: group.owner.spelling, online: group.isOnline,
                offlineMinutes: Int((twin.accounting.virtualServerOffline[group.name.spelling] ?? 0) / 60))
        }
        func lines(_ action: Action?, _ states: Set<StepState>) -> [StepLine] {
            steps.filter { record in
                states.contains(record.state) && (action == nil || byID[record.id]?.action == action)
            }.map { record in
                let step = byID[record.id]
                return StepLine(
                    step: record.id.rawValue, subject: (step?.host ?? step?.group)?.spelling ?? step?.summary ?? "",
                    state: record.state.rawValue,
                    message: record.message)
            }
        }
        let formatter = ISO8601DateFormatter()
        failures = Self.failures(
            transitions, steps: steps, plan: byID, audit: audit, formatter: formatter,
            stillFailed: lines(nil, [.failed]))
        nothingToDo = plan.steps.contains(where: \.takesSlot) ? nil : plan.warnings.map(\.message)
        versionChecks = lines(.verifyVersion, Set(StepState.allCases))
        failoverTests = lines(.failoverTest, Set(StepState.allCases))
        unplannedFailovers = twin.accounting.unplannedFailovers
        var impact: [String] = []
        for (pool, seconds) in twin.accounting.poolMixedLevels.sorted(by: { $0.key < $1.key }) where seconds > 0 {
            impact.append(
                "pool \(pool) served mixed levels (mobile synchronization-key errors) for \(Int(seconds / 60)) min")
        }
        if twin.accounting.outlookWebAccessBroken > 0 {
            impact.append(
                "an Exchange 2000 back-end ran newer than a front-end (Outlook Web Access broken) for \(Int(twin.accounting.outlookWebAccessBroken / 60)) min"
            )
        }
        for (host, services) in twin.servicesLeftStopped.sorted(by: { $0.key < $1.key }) {
            impact.append("services left stopped on \(host): \(services.joined(separator: ", "))")
        }
        userImpact = impact
        backups = twin.backups.map {
            Backup(
                subject: $0.subject.spelling, level: $0.level?.rawValue ?? "-",
                contents: $0.what.joined(separator: ", "),
                restorable: $0.restorable)
        }
        self.approvals = approvals.map {
            Approval(
                gate: $0.gate, by: $0.by, how: $0.how.rawValue, user: $0.user,
                at: formatter.string(from: Date(timeIntervalSince1970: $0.at)))
        }
        self.audit = audit.map {
            AuditEntry(action: $0.action, by: $0.by, at: formatter.string(from: Date(timeIntervalSince1970: $0.at)))
        }
        let modern = twin.modern
        databases = (modern?.databases.values.sorted { $0.name < $1.name } ?? []).map {
            Database(
                name: $0.name, mountedOn: $0.mounted?.spelling ?? "dismounted",
                preferred: $0.copies.first?.spelling ?? "-",
                offlineMinutes: Int((twin.accounting.databaseOffline[$0.name] ?? 0) / 60))
        }
        outOfService = (modern?.servers ?? [:]).filter { !$0.value.inService }.sorted { $0.key < $1.key }.map {
            "\(twin.hosts[$0.key]?.name ?? $0.key): \($0.value.state)"
        }
        violations = twin.accounting.violations.map { "[\($0.rule)] \($0.message)" }
        rollback = plan.rollbackPath
    }

    /// Each failed attempt the journal recorded, with what came after it: the next time the
    /// run was resumed (and by whom) and how the step ended. A run from before failures were
    /// kept as transitions has only its steps still failed.
    static func failures(
        _ transitions: [Transition], steps: [StepRecord], plan: [StepID: Step],
        audit: [(action: String, by: String, at: Double)], formatter: ISO8601DateFormatter, stillFailed: [StepLine]
    ) -> [Failure] {
        let finalState = Dictionary(steps.map { ($0.id, $0.state) }, uniquingKeysWith: { first, _ in first })
        var attempts: [StepID: Int] = [:]
        var failures: [Failure] = []
        for transition in transitions {
            guard let id = transition.step else { continue }
            if transition.state == StepState.running.rawValue { attempts[id, default: 0] += 1 }
            guard transition.state == StepState.failed.rawValue else { continue }
            let step = plan[id]
            var then: [String] = []
            if let resume = audit.first(where: { $0.action == "resumed" && $0.at >= transition.at }) {
                then.append(
                    "resumed by \(resume.by) at \(formatter.string(from: Date(timeIntervalSince1970: resume.at)))")
            }
            switch finalState[id] {
            case .succeeded: then.append("the step succeeded later")
            case .failed: then.append("the step is still failed")
            default: break
            }
            failures.append(
                Failure(
                    step: id.rawValue, subject: (step?.host ?? step?.group)?.spelling ?? step?.summary ?? "",
                    state: "failed", message: transition.message,
                    at: formatter.string(from: Date(timeIntervalSince1970: transition.at)),
                    attempt: max(1, attempts[id] ?? 1), rule: transition.rule?.rawValue,
                    then: then.joined(separator: "; ")))
        }
        if failures.isEmpty {
            return stillFailed.map {
                Failure(
                    step: $0.step, subject: $0.subject, state: $0.state, message: $0.message, at: "", attempt: 1,
                    rule: nil, then: "the step is still failed")
            }
        }
        return failures
    }

    /// Sections as (title, header, rows), shared by the text, markdown and HTML renderings.
    var sections: [(String, [String], [[String]])] {
        [
            (
                "Machines", ["machine", "before", "after", "state"],
                machines.map { [$0.name, $0.before, $0.after, $0.up ? "up" : "DOWN"] }
            ),
            (
                "Virtual servers", ["virtual server", "before", "after", "owner", "offline"],
                virtualServers.map {
                    [$0.name, $0.before, $0.after, $0.owner, $0.online ? "\($0.offlineMinutes) min" : "OFFLINE now"]
                }
            ),
            (
                "Databases", ["database", "mounted on", "preferred copy", "without a mounted copy"],
                databases.map { [$0.name, $0.mountedOn, $0.preferred, "\($0.offlineMinutes) min"] }
            ),
            ("Left out of service", ["server"], outOfService.map { [$0] }),
            (
                "Failures", ["step", "subject", "attempt", "at", "rule", "message", "then"],
                failures.map {
                    [$0.step, $0.subject, "\($0.attempt)", $0.at, $0.rule ?? "-", $0.message, $0.then]
                }
            ),
            (
                "Version checks", ["step", "subject", "state", "message"],
                versionChecks.map { [$0.step, $0.subject, $0.state, $0.message] }
            ),
            (
                "Failover tests", ["step", "virtual server", "state", "message"],
                failoverTests.map { [$0.step, $0.subject, $0.state, $0.message] }
            ),
            ("Unplanned failovers", ["what happened"], unplannedFailovers.map { [$0] }),
            ("Also noticed", ["what"], userImpact.map { [$0] }),
            (
                "Backups", ["subject", "level", "contents", "restorable at the current level"],
                backups.map { [$0.subject, $0.level, $0.contents, $0.restorable ? "yes" : "NO"] }
            ),
            (
                "Approvals", ["gate", "by", "how", "user", "at"],
                approvals.map { [$0.gate, $0.by, $0.how, $0.user, $0.at] }
            ),
            ("Audit trail", ["action", "by", "at"], audit.map { [$0.action, $0.by, $0.at] }),
            ("Rule violations", ["violation"], violations.map { [$0] }),
        ]
    }

    public var headline: String {
        if let nothingToDo, state == RunState.completed.rawValue {
            let reasons = nothingToDo.isEmpty ? "no server needs the package" : nothingToDo.joined(separator: " ")
            return "Run \(run) of \(package) for \(organization): nothing to do: \(reasons)"
        }
        return "Run \(run) of \(package) for \(organization): \(state); "
            + steps.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
    }

    public func text() -> String {
        var out = headline + "\n"
        if let planDigest {
            out += "The saved plan sha256:\(planDigest), as reviewed; its approvals below are of that plan.\n"
        }
        for (title, header, rows) in sections where !rows.isEmpty {
            out += "\n== \(title.lowercased()) ==\n"
            let widths = header.indices.map { column in ([header[column]] + rows.map { $0[column] }).map(\.count).max()!
            }
            for row in [header] + rows {
                out +=
                    row.enumerated().map { $1.padded(widths[$0]) }.joined(separator: "  ").trimmingCharacters(
                        in: .whitespaces) + "\n"
            }
        }
        if target == "hosts" {
            out += "\nreal hosts: their builds are in the version checks; nothing watched them for rule violations\n"
        } else if violations.isEmpty {
            out += isModern ? "\nno rule was violated\n" : "\nno rule of KB 328839 was violated\n"
        }
        return out + "\n== rollback ==\n" + rollback.joined(separator: "\n") + "\n"
    }

    public func markdown() -> String {
        var out = "# \(Self.markdownEscaped(headline))\n"
        if let planDigest { out += "\nThe saved plan `sha256:\(planDigest)`, as reviewed; its approvals are of that plan.\n" }
        for (title, header, rows) in sections where !rows.isEmpty {
            out +=
                "\n## \(title)\n\n| " + header.joined(separator: " | ") + " |\n|" + header.map { _ in "---|" }.joined()
                + "\n"
            for row in rows {
                out += "| " + row.map(Self.markdownEscaped).joined(separator: " | ") + " |\n"
            }
        }
        return out + "\n## Rollback\n\n" + rollback.map(Self.markdownEscaped).joined(separator: "\n") + "\n"
    }

    /// Text as itself in Markdown: markup characters and HTML are escaped, line breaks folded,
    /// so a name or message cannot add a link, an image or a table cell.
    static func markdownEscaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "\\", "`", "*", "_", "[", "]", "(", ")", "#", "|", "!", "~": out += "\\\(character)"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\n", "\r": out += " "
            default: out.append(character)
            }
        }
        return out
    }

    public func html() -> String {
        func e(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
        }
        var out = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>\(e(headline))</title>
            <style>body{font:14px system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
            td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left}th{background:#f2f2f2}</style></head><body>
            <h1>\(e(headline))</h1>

            """
        for (title, header, rows) in sections where !rows.isEmpty {
            out += "<h2>\(e(title))</h2>\n<table><tr>" + header.map { "<th>\(e($0))</th>" }.joined() + "</tr>\n"
            for row in rows { out += "<tr>" + row.map { "<td>\(e($0))</td>" }.joined() + "</tr>\n" }
            out += "</table>\n"
        }
        return out + "<h2>Rollback</h2>\n<p>" + rollback.map(e).joined(separator: "<br>\n") + "</p>\n</body></html>\n"
    }
}

extension RunReport {
    /// Whether the package is one of Exchange 2013 or later, whose rules are not KB 328839's.
    var isModern: Bool {
        let products = ["exchange-2013", "exchange-2016", "exchange-2019", "exchange-se"]
        // A plan toward a target (--to) is always of Exchange 2013 and later.
        if package.hasPrefix("--to ") { return true }
        return PackageCatalogue.builtIn.first { $0.id == PackageID(packageId) }?.product?.isModern
            ?? products.contains { packageId.hasPrefix($0) }
    }
}
