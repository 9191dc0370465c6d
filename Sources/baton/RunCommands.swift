import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlanner
import BatonRemote
import BatonStore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Options shared by `run` and `resume`.
struct ExecutionOptions: ParsableArguments {
    @Option(help: "How fast the lab twin's virtual time runs: instant, real, or a factor such as 60.")
    var speed = "instant"

    @Option(help: "Steps in flight at once (never more than the plan allows).")
    var parallel = 4

    @Flag(help: "Approve every gate without asking.")
    var yes = false

    @Option(help: "Failed hosts tolerated in independent parts before the run halts.")
    var maxFailedHosts = 0

    @Flag(help: "Print events as JSON lines.")
    var json = false

    func validate() throws {
        guard LabSpeed(speed) != nil else {
            throw ValidationError("--speed takes instant, real or a factor of at least 1")
        }
        guard parallel >= 1 else { throw ValidationError("--parallel takes a number of at least 1") }
    }

    var engineOptions: EngineOptions {
        EngineOptions(parallel: parallel, approveAll: yes, maxFailedHosts: maxFailedHosts)
    }
}

enum Runs {
    /// Who acts from this shell, for the audit trail.
    static var operatorName: String { ProcessInfo.processInfo.environment["USER"] ?? "operator" }

    static func journal(_ state: LabCommand.StateOption) throws -> SQLiteJournal {
        do {
            return try SQLiteJournal(path: state.state + "/journal.sqlite")
        } catch {
            Terminal.error("error: cannot open the journal in \(state.state): \(error)")
            throw ExitCode(ExitStatus.badInput)
        }
    }

    /// Runs the engine against the run's target (the lab twin, or the inventory's real hosts),
    /// printing progress; exits as contract §3 says.
    static func execute(run: String, journal: SQLiteJournal, state: LabCommand.StateOption, options: ExecutionOptions)
        async throws
    {
        let remote = try journal.target(of: run) == "hosts"
        let hosts = remote ? try remoteTarget(run: run, journal: journal, state: state) : nil
        if !remote { _ = try state.load() }
        if !options.yes, isatty(STDIN_FILENO) != 0, let plan = try journal.plan(of: run) {
            let approved = Set(try journal.approvals(of: run))
            for gate in plan.steps.compactMap(\.gate) where !approved.contains(gate) {
                Terminal.out("Gate \(gate): \(plan.steps.first { $0.gate == gate }?.why ?? "") Approve? [y/N] ")
                if readLine()?.lowercased().hasPrefix("y") == true {
                    try journal.approve(
                        run: run, gate: gate, by: operatorName)
                }
            }
        }
        let alreadyDone = try journal.steps(of: run).filter { $0.state == .succeeded }.count
        let speed = remote ? LabSpeed.realTime : LabSpeed(options.speed) ?? .instant
        let printer = ProgressPrinter(
            json: options.json, total: try journal.steps(of: run).count, speed: speed, done: alreadyDone)
        let final: RunState
        var twinAfter: LabTwin?
        if let hosts {
            final = try await Engine(journal: journal, target: hosts, options: options.engineOptions) {
                printer.print($0)
            }.execute(run: run)
        } else {
            (final, twinAfter) = try await LabRollout(store: state.store, journal: journal).execute(
                run: run, speed: speed, options: options.engineOptions
            ) { printer.print($0) }
        }
        printer.close()
        let steps = try journal.steps(of: run)
        let failed = steps.filter { $0.state == .failed }
        let left = steps.filter { $0.state == .blocked || $0.state == .pending }
        switch final {
        case .completed:
            if let record = try journal.run(run), let plan = try journal.plan(of: run) {
                let report = RunReport(
                    record: record, plan: plan, steps: steps, approvals: try journal.approvalRecords(of: run),
                    audit: try journal.auditRecords(of: run).map { ($0.action, $0.by, $0.at) }, twin: twinAfter)
                Terminal.out("\n" + report.text())
            }
        case .running, .halted, .aborted:
            var text = "\nRun \(run) \(final.rawValue)."
            for step in failed { text += "\n  failed: \(step.id) \(step.action): \(step.message)" }
            if failed.isEmpty, left.contains(where: { $0.message == "waiting for an approval" }) {
                let gates = (try journal.plan(of: run))?.steps.compactMap(\.gate) ?? []
                text +=
                    "\n  waiting for approval: baton approve \(run) \(gates.first ?? "release-notes") --state \(state.state)"
            }
            text += "\n  \(left.count) steps not run. Fix the cause, then: baton resume \(run) --state \(state.state)\n"
            Terminal.out(text)
            throw ExitCode(ExitStatus.failed)
        }
    }
}

extension Runs {
    /// The real hosts of a run's inventory, read again from its file; every missing way in or
    /// command is reported before anything runs (exit 2).
    static func remoteTarget(run: String, journal: SQLiteJournal, state: LabCommand.StateOption) throws
        -> RemoteTarget
    {
        guard let record = try journal.run(run), let plan = try journal.plan(of: run) else {
            Terminal.error("error: no run '\(run)' in \(state.state)")
            throw ExitCode(ExitStatus.badInput)
        }
        let inventory = try Loading.inventory(path: record.inventory)
        do {
            return try RemoteTarget(inventory: inventory, plan: plan, stateDirectory: state.state)
        } catch let error as RemoteError {
            for problem in error.problems { Terminal.error("\(inventory.file): error: \(problem)") }
            throw ExitCode(ExitStatus.badInput)
        }
    }
}

/// Prints engine events: plain timestamped lines, or JSON lines; on a terminal, a progress
/// display under them (the whole run, and each running step against its usual duration).
final class ProgressPrinter: Sendable {
    let json: Bool
    let live: Bool
    let total: Int
    let speed: LabSpeed
    /// Steps done, steps running, and how many lines the display took when last drawn.
    let progress = Mutex<(done: Int, running: [String: (step: Step, since: Date)], drawn: Int)>((0, [:], 0))

    init(json: Bool, total: Int, speed: LabSpeed, done: Int) {
        self.json = json
        self.total = total
        self.speed = speed
        live = !json && isatty(STDOUT_FILENO) != 0
        progress.withLock { $0.done = done }
    }

    func print(_ event: EngineEvent) {
        let time = ISO8601DateFormatter.string(
            from: Date(), timeZone: .current, formatOptions: [.withTime, .withColonSeparatorInTime])
        var fields: [String: String]
        switch event {
        case .started(let step, let attempt):
            progress.withLock { $0.running[step.id] = (step, Date()) }
            fields = ["event": "started", "step": step.id, "summary": step.summary, "attempt": "\(attempt)"]
        case .finished(let step, let state, let message, let rule):
            progress.withLock {
                $0.running[step.id] = nil
                if state == .succeeded { $0.done += 1 }
            }
            fields = [
                "event": state.rawValue, "step": step.id, "summary": step.summary, "message": message,
                "rule": rule?.rawValue ?? "",
            ]
        case .recovered(let step, let tookEffect):
            fields = [
                "event": "recovered", "step": step.id, "summary": step.summary,
                "message": tookEffect ? "had taken effect" : "will be redone",
            ]
        case .waitingForApproval(let step, let gate):
            fields = ["event": "waiting", "step": step.id, "gate": gate, "summary": step.summary]
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            Terminal.out(String(decoding: (try? encoder.encode(fields)) ?? Data(), as: UTF8.self) + "\n")
            return
        }
        var line = "\(time)  \(fields["step"]!.padded(6)) \(fields["event"]!.padded(9)) \(fields["summary"]!)"
        if let message = fields["message"], !message.isEmpty { line += ": \(message)" }
        if let gate = fields["gate"] {
            line =
                "\(time)  \(fields["step"]!.padded(6)) waiting   gate \(gate): approve it with 'baton approve RUN \(gate)'"
        }
        if case .finished(_, .failed, _, let rule?) = event, let known = Rule.named(rule) {
            line += "\n        rule \(known.id): \(known.text)"
        }
        guard live else { return Terminal.out(line + "\n") }
        // Clear the previous display, print the line, draw the display again below it.
        let previous = progress.withLock { state in
            let drawn = state.drawn
            state.drawn = 1 + state.running.count
            return drawn
        }
        Terminal.out(
            String(repeating: "\u{1B}[2K\u{1B}[1A", count: max(0, previous - 1)) + "\r\u{1B}[2K" + line + "\n"
                + display())
    }

    /// "[##########----------] 34/74" and a line per running step.
    func display() -> String {
        let (done, running) = progress.withLock { ($0.done, $0.running) }
        var text = "\u{1B}[2K" + Self.bar(Double(done) / Double(max(total, 1)), width: 30) + " \(done)/\(total) steps"
        for (_, entry) in running.sorted(by: { $0.key < $1.key }) {
            let usual = Double(
                ActionDurations.defaults[entry.step.action.rawValue] ?? ActionDurations.defaults[
                    "install-service-pack"]!)
            let expected: Double =
                switch speed {
                case .instant: 1
                case .factor(let factor): max(usual / factor, 0.1)
                }
            let fraction = min(1, Date().timeIntervalSince(entry.since) / expected)
            text += "\n\u{1B}[2K  " + Self.bar(fraction, width: 12) + " \(entry.step.id) \(entry.step.summary)"
        }
        return text + "\r"
    }

    static func bar(_ fraction: Double, width: Int) -> String {
        let filled = Int((fraction * Double(width)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: max(0, width - filled)) + "]"
    }

    /// Leaves the display's last state on screen and ends its line.
    func close() {
        if live { Terminal.out("\n") }
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Plans and runs a rollout against the lab twin, durably: a crash resumes where it stopped.",
        discussion:
            "The journal and the twin live in the state directory. Exit 0 completed, 1 halted, 2 bad input, 3 refused.")

    @Argument(help: "The inventory (YAML).")
    var inventory: String

    @Option(help: "The package id.")
    var package: String

    @OptionGroup var state: LabCommand.StateOption

    @Option(name: .customLong("run"), help: "A name for the run (default run-1, run-2, …).")
    var runName: String?

    @Option(help: "Faults to inject into the lab twin first (YAML).")
    var faults: String?

    @Flag(help: "Make the lab twin anew from the inventory, even if the state directory has one.")
    var freshLab = false

    @Flag(help: "Rehearse on the lab twin even though the inventory says how to reach real hosts.")
    var lab = false

    @OptionGroup var options: ExecutionOptions

    func run() async throws {
        let (inventory, package, plan) = try Loading.plan(path: inventory, packageID: package)
        var faultList: [LabFault] = []
        if let faults {
            do { faultList = try LabFaultFile.load(path: faults) } catch {
                Terminal.error(error.description)
                throw ExitCode(ExitStatus.badInput)
            }
        }
        let journal = try Runs.journal(state)
        let rollout = LabRollout(store: state.store, journal: journal)
        let id = try runName ?? rollout.nextRunName()
        guard try journal.run(id) == nil else {
            Terminal.error(
                "error: a run named \(id) exists already; resume it with 'baton resume \(id)' or choose another --run")
            throw ExitCode(ExitStatus.badInput)
        }
        let remote = !inventory.hosts.isEmpty && !lab
        if remote {
            guard faultList.isEmpty, !freshLab else {
                Terminal.error("error: --faults and --fresh-lab are for the lab twin; add --lab to rehearse there")
                throw ExitCode(ExitStatus.badInput)
            }
            do { try RemoteTarget.validate(inventory, plan) } catch {
                for problem in error.problems { Terminal.error("\(inventory.file): error: \(problem)") }
                throw ExitCode(ExitStatus.badInput)
            }
            try journal.createRun(
                RunRecord(
                    id: id, organization: inventory.organization, package: package.id, inventory: inventory.file,
                    state: .running, created: Date().timeIntervalSince1970),
                plan: plan)
            try journal.setTarget(run: id, "hosts")
        } else {
            do {
                _ = try rollout.create(
                    id: id, inventory: inventory, package: package, plan: plan, freshLab: freshLab, faults: faultList)
            } catch let error as LabError {
                Terminal.error("error: \(error)")
                throw ExitCode(ExitStatus.badInput)
            }
        }
        try journal.audit(run: id, action: "started", by: Runs.operatorName)
        Terminal.out(
            "Run \(id): \(plan.steps.count) steps of \(package.id) for \(inventory.organization) on \(remote ? "its real hosts" : "the lab twin"); state in \(state.state).\n"
        )
        try await Runs.execute(run: id, journal: journal, state: state, options: options)
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Continues a run where it stopped; nothing done is done again.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run"))
    var name: String

    @OptionGroup var state: LabCommand.StateOption
    @OptionGroup var options: ExecutionOptions

    func run() async throws {
        let journal = try Runs.journal(state)
        guard try journal.run(name) != nil else {
            Terminal.error("error: no run '\(name)' in \(state.state); 'baton status' lists them")
            throw ExitCode(ExitStatus.badInput)
        }
        if try journal.run(name)?.state == .aborted { try journal.setState(run: name, .halted) }
        try journal.audit(run: name, action: "resumed", by: Runs.operatorName)
        try await Runs.execute(run: name, journal: journal, state: state, options: options)
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Lists runs, or shows one with every step's state.")

    @Argument(help: ArgumentHelp("A run.", valueName: "run"))
    var name: String?

    @OptionGroup var state: LabCommand.StateOption

    @Option(help: "text or json")
    var format: LabCommand.Show.OutputFormat = .text

    func run() throws {
        let journal = try Runs.journal(state)
        guard let run = name else {
            let runs = try journal.runs()
            if format == .json {
                let list = runs.map {
                    ["run": $0.id, "state": $0.state.rawValue, "package": $0.package, "organization": $0.organization]
                }
                Terminal.out(String(decoding: try JSONEncoder().encode(list), as: UTF8.self) + "\n")
            } else {
                if runs.isEmpty { Terminal.out("No runs in \(state.state).\n") }
                for record in runs {
                    Terminal.out(
                        "\(record.id.padded(12)) \(record.state.rawValue.padded(10)) \(record.package) for \(record.organization)\n"
                    )
                }
            }
            return
        }
        guard let record = try journal.run(run) else {
            Terminal.error("error: no run '\(run)' in \(state.state)")
            throw ExitCode(ExitStatus.badInput)
        }
        let steps = try journal.steps(of: run)
        if format == .json {
            struct Document: Encodable {
                struct Entry: Encodable {
                    var id, action, state: String
                    var attempts: Int
                    var message: String
                    /// What the step's command printed last, on real hosts.
                    var output: String?
                }
                var run, state: String
                var steps: [Entry]
            }
            let outputs = try journal.outputs(of: run)
            let document = Document(
                run: run, state: record.state.rawValue,
                steps: steps.map {
                    .init(
                        id: $0.id, action: $0.action, state: $0.state.rawValue, attempts: $0.attempts,
                        message: $0.message, output: outputs[$0.id])
                })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Terminal.out(String(decoding: try encoder.encode(document), as: UTF8.self) + "\n")
            return
        }
        let counts = Dictionary(grouping: steps, by: \.state).mapValues(\.count)
        Terminal.out("Run \(run): \(record.state.rawValue); \(record.package) for \(record.organization)\n")
        let tally = StepState.allCases.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }
        Terminal.out(tally.joined(separator: ", ") + "\n\n")
        for step in steps {
            Terminal.out(
                "\(step.id.padded(6)) \(step.state.rawValue.padded(10)) \(step.action.padded(22)) attempts \(step.attempts)  \(step.message)\n"
            )
        }
    }
}

struct ApproveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve", abstract: "Approves a run's gate (for example release-notes).")

    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var name: String
    @Argument(help: "The gate.") var gate: String
    @Option(help: "Who approves.") var by = ProcessInfo.processInfo.environment["USER"] ?? "operator"
    @OptionGroup var state: LabCommand.StateOption

    func run() throws {
        let run = name
        let journal = try Runs.journal(state)
        guard let plan = try journal.plan(of: run) else {
            Terminal.error("error: no run '\(run)' in \(state.state)")
            throw ExitCode(ExitStatus.badInput)
        }
        guard plan.steps.contains(where: { $0.gate == gate }) else {
            Terminal.error(
                "error: run \(run) has no gate '\(gate)'; its gates: \(plan.steps.compactMap(\.gate).joined(separator: ", "))"
            )
            throw ExitCode(ExitStatus.badInput)
        }
        try journal.approve(run: run, gate: gate, by: by)
        Terminal.out("Gate \(gate) of \(run) approved by \(by). Continue with: baton resume \(run)\n")
    }
}

struct AbortCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort", abstract: "Stops scheduling a run's steps; running steps finish.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var name: String
    @OptionGroup var state: LabCommand.StateOption

    func run() throws {
        let run = name
        let journal = try Runs.journal(state)
        guard try journal.run(run) != nil else {
            Terminal.error("error: no run '\(run)' in \(state.state)")
            throw ExitCode(ExitStatus.badInput)
        }
        try journal.setState(run: run, .aborted)
        try journal.audit(run: run, action: "aborted", by: Runs.operatorName)
        let left = try journal.steps(of: run).filter { $0.state != .succeeded }.count
        Terminal.out(
            "Run \(run) aborted: no new step starts; \(left) steps not done. 'baton resume \(run)' continues it.\n")
    }
}
