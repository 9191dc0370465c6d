import BatonKnowledge
import BatonModel

/// Accumulates steps in creation order, numbering them `s1`, `s2`, … . Every `after` names
/// earlier steps only, so the creation order is a topological order and the graph cannot
/// have a cycle.
struct PlanBuilder {
    private(set) var steps: [Step] = []
    private(set) var warnings: [Plan.Warning] = []
    var phase = "prepare"

    /// Adds `step` after `after` (ids of earlier steps) and returns its id.
    @discardableResult
    mutating func add(_ step: Step, after: [StepID]) -> StepID {
        var step = step
        step.id = "s\(steps.count + 1)"
        if after.count <= 1 {
            step.after = after
        } else {
            step.after = Set(after).map { (id: $0, number: Self.number($0)) }.sorted { $0.number < $1.number }.map(\.id)
        }
        step.phase = phase
        steps.append(step)
        return step.id
    }

    /// A milestone joining many steps, so later steps need one edge instead of one per step
    /// (plans grow linearly with the organization). A single predecessor
    /// needs no milestone.
    mutating func join(_ name: String, _ ids: [StepID], rules: [Rule.ID], why: String) -> [StepID] {
        guard ids.count > 1 else { return ids }
        return [add(Step(.milestone(name: name), rules: rules, why: why), after: ids)]
    }

    mutating func warn(_ rule: Rule.ID, _ message: String) {
        warnings.append(Plan.Warning(rule: rule, message: message))
    }

    /// "Left alone: A, B … and 12 more REASON.": machines a package does not touch, a few
    /// lines for a large organization rather than one per server.
    mutating func warnLeftAlone(_ names: [HostName], _ reason: String, rule: Rule.ID) {
        let shown = names.prefix(8).joined(separator: ", ") + (names.count > 8 ? " and \(names.count - 8) more" : "")
        warn(rule, "Left alone: \(shown) \(reason).")
    }

    static func number(_ id: StepID) -> Int { Int(id.rawValue.dropFirst()) ?? 0 }
}

/// A sequence of steps on one host or cluster: each new step waits for the previous one.
struct Chain {
    private(set) var tail: [StepID]

    init(after: [StepID]) { tail = after }

    @discardableResult
    mutating func then(_ step: Step, in builder: inout PlanBuilder) -> StepID {
        let id = builder.add(step, after: tail)
        tail = [id]
        return id
    }
}
