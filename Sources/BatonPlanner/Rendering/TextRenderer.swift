import BatonPlan

/// The default output of `baton plan`: phases, each step with why and rules, the estimate,
/// the rollback path and the warnings, for a person at a terminal.
struct TextRenderer {
    let plan: Plan

    func render() -> String {
        var out = "Plan for \(plan.organization): \(plan.headline)\n"
        if let estimate = plan.estimate, !plan.steps.isEmpty {
            out +=
                "\(plan.steps.count) steps; about \(humanDuration(estimate.makespanSeconds)) from start to end, \(humanDuration(estimate.workSeconds)) of work.\n"
        }
        if plan.packages != nil {
            out += "\n== packages ==\n" + plan.packageLines.map { $0 + "\n" }.joined()
            if plan.warnings.contains(where: { $0.message.hasPrefix("Left alone:") }) {
                out += "Left alone: see the warnings.\n"
            }
        }
        let phases = Phases(plan)
        for name in phases.names {
            out += "\n== \(name) ==\n"
            for step in phases.steps[name]! {
                out += "\(step.id.rawValue.padded(5)) \(step.summary)\n"
                if !step.after.isEmpty { out += "      after: \(step.after.joined(separator: ", "))\n" }
                out += "      why: \(step.why)\n"
                out += "      rules: \(step.rules.map(\.rawValue).joined(separator: ", "))\n"
            }
        }
        if let estimate = plan.estimate, !plan.steps.isEmpty {
            out += "\n== estimate ==\n"
            out += "Start to end: \(humanDuration(estimate.makespanSeconds)) (\(estimate.assumptions))\n"
            for evs in estimate.virtualServers {
                out += "Virtual server \(evs.name) offline: \(humanDuration(evs.downtimeSeconds))\n"
            }
            for edge in estimate.inboundMail ?? [] {
                out += "Internet mail through \(edge.name), its site's only Edge server, stops: \(humanDuration(edge.downtimeSeconds))\n"
            }
            for pool in estimate.pools where pool.membersOut > 0 {
                out +=
                    "Pool \(pool.name): \(pool.membersOut) of \(pool.members) members out over \(humanDuration(pool.windowSeconds)); no member serving for \(humanDuration(pool.fullyOutSeconds))\n"
            }
        }
        if !plan.steps.isEmpty {
            out += "\n== rollback ==\n" + plan.rollbackPath.joined(separator: "\n") + "\n"
        }
        if !plan.warnings.isEmpty {
            out += "\n== warnings ==\n"
            for warning in plan.warnings { out += "[\(warning.rule)] \(warning.message)\n" }
        }
        return out
    }
}

extension String {
    /// The text, padded with spaces to `width` columns for tables.
    public func padded(_ width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
