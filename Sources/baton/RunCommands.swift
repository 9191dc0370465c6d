import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlanner
import BatonRemote
import BatonRuns
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

    @Option(
        help: ArgumentHelp(
            "Seconds without a heartbeat after which another controller may take the run over.",
            valueName: "seconds"))
    var leaseExpiry = RunService.defaultLeaseExpiry

    @Flag(help: "When another run holds the same machines, wait for it instead of refusing.")
    var wait = false

    func validate() throws {
        guard LabSpeed(speed) != nil else {
            throw ValidationError("--speed takes instant, real or a factor of at least 1")
        }
        guard parallel >= 1 else { throw ValidationError("--parallel takes a number of at least 1") }
        guard (1...3600).contains(leaseExpiry) else { throw ValidationError("--lease-expiry takes 1 to 3600 seconds") }
    }

    var engineOptions: EngineOptions {
        EngineOptions(parallel: parallel, approveAll: yes, maxFailedHosts: maxFailedHosts)
    }
}

enum Runs {
    /// Who acts from this shell, for the audit trail.
    static var operatorName: String { RunService.systemUser }

    static func journal(_ state: LabCommand.StateOption) throws -> SQLiteJournal {
        do {
            return try SQLiteJournal(path: state.state + "/journal.sqlite")
        } catch let error as JournalError {
            Terminal.error("error: \(error)")
            throw ExitCode(ExitStatus.failed)
        } catch {
            Terminal.error("error: cannot open the journal in \(state.state): \(error.localizedDescription)")
            throw ExitCode(ExitStatus.failed)
        }
    }

    static func service(_ state: LabCommand.StateOption, leaseExpiry: Double = RunService.defaultLeaseExpiry) throws
        -> RunService
    {
        RunService(journal: try journal(state), stateDirectory: state.state, leaseExpiry: leaseExpiry)
    }

    /// Prints why the run service refused and gives the exit code: 2 for bad input (an unknown
    /// run or gate, an inventory the hosts cannot carry out), 1 for everything else.
    static func exit(_ error: RunServiceError, state: LabCommand.StateOption) -> ExitCode {
        switch error {
        case .badInventory:
            Terminal.error(error.description)
            return ExitCode(ExitStatus.badInput)
        case .notFound(let run):
            Terminal.error("error: no run '\(run)' in \(state.state); 'baton status' lists them")
            return ExitCode(ExitStatus.badInput)
        case .noGate, .exists, .lab, .badName:
            Terminal.error("error: \(error)")
            return ExitCode(ExitStatus.badInput)
        case .owned(let reason):
            var text = "error: \(reason)"
            switch reason {
            case .runOwned(let lease):
                text += "\n  Nothing was done. Wait for it, or stop that process; 'baton status \(lease.run)' shows it."
            case .targetBusy:
                text += "\n  Nothing was done. Wait for that run (--wait), or abort it."
            case .leaseLost: break
            }
            Terminal.error(text)
            return ExitCode(ExitStatus.failed)
        case .finished, .alreadyApproved, .storage:
            Terminal.error("error: \(error)")
            return ExitCode(ExitStatus.failed)
        }
    }

    /// Drives an owned run against its target, printing progress; Ctrl-C (or SIGTERM) stops
    /// it gracefully, a second Ctrl-C at once. Exits as `baton --help` says.
    static func drive(
        _ run: RunService.OwnedRun, service: RunService, state: LabCommand.StateOption, options: ExecutionOptions
    ) async throws {
        let journal = service.journal
        if !options.yes, isatty(STDIN_FILENO) != 0, let plan = try journal.plan(of: run.id) {
            let approved = Set(try journal.approvals(of: run.id))
            for gate in Set(plan.steps.compactMap(\.gate)).sorted() where !approved.contains(gate) {
                Terminal.out("Gate \(gate): \(plan.steps.first { $0.gate == gate }?.why ?? "") Approve? [y/N] ")
                if readLine()?.lowercased().hasPrefix("y") == true {
                    _ = try? service.approve(run.id, gate: gate, by: operatorName, how: .terminal)
                }
            }
        }
        let steps = try journal.steps(of: run.id)
        let speed = run.target == .hosts ? LabSpeed.realTime : LabSpeed(options.speed) ?? .instant
        let printer = ProgressPrinter(
            json: options.json, total: steps.count, speed: speed, done: steps.filter { $0.state == .succeeded }.count,
            run: run.id, stateDirectory: state.state)
        let signals = SignalTrap()
        var engineOptions = options.engineOptions
        engineOptions.stopRequested = { signals.reason }
        let outcome: RunService.Outcome
        do {
            outcome = try await service.drive(run, speed: speed, options: engineOptions, approvedBy: operatorName) {
                printer.print($0)
            }
        } catch {
            printer.close()
            throw exit(error, state: state)
        }
        printer.close()
        try printEnd(run.id, outcome: outcome, service: service, state: state, stopped: signals.reason)
    }

    static func printEnd(
        _ run: String, outcome: RunService.Outcome, service: RunService, state: LabCommand.StateOption, stopped: String?
    ) throws {
        let journal = service.journal
        let steps = try journal.steps(of: run)
        let failed = steps.filter { $0.state == .failed }
        let left = steps.filter { $0.state == .blocked || $0.state == .pending }
        switch outcome.state {
        case .completed:
            if let record = try journal.run(run), let plan = try journal.plan(of: run) {
                let report = RunReport(
                    record: record, plan: plan, steps: steps, approvals: try journal.approvalRecords(of: run),
                    audit: try journal.auditRecords(of: run).map { ($0.action, $0.by, $0.at) }, twin: outcome.twin)
                Terminal.out("\n" + report.text())
            }
        case .running, .halted, .aborted, .interrupted:
            var text = "\nRun \(run) \(outcome.state.rawValue)"
            text += stopped.map { ": \($0); running steps finished." } ?? "."
            for step in failed { text += "\n  failed: \(step.id) \(step.action): \(step.message)" }
            if failed.isEmpty, stopped == nil, left.contains(where: { $0.message == "waiting for an approval" }) {
                let gates = (try journal.plan(of: run))?.steps.compactMap(\.gate) ?? []
                text +=
                    "\n  waiting for approval: baton approve \(run) \(gates.first ?? "release-notes") --state \(state.state)"
            }
            if outcome.state != .aborted {
                let fix = stopped == nil ? "Fix the cause, then" : "Continue with"
                text += "\n  \(left.count) steps not run. \(fix): baton resume \(run) --state \(state.state)\n"
            } else {
                text += "\n  \(left.count) steps not run.\n"
            }
            Terminal.out(text)
            throw ExitCode(ExitStatus.failed)
        }
    }
}

/// SIGINT and SIGTERM while a run is driven: the first asks the engine to start no new step
/// and let running ones finish (an install is never abandoned half way); a second SIGINT ends
/// the process at once, which the journal's intent and result records keep safe.
final class SignalTrap: Sendable {
    let state = Mutex<(reason: String?, sources: [any DispatchSourceSignal])>((nil, []))

    init() {
        for (number, name) in [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.received(name) }
            source.resume()
            state.withLock { $0.sources.append(source) }
        }
    }

    var reason: String? { state.withLock { $0.reason } }

    func received(_ name: String) {
        let first = state.withLock { state in
            guard state.reason == nil else { return false }
            state.reason = "stopped by \(name)"
            return true
        }
        guard first else {
            Terminal.error("\nStopped at once; the journal knows what was under way. 'baton resume' continues.\n")
            _exit(130)
        }
        Terminal.error(
            "\n\(name): no new step starts; running steps finish first. Press Ctrl-C again to stop at once.\n")
    }
}

/// Prints engine events: plain timestamped lines, or JSON lines; on a terminal, a progress
/// display under them (the whole run, and each running step against its usual duration).
final class ProgressPrinter: Sendable {
    let json: Bool
    let live: Bool
    let total: Int
    let speed: LabSpeed
    let run: String
    let stateDirectory: String
    /// Steps done, steps running, and how many lines the display took when last drawn.
    let progress = Mutex<(done: Int, running: [String: (step: Step, since: Date)], drawn: Int)>((0, [:], 0))

    init(json: Bool, total: Int, speed: LabSpeed, done: Int, run: String, stateDirectory: String) {
        self.run = run
        self.stateDirectory = stateDirectory
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
                "\(time)  \(fields["step"]!.padded(6)) waiting   gate \(gate): approve it with 'baton approve \(run) \(gate) --state \(stateDirectory)'"
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
        abstract: "Plans and runs a rollout, durably: a crash resumes where it stopped.",
        discussion: """
            The journal and the twin live in the state directory. One process drives a run at a time, and one run \
            acts on the same machines (the lab twin, a real host) at a time: another is refused, naming the owner, \
            or waits with --wait. Ctrl-C stops gracefully: running steps finish, the run halts, and 'baton resume' \
            continues it. Exit 0 completed, 1 halted or refused, 2 bad input, 3 refused as unsafe.
            """)

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
        let target: RunTarget = !inventory.hosts.isEmpty && !lab ? .hosts : .lab
        if target == .hosts, !faultList.isEmpty || freshLab {
            Terminal.error("error: --faults and --fresh-lab are for the lab twin; add --lab to rehearse there")
            throw ExitCode(ExitStatus.badInput)
        }
        let service = try Runs.service(state, leaseExpiry: options.leaseExpiry)
        let new = RunService.NewRun(
            inventory: inventory, package: package, plan: plan, id: runName, target: target, freshLab: freshLab,
            faults: faultList, by: Runs.operatorName)
        let owned: RunService.OwnedRun
        do {
            owned =
                options.wait
                ? try await service.waiting({ () throws(RunServiceError) in try service.start(new) }) {
                    Terminal.error("Waiting: \($0)\n")
                }
                : try service.start(new)
        } catch {
            throw Runs.exit(error, state: state)
        }
        Terminal.out(
            "Run \(owned.id): \(plan.steps.count) steps of \(package.id) for \(inventory.organization) on \(target == .hosts ? "its real hosts" : "the lab twin"); state in \(state.state).\n"
        )
        try await Runs.drive(owned, service: service, state: state, options: options)
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continues a halted or interrupted run where it stopped; nothing done is done again.",
        discussion: "Refused while another process drives the run, and for a completed or aborted run.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run"))
    var name: String

    @OptionGroup var state: LabCommand.StateOption
    @OptionGroup var options: ExecutionOptions

    func run() async throws {
        let service = try Runs.service(state, leaseExpiry: options.leaseExpiry)
        let owned: RunService.OwnedRun
        do {
            owned =
                options.wait
                ? try await service.waiting({ () throws(RunServiceError) in
                    try service.resume(name, by: Runs.operatorName)
                }) { Terminal.error("Waiting: \($0)\n") }
                : try service.resume(name, by: Runs.operatorName)
        } catch {
            throw Runs.exit(error, state: state)
        }
        try await Runs.drive(owned, service: service, state: state, options: options)
    }
}

struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Lists runs, or shows one with every step's state.",
        discussion: """
            A run is 'running' only while the process driving it is alive; one whose process is gone is \
            'interrupted', and 'baton resume' continues it.
            """)

    @Argument(help: ArgumentHelp("A run.", valueName: "run"))
    var name: String?

    @OptionGroup var state: LabCommand.StateOption

    @Option(help: "text or json")
    var format: LabCommand.Show.OutputFormat = .text

    func run() throws {
        let service = try Runs.service(state)
        do {
            guard let name else { return try list(service) }
            try show(name, service)
        } catch let error as RunServiceError {
            throw Runs.exit(error, state: state)
        }
    }

    func list(_ service: RunService) throws {
        let runs = try service.statuses()
        if format == .json {
            let list = runs.map {
                [
                    "run": $0.record.id, "state": $0.state.rawValue, "package": $0.record.package,
                    "organization": $0.record.organization,
                ]
            }
            Terminal.out(String(decoding: try JSONEncoder().encode(list), as: UTF8.self) + "\n")
            return
        }
        if runs.isEmpty { Terminal.out("No runs in \(state.state).\n") }
        for status in runs {
            Terminal.out(
                "\(status.record.id.padded(12)) \(status.state.rawValue.padded(12)) \(status.record.package) for \(status.record.organization)\(owner(status).map { "; \($0)" } ?? "")\n"
            )
        }
    }

    /// Who drives the run, or when its owner was last heard of.
    func owner(_ status: RunService.Status) -> String? {
        guard let lease = status.lease else { return nil }
        let now = Date().timeIntervalSince1970
        switch status.state {
        case .running: return "driven by \(lease.describe(at: now))"
        case .interrupted:
            return
                "its controller (\(lease.describe(at: now))) is gone; continue with: baton resume \(status.record.id) --state \(state.state)"
        default: return nil
        }
    }

    func show(_ run: String, _ service: RunService) throws {
        let status = try service.status(run)
        let journal = service.journal
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
                struct Owner: Encodable {
                    var host: String
                    var pid: Int32
                    var epoch: Int64
                    var heartbeat: String
                    var live: Bool
                }
                var run, state, target: String
                var owner: Owner?
                var steps: [Entry]
            }
            let outputs = try journal.outputs(of: run)
            let now = Date().timeIntervalSince1970
            let document = Document(
                run: run, state: status.state.rawValue, target: status.target.rawValue,
                owner: status.lease.map {
                    .init(
                        host: $0.owner.host, pid: $0.owner.pid, epoch: $0.epoch,
                        heartbeat: ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0.heartbeat)),
                        live: $0.isLive(at: now))
                },
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
        Terminal.out(
            "Run \(run): \(status.state.rawValue); \(status.record.package) for \(status.record.organization)\n")
        if let owner = owner(status) { Terminal.out(owner.prefix(1).uppercased() + owner.dropFirst() + "\n") }
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
        commandName: "approve",
        abstract: "Approves a run's gate (for example release-notes).",
        discussion: "A gate is approved once; the first approval stays. A completed or aborted run is refused.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var name: String
    @Argument(help: "The gate.") var gate: String
    @Option(help: "Who approves.") var by = RunService.systemUser
    @OptionGroup var state: LabCommand.StateOption

    func run() throws {
        let service = try Runs.service(state)
        do {
            try service.approve(name, gate: gate, by: by, how: .command)
        } catch {
            throw Runs.exit(error, state: state)
        }
        Terminal.out("Gate \(gate) of \(name) approved by \(by). Continue with: baton resume \(name)\n")
    }
}

struct AbortCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort",
        abstract: "Aborts a run: no new step starts; running steps finish, virtual servers are brought back online.",
        discussion: "A completed or aborted run is refused.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run")) var name: String
    @OptionGroup var state: LabCommand.StateOption

    func run() async throws {
        let service = try Runs.service(state)
        let outcome: RunService.AbortOutcome
        do {
            outcome = try await service.abort(name, by: Runs.operatorName)
        } catch {
            throw Runs.exit(error, state: state)
        }
        let left = try service.journal.steps(of: name).filter { $0.state != .succeeded }.count
        switch outcome {
        case .requested(let owner):
            Terminal.out(
                "Run \(name) aborted: the process driving it (\(owner.owner.pid) on \(owner.owner.host)) starts no new step and lets running ones finish; \(left) steps not done.\n"
            )
        case .aborted:
            Terminal.out("Run \(name) aborted: \(left) steps not done; every virtual server has a home.\n")
        }
    }
}
