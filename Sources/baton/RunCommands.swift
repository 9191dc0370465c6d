import ArgumentParser
import BatonEngine
import BatonKnowledge
import BatonLab
import BatonModel
import BatonPlan
import BatonPlanner
import BatonRemote
import BatonRuns
import BatonStore
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// `--format text|json` of the commands that print text or JSON.
enum RunExecutionFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

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

    @Flag(name: .customLong("json"), help: "Print events as JSON lines (the same as --format json).")
    var jsonFlag = false

    @Option(help: "text, or json: one JSON object a line for each event and the run's end, and nothing else.")
    var format: RunExecutionFormat = .text

    /// Whether only JSON lines are printed.
    var json: Bool { jsonFlag || format == .json }

    @Option(
        help: ArgumentHelp(
            "Seconds without a heartbeat after which another controller may take the run over.",
            valueName: "seconds"))
    var leaseExpiry = RunService.defaultLeaseExpiry

    @Flag(help: "When another run holds the same machines, wait for it instead of refusing.")
    var wait = false

    @Option(
        help: ArgumentHelp(
            "A maintenance window for this run instead of the inventory's windows:, such as \"Sat 22:00-Sun 04:00 Europe/Berlin\".",
            valueName: "window"))
    var window: String?

    @Flag(help: "Halt when the next step must wait for a maintenance window, instead of waiting for it.")
    var haltOutsideWindow = false

    @Option(
        help: ArgumentHelp(
            "On the lab twin: rehearse as if the run started at this instant (ISO 8601, such as 2026-12-05T21:00:00+01:00), its windows met at the twin's speed.",
            valueName: "instant"))
    var rehearseAt: String?

    @Option(
        help: ArgumentHelp(
            "Also tell this webhook of the run's events (a Teams or Slack incoming webhook is known by its address).",
            valueName: "url"))
    var notify: [String] = []

    @Option(
        help: ArgumentHelp(
            "The file holding the HMAC secret that signs --notify's messages (or set BATON_NOTIFY_SECRET).",
            valueName: "file"))
    var notifySecretFile: String?

    @Option(
        help: ArgumentHelp(
            "At the end, how long to keep sending notifications the receivers have not taken yet; the rest stay in the journal for baton serve or baton notify send.",
            valueName: "seconds"))
    var notifyWait = 10.0

    /// `--notify`'s receivers.
    var extraReceivers: [Receiver] { Receiver.fromCommandLine(notify, secretFile: notifySecretFile) }

    /// The windows settings, or exit 2 naming what is wrong.
    func windowSettings() throws -> WindowSettings {
        var settings = WindowSettings(haltsOutside: haltOutsideWindow)
        if let window {
            switch MaintenanceWindow.parse(window) {
            case .success(let parsed): settings.window = parsed
            case .failure(let error):
                Terminal.error("error: --window: \(error)")
                throw ExitCode(ExitStatus.badInput)
            }
        }
        if let rehearseAt {
            guard let date = ISO8601DateFormatter().date(from: rehearseAt) else {
                Terminal.error("error: --rehearse-at '\(rehearseAt)' is not an ISO 8601 instant such as 2026-12-05T21:00:00+01:00")
                throw ExitCode(ExitStatus.badInput)
            }
            settings.rehearseAt = date
        }
        return settings
    }

    func validate() throws {
        guard LabSpeed(speed) != nil else {
            throw ValidationError("--speed takes instant, real or a factor of at least 1")
        }
        guard parallel >= 1 else { throw ValidationError("--parallel takes a number of at least 1") }
        guard (1...3600).contains(leaseExpiry) else { throw ValidationError("--lease-expiry takes 1 to 3600 seconds") }
        if let window, case .failure(let error) = MaintenanceWindow.parse(window) {
            throw ValidationError("--window: \(error)")
        }
        for url in notify {
            if let problem = Receiver.problem(url: url) { throw ValidationError("--notify: \(problem)") }
        }
        guard (0...3600).contains(notifyWait) else { throw ValidationError("--notify-wait takes 0 to 3600 seconds") }
        if let rehearseAt, ISO8601DateFormatter().date(from: rehearseAt) == nil {
            throw ValidationError(
                "--rehearse-at '\(rehearseAt)' is not an ISO 8601 instant such as 2026-12-05T21:00:00+01:00")
        }
    }

    var engineOptions: EngineOptions {
        EngineOptions(parallel: parallel, approveAll: yes, maxFailedHosts: maxFailedHosts)
    }
}
enum Runs {
    /// Who acts from this shell, for the audit trail.
    static var operatorName: String { RunService.systemUser }

    static func journal(_ state: LabCommand.StateOption) async throws -> any Journal {
        try await state.openJournal()
    }

    static func service(_ state: LabCommand.StateOption, leaseExpiry: Double = RunService.defaultLeaseExpiry)
        async throws -> RunService
    {
        RunService(journal: try await journal(state), stateDirectory: state.state, leaseExpiry: leaseExpiry)
    }

    /// Prints why the run service refused and gives the exit code: 2 for bad input (an unknown
    /// run or gate, an inventory the hosts cannot carry out), 1 for everything else.
    static func exit(_ error: RunServiceError, state: LabCommand.StateOption) -> ExitCode {
        switch error {
        case .badInventory, .logons:
            Terminal.error(error.description)
            return ExitCode(ExitStatus.badInput)
        case .notFound(let run, let nearest):
            Terminal.error(
                "error: no run '\(run)' in \(state.runsPlace)"
                    + (nearest.map { "; did you mean '\($0)'?" } ?? "; 'baton status' lists them"))
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
        case .finished, .alreadyApproved, .journal, .storage, .preflightFailed:
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
        if !options.yes, isatty(STDIN_FILENO) != 0 {
            for gate in try await service.gates(of: run.id) where gate.state != .approved {
                Terminal.out("Gate \(gate.gate): \(gate.why) Approve? [y/N] ")
                if readLine()?.lowercased().hasPrefix("y") == true {
                    _ = try? await service.approve(run.id, gate: gate.gate, by: operatorName, how: .terminal)
                }
            }
        }
        let steps = try await journal.steps(of: run.id)
        let speed = run.target == .hosts ? LabSpeed.realTime : LabSpeed(options.speed) ?? .instant
        let clock = try await journal.plan(of: run.id).map { ExpectedEnd(plan: $0, parallel: options.parallel) }
        let printer = ProgressPrinter(
            json: options.json, total: steps.count, speed: speed,
            done: Set(steps.filter { $0.state == .succeeded }.map(\.id)), run: run.id, stateDirectory: state.state,
            clock: clock)
        let windows = try options.windowSettings()
        let signals = SignalTrap(running: { printer.runningSteps() })
        var engineOptions = options.engineOptions
        engineOptions.stopRequested = { signals.reason }
        let outcome: RunService.Outcome
        // The run's notifications go out beside it, never in its way.
        let deliverer = Deliverer(service: service)
        let sending = Task { await deliverer.follow(run: run.id) }
        do {
            outcome = try await service.drive(
                run, speed: speed, options: engineOptions, approvedBy: operatorName, windows: windows,
                notify: options.extraReceivers
            ) { printer.print($0) }
        } catch {
            sending.cancel()
            await sending.value
            printer.close()
            throw exit(error, state: state)
        }
        sending.cancel()
        await sending.value
        printer.close()
        let owed = await deliverer.flush(run: run.id, within: .milliseconds(Int64(options.notifyWait * 1000)))
        for record in owed {
            Terminal.error(
                "warning: notifications of \(run.id) to \(record.receiver) are not delivered yet"
                    + (record.lastError.isEmpty ? "" : " (\(record.lastError))")
                    + "; the journal keeps them: 'baton notify send' or 'baton serve' delivers them")
        }
        if options.json {
            try await printEndAsJSON(run.id, outcome: outcome, service: service, state: state, stopped: signals.reason)
        } else {
            try await printEnd(run.id, outcome: outcome, service: service, state: state, stopped: signals.reason)
        }
    }

    /// The run's end as the last JSON line: its state, the steps that failed and how many were
    /// not run, the gates it waits for and the command that continues it; exit as `printEnd`.
    static func printEndAsJSON(
        _ run: RunID, outcome: RunService.Outcome, service: RunService, state: LabCommand.StateOption, stopped: String?
    ) async throws {
        let steps = try await service.journal.steps(of: run)
        let failed = steps.filter { $0.state == .failed }
        let left = steps.filter { $0.state == .blocked || $0.state == .pending }
        var end: [String: JSONValue] = [
            "event": .text("end"), "run": .text(run.rawValue), "state": .text(outcome.state.rawValue),
            "succeeded": .number(steps.filter { $0.state == .succeeded }.count), "notRun": .number(left.count),
            "failed": .list(
                failed.map {
                    .object([
                        "step": .text($0.id.rawValue), "action": .text($0.action), "message": .text($0.message),
                    ])
                }),
        ]
        if let stopped { end["stopped"] = .text(stopped) }
        if outcome.state != .completed {
            end["outOfService"] = .list(try await service.outOfService(run).map(JSONValue.text))
        }
        let waiting = try await service.gates(of: run).filter { $0.state == .waiting }.map(\.gate)
        if outcome.state != .completed { end["waitingFor"] = .list(waiting.map(JSONValue.text)) }
        if outcome.state != .completed, outcome.state != .aborted {
            end["resume"] = .text("baton resume \(run) --state \(state.state)")
        }
        Terminal.out(JSONValue.line(end))
        if outcome.state != .completed { throw ExitCode(ExitStatus.failed) }
    }

    static func printEnd(
        _ run: RunID, outcome: RunService.Outcome, service: RunService, state: LabCommand.StateOption, stopped: String?
    ) async throws {
        let journal = service.journal
        let steps = try await journal.steps(of: run)
        let failed = steps.filter { $0.state == .failed }
        let left = steps.filter { $0.state == .blocked || $0.state == .pending }
        switch outcome.state {
        case .completed:
            do {
                await Terminal.out("\n" + (try service.report(run)).text())
            } catch {
                throw exit(error, state: state)
            }
        case .running, .halted, .aborted, .interrupted:
            var text = "\nRun \(run) \(outcome.state.rawValue)"
            text += stopped.map { ": \($0); running steps finished." } ?? "."
            for step in failed { text += "\n  failed: \(step.id) \(step.action): \(step.message)" }
            let out = try await service.outOfService(run)
            if !out.isEmpty {
                text += "\n  Out of service now, until the run goes on:"
                for line in out { text += "\n    \(line)" }
            }
            let onlyApproval =
                failed.isEmpty && stopped == nil && left.contains(where: { $0.message == "waiting for an approval" })
            if onlyApproval {
                let waiting = try await service.gates(of: run).filter { $0.state == .waiting }.map(\.gate)
                for gate in waiting.isEmpty ? ["release-notes"] : waiting {
                    text += "\n  waiting for approval: baton approve \(run) \(gate) --state \(state.state)"
                }
            }
            if outcome.state != .aborted {
                // Nothing to fix when the run only waits for an approval.
                let fix = stopped != nil ? "Continue with" : onlyApproval ? "Once approved" : "Fix the cause, then"
                text += "\n  \(left.count) steps not run. \(fix): baton resume \(run) --state \(state.state)\n"
            } else {
                text += "\n  \(left.count) steps not run.\n"
            }
            Terminal.out(text)
            throw ExitCode(ExitStatus.failed)
        }
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

    @Argument(help: "The inventory (YAML), or a plan saved with baton plan … --out FILE.")
    var inventory: String

    @Option(
        help: "The package id (without it, Baton says which packages apply to the inventory).",
        completion: Completions.packages)
    var package: PackageID?

    @OptionGroup var choosing: Choosing

    @OptionGroup var state: LabCommand.StateOption

    @Option(name: .customLong("run"), help: "A name for the run (default run-1, run-2, …).")
    var runName: RunID?

    @Option(help: "Faults to inject into the lab twin first (YAML).")
    var faults: String?

    @OptionGroup var which: LabCommand.TwinOption

    @Flag(help: "Make the lab twin anew from the inventory, even if the state directory has one.")
    var freshLab = false

    @Flag(help: "Rehearse on the lab twin even though the inventory says how to reach real hosts.")
    var lab = false

    @OptionGroup var options: ExecutionOptions

    func run() async throws {
        let (inventory, package, plan) = try await planned()
        var faultList: [LabFault] = []
        if let faults {
            do { faultList = try LabFaultFile.load(path: faults) } catch {
                Terminal.error(error.description)
                throw ExitCode(ExitStatus.badInput)
            }
        }
        let target = RunTarget(inventory, lab: lab)
        if target == .hosts, !faultList.isEmpty || freshLab || which.twin != .standard {
            Terminal.error("error: --faults, --fresh-lab and --twin are for the lab twin; add --lab to rehearse there")
            throw ExitCode(ExitStatus.badInput)
        }
        let service = try await Runs.service(state, leaseExpiry: options.leaseExpiry)
        // The hosts' passwords, read once, before the run is recorded: a source that cannot be
        // read is bad input, and nothing starts.
        var secrets: LogonSecrets?
        if target == .hosts {
            do { secrets = try await service.secrets(for: inventory, plan: plan) } catch {
                throw Runs.exit(error, state: state)
            }
        }
        let new = RunService.NewRun(
            inventory: inventory, package: package, plan: plan, id: runName, target: target, twin: which.twin,
            freshLab: freshLab, faults: faultList, by: Runs.operatorName, secrets: secrets)
        let owned: RunService.OwnedRun
        do {
            owned =
                options.wait
                ? try await service.waiting({ () throws(RunServiceError) in try await service.start(new) }) {
                    Terminal.error("Waiting: \($0)\n")
                }
                : try await service.start(new)
        } catch {
            throw Runs.exit(error, state: state)
        }
        if options.json {
            Terminal.out(
                JSONValue.line([
                    "event": .text("run"), "run": .text(owned.id.rawValue), "steps": .number(plan.steps.count),
                    "package": .text(package.id.spelling), "organization": .text(inventory.organization),
                    "target": .text(target.rawValue), "twin": .text(which.twin.rawValue),
                ]))
        } else {
            Terminal.out(
                "Run \(owned.id): \(plan.steps.count) steps of \(package.id) for \(inventory.organization) on \(target == .hosts ? "its real hosts" : which.twin == .standard ? "the lab twin" : "the lab twin '\(which.twin)'"); state in \(state.runsPlace).\n"
            )
        }
        try await Runs.drive(owned, service: service, state: state, options: options)
    }
}

extension RunCommand {
    /// The inventory, package and plan of this run: a saved plan exactly as reviewed (its
    /// builds checked against the lab twin's now), or a plan made now.
    func planned() async throws -> (Inventory, Package, Plan) {
        guard SavedPlanFile.isSavedPlan(inventory) else {
            let read = try Loading.inventory(path: inventory, catalogue: choosing.catalogueFile)
            let current = try await choosing.current(
                read, target: RunTarget(read, lab: lab), freshLab: freshLab, state: state, twin: which, quiet: false)
            return try Loading.plan(current, packageID: package, choosing: choosing)
        }
        if package != nil || choosing.to != nil || choosing.limit != nil || choosing.catalogue != nil {
            Terminal.error(
                "error: \(inventory) is a saved plan: it names its own package, target, catalogue and limit; run it without --package, --to, --catalogue and --limit")
            throw ExitCode(ExitStatus.badInput)
        }
        let (inventory, package, plan) = try SavedPlanFile.load(self.inventory)
        if RunTarget(inventory, lab: lab) == .lab, !freshLab {
            let lab = try await state.lab(which)
            if try await lab.exists() {
                let twin = try await lab.load()
                if twin.refusal(for: inventory, in: lab.store) == nil {
                    try SavedPlanFile.checkBuilds(plan, path: self.inventory, now: twin.builds)
                }
            }
        }
        return (inventory, package, plan)
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continues a halted or interrupted run where it stopped; nothing done is done again.",
        discussion: "Refused while another process drives the run, and for a completed or aborted run.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run"), completion: Completions.runs)
    var name: RunID

    @OptionGroup var state: LabCommand.StateOption
    @OptionGroup var options: ExecutionOptions

    func run() async throws {
        let service = try await Runs.service(state, leaseExpiry: options.leaseExpiry)
        let owned: RunService.OwnedRun
        do {
            owned =
                options.wait
                ? try await service.waiting({ () throws(RunServiceError) in
                    try await service.resume(name, by: Runs.operatorName)
                }) { Terminal.error("Waiting: \($0)\n") }
                : try await service.resume(name, by: Runs.operatorName)
        } catch {
            throw Runs.exit(error, state: state)
        }
        try await Runs.drive(owned, service: service, state: state, options: options)
    }
}
