import BatonEngine
import BatonModel
import Foundation
import Subprocess

#if canImport(Glibc)
    import Glibc
#endif

/// A password, in memory only: printing it prints a mask.
public struct Secret: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let text: String

    init(_ text: String) { self.text = text }

    public var description: String { "********" }
    public var debugDescription: String { "********" }
}

/// The passwords of the logons a run uses, read once when it starts, from where the inventory
/// says (a file only its owner can read, an environment variable, a command that prints it),
/// and kept in memory. Nothing here is ever written: not to the journal, a log, a command line
/// or an environment a host sees.
public struct LogonSecrets: Sendable {
    var secrets: [String: Secret]
    /// Environment variables that held a password: no program Baton starts inherits them.
    public let hiddenVariables: Set<String>

    /// No password logons.
    public static let none = LogonSecrets(secrets: [:], hiddenVariables: [])

    /// How long a `password-command` may take.
    public static let commandLimit = Duration.seconds(30)
    /// The most a password source may give: a password is one short line.
    static let sizeLimit = 4096

    init(secrets: [String: Secret], hiddenVariables: Set<String>) {
        self.secrets = secrets
        self.hiddenVariables = hiddenVariables
    }

    /// Reads the password of every logon that a host of `hosts` uses (every host of the
    /// inventory when nil). Every problem at once, each naming the logon and where it was
    /// written; nothing is read twice.
    public static func read(
        for inventory: Inventory, hosts: [HostName]? = nil, environment: [String: String] = ProcessInfo.processInfo
            .environment, commandLimit: Duration = LogonSecrets.commandLimit
    ) async throws(RemoteError) -> LogonSecrets {
        let wanted = Set(hosts ?? inventory.hosts.map(\.host))
        var needed: [LogonSpec] = []
        for access in inventory.hosts where wanted.contains(access.host) {
            guard let logon = inventory.logon(for: access), !needed.contains(where: { $0.name == logon.name }) else {
                continue
            }
            needed.append(logon)
        }
        var secrets: [String: Secret] = [:]
        var problems: [String] = []
        for logon in needed {
            do {
                secrets[logon.name.lowercased()] = try await read(
                    logon.password, environment: environment, limit: commandLimit)
            } catch {
                problems.append("\(logon.location): error: logon \(logon.name): \(error.reason)")
            }
        }
        guard problems.isEmpty else { throw RemoteError(problems) }
        let variables = inventory.logons.compactMap { logon -> String? in
            if case .environment(let name) = logon.password { return name }
            return nil
        }
        return LogonSecrets(secrets: secrets, hiddenVariables: Set(variables))
    }

    /// The password of `logon`, when it was read.
    public func secret(for logon: LogonSpec) -> Secret? { secrets[logon.name.lowercased()] }

    /// `text` with every password it holds masked, for anything kept or shown: a command that
    /// echoes its environment or arguments does not put a password in the journal.
    public func masked(_ text: String) -> String {
        secrets.values.reduce(text) { text, secret in
            secret.text.isEmpty ? text : text.replacingOccurrences(of: secret.text, with: "********")
        }
    }

    /// Why a password could not be read, for the administrator.
    struct Failure: Error {
        var reason: String
        init(_ reason: String) { self.reason = reason }
    }

    static func read(_ source: LogonSpec.PasswordSource, environment: [String: String], limit: Duration)
        async throws(Failure) -> Secret
    {
        let text: String
        switch source {
        case .file(let written): text = try readFile(written, home: environment["HOME"])
        case .environment(let name):
            guard let value = environment[name], !value.isEmpty else {
                throw Failure(
                    "the environment variable \(name) (password-env) is not set: export it in the shell that starts Baton")
            }
            text = value
        case .command(let command): text = try await run(command, limit: limit)
        }
        let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let password = line.hasSuffix("\r") ? String(line.dropLast()) : String(line)
        guard !password.isEmpty else { throw Failure("\(source) gave an empty password") }
        guard password.utf8.count <= sizeLimit else {
            throw Failure("\(source) gave more than \(sizeLimit) bytes on its first line; a password is one short line")
        }
        return Secret(password)
    }

    /// A password file: the controller user's own, readable by nobody else (ssh's rule for a
    /// private key), a regular file of at most 4 KiB.
    static func readFile(_ written: String, home: String?) throws(Failure) -> String {
        let path = written.hasPrefix("~/") ? (home ?? NSHomeDirectory()) + written.dropFirst(1) : written
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw Failure("cannot read the password file \(path) (password-file): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw Failure("the password file \(path) (password-file) is not a regular file")
        }
        guard info.st_uid == getuid() else {
            throw Failure(
                "the password file \(path) (password-file) belongs to uid \(info.st_uid), not to the user Baton runs as (uid \(getuid())): chown it"
            )
        }
        guard info.st_mode & 0o077 == 0 else {
            throw Failure(
                "the password file \(path) (password-file) can be read by others (mode \(String(info.st_mode & 0o777, radix: 8))): chmod 600 \(path), as ssh asks of a private key"
            )
        }
        guard info.st_size <= sizeLimit else {
            throw Failure("the password file \(path) (password-file) is larger than \(sizeLimit) bytes")
        }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw Failure("cannot read the password file \(path) (password-file) as UTF-8 text")
        }
        return text
    }

    /// A password command: `/bin/sh -c COMMAND` under coreutils' `timeout`, which stops it,
    /// with everything it started (its process group), after `limit` of wall-clock time:
    /// the bound holds however busy this process is. The first line of its output is the
    /// password.
    static func run(_ command: String, limit: Duration) async throws(Failure) -> String {
        let seconds = String(max(1, limit.components.seconds))
        // A last resort, should `timeout` itself never end: well past its own limit.
        let outcome: Result<(TerminationStatus, String, String), any Error>? = await within(limit * 4 + .seconds(300)) {
            var options = PlatformOptions()
            options.createSession = true
            options.teardownSequence = [
                .send(signal: .kill, toProcessGroup: true, allowedDurationToNextStep: .seconds(1))
            ]
            do {
                let result = try await Subprocess.run(
                    .name("timeout"), arguments: ["--kill-after=2", seconds, "/bin/sh", "-c", command],
                    platformOptions: options, input: .none, output: .string(limit: sizeLimit),
                    error: .string(limit: sizeLimit))
                return .success((result.terminationStatus, result.standardOutput, result.standardError))
            } catch {
                return .failure(error)
            }
        }
        let what = "the password command '\(command.prefix(80))' (password-command)"
        switch outcome {
        case nil, .success((.exited(124), _, _)), .success((.exited(137), _, _)):
            // timeout(1) exits 124 when it stopped the command, 137 when it had to kill it.
            throw Failure("\(what) gave no password within \(limit.components.seconds) s and was stopped")
        case .failure(let error):
            throw Failure("\(what) could not be run: \(error)")
        case .success(let (status, output, errors)):
            guard case .exited(0) = status else {
                let said = errors.split(separator: "\n").last.map { ": \($0.prefix(200))" } ?? ""
                throw Failure("\(what) failed (\(status))\(said)")
            }
            return output
        }
    }
}
