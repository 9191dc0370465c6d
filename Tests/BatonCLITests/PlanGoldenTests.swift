import Foundation
import Testing

/// Every example's plan, in every format, byte for byte as recorded in
/// `Golden/plans.txt` (each output's length and FNV-1a hash): a change to how Baton is built
/// inside must not change a plan. When a plan is meant to change, record it anew with
/// `BATON_RECORD_GOLDEN=1 swift test --filter PlanGolden` and say why in the commit.
@Suite("Plans stay byte-identical")
struct PlanGoldenTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Golden/plans.txt")

    static let modernPackages = [
        "mx-stretched-dag.yaml": "exchange-2019-cu15", "mx-two-member-dag.yaml": "exchange-2016-cu23",
        "mx-2013-split-roles.yaml": "exchange-2013-cu23", "mx-standalone-to-se.yaml": "exchange-se-rtm",
        "mx-multi-dag-monthly-su.yaml": "exchange-2019-cu15-feb26-su",
        "mx-se-with-2013-left.yaml": "exchange-2019-cu15-feb26-su", "mx-crossed-witnesses.yaml": "exchange-2019-cu15",
        "mx-cu13-to-cu15.yaml": "exchange-2019-cu15",
    ]

    /// Examples planned toward a target rather than for one package.
    static let targets = ["mx-monthly-mixed.yaml": "latest-cu"]

    /// What an example is planned for: `--package ID`, or `--to TARGET`.
    static func request(for example: String) -> [String] {
        if let target = targets[example] { return ["--to", target] }
        return ["--package", package(for: example)]
    }

    static func package(for example: String) -> String {
        if let modern = modernPackages[example] { return modern }
        return example.hasPrefix("e2000")
            ? "exchange-2000-sp3" : example.hasPrefix("e55") ? "exchange-5.5-sp4" : "exchange-2003-sp2"
    }

    static func fingerprint(_ text: String) -> String {
        var hash: UInt64 = 14_695_981_039_346_656_037
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 1_099_511_628_211 }
        return "\(text.utf8.count) \(String(hash, radix: 16))"
    }

    @Test("every example in every format matches its recorded bytes")
    func golden() throws {
        let examples =
            try FileManager.default.contentsOfDirectory(
                atPath: BatonProcess.packageRoot.appendingPathComponent("examples").path
            ).filter { $0.hasSuffix(".yaml") && $0 != "e2003-migration.yaml" }.sorted()
        var lines: [String] = []
        for example in examples {
            for format in ["json", "text", "markdown", "dot", "mermaid"] {
                let plan = try BatonProcess.run([
                    "plan", "examples/\(example)"] + Self.request(for: example) + ["--format", format])
                #expect(plan.status == 0, "\(example) \(format): \(plan.stderr)")
                lines.append("\(example) \(format) \(Self.fingerprint(plan.stdout))")
            }
        }
        let big = try BatonProcess.run(["generate-inventory", "--servers", "10000", "--clusters", "1000"])
        let bigFile = BatonProcess.temporaryPath("golden") + ".yaml"
        try big.stdout.write(toFile: bigFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: bigFile) }
        let bigPlan = try BatonProcess.run(["plan", bigFile, "--package", "exchange-2003-sp2", "--format", "json"])
        lines.append(
            "generated-10000-1000 json \(Self.fingerprint(bigPlan.stdout.replacingOccurrences(of: bigFile, with: "big.yaml")))"
        )
        let text = lines.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["BATON_RECORD_GOLDEN"] == "1" {
            try FileManager.default.createDirectory(
                at: Self.file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: Self.file, atomically: true, encoding: .utf8)
            return
        }
        let recorded = try String(contentsOf: Self.file, encoding: .utf8)
        let expected = Set(recorded.split(separator: "\n")), actual = Set(text.split(separator: "\n"))
        #expect(expected == actual, "changed: \(actual.subtracting(expected).sorted())")
    }
}
