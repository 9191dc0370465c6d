import ArgumentParser
import BatonServer
import BatonStore
import Foundation

/// `baton token`: the bearer tokens of `baton serve`.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Makes, lists and revokes the bearer tokens of 'baton serve'.",
        discussion: """
            Roles: viewer (plans), operator (starts, resumes and aborts runs), approver (approves gates). The state \
            store keeps only a token's SHA-256; the token is printed once, when made.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Makes a token and prints it, once.")

        @Option(help: "viewer, operator or approver")
        var role: AccessRole

        @Option(help: "Who holds it: the audit trail names them.")
        var name: String

        @OptionGroup var state: LabCommand.StateOption

        func run() throws {
            let journal = try Runs.journal(state)
            guard try !journal.tokens().contains(where: { $0.name == name }) else {
                Terminal.error("error: a token named \(name) exists already; revoke it first or choose another name")
                throw ExitCode(ExitStatus.badInput)
            }
            Terminal.out(try AccessTokens(journal: journal).create(name: name, role: role) + "\n")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists the tokens' names and roles.")

        @OptionGroup var state: LabCommand.StateOption

        func run() throws {
            let formatter = ISO8601DateFormatter()
            for token in try Runs.journal(state).tokens() {
                Terminal.out(
                    "\(token.name.padded(16)) \(token.role.rawValue.padded(9)) made \(formatter.string(from: Date(timeIntervalSince1970: token.created)))\n"
                )
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revokes a token by its holder's name.")

        @Argument(help: "The name given when the token was made.")
        var name: String

        @OptionGroup var state: LabCommand.StateOption

        func run() throws {
            guard try Runs.journal(state).revokeToken(name: name) else {
                Terminal.error("error: no token named \(name)")
                throw ExitCode(ExitStatus.badInput)
            }
            Terminal.out("Token of \(name) revoked.\n")
        }
    }
}

extension AccessRole: ExpressibleByArgument {}
