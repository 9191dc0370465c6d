import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonRuns
import Foundation

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports a run: versions before and after, downtime, failovers, checks, backups, approvals.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run"), completion: Completions.runs)
    var name: RunID

    @Option(help: "text, markdown, html or json")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, markdown, html, json }

    @OptionGroup var state: LabCommand.StateOption

    func run() async throws {
        let service = try await Runs.service(state)
        let report: RunReport
        do {
            report = try await service.report(name)
        } catch {
            throw Runs.exit(error, state: state)
        }
        switch format {
        case .text: Terminal.out(report.text())
        case .markdown: Terminal.out(report.markdown())
        case .html: Terminal.out(report.html())
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            Terminal.out(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n")
        }
    }
}
