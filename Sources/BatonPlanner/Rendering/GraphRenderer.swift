import BatonPlan

/// Pictures of the plan's graph: Graphviz DOT and Mermaid, one box per phase, so a person
/// can see what waits for what.
struct GraphRenderer {
    let plan: Plan

    func dot() -> String {
        var out = "digraph plan {\n  rankdir=LR;\n  node [shape=box, fontname=\"Helvetica\", fontsize=10];\n"
        out += "  label=\"\(quote("\(plan.organization): \(plan.package.id)"))\";\n"
        let phases = Phases(plan)
        for (index, name) in phases.names.enumerated() {
            out += "  subgraph cluster_\(index) {\n    label=\"\(quote(name))\";\n    style=rounded;\n"
            for step in phases.steps[name]! {
                out += "    \(step.id) [label=\"\(quote("\(step.id): \(step.summary)"))\"\(shape(step))];\n"
            }
            out += "  }\n"
        }
        for step in plan.steps {
            for before in step.after { out += "  \(before) -> \(step.id);\n" }
        }
        return out + "}\n"
    }

    func mermaid() -> String {
        var out = "flowchart TD\n"
        let phases = Phases(plan)
        for (index, name) in phases.names.enumerated() {
            out += "  subgraph phase\(index) [\"\(mermaidText(name))\"]\n"
            for step in phases.steps[name]! {
                let label = mermaidText("\(step.id): \(step.summary)")
                switch step.action {
                case .milestone: out += "    \(step.id){{\"\(label)\"}}\n"
                case .approve: out += "    \(step.id)[/\"\(label)\"/]\n"
                default: out += "    \(step.id)[\"\(label)\"]\n"
                }
            }
            out += "  end\n"
        }
        for step in plan.steps {
            for before in step.after { out += "  \(before) --> \(step.id)\n" }
        }
        return out
    }

    func shape(_ step: Step) -> String {
        switch step.action {
        case .milestone: ", shape=diamond"
        case .approve: ", shape=house"
        case .install: ", style=bold"
        default: ""
        }
    }

    func quote(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }

    func mermaidText(_ text: String) -> String {
        text.replacingOccurrences(of: "\"", with: "#quot;").replacingOccurrences(of: "\\", with: "#92;")
    }
}
