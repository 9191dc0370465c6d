import ArgumentParser
import BatonModel
import BatonPlan
import BatonPlanner
import Foundation

/// `baton quality`: how close a plan comes to the fastest rollout KB 328839 allows, against
/// doing one machine at a time or fixed batches (Ansible's `serial`).
struct QualityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quality",
        abstract: "Compares a plan's estimated duration with a lower bound, one machine at a time, and fixed batches.",
        discussion: """
            On the plan's estimated durations (docs/plan.md): the plan run as Baton's engine runs it with at most \
            --parallel steps at once; a lower bound no rollout obeying KB 328839 can beat; every machine (a cluster \
            as one) after the other; and batches of machines, each batch waiting for its slowest, front-ends first.
            """)

    @Argument(help: "The inventory (YAML).")
    var inventory: String

    @Option(
        help: "The package id (without it, Baton says which packages apply to the inventory).",
        completion: Completions.packages)
    var package: PackageID?

    @Option(help: "Steps in flight at once.")
    var parallel = 4

    @Option(help: "Batch sizes to compare with (comma-separated).")
    var batches = "1,5,10"

    @Flag(name: .customLong("json"), help: "Print one line of JSON (the same as --format json).")
    var jsonFlag = false

    @Option(help: "text or json.")
    var format: RunExecutionFormat = .text

    var json: Bool { jsonFlag || format == .json }

    func validate() throws {
        guard parallel >= 1 else { throw ValidationError("--parallel takes a number of at least 1") }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1 }) else {
            throw ValidationError("--batches takes whole numbers of at least 1, separated by commas")
        }
    }

    var sizes: [Int] { batches.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let (inventory, package, plan) = try Loading.plan(path: inventory, packageID: package)
        let quality = PlanQuality(
            plan: plan, inventory: inventory, parallel: parallel, batchSizes: sizes)
        let witnessCost = PlanQuality.witnessOrderCost(
            plan: plan, inventory: inventory, package: package, parallel: parallel, makespan: quality.makespan)
        if json {
            let batches = quality.batches.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }
            Terminal.out(
                "{\"parallel\":\(quality.parallel),\"makespan\":\(quality.makespan),\"lower-bound\":\(quality.lowerBound),"
                    + "\"ratio\":\((quality.ratio * 1000).rounded() / 1000),\"one-at-a-time\":\(quality.oneAtATime),"
                    + "\"batches\":{\(batches.joined(separator: ","))}"
                    + (witnessCost.map { ",\"witness-order-cost\":\($0)" } ?? "") + "}\n")
            return
        }
        func time(_ seconds: Int) -> String { humanDuration(seconds).padded(12) }
        var out = "\(plan.steps.count) steps of \(package.id) for \(inventory.organization), \(parallel) at a time:\n"
        out += "  this plan           \(time(quality.makespan))\n"
        out += "  lower bound         \(time(quality.lowerBound)) (\(quality.lowerBoundReason))\n"
        out += "  ratio               \(String(format: "%.3f", quality.ratio))\n"
        out += "  one at a time       \(time(quality.oneAtATime))\n"
        for (size, seconds) in quality.batches.sorted(by: { $0.key < $1.key }) {
            out += "  batches of \(String(size).padded(8)) \(time(seconds))\n"
        }
        if let witnessCost {
            out +=
                "  witness orders      \(time(witnessCost)) (what keeping each DAG's quorum while its witness server restarts adds: mx-witness-restart)\n"
        }
        Terminal.out(out)
    }
}
