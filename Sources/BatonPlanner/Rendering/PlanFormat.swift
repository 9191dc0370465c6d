import BatonModel
import BatonPlan
import Foundation

/// The output formats of `baton plan` (docs/plan.md).
public enum PlanFormat: String, Sendable, CaseIterable {
    case text, json, markdown, dot, mermaid

    public func render(_ plan: Plan) -> String {
        switch self {
        case .text: TextRenderer(plan: plan).render()
        case .json: JSONRenderer.render(plan)
        case .markdown: MarkdownRenderer(plan: plan).render()
        case .dot: GraphRenderer(plan: plan).dot()
        case .mermaid: GraphRenderer(plan: plan).mermaid()
        }
    }
}

/// Steps grouped by phase in the order phases first appear.
struct Phases {
    let names: [String]
    let steps: [String: [Step]]

    init(_ plan: Plan) {
        var names: [String] = []
        var steps: [String: [Step]] = [:]
        for step in plan.steps {
            if steps[step.phase] == nil { names.append(step.phase) }
            steps[step.phase, default: []].append(step)
        }
        self.names = names
        self.steps = steps
    }
}

/// "2 h 05 min", "45 min", "30 s".
public func humanDuration(_ seconds: Int) -> String {
    if seconds < 60 { return "\(seconds) s" }
    let minutes = (seconds + 30) / 60
    if minutes < 60 { return "\(minutes) min" }
    let rest = minutes % 60
    return "\(minutes / 60) h " + (rest < 10 ? "0\(rest)" : "\(rest)") + " min"
}

extension Plan {
    /// What the package does, in one line.
    public var headline: String {
        if let target, let packages {
            let servers = Set(packages.flatMap(\.servers)).count
            return "--to \(target): each server its own newest update (\(packages.count) package\(packages.count == 1 ? "" : "s") for \(servers) server\(servers == 1 ? "" : "s"))"
                + (limit.map { ", limited to \($0.joined(separator: ","))" } ?? "")
        }
        var text = "\(package.id) (\(package.kind.rawValue) for \(package.product)"
        if let level = package.level { text += ", to \(level.displayName)" }
        if let requires = package.requires { text += ", requires \(requires.rawValue)" }
        if let build = package.build { text += ", build \(build)" }
        return text + ")" + (limit.map { ", limited to \($0.joined(separator: ","))" } ?? "")
    }

    /// For a plan toward a target, one line per package: what it is and which servers get it.
    public var packageLines: [String] {
        (packages ?? []).map { assignment in
            let package = assignment.package
            let shown = assignment.servers.prefix(12).map(\.spelling).joined(separator: ", ")
                + (assignment.servers.count > 12 ? " and \(assignment.servers.count - 12) more" : "")
            return "\(package.id) (\(package.kind.rawValue)\(package.build.map { ", build \($0)" } ?? "")): \(shown)"
        }
    }

    /// The way back, as rule `no-uninstall` says it must be printed.
    public var rollbackPath: [String] {
        switch package.kind {
        case .cumulativeUpdate:
            return [
                "A cumulative update cannot be uninstalled (rule mx-cu-no-uninstall): uninstalling removes Exchange. To go back:",
                "1. Rebuild the server: reinstall Windows and run setup /Mode:RecoverServer with the earlier cumulative update's media.",
                "2. Reseed its database copies from a healthy copy, or restore them from the backups taken in the prepare phase.",
                "3. If Active Directory was prepared, it stays prepared: the earlier build runs against it.",
            ]
        case .securityUpdate:
            return [
                "A security update can be uninstalled (rule mx-su-uninstall): from an elevated prompt, remove it under Installed Updates on each server (in maintenance mode), restart, and check the build is the cumulative update's again."
            ]
        case .servicePack, .hotfix: break
        }
        guard package.kind == .servicePack else {
            return [
                "A hotfix is removed as its release notes say; restore from the backups this plan takes first if that fails."
            ]
        }
        return [
            "A service pack cannot be uninstalled (rule no-uninstall). To go back to the earlier level:",
            "1. Uninstall Exchange from the server.",
            "2. Reinstall Exchange at the original level (and its earlier service pack).",
            "3. Restore the Exchange databases and the system state (the server's and the domain controllers') from the backups taken in the prepare phase.",
            "Backups taken before the service pack cannot be restored onto a server at the new level.",
        ]
    }
}
