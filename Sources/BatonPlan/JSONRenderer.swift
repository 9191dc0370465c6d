import Foundation

/// The plan format: the same inventory and package always give the same bytes, so keys are
/// sorted and nothing depends on hashing order.
public enum JSONRenderer {
    public static func render(_ plan: Plan) -> String {
        JSONWriter.render(plan)
    }

    /// The same bytes as `render`, handed to `output` a megabyte at a time as they are written
    /// (a long plan's steps on two threads, `batch` steps at a time, handed on in order; the
    /// batch is about a megabyte unless given).
    public static func write(
        _ plan: Plan, batch: Int? = nil, to output: @escaping @Sendable (UnsafeRawBufferPointer) -> Void
    ) {
        JSONWriter.write(plan, batch: batch ?? JSONWriter.batch, to: output)
    }

    /// The same document through Foundation's `JSONEncoder`: the reference the hand-written
    /// writer is tested against.
    public static func renderWithFoundation(_ plan: Plan) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(plan), let text = String(data: data, encoding: .utf8) else {
            return "{}\n"
        }
        return text + "\n"
    }

    public static func decode(_ text: String) throws -> Plan {
        try JSONDecoder().decode(Plan.self, from: Data(text.utf8))
    }
}
