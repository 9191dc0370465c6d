import Foundation
import PropertyBased
import Testing

@testable import BatonModel

/// A long inventory is parsed on a thread of its own while the tree is built: the tree, and
/// every error, must be the same as when it is parsed on one.
@Suite("YAML parsed on a thread of its own")
struct YAMLEventsTests {
    /// The tree as text, every value with where it starts, or the error.
    static func outcome(_ text: String, thread: Bool, batch: Int = YAMLEvents.batchSize) -> String {
        do {
            let root = try YAMLComposer.compose(text, file: "t.yaml", threadAbove: thread ? 0 : .max, batch: batch)
            return root.map(describe) ?? "no document"
        } catch {
            return "error: \(error)"
        }
    }

    static func describe(_ node: YAMLNode) -> String {
        let at = "@\(node.mark.line):\(node.mark.column)"
        switch node {
        case .scalar(let scalar): return "\(scalar.isPlain ? "" : "'")\(scalar.string)\(at)"
        case .sequence(let sequence): return "[" + sequence.items.map(describe).joined(separator: ",") + "]\(at)"
        case .mapping(let mapping):
            return "{" + mapping.pairs.map { describe($0.key) + ":" + describe($0.value) }.joined(separator: ",")
                + "}\(at)"
        }
    }

    @Test("every example, and mutations of them, give the same tree or the same error, in batches of any size")
    func examplesAndMutations() async {
        var texts = FuzzTests.seeds.map { String(decoding: $0, as: UTF8.self) }
        var generator = SplitMix64(seed: 328_839)
        for _ in 0..<300 {
            let mutation = FuzzTests.Mutation(
                seed: Int(generator.next() % 101), kind: Int(generator.next() % 6),
                position: Int(generator.next() % 100_000), other: Int(generator.next() % 100_000),
                token: Int(generator.next() % 256))
            texts.append(String(decoding: mutation.apply(FuzzTests.seeds), as: UTF8.self))
        }
        texts += [
            "x: &a [1]\ny: { *a : 1 }", "a: [1, 2", "a: b\n  c: d", "a: 1\na: 2", "x: *nowhere", "--- a\n--- b",
            String(repeating: "[", count: 100),
        ]
        var errors = 0
        for text in texts {
            let alone = Self.outcome(text, thread: false)
            if alone.hasPrefix("error:") { errors += 1 }
            for batch in [1, 2, 7, YAMLEvents.batchSize] {
                #expect(
                    Self.outcome(text, thread: true, batch: batch) == alone, "batches of \(batch): \(text.prefix(200))")
            }
            await Task.yield()
        }
        #expect(errors > 50)
    }

    @Test("a long inventory gives the same tree, and an error early, late or at its end stops both threads")
    func longText() {
        let text = SyntheticOrganization.yaml(servers: 2_000, clusters: 200)
        #expect(text.utf8.count > YAMLEvents.threadAbove)
        let cases = [
            text,
            // Refused at the first event that is read: the parsing thread is far ahead.
            "[a, b]: 1\n" + text,
            // Over the nesting budget halfway.
            text.replacingOccurrences(of: "servers:\n", with: "deep: \(String(repeating: "[", count: 70))\nservers:\n"),
            // A syntax error at the very end.
            text + "  - {name: [\n",
        ]
        for (number, text) in cases.enumerated() {
            let alone = Self.outcome(text, thread: false)
            #expect(Self.outcome(text, thread: true) == alone, "case \(number)")
            #expect(Self.outcome(text, thread: true, batch: 3) == alone, "case \(number)")
            #expect(
                number == 0 ? !alone.hasPrefix("error:") : alone.hasPrefix("error:"),
                "case \(number): \(alone.prefix(300))")
        }
    }
}
