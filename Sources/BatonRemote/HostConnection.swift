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
    /// The host refused the logon's password: trying it on other hosts could lock the
    /// account out.
    public var passwordRefused: Bool

    public init(exitCode: Int32?, output: String, unreachable: String? = nil, passwordRefused: Bool = false) {
        self.exitCode = exitCode
        self.output = output
        self.unreachable = unreachable
        self.passwordRefused = passwordRefused
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
/// hosts do not each pay for a handshake. A host with a password logon (`logons:`) is logged
/// on to with that account's password, which ssh asks of Baton itself (`Askpass`): nothing
/// else, one attempt, so a wrong password is not tried again and again.
public struct OpenSSHRunner: CommandRunner {
    public let settings: SSHSettings
    /// Where the shared connections' sockets live: short, since a socket path is limited to
    /// about 100 bytes.
    public let controlDirectory: String
    /// The password logon of each host that has one.
    public let logons: [HostName: LogonSpec]
    /// Where ssh asks for those passwords.
    public let askpass: Askpass
    /// Environment variables no program Baton starts may inherit (they hold passwords).
    public let hiddenVariables: Set<String>
    /// How much of a command's output is kept (its end): enough to see why it failed.
    public static let outputLimit = 4096

    public init(
        settings: SSHSettings, controlDirectory: String, logons: [HostName: LogonSpec] = [:],
        askpass: Askpass = .none, hiddenVariables: Set<String> = []
    ) {
        self.settings = settings
        self.controlDirectory = controlDirectory
        self.logons = logons
        self.askpass = askpass
        self.hiddenVariables = hiddenVariables
    }

    /// The argument vector for `command` on `access`.
    public func arguments(_ command: String, on access: HostAccess) -> [String] {
        guard access.via == .ssh else { return ["/bin/sh", "-c", command] }
        let logon = logons[access.host]
        var arguments = ["ssh"]
        if let config = settings.config { arguments += ["-F", config] }
        if let port = access.port { arguments += ["-p", String(port)] }
        if let user = logon?.user ?? access.user { arguments += ["-l", user] }
        if logon != nil {
            // The password, asked once of Baton's askpass; never a key, an agent or a ticket,
            // whose logon would carry no network credentials on Windows. Its shared
            // connection is its own: never one a key logon opened.
            arguments += [
                "-o", "BatchMode=no", "-o", "PreferredAuthentications=keyboard-interactive,password",
                "-o", "PubkeyAuthentication=no", "-o", "GSSAPIAuthentication=no", "-o", "NumberOfPasswordPrompts=1",
                "-o", "ControlPath=\(controlDirectory)/%C-password",
            ]
        } else {
            arguments += ["-o", "BatchMode=yes", "-o", "ControlPath=\(controlDirectory)/%C"]
        }
        arguments += [
            "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=\(settings.connectTimeout)",
            "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
            "-o", "ControlMaster=auto", "-o", "ControlPersist=120",
            "--", access.destination, command,
        ]
        return arguments
    }

    /// The environment of the program run for `access`: Baton's own without any variable that
    /// holds a password, and for a password logon what ssh needs to ask Baton for it (the
    /// askpass program and its socket; never the password).
    public func environment(for access: HostAccess) -> Environment {
        var changes: [Environment.Key: String?] = [:]
        for name in hiddenVariables { changes[Environment.Key(stringLiteral: name)] = .some(nil) }
        if access.via == .ssh, let logon = logons[access.host] {
            changes["SSH_ASKPASS"] = askpass.helper
            changes["SSH_ASKPASS_REQUIRE"] = "force"
            changes[Environment.Key(stringLiteral: Askpass.socketVariable)] = askpass.socket(for: logon.name) ?? ""
        }
        return changes.isEmpty ? .inherit : .inherit.updating(changes)
    }

    /// Makes the folder of ssh's shared connections and Baton's askpass sockets, and refuses
    /// one that someone else made or others can enter: a socket there would be theirs to
    /// answer (`/tmp` is everybody's).
    static func privateDirectory(_ path: String) throws(RemoteError) {
        try? FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw RemoteError(["cannot make the folder \(path) for ssh's connections"])
        }
        guard info.st_uid == getuid(), info.st_mode & 0o077 == 0 else {
            throw RemoteError([
                "the folder \(path) for ssh's connections belongs to uid \(info.st_uid) with mode \(String(info.st_mode & 0o777, radix: 8)): it must be this user's (uid \(getuid())) alone. Remove it, then try again"
            ])
        }
    }

    public func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome {
        if access.via == .ssh {
            do { try Self.privateDirectory(controlDirectory) } catch {
                return CommandOutcome(exitCode: nil, output: "", unreachable: error.description)
            }
        }
        let argv = arguments(command, on: access)
        let executable: Executable = argv[0].hasPrefix("/") ? .path(FilePath(argv[0])) : .name(argv[0])
        let result = try await Subprocess.run(
            executable, arguments: Arguments(Array(argv.dropFirst())), environment: environment(for: access),
            input: .none, output: .sequence, error: .combinedWithOutput
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
        if access.via == .ssh, code == 255 || code == nil,
            let reason = Self.connectionFailure(output, access, logon: logons[access.host])
        {
            return CommandOutcome(
                exitCode: nil, output: output, unreachable: reason,
                passwordRefused: logons[access.host] != nil && Self.refusedLogon(output))
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
    static func connectionFailure(_ output: String, _ access: HostAccess, logon: LogonSpec? = nil) -> String? {
        let target = "\(access.host) (\(access.destination)\(access.port.map { ":\($0)" } ?? ""))"
        if output.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || output.contains("Host key verification failed")
        {
            return
                "the host key of \(target) does not match known_hosts: someone may be in the middle, or the host was rebuilt. Verify its new key out of band, update known_hosts (ssh-keygen -R), then resume the run"
        }
        if let logon, refusedLogon(output) {
            return
                "\(target) refused the password of \(logon.user) (logon \(logon.name), \(logon.password)): check the password and that the account is not locked out, then resume the run. Baton tries a password once per host"
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

    /// ssh's words for a logon the host refused.
    static func refusedLogon(_ output: String) -> Bool {
        output.contains("Permission denied") || output.contains("Too many authentication failures")
    }
}
