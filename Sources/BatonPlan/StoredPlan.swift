import Foundation

/// A plan as a journal keeps it: the plan without its steps, and each step's JSON on its own,
/// so that resuming a run reads and decodes only the steps it still needs.
public struct StoredPlan: Sendable {
    /// The plan's JSON with an empty list of steps.
    public var header: String
    /// Each step's JSON object, in the plan's order.
    public var steps: [String]

    public init(_ plan: Plan) {
        var bare = plan
        bare.steps = []
        header = JSONRenderer.render(bare)
        steps = JSONWriter.steps(plan)
    }

    /// The plan again from its header and the JSON of the steps wanted, in order. A header that
    /// holds steps itself is a plan kept whole (by an earlier Baton): it is the plan.
    public static func assemble(header: String, steps: [String]) throws -> Plan {
        var plan = try JSONRenderer.decode(header)
        guard plan.steps.isEmpty, !steps.isEmpty else { return plan }
        plan.steps = try decodeSteps(steps)
        return plan
    }

    /// Steps from their JSON objects, decoded as one array.
    public static func decodeSteps(_ steps: [String]) throws -> [Step] {
        var data = Data(capacity: steps.reduce(2) { $0 + $1.utf8.count + 1 })
        data.append(UInt8(ascii: "["))
        for (index, step) in steps.enumerated() {
            if index > 0 { data.append(UInt8(ascii: ",")) }
            data.append(contentsOf: step.utf8)
        }
        data.append(UInt8(ascii: "]"))
        return try JSONDecoder().decode([Step].self, from: data)
    }
}
