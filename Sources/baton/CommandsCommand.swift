import ArgumentParser
import BatonModel
import BatonPlan
import BatonRemote
import Foundation

/// `baton commands`: every command a run would type on each host, rendered, without
/// connecting anywhere.
struct CommandsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commands",
        abstract: "Prints every command a run would type on each host, without connecting anywhere.",
        discussion: """
            Host by host, in plan order: the probes asked before anything (preflight), then each step's command, \
            its check (what a resume asks first) and, for a restart, the probe that waits for the host; each with \
            its language and the profile it comes from. PowerShell is shown as the script Baton sends \
            (as -EncodedCommand). An inventory without hosts: is shown with the built-in profiles its machines \
            would get.
            """)

    @Argument(help: "The inventory (YAML).")
    var inventory: String

    @Option(
        help: "The package id (without it, Baton says which packages apply to the inventory).",
        completion: Completions.packages)
    var package: PackageID?

    @OptionGroup var choosing: Choosing

    @Option(help: "Only this host's commands.")
    var host: String?

    @Option(help: "Only this step's commands (an id such as s17, or 'preflight').")
    var step: String?

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, json }

    @Option(help: "text or json")
    var format: Format = .text

    func run() throws {
        let (inventory, _, plan) = try Loading.plan(path: inventory, packageID: package, choosing: choosing)
        var commands: [RenderedCommand]
        do { commands = try RemoteTarget.commands(of: plan, in: inventory) } catch {
            Terminal.error(error.problems.map { "\(inventory.file): error: \($0)" }.joined(separator: "\n") + "\n")
            throw ExitCode(ExitStatus.badInput)
        }
        if let host {
            guard commands.contains(where: { HostName($0.host) == HostName(host) }) else {
                Terminal.error("error: the plan runs nothing on '\(host.prefix(80))'\n")
                throw ExitCode(ExitStatus.badInput)
            }
            commands = commands.filter { HostName($0.host) == HostName(host) }
        }
        if let step {
            guard commands.contains(where: { $0.step == step }) else {
                Terminal.error("error: no step '\(step.prefix(80))' runs a command in this plan\n")
                throw ExitCode(ExitStatus.badInput)
            }
            commands = commands.filter { $0.step == step }
        }
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            Terminal.out(String(decoding: try encoder.encode(["commands": commands]), as: UTF8.self) + "\n")
        case .text:
            var last: String?
            for command in commands {
                if command.host != last {
                    Terminal.out("\(last == nil ? "" : "\n")# \(command.host) (profile \(command.profile))\n")
                    last = command.host
                }
                let wait = command.settle.map { ", asked every \($0.interval) s for up to \($0.timeout) s until it passes" } ?? ""
                Terminal.out(
                    "\n## \(command.step) \(command.action): \(command.role.rawValue) (\(command.language.rawValue))\(wait)\n")
                Terminal.out(command.text.split(separator: "\n", omittingEmptySubsequences: false).map { "    \($0)" }
                    .joined(separator: "\n") + "\n")
            }
        }
    }
}
