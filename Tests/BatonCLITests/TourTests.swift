import Foundation
import Testing

/// The README's tour, line by line, as a newcomer would type it: every `baton` line of its
/// code blocks runs in a fresh folder holding the examples, and exits as its comment says
/// (`(exit N)`), else 0. `baton serve` (which runs until stopped) is tested by the serve tests.
@Suite("The README's tour")
struct TourTests {
    static func lines() throws -> [String] {
        let readme = try String(
            contentsOf: BatonProcess.packageRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let tour = readme[readme.range(of: "## A short tour")!.lowerBound...]
        var lines: [String] = [], inBlock = false
        for line in tour.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inBlock.toggle()
                continue
            }
            if inBlock, line.hasPrefix("baton "), !line.hasPrefix("baton serve") { lines.append(String(line)) }
        }
        return lines
    }

    @Test("every line of the tour runs and exits as its comment says")
    func tour() throws {
        let lines = try Self.lines()
        #expect(lines.count >= 20, "\(lines)")
        let folder = try BatonProcess.UserFolder("tour")
        defer { folder.remove() }
        for line in lines {
            let expected =
                line.range(of: #"\(exit (\d)\)"#, options: .regularExpression).flatMap {
                    Int32(line[$0].dropFirst(6).prefix(1))
                } ?? 0
            let result = try folder.shell(line)
            #expect(
                result.status == expected,
                "\(line)\n→ exit \(result.status)\n\(result.stdout.suffix(600))\(result.stderr.suffix(600))")
        }
    }
}
