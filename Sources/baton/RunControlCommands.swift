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

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Lists runs, or shows one with every step's state.",
        discussion: """
            A run is 'running' only while the process driving it is alive; one whose process is gone is \
            'interrupted', and 'baton resume' continues it.
            """)

    @Argument(help: ArgumentHelp("A run.", valueName: "run"), completion: Completions.runs)
    var name: RunID?

    @OptionGroup var state: LabCommand.StateOption

    @Option(help: "text or json")
    var format: LabCommand.Show.OutputFormat = .text

    func run() async throws {
        let service = try await Runs.service(state)
        do {
            guard let name else { return try await list(service) }
            try await show(name, service)
        } catch let error as RunServiceError {
            throw Runs.exit(error, state: state)
        }
    }

    func list(_ service: RunService) async throws {
        let runs = try await service.statuses()
        if format == .json {
            let list = runs.map {
                [
                    "run": $0.record.id.rawValue, "state": $0.state.rawValue, "package": $0.record.package.spelling,
                    "organization": $0.record.organization,
                ]
            }
            Terminal.out(String(decoding: try JSONEncoder().encode(list), as: UTF8.self) + "\n")
            return
        }
        if runs.isEmpty { Terminal.out("No runs in \(state.runsPlace).\n") }
        for status in runs {
            Terminal.out(
                "\(status.record.id.rawValue.padded(12)) \(status.state.rawValue.padded(12)) \(status.record.package) for \(status.record.organization)\(owner(status).map { "; \($0)" } ?? "")\n"
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

    func show(_ run: RunID, _ service: RunService) async throws {
        let status = try await service.status(run)
        let journal = service.journal
        let steps = try await journal.steps(of: run)
        if format == .json {
            struct Document: Encodable {
                struct Entry: Encodable {
                    var id: StepID
                    var action, state: String
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
                var run: RunID
                var state, target: String
                var twin: TwinName?
                var owner: Owner?
                /// A running run's expected end and the seconds to it (`ExpectedEnd`).
                var expectedEnd: String?
                var remainingSeconds: Int?
                /// A run not completed: what it has left out of service now.
                var outOfService: [String]?
                /// A running run waiting for a maintenance window: until when, and why.
                var waitingForWindow: String?
                /// Receivers that have not taken every notification yet, and why.
                var undelivered: [String]?
                var steps: [Entry]
            }
            let out = status.state == .completed ? nil : try await service.outOfService(run)
            let end = status.state == .running ? try await service.expectedEnd(of: run) : nil
            let outputs = try await journal.outputs(of: run)
            let now = Date().timeIntervalSince1970
            let document = Document(
                run: run, state: status.state.rawValue, target: status.target.rawValue, twin: status.record.twin,
                owner: status.lease.map {
                    .init(
                        host: $0.owner.host, pid: $0.owner.pid, epoch: $0.epoch,
                        heartbeat: ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: $0.heartbeat)),
                        live: $0.isLive(at: now))
                },
                expectedEnd: end.map { ISO8601DateFormatter().string(from: $0) },
                remainingSeconds: end.map { max(0, Int($0.timeIntervalSinceNow.rounded(.up))) },
                outOfService: out,
                waitingForWindow: status.state == .running ? try await service.waitingForWindow(run) : nil,
                undelivered: try await Self.undelivered(run, journal: journal).nilIfEmpty,
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
        if status.state == .running, let waiting = try await service.waitingForWindow(run) {
            Terminal.out(waiting.prefix(1).uppercased() + waiting.dropFirst() + "\n")
        }
        if status.state == .running, let end = try await service.expectedEnd(of: run) {
            let clock = ISO8601DateFormatter.string(
                from: end, timeZone: .current, formatOptions: [.withFullDate, .withTime, .withColonSeparatorInTime])
            Terminal.out(
                "Expected end \(clock) (about \(humanDuration(max(0, Int(end.timeIntervalSinceNow.rounded(.up))))) left), from the steps' real durations so far.\n"
            )
        }
        if status.state != .completed {
            let out = try await service.outOfService(run)
            if !out.isEmpty {
                Terminal.out(
                    "Out of service now\(status.state == .running ? "" : ", until the run goes on (baton resume \(run) --state \(state.state))"):\n"
                        + out.map { "  \($0)\n" }.joined())
            }
        }
        let undelivered = try await Self.undelivered(run, journal: journal)
        if !undelivered.isEmpty {
            Terminal.out(
                "Notifications not yet delivered ('baton notify send' or 'baton serve' sends them):\n"
                    + undelivered.map { "  \($0)\n" }.joined())
        }
        let tally = StepState.allCases.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }
        Terminal.out(tally.joined(separator: ", ") + "\n\n")
        for step in steps {
            Terminal.out(
                "\(step.id.rawValue.padded(6)) \(step.state.rawValue.padded(10)) \(step.action.padded(22)) attempts \(step.attempts)  \(step.message)\n"
            )
        }
    }
}

struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approves a run's gate (for example release-notes).",
        discussion: "A gate is approved once; the first approval stays. A completed or aborted run is refused.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run"), completion: Completions.runs) var name: RunID
    @Argument(help: "The gate.") var gate: String
    @Option(help: "Who approves.") var by = RunService.systemUser
    @OptionGroup var state: LabCommand.StateOption

    func run() async throws {
        let service = try await Runs.service(state)
        do {
            try await service.approve(name, gate: gate, by: by, how: .command)
        } catch {
            throw Runs.exit(error, state: state)
        }
        // A saved plan's approval is of that plan: say which (rule saved-plan).
        let digest = (try? await service.journal.plan(of: name))??.digest
        let of = digest.map { ", for the saved plan sha256:\($0)" } ?? ""
        Terminal.out("Gate \(gate) of \(name) approved by \(by)\(of). Continue with: baton resume \(name)\n")
    }
}

struct AbortCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort",
        abstract: "Aborts a run: no new step starts; running steps finish, virtual servers are brought back online.",
        discussion: "A completed or aborted run is refused.")

    @Argument(help: ArgumentHelp("The run.", valueName: "run"), completion: Completions.runs) var name: RunID
    @OptionGroup var state: LabCommand.StateOption

    func run() async throws {
        let service = try await Runs.service(state)
        let outcome: RunService.AbortOutcome
        do {
            outcome = try await service.abort(name, by: Runs.operatorName)
        } catch {
            throw Runs.exit(error, state: state)
        }
        let left = try await service.journal.steps(of: name).filter { $0.state != .succeeded }.count
        switch outcome {
        case .requested(let owner):
            Terminal.out(
                "Run \(name) aborted: the process driving it (\(owner.owner.pid) on \(owner.owner.host)) starts no new step and lets running ones finish; \(left) steps not done.\n"
            )
        case .aborted:
            let failed = try await service.journal.steps(of: name).filter { $0.state == .failed }
            guard failed.isEmpty else {
                var text = "Run \(name) aborted, but bringing its virtual servers back online failed:\n"
                for step in failed { text += "  failed: \(step.id) \(step.action): \(step.message)\n" }
                Terminal.out(text + "  Bring them online in Cluster Administrator; the run stays aborted.\n")
                throw ExitCode(ExitStatus.failed)
            }
            Terminal.out(
                "Run \(name) aborted: \(left) steps not done; any virtual server it had taken offline is online again.\n"
            )
        }
    }
}

/// A run or a twin named on the command line.
extension Identifier: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

extension StatusCommand {
    /// Each receiver still owed notifications of `run`: its name, its tries, the last error.
    static func undelivered(_ run: RunID, journal: any Journal) async throws -> [String] {
        try await journal.deliveries(of: run).filter(\.pending).map { record in
            record.receiver
                + (record.attempts > 0
                    ? ": \(record.attempts) tries failed, the last: \(record.lastError.prefix(300))" : ": not tried yet")
        }
    }
}

extension Array {
    var nilIfEmpty: Self? { isEmpty ? nil : self }
}
