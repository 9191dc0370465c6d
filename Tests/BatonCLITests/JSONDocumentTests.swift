import Foundation
import Testing

/// docs/json.md shows each JSON output of the command line; the binary must agree with it:
/// every field the page shows is in the output, and the output has no top-level field the
/// page leaves out.
@Suite("docs/json.md and the binary agree")
struct JSONDocumentTests {
    /// (command, example) pairs: a "### `baton …`" heading, then its ```json block.
    static func examples() throws -> [(String, Any)] {
        let text = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("docs/json.md"), encoding: .utf8)
        var examples: [(String, Any)] = []
        var rest = text[...]
        while let heading = rest.range(of: "### `baton "), let end = rest[heading.upperBound...].range(of: "`\n"),
            let open = rest[end.upperBound...].range(of: "```json\n"),
            let close = rest[open.upperBound...].range(of: "\n```")
        {
            let command = "baton " + rest[heading.upperBound..<end.lowerBound]
            let json = try JSONSerialization.jsonObject(with: Data(rest[open.upperBound..<close.lowerBound].utf8))
            examples.append((String(command), json))
            rest = rest[close.upperBound...]
        }
        return examples
    }

    /// Every key path of a value, lists standing for their first entry.
    static func paths(_ value: Any, _ prefix: String = "") -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set<String>()) { paths, entry in
                paths.insert(prefix + entry.key)
                paths.formUnion(Self.paths(entry.value, prefix + entry.key + "."))
            }
        }
        if let list = value as? [Any], let first = list.first { return paths(first, prefix + "[].") }
        return []
    }

    static func topLevel(_ value: Any) -> Set<String> {
        if let object = value as? [String: Any] { return Set(object.keys) }
        if let list = value as? [Any], let first = list.first as? [String: Any] { return Set(first.keys) }
        return []
    }

    @Test("every documented JSON output has the fields the page shows, and no others at the top")
    func agree() throws {
        let examples = try Self.examples()
        #expect(examples.count == 11, "\(examples.map(\.0))")
        let folder = try BatonProcess.UserFolder("json-docs")
        defer { folder.remove() }
        let shell = folder.shell
        let run = try shell("baton run examples/e2003-two-node-cluster.yaml --package exchange-2003-sp2 --yes")
        #expect(run.status == 0)
        for (command, example) in examples {
            let result = try shell(command)
            let output = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
            let missing = Self.paths(example).subtracting(Self.paths(output))
            #expect(missing.isEmpty, "\(command): the page shows \(missing.sorted()) that the output lacks")
            let undocumented = Self.topLevel(output).subtracting(Self.topLevel(example))
            #expect(undocumented.isEmpty, "\(command): the output has \(undocumented.sorted()) the page lacks")
        }
    }
}
