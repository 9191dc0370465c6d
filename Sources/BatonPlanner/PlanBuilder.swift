import BatonPlan
import BatonKnowledge
import BatonModel

/// Accumulates steps in creation order, numbering them `s1`, `s2`, … . Every `after` names
/// earlier steps only, so the creation order is a topological order and the graph cannot
/// have a cycle.
struct PlanBuilder {
    private(set) var steps: [Step] = []
    private(set) var warnings: [Plan.Warning] = []
    var phase = "prepare"
    /// Each distinct list of rules, kept once: every step has one, most of a large
    /// organization's steps repeat a few dozen lists, and shared copies cost no memory.
    /// (Sentences of why are not: most name their machine, and finding the few repeated ones
    /// cost a twentieth of planning 100,000 servers to save 4 % of its memory.)
    private var ruleLists: Set<[Rule.ID]> = []

    /// Room for the steps an organization of `machines` servers, nodes and virtual servers
    /// needs, made once: a plan of a million steps grown by doubling would hold its old and new
    /// copies at once. Room not used is never written, so it costs no memory.
    init(machines: Int = 0) {
        steps.reserveCapacity(Self.stepsPerMachine * machines + 256)
    }

    /// About the most steps one machine's procedure makes (a DAG member's is about 20); a plan
    /// that needs more grows as any list does.
    static let stepsPerMachine = 24

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
        step.rules = Self.interned(step.rules, in: &ruleLists)
        if let wait = SettleSpec.defaults[step.action.rawValue] { step.why += " " + wait.sentence }
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

    /// Makes the step numbered `step` wait for the one numbered `predecessor` as well, with a
    /// rule and a sentence of why. `predecessor` comes first in creation order, so the creation
    /// order stays a topological order.
    /// When the plan already has `step` wait for `predecessor`, however indirectly, no edge is
    /// added; the rule and the reason are, so the step says every reason it waits.
    mutating func order(_ step: Int, after predecessor: Int, rule: Rule.ID, why: String) {
        precondition(predecessor < step, "an order between steps goes from an earlier step to a later one")
        var changed = steps[step - 1]
        if !waits(step, for: predecessor) {
            changed.after = (changed.after + [steps[predecessor - 1].id]).sorted { Self.number($0) < Self.number($1) }
        }
        if !changed.rules.contains(rule) { changed.rules = Self.interned(changed.rules + [rule], in: &ruleLists) }
        changed.why += " " + why
        steps[step - 1] = changed
    }

    /// Whether the step numbered `later` waits, through its predecessors, for the one numbered
    /// `earlier`. Predecessors are numbered lower, so the walk stops below `earlier`.
    func waits(_ later: Int, for earlier: Int) -> Bool {
        var seen = Set<Int>()
        var stack = [later]
        while let number = stack.popLast() {
            for id in steps[number - 1].after {
                let predecessor = Self.number(id)
                if predecessor == earlier { return true }
                if predecessor > earlier, seen.insert(predecessor).inserted { stack.append(predecessor) }
            }
        }
        return false
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

    /// The number of a step id `s1`, `s2`, …; 0 for an id of another form. Read byte by byte:
    /// a plan's estimate finds every step's predecessors by it.
    static func number(_ id: StepID) -> Int {
        var bytes = id.rawValue.utf8.makeIterator()
        guard bytes.next() == UInt8(ascii: "s") else { return 0 }
        var number = 0
        var digits = 0
        while let byte = bytes.next() {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte), digits < 18 else { return 0 }
            number = number * 10 + Int(byte - UInt8(ascii: "0"))
            digits += 1
        }
        return number
    }

    /// The copy of `value` already kept, or `value`, now kept (one lookup either way).
    static func interned<Value: Hashable>(_ value: Value, in table: inout Set<Value>) -> Value {
        table.insert(value).memberAfterInsert
    }
}

/// Where each step of a list is, by id. Plans number their steps `s1`, `s2`, … in order, so an
/// id's number gives its place without a table; steps numbered otherwise are looked up in one.
struct StepPositions {
    private let steps: [Step]
    private let table: [StepID: Int]?

    init(_ steps: [Step]) {
        self.steps = steps
        let numbered = steps.indices.allSatisfy { Self.numbered(steps[$0].id, $0) }
        table =
            numbered ? nil : Dictionary(steps.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    subscript(_ id: StepID) -> Int? {
        guard let table else {
            let index = PlanBuilder.number(id) - 1
            return steps.indices.contains(index) && steps[index].id == id ? index : nil
        }
        return table[id]
    }

    /// Whether `id` is `s` followed by `index + 1`.
    static func numbered(_ id: StepID, _ index: Int) -> Bool {
        PlanBuilder.number(id) == index + 1
    }
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
