import Foundation
import Synchronization

/// A real PostgreSQL server for the tests: made with `initdb` in a temporary folder, listening
/// on a free loopback port with password authentication, and stopped when the test ends. As
/// root it runs as `nobody` (PostgreSQL refuses to run as root).
public final class PostgresServer: @unchecked Sendable {
    public let directory: String
    public let port: Int
    public let user = "baton"
    public let password = "rehearsal-\(UUID().uuidString.prefix(8))"
    let binaries: String

    /// Where Debian's (or any) PostgreSQL server programs are.
    public static func binaries() throws -> String {
        let candidates =
            (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
            + ((try? FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []).sorted(by: >).map {
                "/usr/lib/postgresql/\($0)/bin"
            }
        for folder in candidates where FileManager.default.isExecutableFile(atPath: folder + "/initdb") {
            // Debian links initdb onto the PATH; its own folder holds the rest (pg_ctl, postgres, psql).
            let real = URL(fileURLWithPath: folder + "/initdb").resolvingSymlinksInPath().deletingLastPathComponent()
                .path
            if ["pg_ctl", "postgres", "psql"].allSatisfy({
                FileManager.default.isExecutableFile(atPath: real + "/" + $0)
            }) {
                return real
            }
        }
        throw Failure(
            "the PostgreSQL server (initdb, pg_ctl, postgres) is not installed; install it with: sudo apt-get install -y postgresql"
        )
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    static let sharedServer = Mutex<PostgresServer?>(nil)

    /// One server for the whole test process (each test takes a database of its own with
    /// `newDatabase()`), started on first use and stopped when the process exits. A test that
    /// stops or restarts its server starts its own instead.
    public static func shared() throws -> PostgresServer {
        try sharedServer.withLock { server in
            if let server { return server }
            let started = try PostgresServer()
            server = started
            atexit { PostgresServer.sharedServer.withLock { $0?.stop() } }
            return started
        }
    }

    /// Starts a new server; `stop()` ends it and removes its files.
    public init() throws {
        binaries = try Self.binaries()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("baton-pg-\(UUID().uuidString)").path
        port = try Self.freePort()
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let passwordFile = directory + "/password"
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        if getuid() == 0 { try run(["/bin/chown", "-R", "nobody", directory], asServer: false) }
        try run(
            [
                binaries + "/initdb", "-D", directory + "/data", "-U", user, "--pwfile=\(passwordFile)",
                "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--no-locale",
            ], asServer: true)
        try start()
    }

    public func start() throws {
        try run(
            [
                binaries + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/server.log", "-w", "-t", "60",
                "-o",
                "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c max_connections=200", "start",
            ], asServer: true)
    }

    /// Stops the server at once (as a crash would), keeping its files for `start()`.
    public func kill() throws {
        try run([binaries + "/pg_ctl", "-D", directory + "/data", "-m", "immediate", "-w", "stop"], asServer: true)
    }

    public func stop() {
        try? kill()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The address of `database` with the password in it.
    public func address(_ database: String = "postgres") -> String {
        "postgres://\(user):\(password)@127.0.0.1:\(port)/\(database)?sslmode=disable"
    }

    /// A new, empty database; its address.
    public func newDatabase() throws -> String {
        let name = "baton_\(UUID().uuidString.prefix(8).lowercased())"
        try sql("CREATE DATABASE \(name)")
        return address(name)
    }

    /// Runs SQL with the server's own client, over its socket.
    @discardableResult
    public func sql(_ text: String, database: String = "postgres") throws -> String {
        try run(
            [
                binaries + "/psql", "-h", directory, "-p", "\(port)", "-U", user, "-d", database, "-At", "-v",
                "ON_ERROR_STOP=1", "-c", text,
            ], asServer: true)
    }

    /// Runs a program to its end (posix_spawn and waitpid: the server it may start keeps
    /// running and holds none of this process's pipes).
    @discardableResult
    func run(_ arguments: [String], asServer: Bool) throws -> String {
        let command = asServer && getuid() == 0 ? ["/usr/sbin/runuser", "-u", "nobody", "--"] + arguments : arguments
        let outputPath = NSTemporaryDirectory() + "baton-pg-command-\(UUID().uuidString).out"
        let errorPath = outputPath + ".err"
        defer {
            try? FileManager.default.removeItem(atPath: outputPath)
            try? FileManager.default.removeItem(atPath: errorPath)
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // Warnings apart from the answer: a query's answer is what it printed on standard output.
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // From a folder every user can enter: run as nobody from a clone in a private home
        // folder, psql would warn that it cannot change to the current one.
        Self.changeDirectory("/", &actions)
        // Nothing else of this process's is inherited: the server outlives the command, and an
        // open socket of another test's held by it would never close (Foundation's `Process`
        // waits for such a socket to learn that a child ended), and a server that inherited
        // hundreds of descriptors found too few left to start.
        Self.closeFrom(3, &actions)
        var argv: [UnsafeMutablePointer<CChar>?] = command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, command[0], &actions, nil, &argv, environ)
        guard spawned == 0 else { throw Failure("cannot start \(command[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = status & 0x7f == 0 && (status >> 8) & 0xff == 0
        guard exited else {
            let errors = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            let log = (try? String(contentsOfFile: directory + "/server.log", encoding: .utf8)) ?? ""
            throw Failure("\(arguments.joined(separator: " ")) failed: \(text)\(errors)\n\(log.suffix(2000))")
        }
        return text
    }

    /// glibc's `posix_spawn_file_actions_addchdir_np` (2.29 and later), which Swift's Glibc
    /// module does not declare: the child starts in `path`.
    static func changeDirectory(_ path: String, _ actions: inout posix_spawn_file_actions_t) {
        typealias AddChdir =
            @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else { return }
        _ = path.withCString { unsafeBitCast(symbol, to: AddChdir.self)(&actions, $0) }
    }

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's
    /// Glibc module does not declare.
    static func closeFrom(_ descriptor: Int32, _ actions: inout posix_spawn_file_actions_t) {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, descriptor)
    }

    static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure("no socket") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0
            }
        }
        guard bound else { throw Failure("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
