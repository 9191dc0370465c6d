import BatonModel
import Foundation
import Subprocess

#if canImport(Glibc)
    import Glibc
#endif

/// Runs commands for hosts with a POSIX shell through one long-lived `ssh HOST sh` each,
/// writing every command to that shell's input and reading its output up to a marker that
/// carries the exit status. An ssh client costs a few milliseconds of controller CPU to start
/// even over a shared connection; a command sent down an open session costs a write and a
/// read. A session that ends (a restart, a network drop) answers its command as unreachable,
/// with ssh's own words, and the next command opens a new one. Hosts of other profiles and
/// `via: local` go to `fallback`.
public actor ShellSessions: CommandRunner {
    let fallback: OpenSSHRunner
    /// The hosts (lower-cased names) whose commands go through a session.
    let shellHosts: Set<HostName>
    var sessions: [HostName: ShellSession] = [:]

    public init(fallback: OpenSSHRunner, shellHosts: Set<HostName>) {
        self.fallback = fallback
        self.shellHosts = shellHosts
        // A session's ssh may be gone when its next command is written: that must be an
        // error on the write, not a signal that ends Baton.
        signal(SIGPIPE, SIG_IGN)
    }

    public func run(_ command: String, on access: HostAccess) async throws -> CommandOutcome {
        let key = access.host
        guard access.via == .ssh, shellHosts.contains(key) else { return try await fallback.run(command, on: access) }
        var session = sessions[key]
        if await session?.isClosed ?? true {
            do { try OpenSSHRunner.privateDirectory(fallback.controlDirectory) } catch {
                return CommandOutcome(exitCode: nil, output: "", unreachable: error.description)
            }
            let opened = ShellSession(access: access)
            await opened.start(
                arguments: fallback.arguments("exec /bin/sh", on: access), environment: fallback.environment(for: access))
            sessions[key] = opened
            session = opened
        }
        let outcome = await session!.run(command)
        guard let reason = outcome.unreachable else { return outcome }
        let target = "\(access.host) (\(access.destination)\(access.port.map { ":\($0)" } ?? ""))"
        let logon = fallback.logons[access.host]
        return CommandOutcome(
            exitCode: nil, output: outcome.output,
            unreachable: OpenSSHRunner.connectionFailure(reason, access, logon: logon)
                ?? "the connection to \(target) ended (\(reason.split(separator: "\n").last ?? "")). Check the host, then resume the run",
            passwordRefused: logon != nil && OpenSSHRunner.refusedLogon(reason)
        )
    }

    /// Ends every session (their shells exit when their input closes).
    public func close() async {
        for session in sessions.values { await session.close() }
        sessions = [:]
    }
}

/// One `ssh HOST sh` and the commands waiting for it, one at a time.
actor ShellSession {
    typealias Request = (command: String, marker: String, reply: Reply)

    let access: HostAccess
    let requests: AsyncStream<Request>
    let queue: AsyncStream<Request>.Continuation
    private(set) var isClosed = false
    var process: Int32?
    var owner: Task<Void, Never>?
    /// Commands one at a time: a plan runs one step per machine at a time anyway.
    var busy = false
    var waiting: [CheckedContinuation<Void, Never>] = []
    /// The reply owed to the command being run, answered when the session ends if nothing
    /// else answered it.
    var current: Reply?

    init(access: HostAccess) {
        self.access = access
        (requests, queue) = AsyncStream.makeStream()
    }

    /// Starts the ssh client; the session's task owns it until the session ends.
    func start(arguments: [String], environment: Environment) {
        let requests = requests
        owner = Task {
            await Self.serve(arguments: arguments, environment: environment, requests: requests) { pid in
                await self.started(pid)
            }
            self.ended()
        }
    }

    func started(_ pid: Int32) { process = pid }

    /// The session ended (the command being served was answered with why): later commands
    /// open a new one.
    func ended() {
        isClosed = true
        queue.finish()
        process = nil
        current?.resume(returning: CommandOutcome(exitCode: nil, output: "", unreachable: "the session ended"))
    }

    func run(_ command: String) async -> CommandOutcome {
        while busy { await withCheckedContinuation { waiting.append($0) } }
        busy = true
        defer {
            busy = false
            if !waiting.isEmpty { waiting.removeFirst().resume() }
        }
        guard !isClosed else { return CommandOutcome(exitCode: nil, output: "", unreachable: "the session ended") }
        let marker = "__baton_done_" + UUID().uuidString.replacingOccurrences(of: "-", with: "")
        let pid = process
        let reply = Reply()
        current = reply
        defer { current = nil }
        let queue = queue
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                reply.wait(continuation)
                if case .terminated = queue.yield((command, marker, reply)) {
                    reply.resume(returning: CommandOutcome(exitCode: nil, output: "", unreachable: "the session ended"))
                }
            }
        } onCancel: {
            // A step past its time limit, or a probe given up: the caller has its answer at
            // once, and the session ends (a new one serves the next command).
            reply.resume(
                returning: CommandOutcome(
                    exitCode: nil, output: "", unreachable: "no answer in time; the session was ended"))
            if let pid { kill(pid, SIGTERM) }
            Task { await self.close() }
        }
    }

    func close() {
        isClosed = true
        queue.finish()
        if let process { kill(process, SIGTERM) }
    }

    /// Runs the ssh client for the session's life, answering requests in order; returns when
    /// the session ends. The request being served then is answered as unreachable with what
    /// ssh said (a session serves one request at a time, so there is no other).
    static func serve(
        arguments: [String], environment: Environment, requests: AsyncStream<Request>,
        started: @escaping @Sendable (Int32) async -> Void
    ) async {
        let pending = PendingReply()
        var reason = "the session ended"
        do {
            let result = try await Subprocess.run(
                .name(arguments[0]), arguments: Arguments(Array(arguments.dropFirst())), environment: environment,
                input: .inputWriter,
                output: .sequence, error: .string(limit: 16 * 1024)
            ) { execution in
                await started(execution.processIdentifier.value)
                var lines = execution.standardOutput.strings().makeAsyncIterator()
                for await request in requests {
                    pending.set(request.reply)
                    let script =
                        "( \(request.command)\n) </dev/null 2>&1; status=$?; printf '\\n%s %d\\n' '\(request.marker)' \"$status\"\n"
                    // A session whose ssh has already gone: stop here, and let its words on
                    // standard error say why.
                    do { _ = try await execution.standardInputWriter.write(script) } catch { return }
                    var output: [String] = []
                    var status: Int32?
                    while let line = try await lines.next() {
                        if line.hasPrefix(request.marker) {
                            status = Int32(
                                line.dropFirst(request.marker.count + 1).trimmingCharacters(in: .whitespaces))
                            break
                        }
                        output.append(line)
                        if output.count > 400 { output.removeFirst(output.count - 200) }
                    }
                    guard let status else { return }  // the session ended mid-command
                    // The empty line before the marker is the marker's own.
                    if output.last == "" { output.removeLast() }
                    let text = output.joined(separator: "\n") + (output.isEmpty ? "" : "\n")
                    pending.take()?.resume(
                        returning: CommandOutcome(
                            exitCode: status, output: String(text.suffix(OpenSSHRunner.outputLimit))))
                }
                try? await execution.standardInputWriter.finish()
            }
            if !result.standardError.isEmpty { reason = result.standardError }
        } catch {
            reason = "\(error)"
        }
        pending.take()?.resume(returning: CommandOutcome(exitCode: nil, output: reason, unreachable: reason))
    }
}

/// The reply owed to the request being served, handed between the serving loop and its end.
final class PendingReply: @unchecked Sendable {
    private let lock = NSLock()
    private var reply: Reply?

    func set(_ reply: Reply) { lock.withLock { self.reply = reply } }

    func take() -> Reply? {
        lock.withLock {
            defer { reply = nil }
            return reply
        }
    }
}

/// One command's answer, given once by whichever comes first: the command's end, the
/// session's end, or the caller giving up. Later answers are ignored, so no caller waits on
/// a reply nobody will give.
final class Reply: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<CommandOutcome, Never>?
    private var answer: CommandOutcome?
    private var answered = false

    func wait(_ continuation: CheckedContinuation<CommandOutcome, Never>) {
        let ready: CommandOutcome? = lock.withLock {
            if answered, let answer { return answer }
            self.continuation = continuation
            return nil
        }
        if let ready { continuation.resume(returning: ready) }
    }

    func resume(returning outcome: CommandOutcome) {
        let waiting: CheckedContinuation<CommandOutcome, Never>? = lock.withLock {
            guard !answered else { return nil }
            answered = true
            answer = outcome
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(returning: outcome)
    }
}
