import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// How ssh gets a logon's password without it ever being on a command line, in a file or in an
/// environment: ssh runs `SSH_ASKPASS` (with `SSH_ASKPASS_REQUIRE=force`, OpenSSH 8.4 and
/// later) to ask for it, and that program is Baton itself, which fetches the password from the
/// controller's run over a Unix socket in the controller user's own folder (mode 0700, the
/// socket 0600) and prints it to ssh. The sockets live exactly as long as the work that needs
/// them (`serving`).
public struct Askpass: Sendable {
    /// Set in ssh's environment: the socket Baton, started as ssh's askpass program, reads from.
    public static let socketVariable = "BATON_ASKPASS_SOCKET"

    /// The program ssh starts to ask for a password: the running Baton executable.
    public let helper: String
    /// Each logon's socket, by lower-cased name.
    let sockets: [String: String]

    /// No password logons.
    public static let none = Askpass(helper: "", sockets: [:])

    /// The socket that serves `logon`'s password, while `serving` runs.
    func socket(for logon: String) -> String? { sockets[logon.lowercased()] }

    /// The running executable, for ssh to start as its askpass program.
    public static var currentExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }

    /// Serves each password of `secrets` on a socket of its own in `directory` while `body`
    /// runs, then closes and removes them.
    public static func serving<T>(
        _ secrets: LogonSecrets, in directory: String, helper: String = Askpass.currentExecutable,
        _ body: (Askpass) async throws -> T
    ) async throws -> T {
        guard !secrets.secrets.isEmpty else { return try await body(.none) }
        try OpenSSHRunner.privateDirectory(directory)
        var servers: [(NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>, Secret, String)] = []
        var sockets: [String: String] = [:]
        let tag = "\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        do {
            for (index, (name, secret)) in secrets.secrets.sorted(by: { $0.key < $1.key }).enumerated() {
                let path = "\(directory)/askpass-\(tag)-\(index)"
                let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(
                    unixDomainSocketPath: path, cleanupExistingSocketFile: true
                ) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
                chmod(path, 0o600)
                servers.append((server, secret, path))
                sockets[name] = path
            }
        } catch {
            for (server, _, path) in servers {
                try? await server.channel.close()
                unlink(path)
            }
            throw error
        }
        let askpass = Askpass(helper: helper, sockets: sockets)
        let bound = servers
        return try await withThrowingTaskGroup(of: Void.self) { group in
            for (server, secret, path) in bound {
                group.addTask {
                    defer { unlink(path) }
                    try? await withTaskCancellationHandler {
                        try await server.executeThenClose { connections in
                            for try await connection in connections {
                                try? await connection.executeThenClose { _, outbound in
                                    try await outbound.write(ByteBuffer(string: secret.text))
                                }
                            }
                        }
                    } onCancel: {
                        server.channel.close(promise: nil)
                    }
                }
            }
            defer { group.cancelAll() }
            return try await body(askpass)
        }
    }

    /// Whether ssh's prompt asks for the account's password: never a new password, a key's
    /// passphrase or a yes/no question, which Baton does not answer.
    public static func isPasswordPrompt(_ prompt: String) -> Bool {
        let text = prompt.lowercased().trimmingCharacters(in: .whitespacesAndNewlines)
        let refused = ["new", "again", "retype", "change", "expired", "passphrase", "yes/no"]
        return text.contains("password") && text.hasSuffix(":") && !refused.contains { text.contains($0) }
    }

    /// Baton started by ssh as its askpass program: prints the password served on `socket` when
    /// `prompt` asks for one. Returns the exit status for ssh (0: answered).
    public static func answer(prompt: String, socket: String) async -> Int32 {
        guard isPasswordPrompt(prompt) else {
            FileHandle.standardError.write(Data("baton: not answering ssh's question '\(prompt.prefix(120))'\n".utf8))
            return 1
        }
        guard let password = await fetch(socket) else {
            FileHandle.standardError.write(Data("baton: the run that asked for this logon's password is gone\n".utf8))
            return 1
        }
        FileHandle.standardOutput.write(Data(password + [0x0A]))
        return 0
    }

    /// The password served on `socket`; nil when nothing serves one there.
    static func fetch(_ socket: String) async -> [UInt8]? {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(
                unixDomainSocketPath: socket
            ) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
            var bytes: [UInt8] = []
            try await channel.executeThenClose { inbound, _ in
                for try await buffer in inbound {
                    bytes += buffer.readableBytesView
                    if bytes.count > LogonSecrets.sizeLimit { break }
                }
            }
            return bytes.isEmpty || bytes.count > LogonSecrets.sizeLimit ? nil : bytes
        } catch {
            return nil
        }
    }
}
