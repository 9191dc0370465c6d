import BatonModel
import Foundation
import PropertyBased
import Testing

/// The parser's budget: keys are plain words, nesting and alias expansion are bounded, so no
/// YAML text can make loading an inventory hang or fill memory.
@Suite("YAML budget")
struct YAMLBudgetTests {
    /// `levels` anchors of `width` aliases each, the last one placed by `use`.
    static func bomb(levels: Int, width: Int, flow: Bool, use: (String) -> String) -> String {
        var lines = ["organization: x", "servers:"]
        let first = Array(repeating: "a", count: width)
        lines.append(
            flow
                ? "  - &x0 [\(first.joined(separator: ","))]"
                : "  - &x0\n" + first.map { "    - \($0)" }.joined(separator: "\n"))
        for level in 1..<levels {
            let aliases = Array(repeating: "*x\(level - 1)", count: width)
            lines.append(
                flow
                    ? "  - &x\(level) [\(aliases.joined(separator: ","))]"
                    : "  - &x\(level)\n" + aliases.map { "    - \($0)" }.joined(separator: "\n"))
        }
        lines.append(use("*x\(levels - 1)"))
        return lines.joined(separator: "\n") + "\n"
    }

    static func problems(_ text: String) -> [InventoryError] {
        do {
            _ = try InventoryLoader.parse(text: text, file: "bomb.yaml")
            return []
        } catch {
            return error.errors
        }
    }

    @Test("the alias bomb used as a flow mapping key is refused, located", .timeLimit(.minutes(5)))
    func flowKeyBomb() {
        let text = Self.bomb(levels: 9, width: 10, flow: true) { "hosts: { ? \($0)\n  : y }" }
        let found = Self.problems(text)
        #expect(found.count == 1, "\(found)")
        #expect(found.first?.location.file == "bomb.yaml")
        #expect((found.first?.location.line ?? 0) > 1)
        #expect(found.first?.message.contains("aliases here stand for more than") == true, "\(found)")
    }

    @Test("keys that are aliases, lists or mappings are refused however they are written")
    func complexKeys() {
        let shapes: [(String, String)] = [
            ("x: &a [1]\ny: { *a : 1 }", "an alias used as a key"),
            ("x: &a [1]\ny: { ? *a : 1 }", "an alias used as a key"),
            ("x: &a [1]\n? *a\n: 1", "an alias used as a key"),
            ("x: &a [1]\n*a : 1", "an alias used as a key"),
            ("x: &a [1]\ny:\n  ? !!seq *a\n  : 1", "YAML syntax"),
            ("y: { [a, b]: 1 }", "a list used as a key"),
            ("? - a\n  - b\n: 1", "a list used as a key"),
            ("? {a: b}\n: 1", "a mapping used as a key"),
            ("y:\n  ? !!map {a: b}\n  : 1", "a mapping used as a key"),
            ("[a, b]: 1", "a list used as a key"),
        ]
        for (shape, message) in shapes {
            let found = Self.problems("organization: x\n" + shape + "\n")
            #expect(found.count == 1 && found[0].message.hasPrefix(message), "\(shape): \(found)")
            #expect(found.first.map { $0.location.line >= 2 && $0.location.column >= 1 } == true, "\(shape)")
        }
    }

    @Test("generated alias bombs and key shapes: refused, located, never a hang", .timeLimit(.minutes(5)))
    func fuzzShapes() {
        // Seeded, so a failing round can be replayed.
        var generator = Xoshiro(seed: (2026, 11, 28, 1))
        let uses: [(String) -> String] = [
            { "clusters: \($0)" },
            { "hosts: { \($0): y }" },
            { "hosts: { ? \($0) : y }" },
            { "hosts:\n  ? \($0)\n  : y" },
            { "hosts:\n  \($0) : y" },
            { "hosts: !!map { ? !!seq \($0) : y }" },
            { "servers-again: [\($0), \($0)]" },
            { "x:\n  - - - \($0)" },
        ]
        for round in 0..<400 {
            let levels = Int.random(in: 2...12, using: &generator)
            let width = Int.random(in: 2...12, using: &generator)
            let flow = Bool.random(using: &generator)
            let use = uses[Int.random(in: 0..<uses.count, using: &generator)]
            let text = Self.bomb(levels: levels, width: width, flow: flow, use: use)
            let found = Self.problems(text)
            #expect(!found.isEmpty, "round \(round) accepted")
            #expect(found.allSatisfy { $0.location.line >= 1 && $0.location.column >= 1 }, "round \(round)")
        }
    }

    @Test("nesting deeper than the budget is refused at the level that goes too deep")
    func depth() {
        let found = Self.problems("organization: x\nx: " + String(repeating: "[", count: 200) + "\n")
        #expect(found.first?.message.contains("levels deep") == true, "\(found)")
        #expect(found.first?.location.line == 2)
    }

    @Test("a UTF-8 byte-order mark (as Notepad writes) is accepted")
    func byteOrderMark() throws {
        let example = Fixture.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/contoso.yaml")
        let bytes = [0xEF, 0xBB, 0xBF] + Array(try Data(contentsOf: example))
        let inventory = try InventoryLoader.parse(bytes: bytes, file: "contoso.yaml")
        #expect(inventory.organization == "contoso")
    }

    @Test("ordinary anchors still load")
    func ordinaryAnchors() throws {
        let text = """
            organization: Fabrikam
            servers:
              - {name: MAIL1, product: &product exchange-2003, level: &level sp1, os: &os windows-2003}
              - {name: MAIL2, product: *product, level: *level, os: *os}
            """
        let inventory = try InventoryLoader.parse(text: text, file: "anchors.yaml")
        #expect(inventory.servers.map(\.name).sorted() == ["MAIL1", "MAIL2"])
    }
}
