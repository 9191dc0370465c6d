import BatonModel
import Foundation
import PropertyBased
import Testing

/// Inventory fuzzing: mutations of valid examples (bytes flipped, lines dropped, duplicated
/// or swapped, tokens replaced) must load or fail with located errors, never crash or hang.
@Suite("Inventory fuzzing")
struct FuzzTests {
    static let seeds: [[UInt8]] = {
        let examples = Fixture.directory.deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("examples")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []
        return names.filter { $0.hasSuffix(".yaml") }.sorted().compactMap {
            FileManager.default.contents(atPath: examples.appendingPathComponent($0).path).map(Array.init)
        }
    }()

    static let tokens = [
        ":", "- ", "[", "]", "{", "}", "&a ", "*a", "? ", "'", "\"", "\t", "\n", "  ", "#", "|", ">", "!!str ",
        "~", "null", "true", "sp9", "exchange-2003", "NODE1", "---", "%YAML 1.1\n", "\u{FEFF}", "\u{0}",
    ]

    struct Mutation: Sendable, CustomStringConvertible {
        var seed: Int, kind: Int, position: Int, other: Int, token: Int
        var description: String { "seed \(seed) kind \(kind) at \(position)/\(other) token \(token)" }

        func apply(_ seeds: [[UInt8]]) -> [UInt8] {
            var bytes = seeds[seed % seeds.count]
            guard !bytes.isEmpty else { return bytes }
            let at = position % bytes.count
            let to = other % bytes.count
            switch kind % 6 {
            case 0: bytes[at] ^= UInt8(truncatingIfNeeded: token + 1)
            case 1: bytes.insert(contentsOf: Array(FuzzTests.tokens[token % FuzzTests.tokens.count].utf8), at: at)
            case 2: bytes.removeSubrange(min(at, to)..<max(at, to))
            case 3:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
                lines.swapAt(at % lines.count, to % lines.count)
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            case 4:
                var lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map(Array.init)
                lines.insert(lines[at % lines.count], at: to % lines.count)
                bytes = Array(lines.joined(separator: [UInt8(ascii: "\n")]))
            default: bytes = Array(bytes[..<at])
            }
            return bytes
        }
    }

    static let mutation = zip(
        Gen.int(in: 0...100), Gen.int(in: 0...5), Gen.int(in: 0...100_000), Gen.int(in: 0...100_000),
        Gen.int(in: 0...255)
    )
    .map { Mutation(seed: $0, kind: $1, position: $2, other: $3, token: $4) }

    static let cases = Int(ProcessInfo.processInfo.environment["BATON_FUZZ_CASES"] ?? "") ?? 400

    @Test("mutated examples load or fail with located errors", .timeLimit(.minutes(5)))
    func mutatedExamples() async {
        let seeds = Self.seeds
        #expect(seeds.count >= 10)
        await propertyCheck(count: Self.cases, input: Self.mutation, Self.mutation) { first, second in
            var bytes = first.apply(seeds)
            bytes = Mutation(
                seed: 0, kind: second.kind, position: second.position, other: second.other, token: second.token
            ).apply([bytes])
            do {
                let inventory = try InventoryLoader.parse(bytes: bytes, file: "fuzz.yaml")
                #expect(!inventory.organization.isEmpty)
            } catch let error as InventoryErrors {
                #expect(!error.errors.isEmpty)
                for problem in error.errors {
                    #expect(
                        problem.location.file == "fuzz.yaml" && problem.location.line >= 1
                            && problem.location.column >= 1)
                    #expect(!problem.message.isEmpty)
                }
            } catch {
                Issue.record("untyped error \(error)")
            }
        }
    }
}
