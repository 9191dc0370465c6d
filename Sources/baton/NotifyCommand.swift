import ArgumentParser
import BatonEngine
import BatonModel
import BatonNotify
import BatonRuns
import Foundation

/// `baton notify test INVENTORY` and `baton notify send`.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify",
        abstract: "Tests the inventory's notify: receivers, or sends the notifications runs still owe.",
        subcommands: [NotifyTestCommand.self, NotifySendCommand.self])
}

struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Sends one test message to each receiver of the inventory's notify: (and each --notify).",
        discussion: "Exit 0 when every receiver took it, 1 when one did not, 2 for bad input or no receiver.")

    @Argument(help: "The inventory (YAML).")
    var inventory: String

    @Option(help: ArgumentHelp("Also test this webhook.", valueName: "url"))
    var notify: [String] = []

    @Option(help: ArgumentHelp("The file holding --notify's HMAC secret (or BATON_NOTIFY_SECRET).", valueName: "file"))
    var notifySecretFile: String?

    func validate() throws {
        for url in notify {
            if let problem = Receiver.problem(url: url) { throw ValidationError("--notify: \(problem)") }
        }
    }

    func run() async throws {
        let inventory = try Loading.inventory(path: self.inventory)
        let receivers = inventory.notify + Receiver.fromCommandLine(notify, secretFile: notifySecretFile)
        guard !receivers.isEmpty else {
            Terminal.error("error: \(self.inventory) has no notify: receivers, and no --notify was given")
            throw ExitCode(ExitStatus.badInput)
        }
        let message = RunService.testNotification(organization: inventory.organization, dashboard: inventory.dashboard)
        let senders = Senders()
        var failed = 0
        for receiver in receivers {
            do {
                try await senders.send(message, to: receiver)
                Terminal.out("ok      \(receiver.name): \(receiver.label)\n")
            } catch {
                failed += 1
                Terminal.out("failed  \(receiver.name): \(receiver.label): \(error)\n")
            }
        }
        if failed > 0 { throw ExitCode(ExitStatus.failed) }
    }
}

struct NotifySendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Sends what runs still owe their receivers (a receiver that was down), then exits.",
        discussion: """
            baton serve does this all the time; this is for controllers without one (cron, a systemd timer). \
            Exit 0 when nothing is owed any more, 1 when a receiver still does not take its messages.
            """)

    @OptionGroup var state: LabCommand.StateOption

    @Option(help: ArgumentHelp("How long to keep trying.", valueName: "seconds"))
    var within = 30.0

    func validate() throws {
        guard (0...3600).contains(within) else { throw ValidationError("--within takes 0 to 3600 seconds") }
    }

    func run() async throws {
        let service = try await Runs.service(state)
        let deliverer = Deliverer(service: service)
        var owed: [DeliveryRecord] = []
        for run in try await service.journal.runs()
        where try await service.journal.deliveries(of: run.id).contains(where: \.pending) {
            owed += await deliverer.flush(run: run.id, within: .milliseconds(Int64(within * 1000)))
        }
        for record in owed {
            Terminal.out(
                "not delivered: \(record.run) to \(record.receiver)\(record.lastError.isEmpty ? "" : ": \(record.lastError)")\n"
            )
        }
        if owed.isEmpty { Terminal.out("Nothing is owed: every receiver has every notification.\n") }
        if !owed.isEmpty { throw ExitCode(ExitStatus.failed) }
    }
}
