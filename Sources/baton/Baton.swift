import ArgumentParser
import BatonModel
import BatonRemote
import BatonStore
import CBuildInfo
import Foundation

/// Baton plans and runs Exchange service-pack and hotfix rollouts in the order KB 328839
/// prescribes.
@main
struct Baton: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "baton",
        abstract:
            "Plans Exchange service-pack and hotfix rollouts across servers, front-ends and clusters, every step with its reason.",
        discussion: """
            Start with `baton plan examples/contoso.yaml --package exchange-2003-sp2`.
            Exit codes: 0 done, 1 a check or step failed, 2 bad input, 3 refused as unsafe.
            """,
        version: Baton.version,
        subcommands: [
            PlanCommand.self, RulesCommand.self, PackagesCommand.self, GenerateInventoryCommand.self, LabCommand.self,
            DiagnoseCommand.self, CheckCommand.self, RunCommand.self, ResumeCommand.self, StatusCommand.self,
            ApproveCommand.self, AbortCommand.self, ReportCommand.self, ServeCommand.self, TokenCommand.self,
            QualityCommand.self, CommandsCommand.self, NotifyCommand.self,
        ]
    )

    /// `baton --version`: the release and the commit it was built from.
    static let version = "\(release) (commit \(String(cString: baton_build_commit())))"
    /// The release's number: scripts/release.sh names its package and tarball with it.
    static let release = "0.1.0"

    /// Exit codes: bad arguments exit 2 (not ArgumentParser's 64), help and version exit 0,
    /// and nothing prints a stack trace.
    static func main() async {
        // Started by ssh as its askpass program (a password logon): answer it and nothing else.
        if let socket = ProcessInfo.processInfo.environment[Askpass.socketVariable], !socket.isEmpty {
            Foundation.exit(await Askpass.answer(prompt: CommandLine.arguments.dropFirst().first ?? "", socket: socket))
        }
        // The process's long-running work (a PostgreSQL journal's connection pool) runs beside
        // the command, as a child of this task, and ends with it.
        await withDiscardingTaskGroup { group in
            BackgroundWork.process.start(in: &group)
            await runCommand()
            group.cancelAll()
        }
    }

    static func runCommand() async {
        var command: ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            refuseUnknownCommand()
            fail(error)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch let error as CleanExit {
            fail(error)
        } catch let error as ValidationError {
            fail(error)
        } catch {
            // Help asked for from within a command, or a parser's error: as the parser says.
            if exitCode(for: error) != .failure { fail(error) }
            // Not the user's input: a file or the journal failed while working. Say it in
            // words, without the usage hint.
            let text =
                error is CocoaError || type(of: error) == NSError.self
                ? error.localizedDescription : String(describing: error)
            Terminal.error("error: \(text)")
            Foundation.exit(ExitStatus.failed)
        }
    }

    /// `baton plna`: a first word that names no command, said as such with the nearest command
    /// ("did you mean 'plan'?"), exit 2.
    static func refuseUnknownCommand() {
        let arguments = CommandLine.arguments.dropFirst()
        guard let word = arguments.first, !word.hasPrefix("-") else { return }
        let names = configuration.subcommands.map { $0._commandName } + ["help"]
        guard !names.contains(word) else { return }
        Terminal.error(
            "error: '\(word)' is not a baton command"
                + (Spelling.closest(to: word, among: names).map { "; did you mean '\($0)'?" } ?? "")
                + "\nSee 'baton --help'.")
        Foundation.exit(ExitStatus.badInput)
    }

    /// Bad arguments: the parser's message and the usage hint, exit 2; help and version, exit 0.
    static func fail(_ error: any Error) -> Never {
        do {
            throw error
        } catch let exit as ExitCode {
            Foundation.exit(exit.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Foundation.exit(0)
            }
            Terminal.error("error: " + message(for: error).replacingOccurrences(of: "Error: ", with: ""))
            Terminal.error("See 'baton --help'.")
            Foundation.exit(ExitStatus.badInput)
        }
    }
}

/// Baton's exit codes.
enum ExitStatus {
    static let done: Int32 = 0
    static let failed: Int32 = 1
    static let badInput: Int32 = 2
    static let refused: Int32 = 3
}

enum Terminal {
    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }

    static func out(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// Writes bytes to standard output as they are.
    static func write(_ bytes: UnsafeRawBufferPointer) {
        try? FileHandle.standardOutput.write(contentsOf: bytes)
    }

    /// Standard output written by a thread of its own, at most `waiting` chunks behind: the
    /// system copying one chunk overlaps making the next (a 100,000-server plan is 500 MB of
    /// JSON, and the copy a tenth of its time). `finish` returns once everything is written.
    final class OutputThread: Sendable {
        private let queue = DispatchQueue(label: "baton.output")
        private let room: DispatchSemaphore

        init(waiting: Int = 2) { room = DispatchSemaphore(value: waiting) }

        func write(_ bytes: UnsafeRawBufferPointer) {
            room.wait()
            let chunk = [UInt8](bytes)
            queue.async { [room] in
                chunk.withUnsafeBytes { Terminal.write($0) }
                room.signal()
            }
        }

        func finish() { queue.sync {} }
    }
}
