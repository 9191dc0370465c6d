import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlanner
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reports a run: versions before and after, downtime, failovers, checks, backups, approvals.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run"))
    var name: String

    @Option(help: "text, markdown, html or json")
    var format: Format = .text

    enum Format: String, ExpressibleByArgument, CaseIterable { case text, markdown, html, json }

    @OptionGroup var state: LabCommand.StateOption

    func run() throws {
        let journal = try Runs.journal(state)
        guard let record = try journal.run(name), let plan = try journal.plan(of: name) else {
            Terminal.error("error: no run '\(name)' in \(state.state); 'baton status' lists them")
            throw ExitCode(ExitStatus.badInput)
        }
        let report = RunReport(
            record: record, plan: plan, steps: try journal.steps(of: name),
            approvals: try journal.approvalRecords(of: name),
            audit: try journal.auditRecords(of: name).map { ($0.action, $0.by, $0.at) },
            twin: try journal.target(of: name) == "hosts" ? nil : try state.load())
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
