import BatonModel
import Foundation
import Subprocess

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// What came of one command on a host.
public struct CommandOutcome: Sendable, Hashable {
    /// The command's exit code; nil when it never ran (the host could not be reached).
    public var exitCode: Int32?
    /// The end of what it printed (standard output and error together), bounded.
    public var output: String
    /// Why the command never ran, for a person: what happened and what to do.
    public var unreachable: String?

    public init(exitCode: Int32?, output: String, unreachable: String? = nil) {
        self.exitCode = exitCode
        self.output = output
        self.unreachable = unreachable
    }

    /// Windows installers' "done, restart needed" (3010) and "done, restarting" (1641). An exit
    /// status reaches a Linux controller as 8 bits, through ssh as through a local shell, so
    /// these arrive as 194 and 105; a shell profile's command exits 194 to ask for a restart.
    public var asksForRestart: Bool { exitCode.map { [3010, 1641, 194, 105].contains($0) } ?? false }

    public var succeeded: Bool { exitCode == 0 || asksForRestart }
}

/// Runs a command on a host, as the controller's user would by hand.
public protocol CommandRunner: Sendable {
    func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome
}

/// Runs commands through the system's OpenSSH client (`via: ssh`) or the local shell
/// (`via: local`). ssh reads the user's own configuration, keys and agent; Baton adds only
/// what a program needs: no prompts (BatchMode), strict host-key checking, a connect timeout,
/// and one shared connection per host (ControlMaster) so hundreds of steps on hundreds of
/// hosts do not each pay for a handshake.
public struct OpenSSHRunner: CommandRunner {
    public let settings: SSHSettings
    /// Where the shared connections' sockets live: short, since a socket path is limited to
    /// about 100 bytes.
    public let controlDirectory: String
    /// How much of a command's output is kept (its end): enough to see why it failed.
    public static let outputLimit = 4096

    public init(settings: SSHSettings, controlDirectory: String) {
        self.settings = settings
        self.controlDirectory = controlDirectory
    }

    /// The argument vector for `command` on `access`.
    public func arguments(_ command: String, on access: HostAccess) -> [String] {
        guard access.via == .ssh else { return ["/bin/sh", "-c", command] }
        var arguments = ["ssh"]
        if let config = settings.config { arguments += ["-F", config] }
        if let port = access.port { arguments += ["-p", String(port)] }
        if let user = access.user { arguments += ["-l", user] }
        arguments += [
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=\(settings.connectTimeout)",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
            "-o", "ControlMaster=auto", "-o", "ControlPath=\(controlDirectory)/%C", "-o", "ControlPersist=120",
            "--", access.destination, command,
        ]
        return arguments
    }

    public func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome {
        if access.via == .ssh {
            try? FileManager.default.createDirectory(
                atPath: controlDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        let argv = arguments(command, on: access)
        let executable: Executable = argv[0].hasPrefix("/") ? .path(FilePath(argv[0])) : .name(argv[0])
        let result = try await Subprocess.run(
            executable, arguments: Arguments(Array(argv.dropFirst())), input: .none, output: .sequence,
            error: .combinedWithOutput
        ) { execution in
            var tail = ""
            for try await line in execution.standardOutput.strings() {
                tail += line.hasSuffix("\n") ? line : line + "\n"
                if tail.utf8.count > 2 * Self.outputLimit { tail = String(tail.suffix(Self.outputLimit)) }
            }
            return String(tail.suffix(Self.outputLimit))
        }
        let output = access.via == .ssh ? Self.withoutConfigurationText(result.closureResult) : result.closureResult
        let code: Int32? =
            switch result.terminationStatus {
            case .exited(let code): code
            case .signaled: nil
            }
        if access.via == .ssh, code == 255 || code == nil, let reason = Self.connectionFailure(output, access) {
            return CommandOutcome(exitCode: nil, output: output, unreachable: reason)
        }
        return CommandOutcome(exitCode: code ?? -1, output: output)
    }

    /// ssh quotes a configuration line it cannot parse (`FILE line 3: no argument after
    /// keyword "…"`, `FILE: line 3: Bad configuration option: …`), and the file named by `ssh: config` may be any file the controller's user
    /// can read: such lines keep where the problem is and drop what the file says.
    static func withoutConfigurationText(_ output: String) -> String {
        guard output.contains(" line ") else { return output }
        return output.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            guard let mark = line.range(of: #"^.*? line [0-9]+: "#, options: .regularExpression) else { return String(line) }
            return line[..<mark.upperBound]
                + "ssh cannot use this line of its configuration (its text is not shown: the file may not be an ssh_config)"
        }.joined(separator: "\n")
    }

    /// ssh's exit 255 means ssh itself failed; its words say why. Returns what to tell the
    /// operator, or nil when the failure was the remote command's own.
    static func connectionFailure(_ output: String, _ access: HostAccess) -> String? {
        let target = "\(access.host) (\(access.destination)\(access.port.map { ":\($0)" } ?? ""))"
        if output.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || output.contains("Host key verification failed")
        {
            return
                "the host key of \(target) does not match known_hosts: someone may be in the middle, or the host was rebuilt. Verify its new key out of band, update known_hosts (ssh-keygen -R), then resume the run"
        }
        if output.contains("Permission denied") {
            return
                "\(target) refused the login: check the user and that your key is loaded (ssh-add -l) and authorised there, then resume the run"
        }
        let unreachable = [
            "Connection refused", "Connection timed out", "No route to host", "Could not resolve hostname",
            "Network is unreachable", "Connection closed", "Connection reset", "Operation timed out",
            "Timeout, server", "kex_exchange_identification",
        ]
        if let phrase = unreachable.first(where: output.contains) {
            return
                "cannot reach \(target): \(phrase.lowercased()). Check that it is up and its sshd runs, then resume the run"
        }
        return nil
    }
}
