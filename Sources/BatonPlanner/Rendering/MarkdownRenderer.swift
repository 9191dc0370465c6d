import BatonPlan

/// `baton plan --format markdown`: the plan as a document for a change ticket.
struct MarkdownRenderer {
    let plan: Plan

    func render() -> String {
        var out = "# Plan for \(plan.organization)\n\n**Package:** \(escape(plan.headline))\n\n"
        if let estimate = plan.estimate, !plan.steps.isEmpty {
            out +=
                "**Steps:** \(plan.steps.count) · **Start to end:** \(humanDuration(estimate.makespanSeconds)) · **Work:** \(humanDuration(estimate.workSeconds))\n"
        }
        if plan.packages != nil {
            out += "\n## Packages\n\n" + plan.packageLines.map { "- \(escape($0))\n" }.joined()
        }
        let phases = Phases(plan)
        for name in phases.names {
            out += "\n## \(escape(name))\n\n| id | step | after | why | rules |\n|---|---|---|---|---|\n"
            for step in phases.steps[name]! {
                out +=
                    "| \(step.id) | \(escape(step.summary)) | \(step.after.joined(separator: ", ")) | \(escape(step.why)) | \(step.rules.map { "`\($0)`" }.joined(separator: " ")) |\n"
            }
        }
        if let estimate = plan.estimate, !plan.steps.isEmpty {
            out += "\n## Estimate\n\n\(estimate.assumptions)\n\n"
            if !estimate.virtualServers.isEmpty {
                out += "| virtual server | offline |\n|---|---|\n"
                for evs in estimate.virtualServers {
                    out += "| \(evs.name) | \(humanDuration(evs.downtimeSeconds)) |\n"
                }
            }
            if let inbound = estimate.inboundMail {
                out += "\n| only Edge server of its site | Internet mail stops |\n|---|---|\n"
                for edge in inbound { out += "| \(edge.name) | \(humanDuration(edge.downtimeSeconds)) |\n" }
            }
            let pools = estimate.pools.filter { $0.membersOut > 0 }
            if !pools.isEmpty {
                out += "\n| pool | members out | window | no member serving |\n|---|---|---|---|\n"
                for pool in pools {
                    out +=
                        "| \(pool.name) | \(pool.membersOut) of \(pool.members) | \(humanDuration(pool.windowSeconds)) | \(humanDuration(pool.fullyOutSeconds)) |\n"
                }
            }
        }
        if !plan.steps.isEmpty {
            out += "\n## Rollback\n\n" + plan.rollbackPath.map { escape($0) }.joined(separator: "\n") + "\n"
        }
        if !plan.warnings.isEmpty {
            out += "\n## Warnings\n\n"
            for warning in plan.warnings { out += "- `\(warning.rule)`: \(escape(warning.message))\n" }
        }
        return out
    }

    func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
    }
}
