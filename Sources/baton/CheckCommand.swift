import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonRemote
import BatonRuns
import Foundation

/// `baton check`: preflight before a rollout, against the inventory's real hosts when it
/// says how to reach them, else against the lab twin.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Checks, before a rollout, that nothing blocks it; exit 1 when something does.",
        discussion: """
            Against the real hosts of the inventory's hosts: section (each answers with the expected host key; no \
            other installer runs there; every action has a command), or else against the lab twin in the state \
            directory (a twin made from the inventory when there is none).
            """)

    @Argument(help: "The inventory (YAML).")
    var inventory: String

    @Option(
        help: "The package id (without it, Baton says which packages apply to the inventory).",
        completion: Completions.packages)
    var package: PackageID?

    @OptionGroup var choosing: Choosing
    @OptionGroup var state: LabCommand.StateOption
    @OptionGroup var which: LabCommand.TwinOption

    @Option(help: "Where to write the results as JUnit XML as well.")
    var junit: String?

    @Option(help: "text or json.")
    var format: RunExecutionFormat = .text

    @Option(help: "Backups older than this many hours are not fresh.")
    var maxBackupAge = 24

    @Flag(help: "Check the lab twin even though the inventory says how to reach real hosts.")
    var lab = false

    func run() async throws {
        let read = try Loading.inventory(path: inventory, catalogue: choosing.catalogueFile)
        let current = try await choosing.current(
            read, target: RunTarget(read, lab: lab), freshLab: false, state: state, twin: which, quiet: format == .json)
        let (inventory, _, plan) = try Loading.plan(current, packageID: package, choosing: choosing)
        let results: [CheckResult]
        if RunTarget(inventory, lab: lab) == .hosts {
            let secrets: LogonSecrets
            do {
                secrets = try await LogonSecrets.read(for: inventory, hosts: RemoteTarget.hosts(of: plan, in: inventory))
            } catch {
                Terminal.error(error.description + "\n")
                throw ExitCode(ExitStatus.badInput)
            }
            results = try await RemoteTarget.withRunner(
                for: inventory, stateDirectory: state.state, secrets: secrets
            ) { runner in
                await RemotePreflight(inventory: inventory, plan: plan, runner: runner).run()
            }
        } else {
            let lab = try await state.lab(which)
            let twin = try await lab.exists() ? try await lab.load() : LabTwin(inventory: inventory)
            if let refusal = twin.refusal(for: inventory, in: lab.store) {
                Terminal.error("error: \(refusal). Nothing was checked.\n")
                throw ExitCode(ExitStatus.badInput)
            }
            results = Preflight(
                twin: twin, plan: plan, maximumBackupAge: Double(maxBackupAge) * 3600, inventory: inventory
            ).run()
        }
        let failures = results.filter { $0.status == .fail }.count
        let warnings = results.filter { $0.status == .warn }.count
        if format == .json {
            struct Checked: Encodable {
                var results: [CheckResult]
                var passed, failed, warnings: Int
            }
            Terminal.out(
                JSONValue.pretty(
                    encoding: Checked(
                        results: results, passed: results.count - failures - warnings, failed: failures,
                        warnings: warnings)))
        } else {
            printTable(results, failures: failures, warnings: warnings)
        }
        if let junit { try write(JUnit.document(results), to: junit) }
        if failures > 0 { throw ExitCode(ExitStatus.failed) }
    }

    /// The checks as a table, then the counts.
    func printTable(_ results: [CheckResult], failures: Int, warnings: Int) {
        let widths = (results.map(\.check.count).max() ?? 5, results.map(\.subject.count).max() ?? 7)
        Terminal.out("\("STATUS".padded(7)) \("CHECK".padded(widths.0)) \("SUBJECT".padded(widths.1)) DETAIL\n")
        for result in results {
            Terminal.out(
                "\(result.status.rawValue.uppercased().padded(7)) \(result.check.padded(widths.0)) \(result.subject.padded(widths.1)) \(result.detail)\n"
            )
        }
        Terminal.out("\n\(results.count - failures - warnings) passed, \(failures) failed, \(warnings) warnings\n")
    }

    /// Writes the whole file or nothing: a temporary file renamed into place.
    func write(_ text: String, to path: String) throws {
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            Terminal.error("error: cannot write \(path): \(error.localizedDescription)")
            throw ExitCode(ExitStatus.badInput)
        }
    }
}

/// Preflight results as JUnit XML, for CI systems: one test case per check and subject.
enum JUnit {
    static func document(_ results: [CheckResult]) -> String {
        let failures = results.filter { $0.status == .fail }.count
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        xml +=
            "<testsuite name=\"baton check\" tests=\"\(results.count)\" failures=\"\(failures)\" errors=\"0\" skipped=\"0\">\n"
        for result in results {
            let name = escape("\(result.check): \(result.subject)")
            xml += "  <testcase classname=\"baton.check.\(escape(result.check))\" name=\"\(name)\""
            switch result.status {
            case .pass: xml += "/>\n"
            case .warn: xml += ">\n    <system-out>warning: \(escape(result.detail))</system-out>\n  </testcase>\n"
            case .fail:
                let rule = result.rule.map { " (rule \($0))" } ?? ""
                xml +=
                    ">\n    <failure message=\"\(escape(result.detail))\">\(escape(result.detail + rule))</failure>\n  </testcase>\n"
            }
        }
        return xml + "</testsuite>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
