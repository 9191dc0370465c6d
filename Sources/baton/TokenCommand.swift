import ArgumentParser
import BatonEngine
import BatonServer
import BatonStore
import Foundation

/// `baton token`: the bearer tokens of `baton serve`.
struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "Makes, lists and revokes the bearer tokens of 'baton serve'.",
        discussion: """
            Roles: viewer (plans), operator (starts, resumes and aborts runs), approver (approves gates), admin (an \
            operator who may also give inline inventories that run commands on the controller: 'via: local' hosts, \
            profiles of their own, an ssh_config file). The state \
            store keeps only a token's SHA-256; the token is printed once, when made.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Makes a token and prints it, once.")

        @Option(help: "viewer, operator, approver or admin")
        var role: AccessRole

        @Option(help: "Who holds it: the audit trail names them.")
        var name: String

        @Option(
            help: ArgumentHelp(
                "How long it is accepted: 30d, 12h, 90m or 45s (default: until revoked).", valueName: "age"))
        var expires: String?

        @OptionGroup var state: LabCommand.StateOption

        func validate() throws {
            if !AccessTokens.isValidName(name) {
                throw ValidationError(
                    "--name takes \(AccessTokens.nameRule): it names the holder in the audit trail"
                )
            }
            if let expires, Self.seconds(expires) == nil {
                throw ValidationError("--expires takes a number and d, h, m or s, such as 30d")
            }
        }

        /// "30d", "12h", "90m" in seconds.
        static func seconds(_ text: String) -> Double? {
            guard let unit = text.last, let number = Double(text.dropLast()), number > 0, number <= 3650 * 24 * 3600
            else { return nil }
            switch unit {
            case "d": return number * 86400
            case "h": return number * 3600
            case "m": return number * 60
            case "s": return number
            default: return nil
            }
        }

        func run() async throws {
            let journal = try await Runs.journal(state)
            guard try await !journal.tokens().contains(where: { $0.name == name }) else {
                Terminal.error("error: a token named \(name) exists already; revoke it first or choose another name")
                throw ExitCode(ExitStatus.badInput)
            }
            let until = expires.flatMap(Self.seconds).map { Date().timeIntervalSince1970 + $0 }
            await Terminal.out(try AccessTokens(journal: journal).create(name: name, role: role, expires: until) + "\n")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Lists the tokens: name, role, when made, last used and expiry (never the token itself).")

        @OptionGroup var state: LabCommand.StateOption

        @Option(help: "text or json.")
        var format: RunExecutionFormat = .text

        func run() async throws {
            let formatter = ISO8601DateFormatter()
            func time(_ seconds: Double?, _ none: String) -> String {
                seconds.map { formatter.string(from: Date(timeIntervalSince1970: $0)) } ?? none
            }
            let tokens = try await Runs.journal(state).tokens()
            if format == .json {
                Terminal.out(
                    JSONValue.pretty(
                        .list(
                            tokens.map { token in
                                var object: [String: JSONValue] = [
                                    "name": .text(token.name), "role": .text(token.role.rawValue),
                                    "created": .text(time(token.created, "")),
                                ]
                                if let used = token.lastUsed { object["lastUsed"] = .text(time(used, "")) }
                                if let expires = token.expires { object["expires"] = .text(time(expires, "")) }
                                return .object(object)
                            })))
                return
            }
            if tokens.isEmpty { Terminal.out("No tokens in \(state.runsPlace).\n") }
            let now = Date().timeIntervalSince1970
            for token in tokens {
                let expiry =
                    token.expires.map { $0 <= now ? "expired \(time($0, ""))" : "expires \(time($0, ""))" }
                    ?? "never expires"
                Terminal.out(
                    "\(token.name.padded(16)) \(token.role.rawValue.padded(9)) made \(time(token.created, "")), last used \(time(token.lastUsed, "never")), \(expiry)\n"
                )
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revokes a token by its holder's name.")

        @Argument(help: "The name given when the token was made.")
        var name: String

        @OptionGroup var state: LabCommand.StateOption

        func run() async throws {
            guard try await Runs.journal(state).revokeToken(name: name) else {
                Terminal.error("error: no token named \(name)")
                throw ExitCode(ExitStatus.badInput)
            }
            Terminal.out("Token of \(name) revoked.\n")
        }
    }
}

extension AccessRole: ExpressibleByArgument {}
