import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

extension Process {
    /// Foundation's `Process.run()` on Linux is not safe to call from several threads at once
    /// (a crash copying the child's environment was seen under the full suite): every test
    /// starts its processes through this one lock.
    /// A child given no environment of its own gets a copy of the one this test process
    /// started with, read once: `run()` then never reads the live `environ` while another
    /// thread may be starting a process (two crashes in `Process.run` copying it were seen under
    /// the full suite, with the launches already serialised).
    func launchSerially() throws {
        try launching.withLock { _ in
            if environment == nil { environment = startingEnvironment }
            try run()
        }
    }
}

private let launching = Mutex(())
private let startingEnvironment = ProcessInfo.processInfo.environment

/// Runs the real `baton` executable, as a user would, and captures what it prints.
struct BatonProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The binary SwiftPM built next to this test bundle.
    static let executable: URL = {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "baton")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return packageRoot.appendingPathComponent(".build/debug/baton")
    }()

    static func run(_ arguments: [String], stdin: String? = nil) throws -> Result {
        let started = try start(arguments, stdin: stdin)
        return started.result(started.process.waitForEnding())
    }

    /// Runs a command and waits for it without holding a thread of the test process's shared
    /// pool: a long run waited for with `run` blocks a thread other suites' tasks need.
    static func finish(_ arguments: [String], environment: [String: String] = [:]) async throws -> Result {
        try await ended(try start(arguments, environment: environment))
    }

    /// Waits for a started command without holding a thread, and gives what it printed.
    static func ended(_ started: Started) async throws -> Result {
        while started.process.ending == nil { try await Task.sleep(for: .milliseconds(100)) }
        return started.result(started.process.ending!)
    }

    /// Runs several commands at once and waits for them all.
    static func runTogether(_ commands: [[String]]) async throws -> [Result] {
        let started = try commands.map { try start($0) }
        var endings = started.map { _ in nil as Process.Ending? }
        while endings.contains(where: { $0 == nil }) {
            for index in started.indices where endings[index] == nil { endings[index] = started[index].process.ending }
            if endings.contains(where: { $0 == nil }) { try await Task.sleep(for: .milliseconds(100)) }
        }
        return zip(started, endings).map { $0.result($1!) }
    }

    /// A command started, and the folder its output goes to.
    struct Started {
        let process: Process
        let directory: URL

        var out: URL { directory.appendingPathComponent("out") }
        var err: URL { directory.appendingPathComponent("err") }

        /// What it printed, once it has ended as `ending` says; its folder is removed.
        func result(_ ending: Process.Ending) -> Result {
            defer { try? FileManager.default.removeItem(at: directory) }
            return Result(
                status: ending.status,
                stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
        }
    }

    /// Starts a command; `environment` is added to the test's own, `stdin` is its input.
    static func start(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws
        -> Started
    {
        let process = Process()
        // "__exec PROGRAM ARGS…" runs another program (a pseudo-terminal wrapper) instead.
        if arguments.first == "__exec", arguments.count > 1 {
            process.executableURL = URL(fileURLWithPath: arguments[1])
            process.arguments = Array(arguments.dropFirst(2))
        } else {
            process.executableURL = executable
            process.arguments = arguments
        }
        process.currentDirectoryURL = packageRoot
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let started = Started(process: process, directory: directory)
        _ = FileManager.default.createFile(atPath: started.out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: started.err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: started.out)
        process.standardError = try FileHandle(forWritingTo: started.err)
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let input = stdin.map { _ in Pipe() }
        process.standardInput = input ?? FileHandle.nullDevice
        try process.launchSerially()
        if let input, let stdin {
            input.fileHandleForWriting.write(Data(stdin.utf8))
            try input.fileHandleForWriting.close()
        }
        return started
    }

    static func which(_ tool: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// A fresh directory name under the temporary folder, for one test's state.
    static func temporaryPath(_ prefix: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)").path
    }

    /// Starts `baton` in the background, waits until `file` exists (its first save: a slow
    /// machine starts slowly), lets it run `delay` more, then kills it with SIGKILL. Returns
    /// whether the kill interrupted it (false when it had already finished).
    static func kill(_ arguments: [String], once file: String, after delay: Duration) async throws -> Bool {
        let process = Process()
        process.executableURL = executable
        process.currentDirectoryURL = packageRoot
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.launchSerially()
        // The wait and the kill are a process of their own: this test process, busy with every
        // other suite at once, could wake from a sleep seconds late, after the run had ended.
        let (seconds, attoseconds) = delay.components
        let killer = Process()
        killer.executableURL = URL(fileURLWithPath: "/bin/sh")
        killer.arguments = [
            "-c",
            #"i=0; while [ ! -e "$1" ] && [ $i -lt 400 ]; do sleep 0.025; i=$((i+1)); done; sleep "$2"; kill -KILL "$3" 2>/dev/null; true"#,
            "kill", file, String(Double(seconds) + Double(attoseconds) / 1e18), String(process.processIdentifier),
        ]
        try killer.launchSerially()
        while killer.ending == nil || process.ending == nil { try await Task.sleep(for: .milliseconds(50)) }
        return process.ending?.signalled == true
    }

    /// A fresh folder holding the package's examples, where a line of shell runs as a user
    /// types it (`baton` on the PATH), as the README and docs/json.md show commands.
    struct UserFolder {
        let path: String

        init(_ prefix: String) throws {
            path = BatonProcess.temporaryPath(prefix)
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try FileManager.default.createSymbolicLink(
                atPath: path + "/examples",
                withDestinationPath: BatonProcess.packageRoot.appendingPathComponent("examples").path)
        }

        func shell(_ line: String) throws -> Result {
            let binaries = BatonProcess.executable.deletingLastPathComponent().path
            return try BatonProcess.run([
                "__exec", "/bin/bash", "-c",
                "cd '\(path)' && PATH='\(binaries)':\"$PATH\" && set -o pipefail && \(line)",
            ])
        }

        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }
}

extension Process {
    /// How a child ended: its exit status, or the signal that ended it.
    struct Ending: Equatable {
        var status: Int32
        var signalled: Bool
    }

    /// How the child ended, or nil while it runs (call it once the child is started). Foundation
    /// learns of the end from a socket the child holds; a child started at the same moment
    /// for another test can inherit that socket and keep it open (swift-corelibs-foundation
    /// issue 4795), and then Foundation never hears of the end, and `waitUntilExit` never
    /// returns. So the kernel is asked as well, leaving the child for Foundation to collect.
    var ending: Ending? {
        if !isRunning { return Ending(status: terminationStatus, signalled: terminationReason == .uncaughtSignal) }
        var info = siginfo_t()
        guard waitid(P_PID, id_t(processIdentifier), &info, WEXITED | WNOHANG | WNOWAIT) == 0,
            info._sifields._sigchld.si_pid == processIdentifier
        else { return nil }
        return Ending(status: info._sifields._sigchld.si_status, signalled: info.si_code != Int32(CLD_EXITED))
    }

    /// Waits, without a run loop, for the child to end.
    func waitForEnding() -> Ending {
        while true {
            if let ending { return ending }
            usleep(5_000)
        }
    }

    /// Waits for the child to end, handing the thread back between looks.
    func ended() async -> Ending {
        while true {
            if let ending { return ending }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
